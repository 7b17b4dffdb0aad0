"""rectified-flow-mnist: 1-rectified flow on MNIST (unconditional, 28x28x1).

Lab notes. Trained on the 2-core CPU of the development machine, so the network is
chosen for it: `rectified_flow_mnist`, a U-Net of 16 channels at 28x28, 32 at 14x14 and
64 (with attention) at 7x7, one residual block per level, 0.69M parameters. On one
PyTorch thread beside other jobs it trains at ~30 images/s; `rectified_flow_small`
(1.6M) managed ~12. The learning rate is 2.5x the CIFAR run's because the run is short
and the model small; the EMA decay of 0.998 averages over the last ~500 steps, not the
first ones. No flips: mirrored digits are not digits.

Published run (PyTorch, `OMP_NUM_THREADS=1`, `--time-limit 75`): 19 epochs = 121,600
images in 70 min, training loss 1.77 -> 0.31 (epoch 4) -> 0.20 (epoch 19); 1.99 bits/dim
on 100 test images; mostly legible digits at 20 Euler steps.

    KERAS_BACKEND=torch zoo train recipes/rectified_flow_mnist.py --workdir runs/rectified-flow-mnist

Rerunning resumes from `<workdir>/state` (saved every epoch of STEPS_PER_EPOCH steps)
until EPOCHS; `<workdir>/checkpoint` is the export. On a machine without that state (a
new session), `--resume-from rectified-flow-mnist` warm-starts from the bundled checkpoint
and keeps its epoch count (Adam's moments restart).
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "rectified_flow_mnist"
BATCH_SIZE = 64
LEARNING_RATE = 5e-4
WARMUP_STEPS = 500
EMA_DECAY = 0.998
STEPS_PER_EPOCH = 100  # a checkpoint every ~4 CPU minutes
EPOCHS = 500  # 50k steps = 3.2M images = 53 passes; a CPU session gets through a small part
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/rectified-flow-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64], 2
    model = zoo.create("rectified_flow_tiny" if smoke else CONFIG, data_shape=(28, 28, 1),
                       ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/rectified_flow_mnist.py", "dataset": "mnist",
                                      "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
