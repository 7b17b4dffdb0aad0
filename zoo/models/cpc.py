"""CPC: Contrastive Predictive Coding (van den Oord et al. 2018, arXiv:1807.03748), as in
CPC v2 for images (Henaff et al. 2019, arXiv:1905.09272): an encoder family.

Each image is cut into a grid of overlapping patches; a patch encoder maps each to a
code z[i, j], a causal context network summarises the rows above and including row i
into c[i, j], and a linear map per offset k predicts z[i + k, j] from it. InfoNCE scores
each prediction against every patch code of the batch, and `fit` reports the mutual
information bound `mi_bound` = log N - loss (nats, N candidates) beside the loss.
`embed(images)` (the `features` capability) returns the codes mean-pooled over the
grid; a linear probe on them is what `zoo eval` measures (`zoo.probe`). No time
direction: nothing is sampled.
"""

import keras
import numpy as np
from keras import ops

from zoo.models.base import Interface, ZooModel
from zoo.models.classifier import pixels_to_model_space
from zoo.networks.cpc import CPCNetwork
from zoo.objectives.contrastive import cpc_losses
from zoo.registry import register_config


@keras.saving.register_keras_serializable(package="zoo")
class CPC(ZooModel):
    """CPC encoder over image patches, trained with InfoNCE by the stock `fit`.

    `fit` takes model-space image batches (or `{"data": ...}`; uint8 images are
    converted); labels, if present, are ignored.

    Args:
        network: `zoo.networks.CPCNetwork`. Patch encoder, context network, predictors.
        data_shape: tuple of int. `(H, W, C)` of the images.
        augment: bool. Patch-wise colour augmentation while training (as CPC v2): each
            patch gets its own contrast and brightness jitter and, with probability 1/4,
            is turned grey, so that low-level colour statistics shared between patches of
            one image do not solve the task.
        seed: int or None. Seed of the augmentation noise.

    References:
        van den Oord et al. 2018, arXiv:1807.03748; Henaff et al. 2019, arXiv:1905.09272.
    """

    interface = Interface(kind="encoder", capabilities={"features"}, image_metrics=("linear_probe",
                                                                                    "label_dependence"))
    card_usage = "features = model.embed(images)  # uint8 (N, H, W, C) in; (N, d) pooled patch codes out"

    def __init__(self, network, data_shape=(32, 32, 3), augment=True, seed=None, **kwargs):
        self.augment = augment
        super().__init__(data_shape, networks={"network": network}, seed=seed, **kwargs)

    def build(self, input_shape=None):
        # The bound's running mean in `fit`'s logs; state must be made before the model is built.
        self.mi_bound_tracker = keras.metrics.Mean(name="mi_bound")
        super().build(input_shape)

    @property
    def embedding_dim(self):
        return self.network.code_dim

    def _images(self, inputs):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        data = pixels_to_model_space(data) if "int" in str(data.dtype) else data
        self.check_data(data)
        return data

    def _augmented(self, patches):
        grid = (*ops.shape(patches)[:3], 1, 1, 1)
        grey = ops.broadcast_to(ops.mean(patches, axis=-1, keepdims=True), ops.shape(patches))
        patches = ops.where(keras.random.uniform(grid, seed=self.seed_generator) < 0.25, grey, patches)
        contrast = keras.random.uniform(grid, 0.7, 1.3, seed=self.seed_generator)
        brightness = 0.15 * keras.random.normal((*grid[:5], patches.shape[-1]), seed=self.seed_generator)
        return patches * contrast + brightness

    def call(self, inputs, training=False):
        patches = self.network.patches(self._images(inputs))
        if training and self.augment:
            patches = self._augmented(patches)
        z = self.network.encode_patches(patches)
        predictions = self.network.predict(self.network.context(z))
        losses, candidates = cpc_losses(z, predictions, self.network.offsets)
        return {"losses": losses, "candidates": candidates}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(y_pred["losses"])

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # The bound of the mean loss over offsets (each offset's bound is log N - its loss).
        self.mi_bound_tracker.update_state(ops.log(y_pred["candidates"]) - ops.mean(y_pred["losses"]))
        return super().compute_metrics(x, y, y_pred, sample_weight)

    # Inference on uint8 images ------------------------------------------------------

    def embed(self, images, batch_size=256):
        """`(N, embedding_dim)` float32 features of uint8 images `(N, H, W, C)`: the patch
        codes mean-pooled over the grid."""
        images = self.check_images(images)
        run = self.inference_fn("embed", lambda: lambda x: ops.cast(
            self.network.embed(pixels_to_model_space(x)), "float32"))
        return self.run_batched(run, (images,), batch_size)[0]

    def features(self, images, batch_size=256):
        """The `features` capability: `embed(images)`."""
        return self.embed(images, batch_size)

    def info_nce(self, images, batch_size=64):
        """`(offsets,)` InfoNCE losses (nats) of uint8 images without augmentation, in
        batches of `batch_size` (N = batch_size * patches candidates), averaged over batches."""
        images = self.check_images(images)
        run = self.inference_fn("info_nce", lambda: lambda x: ops.expand_dims(
            self(pixels_to_model_space(x), training=False)["losses"], 0))
        whole = images[:len(images) - len(images) % batch_size]
        if not len(whole):
            raise ValueError(f"`images` must hold at least `batch_size`={batch_size} images; received {len(images)}.")
        return np.mean(self.run_batched(run, (whole,), batch_size)[0], axis=0)

    def get_config(self):
        return {**super().get_config(), "augment": self.augment}


def _cpc(network, **kwargs):
    return CPC(CPCNetwork(**network), **kwargs)


register_config("cpc_tiny", _cpc, "Tiny CPC encoder (tests): 8x8 patches every 4 pixels of 16x16 images.",
                network=dict(patch_size=8, patch_stride=4, widths=(8, 16), code_dim=16, context_layers=1,
                             offsets=(2,)),
                data_shape=(16, 16, 3))
register_config("cpc_cifar", _cpc,
                "CPC encoder for CIFAR-10 sized for CPU training: 7x7 grid of 8x8 patches, "
                "convs 32-64-128, 128-d codes, predictions 2 and 3 rows ahead.",
                network=dict(patch_size=8, patch_stride=4, widths=(32, 64, 128), code_dim=128, context_layers=3,
                             offsets=(2, 3)))
