"""pfgm-moons: PFGM (one augmented dimension, the empirical Poisson field) on two moons.

Lab notes. The `pfgm_mlp` network is edm-moons's MLP (3 x 128) with a third output, the
field's z component. Each step scores 256 perturbed points (as many network evaluations
as edm-moons's batch of 256, so the two compare at matched compute: 80 epochs x 100
steps) against the field of 1024 charges, the whole batch: the paper's large batch
(4096 charges for 128 points on CIFAR-10) matters less in 2-D, where 1024 points
already outline the moons. Perturbation as the paper's CIFAR-10 run (sigma 0.01,
tau 0.03, M = 291, restricted m near the plane; gamma 5); z_max 40, so the training
heights (up to ~100) cover the whole sampling range.

    KERAS_BACKEND=tensorflow zoo train recipes/pfgm_moons.py --workdir runs/pfgm-moons
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "pfgm_mlp"
NUM_POINTS = 20_000
BATCH_SIZE = 1024  # charges of the empirical field
PERTURBED_BATCH = 256  # points scored per step
LEARNING_RATE = 1e-3
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100
EPOCHS = 80
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/pfgm-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    points, _ = zoo.datasets.load("moons", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, perturbed_batch=PERTURBED_BATCH, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/pfgm_moons.py", "dataset": "moons", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "perturbed_batch": PERTURBED_BATCH,
                           "ema_decay": EMA_DECAY})
