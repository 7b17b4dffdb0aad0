"""Diffusion bridges between two data distributions: DDBM (Zhou et al. 2024,
arXiv:2309.16948) trained by denoising bridge score matching, sampled by DDBM's hybrid
Heun / Euler-Maruyama sampler or by DBIM (Zheng et al. 2025, arXiv:2405.15885).

Time direction: t = T is the source (the bridge is pinned there: x_T = source), t -> 0
is the target data. The network sees the noisy state and the source side by side
(concatenated channels, or coordinates for points) and predicts the preconditioned
target; `denoise(x, t, source) -> data estimate` is the contract of every sampler in
`zoo.samplers.bridge`.
"""

import keras
import numpy as np
from keras import ops

from zoo import schedules
from zoo.checks import check_batch_size, check_finite, check_positive
from zoo.datasets import to_model_space
from zoo.models.base import Interface, ZooModel
from zoo.models.diffusion import _bcast
from zoo.networks.sizes import MLP_SIZES, UNET, backbone
from zoo.objectives.bridge import bridge_preconditioning
from zoo.objectives.denoising import denoising_loss, network_target
from zoo.progress import counted
from zoo.random import fold_in
from zoo.registry import register_config
from zoo.samplers import bridge as samplers


@keras.saving.register_keras_serializable(package="zoo")
class DDBM(ZooModel):
    """Denoising diffusion bridge model: translates a source (an edge map, a point) into
    a target drawn from p(target | source).

    `fit` takes `{"source": ..., "target": ...}` batches of model-space pairs.

    Args:
        network: keras.layers.Layer. `network(concat(c_in x_t, source), c_noise) ->
            tensor like x_t`: a U-Net with `out_channels` = C over 2 C input channels,
            or an MLP with `output_dim` = d over 2 d inputs.
        data_shape: tuple of int. One target's shape (the source has the same).
        schedule: str. `"vp"` (beta(t) = beta_min + beta_d t, T = 1; the papers' choice
            for image translation) or `"ve"` (sigma(t) = t, T = sigma_max).
        beta_min, beta_d: float. The VP schedule (DBIM's 0.1 and 2).
        sigma_max: float. T of the VE bridge.
        sigma_data, sigma_source, covariance: float. Std of target and source and
            their covariance, for the preconditioning (DDBM: 0.5, 0.5, 0).
        t_min: float. Smallest training and sampling time.
        ema_decay: float or None. Weight EMA used for sampling.
        seed: int or None. Seed for training noise.

    References:
        Zhou, Lou, Yang & Ermon 2024, arXiv:2309.16948.
        Zheng, He, Lu, Zhou, Gu & Zhu 2025, arXiv:2405.15885.
    """

    interface = Interface(kind="generative", capabilities={"sample", "source"},
                          solvers=("dbim", "dbim-2", "dbim-3", "ddbm"), image_metrics=("translation_quality",),
                          point_metrics=("translation_quality",))
    default_solver, default_steps = "dbim", 20
    card_usage = ("sources, truths = zoo.datasets.load_pairs('cifar10_edges', split='test', num=16)\n"
                  "targets = model.sample(source=sources, steps=20, solver='dbim', seed=0)  # uint8, like truths")

    def __init__(self, network, data_shape, schedule="vp", beta_min=0.1, beta_d=2.0, sigma_max=80.0,
                 sigma_data=0.5, sigma_source=0.5, covariance=0.0, t_min=1e-4, ema_decay=0.999, seed=None,
                 **kwargs):
        self.schedule = schedules.check_bridge(schedule)
        for name, value in (("beta_min", beta_min), ("beta_d", beta_d), ("sigma_max", sigma_max),
                            ("sigma_data", sigma_data), ("sigma_source", sigma_source), ("t_min", t_min)):
            setattr(self, name, check_positive(value, name))
        self.covariance = check_finite(covariance, "covariance")
        if covariance**2 >= sigma_data**2 * sigma_source**2:
            raise ValueError("`covariance` must be below sigma_data * sigma_source in magnitude. "
                             f"Received: {covariance}")
        self.t_max = schedules.bridge_time_max(schedule, sigma_max)
        if not self.t_min < self.t_max:
            raise ValueError(f"`t_min` ({t_min}) must be below T = {self.t_max}.")
        super().__init__(data_shape, networks={"network": network}, ema_decay=ema_decay, seed=seed, **kwargs)

    def example_inputs(self, name):
        shape = (*self.data_shape[:-1], 2 * self.data_shape[-1])
        return ops.zeros((1, *shape)), ops.zeros((1,))

    @property
    def _schedule_params(self):
        return dict(beta_min=self.beta_min, beta_d=self.beta_d)

    def coefficients(self, t):
        """`(a_t, b_t, c_t)` of the bridge (`zoo.schedules.bridge_coefficients`)."""
        return schedules.bridge_coefficients(self.schedule, t, sigma_max=self.sigma_max, **self._schedule_params)

    def bridge_sample(self, target, source, t, noise):
        """x_t = a_t source + b_t target + c_t noise, a draw of q(x_t | target, source)."""
        a, b, c = (_bcast(v, target) for v in self.coefficients(t))
        return a * source + b * target + c * noise

    def _output(self, network, x, t, source, training=False):
        """`(c_skip, c_out, F)`: the preconditioning at t and the network's output."""
        a, b, c = (_bcast(v, x) for v in self.coefficients(t))
        c_skip, c_out, c_in = bridge_preconditioning(a, b, c, self.sigma_data, self.sigma_source, self.covariance)
        inputs = ops.concatenate([c_in * x, ops.cast(source, x.dtype)], axis=-1)
        output = network(inputs, 0.25 * ops.log(t), training=training)
        return c_skip, c_out, ops.cast(output, "float32")

    # Training ---------------------------------------------------------------------------

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict) or set(inputs) != {"source", "target"}:
            raise ValueError("A bridge trains on pairs: pass `{'source': sources, 'target': targets}` "
                             "(model-space arrays of the same shape) as `x`.")
        target, source = inputs["target"], inputs["source"]
        self.check_data(target, "target")
        self.check_data(source, "source")
        self.update_ema(training)
        batch = ops.shape(target)[0]
        t = self.t_min + (self.t_max - self.t_min) * keras.random.uniform((batch,), seed=self.seed_generator)
        x = self.bridge_sample(target, source, t, keras.random.normal(ops.shape(target), seed=self.seed_generator))
        c_skip, c_out, output = self._output(self.network, x, t, source, training)
        return {"output": output, "target": network_target(target, x, c_skip, c_out)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return denoising_loss(y_pred["output"], y_pred["target"])

    # The denoiser contract ---------------------------------------------------------------

    def denoise(self, x, t, source):
        """Target estimate D(x_t, t, source) from the sampling (EMA) network, in float32."""
        x, t = ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(t, "float32")
        c_skip, c_out, output = self._output(self.averaged("network"), x, t, source)
        return c_skip * x + c_out * output

    # Sampling ---------------------------------------------------------------------------

    def time_grid(self, solver, steps):
        """The sampling grid of `solver`, descending. DBIM on the VP bridge: uniform
        from just below T (after the booting step) to t_min, as its code; on the VE
        bridge, whose noise level is t itself, Karras et al.'s rho = 7 grid over the same
        range (uniform steps in t leave one huge last step in log t). DDBM: the rho = 7
        grid from just below T to t_min, then 0, as DDBM's."""
        steps = schedules.check_steps(steps)
        if solver.startswith("dbim"):
            if self.schedule == "vp":
                return np.linspace(self.t_max * (1 - 1e-3), self.t_min, steps + 1)
            return np.asarray(schedules.karras_sigmas(steps + 1, self.t_min, self.t_max * (1 - 1e-3), 7.0),
                              "float64")[:-1]
        sigmas = schedules.karras_sigmas(steps, self.t_min, self.t_max * (1 - 1e-4), 7.0)
        return np.asarray(sigmas, "float64")

    def tables(self, ts):
        """`(len(ts), 7)` DDBM drift coefficients (a, b, c, f, g2, alpha_bar, h_scale) at
        the times `ts` (float64; c = 1 and h_scale = 1 stand in where they vanish, at
        t = 0 and T, where no sampler divides by them)."""
        ts = np.asarray(ts, "float64")
        a, b, c = self.coefficients(ts)
        f, g2, alpha_bar, h_scale = schedules.bridge_drift_terms(self.schedule, ts, sigma_max=self.sigma_max,
                                                                 **self._schedule_params)
        c, h_scale = np.where(c > 0, c, 1.0), np.where(h_scale > 0, h_scale, 1.0)
        return np.stack([a, b, c, f, g2, alpha_bar, h_scale], axis=1)

    def _solver_options(self, solver, eta, churn):
        eta, churn = check_finite(eta, "eta"), check_finite(churn, "churn")
        if not 0.0 <= eta <= 1.0 or (eta and solver != "dbim"):
            raise ValueError(f"`eta` must be in [0, 1] and applies to solver='dbim' only (DBIM's higher orders "
                             f"are deterministic). Received: eta={eta} with solver={solver!r}")
        if not 0.0 <= churn < 1.0 or (churn and solver != "ddbm"):
            raise ValueError(f"`churn` (DDBM's step ratio) must be in [0, 1) and applies to solver='ddbm' only. "
                             f"Received: churn={churn}")
        return {"eta": eta, "order": int(solver[-1]) if solver[-1].isdigit() else 1, "churn": churn}

    def check_source(self, source, num=None):
        """User sources -> model-space float32: uint8 images, or float points."""
        if source is None:
            raise ValueError("A bridge translates a source: pass `source=` (uint8 images or points of shape "
                             f"(N, {', '.join(map(str, self.data_shape))})).")
        source = to_model_space(self.check_images(source, "source")) if self.is_image \
            else self.check_array(source, "source")
        if not len(source):
            raise ValueError("`source` holds 0 examples; give at least one.")
        if num is not None and num != len(source):
            raise ValueError(f"`num`={num} disagrees with `source` holding {len(source)} examples; pass one.")
        return source

    def sample(self, num=None, *, source=None, steps=None, solver=None, seed=None, eta=0.0, churn=None,
               batch_size=256, raw=False, return_nfe=False, verbose=False):
        """Translate each source into a target drawn from p(target | source).

        Args:
            num: int or None. Must equal `len(source)` when given.
            source: uint8 images `(N, *data_shape)` or float points `(N, d)`.
            steps: int >= 1. Sampler steps (default 20).
            solver: str. `"dbim"` (default: a booting step, then DBIM's steps; `eta` in
                [0, 1] adds noise, 0 deterministic), `"dbim-2"` / `"dbim-3"` (DBIM's
                deterministic multistep solvers of order 2 and 3) or `"ddbm"` (DDBM's
                hybrid sampler; `churn` is its
                step ratio of Euler-Maruyama SDE steps, default 0.33 as DDBM's, 0 the
                pure probability-flow ODE, which never leaves the source's mean path).
            seed: int or None. Same seed, same backend -> same targets.
            raw: bool. Model-space float32 arrays instead of uint8 images.
            return_nfe: bool. Also return the number of network evaluations.

        Returns:
            uint8 images (float32 points), and the NFE if `return_nfe`.
        """
        solver = self.check_solver(self.default_solver if solver is None else solver)
        steps = schedules.check_steps(self.default_steps if steps is None else steps)
        churn = (0.33 if solver == "ddbm" else 0.0) if churn is None else churn
        options = self._solver_options(solver, eta, churn)
        batch_size = check_batch_size(batch_size)
        source = self.check_source(source, num)
        ts = self.time_grid(solver, steps)
        if solver.startswith("dbim"):
            a, b, c = self.coefficients(ts)
            alpha, rho = schedules.bridge_alpha_rho(self.schedule, ts, **self._schedule_params)
            table = samplers.dbim_steps(a, b, c, alpha, rho, options["eta"], options["order"])
            table_boot = (a[0], b[0], c[0])  # the booting step lands on the grid's first time
            nfe = steps + 1
        else:
            hats = ts[:-1] + options["churn"] * (ts[1:] - ts[:-1])
            table = self.tables(np.concatenate([ts, hats]))
            nfe = samplers.ddbm_nfe(ts, options["churn"])

        def build():
            def run(source, key):
                @counted
                def denoise(x, t):
                    return self.denoise(x, t, source)
                if solver.startswith("dbim"):
                    x = samplers.bridge_boot(denoise, source, self.t_max, table_boot, key)
                    return samplers.sample_dbim(denoise, x, source, ts, table, key)
                return samplers.sample_ddbm(denoise, source, source, ts, table, options["churn"], key)
            return run

        run = self.inference_fn(("sample", solver, steps, *sorted(options.items())), build)
        key = self.sampling_key(seed)
        x, _ = self.run_batched(run, (source,), batch_size, chunk_args=lambda i: (fold_in(key, i),),
                                verbose=verbose, evaluations=nfe)
        out = self.to_output(x, raw)
        return (out, nfe) if return_nfe else out

    def get_config(self):
        return {**super().get_config(), "schedule": self.schedule, "beta_min": self.beta_min, "beta_d": self.beta_d,
                "sigma_max": self.sigma_max, "sigma_data": self.sigma_data, "sigma_source": self.sigma_source,
                "covariance": self.covariance, "t_min": self.t_min, "ema_decay": self.ema_decay}


# Named configs ---------------------------------------------------------------------------

def _build(network, data_shape=(32, 32, 3), **kwargs):
    return DDBM(backbone(network), data_shape, **kwargs)


def _register():
    register_config("ddbm_tiny", _build, "Tiny U-Net VP diffusion bridge (tests); 16x16x3 pairs.",
                    network=("unet", {**UNET["tiny"], "out_channels": 3}), data_shape=(16, 16, 3))
    # The stds of moons_rotated's targets and sources (~2 and ~1.4), not the 0.5 of images.
    register_config("ddbm_mlp", _build, "VP diffusion bridge with an MLP for 2-D paired toy data.",
                    network=("mlp", {**MLP_SIZES["toy"], "output_dim": 2}), data_shape=(2,), sigma_data=2.0,
                    sigma_source=1.4)
    register_config("ddbm_small", _build, "VP diffusion bridge for 32x32 image pairs with the CPU-sized U-Net "
                    "(3 + 3 input channels).", network=("unet", {**UNET["cpu_thread"], "out_channels": 3}))


_register()
