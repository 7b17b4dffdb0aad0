"""rectified-flow-moons: 1-rectified flow on the 2-D two-moons toy set.

Lab notes. An MLP (3 x 128, `rectified_flow_mlp`) learns the velocity; it trains in a
few minutes on 2 CPU cores and is small enough (~40k parameters) to bundle and to
test against on every backend.

    zoo train recipes/rectified_flow_moons.py --workdir runs/rectified-flow-moons
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "rectified_flow_mlp"
NUM_POINTS = 20_000  # plenty for a 2-D density; more only slows each epoch
BATCH_SIZE = 256
LEARNING_RATE = 1e-3  # Adam; toy MLPs tolerate a larger step than U-Nets
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100
EPOCHS = 80  # 8k steps: the loss flattens after ~5k
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/rectified-flow-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    points, _ = zoo.datasets.load("moons", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/rectified_flow_moons.py", "dataset": "moons",
                           "batch_size": BATCH_SIZE})
