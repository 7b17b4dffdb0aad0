"""nice-mnist: NICE on MNIST (unconditional, 28x28x1), trained by exact likelihood.

Lab notes. `nice_mnist`: the paper's architecture at a CPU budget. 4 additive
couplings with alternating even/odd partitions of the 784 pixels, each an MLP of 4 x 400
ReLU units from the kept 392 pixels to a shift of the other 392 (the paper: 5 x 1000),
a diagonal scaling, a logistic base and data rescaled to [0, 1), as in the paper. 3.2M
parameters (12.7 MB: the paper's 19M would not fit the 16 MiB bundle cap). Dense
layers only, so it is the fastest of the three per image on a CPU; the paper reports
1980.50 nats on MNIST, about 4.36 bits/dim in this accounting.

First run (PyTorch, 2 shared CPU cores, `--time-limit 6`): 33 epochs = 211,200 images
(3.5 passes) in 349 s (~600 images/s): 6.27 test bits/dim (first 2,000 MNIST test
images, seed-0 dequantization), still falling ~0.1 per 6,400 images when stopped.

Data: uint8 digits, uniformly dequantized afresh every step by
`ArrayBatches(dequantize=True)` (x = 2 (pixels + u) / 256 - 1, u drawn from (seed,
step), so a resumed run sees the same noise; the bundled checkpoint's run drew u inside
the model, from the same distribution), so the training loss is the test metric:
bits/dim of the 8-bit images, every preprocessing log-det counted. No flips (mirrored
digits are not digits). Adam with a 200-step warm-up and gradient clipping at norm 1,
constant afterwards so that a run stopped by `--time-limit` resumes on the same
schedule.

    KERAS_BACKEND=torch OMP_NUM_THREADS=1 nice -n 10 zoo train recipes/nice_mnist.py \
        --workdir runs/nice-mnist --time-limit 6

(`OMP_NUM_THREADS=1`: on a 2-core machine shared with other work, PyTorch's two
intra-op threads fight for the cores and run ~10x slower.) Rerunning resumes from
`<workdir>/state` until EPOCHS; `--resume-from nice-mnist` copies a published checkpoint's
weights when that state is gone (it keeps the epoch count and history; Adam restarts).
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "nice_mnist"
SMOKE_CONFIG = "nice_tiny"  # same code path in seconds, for tests
BATCH_SIZE = 64
LEARNING_RATE = 1e-3  # NICE used Adam at 1e-3
WARMUP_STEPS = 200
STEPS_PER_EPOCH = 100  # a checkpoint every 6,400 images
EPOCHS = 500  # 3.2M images (53 passes); a CPU session gets through a small part of it
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/nice-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
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
                 metadata={"recipe": "recipes/nice_mnist.py", "dataset": "mnist", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "steps_per_epoch": STEPS_PER_EPOCH})
