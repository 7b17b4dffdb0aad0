"""Rectified flow (Liu, Gong & Liu, "Flow Straight and Fast", ICLR 2023, arXiv:2209.03003).

Time direction: t=0 is noise N(0, I), t=1 is data. The network predicts the velocity
dx/dt on the straight path x_t = t * data + (1 - t) * noise. Reflow retrains on
(noise, sample) pairs of a trained flow (k-RF); one-step distillation trains only t=0.
"""

import difflib

import keras
import numpy as np
from keras import ops

from zoo import datasets, metrics
from zoo.likelihood import ode_log_likelihood, rademacher_like
from zoo.models.base import GenerativeModel
from zoo.objectives.flow_matching import straight_path, velocity_loss
from zoo.samplers.ode import check_rk45_finished, sample_euler, sample_heun, sample_rk45
from zoo.schedules import TIME_DISTRIBUTIONS, check_steps, sample_training_times, uniform_times

SOLVERS = ("euler", "heun", "rk45")


def check_solver(solver):
    if solver not in SOLVERS:
        close = difflib.get_close_matches(str(solver), SOLVERS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown `solver` {solver!r}; choose one of {SOLVERS}.{hint}")
    return solver


@keras.saving.register_keras_serializable(package="zoo")
class RectifiedFlow(GenerativeModel):
    """Rectified flow: a velocity network trained on straight noise-to-data paths.

    `fit` takes model-space data `x` (images scaled to [-1, 1] with
    `zoo.datasets.to_model_space`), or a dict with `"data"` and optionally
    `"labels"` and `"noise"` (given noise makes the coupling, as in reflow).

    Args:
        network: keras.layers.Layer. `network(x, t, labels) -> velocity`.
        data_shape: tuple of int. One example's shape.
        time_distribution: str. Training times: `"uniform"` (the paper),
            `"logit_normal"`, or `"zero"` (one-step distillation).
        ema_decay: float or None. Weight EMA used for sampling.
        seed: int or None. Seed for training noise and times.

    References:
        Liu, Gong & Liu 2023, arXiv:2209.03003.
    """

    def __init__(self, network, data_shape, time_distribution="uniform", ema_decay=0.999,
                 seed=None, **kwargs):
        if time_distribution not in TIME_DISTRIBUTIONS:
            raise ValueError(f"`time_distribution` must be one of {TIME_DISTRIBUTIONS}. "
                             f"Received: {time_distribution!r}")
        super().__init__(network, data_shape, ema_decay=ema_decay, seed=seed, **kwargs)
        self.time_distribution = time_distribution

    # Training -------------------------------------------------------------------------

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            data, labels, noise = inputs["data"], inputs.get("labels"), inputs.get("noise")
        else:
            data, labels, noise = inputs, None, None
        self.check_data(data)
        if training and self.ema_network is not None:
            self.update_ema()
        if noise is None:
            noise = keras.random.normal(ops.shape(data), seed=self.seed_generator)
        t = sample_training_times(ops.shape(data)[0], self.time_distribution, self.seed_generator)
        x_t, target = straight_path(data, noise, t)
        return {"velocity": self.network(x_t, t, labels, training=training), "target": target}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return velocity_loss(y_pred["velocity"], y_pred["target"])

    # Inference -------------------------------------------------------------------------

    def velocity(self, x, t, labels=None):
        """dx/dt at `(x, t)` from the sampling (EMA) network, in float32."""
        return ops.cast(self.sampling_network(x, t, labels), "float32")

    def _integrator(self, solver, steps, rtol, atol, t_start, t_end):
        def run(x, labels):
            def velocity(x, t):
                return self.velocity(x, t, labels)

            if solver == "rk45":
                return sample_rk45(velocity, x, t_start, t_end, rtol=rtol, atol=atol)
            method = sample_euler if solver == "euler" else sample_heun
            nfe = steps * (1 if solver == "euler" else 2)
            return method(velocity, x, uniform_times(steps, t_start, t_end)), ops.convert_to_tensor(nfe)

        return run

    def _integrate(self, x, labels, solver, steps, rtol, atol, t_start, t_end, batch_size, verbose):
        check_solver(solver)
        steps = check_steps(steps) if solver != "rk45" else None
        run = self.inference_fn(("ode", solver, steps, rtol, atol, t_start, t_end),
                            lambda: self._integrator(solver, steps, rtol, atol, t_start, t_end))
        progress = keras.utils.Progbar(len(x), unit_name="example") if verbose else None
        outputs, nfe = [], 0
        for start in range(0, len(x), batch_size):
            chunk_labels = None if labels is None else labels[start:start + batch_size]
            out, used = run(x[start:start + batch_size], chunk_labels)
            outputs.append(ops.convert_to_numpy(out))
            nfe = max(nfe, check_rk45_finished(ops.convert_to_numpy(used)))
            if progress:
                progress.add(len(outputs[-1]))
        return np.concatenate(outputs), nfe

    def sample(self, num=None, *, steps=50, solver="euler", seed=None, noise=None, labels=None,
               batch_size=256, rtol=1e-5, atol=1e-5, raw=False, return_nfe=False, verbose=False):
        """Draw samples by integrating the flow from noise (t=0) to data (t=1).

        Args:
            num: int. Number of samples (or give `noise`).
            steps: int >= 1. Steps of the fixed-step solvers.
            solver: str. `"euler"`, `"heun"` or `"rk45"` (adaptive; `rtol`, `atol`).
            seed: int or None. Same seed, same backend -> same samples.
            noise: array `(N, *data_shape)` of starting points instead of `seed`.
            labels: optional int array `(N,)` for class-conditional networks.
            raw: bool. Return model-space float32 arrays instead of uint8 images.
            return_nfe: bool. Also return the number of velocity evaluations.

        Returns:
            uint8 `(N, H, W, C)` images (float32 `(N, D)` for point data), and the NFE
            if `return_nfe`.
        """
        noise = self.initial_noise(num, noise, seed)
        labels = self.check_labels(labels, len(noise))
        x, nfe = self._integrate(noise, labels, solver, steps, rtol, atol, 0.0, 1.0, batch_size, verbose)
        out = self.to_output(x, raw)
        return (out, nfe) if return_nfe else out

    def encode(self, x, *, steps=50, solver="euler", labels=None, batch_size=256, rtol=1e-5, atol=1e-5):
        """Integrate model-space data back to noise (t=1 -> t=0); `sample(noise=encode(x))`
        reconstructs x up to the solver's error."""
        x = np.asarray(ops.convert_to_numpy(x), "float32")
        labels = self.check_labels(labels, len(x))
        return self._integrate(x, labels, solver, steps, rtol, atol, 1.0, 0.0, batch_size, False)[0]

    def log_prob(self, x, *, exact=None, seed=0, labels=None, batch_size=64, rtol=1e-5, atol=1e-5):
        """log-density of model-space `x` in nats per example, through the
        probability-flow ODE (RK45). `exact=None` uses the exact divergence up to 32
        dimensions and Hutchinson's estimator (Rademacher probes from `seed`) above."""
        x = np.asarray(ops.convert_to_numpy(x), "float32")
        if x.shape[1:] != self.data_shape:
            raise ValueError(f"`x` must have shape (N, {', '.join(map(str, self.data_shape))}); "
                             f"received {x.shape}.")
        exact = self.num_dims <= 32 if exact is None else exact
        labels = self.check_labels(labels, len(x))
        probes = None if exact else ops.convert_to_numpy(rademacher_like(x, seed))

        def build():
            def run(x, probes, labels):
                return ode_log_likelihood(lambda x, t: self.velocity(x, t, labels), x,
                                          probes=probes, rtol=rtol, atol=atol)
            return run

        run = self.inference_fn(("log_prob", exact, rtol, atol), build)
        out = []
        for start in range(0, len(x), batch_size):
            end = start + batch_size
            log_p, nfe = run(x[start:end], None if probes is None else probes[start:end],
                             None if labels is None else labels[start:end])
            check_rk45_finished(ops.convert_to_numpy(nfe))
            out.append(ops.convert_to_numpy(log_p))
        return np.concatenate(out)

    bits_per_dim_method = ("probability-flow ODE likelihood (RK45, Hutchinson trace estimator) of uniformly "
                           "dequantized images")

    def bits_per_dim(self, images, *, seed=0, exact=False, labels=None, batch_size=64,
                     rtol=1e-5, atol=1e-5):
        """Bits/dim of uint8 images: uniform dequantization (u + U[0,1)) / 256 with
        `seed`, mapped to [-1, 1], likelihood through the ODE, and the log-det of that
        rescaling counted. An upper bound on the discrete model's bits/dim.

        Returns:
            `(N,)` bits/dim per image; papers report the mean.
        """
        images = self.check_images(images)
        x = 2.0 * datasets.dequantize(images, seed=seed) - 1.0
        log_p = self.log_prob(x, exact=exact, seed=seed, labels=labels, batch_size=batch_size,
                              rtol=rtol, atol=atol)
        return metrics.bits_per_dim(log_p, self.num_dims,
                                    metrics.uint8_to_model_space_log_det(self.num_dims))

    # Reflow and distillation ----------------------------------------------------------

    def reflow_pairs(self, num, *, steps=100, solver="euler", seed=0, labels=None, batch_size=256,
                     verbose=False):
        """`{"noise", "data"}` model-space pairs coupled by this flow's ODE: the training
        set of the next rectified flow (Liu et al. 2023, Algorithm 1)."""
        noise = self.initial_noise(num, None, seed)
        data = self.sample(noise=noise, steps=steps, solver=solver, labels=labels,
                           batch_size=batch_size, raw=True, verbose=verbose)
        pairs = {"noise": noise, "data": data}
        if labels is not None:
            pairs["labels"] = np.asarray(labels)
        return pairs

    def straightness(self, num=256, *, steps=100, seed=0, noise=None, labels=None):
        """Mean straightness S (Liu et al. 2023, eq. 8) per dimension along Euler paths."""
        noise = self.initial_noise(None if noise is not None else num, noise, seed)
        labels = self.check_labels(labels, len(noise))

        def build():
            return lambda x, labels: metrics.straightness(
                lambda x, t: self.velocity(x, t, labels), x, steps)

        run = self.inference_fn(("straightness", steps), build)
        return float(np.mean(ops.convert_to_numpy(run(noise, labels))))

    def get_config(self):
        return {**super().get_config(), "time_distribution": self.time_distribution}


# Named configs ---------------------------------------------------------------------------

def _rectified_flow(network, data_shape=(32, 32, 3), **kwargs):
    from zoo.networks import MLP, UNet

    builders = {"unet": UNet, "mlp": MLP}
    kind, network_kwargs = network
    return RectifiedFlow(builders[kind](**network_kwargs), data_shape, **kwargs)


def _register():
    from zoo.registry import register_config

    unet = dict(attention_resolutions=(16,), num_heads=1)
    register_config(
        "rectified_flow_tiny", _rectified_flow, "Tiny U-Net (tests, smoke runs); 16x16x3 default.",
        network=("unet", dict(base_channels=16, channel_mults=(1, 2), num_res_blocks=1,
                              attention_resolutions=(8,), groups=8)), data_shape=(16, 16, 3))
    # Sized for 2 CPU cores: ~30 CIFAR images/s training on PyTorch (64 channels: ~10/s).
    register_config(
        "rectified_flow_small", _rectified_flow,
        "U-Net sized for CPU training (CIFAR-10 / MNIST): 32 channels, mults 1-2-2, 2 blocks (1.6M).",
        network=("unet", dict(base_channels=32, channel_mults=(1, 2, 2), num_res_blocks=2,
                              attention_resolutions=(8,), dropout=0.1, groups=8)))
    register_config(
        "rectified_flow_mnist", _rectified_flow,
        "U-Net for 28x28x1 digits trained on 2 CPU cores: 16 channels, mults 1-2-4, 1 block (0.69M).",
        network=("unet", dict(base_channels=16, channel_mults=(1, 2, 4), num_res_blocks=1,
                              attention_resolutions=(7,), groups=8)), data_shape=(28, 28, 1))
    # Trained on a lent GPU, sampled on CPUs: 14 MiB of float32 weights (the bundle's
    # 16 MiB cap) and ~2.2x the small model's sampling cost, so a 64-image grid at 20
    # Euler steps stays under a minute on 2 cores.
    register_config(
        "rectified_flow_medium", _rectified_flow,
        "U-Net for CIFAR-10 trained on one GPU, sampled on CPUs: 48 channels, mults 1-2-2, 2 blocks (3.6M).",
        network=("unet", dict(base_channels=48, channel_mults=(1, 2, 2), num_res_blocks=2,
                              attention_resolutions=(8,), dropout=0.1, groups=8)))
    register_config(
        "rectified_flow_base", _rectified_flow,
        "DDPM++-size U-Net for CIFAR-10 on a GPU: 128 channels, mults 1-2-2-2, 2 blocks (~36M).",
        network=("unet", dict(base_channels=128, channel_mults=(1, 2, 2, 2), num_res_blocks=2,
                              dropout=0.1, **unet)))
    register_config(
        "rectified_flow_mlp", _rectified_flow, "MLP for 2-D toy data (moons, 8 Gaussians ...).",
        network=("mlp", dict(hidden=128, depth=3, embedding_dim=32)), data_shape=(2,))


_register()
