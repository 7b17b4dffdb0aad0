"""edm-moons: EDM (preconditioned denoiser, log-normal sigmas, sigma_data 1) on the 2-D two-moons toy set.

Lab notes. Same MLP (3 x 128, `edm_mlp`) and schedule as rectified-flow-moons, so
the families compare on equal footing; ~40k parameters, a few minutes on 2 CPU cores.

    KERAS_BACKEND=torch zoo train recipes/edm_moons.py --workdir runs/edm-moons
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "edm_mlp"
NUM_POINTS = 20_000  # plenty for a 2-D density; more only slows each epoch
BATCH_SIZE = 256
LEARNING_RATE = 1e-3  # Adam; toy MLPs tolerate a larger step than U-Nets
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100
EPOCHS = 80  # 8k steps, as for rectified-flow-moons
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/edm-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    points, _ = zoo.datasets.load("moons", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/edm_moons.py", "dataset": "moons", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY})
