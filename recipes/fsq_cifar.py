"""fsq-cifar: an FSQ autoencoder on CIFAR-10, 32x32x3 images -> 8x8 grids of 1,000 codes.

Lab notes. The FSQ paper's claim is that finite scalar quantization needs none of VQ's
machinery (codebook loss, EMA, restarts) and still uses its whole codebook. This run and
recipes/vq_cifar.py train one network (`zoo.networks.autoencoder`: VQ-VAE's CIFAR
encoder/decoder at a quarter of its width, 64 channels) with the same data, batch,
schedule and number of images, so only the quantizer differs. Levels [8, 5, 5, 5] are
the paper's for a ~2^10 codebook (its Table 1); the VQ run has 1,024 codes.

Sized for 2 CPU cores shared with several other training runs: 6 epochs of 100 steps
of 64 images (38,400 images, 0.77 passes over the training set; ~25-45 minutes on
TensorFlow depending on the load), both runs side by side. Batch 64 rather than VQ-VAE's
128: a short run gains more from steps than from larger batches. Adam at 1e-3 (a short
run affords a larger rate than VQ-VAE's 2e-4) after a 100-step warm-up, cosine decay to
0 over EPOCHS (a run stopped early by `--time-limit` keeps the same curve, unfinished);
random flips. The loss is the mean squared error in [-1, 1].

    KERAS_BACKEND=tensorflow zoo train recipes/fsq_cifar.py --workdir runs/fsq-cifar

Rerunning resumes from `<workdir>/state` (saved every epoch); `<workdir>/checkpoint` is
the export and `<workdir>/reconstructions.png` shows 32 test images (left of each pair)
beside their reconstructions.
"""

import numpy as np
from PIL import Image

import zoo
from zoo.cli import image_grid
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "fsq_small"
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
WARMUP_STEPS = 100
STEPS_PER_EPOCH = 100  # a saved state every 6,400 images
EPOCHS = 6  # 38,400 images; the schedule spans all of them
SEED = 0


# Warm-up, then a cosine to 0 over the rest of EPOCHS (filled in by `train_autoencoder`).
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS)


def reconstruction_grid(model, images, path, pairs_per_row=8):
    """Save originals and their reconstructions side by side (original left) as a PNG."""
    pairs = np.stack([images, model.reconstruct(images)], axis=1).reshape(-1, *images.shape[1:])
    Image.fromarray(image_grid(pairs, 2 * pairs_per_row).squeeze()).save(path)


def main(workdir="runs/fsq-cifar", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    return train_autoencoder("fsq-cifar", CONFIG, "fsq_tiny", workdir, epochs, smoke, resume_from, optimizer)


def train_autoencoder(name, config, smoke_config, workdir, epochs, smoke, resume_from, optimizer=None, **options):
    """The training both quantizers share (recipes/vq_cifar.py calls it with its config);
    `options` go to `zoo.create` (e.g. `dead_code_threshold=0.0`)."""
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64, :16, :16], 2
    model = zoo.create(smoke_config if smoke else config, seed=SEED, **options)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED, steps_per_epoch=steps)
    total = (1 if smoke else EPOCHS) * steps  # EPOCHS, not `epochs`: stopping early keeps the curve
    warmup = 1 if smoke else WARMUP_STEPS
    settings = resolve(OPTIMIZER.replace(warmup_steps=warmup, decay_steps=max(total - warmup, 1)), optimizer)
    exported = train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                     optimizer=settings, resume_from=resume_from, verbose=2,
                     metadata={"recipe": f"recipes/{name.replace('-', '_')}.py", "dataset": "cifar10",
                               "batch_size": BATCH_SIZE, "steps_per_epoch": STEPS_PER_EPOCH,
                               "code_grid_shape": list(model.code_grid_shape), "num_codes": model.num_codes})
    if not smoke:
        test_images, _ = zoo.datasets.load("cifar10", split="test", num=32)
        reconstruction_grid(exported, test_images, f"{workdir}/reconstructions.png")
    return exported
