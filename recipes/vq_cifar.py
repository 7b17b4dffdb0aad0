"""vq-cifar: a VQ autoencoder on CIFAR-10, 32x32x3 images -> 8x8 grids of 1,024 codes.

Lab notes. The baseline of recipes/fsq_cifar.py: the same network, data, batch, schedule
and number of images, with VQ-VAE's quantizer in place of FSQ: 1,024 codes of width 32
(narrow codes use more of a codebook; ViT-VQGAN's observation), commitment cost 0.25 and
an EMA codebook with decay 0.99 (van den Oord et al. 2017, appendix A.1), and codes whose
EMA count falls below 1 restarted at random encoder outputs of the batch (Jukebox's fix
for dead codes). Without restarts a codebook of this size typically ends with most codes
unused, which is the FSQ paper's usage comparison; with them the question is how much
usage and reconstruction error still differ. The nearest-code search (4,096 x 1,024
distances per batch) makes a step about half again as costly as FSQ's rounding.

    KERAS_BACKEND=tensorflow zoo train recipes/vq_cifar.py --workdir runs/vq-cifar

Rerunning resumes from `<workdir>/state` (saved every epoch, the codebook and its EMA
counts included); `<workdir>/checkpoint` is the export and
`<workdir>/reconstructions.png` shows 32 test images beside their reconstructions.
"""

import keras
import numpy as np
from PIL import Image

import zoo
from zoo.cli import image_grid
from zoo.training import ArrayBatches, train

CONFIG = "vq_small"
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
WARMUP_STEPS = 100
STEPS_PER_EPOCH = 100  # a saved state every 6,400 images
EPOCHS = 6  # 38,400 images; the schedule spans all of them
SEED = 0


def optimizer(total_steps, warmup_steps):
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(total_steps - warmup_steps, 1),
                                                      warmup_target=LEARNING_RATE, warmup_steps=warmup_steps)
    return keras.optimizers.Adam(schedule)


def reconstruction_grid(model, images, path, pairs_per_row=8):
    """Save originals and their reconstructions side by side (original left) as a PNG."""
    pairs = np.stack([images, model.reconstruct(images)], axis=1).reshape(-1, *images.shape[1:])
    Image.fromarray(image_grid(pairs, 2 * pairs_per_row).squeeze()).save(path)


def main(workdir="runs/vq-cifar", epochs=EPOCHS, smoke=False, resume_from=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64, :16, :16], 2
    model = zoo.create("vq_tiny" if smoke else CONFIG, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED, steps_per_epoch=steps)
    total = (1 if smoke else EPOCHS) * steps  # EPOCHS, not `epochs`: stopping early keeps the curve
    exported = train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                     optimizer=optimizer(total, 1 if smoke else WARMUP_STEPS), resume_from=resume_from, verbose=2,
                     metadata={"recipe": "recipes/vq_cifar.py", "dataset": "cifar10", "batch_size": BATCH_SIZE,
                               "learning_rate": LEARNING_RATE, "steps_per_epoch": STEPS_PER_EPOCH,
                               "code_grid_shape": list(model.code_grid_shape), "num_codes": model.num_codes})
    if not smoke:
        test_images, _ = zoo.datasets.load("cifar10", split="test", num=32)
        reconstruction_grid(exported, test_images, f"{workdir}/reconstructions.png")
    return exported
