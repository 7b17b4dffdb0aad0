"""Quantizers of a continuous latent into a finite set of codes: `FSQ` (finite scalar
quantization) and `VectorQuantizer` (VQ-VAE's nearest-code lookup with an EMA codebook).

Both compute in float32 whatever the global dtype policy (under `mixed_bfloat16` the
bounded values of FSQ lose the resolution that separates neighbouring levels), and
both offer the same three methods to the autoencoder that owns them:
`discretize(z, training) -> {"quantized", "indices", "commitment_loss"}`,
`indices_to_codes(indices)` and `num_codes` / `code_dim`.
"""

import math

import keras
import numpy as np
from keras import ops


def round_ste(x):
    """Round with a straight-through gradient (the identity's)."""
    return x + ops.stop_gradient(ops.round(x) - x)


@keras.saving.register_keras_serializable(package="zoo")
class FSQ(keras.layers.Layer):
    """Finite scalar quantization: each of `len(levels)` channels is bounded to its own
    range and rounded to one of `levels[i]` values, so the codes are the points of a
    fixed grid with `prod(levels)` points and there is no codebook to learn or collapse.

    The bounding function is `tanh(z + shift) * half_l - offset` with
    `half_l = (L - 1)(1 - eps) / 2`: for even L the grid is offset by half a level
    (values -L/2 .. L/2 - 1) and `shift = atanh(offset / half_l)` keeps z = 0 at 0 (for
    L >= 4; L = 2 has no code at 0 and no shift, so z = 0 splits its two codes). The
    paper's code writes `tan` for that shift, which agrees with `atanh` to O(x^3); this
    layer uses the exact inverse. Outputs are normalized to [-1, 1] by `L // 2`.

    Args:
        levels: sequence of int >= 2. Levels per channel, e.g. `[8, 5, 5, 5]` (1,000
            codes, the paper's choice for ~2^10).

    Call args:
        z: `(..., len(levels))` tensor.

    Returns:
        The normalized codes, `z`'s shape, float32, with a straight-through gradient.

    References:
        Mentzer, Minnen, Agustsson & Tschannen 2023, "Finite Scalar Quantization:
        VQ-VAE Made Simple", arXiv:2309.15505.
    """

    eps = 1e-3  # keeps the bounded values strictly inside the outermost rounding bins

    def __init__(self, levels, **kwargs):
        kwargs.setdefault("dtype", "float32")  # quantize in float32 under mixed precision
        super().__init__(**kwargs)
        levels = [int(level) for level in levels]
        if not levels or min(levels) < 2:
            raise ValueError(f"`levels` must be a non-empty list of ints >= 2, e.g. [8, 5, 5, 5]. Received: {levels}")
        self.levels = levels
        self.num_codes = math.prod(levels)
        self.code_dim = len(levels)
        L = np.asarray(levels, "float64")
        self._half_l = ((L - 1) * (1 - self.eps) / 2).astype("float32")
        self._offset = np.where(L % 2 == 0, 0.5, 0.0).astype("float32")
        # (L = 2 has no code at 0: no shift, so the two codes split the line at z = 0.)
        ratio = self._offset / self._half_l
        self._shift = np.where(ratio < 1, np.arctanh(np.minimum(ratio, 0.5)), 0.0).astype("float32")
        self._half_width = (np.asarray(levels) // 2).astype("float32")
        self._basis = np.cumprod([1] + levels[:-1]).astype("int32")

    def _check_channels(self, z):
        if z.shape[-1] != self.code_dim:
            raise ValueError(f"FSQ with levels {self.levels} quantizes {self.code_dim} channels; the input has "
                             f"{z.shape[-1]} (shape {tuple(z.shape)}). Project the latent to {self.code_dim} channels.")

    def bound(self, z):
        """Map z into each channel's open range of rounding bins (float32)."""
        z = ops.cast(z, "float32")
        shift, half_l, offset = (ops.convert_to_tensor(c) for c in (self._shift, self._half_l, self._offset))
        return ops.tanh(z + shift) * half_l - offset

    def call(self, z):
        self._check_channels(z)
        return round_ste(self.bound(z)) / ops.convert_to_tensor(self._half_width)

    def discretize(self, z, training=False, seed=None):
        codes = self(z)
        return {"quantized": codes, "indices": self.codes_to_indices(codes), "commitment_loss": ops.zeros(())}

    def codes_to_indices(self, codes):
        """Normalized codes `(..., code_dim)` -> int32 indices `(...)` in 0..num_codes-1."""
        half_width = ops.convert_to_tensor(self._half_width)
        digits = ops.round(ops.cast(codes, "float32") * half_width + half_width)
        return ops.sum(ops.cast(digits, "int32") * ops.convert_to_tensor(self._basis), axis=-1)

    def indices_to_codes(self, indices):
        """int indices `(...)` -> normalized codes `(..., code_dim)`, float32."""
        basis, levels = ops.convert_to_tensor(self._basis), ops.convert_to_tensor(np.asarray(self.levels, "int32"))
        digits = ops.mod(ops.floor_divide(ops.cast(indices, "int32")[..., None], basis), levels)
        half_width = ops.convert_to_tensor(self._half_width)
        return (ops.cast(digits, "float32") - half_width) / half_width

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "levels": list(self.levels)}


@keras.saving.register_keras_serializable(package="zoo")
class VectorQuantizer(keras.layers.Layer):
    """Vector quantization with an exponential-moving-average codebook: each
    `code_dim`-vector goes to its nearest code (squared Euclidean distance), the
    gradient passes straight through, the encoder is pulled toward its codes by the
    commitment loss `beta * mean ||z - sg(e)||^2`, and the codebook follows the
    vectors assigned to it (van den Oord et al. 2017, appendix A.1):

        N_i <- gamma N_i + (1 - gamma) n_i
        m_i <- gamma m_i + (1 - gamma) sum_{j: k(j) = i} z_j
        e_i  = m_i / N~_i,  N~_i = (N_i + eps) / (sum N + K eps) * sum N  (Laplace smoothing)

    Codes whose `N_i` falls below `dead_code_threshold` (roughly: used less than once
    per step lately) restart at a random vector of the current batch with `N_i = 1`
    (Dhariwal et al. 2020, Jukebox; Zeghidour et al. 2021, SoundStream). Updates happen
    only in training calls, inside `call`, like BatchNorm's statistics.

    Args:
        num_codes: int. Codebook size K.
        code_dim: int. Width of each code (the input's last axis).
        commitment_cost: float. beta of the commitment loss (0.25 in the paper).
        decay: float in (0, 1). gamma of the EMA (0.99 in the paper).
        epsilon: float. Laplace smoothing of the cluster sizes.
        dead_code_threshold: float. EMA cluster size under which a code restarts; 0
            turns restarts off.
        seed: int or None. Seed of the restarts' choice of batch vectors when `call`
            draws them (a model passes its own generator to `discretize`).

    Call args:
        z: `(..., code_dim)` tensor.
        training: bool. Update the codebook.

    Returns:
        The quantized vectors, `z`'s shape, float32, with a straight-through gradient.

    References:
        van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation
        Learning", arXiv:1711.00937; Dhariwal et al. 2020, arXiv:2005.00341.
    """

    def __init__(self, num_codes, code_dim, commitment_cost=0.25, decay=0.99, epsilon=1e-5,
                 dead_code_threshold=1.0, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # distances and the EMA in float32 under mixed precision
        super().__init__(**kwargs)
        if int(num_codes) < 2 or int(code_dim) < 1:
            raise ValueError(f"`num_codes` must be >= 2 and `code_dim` >= 1. Received: {num_codes}, {code_dim}")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"`decay` must be in (0, 1). Received: {decay}")
        if commitment_cost < 0 or epsilon <= 0 or dead_code_threshold < 0:
            raise ValueError("`commitment_cost` and `dead_code_threshold` must be >= 0 and `epsilon` > 0. "
                             f"Received: {commitment_cost}, {dead_code_threshold}, {epsilon}")
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.commitment_cost, self.decay, self.epsilon = commitment_cost, decay, epsilon
        self.dead_code_threshold, self.seed = dead_code_threshold, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if input_shape[-1] != self.code_dim:
            raise ValueError(f"VectorQuantizer with `code_dim`={self.code_dim} got inputs with "
                             f"{input_shape[-1]} channels (shape {tuple(input_shape)}).")
        self.codebook = self.add_weight(shape=(self.num_codes, self.code_dim), name="codebook", trainable=False,
                                        initializer=keras.initializers.RandomUniform(-1.0, 1.0))
        # N = 1 and m = e at the start, so that e = m / N holds before any update.
        self.cluster_size = self.add_weight(shape=(self.num_codes,), name="cluster_size", trainable=False,
                                            initializer="ones")
        self.code_sum = self.add_weight(shape=(self.num_codes, self.code_dim), name="code_sum", trainable=False,
                                        initializer="zeros")
        self.code_sum.assign(ops.copy(self.codebook))  # a copy: JAX must not see one buffer twice

    def nearest(self, z):
        """int32 index of the nearest code of each vector of `z` `(M, code_dim)`."""
        distances = (ops.sum(ops.square(z), axis=-1, keepdims=True) - 2.0 * ops.matmul(z, ops.transpose(
            self.codebook)) + ops.sum(ops.square(self.codebook), axis=-1)[None, :])
        return ops.cast(ops.argmin(distances, axis=-1), "int32")

    def discretize(self, z, training=False, seed=None):
        """`{"quantized": straight-through codes, "indices": int32 (...), "commitment_loss":
        beta * mean ||z - sg(e)||^2}` of `z` `(..., code_dim)`; training updates the codebook,
        restarting dead codes with draws from `seed` (default: the layer's own generator;
        a model passes its `seed_generator`, whose state the training state saves)."""
        z = ops.cast(z, "float32")
        flat = ops.reshape(z, (-1, self.code_dim))
        indices = self.nearest(ops.stop_gradient(flat))
        codes = ops.take(self.codebook, indices, axis=0)
        commitment = self.commitment_cost * ops.mean(ops.square(flat - ops.stop_gradient(codes)))
        if training:
            self._update(ops.stop_gradient(flat), indices, self.seed_generator if seed is None else seed)
        quantized = ops.reshape(flat + ops.stop_gradient(codes - flat), ops.shape(z))
        return {"quantized": quantized, "indices": ops.reshape(indices, ops.shape(z)[:-1]),
                "commitment_loss": commitment}

    def _update(self, flat, indices, seed):
        one_hot = ops.one_hot(indices, self.num_codes, dtype="float32")
        cluster_size = self.decay * self.cluster_size + (1.0 - self.decay) * ops.sum(one_hot, axis=0)
        code_sum = self.decay * self.code_sum + (1.0 - self.decay) * ops.matmul(ops.transpose(one_hot), flat)
        total = ops.sum(cluster_size)
        smoothed = (cluster_size + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        codebook = code_sum / smoothed[:, None]
        if self.dead_code_threshold > 0:
            dead = (cluster_size < self.dead_code_threshold)[:, None]
            count = ops.cast(ops.shape(flat)[0], "float32")
            rows = ops.cast(ops.floor(keras.random.uniform((self.num_codes,), seed=seed) * count),
                            "int32")
            fresh = ops.take(flat, ops.minimum(rows, ops.cast(count, "int32") - 1), axis=0)
            codebook = ops.where(dead, fresh, codebook)
            code_sum = ops.where(dead, fresh, code_sum)
            cluster_size = ops.where(dead[:, 0], 1.0, cluster_size)
        self.cluster_size.assign(cluster_size)
        self.code_sum.assign(code_sum)
        self.codebook.assign(codebook)

    def call(self, z, training=False):
        return self.discretize(z, training)["quantized"]

    def indices_to_codes(self, indices):
        """int indices `(...)` -> codes `(..., code_dim)`, float32."""
        return ops.take(self.codebook, ops.cast(indices, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim,
                "commitment_cost": self.commitment_cost, "decay": self.decay, "epsilon": self.epsilon,
                "dead_code_threshold": self.dead_code_threshold, "seed": self.seed}
