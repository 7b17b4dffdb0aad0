"""glow-cifar: Glow on CIFAR-10 (unconditional, 32x32x3), trained by exact likelihood.

Lab notes. `glow_cifar`: 3 levels (32x32x3 -> 16x16x12 -> split -> 8x8x24 -> split ->
4x4x48) of 8 steps each: ActNorm (data-dependent initialization on the first batch,
saved with the weights; log-scale factor 3 as in Glow's code), an invertible 1x1
convolution in LU form and an affine coupling with a sigmoid scale whose 3x3-1x1-3x3
convnet (width 96) has a zero-initialized last layer; each split has a learned
conditional prior. 2.05M parameters (8 MiB); the paper's CIFAR-10 model is 3 levels x 32
steps of width 512 (~44M), trained for days on GPUs, and reaches 3.35 bits/dim.

Data: uint8 images, uniformly dequantized afresh every step by
`ArrayBatches(dequantize=True)` (x = 2 (pixels + u) / 256 - 1, u drawn from (seed,
step), so a resumed run sees the same noise; the bundled checkpoint's run drew u inside
the model, from the same distribution. Glow's code uses half that x, which the first
ActNorm absorbs; no logit), so the training loss is the test metric: bits/dim of the
8-bit images, every preprocessing log-det counted. Random horizontal flips, as RealNVP
trained CIFAR-10. Adam with a 500-step warm-up and gradient clipping at norm 1 (lr 5e-4:
1e-3 diverged on MNIST, see recipes/glow_mnist.py), constant afterwards so that a run
stopped by `--time-limit` resumes on the same schedule.

    KERAS_BACKEND=torch OMP_NUM_THREADS=1 nice -n 10 zoo train recipes/glow_cifar.py \
        --workdir runs/glow-cifar --time-limit 60

The bundled glow-cifar is this recipe's first 25 epochs (PyTorch, one thread beside
another training job; the run was stopped by hand after epoch 25 and exported with
`--epochs 25`): 160,000 images in 87 min, epoch-mean training loss 6.31, 4.66 (epoch 5),
4.31 (11), 4.21 (17), 4.14 (25), still falling ~0.01 per epoch; 4.18 test bits/dim on all
10,000 test images. At temperature 1.0, ~5% of draws overflow in the inverse (the
contracting couplings' inverses expand the base's tails); at 0.7 none did.

Rerunning resumes from `<workdir>/state` until EPOCHS; `--resume-from glow-cifar`
copies a published checkpoint's weights when that state is gone (it keeps the epoch count
and history; Adam restarts).
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "glow_cifar"
SMOKE_CONFIG = "glow_tiny"  # same code path in seconds, for tests
BATCH_SIZE = 64
LEARNING_RATE = 5e-4
WARMUP_STEPS = 500
STEPS_PER_EPOCH = 100  # a checkpoint every 6,400 images
EPOCHS = 2000  # 12.8M images (256 passes); a CPU session gets through a small part of it
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/glow-cifar", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:
        images, steps = images[:64], 2
    model = zoo.create(SMOKE_CONFIG if smoke else CONFIG, data_shape=(32, 32, 3), seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED, dequantize=True,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2,
                 metadata={"recipe": "recipes/glow_cifar.py", "dataset": "cifar10", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "steps_per_epoch": STEPS_PER_EPOCH})
