"""Adversarial family (`zoo.models.gan`): the objectives against their formulas, the
networks through the harness, alternating two-optimizer training (k critic steps per
generator step) equal across backends from fixed weights, save/load/resume with both
optimizers' states, mode coverage of the bundled 25-Gaussians GAN-QP, and Langevin
refinement lowering the critic's energy."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import zoo
from tests.harness import check_layer
from zoo.models.gan import GAN, GANQP, BiGANQP
from zoo.networks.dcgan import DCGANDiscriminator, DCGANGenerator, JointCritic, MLPNetwork
from zoo.objectives import adversarial
from zoo.training import ArrayBatches, train

GRID = np.array([(2.0 * (k % 5) - 4.0, 2.0 * (k // 5) - 4.0) for k in range(25)])


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def mode_coverage(points, radius=0.15, min_share=0.01):
    """(modes holding at least `min_share` of the points within `radius`, share of points within `radius`)."""
    distances = np.linalg.norm(points[:, None, :] - GRID[None], axis=-1)
    nearest, near = distances.argmin(1), distances.min(1) <= radius
    counts = np.bincount(nearest[near], minlength=25)
    return int((counts >= min_share * len(points)).sum()), float(near.mean())


# Objectives ------------------------------------------------------------------------------

def test_quadratic_potential_losses_equal_the_paper_formula():
    real_scores, fake_scores = np.array([[1.0], [2.0]]), np.array([[0.0], [0.0]])
    real, fake = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [2.0, 0.0]])
    # d: L1 mean |x_r - x_f| = [1, 1]; L2 sqrt(mean (x_r - x_f)^2) = [1, 1]; then fakes 2 apart.
    d1 = _np(adversarial.pair_distance(real, fake, "l1"))
    np.testing.assert_allclose(d1, [1.0, 1.0], rtol=1e-6)
    d2 = _np(adversarial.pair_distance(real, np.array([[1.0, 1.0], [1.0, 3.0]]), "l2"))
    np.testing.assert_allclose(d2, [1.0, math.sqrt(2.0)], rtol=1e-6)
    # gap T_r - T_f = [1, 2]: mean(-gap + gap^2 / (2 * 10 * d)).
    loss = _np(adversarial.quadratic_potential_critic_loss(real_scores, fake_scores, d1, lam=10.0))
    np.testing.assert_allclose(loss, np.mean([-1 + 1 / 20, -2 + 4 / 20]), rtol=1e-6)  # -1.375
    loss = _np(adversarial.quadratic_potential_critic_loss(real_scores, fake_scores, d2, lam=10.0))
    np.testing.assert_allclose(loss, np.mean([-1 + 1 / 20, -2 + 4 / (20 * math.sqrt(2))]), rtol=1e-6)
    loss = _np(adversarial.quadratic_potential_critic_loss(real_scores, fake_scores, d1, lam=2.0))
    np.testing.assert_allclose(loss, np.mean([-1 + 1 / 4, -2 + 4 / 4]), rtol=1e-6)
    np.testing.assert_allclose(_np(adversarial.quadratic_potential_generator_loss(real_scores, fake_scores)), 1.5)
    # The critic's optimum over the gap is gap = lambda * d, where the loss is -lambda d / 2.
    d = np.array([0.3, 0.7])
    optimum = _np(adversarial.quadratic_potential_critic_loss((10 * d)[:, None], np.zeros((2, 1)), d))
    np.testing.assert_allclose(optimum, np.mean(-10 * d / 2), rtol=1e-6)
    with pytest.raises(ValueError, match="distance"):
        adversarial.pair_distance(real, fake, "l3")


def test_baseline_losses_equal_their_formulas():
    real, fake = np.array([[0.0], [math.log(3.0)]]), np.array([[0.0], [-math.log(3.0)]])
    np.testing.assert_allclose(_np(adversarial.non_saturating_critic_loss(real, fake)), math.log(8 / 3), rtol=1e-6)
    np.testing.assert_allclose(_np(adversarial.non_saturating_generator_loss(fake)), 1.5 * math.log(2), rtol=1e-6)
    real, fake = np.array([[1.0], [3.0]]), np.array([[-1.0], [0.5]])
    np.testing.assert_allclose(_np(adversarial.wasserstein_critic_loss(real, fake)), -0.25 - 2.0, rtol=1e-6)
    np.testing.assert_allclose(_np(adversarial.wasserstein_generator_loss(fake)), 0.25, rtol=1e-6)
    # f(x) = |x|^2 has gradient 2x: norms [1, 2 sqrt 2] -> mean (norm - 1)^2.
    points = ops.convert_to_tensor(np.array([[0.5, 0.0], [1.0, 1.0]], "float32"))
    penalty = adversarial.gradient_penalty(lambda x: ops.sum(ops.square(x), axis=-1, keepdims=True), points)
    np.testing.assert_allclose(_np(penalty), (2 * math.sqrt(2) - 1) ** 2 / 2, rtol=1e-5)
    np.testing.assert_allclose(_np(adversarial.interpolates(np.ones((2, 2)), np.zeros((2, 2)), np.array([0.25, 1.0]))),
                               [[0.25, 0.25], [1.0, 1.0]])


class _PenaltyOnly(keras.Model):
    def __init__(self):
        super().__init__(name="penalty_only")
        self.critic = keras.layers.Dense(1, use_bias=False)

    def call(self, x, training=False):
        return adversarial.gradient_penalty(self.critic, x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return y_pred


def test_gradient_penalty_trains_the_critic_through_fit():
    # f(x) = w.x: the penalty is (|w| - 1)^2 with gradient 2 (|w| - 1) w / |w|, one SGD step
    # (second order: on PyTorch through `vjp(..., differentiable=True)`).
    model = _PenaltyOnly()
    x = np.ones((4, 2), "float32")
    model(x)
    w = np.array([[1.5], [2.0]], "float32")
    model.critic.set_weights([w])
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    norm = np.linalg.norm(w)
    np.testing.assert_allclose(model.critic.get_weights()[0], w - 0.1 * 2 * (norm - 1) * w / norm, rtol=1e-5)


# Networks -----------------------------------------------------------------------------

def test_networks_pass_the_harness():
    z = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    images = np.random.default_rng(1).uniform(-1, 1, size=(2, 16, 16, 3)).astype("float32")
    check_layer(DCGANGenerator, dict(image_shape=(16, 16, 3), width=8), (z,), (2, 16, 16, 3))
    check_layer(DCGANDiscriminator, dict(width=8), (images,), (2, 1))
    check_layer(JointCritic, dict(width=8, feature_dim=8, hidden=16), (images, z), (2, 1))
    check_layer(MLPNetwork, dict(output_dim=2, hidden=16, depth=2), (z,), (2, 2))
    for shape in ((28, 28, 1), (32, 32, 3)):
        generator = DCGANGenerator(shape, width=8)
        assert tuple(generator(z).shape) == (2, *shape)
        assert tuple(DCGANDiscriminator(8)(generator(z)).shape) == (2, 1)
    with pytest.raises(ValueError, match="even sizes"):
        DCGANGenerator((15, 15, 3))(z)


# Training -----------------------------------------------------------------------------

def _toy_gan(critic_steps=1, objective="qp", seed=0, ema_decay=None):
    with zoo.registry.seeded_initializers(seed):
        return GAN(MLPNetwork(2, hidden=16, depth=2), MLPNetwork(1, hidden=16, depth=2, activation="leaky_relu"),
                   (2,), latent_dim=4, objective=objective, critic_steps=critic_steps, ema_decay=ema_decay,
                   seed=seed)


def _optimizers(lr=1e-2, kind="adam"):
    make = (lambda: keras.optimizers.Adam(lr, beta_1=0.5)) if kind == "adam" else (lambda: keras.optimizers.SGD(lr))
    return {"generator": make(), "discriminator": make()}


def test_critic_steps_update_the_generator_every_kth_step():
    gan = _toy_gan(critic_steps=3)
    gan.compile(optimizer=_optimizers(kind="sgd"))
    data = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    generator, critic = gan.generator.get_weights(), gan.discriminator.get_weights()
    for step in range(1, 7):
        gan.fit(data, batch_size=16, epochs=1, verbose=0, shuffle=False)
        moved = any(not np.allclose(a, b) for a, b in zip(generator, gan.generator.get_weights()))
        assert moved == (step % 3 == 0), step
        assert any(not np.allclose(a, b) for a, b in zip(critic, gan.discriminator.get_weights()))
        generator, critic = gan.generator.get_weights(), gan.discriminator.get_weights()
    assert gan.optimizer.optimizers[0].gradient_accumulation_steps in (3, None)
    with pytest.raises(ValueError, match="one optimizer per network"):
        _toy_gan(critic_steps=2).compile(optimizer="adam")


# Critic and generator losses of six alternating steps (2 critic steps per generator
# step) from the weights and batches of `_fixed_run`, measured on JAX; TensorFlow and
# PyTorch gave the same to 1e-6.
EXPECTED = {
    "qp": [[-1.464875, -3.480101, -0.469909, -0.869717, 2.460761, -0.933781],
           [1.550329, 3.986762, 0.632078, 1.137091, -2.325232, 1.016201]],
    "ns": [[0.893997, 0.71624, 1.034435, 0.90638, 1.4422, 1.262937],
           [1.337587, 1.776195, 0.982067, 1.270571, 0.479802, 0.663256]],
}


def _fixed_run(objective):
    gan = _toy_gan(critic_steps=2, objective=objective)
    rng = np.random.default_rng(0)
    for variable in gan.generator.weights + gan.discriminator.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.5)
    # SGD with momentum, not Adam: Adam's g / (|g| + eps) turns float round-off in the
    # near-zero gradients of dead ReLU units into +-lr steps that differ between backends.
    gan.compile(optimizer={name: keras.optimizers.SGD(0.05, momentum=0.5) for name in ("generator", "discriminator")})
    data = rng.normal(size=(16, 2)).astype("float32") * 0.3 + 1.0
    noise = rng.normal(size=(16, 4)).astype("float32")
    history = gan.fit({"data": data, "noise": noise}, batch_size=16, epochs=6, verbose=0, shuffle=False).history
    return np.array([history["critic_loss"], history["generator_loss"]])


@pytest.mark.parametrize("objective", ["qp", "ns"])
def test_alternating_training_gives_the_same_losses_on_every_backend(objective):
    losses = _fixed_run(objective)
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses, EXPECTED[objective], rtol=2e-4, atol=2e-5)


def test_short_gan_qp_training_moves_samples_onto_the_data():
    gan = _toy_gan(critic_steps=1)
    data = (np.random.default_rng(0).normal(size=(512, 2)) * 0.3 + [2.0, -1.0]).astype("float32")
    start = np.linalg.norm(gan.sample(256, seed=1).mean(0) - [2.0, -1.0])
    gan.compile(optimizer=_optimizers(1e-2))
    distances = []  # of the samples' mean from the data's, after each epoch
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: distances.append(
        np.linalg.norm(gan.sample(256, seed=1).mean(0) - [2.0, -1.0])))
    history = gan.fit(data, batch_size=64, epochs=30, verbose=0, callbacks=[record]).history
    assert np.all(np.isfinite(history["critic_loss"])) and np.all(np.isfinite(history["generator_loss"]))
    # A GAN circles the data rather than settling, so the last epoch alone is a coin toss
    # (0.43 of the start in one JAX run); the closest epoch and the last 10 are not
    # (as tests/test_base.py's two-optimizer GAN).
    relative = np.array(distances) / start
    assert relative.min() < 0.2 and relative[-10:].mean() < 0.6, relative


def test_two_optimizers_save_load_and_resume_exactly(tmp_path):
    data = np.random.default_rng(0).normal(size=(96, 2)).astype("float32")

    def batches():
        return ArrayBatches(data, 16, seed=0, steps_per_epoch=3)  # 3 steps: the resume falls mid-cycle

    straight = train(_toy_gan(critic_steps=2, ema_decay=0.9), batches(), workdir=tmp_path / "a", epochs=4,
                     verbose=0, optimizer=_optimizers())
    first = _toy_gan(critic_steps=2, ema_decay=0.9)
    train(first, batches(), workdir=tmp_path / "b", epochs=1, verbose=0, optimizer=_optimizers())
    again = _toy_gan(critic_steps=2, ema_decay=0.9)  # a new process: fresh model, same workdir
    resumed = train(again, batches(), workdir=tmp_path / "b", epochs=4, verbose=0, optimizer=_optimizers())
    reference = _toy_gan(critic_steps=2, ema_decay=0.9)
    train(reference, batches(), workdir=tmp_path / "c", epochs=4, verbose=0, optimizer=_optimizers())
    for a, b in zip(reference.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Both optimizers' states (moments, accumulated generator gradient, step counts).
    for a, b in zip(reference.optimizer.variables, again.optimizer.variables):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)
    assert float(_np(again.step_count)) == 12.0
    loaded = zoo.load(tmp_path / "b" / "checkpoint")
    assert type(loaded) is GAN and loaded.critic_steps == 2 and loaded.ema is None
    np.testing.assert_allclose(loaded.sample(32, seed=3), resumed.sample(32, seed=3), atol=1e-6)
    np.testing.assert_allclose(loaded.sample(32, seed=3), straight.sample(32, seed=3), atol=1e-5)


def test_wgan_gp_trains_on_every_backend():
    gan = _toy_gan(objective="wgan-gp")
    gan.compile(optimizer=_optimizers())
    before = [np.array(w) for w in gan.discriminator.get_weights()]
    data = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    history = gan.fit(data, batch_size=8, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["critic_loss"]))
    assert not np.allclose(before[0], gan.discriminator.get_weights()[0])


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="objective"):
        _toy_gan(objective="wgan")
    with pytest.raises(ValueError, match="critic_steps"):
        _toy_gan(critic_steps=0)
    gan = _toy_gan()
    with pytest.raises(ValueError, match="langevin_steps"):
        gan.sample(4, langevin_steps=-1)
    with pytest.raises(ValueError, match="step_size"):
        gan.sample(4, langevin_steps=2, step_size=0.0)
    with pytest.raises(ValueError, match="solver"):
        gan.sample(4, solver="euler")
    with pytest.raises(ValueError, match=r"`noise` must have shape \(N, 4\)"):
        gan.sample(noise=np.zeros((3, 2)))


# Bundled 2-D checkpoint: mode coverage, Langevin -----------------------------------------

@pytest.fixture(scope="module")
def grid_gan():
    return zoo.load("gan-qp-gaussian-grid")


def test_bundled_gan_qp_covers_the_25_gaussians(grid_gan):
    samples = grid_gan.sample(2500, seed=0)
    modes, near = mode_coverage(samples)
    assert modes >= 20 and near >= 0.6, (modes, near)  # measured: 23 modes, 0.78
    # An untrained generator (and so a collapsed one) reaches a handful of modes at most.
    untrained = zoo.create("gan_qp_mlp", seed=0).sample(2500, seed=0)
    assert mode_coverage(untrained)[0] <= 4 and mode_coverage(untrained, radius=0.5)[0] <= 6


def test_langevin_lowers_the_energy(grid_gan):
    samples = grid_gan.sample(1000, seed=1)
    before = grid_gan.energy(samples)
    # Gradient flow (temperature 0) and a cool chain; at temperature 1 the noise of 20
    # steps of 1e-3 (0.2 in all) is wider than the modes (0.05) and the mean energy stays put.
    for temperature in (0.0, 0.01):
        refined = grid_gan.sample(1000, seed=1, langevin_steps=20, step_size=1e-3, temperature=temperature)
        after = grid_gan.energy(refined)
        assert after.mean() < before.mean() - 0.1 * before.std(), (temperature, before.mean(), after.mean())
        assert np.mean(after < before) > 0.7, (temperature, np.mean(after < before))
    modes, near = mode_coverage(refined)
    assert modes >= 22 and near >= mode_coverage(samples)[1]
    # Gradient ascent on any critic lowers the energy, step by small step.
    fresh = _toy_gan(seed=3)
    noise = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    energies = [fresh.energy(fresh.sample(noise=noise, langevin_steps=n, step_size=1e-2, temperature=0.0))
                for n in (0, 5)]
    assert np.all(energies[1] <= energies[0] + 1e-6)
    _, nfe = grid_gan.sample(4, seed=0, solver="langevin", steps=3, return_nfe=True)
    assert nfe == 4


# BiGAN-QP -----------------------------------------------------------------------------

def test_bigan_trains_encodes_decodes_and_round_trips(tmp_path):
    model = zoo.create("bigan_qp_tiny", seed=0, critic_steps=2)
    images = np.random.default_rng(0).integers(0, 256, size=(8, 16, 16, 3)).astype("uint8")
    model.compile(optimizer={n: keras.optimizers.Adam(1e-3) for n in ("generator", "encoder", "discriminator")})
    history = model.fit(zoo.datasets.to_model_space(images), batch_size=8, epochs=2, verbose=0).history
    assert set(history) >= {"critic_loss", "generator_loss", "reconstruction_loss"}
    codes = model.encode(images)
    assert codes.shape == (8, model.latent_dim) and np.all(np.isfinite(codes))
    assert model.reconstruct(images).shape == images.shape and model.reconstruct(images).dtype == np.uint8
    assert model.decode(codes).shape == (8, 16, 16, 3)
    path = zoo.save_checkpoint(model, tmp_path / "checkpoint")
    loaded = zoo.load(path)
    assert type(loaded) is BiGANQP
    np.testing.assert_allclose(loaded.encode(images), model.encode(images), atol=1e-5)
    np.testing.assert_allclose(loaded.sample(4, seed=0, raw=True), model.sample(4, seed=0, raw=True), atol=1e-5)
    with pytest.raises(ValueError, match=r"`x` must have shape"):
        model.encode(np.zeros((2, 8, 8, 3), "uint8"))


def test_gan_qp_images_save_and_load(tmp_path):
    model = zoo.create("gan_qp_tiny", seed=0)
    assert isinstance(model, GANQP) and model.objective == "qp"
    model.compile(optimizer=_optimizers(1e-3))
    model.fit(np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype("float32"), batch_size=8, epochs=1,
              verbose=0)
    loaded = zoo.load(zoo.save_checkpoint(model, tmp_path / "checkpoint"))
    np.testing.assert_array_equal(loaded.sample(4, seed=0), model.sample(4, seed=0))
    assert loaded.sample(2, seed=0).dtype == np.uint8
