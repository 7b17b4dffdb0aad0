"""realnvp-mnist: RealNVP on MNIST (unconditional, 28x28x1), trained by exact likelihood.

Lab notes. `realnvp_mnist`: RealNVP's multi-scale architecture with 3 scales
(28x28x1 -> 14x14x4 -> 7x7x8, half the dimensions factored out after each of the first
two), 3 checkerboard + 3 channel-wise affine couplings per scale and 4 checkerboard
couplings at the last, tanh-bounded scales and the logit preprocessing (alpha 0.05) with
its log-det counted. The coupling networks are plain 3x3-1x1-3x3 convnets of width 64
instead of the paper's ResNets with batch norm (173k parameters): the paper's nets are
~100x the compute, out of reach of a 2-core CPU session.

First run (PyTorch, 2 shared CPU cores, `--time-limit 6`): 5 epochs = 32,000 images in
318 s (~100 images/s): 2.19 test bits/dim (first 2,000 MNIST test images, seed-0
dequantization); samples are blobs and strokes, not yet digits. The paper-scale RealNVP
reaches ~1.06 bits/dim on MNIST.

Data: uint8 digits, uniformly dequantized afresh every step by
`ArrayBatches(dequantize=True)` (x = 2 (pixels + u) / 256 - 1, u drawn from (seed,
step), so a resumed run sees the same noise; the bundled checkpoint's run drew u inside
the model, from the same distribution), so the training loss is the test metric:
bits/dim of the 8-bit images, every preprocessing log-det counted. No flips (mirrored
digits are not digits). Adam with a 200-step warm-up and gradient clipping at norm 1,
constant afterwards so that a run stopped by `--time-limit` resumes on the same
schedule.

    KERAS_BACKEND=torch OMP_NUM_THREADS=1 nice -n 10 zoo train recipes/realnvp_mnist.py \
        --workdir runs/realnvp-mnist --time-limit 6

(`OMP_NUM_THREADS=1`: on a 2-core machine shared with other work, PyTorch's two
intra-op threads fight for the cores and run ~10x slower.) Rerunning resumes from
`<workdir>/state` until EPOCHS; `--resume-from realnvp-mnist` copies a published checkpoint's
weights when that state is gone (it keeps the epoch count and history; Adam restarts).
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "realnvp_mnist"
SMOKE_CONFIG = "realnvp_tiny"  # same code path in seconds, for tests
BATCH_SIZE = 64
LEARNING_RATE = 1e-3  # RealNVP used Adam at 1e-3
WARMUP_STEPS = 200
STEPS_PER_EPOCH = 100  # a checkpoint every 6,400 images
EPOCHS = 500  # 3.2M images (53 passes); a CPU session gets through a small part of it
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/realnvp-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:
        images, steps = images[:64], 2
    model = zoo.create(SMOKE_CONFIG if smoke else CONFIG, data_shape=(28, 28, 1), seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, dequantize=True,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2,
                 metadata={"recipe": "recipes/realnvp_mnist.py", "dataset": "mnist", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "steps_per_epoch": STEPS_PER_EPOCH})
