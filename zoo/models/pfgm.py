"""Poisson flow generative models: PFGM (Xu et al. 2022, arXiv:2209.11178) and PFGM++
(Xu et al. 2023, arXiv:2302.04265).

PFGM. Time direction: z large is the prior, z -> 0 is the data (sampling integrates
t = log z from log z_max down to log z_min). The network takes (x, z) and predicts the
normalized (N+1)-dimensional Poisson field of the data at height z; a large training
batch stands in for the data distribution (`zoo.objectives.poisson`), and samples follow
the field's backward ODE from the prior on the plane z = z_max (`zoo.samplers.poisson`).

PFGM++. Time direction as EDM's: sigma large is noise, 0 is data. D augmented dimensions
with r = sigma sqrt(D): the perturbation kernel is a multivariate Student t with D degrees
of freedom, and training (EDM's preconditioning and loss), the ODE and the Heun sampler are
EDM's (`zoo.models.diffusion.EDM`, subclassed); only the noise draws and the prior differ,
and as D -> infinity both become Gaussian: PFGM++ is EDM.
"""

import math

import keras
import numpy as np
from keras import ops

from zoo import random
from zoo.checks import check_batch_size, check_positive
from zoo.likelihood import ProbabilityFlowLikelihood
from zoo.models.base import Interface, ZooModel
from zoo.models.diffusion import EDM, _bcast, config_builder
from zoo.networks.sizes import MLP_SIZES, UNET, backbone
from zoo.objectives.denoising import drop_labels, network_target, preconditioning
from zoo.objectives.poisson import (augment, field_loss, heavy_tailed, normalized_field, pfgm_perturbation,
                                    student_t_log_prob)
from zoo.progress import counted
from zoo.registry import register_config
from zoo.samplers import poisson as poisson_samplers
from zoo.schedules import check_steps


@keras.saving.register_keras_serializable(package="zoo")
class PFGM(ProbabilityFlowLikelihood, ZooModel):
    """Poisson flow generative model: a network predicting the normalized Poisson field
    of the data in N+1 dimensions, sampled along the field's backward ODE in log z.

    `fit` takes model-space data; each batch serves twice, as the charges of the
    empirical field (all of it: train with large batches) and, in its first
    `perturbed_batch` examples, as the points that are perturbed and scored.

    Args:
        network: keras.layers.Layer. `network(x_in, c_noise) -> tensor` with one output
            more than x: `output_dim = N + 1` for points; `out_channels = C + 1` for
            images, whose last channel's spatial mean is the z component (as the
            official code).
        data_shape: tuple of int. One example's shape.
        sigma, tau, max_m: float. The perturbation: eps ~ N(0, sigma^2), m ~ U[0, M],
            scale (1 + tau)^m (the paper's sigma = 0.01, tau = 0.03, M = 291).
        restrict_m: bool. Confine m for points near the plane (app. B.1.1).
        gamma: float. The target's normalization, sqrt(N) F / (|F| + gamma).
        z_max, z_min: float. Sampling starts on z = z_max and stops at z_min.
        radius_max: float or None. The prior's radius is clipped to [1, radius_max]
            (the paper's "upper norm"; None: unclipped).
        z_exp: float. Below it the sampler derives v_z from v_x (app. B.2.3; 0: off).
        perturbed_batch: int or None. Perturbed points per batch (None: all).
        sigma_data: float. The network sees x / sqrt(sigma_data^2 + z^2) and
            ln(z) / 4 (an EDM-style input scaling; the official code feeds raw x).
        ema_decay: float or None. Weight EMA used for sampling.
        seed: int or None. Seed for training noise.

    References:
        Xu, Liu, Tegmark & Jaakkola 2022, arXiv:2209.11178.
    """

    interface = Interface(
        kind="generative", capabilities={"sample", "log_prob", "bits_per_dim"}, likelihood="ode",
        solvers=("heun", "euler", "rk45"), image_metrics=("sample_quality",),
        # (`log_prob` works, but its RK45 on the field's stiff ODE near the data can take
        # thousands of steps at zoo eval's 1e-5 tolerances, so eval does not measure it.)
        point_metrics=("nearest_neighbour_distance",))
    likelihood_method = ("backward-ODE likelihood in log z (RK45) with the plane prior, Hutchinson trace "
                         "estimator on images")

    def __init__(self, network, data_shape, sigma=0.01, tau=0.03, max_m=291.0, restrict_m=True, gamma=5.0,
                 z_max=40.0, z_min=1e-3, radius_max=3000.0, z_exp=1.0, perturbed_batch=128, sigma_data=0.5,
                 ema_decay=0.999, seed=None, **kwargs):
        for name, value in (("sigma", sigma), ("tau", tau), ("max_m", max_m), ("z_max", z_max), ("z_min", z_min),
                            ("sigma_data", sigma_data)):
            check_positive(value, name)
        if z_min >= z_max:
            raise ValueError(f"`z_min` ({z_min}) must be below `z_max` ({z_max}).")
        if gamma < 0 or z_exp < 0:
            raise ValueError(f"`gamma` and `z_exp` must be >= 0. Received: gamma={gamma}, z_exp={z_exp}")
        if perturbed_batch is not None and (isinstance(perturbed_batch, bool) or int(perturbed_batch) < 1):
            raise ValueError(f"`perturbed_batch` must be an integer >= 1 or None. Received: {perturbed_batch!r}")
        self.sigma, self.tau, self.max_m, self.restrict_m = float(sigma), float(tau), float(max_m), bool(restrict_m)
        self.gamma, self.z_max, self.z_min, self.z_exp = float(gamma), float(z_max), float(z_min), float(z_exp)
        self.radius_max = None if radius_max is None else float(radius_max)
        self.perturbed_batch = None if perturbed_batch is None else int(perturbed_batch)
        self.sigma_data = float(sigma_data)
        super().__init__(data_shape, networks={"network": network}, ema_decay=ema_decay, seed=seed, **kwargs)

    def example_inputs(self, name):
        return ops.zeros((1, *self.data_shape)), ops.zeros((1,))

    # The field contract ---------------------------------------------------------------

    def _field(self, network, x, z, training=False):
        """`(v_x, v_z)`: the network's normalized field at height `z` `(batch,)`."""
        z = ops.convert_to_tensor(z, "float32")
        scale = _bcast(1.0 / ops.sqrt(self.sigma_data**2 + ops.square(z)), x)
        output = ops.cast(network(scale * x, 0.25 * ops.log(z), training=training), "float32")
        if self.is_image:
            return output[..., :-1], ops.mean(output[..., -1], axis=(1, 2))
        return output[:, :-1], output[:, -1]

    def field(self, x, z):
        """The normalized field `(v_x, v_z)` at `(x, z)` from the sampling (EMA) network."""
        return self._field(self.averaged("network"), ops.convert_to_tensor(x, "float32"), z)

    def velocity(self, x, t):
        """dx/dt of the backward ODE in t = log z (`zoo.samplers.poisson.poisson_velocity`)."""
        return poisson_samplers.poisson_velocity(self.field, self.num_dims, self.gamma, self.z_exp)(
            ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(t, "float32"))

    # Training -------------------------------------------------------------------------

    def call(self, inputs, training=False):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        self.check_data(data)
        self.update_ema(training)
        points = data if self.perturbed_batch is None else data[:self.perturbed_batch]
        x, z = pfgm_perturbation(points, self.sigma, self.tau, self.max_m, self.restrict_m, self.seed_generator)
        charges = augment(data, ops.zeros((ops.shape(data)[0],)))
        target = ops.stop_gradient(normalized_field(augment(x, z), charges, self.gamma))
        v_x, v_z = self._field(self.network, x, ops.maximum(z, 1e-10), training)
        return {"field": augment(v_x, v_z), "target": target}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return field_loss(y_pred["field"], y_pred["target"])

    # Sampling -------------------------------------------------------------------------

    def prior_sample(self, shape, key):
        radius_range = None if self.radius_max is None else (1.0, self.radius_max)
        return poisson_samplers.hemisphere_prior(shape, key, self.z_max, radius_range)

    def sample(self, num=None, *, steps=100, solver="heun", seed=None, noise=None, batch_size=256, rtol=1e-4,
               atol=1e-4, raw=False, return_nfe=False, verbose=False):
        """Draw samples along the backward ODE from the plane z = z_max to z_min.

        Args:
            num: int. Number of samples (or give `noise`).
            steps: int >= 1. Steps, uniform in log z, of "euler" and "heun".
            solver: str. "heun" (fixed steps in log z), "euler", or "rk45" (adaptive,
                `rtol`, `atol`; the paper's, and what pfgm-moons needs: its fixed-step
                paths diverge for part of the prior draws, see its card).
            seed: int or None. Same seed -> same samples, on every backend.
            noise: array `(N, *data_shape)` of starting points on the plane z = z_max.
            raw: bool. Return model-space float32 arrays instead of uint8 images.
            return_nfe: bool. Also return the number of network evaluations.

        Returns:
            uint8 images (float32 points), and the NFE if `return_nfe`.
        """
        solver = self.check_solver(solver)
        steps = check_steps(steps) if solver != "rk45" else None
        rtol, atol = check_positive(rtol, "rtol"), check_positive(atol, "atol")
        batch_size = check_batch_size(batch_size)
        noise = self.initial_noise(num, noise, seed)

        def build():
            def run(x):
                return poisson_samplers.sample_pfgm(counted(self.field), x, self.z_max, self.z_min, self.num_dims,
                                                    solver=solver, steps=steps, gamma=self.gamma, z_exp=self.z_exp,
                                                    rtol=rtol, atol=atol)
            return run

        run = self.inference_fn(("sample", solver, steps, rtol, atol), build)
        evaluations = None if solver == "rk45" else steps * poisson_samplers.FIXED_STEP_SOLVERS[solver][1]
        x, nfe = self.run_batched(run, (noise,), batch_size, verbose=verbose, evaluations=evaluations)
        out = self.to_output(x, raw)
        return (out, nfe) if return_nfe else out

    def probability_flow(self, labels):
        def velocity(x, t):
            return poisson_samplers.poisson_velocity(self.field, self.num_dims, self.gamma, self.z_exp)(x, t)

        return (velocity, math.log(self.z_min), math.log(self.z_max),
                lambda x: poisson_samplers.hemisphere_prior_log_prob(x, self.z_max))

    def bits_per_dim(self, images, **kwargs):
        return self.ode_bits_per_dim(images, **kwargs)

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "tau": self.tau, "max_m": self.max_m,
                "restrict_m": self.restrict_m, "gamma": self.gamma, "z_max": self.z_max, "z_min": self.z_min,
                "radius_max": self.radius_max, "z_exp": self.z_exp, "perturbed_batch": self.perturbed_batch,
                "sigma_data": self.sigma_data, "ema_decay": self.ema_decay}


@keras.saving.register_keras_serializable(package="zoo")
class PFGMPlusPlus(EDM):
    """PFGM++: EDM with D augmented dimensions. Noise is the multivariate Student t of
    D degrees of freedom and scale sigma (r = sigma sqrt(D)) in training and in the prior
    at sigma_max; the denoiser, its preconditioning and loss, the noise levels and the
    Heun / Euler / RK45 samplers are EDM's. D -> infinity recovers EDM, noise draw for
    noise draw (the Gaussian factor of every draw is EDM's, from the same generator).

    Args:
        augmented_dims: int >= 1. D (the paper's best on CIFAR-10: 2048; 1 is PFGM's
            kernel in EDM's parameterization).
        (others as `zoo.models.EDM`)

    References:
        Xu, Tong, Liu, Tegmark & Jaakkola 2023, arXiv:2302.04265.
    """

    # EDM's deterministic solvers: the stochastic ones add Gaussian noise, not this kernel's.
    interface = Interface(
        kind="generative",
        capabilities={"sample", "log_prob", "bits_per_dim", "encode", "decode", "labels", "guidance"},
        likelihood="ode", solvers=("heun", "euler", "ddim", "rk45"),
        image_metrics=("bits_per_dim", "sample_quality"),
        point_metrics=("log_likelihood", "nearest_neighbour_distance"))

    def __init__(self, network, data_shape, augmented_dims=2048, **kwargs):
        if isinstance(augmented_dims, bool) or not isinstance(augmented_dims, (int, np.integer)) or augmented_dims < 1:
            raise ValueError(f"`augmented_dims` (D) must be an integer >= 1. Received: {augmented_dims!r}")
        self.augmented_dims = int(augmented_dims)
        super().__init__(network, data_shape, **kwargs)

    def kernel_noise(self, noise, normal):
        """Standard normal `noise` -> the kernel's draws at sigma = 1 (`normal(shape)`
        draws the chi-square part)."""
        return heavy_tailed(noise, self.augmented_dims, normal)

    def call(self, inputs, training=False):
        # EDM's training forward pass (`Diffusion.call`) with the noise made heavy-tailed.
        data, labels = (inputs["data"], inputs.get("labels")) if isinstance(inputs, dict) else (inputs, None)
        self.check_data(data)
        self.update_ema(training)
        sigma, condition = self.training_noise(ops.shape(data)[0])
        sigma = _bcast(sigma, data)
        noise = keras.random.normal(ops.shape(data), seed=self.seed_generator)
        noise = self.kernel_noise(noise, lambda shape: keras.random.normal(shape, seed=self.seed_generator))
        x = data + sigma * noise
        c_skip, c_out, c_in = preconditioning(sigma, self.parameterization, self.sigma_data)
        if labels is not None and training and self.label_dropout > 0:
            labels = drop_labels(labels, self.network.num_classes, self.label_dropout, self.seed_generator)
        output = self.network(c_in * x, condition, labels, training=training)
        return {"output": output, "target": network_target(data, x, c_skip, c_out)}

    def prior_sample(self, shape, key):
        """The kernel at sigma = 1 (`sample` scales it by sigma_max): EDM's normal draw
        from `key`, times sqrt(D / chi2_D) from its own stream."""
        noise = super().prior_sample(shape, key)
        chi_key = random.fold_in(key, 1)
        return self.kernel_noise(noise, lambda s: random.normal(s, chi_key))

    def _solver_options(self, solver, **options):
        options = super()._solver_options(solver, **options)
        if options["eta"] or options["churn"]:
            raise ValueError("PFGM++ samples along its ODE: `eta` and `churn` (Gaussian noise injection) must be 0.")
        return options

    def probability_flow(self, labels):
        velocity, t_data, t_noise, _ = super().probability_flow(labels)
        return velocity, t_data, t_noise, lambda z: student_t_log_prob(z, self.augmented_dims, self.sigma_max)

    def get_config(self):
        return {**super().get_config(), "augmented_dims": self.augmented_dims}


# Named configs ---------------------------------------------------------------------------

def _pfgm(network, data_shape=(32, 32, 3), **kwargs):
    return PFGM(backbone(network), data_shape, **kwargs)


def _register():
    # PFGM's networks output one more component than the data: the field's z part.
    toy = ("mlp", {**MLP_SIZES["toy"], "output_dim": 3})
    register_config("pfgm_mlp", _pfgm, "PFGM with an MLP for 2-D toy data (3-D field output; sigma_data 1).",
                    network=toy, data_shape=(2,), sigma_data=1.0, perturbed_batch=256)
    register_config("pfgm_tiny", _pfgm, "Tiny U-Net PFGM (tests, smoke runs); 16x16x3.",
                    network=("unet", {**UNET["tiny"], "out_channels": 4}), data_shape=(16, 16, 3))
    register_config("pfgm_mnist", _pfgm, "PFGM on 28x28x1 digits: the mnist U-Net (0.69M) with a z channel.",
                    network=("unet", {**UNET["mnist"], "out_channels": 2}), data_shape=(28, 28, 1))
    register_config("pfgm_small", _pfgm, "PFGM with the CPU-sized U-Net (1.6M) and a z channel.",
                    network=("unet", {**UNET["small"], "out_channels": 4}))
    pfgmpp = config_builder(PFGMPlusPlus)
    register_config("pfgmpp_mlp", pfgmpp, "PFGM++ (D = 4) with an MLP for 2-D toy data (sigma_data 1).",
                    network=("mlp", MLP_SIZES["toy"]), data_shape=(2,), sigma_data=1.0, augmented_dims=4)
    register_config("pfgmpp_tiny", pfgmpp, "Tiny U-Net PFGM++ (tests, smoke runs; D = 128); 16x16x3.",
                    network=("unet", UNET["tiny"]), data_shape=(16, 16, 3), augmented_dims=128)
    register_config("pfgmpp_small", pfgmpp, "PFGM++ (D = 2048) with the CPU-sized U-Net (1.6M).",
                    network=("unet", UNET["small"]), augmented_dims=2048)
    register_config("pfgmpp_cifar_cond", pfgmpp,
                    "Class-conditional PFGM++ (D = 2048) with edm_cifar_cond's U-Net (fine-tunes edm-cifar-cond).",
                    network=("unet", {**UNET["cpu_thread"], "num_classes": 10}), label_dropout=0.1,
                    augmented_dims=2048)


_register()
