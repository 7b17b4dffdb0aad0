"""rectified-flow-cifar: 1-rectified flow on CIFAR-10 (unconditional, 32x32x3).

Lab notes. This checkpoint is trained on the project's CPU machine (2 cores, no GPU),
so the network is `rectified_flow_small` (32 channels, 1.6M parameters), not the
paper's 62M-parameter DDPM++: on 2 cores that trains at ~30 images/s with PyTorch.
Quality is what that budget buys; the card states the images seen and wall time.

    KERAS_BACKEND=torch zoo train recipes/rectified_flow_cifar.py --workdir runs/rectified-flow-cifar

Rerunning the same command resumes from `<workdir>/state` (saved every epoch of
STEPS_PER_EPOCH steps) until EPOCHS; `<workdir>/checkpoint` is the export. On a machine
without that state (a new session), `--resume-from rectified-flow-cifar` warm-starts from the
bundled checkpoint and keeps its epoch count (Adam's moments restart).
"""

import zoo
from zoo.training import ArrayBatches, adam_with_warmup, train

CONFIG = "rectified_flow_small"
BATCH_SIZE = 64  # CPU-sized; the paper's 128 halves the steps per hour here.
LEARNING_RATE = 2e-4  # Liu et al. (and NCSN++) with Adam, after a linear warm-up, clip 1.
WARMUP_STEPS = 1000
EMA_DECAY = 0.999  # ~1k-step horizon; 0.9999 would lag a CPU run of ~10^5 steps badly.
STEPS_PER_EPOCH = 250  # a checkpoint every 16k images, ~9 minutes on 2 cores.
EPOCHS = 400  # 100k steps = 6.4M images = 128 passes: several CPU sessions, resumable.
SEED = 0


def main(workdir="runs/rectified-flow-cifar", epochs=EPOCHS, smoke=False, resume_from=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64], 2
    model = zoo.create("rectified_flow_tiny" if smoke else CONFIG, data_shape=(32, 32, 3),
                       ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=adam_with_warmup(LEARNING_RATE, WARMUP_STEPS), resume_from=resume_from,
                 verbose=2,
                 metadata={"recipe": "recipes/rectified_flow_cifar.py", "dataset": "cifar10",
                           "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
                           "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
