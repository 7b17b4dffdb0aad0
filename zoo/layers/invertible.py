"""Invertible layers other than couplings: NICE's diagonal scaling, RealNVP's squeeze
and logit transform, Glow's ActNorm, invertible 1x1 convolution and split prior, and
the small network inside couplings and the split prior.

Same contract as `zoo.layers.couplings`: `layer(x, inverse=False) -> (y, log_det)`,
`log_det` the `(batch,)` log |det| of the map applied.
"""

import math

import keras
import numpy as np
from keras import ops

from zoo.layers.blocks import Conv2D


def _positions(x):
    """Spatial positions per example (1 for vectors): per-channel log-dets count once per position."""
    return math.prod(x.shape[1:-1])


def _per_example(value, x):
    return ops.ones((ops.shape(x)[0],), dtype=x.dtype) * value


def _sum(x):
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class CouplingNetwork(keras.layers.Layer):
    """The network inside a coupling (and Glow's split prior): ReLU hidden layers and
    a zero-initialized output layer scaled by a learned `exp(3 * log_scale)` per
    output (Glow's `Conv2dZeros`), so it outputs exactly 0 at initialization.

    On images the first hidden layer and the output are 3x3 convolutions and the
    others 1x1 (Glow's NN); on vectors all are dense (NICE's MLPs).

    Args:
        output_dim: int. Output channels (features).
        hidden: int. Width of the hidden layers.
        depth: int. Number of hidden layers; 0 leaves the output layer alone.

    Returns:
        `(batch, ..., output_dim)`, the input's spatial shape kept.
    """

    def __init__(self, output_dim, hidden=64, depth=2, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.hidden = hidden
        self.depth = depth

    def build(self, input_shape):
        image = len(input_shape) == 4

        def dense_or_conv(units, kernel, zero=False):
            init = "zeros" if zero else "glorot_uniform"
            if image:
                return Conv2D(units, kernel, padding="same", kernel_initializer=init, dtype=self.dtype_policy)
            return keras.layers.Dense(units, kernel_initializer=init, dtype=self.dtype_policy)

        shape = tuple(input_shape)
        self.hidden_layers = []
        for i in range(self.depth):
            layer = dense_or_conv(self.hidden, 3 if i == 0 else 1)
            layer.build(shape)
            self.hidden_layers.append(layer)
            shape = (*shape[:-1], self.hidden)
        self.output_layer = dense_or_conv(self.output_dim, 3, zero=True)
        self.output_layer.build(shape)
        self.output_log_scale = self.add_weight(shape=(self.output_dim,), initializer="zeros",
                                                name="output_log_scale")

    def call(self, x):
        h = x
        for layer in self.hidden_layers:
            h = ops.relu(layer(h))
        return self.output_layer(h) * ops.exp(3.0 * self.output_log_scale)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim, "hidden": self.hidden,
                "depth": self.depth}


@keras.saving.register_keras_serializable(package="zoo")
class DiagonalScaling(keras.layers.Layer):
    """NICE's last layer, `y = x * exp(log_scale)` per feature (channel): the only
    layer of NICE that changes volume.

    Call args:
        x: `(batch, d)` or `(batch, h, w, c)` tensor.
        inverse: bool. Apply the inverse map.

    Returns:
        `(y, log_det)`.

    References:
        Dinh, Krueger & Bengio 2015, arXiv:1410.8516, section 3.3.
    """

    def build(self, input_shape):
        self.log_scale = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="log_scale")

    def call(self, x, inverse=False):
        log_det = _per_example(_positions(x) * ops.sum(self.log_scale), x)
        if inverse:
            return x * ops.exp(-self.log_scale), -log_det
        return x * ops.exp(self.log_scale), log_det

    def compute_output_shape(self, input_shape, inverse=False):
        return tuple(input_shape), (input_shape[0],)


@keras.saving.register_keras_serializable(package="zoo")
class ActNorm(keras.layers.Layer):
    """Glow's activation normalization, `y = (x + bias) * exp(log_scale)` per channel.

    Data-dependent initialization is an explicit step: `initialize(x)` sets `bias` and
    `log_scale` so that this layer's output on `x` has zero mean and unit variance per
    channel, and sets the non-trainable `initialized` weight to 1, which is saved with
    the weights. It assigns variables, so call it eagerly, once, before training
    (`Flow.initialize` walks a whole flow); `call` never assigns. The statistics are
    computed in float64 NumPy, so the same batch gives the same initialization on
    every backend. Before initialization the layer is the identity.

    Args:
        epsilon: float. Added to the standard deviation.
        log_scale_factor: float. The log-scale is stored divided by this factor and
            multiplied back in `call`, so a gradient step moves it `log_scale_factor`
            times as far (Glow's code uses 3). Flows on 8-bit images must expand
            near-constant pixels a hundredfold, and the affine couplings' sigmoid scales
            can only contract, so this is where the expansion is learned.

    Call args:
        x: `(batch, d)` or `(batch, h, w, c)` tensor.
        inverse: bool. Apply the inverse map.

    Returns:
        `(y, log_det)`, `log_det = h * w * sum(log_scale_factor * log_scale)`.

    References:
        Kingma & Dhariwal 2018, arXiv:1807.03039, section 3.1.
    """

    def __init__(self, epsilon=1e-6, log_scale_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.log_scale_factor = float(log_scale_factor)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")
        self.log_scale = self.add_weight(shape=(channels,), initializer="zeros", name="log_scale")
        self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False, name="initialized")

    @property
    def is_initialized(self):
        return bool(ops.convert_to_numpy(self.initialized) > 0.5)

    def initialize(self, x):
        """Set `bias` and `log_scale` from the batch `x` (eagerly, outside any traced function)."""
        if not self.built:
            self.build(tuple(x.shape))
        x = np.asarray(ops.convert_to_numpy(x), "float64").reshape(-1, x.shape[-1])
        mean, std = x.mean(0), x.std(0)
        self.bias.assign((-mean).astype(self.variable_dtype))
        log_scale = -np.log(std + self.epsilon) / self.log_scale_factor
        self.log_scale.assign(log_scale.astype(self.variable_dtype))
        self.initialized.assign(1.0)

    def call(self, x, inverse=False):
        log_scale = self.log_scale * self.log_scale_factor
        log_det = _per_example(_positions(x) * ops.sum(log_scale), x)
        if inverse:
            return x * ops.exp(-log_scale) - self.bias, -log_det
        return (x + self.bias) * ops.exp(log_scale), log_det

    def compute_output_shape(self, input_shape, inverse=False):
        return tuple(input_shape), (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "log_scale_factor": self.log_scale_factor}


def lu_decomposition(w):
    """`(p, l, u)` with `w = p @ l @ u`: Doolittle LU with partial pivoting, in NumPy."""
    n = len(w)
    upper, lower, order = np.array(w, "float64"), np.eye(n), np.arange(n)
    for k in range(n - 1):
        pivot = k + int(np.argmax(np.abs(upper[k:, k])))
        upper[[k, pivot]], order[[k, pivot]] = upper[[pivot, k]], order[[pivot, k]]
        lower[[k, pivot], :k] = lower[[pivot, k], :k]
        lower[k + 1:, k] = upper[k + 1:, k] / upper[k, k]
        upper[k + 1:] -= lower[k + 1:, k, None] * upper[k]
    return np.eye(n)[order].T, lower, np.triu(upper)


@keras.saving.register_keras_serializable(package="zoo")
class InvertibleConv1x1(keras.layers.Layer):
    """Glow's invertible 1x1 convolution in LU form, `W = P L (U + diag(sign * exp(log_s)))`:
    `P` a fixed permutation, `L` unit lower-triangular, `U` strictly upper-triangular,
    so log |det W| = sum(log_s) costs O(c). Starts as a random rotation (det +-1).
    On vectors `(batch, d)` it is an invertible linear layer.

    Args:
        seed: int or None. Seed of the random rotation.

    Call args:
        x: `(batch, d)` or `(batch, h, w, c)` tensor.
        inverse: bool. Apply `W^-1`.

    Returns:
        `(y, log_det)`, `log_det = h * w * sum(log_s)`.

    References:
        Kingma & Dhariwal 2018, arXiv:1807.03039, section 3.2.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed

    def build(self, input_shape):
        channels = input_shape[-1]
        rotation = np.linalg.qr(np.random.default_rng(self.seed).standard_normal((channels, channels)))[0]
        p, lower, upper = lu_decomposition(rotation)
        diagonal = np.diag(upper)

        def weight(name, value, trainable=True):
            variable = self.add_weight(shape=value.shape, initializer="zeros", trainable=trainable, name=name)
            variable.assign(value.astype(self.variable_dtype))
            return variable

        self.permutation = weight("permutation", p, trainable=False)
        self.sign_s = weight("sign_s", np.sign(diagonal), trainable=False)
        self.lower = weight("lower", np.tril(lower, -1))
        self.upper = weight("upper", np.triu(upper, 1))
        self.log_s = weight("log_s", np.log(np.abs(diagonal)))
        self.lower_mask = np.tril(np.ones((channels, channels)), -1)

    def kernel(self):
        """The `(c, c)` matrix W, rebuilt from its LU factors."""
        mask = ops.convert_to_tensor(self.lower_mask, self.lower.dtype)
        eye = ops.eye(ops.shape(mask)[0], dtype=mask.dtype)
        lower = self.lower * mask + eye
        upper = self.upper * ops.transpose(mask) + ops.diag(self.sign_s * ops.exp(self.log_s))
        return ops.matmul(self.permutation, ops.matmul(lower, upper))

    def call(self, x, inverse=False):
        w = self.kernel()
        log_det = _per_example(_positions(x) * ops.sum(self.log_s), x)
        if inverse:
            return ops.matmul(x, ops.transpose(ops.inv(w))), -log_det
        return ops.matmul(x, ops.transpose(w)), log_det

    def compute_output_shape(self, input_shape, inverse=False):
        return tuple(input_shape), (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def check_squeezable(shape, name="x"):
    """Raise unless `(h, w)` of an image shape `(..., h, w, c)` are both even."""
    height, width = shape[-3], shape[-2]
    if height % 2 or width % 2:
        raise ValueError(f"Squeeze needs an even height and width; `{name}` has spatial size {height}x{width}. "
                         "Crop or pad the images to an even size, or use fewer scales/levels.")


@keras.saving.register_keras_serializable(package="zoo")
class Squeeze(keras.layers.Layer):
    """Space-to-depth: `(h, w, c) -> (h / 2, w / 2, 4c)`, each 2x2 block into channels
    (RealNVP, section 3.6). A permutation: `log_det` is 0.

    Call args:
        x: `(batch, h, w, c)` with even `h` and `w` (`(batch, h/2, w/2, 4c)` if `inverse`).
        inverse: bool. Depth-to-space.
    """

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Squeeze needs images (batch, h, w, c); received shape {tuple(input_shape)}.")

    def call(self, x, inverse=False):
        _, height, width, channels = x.shape
        if inverse:
            if channels % 4:
                raise ValueError(f"Inverse squeeze needs a channel count divisible by 4; received {channels}.")
            x = ops.reshape(x, (-1, height, width, channels // 4, 2, 2))
            x = ops.transpose(x, (0, 1, 4, 2, 5, 3))
            y = ops.reshape(x, (-1, 2 * height, 2 * width, channels // 4))
        else:
            check_squeezable(x.shape)
            x = ops.reshape(x, (-1, height // 2, 2, width // 2, 2, channels))
            x = ops.transpose(x, (0, 1, 3, 5, 2, 4))
            y = ops.reshape(x, (-1, height // 2, width // 2, 4 * channels))
        return y, ops.zeros((ops.shape(x)[0],), dtype=x.dtype)

    def compute_output_shape(self, input_shape, inverse=False):
        batch, height, width, channels = input_shape
        if inverse:
            return (batch, 2 * height, 2 * width, channels // 4), (batch,)
        return (batch, height // 2, width // 2, 4 * channels), (batch,)


@keras.saving.register_keras_serializable(package="zoo")
class Split(keras.layers.Layer):
    """Glow's split with a learned prior: the first half of the channels, `z1`, goes on
    through the flow; the second half, `z2`, is factored out and standardized under
    `N(mean(z1), exp(log_std(z1))^2)` from a zero-initialized 3x3 convolution:
    `y = concat([z1, (z2 - mean) * exp(-log_std)])`. With a standard normal base on the
    second half of `y`, `log N(eps) + log_det = log N(z2; mean, std)`, the learned
    prior. Sampling at temperature T draws `eps ~ N(0, T^2)`, as Glow does.

    Call args:
        x: `(batch, h, w, c)` (or `(batch, d)`) with an even channel count.
        inverse: bool. Map `[z1, eps]` back to `[z1, z2]`.

    Returns:
        `(y, log_det)`, `log_det = -sum(log_std)`.

    References:
        Kingma & Dhariwal 2018, arXiv:1807.03039, section 3 and its code (`split2d`).
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % 2:
            raise ValueError(f"Split needs an even channel count; received shape {tuple(input_shape)}.")
        self.prior = CouplingNetwork(channels, depth=0, dtype=self.dtype_policy)
        self.prior.build((*input_shape[:-1], channels // 2))

    def call(self, x, inverse=False):
        kept, factored = ops.split(x, 2, axis=-1)
        mean, log_std = ops.split(self.prior(kept), 2, axis=-1)
        log_det = -_sum(log_std)
        if inverse:
            return ops.concatenate([kept, factored * ops.exp(log_std) + mean], axis=-1), -log_det
        return ops.concatenate([kept, (factored - mean) * ops.exp(-log_std)], axis=-1), log_det

    def compute_output_shape(self, input_shape, inverse=False):
        return tuple(input_shape), (input_shape[0],)


@keras.saving.register_keras_serializable(package="zoo")
class LogitTransform(keras.layers.Layer):
    """RealNVP's preprocessing of model-space data `x` in [-1, 1]:
    `p = alpha + (1 - 2 alpha) (x + 1) / 2`, `y = logit(p)`, so the flow models an
    unbounded variable. Its log-det is counted like any layer's, so likelihoods stay
    those of `x`.

    Args:
        alpha: float in [0, 0.5). Keeps `p` away from 0 and 1 (RealNVP: 0.05).

    Call args:
        x: tensor in [-1, 1] (any real tensor if `inverse`).
        inverse: bool. `x = 2 (sigmoid(y) - alpha) / (1 - 2 alpha) - 1`.

    References:
        Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803, section 4.1.
    """

    def __init__(self, alpha=0.05, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= alpha < 0.5:
            raise ValueError(f"`alpha` must be in [0, 0.5). Received: {alpha}")
        self.alpha = alpha

    def call(self, x, inverse=False):
        log_rescale = math.log((1.0 - 2.0 * self.alpha) / 2.0)
        if inverse:
            y = 2.0 * (ops.sigmoid(x) - self.alpha) / (1.0 - 2.0 * self.alpha) - 1.0
            return y, -_sum(log_rescale - ops.log_sigmoid(x) - ops.log_sigmoid(-x))
        p = self.alpha + (1.0 - 2.0 * self.alpha) * (x + 1.0) / 2.0
        log_p, log_q = ops.log(p), ops.log1p(-p)
        return log_p - log_q, _sum(log_rescale - log_p - log_q)

    def compute_output_shape(self, input_shape, inverse=False):
        return tuple(input_shape), (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}
