"""DDPM (Ho et al. 2020): a discrete chain of noise levels, with DDIM sampling (Song et
al. 2021), Analytic-DPM's optimal reverse variances (Bao et al. 2022) and the
variational bound as its likelihood. A `Diffusion` family: noise direction, sigma
large is noise; the chain's step n = 1..N has sigma_n = sqrt((1 - alpha_bar_n) / alpha_bar_n).
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from zoo import datasets, random, schedules
from zoo.checks import check_batch_size
from zoo.models.diffusion import SOLVERS, Diffusion, config_builder
from zoo.networks.sizes import MLP_SIZES, UNET
from zoo.objectives.denoising import variational_bound
from zoo.registry import register_config
from zoo.samplers import diffusion as samplers

# Analytic-DPM on images: the last noisy step adds at most 2 levels of mean absolute
# noise (Bao et al. 2022's CIFAR-10 setting; `samplers.analytic_steps`).
ANALYTIC_LAST_NOISE_LEVELS = 2
# Analytic-DDIM and -DDPM: ancestral steps whose (down, up) pairs `solver_tables` computes.
ANALYTIC = (lambda m, d, x, n, o, key: samplers.sample_ancestral(d, x, m.sigma_grid(n), *o["analytic"], key=key),
            lambda n: n)


@keras.saving.register_keras_serializable(package="zoo")
class DDPM(Diffusion):
    """Denoising diffusion probabilistic model: a discrete chain of `num_steps` steps.

    The network sees x_n = sqrt(alpha_bar_n) data + sqrt(1 - alpha_bar_n) noise and
    t = n / num_steps (n = 1..N; the U-Net's embedding scale 1000 turns that into n for
    N = 1000). Continuous noise levels (Heun, RK45) interpolate n in log sigma.
    `bits_per_dim` is the ELBO with the discrete decoder.

    Args:
        num_steps: int. Chain length N.
        beta_schedule: str. `"linear"` (Ho et al.) or `"cosine"` (Nichol & Dhariwal).
        (and those of `Diffusion`).

    References:
        Ho et al. 2020, arXiv:2006.11239; Song et al. 2021 (DDIM), arXiv:2010.02502;
        Bao et al. 2022 (Analytic-DPM), arXiv:2201.06503.
    """

    interface = dataclasses.replace(
        Diffusion.interface, likelihood="bound",
        solvers=(*Diffusion.interface.solvers, "analytic-ddim", "analytic-ddpm"))
    solver_table = {**SOLVERS, "analytic-ddim": ANALYTIC, "analytic-ddpm": ANALYTIC}
    default_solver = "ddpm"
    clip_denoised_default = True  # Ho et al.'s `clip_denoised`, DDIM's x0 clipping
    likelihood_method = "negative ELBO (Ho et al. 2020 eq. 5) with the discrete decoder, all N terms"

    def __init__(self, network, data_shape, num_steps=1000, beta_schedule="linear", parameterization="eps",
                 **kwargs):
        betas = schedules.ddpm_betas(beta_schedule, num_steps)
        self.num_steps = int(num_steps)  # `build` needs the chain length for the `gammas` weight
        self.beta_schedule = beta_schedule
        super().__init__(network, data_shape, parameterization=parameterization, **kwargs)
        self.alpha_bars = schedules.alpha_bars(betas)
        sigmas = schedules.alpha_bar_to_sigma(self.alpha_bars).astype("float32")
        self.sigmas, self.log_sigmas = sigmas, np.log(sigmas)
        self.sigma_min, self.sigma_max = float(sigmas[0]), float(sigmas[-1])
        self.prior_std = float(1 / np.sqrt(self.alpha_bars[-1]))
        self.default_steps = num_steps

    def build(self, input_shape):
        super().build(input_shape)
        # Analytic-DPM's Gamma_n, estimated from data by `estimate_gammas`; 0 = not yet.
        self.gammas = self.add_weight(shape=(self.num_steps,), initializer="zeros", trainable=False, name="gammas")

    def training_noise(self, batch):
        n = keras.random.randint((batch,), 1, self.num_steps + 1, seed=self.seed_generator)
        return ops.take(ops.convert_to_tensor(self.sigmas), n - 1), ops.cast(n, "float32") / self.num_steps

    def noise_condition(self, sigma):
        if self.num_steps == 1:
            return ops.ones_like(sigma)
        log_sigmas = ops.convert_to_tensor(self.log_sigmas)
        log_sigma = ops.log(ops.maximum(sigma, 1e-10))
        upper = ops.clip(ops.searchsorted(log_sigmas, log_sigma), 1, self.num_steps - 1)
        low, high = ops.take(log_sigmas, upper - 1), ops.take(log_sigmas, upper)
        weight = ops.clip((log_sigma - low) / (high - low), 0.0, 1.0)
        return (ops.cast(upper, "float32") + weight) / self.num_steps

    def timesteps(self, steps):
        """The DDIM sub-sequence of `steps` of the chain's steps n, from N down to 1."""
        steps = schedules.check_steps(steps)
        if steps > self.num_steps:
            raise ValueError(f"`steps` must be <= num_steps={self.num_steps} for a DDPM. Received: {steps}")
        return np.unique(np.round(np.linspace(1, self.num_steps, steps)).astype(int))[::-1]

    def sigma_grid(self, steps):
        return np.append(self.sigmas[self.timesteps(steps) - 1], 0.0).astype("float32")

    # Analytic-DPM ----------------------------------------------------------------------

    def estimate_gammas(self, data, *, num=None, seed=0, batch_size=256):
        """Monte Carlo estimate of Gamma_n = E ||eps_hat(x_n, n)||^2 / d at every step n
        from model-space training `data` (Bao et al. 2022, eq. 8), stored in the
        `gammas` weight (saved with the checkpoint). Returns the `(N,)` values."""
        data = self.check_array(np.asarray(data)[:num], "data")
        batch_size = check_batch_size(batch_size)
        key = self.sampling_key(seed)

        def build():
            def run(x, n_index, key):
                sigma = ops.take(ops.convert_to_tensor(self.sigmas), n_index)
                noise = random.normal(ops.shape(x), key)
                noisy = x + sigma * noise
                eps = (noisy - self.denoise(noisy, ops.ones((ops.shape(x)[0],)) * sigma)) / sigma
                return ops.sum(ops.reshape(ops.square(eps), (ops.shape(x)[0], -1)), axis=-1)
            return run

        run = self.inference_fn(("gammas",), build)
        gammas = np.zeros(self.num_steps)
        for n in range(self.num_steps):
            total = sum(float(np.sum(ops.convert_to_numpy(run(data[i:i + batch_size], np.int32(n),
                                                               random.fold_in(random.fold_in(key, i), n)))))
                        for i in range(0, len(data), batch_size))
            gammas[n] = total / (len(data) * self.num_dims)
        self.gammas.assign(gammas.astype("float32"))
        return gammas

    def grid_gammas(self, sigmas):
        gammas = ops.convert_to_numpy(self.gammas)
        if not np.all(gammas > 0):
            raise ValueError("Analytic-DPM solvers need Gamma_n: call `model.estimate_gammas(train_data)` first.")
        index = np.searchsorted(self.sigmas, np.asarray(sigmas[:-1], "float32"))
        return gammas[np.clip(index, 0, self.num_steps - 1)]

    def solver_state(self, solver):
        return hash(ops.convert_to_numpy(self.gammas).tobytes()) if solver.startswith("analytic") else None

    def solver_tables(self, solver, steps):
        """Analytic-DPM's (down, up) steps from the current Gamma_n; on images the last
        noisy step's noise is clipped (`ANALYTIC_LAST_NOISE_LEVELS`)."""
        if not solver.startswith("analytic-"):
            return {}
        sigmas = self.sigma_grid(steps)
        return {"analytic": samplers.analytic_steps(
            sigmas, self.grid_gammas(sigmas), solver[len("analytic-"):], 2.0 if self.is_image else None,
            last_noise_levels=ANALYTIC_LAST_NOISE_LEVELS if self.is_image else None)}

    # The variational bound -------------------------------------------------------------

    def reverse_variances(self, variance="beta_tilde"):
        """Reverse-step variances (VP units) for n = 1..N: "beta_tilde" (step 1 takes
        beta-tilde_2, as Ho et al.'s clipped log-variance), "beta", or "analytic"
        (Analytic-DDPM, from `estimate_gammas`)."""
        prev = np.append(1.0, self.alpha_bars[:-1])
        betas = 1 - self.alpha_bars / prev
        if variance == "beta":
            return betas
        if variance == "beta_tilde":
            posterior = betas * (1 - prev) / (1 - self.alpha_bars)
            return np.append(posterior[1] if self.num_steps > 1 else betas[0], posterior[1:])
        if variance == "analytic":
            grid = np.append(self.sigmas[::-1], 0.0)
            values, _ = samplers.analytic_variances(grid, self.grid_gammas(grid), "ddpm",
                                                    2.0 if self.is_image else None)
            return np.maximum(values[::-1], 1e-10)
        raise ValueError(f"`variance` must be 'beta_tilde', 'beta' or 'analytic'. Received: {variance!r}")

    def nll(self, x, *, variance="beta_tilde", decoder="discrete", seed=0, labels=None, batch_size=64):
        """Negative ELBO in nats per example of model-space `x` (`variational_bound`).

        `variance` is one of `reverse_variances`' names, giving `(N,)`, or a tuple of
        them, giving `{name: (N,)}` from one pass of network evaluations (the bounds then
        share their noise draws, so their differences are measured without that noise)."""
        names = (variance,) if isinstance(variance, str) else tuple(variance)
        x = self.check_array(x)  # NaN or inf is refused here, before the network runs
        batch_size = check_batch_size(batch_size)
        labels = self.check_labels(labels, len(x))
        variances = np.stack([self.reverse_variances(name) for name in names])
        key = self.sampling_key(seed)

        def build():
            def run(x, labels, key):
                return variational_bound(lambda x, sigma: self.denoise(x, sigma, labels), x, self.alpha_bars,
                                         variances, key, decoder)
            return run

        versions = tuple(self.solver_state(name) for name in names)
        run = self.inference_fn(("nll", names, decoder, versions), build)
        nats, _ = self.run_batched(run, (x, labels), batch_size, axis=1,
                                   chunk_args=lambda i: (random.fold_in(key, i),))
        return nats[0] if isinstance(variance, str) else dict(zip(names, nats))

    def bits_per_dim(self, images, *, seed=0, variance="beta_tilde", labels=None, batch_size=64, **ignored):
        """`(N,)` bits/dim of uint8 images: the negative ELBO with the discrete decoder
        (an upper bound on the discrete NLL; no dequantization); a tuple of `variance`
        names gives `{name: (N,)}` (see `nll`). `ode_bits_per_dim` gives the
        probability-flow ODE estimate instead; RK45 options are ignored here."""
        images = self.check_images(images)
        nats = self.nll(datasets.to_model_space(images), variance=variance, seed=seed, labels=labels,
                        batch_size=batch_size)
        scale = 1.0 / (self.num_dims * np.log(2.0))
        return nats * scale if isinstance(nats, np.ndarray) else {name: v * scale for name, v in nats.items()}

    def get_config(self):
        return {**super().get_config(), "num_steps": self.num_steps, "beta_schedule": self.beta_schedule}


# Named configs ---------------------------------------------------------------------------

register_config("ddpm_tiny", config_builder(DDPM), "Tiny U-Net DDPM (tests, smoke runs); 16x16x3, 1000 steps.",
                network=("unet", UNET["tiny"]), data_shape=(16, 16, 3))
register_config("ddpm_small", config_builder(DDPM), "DDPM with the CPU-sized U-Net of rectified_flow_small (1.6M).",
                network=("unet", UNET["small"]))
register_config("ddpm_cifar", config_builder(DDPM),
                "DDPM for CIFAR-10 trained on one CPU thread: 24 channels, mults 1-2-2, 2 blocks, no dropout.",
                network=("unet", UNET["cpu_thread"]))
register_config("ddpm_mnist", config_builder(DDPM),
                "DDPM with the U-Net of rectified_flow_mnist, for 28x28x1 digits on 2 CPU cores (0.69M).",
                network=("unet", UNET["mnist"]), data_shape=(28, 28, 1))
register_config("ddpm_mlp", config_builder(DDPM), "DDPM (1000 linear-beta steps) with an MLP for 2-D toy data.",
                network=("mlp", MLP_SIZES["toy"]), data_shape=(2,))
