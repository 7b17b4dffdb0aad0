"""Contrastive Predictive Coding for images (van den Oord et al. 2018, arXiv:1807.03748;
Henaff et al. 2019, arXiv:1905.09272): a patch encoder over a grid of overlapping
patches, an autoregressive context network over the grid's rows, and linear predictions
of the patch codes some rows below. No loss here (`zoo.objectives.contrastive`)."""

import keras
from keras import ops

from zoo.layers.blocks import Conv2D


def image_patches(x, patch_size, stride):
    """`(B, H, W, C)` -> `(B, rows, cols, patch_size, patch_size, C)` overlapping patches,
    the top-left one at (0, 0), then every `stride` pixels (`patch_size` a multiple of
    `stride`: the image is cut into stride-sized blocks and each patch is a square of them)."""
    height, width, channels = x.shape[1:]
    per_patch = patch_size // stride
    blocks = ops.reshape(x, (-1, height // stride, stride, width // stride, stride, channels))
    blocks = ops.transpose(blocks, (0, 1, 3, 2, 4, 5))  # (B, rows of blocks, cols of blocks, s, s, C)
    rows, cols = height // stride - per_patch + 1, width // stride - per_patch + 1
    patch_rows = [ops.concatenate([blocks[:, i:i + rows, j:j + cols] for j in range(per_patch)], axis=4)
                  for i in range(per_patch)]
    return ops.concatenate(patch_rows, axis=3)


@keras.saving.register_keras_serializable(package="zoo")
class CPCNetwork(keras.layers.Layer):
    """The three parts of CPC on a grid of image patches.

    - patch encoder: each `patch_size` patch (every `patch_stride` pixels) through
      3x3 convs (stride 2 after the first of each width, ReLU, no normalization: batch
      statistics would let patches see each other) and a mean pool -> `z`, `code_dim`
      features per patch;
    - context network: `context_layers` residual convs of kernel (2, 3) over the grid of
      codes, padded one row above, so that the context `c[i, j]` sees rows <= i only;
    - one linear map per offset k in `offsets`: `W_k c[i, j]` predicts `z[i + k, j]`.
      (With patches overlapping by half, k = 1 would share pixels with the context:
      CPC v2 predicts from k = 2.)

    Args:
        patch_size: int. Side of a square patch in pixels.
        patch_stride: int. Pixels between patches (divides `patch_size` and the image).
        widths: tuple of int. Channels of the patch encoder's conv stages.
        code_dim: int. Features per patch code `z` (and per context vector).
        context_layers: int. Causal conv layers of the context network.
        offsets: tuple of int. Rows ahead that are predicted.

    Call args:
        x: `(batch, H, W, C)` float images in [-1, 1].

    Returns:
        `(z, predictions)`: codes `(batch, rows, cols, code_dim)` and predictions
        `(batch, rows, cols, len(offsets), code_dim)` (for `z[i + k, j]`, valid where
        `i + k < rows`). `embed(x)`: codes mean-pooled over the grid, `(batch, code_dim)`.
    """

    def __init__(self, patch_size=8, patch_stride=4, widths=(32, 64), code_dim=128, context_layers=3,
                 offsets=(2, 3), **kwargs):
        super().__init__(**kwargs)
        if patch_size % patch_stride:
            raise ValueError(f"`patch_size`={patch_size} must be a multiple of `patch_stride`={patch_stride}.")
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.widths = tuple(widths)
        self.code_dim = code_dim
        self.context_layers = context_layers
        self.offsets = tuple(offsets)

    def grid_shape(self, image_shape):
        height, width = image_shape[:2]
        if height % self.patch_stride or width % self.patch_stride:
            raise ValueError(f"Images of {height}x{width} do not split into {self.patch_stride}-pixel steps; "
                             "choose a `patch_stride` that divides both sides.")
        per_patch = self.patch_size // self.patch_stride
        return height // self.patch_stride - per_patch + 1, width // self.patch_stride - per_patch + 1

    def build(self, input_shape):
        rows, cols = self.grid_shape(input_shape[1:3])
        if rows <= max(self.offsets):
            raise ValueError(f"A grid of {rows} patch rows cannot predict {max(self.offsets)} rows ahead; "
                             "use smaller `offsets` or patches.")
        shape = (None, self.patch_size, self.patch_size, input_shape[-1])
        self.patch_convs = []
        for stage, width in enumerate(self.widths):
            for strides in (1, 2) if stage < len(self.widths) - 1 else (1,):
                conv = Conv2D(width, 3, strides=strides, padding="same")
                conv.build(shape)
                shape = conv.compute_output_shape(shape)
                self.patch_convs.append(conv)
        self.to_code = keras.layers.Dense(self.code_dim)
        self.to_code.build((None, self.widths[-1]))
        grid = (None, rows, cols, self.code_dim)
        self.context_convs = []
        for _ in range(self.context_layers):
            conv = Conv2D(self.code_dim, (2, 3), padding="valid")
            conv.build((None, rows + 1, cols + 2, self.code_dim))
            self.context_convs.append(conv)
        self.predictors = []
        for _ in self.offsets:
            predictor = keras.layers.Dense(self.code_dim, use_bias=False)
            predictor.build(grid)
            self.predictors.append(predictor)

    def patches(self, x):
        """`(B, rows, cols, p, p, C)` patches of `(B, H, W, C)` images."""
        return image_patches(x, self.patch_size, self.patch_stride)

    def encode_patches(self, patches):
        """`(B, rows, cols, p, p, C)` patches -> `(B, rows, cols, code_dim)` codes."""
        rows, cols = patches.shape[1:3]
        h = ops.reshape(patches, (-1, *patches.shape[3:]))
        for conv in self.patch_convs:
            h = ops.relu(conv(h))
        z = self.to_code(ops.mean(h, axis=(1, 2)))
        return ops.reshape(z, (-1, rows, cols, self.code_dim))

    def context(self, z):
        """Causal context over rows: `c[:, i]` depends on `z[:, :i + 1]` only."""
        c = ops.convert_to_tensor(z)
        for conv in self.context_convs:
            padded = ops.pad(c, ((0, 0), (1, 0), (1, 1), (0, 0)))  # one row above, one column each side
            c = c + conv(ops.relu(padded))
        return c

    def predict(self, c):
        """`(B, rows, cols, len(offsets), code_dim)`: `W_k c` for each offset k."""
        return ops.stack([predictor(c) for predictor in self.predictors], axis=3)

    def embed(self, x):
        """Codes mean-pooled over the grid: `(batch, code_dim)` features."""
        return ops.mean(self.encode_patches(self.patches(x)), axis=(1, 2))

    def call(self, x):
        z = self.encode_patches(self.patches(x))
        return z, self.predict(self.context(z))

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "patch_stride": self.patch_stride,
                "widths": list(self.widths), "code_dim": self.code_dim, "context_layers": self.context_layers,
                "offsets": list(self.offsets)}
