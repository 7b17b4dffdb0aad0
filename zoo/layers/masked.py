"""Masked layers of autoregressive models: MADE's masked dense layers and their
connectivity masks (Germain et al. 2015, arXiv:1502.03509), PixelCNN's masked
convolutions of type A and B (van den Oord et al. 2016, arXiv:1601.06759) and the gated
PixelCNN block with a vertical and a horizontal stack, which has no blind spot (van den
Oord et al. 2016, arXiv:1606.05328).

Channel groups: with `data_channels` C > 1 (R -> G -> B), feature channel j belongs to
group `j % C` (interleaved), so that splitting a gated block's 2F channels into two
halves of F keeps each channel's group, and an output of C * P channels reshaped to
`(P, C)` gives channel c's P parameters. At the centre tap, type "A" lets group g see
only groups < g (the first layer: a pixel's own value is hidden), type "B" groups <= g.
"""

import keras
import numpy as np
from keras import ops

from zoo.layers.blocks import Conv2D

MASK_TYPES = ("A", "B", "V")


def made_masks(num_inputs, hidden_sizes, num_masks=1, seed=0):
    """MADE's connectivity masks (Germain et al. 2015, eq. 12-13), `num_masks` sets.

    Set 0 uses the natural input ordering; the others draw an ordering and the hidden
    units' degrees from `seed`. Unit k of a hidden layer gets a degree m(k) drawn
    uniformly from [min of the previous layer's degrees, D - 1]; a hidden unit sees the
    previous layer's units of degree <= its own, an output d sees hidden units of degree
    < m(d), the rank of input d in the ordering (1..D).

    Returns:
        `(orderings, masks)`: int32 `(num_masks, D)`, the input positions in sampling
        order, and one float32 `(num_masks, fan_in, fan_out)` array per layer (the
        hidden layers, then the output layer).
    """
    rng = np.random.default_rng(seed)
    orderings, masks = [], [[] for _ in range(len(hidden_sizes) + 1)]
    for k in range(num_masks):
        order = np.arange(num_inputs) if k == 0 else rng.permutation(num_inputs)
        input_degrees = np.empty(num_inputs, "int64")
        input_degrees[order] = np.arange(1, num_inputs + 1)
        degrees = [input_degrees]
        for size in hidden_sizes:
            low = min(int(degrees[-1].min()), num_inputs - 1)
            if k == 0:  # degrees spread evenly over [low, D - 1]: the deterministic set
                degrees.append(np.round(np.linspace(low, max(num_inputs - 1, low), size)).astype("int64"))
            else:
                degrees.append(rng.integers(low, num_inputs, size))
        for layer in range(len(hidden_sizes)):
            masks[layer].append(degrees[layer][:, None] <= degrees[layer + 1][None, :])
        masks[-1].append(degrees[-1][:, None] < input_degrees[None, :])
        orderings.append(order)
    return np.array(orderings, "int32"), [np.array(m, "float32") for m in masks]


@keras.saving.register_keras_serializable(package="zoo")
class MaskedDense(keras.layers.Layer):
    """A dense layer whose kernel is multiplied by a mask given at call time:
    `call(x, mask) = x @ (kernel * mask) + bias` (MADE; the mask set is chosen per
    batch, so it is an input, not a weight).

    Args:
        units: int. Output width.
        use_bias: bool.
    """

    def __init__(self, units, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.use_bias = use_bias

    def build(self, x_shape, mask_shape=None):
        self.kernel = self.add_weight(shape=(x_shape[-1], self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias") if self.use_bias else None

    def call(self, x, mask):
        y = ops.matmul(x, self.kernel * ops.cast(mask, self.kernel.dtype))
        return y + self.bias if self.use_bias else y

    def compute_output_shape(self, x_shape, mask_shape=None):
        return (*x_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}


def conv_mask(kernel_size, in_channels, out_channels, mask_type, data_channels=1):
    """The `(kh, kw, in, out)` 0/1 kernel mask of a masked convolution.

    "A" / "B": rows above the centre, and the centre row left of the centre, are seen;
    at the centre tap, output group g sees input groups < g ("A") or <= g ("B")
    (groups interleaved, `j % data_channels`). "V" (the gated vertical stack): every row
    up to and including the centre row, all columns; the stack is shifted down one row
    before the horizontal stack reads it.
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"`mask_type` must be one of {MASK_TYPES}. Received: {mask_type!r}")
    kh, kw = kernel_size
    mask = np.zeros((kh, kw, in_channels, out_channels), "float32")
    mask[:kh // 2] = 1.0
    if mask_type == "V":
        mask[kh // 2] = 1.0
        return mask
    mask[kh // 2, :kw // 2] = 1.0
    group_in = np.arange(in_channels)[:, None] % data_channels
    group_out = np.arange(out_channels)[None, :] % data_channels
    mask[kh // 2, kw // 2] = (group_in < group_out) if mask_type == "A" else (group_in <= group_out)
    return mask


@keras.saving.register_keras_serializable(package="zoo")
class MaskedConv2D(Conv2D):
    """PixelCNN's masked convolution (`conv_mask`), "same" padding, the mask applied to
    the kernel inside the op (no weight assignment in `call`).

    Args:
        filters: int. Output channels (a multiple of `data_channels` when that is > 1).
        kernel_size: int or tuple. Odd sizes.
        mask_type: str. "A" (first layer), "B" (later layers) or "V" (vertical stack).
        data_channels: int. Channel groups of the autoregressive order within a pixel
            (3 for R -> G -> B; 1 for grayscale, binary images and code grids).
        **kwargs: `keras.layers.Conv2D` arguments.
    """

    def __init__(self, filters, kernel_size, mask_type="B", data_channels=1, **kwargs):
        kwargs.pop("padding", None)
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        if mask_type not in MASK_TYPES:
            raise ValueError(f"`mask_type` must be one of {MASK_TYPES}. Received: {mask_type!r}")
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"`kernel_size` must be odd; received {self.kernel_size}.")
        if data_channels > 1 and filters % data_channels:
            raise ValueError(f"`filters`={filters} must be a multiple of `data_channels`={data_channels}.")
        self.mask_type = mask_type
        self.data_channels = data_channels

    def build(self, input_shape):
        super().build(input_shape)
        self.mask = conv_mask(self.kernel_size, input_shape[-1], self.filters, self.mask_type, self.data_channels)

    def convolution_op(self, inputs, kernel, bias=None):
        return super().convolution_op(inputs, kernel * ops.cast(self.mask, kernel.dtype), bias)

    def get_config(self):
        config = super().get_config()
        config.pop("padding")
        return {**config, "mask_type": self.mask_type, "data_channels": self.data_channels}


def shift_down(x):
    """Move feature maps `(N, H, W, C)` down one row (zeros on top): row i then holds
    what row i - 1 saw, so the vertical stack never sees the current row."""
    return ops.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


def gate(x):
    """tanh(a) * sigmoid(b) of the two channel halves (the gated activation unit)."""
    a, b = ops.split(x, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


@keras.saving.register_keras_serializable(package="zoo")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One layer of the gated PixelCNN (van den Oord et al. 2016, figure 2): a vertical
    stack (k x k, rows up to the current one, read by the horizontal stack one row
    down) and a horizontal stack (1 x k, left of the current pixel), tanh-sigmoid
    gates, a residual connection on the horizontal stack (not in the first layer,
    whose input is the data) and an optional class bias on both gates.

    `call(v, h, labels=None) -> (v, h)`; the first layer takes the data as both.

    Args:
        filters: int. Channels F of each stack (the gates use 2F).
        kernel_size: int. Odd k.
        first: bool. Type-"A" horizontal convolution and no residual.
        data_channels: int. Channel groups (see the module docstring).
        num_classes: int or None. Class-conditional gate biases.
    """

    def __init__(self, filters, kernel_size=3, first=False, data_channels=1, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.first = first
        self.data_channels = data_channels
        self.num_classes = num_classes
        k, c = kernel_size, data_channels
        self.vertical = MaskedConv2D(2 * filters, (k, k), "V", c, name="vertical")
        self.horizontal = MaskedConv2D(2 * filters, (1, k), "A" if first else "B", c, name="horizontal")
        # The vertical stack shifted down holds only rows above: a plain 1x1 link.
        self.link = Conv2D(2 * filters, 1, name="link")
        self.output_conv = MaskedConv2D(filters, 1, "B", c, name="output")
        self.class_bias = keras.layers.Embedding(num_classes, 4 * filters, embeddings_initializer="zeros",
                                                 name="class_bias") if num_classes else None

    def build(self, v_shape, h_shape=None, labels_shape=None):
        self.vertical.build(v_shape)
        self.horizontal.build(h_shape or v_shape)
        self.link.build((*v_shape[:-1], 2 * self.filters))
        self.output_conv.build((*v_shape[:-1], self.filters))
        if self.class_bias is not None:
            self.class_bias.build((None,))

    def call(self, v, h, labels=None):
        v_pre = self.vertical(v)
        h_pre = self.horizontal(h) + self.link(shift_down(v_pre))
        if self.class_bias is not None and labels is not None:
            bias = self.class_bias(ops.cast(labels, "int32"))[:, None, None, :]
            v_bias, h_bias = ops.split(ops.cast(bias, v_pre.dtype), 2, axis=-1)
            v_pre, h_pre = v_pre + v_bias, h_pre + h_bias
        h_out = self.output_conv(gate(h_pre))
        return gate(v_pre), h_out if self.first else h + h_out

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "first": self.first, "data_channels": self.data_channels, "num_classes": self.num_classes}
