"""`zoo eval`: the measured numbers of a checkpoint, each with how it was measured.

Each metric is a function `(Evaluation) -> [Result, ...]`, registered by name in
`METRICS`; a family declares the names it is measured by in its `interface`
(`zoo.models.Interface`), so a new metric is one function and one name. Samples are
drawn once per sampler setting and shared by the metrics that need them.

Sample quality on images is measured in the features of the zoo's own classifier
(`classifier-cifar` for CIFAR-10, `classifier-mnist` for MNIST): "FD-classifier" is the Frechet distance of FID
computed in those features, so it is NOT comparable with the Inception FIDs of papers;
`zoo.metrics.frechet_distance` takes any features for users who have Inception.
"""

import dataclasses
import functools
import math

import keras
import numpy as np

from zoo import datasets, metrics, pretrained, probe, registry
from zoo.dependence import hsic_per_feature
from zoo.pretrained import load
from zoo.samplers.settings import SamplerSetting

__all__ = ["METRICS", "Evaluation", "Result", "SamplerSetting", "evaluate", "report"]

DEFAULT_DATASETS = {(32, 32, 3): "cifar10", (28, 28, 1): "mnist", (2,): "moons"}
FEATURE_NETWORKS = {"cifar10": "classifier-cifar", "mnist": "classifier-mnist", "binarized_mnist": "classifier-mnist"}
# Sets of {0, 1} pixels: their images and the models' samples are shown to the feature
# network as black-and-white uint8 images (0 / 255), so both sides are binarized alike.
BINARY_DATASETS = ("binarized_mnist",)
# A paired set's targets: whose test images and feature network translations are judged by.
PAIRED_TARGETS = {"cifar10_edges": "cifar10", "moons_rotated": None}
REFERENCE_SEED = 12_345  # a toy paired set's reference draw, apart from the translated test sources


@dataclasses.dataclass
class Result:
    name: str
    value: float
    stderr: float | None = None
    how: str = ""
    details: dict | None = None


def mean_and_stderr(values):
    values = np.asarray(values, "float64")
    stderr = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return float(values.mean()), stderr


def mean_nearest_neighbour_distance(a, b, chunk=1024):
    """Mean Euclidean distance from each row of `a` to its nearest row of `b`."""
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    nearest = [np.sqrt(((a[i:i + chunk, None, :] - b[None]) ** 2).sum(-1).min(1))
               for i in range(0, len(a), chunk)]
    return float(np.concatenate(nearest).mean())


class Evaluation:
    """What the metrics share: the model, the options, and the data, samples and
    classifier features, each loaded, drawn or computed once.

    Args:
        model: a loaded zoo model.
        samplers: sequence of `SamplerSetting` (or strings such as "euler:10").
        num: int. Samples per setting (unless the setting says `@NUM`).
        seed: int. Sampling and dequantization seed.
        bpd_images: int. Test images for bits/dim (0: skip it).
        straightness_steps: int. Euler steps of the paths whose straightness is
            measured (0: skip it).
        test_points: int. 2-D models: test points for likelihood and distances.
        reference_images: int. Test images in the FD-classifier reference set.
        rtol, atol: float. RK45 tolerances of likelihood ODEs.
        feature_network: a classifier (model, name or path) for FD-classifier, or None
            for the dataset's default in `FEATURE_NETWORKS`.
        verbose: bool. Progress bars while sampling.
    """

    def __init__(self, model, *, samplers=("euler:50",), num=1000, seed=0, bpd_images=100,
                 straightness_steps=100, test_points=2000, reference_images=10_000, rtol=1e-5,
                 atol=1e-5, feature_network=None, verbose=False):
        self.model = model
        self.samplers = [s if isinstance(s, SamplerSetting) else SamplerSetting.parse(s) for s in samplers]
        if not self.samplers:
            raise ValueError("`samplers` is empty: give at least one setting such as 'euler:50'.")
        self.num, self.seed, self.bpd_images = num, seed, bpd_images
        self.straightness_steps, self.test_points = straightness_steps, test_points
        self.reference_images, self.rtol, self.atol = reference_images, rtol, atol
        self._feature_network, self.verbose = feature_network, verbose

    @functools.cached_property
    def dataset(self):
        metadata = getattr(self.model, "checkpoint_metadata", None) or {}
        name = metadata.get("dataset") or DEFAULT_DATASETS.get(self.model.data_shape)
        if name is None:
            raise ValueError(f"The checkpoint's metadata names no dataset and there is no default for "
                             f"data of shape {self.model.data_shape}; add \"dataset\" to its metadata.json.")
        return name

    @property
    def target_dataset(self):
        """The dataset of the model's outputs: a paired set's targets, else `dataset`."""
        return PAIRED_TARGETS.get(self.dataset, self.dataset)

    def pairs(self, num, split="test", seed=None):
        """`(sources, targets)` of a bridge's paired set: the first `num` of `split` (toy
        sets: drawn with `seed`, default the split's)."""
        return datasets.load_pairs(self.dataset, split, num=num, seed=seed)

    def data(self, num, split="test"):
        data, labels = datasets.load(self.target_dataset, split, num=num)
        if data.shape[1:] != self.model.sample_shape:
            raise ValueError(f"The {self.dataset!r} {split} set has examples of shape {data.shape[1:]}, "
                             f"but the model works on {self.model.sample_shape}.")
        return data, labels

    def test_data(self, num):
        return self.data(num)[0]

    @functools.cached_property
    def num_classes(self):
        """Classes of a class-conditional model, else None."""
        return self.model.num_classes

    def labels(self, setting):
        """The requested classes of a conditional model's samples: every class equally
        often (0, 1, ..., C-1, 0, ...); None for an unconditional model."""
        if self.num_classes is None:
            if setting.guidance is not None:
                raise ValueError(f"Sampler setting {setting} has a guidance scale, but the model is "
                                 "unconditional: drop the '+w...' part.")
            return None
        return np.arange(setting.num or self.num) % self.num_classes

    @functools.cache  # noqa: B019 (one Evaluation per `zoo eval` run)
    def samples(self, setting):
        """`(samples, nfe)` drawn once per setting."""
        num = setting.num or self.num
        options = {"solver": setting.solver, "seed": self.seed, "return_nfe": True, "verbose": self.verbose}
        if setting.steps is not None:
            options["steps"] = setting.steps
        labels = self.labels(setting)
        if labels is not None:
            options.update(labels=labels, guidance=1.0 if setting.guidance is None else setting.guidance)
        if self.model.interface.can("source"):  # a bridge translates the first `num` test sources
            options["source"] = self.pairs(num)[0]
        samples, nfe = self.model.sample(num, **options)
        return np.asarray(samples), int(nfe)

    def describe(self, setting):
        samples, nfe = self.samples(setting)
        text = f"{len(samples)} samples, {setting.label} (NFE {nfe}), seed {self.seed}"
        if self.model.interface.can("source"):
            text = (f"translations of the first {len(samples)} {self.dataset} test sources, {setting.label} "
                    f"(NFE {nfe}), seed {self.seed}")
        if self.num_classes is None:
            return text
        guidance = 1.0 if setting.guidance is None else setting.guidance
        if guidance == 0.0:  # the labels are not used
            return f"{text}, the unconditional denoiser (null label)"
        how = ("the conditional denoiser" if guidance == 1.0 else
               f"classifier-free guidance w = {guidance:g}: two network evaluations per NFE")
        return f"{text}, {len(samples) // self.num_classes} per class, {how}"

    @property
    def tolerances(self):
        return {"rtol": self.rtol, "atol": self.atol}

    @property
    def ode(self):
        return f"RK45 (rtol {self.rtol:g}, atol {self.atol:g})"

    @functools.cached_property
    def feature_network(self):
        """The classifier whose features define FD-classifier, or None if the dataset has none."""
        network = self._feature_network or FEATURE_NETWORKS.get(self.target_dataset)
        if network is None or not isinstance(network, str):
            return network
        return load(network)

    @functools.cached_property
    def feature_network_name(self):
        """How the metric descriptions name the feature network: its checkpoint name or
        directory, else its class."""
        network = self._feature_network or FEATURE_NETWORKS.get(self.target_dataset)
        if isinstance(network, str):
            return network
        directory = getattr(network, "checkpoint_dir", None)
        return directory.name if directory is not None else f"a {type(network).__name__}"

    @functools.cache  # noqa: B019
    def classified(self, kind, setting=None):
        """`(features, probabilities)` of the test set (`"test"`), the training set
        (`"train"`, the floor) or a sampler setting's samples (`"samples"`)."""
        if kind == "samples":
            images = self.samples(setting)[0]
        else:
            count = self.reference_images if kind == "test" else self._sample_count(setting)
            images = self.data(count, kind)[0]
        if self.target_dataset in BINARY_DATASETS:
            images = np.where(np.asarray(images) > 0, 255, 0).astype(np.uint8)
        net = self.feature_network
        return net.features(images), metrics.softmax(net.logits(images))

    def _sample_count(self, setting):
        return (setting.num if setting is not None and setting.num else None) or self.num


# Metrics ------------------------------------------------------------------------------


def bits_per_dim(ev):
    if not ev.bpd_images:  # 0: skipped (a one-step distilled flow has no meaningful ODE)
        return []
    images = ev.test_data(ev.bpd_images)
    bpd = ev.model.bits_per_dim(images, seed=ev.seed, **ev.tolerances)
    mean, stderr = mean_and_stderr(bpd)
    method = ev.model.likelihood_method
    if ev.model.interface.likelihood == "ode":
        method += f"; rtol {ev.rtol:g}, atol {ev.atol:g}"
    return [Result("bits/dim", mean, stderr, f"first {len(images)} {ev.dataset} test images (seed {ev.seed}); {method}")]


def straightness(ev):
    if not ev.model.interface.can("straightness") or not ev.straightness_steps:
        return []
    batch = 256
    noise = ev.model.initial_noise(ev.num, None, ev.seed)
    # In batches: one call holds `num` trajectories' activations at once.
    # Its own step count: the sampler's may be 1, where S is 0 by construction.
    parts = [ev.model.straightness(noise=noise[i:i + batch], steps=ev.straightness_steps)
             * len(noise[i:i + batch])
             for i in range(0, len(noise), batch)]
    return [Result("straightness", sum(parts) / len(noise), None,
                   f"Liu et al. eq. 8 per dimension, {ev.num} Euler paths of {ev.straightness_steps} steps")]


def log_likelihood(ev):
    points = ev.test_data(ev.test_points)
    mean, stderr = mean_and_stderr(ev.model.log_prob(points, **ev.tolerances))
    method = {"exact": "change of variables (exact)", "ode": f"exact divergence, {ev.ode}"}.get(
        ev.model.interface.likelihood, ev.model.likelihood_method)
    return [Result("log-likelihood (nats)", mean, stderr, f"{len(points)} {ev.dataset} test points, {method}")]


def nearest_neighbour_distance(ev):
    points = ev.test_data(ev.test_points)
    results = []
    for setting in ev.samplers:
        samples = ev.samples(setting)[0]
        to_data = mean_nearest_neighbour_distance(samples, points)
        to_samples = mean_nearest_neighbour_distance(points, samples)
        how = (f"mean Euclidean distance to the nearest neighbour; {ev.describe(setting)}; "
               f"{len(points)} test points")
        suffix = _suffix(ev, setting)
        results += [Result(f"NN distance sample->data{suffix}", to_data, None, how),
                    Result(f"NN distance data->sample{suffix}", to_samples, None, how),
                    Result(f"NN distance (symmetric){suffix}", (to_data + to_samples) / 2, None, how)]
    return results


def sample_quality(ev):
    """FD-classifier, the IS-style score and class coverage of samples at each
    setting, with the training set's FD to the test set as the floor."""
    if ev.feature_network is None:
        return []
    test_features, test_probabilities = ev.classified("test")
    names = datasets.class_names(ev.dataset)
    reference = f"{len(test_features)} {ev.dataset} test images"
    results = []
    floors = {}
    for setting in ev.samplers:
        count = ev._sample_count(setting)
        if count not in floors:
            train_features, _ = ev.classified("train", setting)
            floors[count] = metrics.frechet_distance(train_features, test_features)
            results.append(Result(f"FD-classifier floor (train {count})", floors[count], None,
                                  f"first {count} {ev.dataset} training images vs {reference}, "
                                  f"in {ev.feature_network_name} features: the best a model can score with as many "
                                  "samples"))
        features, probabilities = ev.classified("samples", setting)
        suffix = _suffix(ev, setting)
        how = f"{ev.describe(setting)}; in {ev.feature_network_name} penultimate features"
        results.append(Result(f"FD-classifier{suffix}", metrics.frechet_distance(features, test_features),
                              None, f"{how} vs {reference} (not an Inception FID)"))
        score, spread = metrics.classifier_score(probabilities)
        results.append(Result(f"classifier score{suffix}", score, spread,
                              f"{how}: exp E KL(p(y|x) || p(y)) over 10 splits (IS formula, "
                              f"{ev.feature_network_name} not Inception); the test set scores "
                              f"{metrics.classifier_score(test_probabilities)[0]:.2f}"))
        shares = np.bincount(probabilities.argmax(-1), minlength=len(names)) / len(probabilities)
        results.append(Result(f"class coverage{suffix}", metrics.class_coverage(probabilities), None,
                              f"{how}: exp(entropy of the predicted-class histogram) / classes; "
                              "1 = every class equally often",
                              details={name: round(float(s), 4) for name, s in zip(names, shares)}))
        labels = ev.labels(setting)
        if labels is not None and setting.guidance != 0.0:
            hits = probabilities.argmax(-1) == labels
            results.append(Result(f"class accuracy{suffix}", float(hits.mean()),
                                  float(math.sqrt(hits.mean() * (1 - hits.mean()) / len(hits))),
                                  f"{how}: share of samples that {ev.feature_network_name} assigns to the requested "
                                  "class (real test images score its top-1 accuracy)",
                                  details={name: round(float(hits[labels == c].mean()), 4)
                                           for c, name in enumerate(names)}))
    return results


def classifier_accuracy(ev):
    """Classifiers: top-1 accuracy and expected calibration error on the test set."""
    images, labels = ev.data(None)
    probabilities = metrics.softmax(ev.model.logits(images).astype(np.float64))
    accuracy = float(np.mean(probabilities.argmax(-1) == labels))
    return [Result("test accuracy", accuracy, math.sqrt(accuracy * (1 - accuracy) / len(labels)),
                   f"top-1 on all {len(labels)} {ev.dataset} test images"),
            Result("expected calibration error", metrics.expected_calibration_error(probabilities, labels), None,
                   f"ECE, 15 equal-width confidence bins, on all {len(labels)} {ev.dataset} test images "
                   "(0 = calibrated; over-confidence raises it)")]


def linear_probe(ev):
    """Encoders: top-1 test accuracy of a linear classifier on frozen `embed` features
    (`zoo.probe`), beside the same architecture at random initialization (the floor)."""
    (train, train_labels), (test, test_labels) = ev.data(ev.num, "train"), ev.data(ev.reference_images)
    with registry.seeded_initializers(ev.seed):
        untrained = type(ev.model).from_config(ev.model.get_config())
    accuracy, floor = (probe.linear_probe(m.embed(train), train_labels, m.embed(test), test_labels, seed=ev.seed)
                       for m in (ev.model, untrained))
    ceiling = FEATURE_NETWORKS.get(ev.dataset)
    ceiling = (f"; the supervised {ceiling} scores {pretrained.get_entry(ceiling)['metrics']['test_accuracy']['value']}"
               if ceiling in pretrained.list_models() else "")
    how = (f"top-1 on {len(test)} {ev.dataset} test images of a softmax regression (Adam, 30 epochs, `fit`) on "
           f"frozen standardized `embed` features of the first {len(train)} training images")
    stderr = math.sqrt(accuracy * (1 - accuracy) / len(test))
    return [Result("linear probe accuracy", accuracy, stderr, how + ceiling),
            Result("linear probe floor (random encoder)", floor, math.sqrt(floor * (1 - floor) / len(test)),
                   f"{how}, of the same architecture at random initialization (seed {ev.seed})")]


def label_dependence(ev):
    """Encoders: HSIC between `embed` features and the one-hot class label, with
    permutation tests, for the whole embedding and per feature."""
    images, labels = ev.data(min(ev.reference_images, 1000))
    features, one_hot = ev.model.embed(images), np.eye(int(labels.max()) + 1)[labels]
    test = metrics.hsic_test(features, one_hot, permutations=199, seed=ev.seed)
    statistics, p_values = hsic_per_feature(features[:500], one_hot[:500], seed=ev.seed)
    top = np.argsort(-statistics)[:8]
    with registry.seeded_initializers(ev.seed):
        untrained = type(ev.model).from_config(ev.model.get_config())
    floor = metrics.hsic(untrained.embed(images), one_hot)
    kernels = "biased HSIC (Gretton et al. 2005), Gaussian kernels with the median heuristic, label one-hot"
    return [Result("HSIC(features, label)", test.statistic, None,
                   f"{kernels}; first {len(images)} {ev.dataset} test images; permutation p = {test.p_value:.3g} "
                   f"({test.permutations} permutations, null mean {test.null_mean:.2e})"),
            Result("HSIC(features, label) of a random encoder", floor, None,
                   f"the same, for the architecture at random initialization (seed {ev.seed})"),
            Result("features dependent on the label", float(np.mean(p_values < 0.01)), None,
                   f"share of the {len(statistics)} features whose own {kernels} with the label has permutation "
                   f"p < 0.01 (199 permutations, first 500 test images); largest: "
                   + ", ".join(f"feature {i} ({statistics[i]:.2e})" for i in top[:3]),
                   details={f"feature {i}": round(float(statistics[i]), 5) for i in top})]


def negative_log_likelihood(ev):
    """Exact discrete likelihoods (autoregressive families): -log p(x) in nats per test
    image, and the same in bits/dim, from one pass."""
    if not ev.bpd_images:
        return []
    images = ev.test_data(ev.bpd_images)
    nats = -np.asarray(ev.model.log_prob(images), "float64")
    how = f"first {len(images)} {ev.dataset} test images; {ev.model.likelihood_method}"
    mean, stderr = mean_and_stderr(nats)
    bpd_mean, bpd_stderr = mean_and_stderr(nats / (math.prod(ev.model.data_shape) * math.log(2.0)))
    return [Result("NLL (nats)", mean, stderr, how), Result("bits/dim", bpd_mean, bpd_stderr, how)]


def code_likelihood(ev):
    """A code prior's exact likelihood of the test images' code grids (encoded by its
    autoencoder): nats per grid and bits per code."""
    if not ev.bpd_images:
        return []
    images = ev.test_data(ev.bpd_images)
    nats = -np.asarray(ev.model.log_prob(ev.model.autoencoder_model().encode(images)), "float64")
    how = (f"code grids {ev.model.data_shape} of the first {len(images)} {ev.dataset} test images, encoded by "
           f"{ev.model.autoencoder}; exact (chain rule over {ev.model.num_dims} codes); log2 "
           f"{ev.model.num_codes} = {math.log2(ev.model.num_codes):.2f} bits per code is the uniform prior")
    mean, stderr = mean_and_stderr(nats)
    bits_mean, bits_stderr = mean_and_stderr(nats / (ev.model.num_dims * math.log(2.0)))
    return [Result("code NLL (nats per grid)", mean, stderr, how), Result("bits per code", bits_mean, bits_stderr, how)]


def variational_bound(ev):
    """Latent-variable models: the negative ELBO and the IWAE bound on -log p(x)
    (Burda et al. 2016) in nats per test example, from the same k posterior draws."""
    if not ev.bpd_images:
        return []
    images = ev.test_data(ev.bpd_images)
    k = ev.model.eval_samples
    bounds = ev.model.image_bounds(images, k=k, seed=ev.seed)
    how = f"first {len(images)} {ev.dataset} test images (seed {ev.seed}); {ev.model.likelihood_method}"
    return [Result("negative ELBO (nats)", *mean_and_stderr(-bounds["elbo"]),
                   f"{how}; the mean of {k} single-draw ELBO estimates per image"),
            Result(f"NLL bound, IWAE k={k} (nats)", *mean_and_stderr(-bounds["iwae"]),
                   f"{how}; k = {k} importance samples per image: an upper bound on -log p(x)")]


def reconstruction(ev):
    """Autoencoders with integer codes: PSNR of the reconstructions, their FD-classifier
    against the same test images, and the codebook's usage and perplexity on them (2-D
    points: the mean squared distance of a point to its code's point instead of PSNR)."""
    if not ev.model.is_image:
        return _point_reconstruction(ev)
    images = ev.test_data(ev.reference_images)
    codes = ev.model.encode(images)
    reconstructions = ev.model.decode(codes)
    mean, stderr = mean_and_stderr(metrics.psnr(images, reconstructions))
    count = f"{len(images)} {ev.dataset} test images"
    grid = f"{codes.shape[1]}x{codes.shape[2]} code grids"
    usage, perplexity = ev.model.code_statistics(codes)
    results = [Result("PSNR (dB)", mean, stderr, f"mean over the first {count} of 10 log10(255^2 / MSE) per image, "
                                                 "uint8 reconstructions (decode(encode(x)))"),
               Result("codebook usage", usage, None, f"share of the {ev.model.num_codes} codes used at least once "
                                                     f"in the {grid} of the first {count}"),
               Result("codebook perplexity", perplexity, None, f"exp(entropy of the code histogram) over the {grid} "
                                                               f"of the first {count} (at most {ev.model.num_codes})")]
    if ev.feature_network is not None:
        test_features, _ = ev.classified("test")
        features = ev.feature_network.features(reconstructions)
        results.append(Result("FD-classifier (reconstructions)", metrics.frechet_distance(features, test_features),
                              None, f"reconstructions of the first {count} vs those images, in "
                                    f"{ev.feature_network_name} penultimate features (0: indistinguishable; "
                                    "not an Inception FID)"))
    return results


def _point_reconstruction(ev):
    points = ev.test_data(ev.test_points)
    codes = ev.model.encode(points)
    error = np.sum((points - ev.model.decode(codes)) ** 2, axis=-1)
    count = f"{len(points)} {ev.dataset} test points"
    usage, perplexity = ev.model.code_statistics(codes)
    return [Result("reconstruction MSE", *mean_and_stderr(error),
                   f"squared Euclidean distance of each point to decode(encode(point)), mean over {count}"),
            Result("codebook usage", usage, None, f"share of the {ev.model.num_codes} codes used by the {count}"),
            Result("codebook perplexity", perplexity, None,
                   f"exp(entropy of the code histogram) of the {count} (at most {ev.model.num_codes})")]


def latent_reconstruction(ev):
    """Encoders with continuous latents (BiGAN): MSE and PSNR of decode(encode(x)) on test
    images, and the reconstructions' FD-classifier against those images."""
    images = ev.test_data(ev.reference_images)
    reconstructions = ev.model.reconstruct(images)
    count = f"the first {len(images)} {ev.dataset} test images"
    error = ((images.astype("float64") - reconstructions.astype("float64")) / 127.5) ** 2
    mse = error.reshape(len(images), -1).mean(1)
    results = [Result("reconstruction MSE", *mean_and_stderr(mse),
                      f"per-pixel squared error in [-1, 1] units of uint8 decode(encode(x)), mean over {count}"),
               Result("PSNR (dB)", *mean_and_stderr(metrics.psnr(images, reconstructions)),
                      f"mean over {count} of 10 log10(255^2 / MSE) per image")]
    if ev.feature_network is not None:
        test_features, _ = ev.classified("test")
        features = ev.feature_network.features(reconstructions)
        results.append(Result("FD-classifier (reconstructions)", metrics.frechet_distance(features, test_features),
                              None, f"reconstructions of {count} vs those images, in {ev.feature_network_name} "
                                    "penultimate features (not an Inception FID)"))
    return results


GAUSSIAN_GRID = [(2.0 * (k % 5) - 4.0, 2.0 * (k // 5) - 4.0) for k in range(25)]


def mode_coverage(ev):
    """Mode collapse on the 25-Gaussians grid (std 0.05): modes holding >= 1% of the samples
    within 3 std, and the share of samples within 3 std of a mode."""
    if ev.dataset != "gaussian_grid":
        return []
    results = []
    for setting in ev.samplers:
        modes, share = metrics.mode_coverage(ev.samples(setting)[0], GAUSSIAN_GRID, radius=0.15)
        how = f"{ev.describe(setting)}; within 0.15 (3 std) of one of the 25 centres"
        suffix = _suffix(ev, setting)
        results += [Result(f"modes covered{suffix}", modes, None, f"{how}, modes with >= 1% of the samples"),
                    Result(f"high-quality share{suffix}", share, None, how)]
    return results


def translation_quality(ev):
    """Diffusion bridges, per sampler setting. Images: FD-classifier of the translations
    of test sources against the test images (floor: as many training images), PSNR to
    each source's own target, and how often the feature network gives a translation
    its target's class. Points: the energy distance between the joint (source,
    translation) pairs and the test pairs (floor: as many training pairs)."""
    results = []
    for setting in ev.samplers:
        translations, _ = ev.samples(setting)
        sources, targets = ev.pairs(len(translations))
        suffix, how = _suffix(ev, setting), ev.describe(setting)
        if not ev.model.is_image:
            # The reference is a fresh draw: it must not share the translated sources.
            reference = np.concatenate(ev.pairs(ev.test_points, seed=REFERENCE_SEED), axis=1)
            joint = np.concatenate([sources, translations], axis=1)
            floor_pairs = np.concatenate(ev.pairs(len(translations), "train"), axis=1)
            floor = f"joint energy distance floor (train {len(floor_pairs)})"
            if not any(r.name == floor for r in results):
                results.append(Result(floor, metrics.energy_distance(floor_pairs, reference), None,
                                      f"the first {len(floor_pairs)} training pairs vs {len(reference)} fresh test "
                                      f"pairs (seed {REFERENCE_SEED}): what a perfect model scores with as many "
                                      "translations"))
            results.append(Result(f"joint energy distance{suffix}", metrics.energy_distance(joint, reference), None,
                                  f"{how}: energy distance between the (source, translation) pairs and "
                                  f"{len(reference)} fresh (source, target) pairs (seed {REFERENCE_SEED})"))
            continue
        results.append(Result(f"PSNR to the target (dB){suffix}", *mean_and_stderr(metrics.psnr(targets, translations)),
                              f"{how}: 10 log10(255^2 / MSE) per image against the source's own target image "
                              "(one plausible target of many: sharper translations can score lower)"))
        if ev.feature_network is None:
            continue
        test_features, _ = ev.classified("test")
        if not any(r.name.startswith("FD-classifier floor") for r in results):
            train_features, _ = ev.classified("train", setting)
            results.append(Result(f"FD-classifier floor (train {len(translations)})",
                                  metrics.frechet_distance(train_features, test_features), None,
                                  f"first {len(translations)} {ev.target_dataset} training images vs "
                                  f"{len(test_features)} test images in {ev.feature_network_name} features"))
        features, probabilities = ev.classified("samples", setting)
        results.append(Result(f"FD-classifier{suffix}", metrics.frechet_distance(features, test_features), None,
                              f"{how}; in {ev.feature_network_name} penultimate features vs {len(test_features)} "
                              f"{ev.target_dataset} test images (not an Inception FID)"))
        labels = ev.data(len(translations))[1]
        ceiling = f"class kept ceiling ({len(translations)} targets)"
        if not any(r.name == ceiling for r in results):
            right = ev.feature_network.logits(targets).argmax(-1) == labels
            results.append(Result(ceiling, float(right.mean()), None,
                                  f"{ev.feature_network_name}'s accuracy on the true targets of those sources: "
                                  "what a perfect translator scores"))
        hits = probabilities.argmax(-1) == labels
        results.append(Result(f"class kept{suffix}", float(hits.mean()),
                              float(math.sqrt(hits.mean() * (1 - hits.mean()) / len(hits))),
                              f"{how}: share of translations that {ev.feature_network_name} assigns to their "
                              "target's class"))
    return results


def _suffix(ev, setting):
    return f" ({setting.label})" if len(ev.samplers) > 1 else ""


METRICS = {metric.__name__: metric for metric in (bits_per_dim, straightness, log_likelihood,
                                                    nearest_neighbour_distance, sample_quality, classifier_accuracy,
                                                    linear_probe, label_dependence, negative_log_likelihood,
                                                    variational_bound)}
METRICS[reconstruction.__name__] = reconstruction  # quantized autoencoders
METRICS.update(latent_reconstruction=latent_reconstruction, mode_coverage=mode_coverage)  # GANs
METRICS[translation_quality.__name__] = translation_quality  # diffusion bridges
METRICS[code_likelihood.__name__] = code_likelihood  # code priors


def evaluate(model, metrics=None, **options):
    """Run the metrics the model's family declares for its data (`interface.metrics_for`),
    or the subset of them named in `metrics` (e.g. only the likelihood of a model whose
    sampling is slow); returns `(Evaluation, [Result])`."""
    names = model.interface.metrics_for(model.sample_shape)
    if not names:
        raise ValueError(model.interface.no_metrics
                         or f"No `zoo eval` metrics for a {type(model).__name__} on data of shape {model.data_shape} "
                            "yet.")
    if metrics is not None:
        unknown = [name for name in metrics if name not in names]
        if unknown or not metrics:
            raise ValueError(f"`metrics` {list(metrics)} must name some of the metrics a {type(model).__name__} "
                             f"declares for its data: {', '.join(names)}.")
        names = [name for name in names if name in metrics]
    ev = Evaluation(model, **options)
    return ev, [result for name in names for result in METRICS[name](ev)]


def report(name, ev, results):
    """The JSON-ready report of one evaluation."""
    return {"model": name, "dataset": ev.dataset, "backend": keras.backend.backend(),
            "samplers": [str(s) for s in ev.samplers],
            "metrics": {r.name: {"value": r.value, "stderr": r.stderr, "how": r.how,
                                 **({"details": r.details} if r.details else {})} for r in results}}
