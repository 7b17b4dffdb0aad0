"""Adversarial family: GAN-QP (Su 2018, arXiv:1811.07296), its bidirectional version
BiGAN-QP, and the non-saturating GAN and WGAN-GP baselines on the same networks; the
critic read as an energy E(x) = -T(x) (Kumar et al. 2019, arXiv:1901.08508) refines
samples by Langevin steps.

No time direction: a generator maps a latent z ~ N(0, I) to data in one step.

Training is the stock `fit`: each step scores a real and a fake batch, the critic's loss
trains the critic (fakes stopped) and the generator's loss reaches the generator through
`frozen_call` (critic weights held). `critic_steps` = k updates the critic every step and
the generator every k-th (its optimizer accumulates the gradient over k steps, of which
only the k-th is non-zero and scaled by k), so each generator step follows k critic steps.
"""

import math

import keras
import numpy as np
from keras import ops

from zoo import random
from zoo.backend import vjp
from zoo.checks import check_positive
from zoo.models.base import Interface, ZooModel
from zoo.networks.dcgan import DCGANDiscriminator, DCGANGenerator, JointCritic, MLPNetwork
from zoo.networks.sizes import DCGAN
from zoo.objectives import adversarial
from zoo.progress import counted
from zoo.registry import register_config

OBJECTIVES = ("qp", "ns", "wgan-gp")
LANGEVIN_STREAM = 0  # `fold_in` word of the Langevin noise (the prior has its own stream)


class _Adversarial(ZooModel):
    """What GANs and BiGANs share: the critic-step counter, per-network optimizers with
    the generator side accumulating over `critic_steps`, and the two losses in `fit`'s logs."""

    critic = "discriminator"

    def build(self, input_shape=None):
        # Made before the networks are built: `fit` logs them, the counter is saved.
        self.critic_loss_tracker = keras.metrics.Mean(name="critic_loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="generator_loss")
        self.step_count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="step_count")
        super().build(input_shape)

    @property
    def noise_shape(self):
        return (self.latent_dim,)

    @property
    def generator_side(self):
        return tuple(name for name in self.network_names if name != self.critic)

    def compile(self, optimizer="rmsprop", **kwargs):
        """`optimizer={"generator": ..., "discriminator": ...}` (BiGAN: and `"encoder"`).
        With `critic_steps` = k > 1 the generator-side optimizers are set to accumulate
        gradients over k steps (`gradient_accumulation_steps`), which must happen before
        they are built."""
        if self.critic_steps > 1:
            if not isinstance(optimizer, dict):
                raise ValueError(f"`critic_steps`={self.critic_steps} needs one optimizer per network: "
                                 f"compile(optimizer={{{', '.join(repr(n) + ': ...' for n in self.network_names)}}}).")
            optimizer = {name: keras.optimizers.get(opt) for name, opt in optimizer.items()}
            for name in self.generator_side:
                opt = optimizer.get(name)
                if opt is None:
                    continue  # the base names the missing network
                if opt.gradient_accumulation_steps not in (None, self.critic_steps) or opt.built:
                    raise ValueError(f"The {name!r} optimizer must be new and without its own "
                                     "`gradient_accumulation_steps`: `critic_steps` sets them.")
                opt.gradient_accumulation_steps = self.critic_steps
        super().compile(optimizer=optimizer, **kwargs)

    def generator_weight(self, training):
        """Weight of the generator-side loss this step: k on every k-th training step, else
        0 (1 throughout when k = 1); advances the step counter while training."""
        # The weight is computed before the counter moves: on PyTorch (in place) and
        # TensorFlow a tensor read from a variable can see a later assignment.
        step = ops.copy(self.step_count.value)
        k = float(self.critic_steps)
        weight = ops.ones(()) if self.critic_steps == 1 else \
            ops.cast(ops.equal(ops.mod(step, k), k - 1.0), "float32") * k
        if training:
            self.step_count.assign(step + 1.0)
        return weight

    def _latents(self, inputs, batch):
        noise = inputs.get("noise") if isinstance(inputs, dict) else None
        if noise is None:
            return keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        return ops.cast(noise, "float32")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return y_pred["critic_loss"] + y_pred["generator_weight"] * y_pred["generator_loss"]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.critic_loss_tracker.update_state(y_pred["critic_loss"])
        self.generator_loss_tracker.update_state(y_pred["generator_loss"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def _generate(self, z, batch_size, key, extra=None):
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "critic_steps": self.critic_steps,
                "ema_decay": self.ema_decay}


def _check_settings(critic_steps, distance, lam):
    if isinstance(critic_steps, bool) or not isinstance(critic_steps, (int, np.integer)) or critic_steps < 1:
        raise ValueError(f"`critic_steps` must be an int >= 1. Received: {critic_steps!r}")
    if distance not in adversarial.DISTANCES:
        raise ValueError(f"`distance` must be one of {adversarial.DISTANCES}. Received: {distance!r}")
    check_positive(lam, "lam")


@keras.saving.register_keras_serializable(package="zoo")
class GAN(_Adversarial):
    """A generator `z -> x` against a critic `x -> score`, trained by one of three
    objectives on the same networks.

    `fit` takes model-space data, or `{"data": ..., "noise": ...}` with the latents
    (fixed latents make a step reproducible across backends).

    Args:
        generator: keras.layers.Layer. `generator(z) -> x`.
        discriminator: keras.layers.Layer. `discriminator(x) -> (batch, 1)` score.
        data_shape: tuple of int.
        latent_dim: int. Width of z ~ N(0, I).
        objective: str. `"qp"` (GAN-QP, Su 2018), `"ns"` (non-saturating GAN,
            Goodfellow et al. 2014) or `"wgan-gp"` (Gulrajani et al. 2017; its penalty
            takes a second-order gradient, on every backend).
        distance: str. GAN-QP's d(x_r, x_f): `"l1"` or `"l2"`, per dimension.
        lam: float. GAN-QP's lambda (10 in the paper's code).
        gradient_penalty_weight: float. WGAN-GP's lambda (10 in the paper).
        critic_steps: int >= 1. Critic updates per generator update.
        ema_decay: float or None. EMA of the generator, used for sampling.
        seed: int or None.

    References:
        Su 2018, arXiv:1811.07296; Goodfellow et al. 2014, arXiv:1406.2661;
        Gulrajani et al. 2017, arXiv:1704.00028; Kumar et al. 2019, arXiv:1901.08508.
    """

    interface = Interface(kind="generative", capabilities={"sample"}, solvers=("generator", "langevin"),
                          image_metrics=("sample_quality",),
                          point_metrics=("nearest_neighbour_distance", "mode_coverage"))

    def __init__(self, generator, discriminator, data_shape, latent_dim=128, objective="qp", distance="l1",
                 lam=10.0, gradient_penalty_weight=10.0, critic_steps=1, ema_decay=0.999, seed=None, **kwargs):
        if objective not in OBJECTIVES:
            raise ValueError(f"`objective` must be one of {OBJECTIVES}. Received: {objective!r}")
        _check_settings(critic_steps, distance, lam)
        self.latent_dim = int(latent_dim)
        self.objective = objective
        self.distance = distance
        self.lam = float(lam)
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.critic_steps = int(critic_steps)
        super().__init__(data_shape, networks={"generator": generator, "discriminator": discriminator},
                         ema_decay=ema_decay, ema_networks=("generator",), seed=seed, **kwargs)

    def example_inputs(self, name):
        return (ops.zeros((1, *(self.noise_shape if name == "generator" else self.data_shape))),)

    # Training -------------------------------------------------------------------------

    def call(self, inputs, training=False):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        self.check_data(data)
        self.update_ema(training)
        weight = self.generator_weight(training)
        batch = ops.shape(data)[0]
        fake = self.generator(self._latents(inputs, batch), training=training)
        stopped = ops.stop_gradient(fake)
        real_scores = self.discriminator(data, training=training)
        fake_scores = self.discriminator(stopped, training=training)
        generated = self.frozen_call("discriminator", fake)
        if self.objective == "qp":
            distance = adversarial.pair_distance(data, stopped, self.distance)
            critic = adversarial.quadratic_potential_critic_loss(real_scores, fake_scores, distance, self.lam)
            generator = adversarial.quadratic_potential_generator_loss(ops.stop_gradient(real_scores), generated)
        elif self.objective == "ns":
            critic = adversarial.non_saturating_critic_loss(real_scores, fake_scores)
            generator = adversarial.non_saturating_generator_loss(generated)
        else:
            alpha = keras.random.uniform((batch,), seed=self.seed_generator)
            points = adversarial.interpolates(data, stopped, alpha)
            penalty = adversarial.gradient_penalty(lambda x: self.discriminator(x, training=training), points)
            critic = adversarial.wasserstein_critic_loss(real_scores, fake_scores) + \
                self.gradient_penalty_weight * penalty
            generator = adversarial.wasserstein_generator_loss(generated)
        return {"critic_loss": critic, "generator_loss": generator, "generator_weight": weight}

    # Inference -------------------------------------------------------------------------

    def scores(self, x):
        """T(x) of the critic, `(batch,)` float32 tensor (model-space x)."""
        return ops.reshape(ops.cast(self.discriminator(x), "float32"), (-1,))

    def energy(self, x, batch_size=256):
        """E(x) = -T(x): the critic read as an energy, `(N,)` NumPy, of model-space `x`."""
        run = self.inference_fn("energy", lambda: lambda x: -self.scores(x))
        return self.run_batched(run, (self.check_array(x),), batch_size)[0]

    def langevin(self, x, noise, steps, step_size, temperature):
        """Unadjusted Langevin on E = -T (Kumar et al. 2019, sec. 3):
        x <- x + step_size * grad T(x) + sqrt(2 step_size temperature) * noise[i] for
        step i, `noise` `(steps, *x.shape)` standard normal (drawn outside: keyed draws
        need static shapes); temperature 0 is plain gradient ascent on T."""
        scale = math.sqrt(2.0 * step_size * temperature)

        def step(i, x):
            scores, pullback = vjp(self.scores, x)
            drift = step_size * pullback(ops.ones_like(scores))
            if scale == 0.0:
                return x + drift
            return x + drift + scale * ops.take(noise, i, axis=0)

        return ops.fori_loop(0, steps, counted(step), x)

    def sample(self, num=None, *, seed=None, noise=None, langevin_steps=0, step_size=0.01, temperature=1.0,
               solver=None, steps=None, batch_size=256, raw=False, return_nfe=False, verbose=False):
        """Draw samples `generator(z)` (its EMA), optionally refined by Langevin steps
        on the critic's energy.

        Args:
            num: int. Number of samples (or give `noise`, the latents `(N, latent_dim)`).
            seed: int or None. Same seed -> same latents and Langevin noise on every backend.
            langevin_steps: int >= 0. Langevin steps on E(x) = -T(x) after the generator.
            step_size: float > 0. Langevin step (model-space units per unit of grad T).
            temperature: float >= 0. Scale of the Langevin noise (0: gradient ascent).
            solver: `"generator"` (no refinement) or `"langevin"` (`steps` Langevin steps,
                default `langevin_steps` or 10), as `zoo eval` names settings.
            raw: bool. Model-space float32 instead of uint8 images.
            return_nfe: bool. Also return the network evaluations per sample
                (1 + Langevin steps).

        Returns:
            uint8 images `(N, H, W, C)` or float32 points `(N, D)`, and the NFE if asked.
        """
        if solver is not None:
            self.check_solver(solver)
            langevin_steps = 0 if solver == "generator" else (steps or langevin_steps or 10)
        if isinstance(langevin_steps, bool) or not isinstance(langevin_steps, (int, np.integer)) or langevin_steps < 0:
            raise ValueError(f"`langevin_steps` must be an int >= 0. Received: {langevin_steps!r}")
        step_size = check_positive(step_size, "step_size")
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"`temperature` must be finite and >= 0. Received: {temperature!r}")
        z = self.initial_noise(num, noise, seed)
        key = random.fold_in(self.sampling_key(seed), LANGEVIN_STREAM)
        langevin_steps, temperature = int(langevin_steps), float(temperature)

        def build():
            def run(z, noise):
                x = ops.cast(counted(self.averaged("generator"))(z), "float32")
                return self.langevin(x, noise, langevin_steps, step_size, temperature) if langevin_steps else x
            return run

        compiled = self.inference_fn(("sample", langevin_steps, step_size, temperature), build)

        def run(z, chunk_key):
            # Step i of example j draws from the chunk's key: the same on every backend.
            noise = random.normal((langevin_steps, len(z), *self.data_shape), chunk_key) \
                if langevin_steps and temperature > 0 else None
            return compiled(z, noise)

        x, _ = self.run_batched(run, (z,), batch_size, chunk_args=lambda i: (random.fold_in(key, i),),
                                verbose=verbose, evaluations=1 + langevin_steps)
        out = self.to_output(x, raw)
        return (out, 1 + langevin_steps) if return_nfe else out

    def get_config(self):
        return {**super().get_config(), "objective": self.objective, "distance": self.distance, "lam": self.lam,
                "gradient_penalty_weight": self.gradient_penalty_weight}


@keras.saving.register_keras_serializable(package="zoo")
class GANQP(GAN):
    """GAN-QP (Su 2018, arXiv:1811.07296): `GAN` with `objective="qp"`; see `GAN`."""

    def __init__(self, generator, discriminator, data_shape, objective="qp", **kwargs):
        super().__init__(generator, discriminator, data_shape, objective=objective, **kwargs)


@keras.saving.register_keras_serializable(package="zoo")
class BiGANQP(_Adversarial):
    """BiGAN-QP: generator `z -> x`, encoder `x -> z` and a joint critic `(x, z) -> score`
    trained with GAN-QP's quadratic potential on pairs (x_r, E(x_r)) against (G(z), z),
    plus the reference code's two reconstruction terms that make E invert G:
    `z_weight * |z - E(G(z))|^2 + x_weight * |x - G(E(x))|^2` (means; the inner network's
    output stopped).

    Args:
        generator: keras.layers.Layer. `generator(z) -> x`.
        encoder: keras.layers.Layer. `encoder(x) -> (batch, latent_dim)`.
        discriminator: keras.layers.Layer. `discriminator(x, z) -> (batch, 1)`.
        data_shape: tuple of int.
        latent_dim: int.
        distance: str. `"l1"` or `"l2"`: d = d(x_r, x_f) + d(z_r, z_f).
        lam: float. GAN-QP's lambda.
        z_weight, x_weight: float. Weights of the two reconstruction terms (2 and 3 in
            the reference code).
        critic_steps: int >= 1. Critic updates per generator/encoder update.
        ema_decay: float or None. EMA of the generator and encoder (sampling, encoding).
        seed: int or None.

    References:
        Su 2018, arXiv:1811.07296 (BiGAN-QP in its reference code, bojone/gan-qp);
        Donahue et al. 2017, arXiv:1605.09782 (BiGAN).
    """

    interface = Interface(kind="generative", capabilities={"sample", "encode", "decode", "reconstruct"},
                          solvers=("generator",), image_metrics=("sample_quality", "latent_reconstruction"))

    def __init__(self, generator, encoder, discriminator, data_shape, latent_dim=128, distance="l1", lam=10.0,
                 z_weight=2.0, x_weight=3.0, critic_steps=1, ema_decay=0.999, seed=None, **kwargs):
        _check_settings(critic_steps, distance, lam)
        self.latent_dim = int(latent_dim)
        self.distance = distance
        self.lam = float(lam)
        self.z_weight = float(z_weight)
        self.x_weight = float(x_weight)
        self.critic_steps = int(critic_steps)
        super().__init__(data_shape, networks={"generator": generator, "encoder": encoder,
                                               "discriminator": discriminator},
                         ema_decay=ema_decay, ema_networks=("generator", "encoder"), seed=seed, **kwargs)

    def build(self, input_shape=None):
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        super().build(input_shape)

    def example_inputs(self, name):
        x, z = ops.zeros((1, *self.data_shape)), ops.zeros((1, self.latent_dim))
        return {"generator": (z,), "encoder": (x,), "discriminator": (x, z)}[name]

    def call(self, inputs, training=False):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        self.check_data(data)
        self.update_ema(training)
        weight = self.generator_weight(training)
        z = self._latents(inputs, ops.shape(data)[0])
        fake, codes = self.generator(z, training=training), self.encoder(data, training=training)
        fake_stopped, codes_stopped = ops.stop_gradient(fake), ops.stop_gradient(codes)
        real_scores = self.discriminator(data, codes_stopped, training=training)
        fake_scores = self.discriminator(fake_stopped, z, training=training)
        distance = (adversarial.pair_distance(data, fake_stopped, self.distance)
                    + adversarial.pair_distance(codes_stopped, z, self.distance))
        critic = adversarial.quadratic_potential_critic_loss(real_scores, fake_scores, distance, self.lam)
        adversary = adversarial.quadratic_potential_generator_loss(
            self.frozen_call("discriminator", data, codes), self.frozen_call("discriminator", fake, z))
        z_cycle = self.encoder(fake_stopped, training=training)
        x_cycle = self.generator(codes_stopped, training=training)
        reconstruction = (self.z_weight * ops.mean(ops.square(z - ops.cast(z_cycle, "float32")))
                          + self.x_weight * ops.mean(ops.square(data - ops.cast(x_cycle, "float32"))))
        return {"critic_loss": critic, "generator_loss": adversary, "reconstruction_loss": reconstruction,
                "generator_weight": weight}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, y, y_pred) + y_pred["generator_weight"] * y_pred["reconstruction_loss"]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.reconstruction_loss_tracker.update_state(y_pred["reconstruction_loss"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    # Inference -------------------------------------------------------------------------

    def _model_space(self, x, name):
        if self.is_image and np.asarray(x).dtype == np.uint8:
            return self.check_array(x.astype("float32") / 127.5 - 1.0, name)
        return self.check_array(x, name)

    def encode(self, x, batch_size=256):
        """Latents `(N, latent_dim)` of data: uint8 images (or model-space floats)."""
        run = self.inference_fn("encode", lambda: lambda x: ops.cast(self.averaged("encoder")(x), "float32"))
        return self.run_batched(run, (self._model_space(x, "x"),), batch_size)[0]

    def decode(self, z, batch_size=256, raw=True):
        """Data of latents `(N, latent_dim)`: model-space float32 (uint8 images with `raw=False`)."""
        z = self.check_array(z, "z", self.noise_shape)
        run = self.inference_fn("decode", lambda: lambda z: ops.cast(self.averaged("generator")(z), "float32"))
        return self.to_output(self.run_batched(run, (z,), batch_size)[0], raw)

    def reconstruct(self, x, batch_size=256, raw=False):
        """`decode(encode(x))`: uint8 images for uint8 input (model-space with `raw`)."""
        return self.decode(self.encode(x, batch_size), batch_size, raw=raw)

    def sample(self, num=None, *, seed=None, noise=None, solver=None, steps=None, batch_size=256, raw=False,
               return_nfe=False, verbose=False):
        """`generator(z)` (its EMA) for z ~ N(0, I) from `seed` (or the latents `noise`)."""
        if solver is not None:
            self.check_solver(solver)
        out = self.decode(self.initial_noise(num, noise, seed), batch_size, raw=raw)
        return (out, 1) if return_nfe else out

    def get_config(self):
        return {**super().get_config(), "distance": self.distance, "lam": self.lam, "z_weight": self.z_weight,
                "x_weight": self.x_weight}


# Named configs ---------------------------------------------------------------------------

def _gan(size, data_shape, objective="qp", **kwargs):
    spec = DCGAN[size]
    if tuple(data_shape) == (2,):
        generator = MLPNetwork(2, hidden=spec["hidden"], depth=spec["depth"], activation="relu")
        discriminator = MLPNetwork(1, hidden=spec["hidden"], depth=spec["depth"], activation="leaky_relu")
    else:
        generator = DCGANGenerator(data_shape, width=spec["width"], kernel_size=spec["kernel_size"])
        discriminator = DCGANDiscriminator(width=spec["width"], kernel_size=spec["kernel_size"])
    cls = GANQP if objective == "qp" else GAN
    return cls(generator, discriminator, data_shape, latent_dim=spec["latent_dim"], objective=objective, **kwargs)


def _bigan(size, data_shape, **kwargs):
    spec = DCGAN[size]
    return BiGANQP(DCGANGenerator(data_shape, width=spec["width"], kernel_size=spec["kernel_size"]),
                   DCGANDiscriminator(width=spec["width"], kernel_size=spec["kernel_size"],
                                      output_dim=spec["latent_dim"]),
                   JointCritic(width=spec["width"], kernel_size=spec["kernel_size"], feature_dim=spec["latent_dim"],
                               hidden=spec["joint_hidden"]),
                   data_shape, latent_dim=spec["latent_dim"], **kwargs)


for _objective, _prefix, _what in (("qp", "gan_qp", "GAN-QP"), ("ns", "ns_gan", "Non-saturating GAN"),
                                   ("wgan-gp", "wgan_gp", "WGAN-GP")):
    register_config(f"{_prefix}_tiny", _gan, f"{_what}, tiny DCGAN pair (tests): 16x16x3, width 8.",
                    size="tiny", data_shape=(16, 16, 3), objective=_objective)
    register_config(f"{_prefix}_small", _gan,
                    f"{_what}, DCGAN pair sized for CPU training: 32x32x3, width 32 (0.43M + 0.17M).",
                    size="small", data_shape=(32, 32, 3), objective=_objective)
    register_config(f"{_prefix}_mlp", _gan, f"{_what}, MLP pair for 2-D toy data (25 Gaussians ...).",
                    size="mlp", data_shape=(2,), objective=_objective)
    register_config(f"{_prefix}_mnist", _gan, f"{_what}, DCGAN pair for 28x28x1 digits: width 32.",
                    size="mnist", data_shape=(28, 28, 1), objective=_objective)
register_config("bigan_qp_tiny", _bigan, "BiGAN-QP, tiny DCGAN networks (tests): 16x16x3.",
                size="tiny", data_shape=(16, 16, 3))
register_config("bigan_qp_mnist", _bigan, "BiGAN-QP for 28x28x1 digits: DCGAN generator/encoder, joint critic.",
                size="mnist", data_shape=(28, 28, 1))
register_config("bigan_qp_small", _bigan, "BiGAN-QP for 32x32x3 images sized for CPU training.",
                size="small", data_shape=(32, 32, 3))
