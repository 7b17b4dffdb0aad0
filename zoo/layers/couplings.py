"""Coupling layers of NICE, RealNVP and Glow, and the small network inside them.

Every invertible layer here and in `zoo.layers.invertible` follows one contract:
`layer(x, inverse=False) -> (y, log_det)`, where `log_det` is the `(batch,)`
log |det dy/dx| of the map just applied. So `inverse=True` returns minus the
forward log-det at the output, and a flow's log-det is the plain sum over its
layers in either direction. Inputs are vectors `(batch, d)` or channels-last
images `(batch, h, w, c)`.

A coupling keeps the part of `x` selected by a binary mask `b` and transforms the
rest conditioned on it (Dinh et al. 2015, eq. 4-6; 2017, eq. 8-9):

    y = b * x + (1 - b) * (x * exp(log_s(b * x)) + t(b * x))

so the Jacobian is triangular and log |det| = sum (1 - b) * log_s. On images the
network sees `b * x` (a convnet needs the spatial layout); on vectors it takes only the
kept features and returns parameters for only the others, as NICE's MLPs do, which
halves its first and last layers. The network's last layer starts at zero (Glow,
section 3.3), so every coupling starts as the identity (or a fixed scale, for the
sigmoid).
"""

import keras
import numpy as np
from keras import ops

from zoo.layers.invertible import CouplingNetwork

PARTITIONS = ("checkerboard", "channel")
SCALES = ("tanh", "sigmoid")


def coupling_mask(shape, partition, parity):
    """The binary mask `b` (1 = kept) of one example's shape `(d,)` or `(h, w, c)`.

    "checkerboard" alternates spatial positions (for vectors: even/odd indices, the
    partition of NICE); "channel" keeps the first half of the channels (the first half
    of a vector). `parity=1` swaps the halves.
    """
    if partition not in PARTITIONS:
        raise ValueError(f"`partition` must be one of {PARTITIONS}. Received: {partition!r}")
    if parity not in (0, 1):
        raise ValueError(f"`parity` must be 0 or 1. Received: {parity!r}")
    *spatial, channels = shape
    if partition == "checkerboard" and spatial:
        rows, cols = np.indices(spatial)
        mask = np.broadcast_to(((rows + cols) % 2 == 0)[..., None], shape)
    elif partition == "checkerboard":
        mask = np.arange(channels) % 2 == 0
    else:
        if channels < 2:
            raise ValueError(f"A 'channel' partition needs at least 2 channels; received shape {tuple(shape)}. "
                             "Use partition='checkerboard' or squeeze the images first.")
        mask = np.broadcast_to(np.arange(channels) < channels // 2, shape)
    return (mask != bool(parity)).astype("float32")


class _Coupling(keras.layers.Layer):
    """Shared by the additive and affine couplings: the partition and the network;
    subclasses define `_couple(x, params, free, inverse) -> (y, log_det)`."""

    num_outputs = 1  # network outputs per transformed feature (channel)

    def __init__(self, partition="checkerboard", parity=0, hidden=64, depth=2, **kwargs):
        super().__init__(**kwargs)
        coupling_mask((2, 2, 2), partition, parity)  # validates both arguments
        self.partition = partition
        self.parity = parity
        self.hidden = hidden
        self.depth = depth

    def build(self, input_shape):
        mask = coupling_mask(tuple(input_shape[1:]), self.partition, self.parity)
        self.vector = len(input_shape) == 2
        if self.vector:
            self.kept_indices = np.flatnonzero(mask)
            self.free_indices = np.flatnonzero(1 - mask)
            self.unpermute = np.argsort(np.concatenate([self.kept_indices, self.free_indices]))
            network_input, free_features = (input_shape[0], len(self.kept_indices)), len(self.free_indices)
        else:
            self.mask = mask
            network_input, free_features = tuple(input_shape), input_shape[-1]
        self.free_features = free_features
        self.network = CouplingNetwork(self.num_outputs * free_features, self.hidden, self.depth,
                                       dtype=self.dtype_policy)
        self.network.build(network_input)

    def call(self, x, inverse=False):
        if self.vector:
            kept = ops.take(x, self.kept_indices, axis=-1)
            free = ops.take(x, self.free_indices, axis=-1)
            free, log_det = self._couple(free, self.network(kept), None, inverse)
            return ops.take(ops.concatenate([kept, free], axis=-1), self.unpermute, axis=-1), log_det
        mask = ops.convert_to_tensor(self.mask, x.dtype)
        return self._couple(x, self.network(x * mask), 1.0 - mask, inverse)

    def _sum(self, x):
        return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=-1)

    def compute_output_shape(self, input_shape, inverse=False):
        return tuple(input_shape), (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "partition": self.partition, "parity": self.parity,
                "hidden": self.hidden, "depth": self.depth}


@keras.saving.register_keras_serializable(package="zoo")
class AdditiveCoupling(_Coupling):
    """NICE's additive coupling, `y = x + (1 - b) * m(b * x)`: volume preserving.

    Args:
        partition: str. `"checkerboard"` (alternating positions; even/odd indices of a
            vector, as NICE) or `"channel"` (first/second half of the channels).
        parity: int, 0 or 1. Which half is kept; alternate it between layers.
        hidden: int. Width of the network `m`.
        depth: int. Hidden layers of `m`.

    Call args:
        x: `(batch, d)` or `(batch, h, w, c)` tensor.
        inverse: bool. Apply the inverse map.

    Returns:
        `(y, log_det)`, `log_det` zeros of shape `(batch,)`.

    References:
        Dinh, Krueger & Bengio 2015, arXiv:1410.8516, section 3.2.
    """

    def _couple(self, x, shift, free, inverse):
        if free is not None:
            shift = shift * free
        y = x - shift if inverse else x + shift
        return y, ops.zeros((ops.shape(x)[0],), dtype=x.dtype)


@keras.saving.register_keras_serializable(package="zoo")
class AffineCoupling(_Coupling):
    """Affine coupling, `y = b * x + (1 - b) * (x * exp(log_s) + t)` with
    `(log_s, t) = NN(b * x)` (RealNVP, Glow).

    The scale is kept numerically safe: `"tanh"` uses `log_s = scale * tanh(raw)`
    with a learned per-channel `scale` (RealNVP's code), `"sigmoid"` uses
    `s = sigmoid(raw + 2)` (Glow), so `s` in (0, 1) and the layer starts close to the
    identity.

    Args:
        partition: str. `"checkerboard"` or `"channel"` (see `AdditiveCoupling`).
        parity: int, 0 or 1. Which half is kept.
        hidden: int. Width of the network.
        depth: int. Hidden layers of the network.
        scale: str. `"tanh"` or `"sigmoid"`.

    Call args:
        x: `(batch, d)` or `(batch, h, w, c)` tensor.
        inverse: bool. Apply the inverse map.

    Returns:
        `(y, log_det)` with `log_det` of shape `(batch,)`.

    References:
        Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803, section 3.3-3.4;
        Kingma & Dhariwal 2018, arXiv:1807.03039, table 1.
    """

    num_outputs = 2

    def __init__(self, partition="checkerboard", parity=0, hidden=64, depth=2, scale="tanh", **kwargs):
        super().__init__(partition, parity, hidden, depth, **kwargs)
        if scale not in SCALES:
            raise ValueError(f"`scale` must be one of {SCALES}. Received: {scale!r}")
        self.scale = scale

    def build(self, input_shape):
        super().build(input_shape)
        self.tanh_scale = None
        if self.scale == "tanh":
            self.tanh_scale = self.add_weight(shape=(self.free_features,), initializer="ones", name="tanh_scale")

    def _couple(self, x, params, free, inverse):
        raw, shift = ops.split(params, 2, axis=-1)
        if self.scale == "tanh":
            log_s = self.tanh_scale * ops.tanh(raw)
        else:
            log_s = ops.log_sigmoid(raw + 2.0)
        if free is not None:  # masked: the kept positions pass unchanged
            log_s, shift = log_s * free, shift * free
        log_det = self._sum(log_s)
        if inverse:
            return (x - shift) * ops.exp(-log_s), -log_det
        return x * ops.exp(log_s) + shift, log_det

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
