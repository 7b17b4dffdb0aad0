"""Quantized autoencoders: images -> a grid of integer codes -> images, with finite
scalar quantization (`FSQ`, Mentzer et al. 2023, arXiv:2309.15505) or a vector
quantizer with an EMA codebook (`VectorQuantizer`, van den Oord et al. 2017,
arXiv:1711.00937) between one convolutional encoder and decoder. On 2-D toy points the
same model (MLP encoder and decoder) gives one code per point: a learned partition of
the plane into `num_codes` cells, each decoded to one point.

No time direction and no sampler: `encode(images)` gives int32 code grids of shape
`(N, *code_grid_shape)` with values in `0 .. num_codes - 1`, `decode(codes)` maps them
back to images. An autoregressive prior over these grids makes it generative.
"""

import keras
import numpy as np
from keras import ops

from zoo.layers.quantizers import FSQ, VectorQuantizer
from zoo.metrics import codebook_perplexity, codebook_usage
from zoo.models.base import Interface, ZooModel
from zoo.models.classifier import pixels_to_model_space
from zoo.networks.autoencoder import ConvDecoder, ConvEncoder
from zoo.networks.sizes import AUTOENCODER
from zoo.networks.vae import DenseNetwork
from zoo.registry import register_config


@keras.saving.register_keras_serializable(package="zoo")
class QuantizedAutoencoder(ZooModel):
    """An autoencoder with a discrete bottleneck: `encoder` -> `quantizer` -> `decoder`,
    trained with `fit` on model-space images (`zoo.datasets.to_model_space`) to minimize
    the mean squared reconstruction error plus the quantizer's commitment loss (zero for
    FSQ); the VQ codebook follows its EMA inside the training call.

    Args:
        encoder: keras.layers.Layer. `encoder(x) -> (N, h, w, code_dim)`, downsampling by
            `encoder.downsampling` (e.g. `zoo.networks.autoencoder.ConvEncoder`); for
            points `(N, D)`: `encoder(x) -> (N, code_dim)` (e.g. a `DenseNetwork`).
        quantizer: `zoo.layers.FSQ` or `zoo.layers.VectorQuantizer`.
        decoder: keras.layers.Layer. `decoder(codes) -> (N, *data_shape)` in model space.
        data_shape: tuple of int. `(H, W, C)` of the images, or `(D,)` of points (one
            code per point: `code_grid_shape` is `()`).
        ema_decay: None. Weight EMA is not used (the VQ codebook has its own); kept for
            the contract's `copy`.
        seed: int or None. Seed of the model's generator, from which the VQ's dead-code
            restarts draw in training (`zoo.create(..., seed=s)` also fixes the initial weights).

    References:
        Mentzer et al. 2023, arXiv:2309.15505; van den Oord et al. 2017, arXiv:1711.00937.
    """

    interface = Interface(kind="encoder", capabilities={"encode", "decode", "reconstruct"},
                          image_metrics=("reconstruction",), point_metrics=("reconstruction",))
    card_usage = ("codes = model.encode(images)  # uint8 (N, H, W, C) -> int32 (N, *model.code_grid_shape)\n"
                  "images_back = model.decode(codes)  # codes in 0..model.num_codes-1 -> uint8 images\n"
                  "same = model.reconstruct(images)  # both at once\n"
                  "# A 2-D toy (data_shape (2,)) takes float32 points (N, 2) and gives one code per point: (N,)")

    def __init__(self, encoder, quantizer, decoder, data_shape=(32, 32, 3), ema_decay=None, seed=None, **kwargs):
        downsampling = getattr(encoder, "downsampling", 1)
        if len(data_shape) == 1:  # points: one code each
            self.code_grid_shape = ()
        elif len(data_shape) != 3 or data_shape[0] % downsampling or data_shape[1] % downsampling:
            raise ValueError(f"`data_shape` must be (H, W, C) with H and W divisible by the encoder's downsampling "
                             f"{downsampling}, or (D,) for points. Received: {tuple(data_shape)}")
        else:
            self.code_grid_shape = (data_shape[0] // downsampling, data_shape[1] // downsampling)
        if getattr(encoder, "latent_dim", quantizer.code_dim) != quantizer.code_dim:
            raise ValueError(f"The encoder outputs {encoder.latent_dim} channels but the quantizer takes "
                             f"{quantizer.code_dim}; set the encoder's `latent_dim` to {quantizer.code_dim}.")
        super().__init__(data_shape, networks={"encoder": encoder, "quantizer": quantizer, "decoder": decoder},
                         ema_decay=ema_decay, seed=seed, **kwargs)

    @property
    def num_codes(self):
        """Codes per grid position: the values of `encode`'s output are 0 .. num_codes - 1."""
        return self.quantizer.num_codes

    def example_inputs(self, name):
        if name == "encoder":
            return (ops.zeros((1, *self.data_shape)),)
        return (ops.zeros((1, *self.code_grid_shape, self.quantizer.code_dim)),)

    # Training -------------------------------------------------------------------------

    def call(self, inputs, training=False):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        self.check_data(data)
        self.update_ema(training)
        quantized = self.quantizer.discretize(self.encoder(data, training=training), training=training,
                                              seed=self.seed_generator)
        reconstruction = ops.cast(self.decoder(quantized["quantized"], training=training), "float32")
        return {"reconstruction": reconstruction, "data": data, "commitment_loss": quantized["commitment_loss"]}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        error = ops.mean(ops.square(y_pred["reconstruction"] - ops.cast(y_pred["data"], "float32")))
        return error + y_pred["commitment_loss"]

    # Inference on uint8 images (or float points) and int code grids ----------------------

    def _indices(self, x):
        x = pixels_to_model_space(x) if self.is_image else x
        return self.quantizer.discretize(self.encoder(x, training=False))["indices"]

    def _decoded(self, indices):
        return ops.cast(self.decoder(self.quantizer.indices_to_codes(indices), training=False), "float32")

    def _check_inputs(self, x):
        return self.check_images(x) if self.is_image else self.check_array(x)

    def encode(self, images, batch_size=256):
        """uint8 images `(N, H, W, C)` (a point model: float points `(N, D)`) -> int32
        code grids `(N, *code_grid_shape)`."""
        images = self._check_inputs(images)
        run = self.inference_fn("encode", lambda: self._indices)
        return self.run_batched(run, (images,), batch_size)[0].astype("int32")

    def decode(self, codes, *, raw=False, batch_size=256):
        """int code grids `(N, *code_grid_shape)` in 0..num_codes-1 -> uint8 images (or
        model-space float32 with `raw`; a point model: float32 points)."""
        codes = self.check_codes(codes)
        run = self.inference_fn("decode", lambda: self._decoded)
        return self.to_output(self.run_batched(run, (codes,), batch_size)[0], raw)

    def reconstruct(self, images, *, raw=False, batch_size=256):
        """`decode(encode(images))` in one pass: uint8 images (or model space with `raw`;
        a point model: float32 points)."""
        images = self._check_inputs(images)
        run = self.inference_fn("reconstruct", lambda: lambda x: self._decoded(self._indices(x)))
        return self.to_output(self.run_batched(run, (images,), batch_size)[0], raw)

    def check_codes(self, codes, name="codes"):
        """Validate int code grids `(N, *code_grid_shape)` (or with a trailing axis of 1, as
        a prior over `(h, w, 1)` data draws them) in 0..num_codes-1; int32 NumPy."""
        codes = np.asarray(codes)
        if codes.ndim == 4 and codes.shape[-1] == 1:
            codes = codes[..., 0]
        shape = "".join(f", {d}" for d in self.code_grid_shape)
        if codes.ndim != 1 + len(self.code_grid_shape) or codes.shape[1:] != self.code_grid_shape or not len(codes):
            raise ValueError(f"`{name}` must have shape (N{shape}) with N >= 1, as `encode` returns; "
                             f"received {codes.shape}.")
        if not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"`{name}` must be integers (code indices); received dtype {codes.dtype}.")
        if codes.min() < 0 or codes.max() >= self.num_codes:
            raise ValueError(f"`{name}` must lie in 0..{self.num_codes - 1}; received {codes.min()}..{codes.max()}.")
        return codes.astype("int32")

    def code_statistics(self, codes):
        """`(usage, perplexity)` of code grids: the share of the `num_codes` codes used at
        least once, and exp(entropy) of the code histogram (`num_codes` at most)."""
        codes = self.check_codes(codes)
        return codebook_usage(codes, self.num_codes), codebook_perplexity(codes, self.num_codes)

    def get_config(self):
        return {**super().get_config(), "ema_decay": self.ema_decay}


def _networks(network, code_dim, data_shape):
    """The encoder and decoder: convolutional for images, MLPs (`network["hidden"]`,
    `network["activation"]`) for points."""
    if len(data_shape) not in (1, 3):
        raise ValueError(f"`data_shape` must be (H, W, C) for images or (D,) for points. Received: {tuple(data_shape)}")
    if len(data_shape) == 1:
        hidden, activation = tuple(network["hidden"]), network.get("activation", "silu")
        return (DenseNetwork(hidden, (code_dim,), activation),
                DenseNetwork(tuple(reversed(hidden)), tuple(data_shape), activation))
    return ConvEncoder(code_dim, **network), ConvDecoder(data_shape[-1], **network)


def _fsq_autoencoder(network, levels, data_shape=(32, 32, 3), **kwargs):
    encoder, decoder = _networks(network, len(levels), data_shape)
    return QuantizedAutoencoder(encoder, FSQ(levels), decoder, data_shape=data_shape, **kwargs)


def _vq_autoencoder(network, num_codes, code_dim, data_shape=(32, 32, 3), commitment_cost=0.25, decay=0.99,
                    dead_code_threshold=1.0, seed=None, **kwargs):
    quantizer = VectorQuantizer(num_codes, code_dim, commitment_cost=commitment_cost, decay=decay,
                                dead_code_threshold=dead_code_threshold, seed=seed)
    encoder, decoder = _networks(network, code_dim, data_shape)
    return QuantizedAutoencoder(encoder, quantizer, decoder, data_shape=data_shape, seed=seed, **kwargs)


# The two quantizers compare on equal terms: one network, ~2^10 codes per position.
FSQ_LEVELS = [8, 5, 5, 5]  # 1,000 codes: the paper's levels for a 2^10 codebook (its Table 1)
VQ_CODES, VQ_CODE_DIM = 1024, 32  # narrow codes, as in ViT-VQGAN, which use more of the codebook

register_config("fsq_tiny", _fsq_autoencoder, "Tiny FSQ autoencoder (tests): levels [4, 4] = 16 codes, 16x16x3.",
                network=AUTOENCODER["tiny"], levels=[4, 4], data_shape=(16, 16, 3))
register_config("vq_tiny", _vq_autoencoder, "Tiny VQ autoencoder (tests): 16 codes of width 4, 16x16x3.",
                network=AUTOENCODER["tiny"], num_codes=16, code_dim=4, data_shape=(16, 16, 3))
register_config("fsq_small", _fsq_autoencoder,
                "FSQ autoencoder for 32x32 images on CPUs: levels [8, 5, 5, 5] (1,000 codes), 8x8 code grid.",
                network=AUTOENCODER["small"], levels=FSQ_LEVELS)
register_config("vq_small", _vq_autoencoder,
                "VQ autoencoder (EMA codebook, dead-code restarts) for 32x32 images on CPUs: 1,024 codes "
                "of width 32, 8x8 code grid; fsq_small's network.",
                network=AUTOENCODER["small"], num_codes=VQ_CODES, code_dim=VQ_CODE_DIM)

# 2-D toys (tests, README figure): 64 codes each, one per point, between 2 x 128 SiLU MLPs.
TOY_MLP = {"hidden": (128, 128), "activation": "silu"}
register_config("fsq_mlp", _fsq_autoencoder, "FSQ autoencoder for 2-D toy data: levels [8, 8] = 64 codes, "
                "2 x 128 SiLU MLPs.", network=TOY_MLP, levels=[8, 8], data_shape=(2,))
register_config("vq_mlp", _vq_autoencoder, "VQ autoencoder (EMA codebook, dead-code restarts) for 2-D toy data: "
                "64 codes of width 2, 2 x 128 SiLU MLPs.", network=TOY_MLP, num_codes=64, code_dim=2, data_shape=(2,))
