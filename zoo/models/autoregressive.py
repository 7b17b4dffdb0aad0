"""Autoregressive models: NADE (Larochelle & Murray 2011), MADE (Germain et al. 2015,
arXiv:1502.03509), PixelCNN and gated PixelCNN (van den Oord et al. 2016,
arXiv:1601.06759, arXiv:1606.05328) and a PixelCNN prior over the integer code grids of
a quantized autoencoder.

Order: p(x) = prod_i p(x_i | x_<i), positions in raster order (rows, then columns, then
R -> G -> B inside a pixel), or one of MADE's orderings. No time variable: sampling
draws position after position, one network pass each (D passes; NADE carries its
hidden pre-activation and needs O(H) per position), all inside one compiled
`ops.fori_loop` with the noise of step i keyed by `zoo.random.fold_in(key, i)`, so that
a seed gives the same samples on every backend.

Data (`values` of the head, `zoo.objectives.autoregressive`): binary images in {0, 1}
(uint8 images of 0/1 or 0/255 in, uint8 0/255 out), 8-bit images (model space
[-1, 1], as every zoo family) or integer codes. Likelihoods are exact and discrete: nats
per example from `log_prob`; `bits_per_dim` divides by D ln 2 (no dequantization, so
8-bit numbers compare with the papers' discrete bits/dim).
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from zoo import datasets, random
from zoo.checks import check_batch_size, check_positive
from zoo.models.base import Interface, ZooModel
from zoo.networks.autoregressive import MADENetwork, NADENetwork, PixelCNNNetwork
from zoo.objectives.autoregressive import HEADS, VALUES, draw, log_likelihood, params_per_value
from zoo.progress import bar, counted
from zoo.registry import register_config


def sample_autoregressive(params_fn, x, order, key, head, values, temperature=1.0, start=0):
    """Ancestral sampling: for step i = start..D-1, one pass `params_fn(x) -> (N, D, P)`,
    then x[:, order[i]] ~ p(. | params) with the key `fold_in(key, i)`. `x (N, D)` holds
    the known values at the first `start` positions of `order`."""
    num_dims = int(ops.shape(x)[1])
    order = ops.convert_to_tensor(np.asarray(order, "int32"))
    positions = ops.arange(num_dims, dtype="int32")[None, :]

    def step(i, x):
        position = ops.take(order, i)
        params = ops.take(params_fn(x), position, axis=1)
        value = draw(head, params, random.fold_in(key, i), values, temperature)
        return ops.where(positions == position, value[:, None], x)

    return ops.fori_loop(start, num_dims, counted(step), x)


class Autoregressive(ZooModel):
    """What NADE, MADE and PixelCNN share: an exact discrete likelihood by the chain rule
    and ancestral sampling. `call(x)` returns `log_prob` per example; `compute_loss` its
    negative mean, in nats (binary data, codes) or bits/dim (8-bit images).

    Args:
        network: the backbone (`zoo.networks.autoregressive`).
        data_shape: tuple of int. `(h, w, c)` images, `(d,)` vectors or `(h, w)` codes.
        head: str. `"bernoulli"`, `"categorical"` or `"logistic_mixture"`.
        values: str. `"binary"`, `"pixels"` (8-bit) or `"codes"`.
        dynamic_binarization: bool. Training batches are grey images in model space
            [-1, 1] (as `ArrayBatches` yields MNIST), binarized afresh in every step
            as x ~ Bernoulli((x + 1) / 2) (binary values only).
        ema_decay: float or None.
        seed: int or None. Training noise (binarization, MADE's masks per batch).
    """

    interface = Interface(
        kind="generative", capabilities={"sample", "log_prob", "bits_per_dim", "temperature"},
        likelihood="exact", solvers=("ancestral",),
        image_metrics=("negative_log_likelihood", "sample_quality"))
    likelihood_method = "exact discrete likelihood by the chain rule (no dequantization)"

    def __init__(self, network, data_shape, head="bernoulli", values="binary", dynamic_binarization=False,
                 ema_decay=None, seed=None, **kwargs):
        if head not in HEADS:
            raise ValueError(f"`head` must be one of {HEADS}. Received: {head!r}")
        if values not in VALUES:
            raise ValueError(f"`values` must be one of {VALUES}. Received: {values!r}")
        if (head == "bernoulli") != (values == "binary") or (head == "logistic_mixture" and values != "pixels"):
            raise ValueError(f"head {head!r} does not model {values!r} values: use 'bernoulli' for binary data, "
                             "'categorical' or 'logistic_mixture' for 8-bit pixels, 'categorical' for codes.")
        if dynamic_binarization and values != "binary":
            raise ValueError("`dynamic_binarization` is for binary models (values='binary').")
        self.head = head
        self.values = values
        self.dynamic_binarization = bool(dynamic_binarization)
        super().__init__(data_shape, networks={"network": network}, ema_decay=ema_decay, seed=seed, **kwargs)

    # What each family defines ----------------------------------------------------------

    def params(self, network, x, labels=None, **options):
        """Head parameters `(N, D, P)` of every position, from model-space `x (N, D)`."""
        raise NotImplementedError

    def order(self, **options):
        """Positions in sampling order, `(D,)` (default: raster order)."""
        return np.arange(self.num_dims)

    def sample_loop(self, network, x, labels, key, temperature, start, **options):
        """Fill positions `start..` of `order()` in `x (N, D)`; one compiled loop."""
        return sample_autoregressive(lambda x: self.params(network, x, labels, **options), x,
                                     self.order(**options), key, self.head, self.values, temperature, start)

    # Likelihood and training -------------------------------------------------------------

    def log_prob_tensor(self, x, labels=None, network=None, **options):
        """log p(x) in nats per example of model-space `x (N, *data_shape)`."""
        flat = ops.reshape(ops.cast(x, "float32"), (-1, self.num_dims))
        params = self.params(network or self.averaged("network"), flat, labels, **options)
        return ops.sum(log_likelihood(self.head, params, flat, self.values), axis=-1)

    def training_options(self):
        """Options of `params` drawn per training batch (MADE: a mask set)."""
        return {}

    def call(self, inputs, training=False):
        data, labels = (inputs["data"], inputs.get("labels")) if isinstance(inputs, dict) else (inputs, None)
        self.check_data(data)
        if self.dynamic_binarization:
            probability = (ops.cast(data, "float32") + 1.0) / 2.0
            data = ops.cast(keras.random.uniform(ops.shape(data), seed=self.seed_generator) < probability, "float32")
        self.update_ema(training)
        return self.log_prob_tensor(data, labels, self.network, **self.training_options())

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -ops.mean(y_pred)
        return nll / (self.num_dims * math.log(2.0)) if self.values == "pixels" else nll

    # Data in and out -----------------------------------------------------------------------

    def to_model_space(self, x, name="x"):
        """User data -> float32 model space `(N, *data_shape)`: binary images (uint8 0/1 or
        0/255, or floats 0/1), uint8 8-bit images (or model-space floats), or codes."""
        x = np.asarray(ops.convert_to_numpy(x))
        if x.dtype == np.uint8 and self.values != "codes":
            x = self.check_images(x, name) if self.is_image else self.check_array(x, name).astype(np.uint8)
            if self.values == "pixels":
                return datasets.to_model_space(x)
            levels = np.unique(x)
            if not (set(levels.tolist()) <= {0, 1} or set(levels.tolist()) <= {0, 255}):
                raise ValueError(f"`{name}` must be binary images, uint8 of 0/1 or 0/255; received values "
                                 f"{levels[:5].tolist()}... Binarize first (`zoo.datasets.load('binarized_mnist')` "
                                 "gives 0/1 digits).")
            return (x > 0).astype("float32")
        x = self.check_array(x, name)
        if self.values == "binary" and not np.isin(x, (0.0, 1.0)).all():
            raise ValueError(f"`{name}` must hold 0/1 values for a binary model.")
        if self.values == "codes":
            num_codes = self.network.num_embeddings
            if not (np.all(x == np.round(x)) and x.min(initial=0) >= 0 and x.max(initial=0) < num_codes):
                raise ValueError(f"`{name}` must hold integer codes in 0..{num_codes - 1}.")
        if self.values == "pixels" and (x.min(initial=0) < -1.0 or x.max(initial=0) > 1.0):
            raise ValueError(f"`{name}` must be 8-bit images (uint8) or model-space floats in [-1, 1].")
        return x

    def to_output(self, x, raw=False):
        x = np.asarray(x, "float32").reshape(-1, *self.data_shape)
        if raw:
            return x
        if self.values == "codes":
            return np.round(x).astype("int32")
        if self.values == "binary":
            return (x > 0.5).astype(np.uint8) * np.uint8(255) if self.is_image else x
        return datasets.from_model_space(x)

    # Inference -----------------------------------------------------------------------------

    def _batches(self, run, arrays, batch_size, key=None, verbose=False, evaluations=None):
        """Run `run(*chunks[, chunk key])` over chunks of one fixed size (the last padded):
        each compiled function sees one shape, and the draws of chunk c use
        `fold_in(key, c)`. `verbose`: a bar over the `evaluations` (sampling steps) of
        each chunk, with an ETA."""
        batch_size = check_batch_size(batch_size)
        total = len(arrays[0])
        size = min(batch_size, total)
        starts = range(0, total, size)
        outputs = []
        with bar(verbose, len(starts), evaluations) as progress:
            for index, start in enumerate(starts):
                chunk = [None if a is None else a[start:start + size] for a in arrays]
                count = len(chunk[0])
                chunk = [None if a is None else np.concatenate([a, np.repeat(a[-1:], size - count, 0)])
                         for a in chunk]
                extra = () if key is None else (random.fold_in(key, index),)
                outputs.append(np.asarray(ops.convert_to_numpy(run(*chunk, *extra)))[:count])
                progress.batch_done()
        return np.concatenate(outputs), size

    def log_prob(self, x, *, labels=None, batch_size=256, rtol=None, atol=None, **options):
        """Exact log-likelihood in nats per example `(N,)` of binary images, 8-bit images
        (uint8, or model-space floats) or code grids. `rtol`, `atol`: accepted, unused."""
        x = self.to_model_space(x)
        labels = self.check_labels(labels, len(x))
        options = self.check_options(**options)
        key = ("log_prob", tuple(sorted(options.items())), labels is None, min(check_batch_size(batch_size), len(x)))

        def build():
            return lambda x, labels: self.log_prob_tensor(x, labels, **options)

        return self._batches(self.inference_fn(key, build), (x, labels), batch_size)[0]

    def bits_per_dim(self, images, *, seed=0, labels=None, batch_size=256, rtol=None, atol=None, **options):
        """`-log_prob / (D ln 2)` per example `(N,)`: exact and discrete (`seed`: accepted,
        unused; there is no dequantization)."""
        return -self.log_prob(images, labels=labels, batch_size=batch_size, **options) / (self.num_dims * math.log(2))

    def check_options(self, **options):
        """Family-specific sampling / likelihood options (MADE: `mask`)."""
        if options:
            raise TypeError(f"Unknown options {sorted(options)} for {type(self).__name__}.")
        return {}

    def _fill(self, x, start, labels, seed, temperature, batch_size, options, verbose=False):
        temperature = check_positive(temperature, "temperature")
        labels = self.check_labels(labels, len(x))
        key = self.sampling_key(seed)
        size = min(check_batch_size(batch_size), len(x))
        cache = ("sample", start, temperature, tuple(sorted(options.items())), labels is None, size)

        def build():
            def run(x, labels, key):
                return self.sample_loop(self.averaged("network"), x, labels, key, temperature, start, **options)
            return run

        flat = x.reshape(len(x), self.num_dims).astype("float32")
        return self._batches(self.inference_fn(cache, build), (flat, labels), batch_size, key, verbose=verbose,
                             evaluations=self.num_dims - start)[0]

    def sample(self, num=None, *, temperature=1.0, seed=None, labels=None, batch_size=64, raw=False, steps=None,
               solver="ancestral", return_nfe=False, verbose=False, rtol=None, atol=None, **options):
        """Draw samples by ancestral sampling, one position at a time.

        Args:
            num: int. Number of samples.
            temperature: float > 0. Divides the logits (1: the model itself).
            seed: int or None. Same seed -> same samples on every backend (for one
                `batch_size`: chunk c draws from `fold_in(key, c)`).
            labels: optional int `(num,)` classes of a class-conditional model.
            raw: bool. Model-space float32 instead of uint8 images.
            verbose: bool. A progress bar over the sampling steps, with an ETA.
            steps, rtol, atol: accepted and unused, so that code written for the ODE
                families (`zoo sample`, `zoo eval`) runs unchanged.
            solver: `"ancestral"` (the only one).
            return_nfe: also return the network evaluations per sample (D).
            **options: family options (MADE: `mask`).

        Returns:
            uint8 images `(N, H, W, C)` (binary: 0/255), float32 vectors, or int32 codes,
            and the NFE if `return_nfe`.
        """
        self.check_solver(solver)
        num = self.check_num(num)
        options = self.check_options(**options)
        x = self._fill(np.zeros((num, self.num_dims), "float32"), 0, labels, seed, temperature, batch_size, options,
                       verbose)
        out = self.to_output(x, raw)
        return (out, self.num_dims) if return_nfe else out

    def complete(self, images, known_rows, *, temperature=1.0, seed=None, labels=None, batch_size=64, raw=False,
                 **options):
        """Conditional completion: keep the first `known_rows` rows of each image (the
        leading entries of a vector) and sample the rest from p(rest | known).

        Returns:
            Outputs like `sample`'s; the known part equals the input.
        """
        x = self.to_model_space(images, "images")
        options = self.check_options(**options)
        if not np.array_equal(self.order(**options), np.arange(self.num_dims)):
            raise ValueError("Completion needs the raster order: use a MADE mask with the natural ordering (mask=0).")
        rows = self.data_shape[0]
        if isinstance(known_rows, bool) or not isinstance(known_rows, (int, np.integer)) or not 0 <= known_rows <= rows:
            raise ValueError(f"`known_rows` must be an integer in 0..{rows}. Received: {known_rows!r}")
        start = int(known_rows) * (self.num_dims // rows)
        x = self._fill(x, start, labels, seed, temperature, batch_size, options)
        return self.to_output(x, raw)

    def get_config(self):
        config = {key: value for key, value in super().get_config().items() if key not in self.network_names}
        return {**config, "head": self.head, "values": self.values, "dynamic_binarization": self.dynamic_binarization,
                "ema_decay": self.ema_decay}


@keras.saving.register_keras_serializable(package="zoo")
class NADE(Autoregressive):
    """NADE on binary vectors or images (flattened in raster order), a Bernoulli head.

    Args:
        data_shape: tuple of int. `(h, w, 1)` binary images or `(d,)` vectors.
        hidden: int. Hidden units H (the paper: 500).
        **kwargs: `Autoregressive` arguments (`dynamic_binarization`, `seed`).

    References:
        Larochelle & Murray 2011, AISTATS.
    """

    def __init__(self, data_shape, hidden=500, **kwargs):
        self.hidden = hidden
        kwargs.update(head="bernoulli", values="binary")
        super().__init__(NADENetwork(math.prod(data_shape), hidden), data_shape, **kwargs)

    def params(self, network, x, labels=None, **options):
        return network(x)[..., None]

    def sample_loop(self, network, x, labels, key, temperature, start, **options):
        """NADE's O(H) step: carry a = c + W_<d x_<d instead of a full pass per position."""
        num_dims = self.num_dims
        positions = ops.arange(num_dims, dtype="int32")[None, :]

        def step(d, carry):
            x, state = carry
            params = network.step_logits(state, d)[:, None]
            drawn = draw("bernoulli", params, random.fold_in(key, d), "binary", temperature)
            value = ops.where(d < start, ops.take(x, d, axis=1), drawn)
            x = ops.where(positions == d, value[:, None], x)
            return x, network.step_update(state, d, value)

        return ops.fori_loop(0, num_dims, counted(step), (x, network.initial_state(ops.shape(x)[0])))[0]

    def get_config(self):
        config = {key: value for key, value in super().get_config().items() if key not in ("head", "values")}
        return {**config, "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="zoo")
class MADE(Autoregressive):
    """MADE on binary vectors or images, a Bernoulli head, `num_masks` orderings and
    connectivity masks (set 0: the natural order). Training draws a mask set per batch
    (order- and connectivity-agnostic training); `log_prob(x, mask=None)` is the
    ensemble, log (1/K) sum_k p_k(x), and `mask=k` one set; `sample(mask=k)` samples
    in ordering k (default 0).

    Args:
        data_shape: tuple of int.
        hidden_sizes: sequence of int. Hidden widths (the paper's MNIST model: (500,)).
        num_masks: int. K mask sets (the paper: 32 for its ensemble).
        mask_seed: int. Seed of the orderings and connectivity.
        **kwargs: `Autoregressive` arguments.

    References:
        Germain, Gregor, Murray & Larochelle 2015, arXiv:1502.03509.
    """

    def __init__(self, data_shape, hidden_sizes=(500,), num_masks=1, mask_seed=0, **kwargs):
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.num_masks = num_masks
        self.mask_seed = mask_seed
        kwargs.update(head="bernoulli", values="binary")
        network = MADENetwork(math.prod(data_shape), self.hidden_sizes, num_masks, mask_seed)
        super().__init__(network, data_shape, **kwargs)

    def check_options(self, mask=0, **options):
        super().check_options(**options)
        if mask is not None and (isinstance(mask, bool) or not isinstance(mask, (int, np.integer))
                                 or not 0 <= mask < self.num_masks):
            raise ValueError(f"`mask` must be an integer in 0..{self.num_masks - 1} (or None for the ensemble "
                             f"in log_prob). Received: {mask!r}")
        return {"mask": None if mask is None else int(mask)}

    def log_prob(self, x, *, labels=None, batch_size=256, rtol=None, atol=None, mask=None):
        """Exact log-likelihood in nats per example; `mask=None`: the ensemble over all
        mask sets (a mixture, itself a normalized model), `mask=k`: mask set k alone."""
        return super().log_prob(x, labels=labels, batch_size=batch_size, mask=mask)

    def bits_per_dim(self, images, *, seed=0, labels=None, batch_size=256, rtol=None, atol=None, mask=None):
        return super().bits_per_dim(images, labels=labels, batch_size=batch_size, mask=mask)

    def training_options(self):
        return {"mask": keras.random.randint((), 0, self.num_masks, seed=self.seed_generator)}

    def log_prob_tensor(self, x, labels=None, network=None, mask=0):
        if mask is not None:
            return super().log_prob_tensor(x, labels, network, mask=mask)
        each = ops.stack([super(MADE, self).log_prob_tensor(x, labels, network, mask=k)
                          for k in range(self.num_masks)], axis=0)
        return ops.logsumexp(each, axis=0) - math.log(self.num_masks)

    def params(self, network, x, labels=None, mask=0):
        return network(x, mask_index=mask)[..., None]

    def order(self, mask=0):
        if mask is None:
            raise ValueError("Sampling and completion take one mask set: pass mask=k (default 0).")
        return self.network.orderings[mask]

    def get_config(self):
        config = {key: value for key, value in super().get_config().items() if key not in ("head", "values")}
        return {**config, "hidden_sizes": list(self.hidden_sizes), "num_masks": self.num_masks,
                "mask_seed": self.mask_seed}


@keras.saving.register_keras_serializable(package="zoo")
class PixelCNN(Autoregressive):
    """PixelCNN / gated PixelCNN on images: a Bernoulli head for binary images, a 256-way
    softmax per sub-pixel (R -> G -> B) or a discretized logistic mixture for 8-bit
    images; optionally class-conditional (`sample(labels=...)`).

    Args:
        data_shape: tuple of int. `(h, w, c)`.
        head: str. `"bernoulli"` (binary), `"categorical"` or `"logistic_mixture"` (8-bit).
        filters, num_layers, kernel_size, first_kernel_size, gated, num_classes,
            hidden_output: the arguments of `zoo.networks.autoregressive.PixelCNNNetwork`.
        num_mixtures: int. Logistic components per sub-pixel.
        **kwargs: `Autoregressive` arguments.

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu 2016, arXiv:1601.06759; van den Oord
        et al. 2016, arXiv:1606.05328; Salimans et al. 2017, arXiv:1701.05517.
    """

    interface = Interface(
        kind="generative", capabilities={"sample", "log_prob", "bits_per_dim", "temperature", "labels"},
        likelihood="exact", solvers=("ancestral",),
        image_metrics=("negative_log_likelihood", "sample_quality"))

    def __init__(self, data_shape, head="bernoulli", filters=64, num_layers=5, kernel_size=3, first_kernel_size=7,
                 gated=True, num_classes=None, num_mixtures=5, hidden_output=None, **kwargs):
        if len(data_shape) != 3:
            raise ValueError(f"PixelCNN models images (h, w, c); received data_shape={data_shape}.")
        self.filters, self.num_layers, self.kernel_size = filters, num_layers, kernel_size
        self.first_kernel_size, self.gated, self.num_mixtures = first_kernel_size, gated, num_mixtures
        self.hidden_output = hidden_output
        kwargs.setdefault("values", "binary" if head == "bernoulli" else "pixels")
        network = PixelCNNNetwork(data_shape[-1], params_per_value(head, 256, num_mixtures), filters, num_layers,
                                  kernel_size, first_kernel_size, gated, num_classes, None, hidden_output)
        super().__init__(network, data_shape, head=head, **kwargs)

    def params(self, network, x, labels=None, **options):
        images = ops.reshape(x, (-1, *self.data_shape))
        if self.values == "binary":
            images = 2.0 * images - 1.0
        out = network(images, labels)
        return ops.reshape(out, (-1, self.num_dims, network.params_per_channel))

    def get_config(self):
        config = {key: value for key, value in super().get_config().items() if key != "values"}
        return {**config, "filters": self.filters, "num_layers": self.num_layers, "kernel_size": self.kernel_size,
                "first_kernel_size": self.first_kernel_size, "gated": self.gated,
                "num_classes": self.network.num_classes, "num_mixtures": self.num_mixtures,
                "hidden_output": self.hidden_output}


@keras.saving.register_keras_serializable(package="zoo")
class CodePrior(Autoregressive):
    """A categorical (gated) PixelCNN over integer code grids `(h, w)` with K codes: the
    prior that turns a quantized autoencoder (FSQ / VQ) into a generator. With
    `autoencoder` (a checkpoint name or directory whose `decode` takes int32 code grids),
    `sample` draws codes and decodes them to images; `sample_codes` always returns codes.

    Args:
        data_shape: tuple of int. `(h, w)`.
        num_codes: int. K.
        filters, num_layers, kernel_size, first_kernel_size, num_classes: the
            `PixelCNNNetwork` arguments (gated).
        autoencoder: str or None.
        **kwargs: `Autoregressive` arguments.
    """

    interface = Interface(
        kind="generative", capabilities={"sample", "log_prob", "temperature", "labels"}, likelihood="exact",
        solvers=("ancestral",), image_metrics=("code_likelihood", "sample_quality"),
        no_metrics="A code prior is measured through its autoencoder's images: set `autoencoder`.")

    def __init__(self, data_shape, num_codes=1024, filters=64, num_layers=5, kernel_size=3, first_kernel_size=5,
                 num_classes=None, autoencoder=None, **kwargs):
        if len(data_shape) != 2:
            raise ValueError(f"A code prior models (h, w) grids; received data_shape={data_shape}.")
        self.num_codes, self.filters, self.num_layers = num_codes, filters, num_layers
        self.kernel_size, self.first_kernel_size, self.autoencoder = kernel_size, first_kernel_size, autoencoder
        kwargs.update(head="categorical", values="codes")
        network = PixelCNNNetwork(1, num_codes, filters, num_layers, kernel_size, first_kernel_size, True,
                                  num_classes, num_codes)
        super().__init__(network, data_shape, **kwargs)

    def params(self, network, x, labels=None, **options):
        out = network(ops.reshape(x, (-1, *self.data_shape)), labels)
        return ops.reshape(out, (-1, self.num_dims, self.num_codes))

    def autoencoder_model(self):
        """The loaded `autoencoder` (None without one): `encode` gives the grids this prior
        models, `decode` turns its samples into images. A method, not a property: Keras's
        saving visits every attribute, and the autoencoder's weights are not the prior's."""
        return None if self.autoencoder is None else _decoder(self.autoencoder)

    @property
    def sample_shape(self):
        """`(H, W, C)` of the decoded images with an autoencoder (loading it), else the
        grid shape."""
        model = self.autoencoder_model()
        return tuple(self.data_shape) if model is None else tuple(model.data_shape)

    def sample_codes(self, num=None, **kwargs):
        """Code grids `(N, h, w)` int32 drawn from the prior (`sample`'s arguments)."""
        return super().sample(num, **kwargs)

    def sample(self, num=None, *, raw=False, return_nfe=False, **kwargs):
        """Codes from the prior, decoded by `autoencoder` when set (uint8 images), else
        the int32 code grids."""
        codes = super().sample(num, return_nfe=False, **kwargs)
        if self.autoencoder is not None:
            codes = self.autoencoder_model().decode(codes, raw=raw)
        return (codes, self.num_dims) if return_nfe else codes

    def get_config(self):
        config = {key: value for key, value in super().get_config().items() if key not in ("head", "values")}
        return {**config, "num_codes": self.num_codes, "filters": self.filters, "num_layers": self.num_layers,
                "kernel_size": self.kernel_size, "first_kernel_size": self.first_kernel_size,
                "num_classes": self.network.num_classes, "autoencoder": self.autoencoder}


@functools.lru_cache(maxsize=4)
def _decoder(autoencoder):
    """The autoencoder a code prior decodes with, loaded once per process (kept outside
    the prior: a Keras layer may not gain sub-layers once built, and the prior's
    checkpoint holds only its own weights)."""
    from zoo.pretrained import load
    return load(autoencoder)


# Named configs ---------------------------------------------------------------------------

register_config("nade_tiny", NADE, "Tiny NADE on 10-dimensional binary vectors (tests).", data_shape=(10,),
                hidden=8)
# The paper's NADE has 500 hidden units; its cost is N x D x H sigmoids per batch, and
# on the shared CPU 200 units get 2.5x the images through in the same minutes.
register_config("nade_mnist", NADE, "NADE for binarized MNIST on a CPU: 200 hidden units (the paper: 500); 0.3M.",
                data_shape=(28, 28, 1), hidden=200, dynamic_binarization=True)
register_config("made_tiny", MADE, "Tiny MADE on 10-dimensional binary vectors, 3 mask sets (tests).",
                data_shape=(10,), hidden_sizes=(16, 16), num_masks=3)
register_config("made_mnist", MADE, "MADE for binarized MNIST: one hidden layer of 500, 8 orderings/masks (0.8M).",
                data_shape=(28, 28, 1), hidden_sizes=(500,), num_masks=8, dynamic_binarization=True)
register_config("pixelcnn_tiny", PixelCNN, "Tiny gated PixelCNN on 2x5 binary images (tests).",
                data_shape=(2, 5, 1), filters=8, num_layers=3, first_kernel_size=3)
register_config("pixelcnn_mnist", PixelCNN, "Gated PixelCNN for binarized MNIST on a CPU: 16 filters, 5 gated "
                "3x3 layers after a 5x5 first layer, 32-wide output layers.", data_shape=(28, 28, 1), filters=16,
                num_layers=5, first_kernel_size=5, hidden_output=32, dynamic_binarization=True)
register_config("pixelcnn_cifar", PixelCNN, "Gated PixelCNN for 8-bit CIFAR-10 on a CPU: 256-way softmax per "
                "sub-pixel (R -> G -> B), 48 filters, 5 gated layers.", data_shape=(32, 32, 3),
                head="categorical", filters=48, num_layers=5, first_kernel_size=5, hidden_output=96)
register_config("code_prior_tiny", CodePrior, "Tiny code prior on 3x3 grids of 5 codes (tests).",
                data_shape=(3, 3), num_codes=5, filters=8, num_layers=3, first_kernel_size=3)
register_config("code_prior_cifar", CodePrior, "Gated PixelCNN prior over 8x8 grids of 1,024 codes (FSQ/VQ "
                "autoencoders of CIFAR-10).", data_shape=(8, 8), num_codes=1024, filters=64, num_layers=6)
