"""Normalizing flows: NICE (arXiv:1410.8516), RealNVP (arXiv:1605.08803) and Glow
(arXiv:1807.03039), built from the invertible layers of `zoo.layers.couplings`.

Direction: `encode` runs the flow forward, data x -> latent z (distributed as the
base distribution); `decode` and `sample` run it backward, z -> x. The likelihood is
exact: log p(x) = log p_base(z) + sum of the layers' log |det|.

Spaces and bits/dim. Image models work in model space like every zoo family, but on
*dequantized* data: `x = 2 (pixels + u) / 256 - 1`, `u ~ U[0, 1)`, in [-1, 1).
`fit` takes the `zoo.datasets.to_model_space` images that `ArrayBatches` yields and
dequantizes them itself with fresh noise each step (Theis et al. 2016,
arXiv:1511.01844). Preprocessing inside the flow ("unit": x -> (x + 1) / 2 for NICE,
"logit" for RealNVP) is an invertible layer whose log-det is counted, so
`log_prob(x)` is always the density of model-space x, and `bits_per_dim` adds the
log-det D log(2 / 256) of pixels -> model space: the number papers report.

Multi-scale: after every scale (level) but the last, half of the channels are
factored out (RealNVP section 3.6; Glow's split, optionally with a learned prior) and
the rest goes on. `encode` returns all factored parts, flattened and concatenated in
order, reshaped to `data_shape`.
"""

import math
import warnings

import keras
import numpy as np
from keras import ops

from zoo import datasets, metrics
from zoo.layers.couplings import AdditiveCoupling, AffineCoupling
from zoo.layers.invertible import ActNorm, DiagonalScaling, InvertibleConv1x1, LogitTransform, Split, Squeeze
from zoo.models.base import GenerativeModel

BASES = ("normal", "logistic", "uniform")
PREPROCESSING = ("none", "unit", "logit")


class Flow(keras.Model):
    """What NICE, RealNVP and Glow share: preprocessing, the multi-scale wiring, the base
    distribution, training through `compute_loss`, and the public API.

    `call(x)` returns `log_prob` per example (of freshly dequantized images for image
    models) and `compute_loss` its negative mean: in bits/dim for dequantized 8-bit
    images, in nats for other data. Models with ActNorm get their data-dependent
    initialization once, from the first batch `fit` sees (or an explicit
    `initialize(batch)`); it is saved with the weights.

    Args:
        data_shape: tuple of int. One example's shape: `(h, w, c)` images or `(d,)`.
        base: str. Base distribution: `"normal"`, `"logistic"` (NICE's, for MNIST) or
            `"uniform"` on [0, 1)^D (useful for checking likelihood accounting).
        preprocessing: str. `"none"`, `"unit"` ((x + 1) / 2, to [0, 1)) or `"logit"`
            (`LogitTransform`), applied before the flow with its log-det counted.
        logit_alpha: float. `alpha` of the logit transform.
        dequantize: bool or None. Dequantize training batches (snap to the 8-bit grid,
            add uniform noise); None means yes for images.
        seed: int or None. Seed of the model's `SeedGenerator` (dequantization noise,
            samples drawn without a `seed`).
    """

    def __init__(self, data_shape, base="normal", preprocessing="none", logit_alpha=0.05, dequantize=None,
                 seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if base not in BASES:
            raise ValueError(f"`base` must be one of {BASES}. Received: {base!r}")
        if preprocessing not in PREPROCESSING:
            raise ValueError(f"`preprocessing` must be one of {PREPROCESSING}. Received: {preprocessing!r}")
        self.data_shape = tuple(int(d) for d in data_shape)
        if len(self.data_shape) not in (1, 3):
            raise ValueError(f"`data_shape` must be (h, w, c) for images or (d,) for vectors. "
                             f"Received: {data_shape}")
        self.base = base
        self.preprocessing = preprocessing
        self.logit_alpha = logit_alpha
        self.dequantize = self.is_image if dequantize is None else bool(dequantize)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema_network = None  # no weight EMA: `zoo.training.train` exports the trained weights
        self.logit = LogitTransform(logit_alpha) if preprocessing == "logit" else None
        self._compiled = {}

    # Shared with the other families. Borrowed rather than inherited: GenerativeModel's
    # constructor builds around a `network(x, t)`, which a flow does not have.
    is_image = GenerativeModel.is_image
    num_dims = GenerativeModel.num_dims
    check_data = GenerativeModel.check_data
    check_images = GenerativeModel.check_images
    inference_fn = GenerativeModel.inference_fn

    def set_layers(self, flow_layers, scale_sizes, split_layers=(), flatten=False):
        """Called once by subclasses: the layers in forward order, how many belong to
        each scale (half the channels are factored out after each but the last), the
        optional learned-prior `Split` before each factoring, and whether the flow
        works on flattened vectors (NICE)."""
        self.flow_layers = list(flow_layers)
        self.split_layers = list(split_layers)
        self.scale_sizes = tuple(scale_sizes)
        self.flatten = flatten
        self.build((None, *self.data_shape))

    def build(self, input_shape):
        pieces, _ = self._forward(ops.zeros((1, *self.data_shape)))
        self.latent_shapes = tuple(tuple(piece.shape[1:]) for piece in pieces)

    # The bijection --------------------------------------------------------------------

    def _forward(self, x, initialize=False):
        """x -> (factored-out latent pieces, log_det). `initialize` runs ActNorm's
        data-dependent initialization on the way (eager only)."""
        batch = ops.shape(x)[0]
        h, log_det = self._preprocess(x)
        if self.flatten:
            h = ops.reshape(h, (batch, -1))
        pieces, layers = [], iter(self.flow_layers)
        for scale, size in enumerate(self.scale_sizes):
            for _ in range(size):
                h, layer_log_det = self._apply(next(layers), h, initialize)
                log_det = log_det + layer_log_det
            if scale < len(self.scale_sizes) - 1:
                if self.split_layers:
                    h, layer_log_det = self._apply(self.split_layers[scale], h, initialize)
                    log_det = log_det + layer_log_det
                h, factored = ops.split(h, 2, axis=-1)
                pieces.append(factored)
        return pieces + [h], log_det

    def _inverse(self, pieces):
        h = pieces[-1]
        end = len(self.flow_layers)
        for scale in reversed(range(len(self.scale_sizes))):
            if scale < len(self.scale_sizes) - 1:
                h = ops.concatenate([h, pieces[scale]], axis=-1)
                if self.split_layers:
                    h, _ = self.split_layers[scale](h, inverse=True)
            start = end - self.scale_sizes[scale]
            for layer in reversed(self.flow_layers[start:end]):
                h, _ = layer(h, inverse=True)
            end = start
        h = ops.reshape(h, (-1, *self.data_shape))
        if self.preprocessing == "logit":
            return self.logit(h, inverse=True)[0]
        return 2.0 * h - 1.0 if self.preprocessing == "unit" else h

    @staticmethod
    def _apply(layer, h, initialize):
        if initialize and isinstance(layer, ActNorm) and not layer.is_initialized:
            layer.initialize(h)
        return layer(h)

    def _preprocess(self, x):
        batch = ops.shape(x)[0]
        if self.preprocessing == "logit":
            return self.logit(x)
        if self.preprocessing == "unit":
            return (x + 1.0) / 2.0, ops.full((batch,), self.num_dims * math.log(0.5))
        return x, ops.zeros((batch,))

    def encode_tensor(self, x):
        """Model-space x -> latent z of shape `(batch, *data_shape)` (backend tensors)."""
        pieces, _ = self._forward(x)
        return self._join(pieces)

    def decode_tensor(self, z):
        """Latent z -> model-space x (backend tensors)."""
        flat = ops.reshape(z, (ops.shape(z)[0], -1))
        pieces, start = [], 0
        for shape in self.latent_shapes:
            size = math.prod(shape)
            pieces.append(ops.reshape(flat[:, start:start + size], (-1, *shape)))
            start += size
        return self._inverse(pieces)

    def log_prob_tensor(self, x):
        """log p(x) in nats per example for model-space x (backend tensors)."""
        pieces, log_det = self._forward(x)
        return self._base_log_prob(self._join(pieces)) + log_det

    def _join(self, pieces):
        batch = ops.shape(pieces[0])[0]
        flat = ops.concatenate([ops.reshape(piece, (batch, -1)) for piece in pieces], axis=-1)
        return ops.reshape(flat, (batch, *self.data_shape))

    def _base_log_prob(self, z):
        z = ops.reshape(z, (ops.shape(z)[0], -1))
        if self.base == "normal":
            return -0.5 * ops.sum(ops.square(z), axis=-1) - 0.5 * self.num_dims * math.log(2.0 * math.pi)
        if self.base == "logistic":
            return -ops.sum(ops.softplus(z) + ops.softplus(-z), axis=-1)
        inside = ops.all(ops.logical_and(z >= 0.0, z < 1.0), axis=-1)
        return ops.where(inside, 0.0, -np.inf)

    # Training -------------------------------------------------------------------------

    def call(self, x, training=False):
        self.check_data(x)
        if self.dequantize:
            x = self._dequantize(x)
        return self.log_prob_tensor(x)

    def _dequantize(self, x):
        """Model-space images on the 8-bit grid -> 2 (pixels + u) / 256 - 1, u ~ U[0, 1)."""
        pixels = ops.clip(ops.round((x + 1.0) * 127.5), 0.0, 255.0)
        noise = keras.random.uniform(ops.shape(x), seed=self.seed_generator)
        return 2.0 * (pixels + noise) / 256.0 - 1.0

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -ops.mean(y_pred)
        if self.dequantize:  # bits/dim of the 8-bit data, as the papers report
            return (nll - metrics.uint8_to_model_space_log_det(self.num_dims)) / (self.num_dims * math.log(2.0))
        return nll

    def initialize(self, x, *, seed=0, force=False):
        """Data-dependent initialization of every ActNorm (Glow, section 3.1), once.

        Runs one eager forward pass over `x` and sets each not yet initialized ActNorm
        from the statistics of its own input; their `initialized` flags are saved with
        the weights, so a resumed or loaded model is never re-initialized. Call it
        before `fit`, outside any compiled function; recipes do.

        Args:
            x: a batch: uint8 images, model-space images, or float points.
            seed: int. Dequantization noise for images (NumPy, so the same on every
                backend).
            force: bool. Re-initialize even ActNorms already initialized.

        Returns:
            The model.
        """
        actnorms = [layer for layer in self.flow_layers if isinstance(layer, ActNorm)]
        if force:
            for layer in actnorms:
                layer.initialized.assign(0.0)
        if all(layer.is_initialized for layer in actnorms):
            return self
        x = np.asarray(ops.convert_to_numpy(x))
        if self.dequantize:
            pixels = x if x.dtype == np.uint8 else datasets.from_model_space(x)
            x = 2.0 * datasets.dequantize(self.check_images(pixels, "x"), seed=seed) - 1.0
        self.check_data(x)
        self._forward(ops.convert_to_tensor(x, "float32"), initialize=True)
        return self

    @property
    def initialized(self):
        """Whether every ActNorm has had its data-dependent initialization."""
        return all(layer.is_initialized for layer in self.flow_layers if isinstance(layer, ActNorm))

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, after ActNorm's data-dependent initialization on the first
        batch of `x` when it has not been done (a resumed or loaded model keeps its own)."""
        if not self.initialized:
            self.initialize(_first_batch(x, kwargs.get("batch_size")))
        return super().fit(x, *args, **kwargs)

    # Inference -------------------------------------------------------------------------

    def _batched(self, key, fn, x, batch_size):
        run = self.inference_fn(key, lambda: fn)
        return np.concatenate([ops.convert_to_numpy(run(x[start:start + batch_size]))
                               for start in range(0, len(x), batch_size)])

    def _model_space(self, x, name="x"):
        x = np.asarray(ops.convert_to_numpy(x))
        if x.ndim != len(self.data_shape) + 1 or x.shape[1:] != self.data_shape:
            raise ValueError(f"`{name}` must have shape (N, {', '.join(map(str, self.data_shape))}); "
                             f"received {x.shape}.")
        return x.astype("float32")

    def log_prob(self, x, *, batch_size=256, rtol=None, atol=None):
        """Exact log-density in nats per example of float `x`: model-space dequantized
        images in [-1, 1) (see the module docstring), or points. For uint8 images use
        `bits_per_dim`. (`rtol`, `atol` are accepted so that code written for the ODE
        families runs unchanged; a flow's likelihood needs no solver.)"""
        if np.asarray(x).dtype == np.uint8:
            raise ValueError("`x` holds uint8 pixels, a discrete variable; `log_prob` takes float model-space data. "
                             "Use `bits_per_dim(images)`, or pass `2 * zoo.datasets.dequantize(images) - 1`.")
        return self._batched("log_prob", self.log_prob_tensor, self._model_space(x), batch_size)

    bits_per_dim_method = "exact log-density by the change of variables, uniformly dequantized images"

    def bits_per_dim(self, images, *, seed=0, batch_size=256, rtol=None, atol=None):
        """Bits/dim of uint8 images under uniform dequantization with `seed`: -(log p(x)
        + D log(2 / 256)) / (D ln 2) with x = 2 (pixels + u) / 256 - 1, an upper bound on
        the discrete model's bits/dim and the number papers report.

        Returns:
            `(N,)` bits/dim per image; papers report the mean.
        """
        images = self.check_images(images)
        x = 2.0 * datasets.dequantize(images, seed=seed) - 1.0
        return metrics.bits_per_dim(self.log_prob(x, batch_size=batch_size), self.num_dims,
                                    metrics.uint8_to_model_space_log_det(self.num_dims))

    def encode(self, x, *, seed=None, batch_size=256):
        """Data -> latent z `(N, *data_shape)`, exactly.

        Args:
            x: uint8 images (dequantized with `seed`; `None` takes each pixel bin's
                centre, so `decode(encode(images))` returns the images), or float
                model-space data.
        """
        x = np.asarray(ops.convert_to_numpy(x))
        if x.dtype == np.uint8:
            images = self.check_images(x)
            unit = (images + np.float32(0.5)) / np.float32(256) if seed is None else datasets.dequantize(images, seed)
            x = 2.0 * unit - 1.0
        return self._batched("encode", self.encode_tensor, self._model_space(x), batch_size)

    def decode(self, z, *, raw=False, batch_size=256):
        """Latent z `(N, *data_shape)` -> uint8 images (float32 points), or model-space
        float32 data if `raw`."""
        x = self._batched("decode", self.decode_tensor, self._model_space(z, "z"), batch_size)
        return self.to_output(x, raw)

    def to_output(self, x, raw=False):
        """Model space -> uint8 images by the inverse of dequantization, floor(256 (x + 1) / 2)."""
        x = np.asarray(x, "float32")
        if not self.is_image or raw:
            return x
        finite = np.all(np.isfinite(x.reshape(len(x), -1)), axis=1)
        if not np.all(finite):
            # The inverse of a contracting coupling can overflow for latents far in the
            # base's tails; say so rather than hand back images cast from NaN.
            warnings.warn(f"{np.sum(~finite)} of {len(x)} decoded images are not finite (the inverse flow "
                          "overflowed) and are returned black; a lower `temperature` avoids it.", stacklevel=3)
            x = np.where(finite.reshape((-1,) + (1,) * (x.ndim - 1)), x, -1.0)
        return np.clip(np.floor((x + 1.0) * 128.0), 0, 255).astype(np.uint8)

    def sample(self, num=None, *, temperature=1.0, seed=None, noise=None, batch_size=256, raw=False, steps=1,
               return_nfe=False, solver=None, rtol=None, atol=None, verbose=False):
        """Draw samples: latent draws from the base distribution, scaled by
        `temperature`, decoded by the inverse flow in one pass.

        Args:
            num: int. Number of samples (or give `noise`).
            temperature: float > 0. Scales the normal or logistic base draws (Glow's
                "temperature": T < 1 trades diversity for quality). Must be 1 for the
                uniform base.
            seed: int or None. Same seed, same backend -> same samples.
            noise: array `(N, *data_shape)` of base draws at temperature 1 instead of `seed`.
            raw: bool. Return model-space float32 arrays instead of uint8 images.
            steps: int >= 1. Accepted, with `solver`, `rtol`, `atol` and `verbose`, so
                that code written for the ODE families (`zoo sample`, `zoo eval`) runs
                unchanged; a flow always samples in one exact inverse pass.
            return_nfe: bool. Also return the number of network passes (1).

        Returns:
            uint8 `(N, H, W, C)` images (float32 `(N, D)` for point data), and the NFE
            if `return_nfe`.
        """
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"`temperature` must be a number > 0 (1.0 samples the model itself). "
                             f"Received: {temperature!r}")
        if self.base == "uniform" and temperature != 1.0:
            raise ValueError(f"`temperature` must be 1.0 with the uniform base; received {temperature}.")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"`steps` must be an integer >= 1 (a flow samples in one pass). Received: {steps!r}")
        z = self._base_draws(num, noise, seed)
        if self.base != "uniform":
            z = z * np.float32(temperature)
        out = self.decode(z, raw=raw, batch_size=batch_size)
        return (out, 1) if return_nfe else out

    def _base_draws(self, num, noise, seed):
        if noise is not None:
            noise = self._model_space(noise, "noise")
            if num is not None and num != len(noise):
                raise ValueError(f"`num`={num} disagrees with `noise` holding {len(noise)} examples; pass one.")
            if not np.all(np.isfinite(noise)):
                raise ValueError("`noise` contains NaN or infinite values.")
            return noise
        if num is None or isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
            raise ValueError(f"`num` must be an integer >= 1 when `noise` is not given. Received: {num!r}")
        shape, draw_seed = (int(num), *self.data_shape), self.seed_generator if seed is None else seed
        if self.base == "normal":
            return ops.convert_to_numpy(keras.random.normal(shape, seed=draw_seed))
        u = ops.convert_to_numpy(keras.random.uniform(shape, seed=draw_seed))
        if self.base == "uniform":
            return u
        u = np.clip(u, 1e-7, 1.0 - 1e-7)
        return np.log(u) - np.log1p(-u)

    def get_config(self):
        return {**super().get_config(), "data_shape": list(self.data_shape), "base": self.base,
                "preprocessing": self.preprocessing, "logit_alpha": self.logit_alpha,
                "dequantize": self.dequantize, "seed": self.seed}


def _first_batch(x, batch_size):
    """The first training batch of what `fit` takes: an array or a `PyDataset`."""
    if isinstance(x, keras.utils.PyDataset):
        batch = x[0]
        return batch[0] if isinstance(batch, tuple) else batch
    if isinstance(x, dict) or x is None:
        raise ValueError("Flows train on a plain array of data (or an `ArrayBatches`), not a dict.")
    return np.asarray(ops.convert_to_numpy(x))[:batch_size or 32]


def _check_scales(data_shape, value, name, squeezes):
    """Images must survive `squeezes` halvings of height and width; vectors have one scale."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {value!r}")
    if len(data_shape) == 1:
        if value != 1:
            raise ValueError(f"Vector data {tuple(data_shape)} has a single scale; pass {name}=1.")
        if data_shape[0] < 2:
            raise ValueError(f"A coupling flow needs at least 2 dimensions; received data_shape={tuple(data_shape)}.")
        return
    height, width = data_shape[:2]
    if height % 2**squeezes or width % 2**squeezes:
        raise ValueError(f"{name}={value} squeezes the images {squeezes} times, which needs height and width "
                         f"divisible by {2**squeezes}; data_shape={tuple(data_shape)} does not allow it. Use a "
                         f"smaller `{name}` or crop/pad the images.")


@keras.saving.register_keras_serializable(package="zoo")
class NICE(Flow):
    """NICE: additive couplings with alternating (even/odd) partitions of the flattened
    data, then a diagonal scaling; a logistic base for MNIST, as in the paper.

    Args:
        data_shape: tuple of int. Images `(h, w, c)` (flattened inside) or `(d,)`;
            the dimension count must be even.
        num_couplings: int. Additive coupling layers (the paper: 4).
        hidden: int. Width of each coupling's MLP (the paper: 1000).
        network_depth: int. Hidden layers per MLP (the paper: 5).
        **kwargs: `Flow` arguments (`base` default "logistic", `preprocessing`
            default "unit" for images, as the paper's data in [0, 1]).

    References:
        Dinh, Krueger & Bengio 2015, arXiv:1410.8516.
    """

    def __init__(self, data_shape, num_couplings=4, hidden=1000, network_depth=5, **kwargs):
        kwargs.setdefault("base", "logistic")
        kwargs.setdefault("preprocessing", "unit" if len(data_shape) == 3 else "none")
        super().__init__(data_shape, **kwargs)
        if self.num_dims % 2:
            raise ValueError(f"NICE splits the data into two halves; data_shape={self.data_shape} has an odd "
                             f"number of dimensions ({self.num_dims}).")
        self.num_couplings = num_couplings
        self.hidden = hidden
        self.network_depth = network_depth
        couplings = [AdditiveCoupling("checkerboard", i % 2, hidden, network_depth) for i in range(num_couplings)]
        self.set_layers([*couplings, DiagonalScaling()], [num_couplings + 1], flatten=True)

    def get_config(self):
        return {**super().get_config(), "num_couplings": self.num_couplings, "hidden": self.hidden,
                "network_depth": self.network_depth}


@keras.saving.register_keras_serializable(package="zoo")
class RealNVP(Flow):
    """RealNVP: affine couplings with a tanh-bounded scale in RealNVP's multi-scale
    architecture. Each scale but the last: `num_couplings` checkerboard couplings,
    squeeze, `num_couplings` channel-wise couplings, then half of the channels are
    factored out to the base; the last scale: `num_couplings + 1` checkerboard
    couplings. Vectors: `num_couplings` couplings alternating halves.

    Differences from the paper, for CPU budgets: the coupling networks are small plain
    convnets (`CouplingNetwork`) instead of ResNets with batch norm, and there is no
    batch normalization layer in the flow.

    Args:
        data_shape: tuple of int. Images `(h, w, c)` or `(d,)`.
        num_scales: int. Scales; images need h and w divisible by 2^(num_scales - 1).
        num_couplings: int. Couplings per group (the paper: 3).
        hidden: int. Width of the coupling networks.
        network_depth: int. Hidden layers of the coupling networks.
        scale: str. `"tanh"` (RealNVP) or `"sigmoid"`.
        **kwargs: `Flow` arguments (`preprocessing` default "logit" for images,
            `logit_alpha` 0.05 as the paper).

    References:
        Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803.
    """

    def __init__(self, data_shape, num_scales=2, num_couplings=3, hidden=64, network_depth=2, scale="tanh",
                 **kwargs):
        kwargs.setdefault("preprocessing", "logit" if len(data_shape) == 3 else "none")
        super().__init__(data_shape, **kwargs)
        _check_scales(self.data_shape, num_scales, "num_scales", num_scales - 1)
        self.num_scales = num_scales
        self.num_couplings = num_couplings
        self.hidden = hidden
        self.network_depth = network_depth
        self.scale = scale

        def couplings(partition, count):
            return [AffineCoupling(partition, i % 2, hidden, network_depth, scale) for i in range(count)]

        if not self.is_image:
            self.set_layers(couplings("channel", num_couplings), [num_couplings])
            return
        layers, sizes = [], []
        for _ in range(num_scales - 1):
            scale_layers = [*couplings("checkerboard", num_couplings), Squeeze(), *couplings("channel", num_couplings)]
            layers += scale_layers
            sizes.append(len(scale_layers))
        layers += couplings("checkerboard", num_couplings + 1)
        self.set_layers(layers, [*sizes, num_couplings + 1])

    def get_config(self):
        return {**super().get_config(), "num_scales": self.num_scales, "num_couplings": self.num_couplings,
                "hidden": self.hidden, "network_depth": self.network_depth, "scale": self.scale}


@keras.saving.register_keras_serializable(package="zoo")
class Glow(Flow):
    """Glow: `num_levels` levels of squeeze, `num_steps` x (ActNorm, invertible 1x1
    convolution, affine coupling) and a split with a learned prior (all levels but the
    last). Vectors: one level of steps, no squeeze. ActNorm is initialized from the
    first training batch (see `Flow.initialize`).

    Differences from the paper, for CPU budgets: no ActNorm inside the coupling
    networks and no learned prior on the top level (it is N(0, I)).

    Args:
        data_shape: tuple of int. Images `(h, w, c)` or `(d,)`.
        num_levels: int. Levels L; images need h and w divisible by 2^L.
        num_steps: int. Steps of flow per level, K.
        hidden: int. Width of the coupling networks (the paper: 512).
        network_depth: int. Hidden layers of the coupling networks (the paper: 2).
        scale: str. `"sigmoid"` (Glow) or `"tanh"`.
        learned_prior: bool. Factor out through `Split` (a learned conditional
            prior) rather than straight to N(0, I).
        actnorm_log_scale_factor: float. ActNorm's `log_scale_factor` (Glow's code:
            3; the toy configs keep 1).
        **kwargs: `Flow` arguments.

    References:
        Kingma & Dhariwal 2018, arXiv:1807.03039.
    """

    def __init__(self, data_shape, num_levels=3, num_steps=8, hidden=128, network_depth=2, scale="sigmoid",
                 learned_prior=True, actnorm_log_scale_factor=1.0, **kwargs):
        super().__init__(data_shape, **kwargs)
        _check_scales(self.data_shape, num_levels, "num_levels", num_levels)
        self.num_levels = num_levels
        self.num_steps = num_steps
        self.hidden = hidden
        self.network_depth = network_depth
        self.scale = scale
        self.learned_prior = learned_prior
        self.actnorm_log_scale_factor = float(actnorm_log_scale_factor)
        seed = self.seed
        layers = []
        for level in range(num_levels):
            if self.is_image:
                layers.append(Squeeze())
            for step in range(num_steps):
                conv_seed = None if seed is None else seed + level * num_steps + step
                layers += [ActNorm(log_scale_factor=self.actnorm_log_scale_factor), InvertibleConv1x1(seed=conv_seed),
                           AffineCoupling("channel", 0, hidden, network_depth, scale)]
        splits = [Split() for _ in range(num_levels - 1)] if learned_prior else []
        size = num_steps * 3 + self.is_image
        self.set_layers(layers, [size] * num_levels, splits)

    def get_config(self):
        return {**super().get_config(), "num_levels": self.num_levels, "num_steps": self.num_steps,
                "hidden": self.hidden, "network_depth": self.network_depth, "scale": self.scale,
                "learned_prior": self.learned_prior, "actnorm_log_scale_factor": self.actnorm_log_scale_factor}


# Named configs ---------------------------------------------------------------------------

def _register():
    from zoo.registry import register_config

    families = {"nice": NICE, "realnvp": RealNVP, "glow": Glow}

    def register(name, description, **kwargs):
        register_config(name, families[name.split("_")[0]], description, **kwargs)

    register("nice_tiny", "Tiny NICE on 4x4x1 images (tests).", data_shape=(4, 4, 1), num_couplings=4,
             hidden=16, network_depth=2)
    register("nice_2d", "NICE for 2-D toy data: 6 additive couplings, MLPs 2 x 64, normal base.",
             data_shape=(2,), num_couplings=6, hidden=64, network_depth=2, base="normal")
    # The paper's MLPs are 5 x 1000 (19M parameters, 76 MB): 4 x 400 keeps the
    # checkpoint under the 16 MiB bundle cap and trains at a few hundred images/s on 2 cores.
    register("nice_mnist", "NICE for MNIST: 4 additive couplings, MLPs 4 x 400, logistic base (3.2M).",
             data_shape=(28, 28, 1), num_couplings=4, hidden=400, network_depth=4)
    register("realnvp_tiny", "Tiny RealNVP on 4x4x1 images, 2 scales (tests).", data_shape=(4, 4, 1),
             num_scales=2, num_couplings=2, hidden=8, network_depth=1)
    register("realnvp_2d", "RealNVP for 2-D toy data: 8 affine couplings, MLPs 2 x 64 (35k).", data_shape=(2,),
             num_scales=1, num_couplings=8, hidden=64, network_depth=2)
    register("realnvp_mnist", "RealNVP for MNIST on a CPU: 3 scales, 3 couplings per group, convnets of width 64 "
             "(173k).", data_shape=(28, 28, 1), num_scales=3, num_couplings=3, hidden=64, network_depth=2)
    register("glow_tiny", "Tiny Glow on 4x4x1 images, 2 levels x 2 steps (tests).", data_shape=(4, 4, 1),
             num_levels=2, num_steps=2, hidden=8, network_depth=2)
    register("glow_2d", "Glow for 2-D toy data: 8 steps (ActNorm, 2x2 LU linear, affine coupling), MLPs 2 x 64.",
             data_shape=(2,), num_levels=1, num_steps=8, hidden=64, network_depth=2)
    # ActNorm's log-scale factor 3 is Glow's code. On MNIST, the logit preprocessing of
    # RealNVP (not Glow's paper): near-constant background pixels need a hundredfold
    # expansion that sigmoid-scaled couplings cannot give; in a 2-epoch CPU trial it
    # reached 5.0 bits/dim where plain Glow was at 6.5 (recipes/glow_mnist.py).
    register("glow_mnist", "Glow for MNIST on a CPU: 2 levels x 8 steps, convnets of width 64, logit "
             "preprocessing (236k).", data_shape=(28, 28, 1), num_levels=2, num_steps=8, hidden=64,
             network_depth=2, actnorm_log_scale_factor=3.0, preprocessing="logit")
    register("glow_cifar", "Glow for CIFAR-10 on a CPU: 3 levels x 8 steps, convnets of width 96.",
             data_shape=(32, 32, 3), num_levels=3, num_steps=8, hidden=96, network_depth=2,
             actnorm_log_scale_factor=3.0)


_register()
