"""The training toolkit (issue 19): the optimizer factory around `keras.optimizers.Lion`
(its update rule step for step, Lion's rules in the conversions, exact resumption of its
momentum, EMA and mixed precision), mixup, the TaiLr loss and expected calibration error."""

import json

import keras
import numpy as np
import pytest
from keras import ops

import zoo
from zoo import hub, metrics
from zoo.backend import vjp
from zoo.datasets import mixup
from zoo.objectives.classification import cross_entropy, tailr_weights
from zoo.optimizers import LION_RATIO, LION_WARMUP_STEPS, OptimizerSettings, describe, optimizer, resolve
from zoo.training import ArrayBatches, train

# Lion ----------------------------------------------------------------------------------


def test_lion_steps_follow_the_update_rule_through_the_factory():
    """Three steps on a hand example against the paper's rule (Chen et al. 2023, Alg. 2):
    u = sign(b1 m + (1 - b1) g), theta -= lr (u + wd theta), m = b2 m + (1 - b2) g."""
    lr, wd, (b1, b2) = 0.1, 0.5, (0.9, 0.99)
    opt = optimizer("lion", lr, weight_decay=wd, warmup_steps=0)
    assert isinstance(opt, keras.optimizers.Lion) and (opt.beta_1, opt.beta_2) == (b1, b2)
    theta0 = np.array([1.0, -2.0, 0.5, 3.0], dtype="float32")
    variable = keras.Variable(theta0, name="w")
    grads = np.array([[0.3, -0.1, 0.0, 2.0], [-0.5, -0.2, 0.4, 0.1], [0.05, 0.3, -0.2, -1.0]], dtype="float32")
    theta, m = theta0.astype("float64"), np.zeros(4)
    for g in grads:
        opt.apply_gradients([(ops.convert_to_tensor(g), variable)])
        u = np.sign(b1 * m + (1 - b1) * g)
        theta = theta - lr * (u + wd * theta)
        m = b2 * m + (1 - b2) * g
        np.testing.assert_allclose(ops.convert_to_numpy(variable), theta, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(opt.variables[-1]), m, rtol=1e-6, atol=1e-7)
    # The same step with a warm-up: the rate is step / warmup * lr.
    warm = optimizer("lion", lr, warmup_steps=4)
    variable = keras.Variable(theta0, name="w")
    warm.apply_gradients([(ops.convert_to_tensor(grads[0]), variable)])
    np.testing.assert_allclose(ops.convert_to_numpy(variable), theta0 - 0.0 * np.sign(grads[0]), atol=1e-7)
    warm.apply_gradients([(ops.convert_to_tensor(grads[0]), variable)])
    np.testing.assert_allclose(ops.convert_to_numpy(variable), theta0 - lr / 4 * np.sign(grads[0]), atol=1e-6)


def test_no_weight_decay_on_norms_and_biases():
    opt = optimizer("lion", 0.1, weight_decay=1.0, warmup_steps=0)
    kernel, bias = keras.Variable(np.ones(3, "float32"), name="kernel"), keras.Variable(np.ones(3, "float32"),
                                                                                        name="bias")
    zero = ops.zeros(3)
    opt.apply_gradients([(zero, kernel), (zero, bias)])
    np.testing.assert_allclose(ops.convert_to_numpy(kernel), 0.9, rtol=1e-6)  # decayed only: sign(0) = 0
    np.testing.assert_allclose(ops.convert_to_numpy(bias), 1.0)


def test_settings_convert_by_lions_rule_and_back():
    adamw = OptimizerSettings("adamw", 3e-4, weight_decay=0.01, warmup_steps=100, clipnorm=1.0, beta_1=0.5)
    lion = adamw.switch("lion")
    assert lion.name == "lion" and lion.learning_rate == pytest.approx(3e-4 / LION_RATIO)
    assert lion.weight_decay == pytest.approx(0.01 * LION_RATIO)
    assert lion.learning_rate * lion.weight_decay == pytest.approx(adamw.learning_rate * adamw.weight_decay)
    assert lion.warmup == LION_WARMUP_STEPS and lion.clipnorm == 1.0 and lion.beta_1 is None
    assert (lion.build().beta_1, lion.build().beta_2) == (0.9, 0.99)
    back = lion.switch("adamw")
    assert back.learning_rate == pytest.approx(3e-4) and back.weight_decay == pytest.approx(0.01)
    assert OptimizerSettings("lion", 1e-4).warmup == LION_WARMUP_STEPS  # Lion's default warm-up
    assert OptimizerSettings("adam", 1e-4).warmup == 0
    assert isinstance(OptimizerSettings("adam", 1e-3).build(), keras.optimizers.Adam)
    assert OptimizerSettings("adamw", 1e-3).build().weight_decay == 0.0  # not Keras's hidden 0.004
    with pytest.raises(ValueError, match=r"No rule converts sgd settings to lion.*--learning-rate"):
        OptimizerSettings("sgd", 0.1).switch("lion")
    with pytest.raises(ValueError, match="Unknown optimizer 'loin'.*Did you mean 'lion'"):
        OptimizerSettings("loin")
    with pytest.raises(ValueError, match="`learning_rate` must be positive"):
        OptimizerSettings("lion", 0.0)


def test_resolve_takes_names_overrides_and_stated_settings():
    adam = OptimizerSettings("adam", 2e-4, warmup_steps=1000, clipnorm=1.0)
    assert resolve(adam) is adam and resolve(adam, "adam") == adam
    assert resolve(adam, "lion") == adam.switch("lion")
    assert resolve(adam, {"name": "lion", "learning_rate": 1e-5}).learning_rate == 1e-5
    assert resolve(adam, {"warmup_steps": 10}) == adam.replace(warmup_steps=10)
    stated = {"sgd": OptimizerSettings("sgd", 0.1), "lion": OptimizerSettings("lion", 5e-4, weight_decay=0.2)}
    assert resolve(stated, None).name == "sgd" and resolve(stated, "lion").learning_rate == 5e-4
    assert resolve(stated, {"name": "adamw", "learning_rate": 1e-3}).name == "adamw"
    with pytest.raises(ValueError, match="No rule converts sgd"):
        resolve(stated, "adamw")
    with pytest.raises(ValueError, match="Unknown optimizer setting.*learning_rat\\b"):
        resolve(adam, {"learning_rat": 1e-3})


def _moons_batches():
    return ArrayBatches(zoo.datasets.load("moons", num=200)[0], 50, seed=0, steps_per_epoch=2)


def test_lion_resumes_its_momentum_exactly_and_refuses_another_optimizers_state(tmp_path):
    settings = OptimizerSettings("lion", 3e-3, weight_decay=0.1, warmup_steps=3)

    def model():
        return zoo.create("rectified_flow_mlp", seed=0, ema_decay=0.9)

    straight = model()
    train(straight, _moons_batches(), workdir=tmp_path / "a", epochs=4, verbose=0, optimizer=settings)
    train(model(), _moons_batches(), workdir=tmp_path / "b", epochs=2, verbose=0, optimizer=settings)
    resumed = model()  # a new process: a fresh model on the same workdir
    train(resumed, _moons_batches(), workdir=tmp_path / "b", epochs=4, verbose=0, optimizer=settings)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):  # networks and EMA shadows
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    momenta = [v for v in straight.optimizer.variables if "momentum" in v.path]
    assert momenta and len(momenta) == len(straight.trainable_variables)  # one moment per weight
    for a, b in zip(momenta, [v for v in resumed.optimizer.variables if "momentum" in v.path]):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-6, atol=1e-8)
    assert int(ops.convert_to_numpy(resumed.optimizer.iterations)) == 8
    metadata = json.loads((tmp_path / "b" / "checkpoint" / "metadata.json").read_text())
    assert metadata["training"]["optimizer"] == settings.to_dict()
    with pytest.raises(ValueError, match=r"optimizer lion, not adam.*--resume-from"):
        train(model(), _moons_batches(), workdir=tmp_path / "b", epochs=6, verbose=0,
              optimizer=OptimizerSettings("adam", 1e-3))


def test_lion_with_ema_under_mixed_bfloat16(rng):
    # The MLP flow: bfloat16 layers, float32 EMA and optimizer state, as the U-Net's under
    # test_rectified_flow.py::test_mixed_bfloat16_trains_and_samples.
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        model = zoo.create("rectified_flow_mlp", seed=0, ema_decay=0.5)
        model.compile(optimizer=optimizer("lion", 1e-3, weight_decay=0.1, warmup_steps=2))
        data = rng.normal(size=(16, 2)).astype("float32")
        before = [np.array(w) for w in model.network.get_weights()]
        loss = model.fit(data, batch_size=8, epochs=2, verbose=0).history["loss"]
        assert np.all(np.isfinite(loss))
        after, shadow = model.network.get_weights(), model.averaged("network").get_weights()
        assert shadow[0].dtype == np.float32 and not np.allclose(before[0], after[0])
        assert not np.allclose(shadow[0], after[0])  # the EMA follows, a step behind
        assert model.network.compute_dtype == "bfloat16" and all(
            v.dtype == "float32" for v in model.optimizer.variables if "momentum" in v.path)
        samples = model.sample(noise=rng.normal(size=(2, 2)).astype("float32"), steps=2)
        assert np.all(np.isfinite(samples))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


# mixup ---------------------------------------------------------------------------------


def test_mixup_follows_the_formula_and_vanishes_as_alpha_goes_to_zero():
    data = np.arange(24, dtype="float32").reshape(4, 6)
    labels = np.eye(3, dtype="float32")[[0, 1, 2, 1]]
    mixed, soft, lam, perm = mixup(data, labels, 0.4, np.random.default_rng(7))
    draw = np.random.default_rng(7)
    expected_lam = draw.beta(0.4, 0.4)
    expected_lam, expected_perm = max(expected_lam, 1 - expected_lam), draw.permutation(4)
    assert lam == pytest.approx(expected_lam, rel=1e-6) and np.array_equal(perm, expected_perm)
    np.testing.assert_allclose(mixed, lam * data + (1 - lam) * data[perm], rtol=1e-6)
    np.testing.assert_allclose(soft, lam * labels + (1 - lam) * labels[perm], rtol=1e-6)
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-6)
    near_identity, same_labels, lam, _ = mixup(data, labels, 1e-4, np.random.default_rng(7))
    assert lam > 0.999
    np.testing.assert_allclose(near_identity, data, atol=0.03)
    np.testing.assert_allclose(same_labels, labels, atol=1e-3)
    with pytest.raises(ValueError, match="alpha"):
        mixup(data, labels, 0.0, np.random.default_rng(0))


def test_mixup_batches_are_deterministic_soft_labelled_and_train_a_classifier():
    images = np.random.default_rng(0).integers(0, 256, size=(32, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(32) % 10
    batches = ArrayBatches(images, 8, labels=labels, mixup=0.2, seed=3)
    (batch,), (again,) = batches[1], ArrayBatches(images, 8, labels=labels, mixup=0.2, seed=3)[1]
    assert batch["labels"].shape == (8, 10) and batch["labels"].dtype == np.float32
    np.testing.assert_allclose(batch["labels"].sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(batch["data"], again["data"])
    model = zoo.create("classifier_tiny")
    model.compile(optimizer=optimizer("adamw", 1e-3))
    assert np.isfinite(model.fit(batches, epochs=1, verbose=0).history["loss"][0])
    with pytest.raises(ValueError, match="mixup mixes labels too"):
        ArrayBatches(images, 8, mixup=0.2)


# TaiLr and calibration ------------------------------------------------------------------


def test_tailr_at_gamma_zero_is_cross_entropy():
    logits = ops.convert_to_tensor(np.random.default_rng(0).normal(size=(6, 4)).astype("float32"))
    labels = ops.convert_to_tensor(np.array([0, 1, 2, 3, 0, 1]))
    plain = float(ops.convert_to_numpy(cross_entropy(logits, labels, 4)))
    assert float(ops.convert_to_numpy(cross_entropy(logits, labels, 4, tailr_gamma=0.0))) == pytest.approx(plain)
    log_probs = ops.convert_to_numpy(ops.log_softmax(logits))
    assert plain == pytest.approx(-log_probs[np.arange(6), ops.convert_to_numpy(labels)].mean(), rel=1e-5)


def test_tailr_damps_the_gradient_of_unlikely_labels():
    """Per example, the TaiLr gradient is the cross-entropy gradient times
    w = p / (gamma + (1 - gamma) p) (stopped); w <= 1 and w <= p / gamma, so an example
    the model finds unlikely (a noisy label, p small) pulls far less than under CE."""
    logits = np.array([[4.0, 0.0, 0.0], [4.0, 0.0, 0.0]], dtype="float32")
    labels = np.array([0, 1])  # likely (p = 0.96) and unlikely (p = 0.018)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p = (p / p.sum(-1, keepdims=True))[np.arange(2), labels]
    for gamma in (0.1, 0.5, 1.0):
        def loss_rows(x, gamma=gamma):
            return ops.stack([cross_entropy(x[i:i + 1], ops.convert_to_tensor(labels[i:i + 1]), 3,
                                            tailr_gamma=gamma) for i in range(2)])

        def ce_rows(x):
            return ops.stack([cross_entropy(x[i:i + 1], ops.convert_to_tensor(labels[i:i + 1]), 3)
                              for i in range(2)])

        x = ops.convert_to_tensor(logits)
        _, pull_tailr = vjp(loss_rows, x)
        _, pull_ce = vjp(ce_rows, x)
        for i in range(2):
            row = np.eye(2, dtype="float32")[i]
            g_tailr = ops.convert_to_numpy(pull_tailr(ops.convert_to_tensor(row)))[i]
            g_ce = ops.convert_to_numpy(pull_ce(ops.convert_to_tensor(row)))[i]
            w = p[i] / (gamma + (1 - gamma) * p[i])
            np.testing.assert_allclose(g_tailr, w * g_ce, rtol=1e-4, atol=1e-7)
            assert w <= 1.0 and w <= p[i] / gamma + 1e-7
        weights = ops.convert_to_numpy(tailr_weights(x, ops.one_hot(labels, 3), gamma))
        np.testing.assert_allclose(weights, p / (gamma + (1 - gamma) * p), rtol=1e-5)
        assert weights[1] < 0.2 * weights[0]  # the unlikely label is damped relative to the likely one


def test_classifier_takes_tailr_gamma_and_round_trips_it():
    model = zoo.create("classifier_tiny", tailr_gamma=0.3)
    assert type(model).from_config(model.get_config()).tailr_gamma == 0.3
    with pytest.raises(ValueError, match=r"`tailr_gamma` must be in \[0, 1\]"):
        zoo.create("classifier_tiny", tailr_gamma=1.5)


def test_expected_calibration_error_on_a_hand_example():
    # Two bins used: confidence 0.9 (4 examples, 2 right) and 0.6 (2 examples, both right).
    probabilities = np.array([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2)
    labels = np.array([0, 0, 1, 1, 1, 1])
    expected = 4 / 6 * abs(0.5 - 0.9) + 2 / 6 * abs(1.0 - 0.6)
    assert metrics.expected_calibration_error(probabilities, labels, bins=10) == pytest.approx(expected)
    calibrated = np.array([[0.75, 0.25]] * 4)
    assert metrics.expected_calibration_error(calibrated, np.array([0, 0, 0, 1])) == pytest.approx(0.0)


def test_the_card_states_the_optimizer_the_run_recorded():
    settings = OptimizerSettings("adam", 2e-4, warmup_steps=1000, clipnorm=1.0).switch("lion")
    text = describe({"generator": settings.to_dict(), "discriminator": settings.to_dict()})
    assert text == ("Lion (lr 6.67e-05, betas 0.9/0.99, 1,000-step linear warm-up, then constant, clipnorm 1), "
                    "one each for the generator and the discriminator")
    card = hub.render_model_card("toy", {"family": "ImageClassifier", "sampler": None,
                                         "training": {"optimizer": settings.describe()}})
    assert f"| optimizer | {settings.describe()} |" in card
    assert "| optimizer |" not in hub.render_model_card("toy", {"family": "ImageClassifier", "sampler": None})
    bundled = [zoo.pretrained.get_entry(name)["training"].get("optimizer") for name in zoo.list_models()]
    assert all(bundled), "every bundled checkpoint's card names its optimizer"
