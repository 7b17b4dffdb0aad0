"""The bijection of a normalizing flow (NICE, RealNVP, Glow) as one network: invertible
preprocessing, then invertible layers in scales, with half of the channels factored out
after every scale but the last (RealNVP, arXiv:1605.08803, section 3.6).

Direction: forward maps data x to the latent z, `network(x) -> (z, log_det)`;
`network(z, inverse=True) -> (x, log_det)` maps back. Like its layers
(`zoo.layers.couplings`), `log_det` is the `(batch,)` log |det| of the map applied.
`nice_network`, `realnvp_network` and `glow_network` build the three papers'
architectures; their layers get names from their place in it, so that two networks
built alike have equal configs (copies and warm starts compare them). A flow's weight
file from before this network existed has another layout; `to_current_layout` reads it.
"""

import itertools
import math
from pathlib import Path

import h5py
import keras
from keras import ops

from zoo.layers.couplings import AdditiveCoupling, AffineCoupling
from zoo.layers.invertible import ActNorm, DiagonalScaling, InvertibleConv1x1, LogitTransform, Split, Squeeze

PREPROCESSING = ("none", "unit", "logit")


@keras.saving.register_keras_serializable(package="zoo")
class MultiScaleFlow(keras.layers.Layer):
    """An invertible network from model-space data to a latent of the same shape.

    Forward: preprocess (its log-det counted), then each scale's layers; after every
    scale but the last, an optional learned-prior `Split` and half of the channels
    factored out. The latent z is all factored-out parts and the last scale's output,
    flattened and concatenated in order, shaped like x; `latent_shapes` holds the
    parts' shapes.

    Args:
        flow_layers: list of invertible layers (`layer(h, inverse=False) -> (y, log_det)`)
            in forward order.
        scale_sizes: list of int. How many of `flow_layers` belong to each scale.
        split_layers: list of `Split`. The learned prior before each factoring (one per
            scale but the last), or none: factor straight to the base.
        flatten: bool. Run the layers on flattened vectors (NICE on images).
        preprocessing: str. `"none"`, `"unit"` (x -> (x + 1) / 2, to [0, 1)) or
            `"logit"` (`LogitTransform`).
        logit_alpha: float. `alpha` of the logit transform.

    Call args:
        x: `(batch, *data_shape)`: data, or the latent z if `inverse`.
        inverse: bool. Map z back to x.

    Returns:
        `(y, log_det)`: z and log |det dz/dx| (x and log |det dx/dz| if `inverse`).

    References:
        Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803, section 3.6.
    """

    def __init__(self, flow_layers, scale_sizes, split_layers=(), flatten=False, preprocessing="none",
                 logit_alpha=0.05, **kwargs):
        super().__init__(**kwargs)
        if preprocessing not in PREPROCESSING:
            raise ValueError(f"`preprocessing` must be one of {PREPROCESSING}. Received: {preprocessing!r}")
        if sum(scale_sizes) != len(flow_layers):
            raise ValueError(f"`scale_sizes` {list(scale_sizes)} must add up to the {len(flow_layers)} flow layers.")
        if split_layers and len(split_layers) != len(scale_sizes) - 1:
            raise ValueError(f"Give one split layer per scale but the last ({len(scale_sizes) - 1}), or none. "
                             f"Received {len(split_layers)}.")
        self.flow_layers = list(flow_layers)
        self.scale_sizes = tuple(int(size) for size in scale_sizes)
        self.split_layers = list(split_layers)
        self.flatten = bool(flatten)
        self.preprocessing = preprocessing
        self.logit_alpha = logit_alpha
        self.logit = LogitTransform(logit_alpha) if preprocessing == "logit" else None

    def build(self, input_shape):
        self.data_shape = tuple(input_shape[1:])
        if self.logit is not None:
            _build(self.logit, input_shape)
        shape = (None, math.prod(self.data_shape)) if self.flatten else (None, *self.data_shape)
        latent_shapes, layers = [], iter(self.flow_layers)
        for scale, size in enumerate(self.scale_sizes):
            for layer in itertools.islice(layers, size):
                _build(layer, shape)
                shape = tuple(layer.compute_output_shape(shape)[0])
            if scale < len(self.scale_sizes) - 1:
                if self.split_layers:
                    _build(self.split_layers[scale], shape)
                shape = (*shape[:-1], shape[-1] // 2)
                latent_shapes.append(shape[1:])
        self.latent_shapes = (*latent_shapes, shape[1:])

    def call(self, x, inverse=False):
        return self._inverse(x) if inverse else self._forward(x)

    def _forward(self, x, initialize=False):
        batch = ops.shape(x)[0]
        h, log_det = self._preprocess(x)
        if self.flatten:
            h = ops.reshape(h, (batch, -1))
        pieces, layers = [], iter(self.flow_layers)
        for scale, size in enumerate(self.scale_sizes):
            for layer in itertools.islice(layers, size):
                if initialize and isinstance(layer, ActNorm) and not layer.is_initialized:
                    layer.initialize(h)
                h, layer_log_det = layer(h)
                log_det = log_det + layer_log_det
            if scale < len(self.scale_sizes) - 1:
                if self.split_layers:
                    h, split_log_det = self.split_layers[scale](h)
                    log_det = log_det + split_log_det
                h, factored = ops.split(h, 2, axis=-1)
                pieces.append(factored)
        flat = ops.concatenate([ops.reshape(piece, (batch, -1)) for piece in pieces + [h]], axis=-1)
        return ops.reshape(flat, (batch, *self.data_shape)), log_det

    def _inverse(self, z):
        batch = ops.shape(z)[0]
        flat, pieces, start = ops.reshape(z, (batch, -1)), [], 0
        for shape in self.latent_shapes:
            pieces.append(ops.reshape(flat[:, start:start + math.prod(shape)], (-1, *shape)))
            start += math.prod(shape)
        h, log_det, end = pieces[-1], ops.zeros((batch,)), len(self.flow_layers)
        for scale in reversed(range(len(self.scale_sizes))):
            if scale < len(self.scale_sizes) - 1:
                h = ops.concatenate([h, pieces[scale]], axis=-1)
                if self.split_layers:
                    h, split_log_det = self.split_layers[scale](h, inverse=True)
                    log_det = log_det + split_log_det
            start = end - self.scale_sizes[scale]
            for layer in reversed(self.flow_layers[start:end]):
                h, layer_log_det = layer(h, inverse=True)
                log_det = log_det + layer_log_det
            end = start
        h = ops.reshape(h, (-1, *self.data_shape))
        if self.preprocessing == "logit":
            x, logit_log_det = self.logit(h, inverse=True)
            return x, log_det + logit_log_det
        if self.preprocessing == "unit":
            return 2.0 * h - 1.0, log_det + math.prod(self.data_shape) * math.log(2.0)
        return h, log_det

    def _preprocess(self, x):
        if self.preprocessing == "logit":
            return self.logit(x)
        if self.preprocessing == "unit":
            return (x + 1.0) / 2.0, ops.full((ops.shape(x)[0],), math.prod(self.data_shape) * math.log(0.5))
        return x, ops.zeros((ops.shape(x)[0],))

    # ActNorm's data-dependent initialization (Glow, section 3.1) -------------------------

    def _actnorms(self):
        # A method, not a property: Keras saves weights by the paths it walks through
        # attributes, and a list-valued property would be one more path to them.
        return [layer for layer in self.flow_layers if isinstance(layer, ActNorm)]

    @property
    def initialized(self):
        """Whether every ActNorm has had its data-dependent initialization."""
        return all(layer.is_initialized for layer in self._actnorms())

    def initialize(self, x, force=False):
        """Initialize each ActNorm not yet initialized (all if `force`) from the statistics
        of its own input on the batch `x`, in one eager forward pass. It assigns
        variables: call it outside any compiled function."""
        if force:
            for layer in self._actnorms():
                layer.initialized.assign(0.0)
        if not self.initialized:
            self._forward(ops.convert_to_tensor(x, "float32"), initialize=True)

    # Serialization ------------------------------------------------------------------------

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return tuple(x_shape), (x_shape[0],)

    def get_config(self):
        return {**super().get_config(),
                "flow_layers": [keras.saving.serialize_keras_object(layer) for layer in self.flow_layers],
                "scale_sizes": list(self.scale_sizes),
                "split_layers": [keras.saving.serialize_keras_object(layer) for layer in self.split_layers],
                "flatten": self.flatten, "preprocessing": self.preprocessing, "logit_alpha": self.logit_alpha}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("flow_layers", "split_layers"):
            config[key] = [keras.saving.deserialize_keras_object(layer) for layer in config[key]]
        return cls(**config)


def _build(layer, shape):
    if not layer.built:  # deserialized layers come built from their build config
        layer.build(shape)


# The architectures of NICE, RealNVP and Glow -----------------------------------------------

def check_scales(data_shape, value, name, squeezes):
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


def nice_network(data_shape, num_couplings=4, hidden=1000, network_depth=5, preprocessing=None, logit_alpha=0.05):
    """NICE's bijection (arXiv:1410.8516): `num_couplings` additive couplings with
    alternating (even/odd) partitions of the flattened data, each an MLP of `network_depth`
    hidden layers of width `hidden` (the paper: 4 couplings, 5 x 1000), then a diagonal
    scaling. `preprocessing` None: "unit" for images (the paper's data are in [0, 1])."""
    if math.prod(data_shape) % 2:
        raise ValueError(f"NICE splits the data into two halves; data_shape={tuple(data_shape)} has an odd "
                         f"number of dimensions ({math.prod(data_shape)}).")
    layers = [AdditiveCoupling("checkerboard", i % 2, hidden, network_depth, name=f"coupling_{i}")
              for i in range(num_couplings)]
    return MultiScaleFlow([*layers, DiagonalScaling(name="scaling")], [num_couplings + 1], flatten=True,
                          preprocessing=preprocessing or ("unit" if len(data_shape) == 3 else "none"),
                          logit_alpha=logit_alpha)


def realnvp_network(data_shape, num_scales=2, num_couplings=3, hidden=64, network_depth=2, scale="tanh",
                    preprocessing=None, logit_alpha=0.05):
    """RealNVP's multi-scale bijection (arXiv:1605.08803): each scale but the last has
    `num_couplings` checkerboard affine couplings, a squeeze and `num_couplings`
    channel-wise couplings, then half of the channels are factored out; the last scale
    has `num_couplings + 1` checkerboard couplings (vectors: `num_couplings` couplings
    alternating halves). Images need h and w divisible by 2^(num_scales - 1).
    `preprocessing` None: "logit" for images (`logit_alpha` 0.05, as the paper).

    Differences from the paper, for CPU budgets: the coupling networks are small plain
    convnets (`CouplingNetwork`, `network_depth` hidden layers of width `hidden`) instead of
    ResNets with batch norm, and there is no batch normalization layer in the flow.
    """
    check_scales(data_shape, num_scales, "num_scales", num_scales - 1)

    def couplings(partition, count, prefix):
        return [AffineCoupling(partition, i % 2, hidden, network_depth, scale, name=f"{prefix}_{i}")
                for i in range(count)]

    if len(data_shape) != 3:
        layers, sizes = couplings("channel", num_couplings, "coupling"), [num_couplings]
    else:
        layers, sizes = [], [2 * num_couplings + 1] * (num_scales - 1) + [num_couplings + 1]
        for s in range(num_scales - 1):
            layers += [*couplings("checkerboard", num_couplings, f"scale{s}_checkerboard"),
                       Squeeze(name=f"scale{s}_squeeze"), *couplings("channel", num_couplings, f"scale{s}_channel")]
        layers += couplings("checkerboard", num_couplings + 1, f"scale{num_scales - 1}_checkerboard")
    return MultiScaleFlow(layers, sizes, logit_alpha=logit_alpha,
                          preprocessing=preprocessing or ("logit" if len(data_shape) == 3 else "none"))


def glow_network(data_shape, num_levels=3, num_steps=8, hidden=128, network_depth=2, scale="sigmoid",
                 learned_prior=True, actnorm_log_scale_factor=1.0, preprocessing="none", logit_alpha=0.05, seed=None):
    """Glow's bijection (arXiv:1807.03039): `num_levels` levels of a squeeze and
    `num_steps` steps of flow (ActNorm with `actnorm_log_scale_factor`, an invertible
    1x1 convolution in LU form from `seed`, an affine coupling of `network_depth` hidden
    layers of width `hidden`; the paper: 512 wide, 2 deep), then a split with a learned prior
    (`learned_prior`) on all levels but the last. Vectors: one level, no squeeze.
    Images need h and w divisible by 2^num_levels.

    Differences from the paper, for CPU budgets: no ActNorm inside the coupling
    networks and no learned prior on the top level (it is N(0, I)).
    """
    check_scales(data_shape, num_levels, "num_levels", num_levels)
    layers = []
    for level in range(num_levels):
        if len(data_shape) == 3:
            layers.append(Squeeze(name=f"level{level}_squeeze"))
        for step in range(num_steps):
            name, conv_seed = f"level{level}_step{step}", None if seed is None else seed + level * num_steps + step
            layers += [ActNorm(log_scale_factor=actnorm_log_scale_factor, name=f"{name}_actnorm"),
                       InvertibleConv1x1(seed=conv_seed, name=f"{name}_conv1x1"),
                       AffineCoupling("channel", 0, hidden, network_depth, scale, name=f"{name}_coupling")]
    splits = [Split(name=f"level{level}_split") for level in range(num_levels - 1)] if learned_prior else []
    return MultiScaleFlow(layers, [len(layers) // num_levels] * num_levels, splits, preprocessing=preprocessing,
                          logit_alpha=logit_alpha)


# The pre-contract weight layout ---------------------------------------------------------------

# Before the bijection was this network, the flow model held its layers itself and Keras
# saved them by the model's attribute paths: the network's `flow_layers/X` were the
# model's `flow_layers/X`, and its `split_layers/X` were reached through `Model.layers`,
# so saved at `layers/X`. Item names X (snake-case class name and counter) are the same.
PRE_CONTRACT_LISTS = {"flow_layers": "flow_layers", "split_layers": "layers"}


def is_pre_contract_layout(filepath):
    """Whether `filepath` is a `.weights.h5` file of a flow model in the pre-contract layout."""
    if not str(filepath).endswith(".weights.h5") or not Path(filepath).is_file():
        return False
    with h5py.File(filepath, "r") as f:
        return "flow_layers" in f


def to_current_layout(legacy, target):
    """Overwrite the values of `target`, a flow model's weight file in the current layout
    (`model.save_weights`: its network at `layers/<network>/...`), with those at the same
    weights' pre-contract paths in `legacy`. Paths outside the network (an optimizer's)
    are copied when `legacy` has them. Raises ValueError unless every network weight is
    found with its shape and every legacy layer weight is used."""
    with h5py.File(legacy, "r") as source, h5py.File(target, "r+") as out:
        unused = {path for path in _datasets(source) if path.split("/")[0] in PRE_CONTRACT_LISTS.values()}
        for path in _datasets(out):
            parts = path.split("/")
            in_network = parts[0] == "layers" and len(parts) > 3 and parts[2] in PRE_CONTRACT_LISTS
            old = "/".join([PRE_CONTRACT_LISTS[parts[2]], *parts[3:]]) if in_network else path
            if old not in source and not in_network:
                continue  # e.g. an optimizer the legacy file was saved without
            if old not in source or source[old].shape != out[path].shape:
                found = f"has shape {source[old].shape}" if old in source else "is missing"
                raise ValueError(f"{legacy} does not hold this model's weights: {old} {found} (the model's "
                                 f"{path} is {out[path].shape}). Is the config the checkpoint's?")
            out[path][()] = source[old][()]
            unused.discard(old)
        if unused:
            raise ValueError(f"{legacy} holds weights this model has no place for, e.g. {sorted(unused)[0]}. "
                             "Is the config the checkpoint's?")


def _datasets(h5_file):
    paths = []
    h5_file.visititems(lambda path, item: paths.append(path) if isinstance(item, h5py.Dataset) else None)
    return paths
