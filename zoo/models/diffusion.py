"""Diffusion models over one denoiser contract: what they share (`Diffusion`), score
SDEs (Song et al. 2021) and EDM (Karras et al. 2022); DDPM (Ho et al. 2020) is in
`zoo.models.ddpm`.

Noise direction: sigma (or t) large is noise, 0 is data. Every family exposes
`denoise(x, sigma, labels) -> data estimate` in sigma space (x = data + sigma * noise,
Karras et al. 2022, eq. 4); VP families feed their network x / sqrt(1 + sigma^2), which
is their own x_t. The families differ only in their noise levels (training
distribution, sampling grid, network conditioning) and in the likelihood they report;
every sampler in `zoo.samplers.diffusion` serves all of them.
"""

import keras
import numpy as np
from keras import ops

from zoo import random, schedules
from zoo.likelihood import ProbabilityFlowLikelihood, standard_normal_log_prob
from zoo.checks import check_batch_size, check_finite, check_positive
from zoo.models.base import Interface, ZooModel
from zoo.models.noisy_classifier import NoisyClassifier
from zoo.networks.sizes import MLP_SIZES, UNET, backbone
from zoo.objectives.denoising import (check_parameterization, denoising_loss, drop_labels, lognormal_sigmas,
                                      network_target, preconditioning)
from zoo.progress import counted
from zoo.registry import register_config
from zoo.samplers import diffusion as samplers
from zoo.samplers.ode import sample_rk45

# The solvers as data: solver -> (run, NFE for `steps`). `run(model, denoise, x, steps,
# options, key)` returns x; `options` holds the validated `sample` arguments.
SOLVERS = {
    "ddpm": (lambda m, d, x, n, o, key: samplers.sample_ddpm(d, x, m.sigma_grid(n), o["variance"], key),
             lambda n: n),
    "ddim": (lambda m, d, x, n, o, key: samplers.sample_ddim(d, x, m.sigma_grid(n), o["eta"], key), lambda n: n),
    "heun": (lambda m, d, x, n, o, key: samplers.sample_edm(d, x, m.sigma_grid(n), churn=o["churn"], key=key),
             lambda n: 2 * n - 1),
    "euler": (lambda m, d, x, n, o, key: samplers.sample_ddim(d, x, m.sigma_grid(n), 0.0, key), lambda n: n),
    "dpmpp-2m": (lambda m, d, x, n, o, key: samplers.sample_dpmpp_2m(d, x, m.sigma_grid(n)), lambda n: n),
    "euler-maruyama": (lambda m, d, x, n, o, key: samplers.sample_euler_maruyama(d, x, m.sigma_grid(n), key),
                       lambda n: n),
    "pc": (lambda m, d, x, n, o, key: samplers.sample_pc(d, x, m.sigma_grid(n), key, snr=o["snr"]),
           lambda n: 2 * n - 1),
}


def _bcast(values, x):
    return ops.reshape(values, (-1,) + (1,) * (len(x.shape) - 1))


class Diffusion(ProbabilityFlowLikelihood, ZooModel):
    """What DDPM, ScoreSDE and EDM share: preconditioning, training through
    `compute_loss`, classifier-free and classifier guidance (with a
    `zoo.models.NoisyClassifier`), sampling, encoding and ODE likelihoods.

    Args:
        network: keras.layers.Layer. `network(x, c_noise, labels) -> tensor like x`.
        data_shape: tuple of int. One example's shape.
        parameterization: str. `"eps"`, `"x0"`, `"v"` or `"edm"` (see
            `zoo.objectives.denoising.preconditioning`).
        sigma_data: float. Data std assumed by the preconditioning.
        label_dropout: float. Probability of training with the "no label" token
            (classifier-free guidance needs > 0).
        ema_decay: float or None. Weight EMA used for sampling.
        seed: int or None. Seed for training noise.
    """

    interface = Interface(
        kind="generative",
        capabilities={"sample", "log_prob", "bits_per_dim", "encode", "decode", "labels", "guidance"},
        likelihood="ode", solvers=("ddpm", "ddim", "heun", "euler", "dpmpp-2m", "euler-maruyama", "pc", "rk45"),
        image_metrics=("bits_per_dim", "sample_quality"),
        point_metrics=("log_likelihood", "nearest_neighbour_distance"))
    solver_table = SOLVERS
    default_solver, default_steps = "heun", 18

    def __init__(self, network, data_shape, parameterization="eps", sigma_data=1.0, label_dropout=0.0,
                 ema_decay=0.999, seed=None, **kwargs):
        check_parameterization(parameterization)
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(f"`label_dropout` must be in [0, 1). Received: {label_dropout}")
        self.parameterization, self.sigma_data, self.label_dropout = parameterization, sigma_data, label_dropout
        super().__init__(data_shape, networks={"network": network}, ema_decay=ema_decay, seed=seed, **kwargs)

    def example_inputs(self, name):
        return ops.zeros((1, *self.data_shape)), ops.zeros((1,))

    # Family hooks ------------------------------------------------------------------------

    def training_noise(self, batch):
        """`(sigma, c_noise)`: training noise levels and the network's conditioning."""
        raise NotImplementedError

    def noise_condition(self, sigma):
        """The network's scalar input at noise level `sigma`."""
        raise NotImplementedError

    def sigma_grid(self, steps):
        """The sampling grid for `steps` steps: descending, ending in 0."""
        raise NotImplementedError

    sigma_min = sigma_max = prior_std = None  # floats, set by each family
    clip_denoised_default = False  # `sample`'s clipping of D to [-1, 1] on images

    # Training ---------------------------------------------------------------------------

    def call(self, inputs, training=False):
        data, labels = (inputs["data"], inputs.get("labels")) if isinstance(inputs, dict) else (inputs, None)
        self.check_data(data)
        self.update_ema(training)
        sigma, condition = self.training_noise(ops.shape(data)[0])
        sigma = _bcast(sigma, data)
        x = data + sigma * keras.random.normal(ops.shape(data), seed=self.seed_generator)
        c_skip, c_out, c_in = preconditioning(sigma, self.parameterization, self.sigma_data)
        if labels is not None and training and self.label_dropout > 0:
            labels = drop_labels(labels, self.network.num_classes, self.label_dropout, self.seed_generator)
        output = self.network(c_in * x, condition, labels, training=training)
        return {"output": output, "target": network_target(data, x, c_skip, c_out)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return denoising_loss(y_pred["output"], y_pred["target"])

    # The denoiser contract ---------------------------------------------------------------

    def denoise(self, x, sigma, labels=None, guidance=1.0, classifier=None):
        """Data estimate D(x, sigma) from the sampling (EMA) network, in float32. With
        `labels` and `guidance` w: D_uncond + w (D_cond - D_uncond) (w = 1: conditional).
        With a `classifier` (`NoisyClassifier`), classifier guidance instead:
        D(x, sigma[, labels]) + w sigma^2 grad_x log p(labels | x, sigma)."""
        x, sigma = ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(sigma, "float32")
        if classifier is not None:
            # A conditional network is conditioned on the labels as well (Dhariwal &
            # Nichol's "conditional + classifier guidance"); an unconditional one is not.
            network_labels = labels if getattr(self.network, "num_classes", None) else None
            return samplers.classifier_guided(lambda x, sigma: self.denoise(x, sigma, network_labels),
                                              classifier.log_prob, labels, guidance)(x, sigma)
        c_skip, c_out, c_in = preconditioning(_bcast(sigma, x), self.parameterization, self.sigma_data)
        condition = self.noise_condition(sigma)

        def estimate(labels):
            output = self.averaged("network")(c_in * x, condition, labels)
            return c_skip * x + c_out * ops.cast(output, "float32")

        if labels is None or guidance == 1.0:
            return estimate(labels)
        unconditional = estimate(ops.full((ops.shape(x)[0],), self.network.num_classes, "int32"))
        if guidance == 0.0:  # w = 0 is the unconditional denoiser: one network evaluation
            return unconditional
        return unconditional + guidance * (estimate(labels) - unconditional)

    # Sampling ---------------------------------------------------------------------------

    def _solve(self, solver, steps, options, denoise, x, key):
        """One solver run in model space: returns `(x, nfe)`."""
        if solver == "rk45":
            return samplers.sample_pf_rk45(denoise, x, self.sigma_max, self.sigma_min,
                                           options["rtol"], options["atol"])
        run, nfe = self.solver_table[solver]
        return run(self, denoise, x, steps, options, key), nfe(steps)

    def _solver_options(self, solver, *, eta, churn, variance, snr, rtol, atol, clip_denoised):
        """`sample`'s solver settings, checked against the solver they belong to."""
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:
            raise ValueError(f"`eta` must be a number in [0, 1]. Received: eta={eta!r}")
        if eta and solver != "ddim":
            raise ValueError(f"`eta` only applies to solver='ddim'; received eta={eta} with solver={solver!r}.")
        churn = check_finite(churn, "churn")
        if churn < 0 or (churn and solver != "heun"):
            raise ValueError(f"`churn` must be >= 0 and only applies to solver='heun'. Received: {churn}")
        if variance not in ("beta_tilde", "beta"):
            raise ValueError(f"`variance` must be 'beta_tilde' or 'beta'. Received: {variance!r}")
        snr, rtol, atol = check_positive(snr, "snr"), check_positive(rtol, "rtol"), check_positive(atol, "atol")
        if clip_denoised is None:
            clip_denoised = self.clip_denoised_default and self.is_image
        if clip_denoised and not self.is_image:
            raise ValueError("`clip_denoised` clips to the image range [-1, 1]; this model's data are not images.")
        return {"eta": float(eta), "churn": float(churn), "variance": variance, "snr": snr, "rtol": rtol, "atol": atol,
                "clip": bool(clip_denoised)}

    def sample(self, num=None, *, steps=None, solver=None, seed=None, noise=None, labels=None, guidance=1.0,
               classifier=None, eta=0.0, churn=0.0, variance="beta_tilde", snr=0.16, clip_denoised=None,
               batch_size=256, rtol=1e-5, atol=1e-5, raw=False, return_nfe=False, verbose=False):
        """Draw samples from the prior (sigma_max) down to the data (sigma = 0).

        Args:
            num: int. Number of samples (or give `noise`).
            steps: int >= 1. Solver steps (default: the family's); ignored by "rk45".
            solver: str. "ddpm" (ancestral; `variance` "beta_tilde" or "beta"), "ddim"
                (`eta` in [0, 1]), "analytic-ddim" / "analytic-ddpm" (DDPM after
                `estimate_gammas`; on images the last noisy step's noise is clipped
                to 2 levels, as Bao et al.), "heun" (EDM; `churn` > 0 for Alg. 2), "euler"
                (= DDIM eta 0), "dpmpp-2m" (DPM-Solver++(2M): second order, one
                evaluation per step), "euler-maruyama", "pc" (Langevin corrector, `snr`)
                or "rk45" (adaptive, `rtol`, `atol`).
            seed: int or None. Same seed, same backend -> same samples.
            noise: array `(N, *data_shape)` of standard normal starting points.
            labels: optional int array `(N,)` for class-conditional networks, or the
                classes to steer toward with a `classifier`.
            guidance: float. Classifier-free guidance scale (1: plain conditional), or
                with a `classifier` the classifier-guidance scale (0: no guidance; 1:
                p(x | y) if the classifier is exact; larger sharpens).
            classifier: `zoo.models.NoisyClassifier` or None. Classifier guidance
                (Dhariwal & Nichol 2021): the network may be unconditional; a
                conditional one is conditioned on `labels` too (plain, no CFG).
            clip_denoised: bool or None. Clip the data estimate D to the image range
                [-1, 1] at every step, as Ho et al.'s and Song et al.'s (DDIM) sampling
                code does; None: the family's default (`clip_denoised_default`, on for
                DDPM images, off for EDM and score SDEs, whose papers do not clip).
                Likelihoods never clip.
            raw: bool. Return model-space float32 arrays instead of uint8 images.
            return_nfe: bool. Also return the number of denoiser evaluations.

        Returns:
            uint8 images (float32 points), and the NFE if `return_nfe`.
        """
        solver = self.check_solver(self.default_solver if solver is None else solver)
        guidance = check_finite(guidance, "guidance")
        batch_size = check_batch_size(batch_size)
        if solver != "rk45":
            steps = schedules.check_steps(self.default_steps if steps is None else steps)
        options = self._solver_options(solver, eta=eta, churn=churn, variance=variance, snr=snr, rtol=rtol,
                                       atol=atol, clip_denoised=clip_denoised)
        noise = self.initial_noise(num, noise, seed)
        if classifier is not None:
            labels = self.check_classifier(classifier, labels, len(noise))
        else:
            labels = self.check_labels(labels, len(noise))
        if guidance != 1.0 and labels is None:
            raise ValueError(f"`guidance`={guidance} needs `labels` (classifier-free guidance is conditional).")
        # The classifier by identity: the compiled function holds it, so the id is not
        # reused while the entry lives; its weights are read at each call.
        cache = ("sample", solver, steps, guidance, *sorted(options.items()), self.solver_state(solver),
                 None if classifier is None else id(classifier))
        options.update(self.solver_tables(solver, steps))

        def build():
            @counted
            def denoise(x, sigma, labels):
                data = self.denoise(x, sigma, labels, guidance, classifier)
                return ops.clip(data, -1.0, 1.0) if options["clip"] else data

            def run(x, labels, key):
                x, nfe = self._solve(solver, steps, options, lambda x, sigma: denoise(x, sigma, labels), x, key)
                return x, ops.convert_to_tensor(nfe)
            return run

        run = self.inference_fn(cache, build, *([] if classifier is None else [classifier]))
        key = self.sampling_key(seed)
        x, nfe = self.run_batched(run, (noise * np.float32(self.prior_std), labels), batch_size,
                                  chunk_args=lambda i: (random.fold_in(key, i),), verbose=verbose,
                                  evaluations=None if solver == "rk45" else self.solver_table[solver][1](steps))
        out = self.to_output(x, raw)
        return (out, nfe) if return_nfe else out

    def solver_state(self, solver):
        """What, besides the weights, a compiled `solver` depends on (part of its cache
        key; None: nothing). DDPM's Analytic-DPM solvers depend on its Gamma_n."""
        return None

    def solver_tables(self, solver, steps):
        """Extra `options` a solver reads, computed outside the compiled function (`{}`)."""
        return {}

    def check_classifier(self, classifier, labels, num):
        """Validate a guiding classifier and its `labels`; returns the labels as int32."""
        if not isinstance(classifier, NoisyClassifier):
            raise ValueError(f"`classifier` must be a noise-aware `zoo.models.NoisyClassifier` (trained on noisy "
                             f"data at every sigma); received {type(classifier).__name__}.")
        if classifier.data_shape != self.data_shape:
            raise ValueError(f"The classifier takes data of shape {classifier.data_shape}, this model makes "
                             f"{self.data_shape}; they must match.")
        if labels is None:
            raise ValueError("Classifier guidance needs `labels`: the classes to steer each sample toward, "
                             f"integers in 0..{classifier.num_classes - 1}.")
        own = getattr(self.network, "num_classes", None)
        if own is not None and own != classifier.num_classes:
            raise ValueError(f"The classifier has {classifier.num_classes} classes, this conditional model "
                             f"{own}; use a classifier of the same classes or an unconditional model.")
        return classifier.check_labels(labels, num)

    def encode(self, x, *, steps=None, solver="ddim", labels=None, guidance=1.0, batch_size=256,
               rtol=1e-5, atol=1e-5):
        """Model-space data -> standard normal `noise` along the probability-flow ODE
        (deterministic DDIM, Song et al. 2021 sec. 4.3, or "rk45");
        `sample(noise=encode(x), solver=same, steps=same)` reconstructs x."""
        if solver not in ("ddim", "rk45"):
            raise ValueError(f"`solver` for encode must be 'ddim' or 'rk45'. Received: {solver!r}")
        steps = None if solver == "rk45" else schedules.check_steps(self.default_steps if steps is None else steps)
        guidance = check_finite(guidance, "guidance")
        rtol, atol = check_positive(rtol, "rtol"), check_positive(atol, "atol")
        batch_size = check_batch_size(batch_size)
        x = self.check_array(x)  # NaN or inf is refused here, before the solver runs
        labels = self.check_labels(labels, len(x))

        def build():
            def run(x, labels):
                def denoise(x, sigma):
                    return self.denoise(x, sigma, labels, guidance)
                if solver == "rk45":
                    return sample_rk45(samplers.denoiser_velocity(denoise), x, float(np.log(self.sigma_min)),
                                       float(np.log(self.sigma_max)), rtol=rtol, atol=atol)[0]
                return samplers.ddim_encode(denoise, x, self.sigma_grid(steps)[:-1][::-1])
            return run

        run = self.inference_fn(("encode", solver, steps, guidance, rtol, atol), build)
        return self.run_batched(run, (x, labels), batch_size)[0] / np.float32(self.prior_std)

    def decode(self, noise, *, steps=None, solver="ddim", labels=None, guidance=1.0, batch_size=256,
               rtol=1e-5, atol=1e-5):
        """Standard normal `noise` -> model-space data along the probability-flow ODE,
        the inverse of `encode` with the same solver and steps."""
        if solver not in ("ddim", "rk45"):
            raise ValueError(f"`solver` for decode must be 'ddim' or 'rk45'. Received: {solver!r}")
        return self.sample(noise=noise, steps=steps, solver=solver, labels=labels, guidance=guidance,
                           batch_size=batch_size, rtol=rtol, atol=atol, raw=True)

    # Likelihood -------------------------------------------------------------------------

    def probability_flow(self, labels):
        """The probability-flow ODE in log sigma from sigma_min (the data) to sigma_max,
        with a N(0, prior_std^2) prior (Song et al. 2021, sec. 4.3)."""
        log_std = float(np.log(self.prior_std))

        def prior_log_prob(z):
            return standard_normal_log_prob(z / self.prior_std) - self.num_dims * log_std

        velocity = samplers.denoiser_velocity(lambda x, sigma: self.denoise(x, sigma, labels))
        return velocity, float(np.log(self.sigma_min)), float(np.log(self.sigma_max)), prior_log_prob

    def bits_per_dim(self, images, **kwargs):
        """`(N,)` bits/dim of uint8 images; `likelihood_method` says which estimate."""
        return self.ode_bits_per_dim(images, **kwargs)

    def get_config(self):
        return {**super().get_config(), "parameterization": self.parameterization,
                "sigma_data": self.sigma_data, "label_dropout": self.label_dropout, "ema_decay": self.ema_decay}


@keras.saving.register_keras_serializable(package="zoo")
class ScoreSDE(Diffusion):
    """Score-based model of a VP, sub-VP or VE SDE, trained by continuous-time denoising
    score matching (t ~ U[eps, 1], eps-MSE, i.e. lambda(t) = std(t)^2). The network sees
    x / sqrt(1 + sigma^2) (VP's own x_t) and t. Time: t=eps data, t=1 noise.

    Args:
        sde: str. `"vp"`, `"subvp"` or `"ve"`.
        beta_min, beta_max: float. VP / sub-VP beta(t) range.
        sigma_min, sigma_max: float. VE noise range.
        eps: float. Smallest training and sampling time.

    References:
        Song et al. 2021, arXiv:2011.13456.
    """

    default_solver, default_steps = "pc", 500

    def __init__(self, network, data_shape, sde="vp", beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0,
                 eps=1e-3, parameterization="eps", **kwargs):
        if sde not in schedules.SDES:
            raise ValueError(f"`sde` must be one of {schedules.SDES}. Received: {sde!r}")
        super().__init__(network, data_shape, parameterization=parameterization, **kwargs)
        self.sde, self.eps = sde, eps
        self.params = dict(beta_min=beta_min, beta_max=beta_max, sigma_min=sigma_min, sigma_max=sigma_max)
        self.sigma_min = float(schedules.sde_sigma(sde, eps, **self.params))
        self.sigma_max = float(schedules.sde_sigma(sde, 1.0, **self.params))
        mean, std = schedules.sde_marginal(sde, 1.0, **self.params)
        self.prior_std = float(std if sde == "ve" else 1.0 / mean)

    def training_noise(self, batch):
        t = self.eps + (1.0 - self.eps) * keras.random.uniform((batch,), seed=self.seed_generator)
        return schedules.sde_sigma(self.sde, t, **self.params), t

    def noise_condition(self, sigma):
        return schedules.sde_sigma_to_t(self.sde, sigma, **self.params)

    def sigma_grid(self, steps):
        t = np.linspace(1.0, self.eps, schedules.check_steps(steps))
        return np.append(schedules.sde_sigma(self.sde, t, **self.params), 0.0).astype("float32")

    def get_config(self):
        return {**super().get_config(), "sde": self.sde, "eps": self.eps, **self.params}


@keras.saving.register_keras_serializable(package="zoo")
class EDM(Diffusion):
    """EDM (Karras et al. 2022): preconditioned denoiser (c_skip, c_out, c_in and
    c_noise = ln(sigma) / 4), ln sigma ~ N(p_mean, p_std^2) in training with the
    weight lambda = 1 / c_out^2, Karras sigma grid with `rho` for sampling.

    Args:
        sigma_data: float. Data std (0.5 for images in [-1, 1]).
        p_mean, p_std: float. Training noise distribution.
        sigma_min, sigma_max, rho: float. Sampling grid.

    References:
        Karras et al. 2022, arXiv:2206.00364.
    """

    default_solver, default_steps = "heun", 18

    def __init__(self, network, data_shape, sigma_data=0.5, p_mean=-1.2, p_std=1.2, sigma_min=0.002,
                 sigma_max=80.0, rho=7.0, parameterization="edm", **kwargs):
        super().__init__(network, data_shape, parameterization=parameterization, sigma_data=sigma_data, **kwargs)
        self.p_mean, self.p_std, self.rho = p_mean, p_std, rho
        self.sigma_min, self.sigma_max, self.prior_std = sigma_min, sigma_max, sigma_max

    def training_noise(self, batch):
        sigma = lognormal_sigmas(batch, self.p_mean, self.p_std, self.seed_generator)
        return sigma, self.noise_condition(sigma)

    def noise_condition(self, sigma):
        return 0.25 * ops.log(sigma)

    def sigma_grid(self, steps):
        return schedules.karras_sigmas(steps, self.sigma_min, self.sigma_max, self.rho)

    def get_config(self):
        return {**super().get_config(), "p_mean": self.p_mean, "p_std": self.p_std,
                "sigma_min": self.sigma_min, "sigma_max": self.sigma_max, "rho": self.rho}


# Named configs ---------------------------------------------------------------------------

def config_builder(family):
    """A config builder of a diffusion `family`: a backbone spec -> the model."""
    def build(network, data_shape=(32, 32, 3), **kwargs):
        return family(backbone(network), data_shape, **kwargs)
    return build


def _register():
    tiny, small, mlp = ("unet", UNET["tiny"]), ("unet", UNET["small"]), ("mlp", MLP_SIZES["toy"])
    cpu_thread = UNET["cpu_thread"]  # edm-cifar-cond: ddpm_cifar's U-Net with a class embedding
    register_config("score_sde_tiny", config_builder(ScoreSDE), "Tiny U-Net VP-SDE score model (tests); 16x16x3.",
                    network=tiny, data_shape=(16, 16, 3))
    register_config("score_sde_mlp", config_builder(ScoreSDE), "VP-SDE score model with an MLP for 2-D toy data.",
                    network=mlp, data_shape=(2,))
    register_config("score_sde_small", config_builder(ScoreSDE), "VP-SDE with the CPU-sized U-Net (1.6M).",
                    network=small)
    register_config("edm_tiny", config_builder(EDM), "Tiny U-Net EDM (tests, smoke runs); 16x16x3.",
                    network=tiny, data_shape=(16, 16, 3))
    # 2-D toy sets have std ~1, not the 0.5 of images in [-1, 1].
    register_config("edm_mlp", config_builder(EDM), "EDM with an MLP for 2-D toy data (sigma_data 1).",
                    network=mlp, data_shape=(2,), sigma_data=1.0)
    register_config("edm_small", config_builder(EDM), "EDM with the CPU-sized U-Net (1.6M).", network=small)
    register_config("edm_small_cond", config_builder(EDM),
                    "Class-conditional EDM (10 classes, 10% label dropout for guidance), CPU-sized U-Net.",
                    network=("unet", {**UNET["small"], "num_classes": 10}), label_dropout=0.1)
    register_config("edm_cifar_cond", config_builder(EDM),
                    "Class-conditional EDM for CIFAR-10 trained on one CPU thread: the U-Net of ddpm_cifar "
                    "with 10 classes, 10% label dropout.",
                    network=("unet", {**cpu_thread, "num_classes": 10}), label_dropout=0.1)


_register()
