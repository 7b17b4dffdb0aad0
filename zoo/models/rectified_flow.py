"""Rectified flow (Liu, Gong & Liu, "Flow Straight and Fast", ICLR 2023, arXiv:2209.03003).

Time direction: t=0 is noise N(0, I), t=1 is data. The network predicts the velocity
dx/dt on the straight path x_t = t * data + (1 - t) * noise. Reflow retrains on
(noise, sample) pairs of a trained flow (k-RF); one-step distillation trains only t=0.
"""

import keras
import numpy as np
from keras import ops

from zoo import metrics
from zoo.likelihood import ProbabilityFlowLikelihood, standard_normal_log_prob
from zoo.checks import check_batch_size, check_positive
from zoo.models.base import Interface, ZooModel
from zoo.networks.sizes import MLP_SIZES, UNET, backbone
from zoo.objectives.flow_matching import straight_path, velocity_loss
from zoo.registry import register_config
from zoo.progress import counted
from zoo.samplers.diffusion import flow_denoiser, sample_dpmpp_2m
from zoo.samplers.ode import sample_euler, sample_heun, sample_rk45
from zoo.schedules import TIME_DISTRIBUTIONS, check_steps, karras_sigmas, sample_training_times, uniform_times

# DPM-Solver++(2M) runs on x_t = t data + (1 - t) noise (alpha = t) over EDM's Karras grid of
# sigma = (1 - t) / t, whose first level, sigma_max, stands for t = 0: the flow starts from pure
# noise, and that first step is exactly Euler's.
SIGMA_GRID = {"sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0}


def _dpmpp_2m(velocity, x, steps, t_start, t_end):
    t = np.append(0.0, 1.0 / (1.0 + karras_sigmas(steps, **SIGMA_GRID)[1:].astype("float64")))
    return sample_dpmpp_2m(flow_denoiser(velocity), x, 1.0 - t, alphas=t)


# The fixed-step solvers as data: solver -> (run(velocity, x, steps, t_start, t_end), NFE per step).
SOLVERS = {
    "euler": (lambda velocity, x, steps, t0, t1: sample_euler(velocity, x, uniform_times(steps, t0, t1)), 1),
    "heun": (lambda velocity, x, steps, t0, t1: sample_heun(velocity, x, uniform_times(steps, t0, t1)), 2),
    "dpmpp-2m": (_dpmpp_2m, 1),  # noise to data only
}

@keras.saving.register_keras_serializable(package="zoo")
class RectifiedFlow(ProbabilityFlowLikelihood, ZooModel):
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

    interface = Interface(
        kind="generative",
        capabilities={"sample", "log_prob", "bits_per_dim", "encode", "decode", "labels", "straightness"},
        likelihood="ode", solvers=("euler", "heun", "dpmpp-2m", "rk45"),
        image_metrics=("bits_per_dim", "straightness", "sample_quality"),
        point_metrics=("log_likelihood", "nearest_neighbour_distance", "straightness"))

    def __init__(self, network, data_shape, time_distribution="uniform", ema_decay=0.999,
                 seed=None, **kwargs):
        if time_distribution not in TIME_DISTRIBUTIONS:
            raise ValueError(f"`time_distribution` must be one of {TIME_DISTRIBUTIONS}. "
                             f"Received: {time_distribution!r}")
        self.time_distribution = time_distribution
        super().__init__(data_shape, networks={"network": network}, ema_decay=ema_decay, seed=seed, **kwargs)

    def example_inputs(self, name):
        return ops.zeros((1, *self.data_shape)), ops.zeros((1,))

    # Training -------------------------------------------------------------------------

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            data, labels, noise = inputs["data"], inputs.get("labels"), inputs.get("noise")
        else:
            data, labels, noise = inputs, None, None
        self.check_data(data)
        self.update_ema(training)
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
        return ops.cast(self.averaged("network")(x, t, labels), "float32")

    def probability_flow(self, labels):
        return (lambda x, t: self.velocity(x, t, labels)), 1.0, 0.0, standard_normal_log_prob

    def _integrate(self, x, labels, solver, steps, rtol, atol, t_start, t_end, batch_size, verbose):
        self.check_solver(solver)
        steps = check_steps(steps) if solver != "rk45" else None
        rtol, atol = check_positive(rtol, "rtol"), check_positive(atol, "atol")
        batch_size = check_batch_size(batch_size)

        def build():
            def run(x, labels):
                @counted
                def velocity(x, t):
                    return self.velocity(x, t, labels)

                if solver == "rk45":
                    return sample_rk45(velocity, x, t_start, t_end, rtol=rtol, atol=atol)
                method, evaluations = SOLVERS[solver]
                return method(velocity, x, steps, t_start, t_end), ops.convert_to_tensor(steps * evaluations)
            return run

        run = self.inference_fn(("ode", solver, steps, rtol, atol, t_start, t_end), build)
        evaluations = None if solver == "rk45" else steps * SOLVERS[solver][1]
        return self.run_batched(run, (x, labels), batch_size, verbose=verbose, evaluations=evaluations)

    def sample(self, num=None, *, steps=50, solver="euler", seed=None, noise=None, labels=None,
               batch_size=256, rtol=1e-5, atol=1e-5, raw=False, return_nfe=False, verbose=False):
        """Draw samples by integrating the flow from noise (t=0) to data (t=1).

        Args:
            num: int. Number of samples (or give `noise`).
            steps: int >= 1. Steps of the fixed-step solvers.
            solver: str. `"euler"`, `"heun"`, `"dpmpp-2m"` (DPM-Solver++(2M) on the flow
                as a denoiser: second order at one evaluation per step, on a Karras grid)
                or `"rk45"` (adaptive; `rtol`, `atol`).
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
        reconstructs x up to the solver's error (`"euler"`, `"heun"` or `"rk45"`)."""
        if solver == "dpmpp-2m":
            raise ValueError("solver='dpmpp-2m' only integrates noise to data (sample, decode); "
                             "encode with 'euler', 'heun' or 'rk45'.")
        x = self.check_array(x)
        labels = self.check_labels(labels, len(x))
        return self._integrate(x, labels, solver, steps, rtol, atol, 1.0, 0.0, batch_size, False)[0]

    def decode(self, noise, *, steps=50, solver="euler", labels=None, batch_size=256, rtol=1e-5, atol=1e-5):
        """Integrate noise to model-space data (t=0 -> t=1): `sample(noise=..., raw=True)`."""
        return self.sample(noise=noise, steps=steps, solver=solver, labels=labels, batch_size=batch_size,
                           rtol=rtol, atol=atol, raw=True)

    def bits_per_dim(self, images, *, seed=0, exact=False, labels=None, batch_size=64, rtol=1e-5, atol=1e-5):
        """Bits/dim of uint8 images through the probability-flow ODE: uniform
        dequantization with `seed`, mapped to [-1, 1], the rescaling's log-det counted.
        An upper bound on the discrete model's bits/dim.

        Returns:
            `(N,)` bits/dim per image; papers report the mean.
        """
        return self.ode_bits_per_dim(images, seed=seed, exact=exact, labels=labels, batch_size=batch_size,
                                     rtol=rtol, atol=atol)

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
        return {**super().get_config(), "time_distribution": self.time_distribution, "ema_decay": self.ema_decay}


# Named configs ---------------------------------------------------------------------------

def _rectified_flow(network, data_shape=(32, 32, 3), **kwargs):
    return RectifiedFlow(backbone(network), data_shape, **kwargs)


register_config("rectified_flow_tiny", _rectified_flow, "Tiny U-Net (tests, smoke runs); 16x16x3 default.",
                network=("unet", UNET["tiny"]), data_shape=(16, 16, 3))
register_config("rectified_flow_small", _rectified_flow,
                "U-Net sized for CPU training (CIFAR-10 / MNIST): 32 channels, mults 1-2-2, 2 blocks (1.6M).",
                network=("unet", UNET["small"]))
register_config("rectified_flow_mnist", _rectified_flow,
                "U-Net for 28x28x1 digits trained on 2 CPU cores: 16 channels, mults 1-2-4, 1 block (0.69M).",
                network=("unet", UNET["mnist"]), data_shape=(28, 28, 1))
# Trained on a lent GPU, sampled on CPUs: a 64-image grid at 20 Euler steps stays under
# a minute on 2 cores.
register_config("rectified_flow_medium", _rectified_flow,
                "U-Net for CIFAR-10 trained on one GPU, sampled on CPUs: 48 channels, mults 1-2-2, 2 blocks (3.6M).",
                network=("unet", UNET["medium"]))
register_config("rectified_flow_base", _rectified_flow,
                "DDPM++-size U-Net for CIFAR-10 on a GPU: 128 channels, mults 1-2-2-2, 2 blocks (~36M).",
                network=("unet", UNET["base"]))
register_config("rectified_flow_mlp", _rectified_flow, "MLP for 2-D toy data (moons, 8 Gaussians ...).",
                network=("mlp", MLP_SIZES["toy"]), data_shape=(2,))
