"""Autoregressive backbones: each maps data to the parameters of p(x_i | x_<i) at every
position at once (one pass; sampling makes one pass per position).

- `NADENetwork(x) -> logits (N, D)`: binary vectors, natural order, shared weights.
- `MADENetwork(x, mask_index) -> logits (N, D)`: binary vectors, one of `num_masks`
  orderings / connectivity sets.
- `PixelCNNNetwork(x, labels=None) -> (N, H, W, C, P)`: P parameters per sub-pixel, raster
  order with R -> G -> B inside a pixel; plain masked convolutions or the gated
  vertical + horizontal stacks; optionally class-conditional; an embedding of integer
  codes instead of pixel values with `num_embeddings`.
"""

import keras
import numpy as np
from keras import ops

from zoo.layers.masked import GatedPixelCNNBlock, MaskedConv2D, MaskedDense, made_masks


def exclusive_cumsum(values):
    """sum_{j < d} values[:, j] for every d, of `(N, D, H)`: in blocks of ~sqrt(D) with
    triangular matmuls (O(N D^1.5 H)). XLA lowers `cumsum` along a long axis to a
    windowed reduction that costs O(N D^2 H) on CPUs: 10x slower at D = 784."""
    num, length, width = ops.shape(values)
    block = max(1, int(np.ceil(np.sqrt(length))))
    blocks = -(-length // block)
    padded = ops.pad(values, ((0, 0), (0, blocks * block - length), (0, 0)))
    padded = ops.reshape(padded, (-1, blocks, block, width))
    strict = lambda n: ops.convert_to_tensor(np.tril(np.ones((n, n), "float32"), -1), values.dtype)
    within = ops.einsum("ts,nbsh->nbth", strict(block), padded)  # earlier entries of the same block
    totals = ops.sum(padded, axis=2)
    before = ops.einsum("cb,nbh->nch", strict(blocks), totals)  # whole earlier blocks
    out = ops.reshape(within + before[:, :, None, :], (-1, blocks * block, width))
    return out[:, :length]


@keras.saving.register_keras_serializable(package="zoo")
class NADENetwork(keras.layers.Layer):
    """NADE (Larochelle & Murray 2011, eq. 3-4): h_d = sigmoid(c + W_<d x_<d),
    p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d), with the running sum W_<d x_<d shared
    between positions (O(DH) per example).

    Args:
        num_inputs: int. D.
        hidden: int. H.

    References:
        Larochelle & Murray 2011, AISTATS, "The Neural Autoregressive Distribution Estimator".
    """

    def __init__(self, num_inputs, hidden=500, **kwargs):
        super().__init__(**kwargs)
        self.num_inputs = num_inputs
        self.hidden = hidden

    def build(self, input_shape=None):
        d, h = self.num_inputs, self.hidden
        self.w = self.add_weight(shape=(d, h), initializer=keras.initializers.RandomNormal(stddev=0.01), name="w")
        self.c = self.add_weight(shape=(h,), initializer="zeros", name="c")
        self.v = self.add_weight(shape=(d, h), initializer=keras.initializers.RandomNormal(stddev=0.01), name="v")
        self.b = self.add_weight(shape=(d,), initializer="zeros", name="b")

    def call(self, x):
        x = ops.cast(ops.reshape(x, (-1, self.num_inputs)), self.compute_dtype)
        preactivation = self.c + exclusive_cumsum(x[:, :, None] * self.w[None])  # (N, D, H)
        return ops.sum(ops.sigmoid(preactivation) * self.v[None], axis=-1) + self.b

    # One position at a time (sampling): the running pre-activation a = c + W_<d x_<d.

    def initial_state(self, batch):
        return ops.broadcast_to(self.c[None], (batch, self.hidden))

    def step_logits(self, state, d):
        v_d, b_d = ops.take(self.v, d, axis=0), ops.take(self.b, d, axis=0)
        return ops.sum(ops.sigmoid(state) * v_d[None], axis=-1) + b_d

    def step_update(self, state, d, x_d):
        return state + x_d[:, None] * ops.take(self.w, d, axis=0)[None]

    def get_config(self):
        return {**super().get_config(), "num_inputs": self.num_inputs, "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="zoo")
class MADENetwork(keras.layers.Layer):
    """MADE (Germain et al. 2015): an MLP whose masked weights make output d depend only
    on inputs earlier in an ordering. `num_masks` sets of orderings and connectivity
    (`zoo.layers.masked.made_masks`, set 0 the natural order), chosen per call by
    `mask_index` (an int or a traced scalar): order-agnostic, connectivity-agnostic
    training draws one per batch, and test-time ensembling averages them.

    Args:
        num_inputs: int. D.
        hidden_sizes: sequence of int. Hidden layer widths (ReLU).
        num_masks: int. Mask sets.
        mask_seed: int. Seed of the orderings and degrees (part of the architecture).

    References:
        Germain, Gregor, Murray & Larochelle 2015, arXiv:1502.03509.
    """

    def __init__(self, num_inputs, hidden_sizes=(500,), num_masks=1, mask_seed=0, **kwargs):
        super().__init__(**kwargs)
        self.num_inputs = num_inputs
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.num_masks = num_masks
        self.mask_seed = mask_seed
        self.orderings, self.masks = made_masks(num_inputs, self.hidden_sizes, num_masks, mask_seed)
        self.dense_layers = [MaskedDense(units, name=f"dense_{i}")
                             for i, units in enumerate((*self.hidden_sizes, num_inputs))]

    def build(self, x_shape=None, mask_index_shape=None):
        width = self.num_inputs
        for layer in self.dense_layers:
            layer.build((None, width))
            width = layer.units

    def call(self, x, mask_index=0):
        h = ops.cast(ops.reshape(x, (-1, self.num_inputs)), self.compute_dtype)
        static = isinstance(mask_index, (int, np.integer))  # index the NumPy masks: no (K, in, out) copy
        for i, (layer, masks) in enumerate(zip(self.dense_layers, self.masks)):
            h = layer(h, masks[mask_index] if static else ops.take(ops.convert_to_tensor(masks), mask_index, axis=0))
            if i < len(self.dense_layers) - 1:
                h = ops.relu(h)
        return h

    def get_config(self):
        return {**super().get_config(), "num_inputs": self.num_inputs, "hidden_sizes": list(self.hidden_sizes),
                "num_masks": self.num_masks, "mask_seed": self.mask_seed}


@keras.saving.register_keras_serializable(package="zoo")
class PixelCNNNetwork(keras.layers.Layer):
    """PixelCNN (van den Oord et al. 2016): `call(x, labels=None) -> (N, H, W, C, P)`,
    the P head parameters of every sub-pixel given the ones before it.

    Plain (`gated=False`): a type-A convolution, then residual blocks of masked
    1x1 -> k x k -> 1x1 type-B convolutions (the paper's section 3.4 block). Gated: the
    gated vertical + horizontal stacks (`GatedPixelCNNBlock`), no blind spot. Both end
    in ReLU -> 1x1 -> ReLU -> 1x1 type-B convolutions to C * P channels.

    Args:
        data_channels: int. C (3 for RGB, ordered R -> G -> B; 1 otherwise).
        params_per_channel: int. P (1 Bernoulli logit, 256 softmax logits, 3K for a
            logistic mixture, K code logits).
        filters: int. Feature channels (a multiple of C).
        num_layers: int. Residual blocks or gated layers after the first layer.
        kernel_size: int. Odd kernel of the later layers.
        first_kernel_size: int. Odd kernel of the first (type-A) layer.
        gated: bool.
        num_classes: int or None. Class-conditional (a per-class bias in each gated layer,
            or added after the first layer of the plain net).
        num_embeddings: int or None. Inputs are integer codes `(N, H, W)` in
            0..num_embeddings-1, embedded to `filters` channels (a prior over code grids).
        hidden_output: int or None. Width of the output 1x1 layers (default `filters`).

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu 2016, arXiv:1601.06759;
        van den Oord et al. 2016, arXiv:1606.05328 (gated, conditional).
    """

    def __init__(self, data_channels=1, params_per_channel=1, filters=64, num_layers=5, kernel_size=3,
                 first_kernel_size=7, gated=True, num_classes=None, num_embeddings=None, hidden_output=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.data_channels = data_channels
        self.params_per_channel = params_per_channel
        self.filters = filters
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.first_kernel_size = first_kernel_size
        self.gated = gated
        self.num_classes = num_classes
        self.num_embeddings = num_embeddings
        self.hidden_output = hidden_output
        c, f = data_channels, filters
        self.embedding = keras.layers.Embedding(num_embeddings, f, name="embedding") if num_embeddings else None
        if gated:
            self.blocks = [GatedPixelCNNBlock(f, first_kernel_size if i == 0 else kernel_size, first=i == 0,
                                              data_channels=c, num_classes=num_classes, name=f"gated_{i}")
                           for i in range(num_layers + 1)]
        else:
            self.first = MaskedConv2D(f, first_kernel_size, "A", c, name="first")
            self.class_bias = keras.layers.Embedding(num_classes, f, embeddings_initializer="zeros",
                                                     name="class_bias") if num_classes else None
            self.blocks = [[MaskedConv2D(f, 1, "B", c, name=f"block_{i}_in"),
                            MaskedConv2D(f, kernel_size, "B", c, name=f"block_{i}_conv"),
                            MaskedConv2D(f, 1, "B", c, name=f"block_{i}_out")] for i in range(num_layers)]
        width = hidden_output or f
        self.output_hidden = MaskedConv2D(width, 1, "B", c, name="output_hidden")
        self.output_params = MaskedConv2D(c * params_per_channel, 1, "B", c, name="output_params")

    def _inputs(self, x):
        if self.embedding is not None:
            return ops.cast(self.embedding(ops.cast(x, "int32")), self.compute_dtype)
        return ops.cast(x, self.compute_dtype)

    def call(self, x, labels=None):
        h = self._inputs(x)
        if self.gated:
            v = h
            for block in self.blocks:
                v, h = block(v, h, labels)
        else:
            h = self.first(h)
            if self.class_bias is not None and labels is not None:
                h = h + ops.cast(self.class_bias(ops.cast(labels, "int32")), h.dtype)[:, None, None, :]
            for conv_in, conv, conv_out in self.blocks:
                h = h + conv_out(ops.relu(conv(ops.relu(conv_in(ops.relu(h))))))
        out = self.output_params(ops.relu(self.output_hidden(ops.relu(h))))
        shape = ops.shape(out)
        # Channel j belongs to sub-pixel j % C: (P, C) -> (C, P).
        out = ops.reshape(out, (shape[0], shape[1], shape[2], self.params_per_channel, self.data_channels))
        return ops.transpose(out, (0, 1, 2, 4, 3))

    def build(self, x_shape, labels_shape=None):
        shape = tuple(x_shape)
        if self.embedding is not None:
            self.embedding.build(shape)
            shape = (*shape, self.filters)
        if self.gated:
            for i, block in enumerate(self.blocks):
                block.build(shape if i == 0 else (*shape[:-1], self.filters))
        else:
            self.first.build(shape)
            if self.class_bias is not None:
                self.class_bias.build((None,))
            for conv_in, conv, conv_out in self.blocks:
                for layer in (conv_in, conv, conv_out):
                    layer.build((*shape[:-1], self.filters))
        width = self.hidden_output or self.filters
        self.output_hidden.build((*shape[:-1], self.filters))
        self.output_params.build((*shape[:-1], width))

    def get_config(self):
        return {**super().get_config(), "data_channels": self.data_channels,
                "params_per_channel": self.params_per_channel, "filters": self.filters,
                "num_layers": self.num_layers, "kernel_size": self.kernel_size,
                "first_kernel_size": self.first_kernel_size, "gated": self.gated, "num_classes": self.num_classes,
                "num_embeddings": self.num_embeddings, "hidden_output": self.hidden_output}

