"""`zoo eval`'s metrics: the IS-style score and coverage against hand values, sampler
settings, and an image evaluation end to end (tiny untrained models, real CIFAR-10
test data) whose FD-classifier must exceed the train-vs-test floor."""

import json

import numpy as np
import pytest

import zoo
from zoo import cli, metrics
from zoo.evaluation import SamplerSetting


def test_classifier_score_and_coverage_hand_values():
    one_hot = np.eye(4)[np.arange(400) % 4]
    # Confident and balanced: exp(KL(onehot || uniform)) = exp(log 4) = 4.
    assert metrics.classifier_score(one_hot)[0] == pytest.approx(4.0, rel=1e-6)
    assert metrics.class_coverage(one_hot) == pytest.approx(1.0)
    # Every sample the same distribution: KL = 0, score 1.
    assert metrics.classifier_score(np.full((100, 4), 0.25))[0] == pytest.approx(1.0)
    # All in one class: coverage 1/classes.
    assert metrics.class_coverage(np.eye(4)[np.zeros(50, int)]) == pytest.approx(0.25)
    # Half in each of two classes: exp(log 2) / 4.
    assert metrics.class_coverage(np.eye(4)[np.arange(50) % 2]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="splits"):
        metrics.classifier_score(one_hot[:5])


def test_sampler_settings_parse():
    assert SamplerSetting.parse("euler:10") == SamplerSetting("euler", 10)
    assert SamplerSetting.parse("rk45@200") == SamplerSetting("rk45", None, 200)
    assert str(SamplerSetting.parse(" heun:4@50 ")) == "heun:4@50"
    guided = SamplerSetting.parse("heun:18+w2.5@400")
    assert guided == SamplerSetting("heun", 18, 400, 2.5) and str(guided) == "heun:18+w2.5@400"
    assert guided.label == "heun 18 w 2.5" and SamplerSetting.parse("heun:18+w0").guidance == 0.0
    for bad in ("euler:0", "euler:x", "rk45@1", "", "heun:18+w", "heun:18+w-1", "heun:18@400+w2"):
        with pytest.raises(ValueError, match="SOLVER|steps must be"):
            SamplerSetting.parse(bad)


@pytest.mark.backends("torch")  # which labels each sample gets; guided sampling per backend: test_guidance.py
def test_conditional_eval_samples_balanced_classes_at_each_guidance_scale():
    network = ("unet", dict(base_channels=8, channel_mults=(1,), num_res_blocks=1, attention_resolutions=(),
                            groups=4, num_classes=10))
    edm = zoo.create("edm_tiny", network=network, data_shape=(32, 32, 3), seed=0, ema_decay=None)
    rng = np.random.default_rng(0)  # off the zero-initialised output layer, so labels matter
    for variable in edm.network.weights:
        variable.assign(variable.numpy() + rng.normal(0, 0.2, variable.shape).astype("float32"))
    classifier = zoo.create("classifier_tiny", data_shape=(32, 32, 3))
    ev, results = zoo.evaluation.evaluate(
        edm, samplers=["heun:1+w0@20", "heun:1@20", "heun:1+w3@20"], num=20, reference_images=20, bpd_images=0,
        feature_network=classifier)
    found = {r.name: r for r in results}
    np.testing.assert_array_equal(ev.labels(SamplerSetting("heun", 1, 20)), np.arange(20) % 10)
    # w = 0 is the unconditional (null-label) denoiser, w = 1 the plain conditional one.
    unconditional = edm.sample(20, solver="heun", steps=1, seed=0, labels=np.full(20, 10))
    conditional = edm.sample(20, solver="heun", steps=1, seed=0, labels=np.arange(20) % 10)
    np.testing.assert_array_equal(ev.samples(SamplerSetting("heun", 1, 20, 0.0))[0], unconditional)
    np.testing.assert_array_equal(ev.samples(SamplerSetting("heun", 1, 20))[0], conditional)
    assert not np.array_equal(unconditional, conditional)
    assert not np.array_equal(ev.samples(SamplerSetting("heun", 1, 20, 3.0))[0], conditional)
    assert "seed 0, the unconditional denoiser" in found["FD-classifier (heun 1 w 0)"].how
    assert "2 per class, the conditional denoiser" in found["FD-classifier (heun 1)"].how
    assert "guidance w = 3: two network evaluations per NFE" in found["FD-classifier (heun 1 w 3)"].how
    # Accuracy against the requested classes, per class; none for unconditional samples.
    assert "class accuracy (heun 1 w 0)" not in found
    accuracy = found["class accuracy (heun 1 w 3)"]
    assert 0.0 <= accuracy.value <= 1.0 and set(accuracy.details) == set(zoo.datasets.class_names("cifar10"))
    assert np.mean(list(accuracy.details.values())) == pytest.approx(accuracy.value)
    flow = zoo.create("rectified_flow_tiny", data_shape=(32, 32, 3), seed=0, ema_decay=None)
    with pytest.raises(ValueError, match="unconditional: drop the"):
        zoo.evaluation.evaluate(flow, samplers=["euler:1+w2"], num=4, bpd_images=0, feature_network=classifier)


@pytest.mark.slow
@pytest.mark.backends("torch")  # NumPy metrics over samples; sampling per backend is the golden files' job
def test_image_eval_end_to_end(capsys, tmp_path):
    flow = zoo.create("rectified_flow_tiny", data_shape=(32, 32, 3), seed=0, ema_decay=None)
    checkpoint = zoo.save_checkpoint(flow, tmp_path / "flow", metadata={"dataset": "cifar10"})
    classifier = zoo.save_checkpoint(zoo.create("classifier_tiny", data_shape=(32, 32, 3)), tmp_path / "clf")
    report_path = tmp_path / "eval.json"
    status = cli.main(["eval", str(checkpoint), "--samplers", "euler:1,euler:2@20", "--num", "30",
                       "--reference-images", "60", "--bpd-images", "2", "--rtol", "1e-2", "--atol", "1e-2",
                       "--straightness-steps", "2", "--feature-network", str(classifier),
                       "--json", str(report_path)])
    assert status == 0
    report = json.loads(report_path.read_text())
    assert report["samplers"] == ["euler:1", "euler:2@20"]
    found = report["metrics"]
    assert {"bits/dim", "FD-classifier (euler 1)", "FD-classifier (euler 2)", "FD-classifier floor (train 30)",
            "FD-classifier floor (train 20)", "classifier score (euler 1)", "class coverage (euler 2)"} <= set(found)
    assert all(np.isfinite(m["value"]) for m in found.values())
    assert "NFE 2" in found["FD-classifier (euler 2)"]["how"]
    # Noise from an untrained flow is farther from the test set than real training images.
    assert found["FD-classifier (euler 1)"]["value"] > 2 * found["FD-classifier floor (train 30)"]["value"]
    shares = found["class coverage (euler 1)"]["details"]
    # Each share is rounded to 4 decimals: ten of them sum to 1 within 5e-4.
    assert set(shares) == set(zoo.datasets.class_names("cifar10")) and sum(shares.values()) == pytest.approx(1, abs=5e-4)


@pytest.mark.backends("torch")  # option handling of `zoo eval`
def test_eval_skips_bits_per_dim_and_straightness_when_asked(capsys, tmp_path):
    flow = zoo.create("rectified_flow_tiny", data_shape=(32, 32, 3), seed=0, ema_decay=None)
    checkpoint = zoo.save_checkpoint(flow, tmp_path / "flow", metadata={"dataset": "cifar10"})
    classifier = zoo.save_checkpoint(zoo.create("classifier_tiny", data_shape=(32, 32, 3)), tmp_path / "clf")
    report_path = tmp_path / "eval.json"
    assert cli.main(["eval", str(checkpoint), "--samplers", "euler:1", "--num", "10", "--reference-images", "10",
                     "--bpd-images", "0", "--straightness-steps", "0", "--feature-network", str(classifier),
                     "--json", str(report_path)]) == 0
    found = json.loads(report_path.read_text())["metrics"]
    assert any(name.startswith("FD-classifier") for name in found)
    assert not {"bits/dim", "straightness"} & set(found)
    with pytest.raises(SystemExit) as exited:
        cli.main(["eval", str(checkpoint), "--bpd-images", "-1"])
    assert exited.value.code == 2
    # --metrics: only the named ones of the family's (no sampling for the likelihood alone).
    assert cli.main(["eval", str(checkpoint), "--metrics", "straightness", "--num", "4", "--straightness-steps",
                     "2", "--json", str(report_path), "--force"]) == 0
    assert set(json.loads(report_path.read_text())["metrics"]) == {"straightness"}
    with pytest.raises(SystemExit) as exited:
        cli.main(["eval", str(checkpoint), "--metrics", "straightness,fid"])
    assert exited.value.code == 2
    assert "bits_per_dim, straightness, sample_quality" in capsys.readouterr().err


def test_classifier_eval_reports_accuracy(capsys, tmp_path):
    classifier = zoo.save_checkpoint(zoo.create("classifier_tiny", data_shape=(32, 32, 3)), tmp_path / "clf",
                                     metadata={"dataset": "cifar10"})
    ev_report = tmp_path / "eval.json"
    assert cli.main(["eval", str(classifier), "--json", str(ev_report)]) == 0
    accuracy = json.loads(ev_report.read_text())["metrics"]["test accuracy"]
    assert 0.0 <= accuracy["value"] <= 1.0 and "10000 cifar10 test images" in accuracy["how"]


def test_noisy_classifier_eval_says_where_its_metrics_come_from():
    with pytest.raises(ValueError, match="guidance_moons"):
        zoo.evaluation.evaluate(zoo.create("noisy_classifier_mlp", num_classes=2))


class _SpyFeatures:
    """A feature network that records the images it is shown."""

    def __init__(self):
        self.seen = []

    def features(self, images):
        self.seen.append(np.asarray(images))
        return np.asarray(images, np.float32).reshape(len(images), -1)[:, :8]

    def logits(self, images):
        return np.zeros((len(images), 10), np.float32)


@pytest.mark.backends("torch")  # which pixels reach the feature network; NumPy around one tiny sampler
def test_binarized_sets_reach_the_feature_network_as_black_and_white_images():
    vae = zoo.create("vae_tiny", data_shape=(28, 28, 1), seed=0)
    vae.checkpoint_metadata = {"dataset": "binarized_mnist"}
    assert zoo.evaluation.FEATURE_NETWORKS["binarized_mnist"] == "classifier-mnist"
    spy = _SpyFeatures()
    ev = zoo.evaluation.Evaluation(vae, samplers=["ancestral:1@12"], num=12, reference_images=12, bpd_images=0,
                                   feature_network=spy)
    setting = ev.samplers[0]
    for kind in ("test", "train", "samples"):
        ev.classified(kind, setting)
    test, train, samples = spy.seen
    # The {0, 1} data are shown as 0 / 255, like the models' binary samples.
    binary = zoo.datasets.load("binarized_mnist", "test", num=12)[0]
    assert set(np.unique(binary)) == {0, 1}
    np.testing.assert_array_equal(test, binary * 255)
    np.testing.assert_array_equal(train, zoo.datasets.load("binarized_mnist", "train", num=12)[0] * 255)
    assert test.dtype == samples.dtype == np.uint8 and set(np.unique(samples)) <= {0, 255}
    np.testing.assert_array_equal(samples, vae.sample(12, seed=0))
    coverage = {r.name: r for r in zoo.evaluation.sample_quality(ev)}["class coverage"]
    assert list(coverage.details) == [str(d) for d in range(10)]  # MNIST's classes


@pytest.mark.backends("torch")  # NumPy around one tiny prior; its sampler per backend: test_autoregressive.py
def test_code_prior_eval_measures_decoded_images_and_test_codes(tmp_path):
    autoencoder = zoo.create("fsq_tiny", data_shape=(32, 32, 3), seed=0)
    autoencoder.reconstruct(np.zeros((1, 32, 32, 3), np.uint8))
    path = zoo.save_checkpoint(autoencoder, tmp_path / "autoencoder")
    grid = autoencoder.code_grid_shape
    prior = zoo.create("code_prior_tiny", data_shape=grid, num_codes=autoencoder.num_codes, autoencoder=str(path),
                       seed=0)
    prior.checkpoint_metadata = {"dataset": "cifar10"}
    assert prior.sample_shape == (32, 32, 3) and prior.data_shape == grid
    classifier = zoo.create("classifier_tiny", data_shape=(32, 32, 3))
    ev, results = zoo.evaluation.evaluate(prior, samplers=["ancestral:1@10"], num=10, reference_images=10,
                                          bpd_images=5, feature_network=classifier)
    found = {r.name: r for r in results}
    codes = autoencoder.encode(zoo.datasets.load("cifar10", "test", num=5)[0])
    nats = -prior.log_prob(codes)
    assert found["code NLL (nats per grid)"].value == pytest.approx(nats.mean(), rel=1e-5)
    assert found["bits per code"].value == pytest.approx(nats.mean() / (np.prod(grid) * np.log(2)), rel=1e-5)
    np.testing.assert_array_equal(ev.samples(ev.samplers[0])[0], prior.sample(10, seed=0))
    assert found["FD-classifier"].value > 0 and "FD-classifier floor (train 10)" in found
    bare = zoo.create("code_prior_tiny", data_shape=grid, num_codes=autoencoder.num_codes, seed=0)
    with pytest.raises(ValueError, match="set `autoencoder`"):
        zoo.evaluation.evaluate(bare, samplers=["ancestral:1"], num=2)
