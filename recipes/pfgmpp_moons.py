"""pfgmpp-moons: PFGM++ (D = 4) on the 2-D two-moons toy set; the family's test checkpoint.

Lab notes. Everything but the noise is edm-moons's recipe (the `edm_mlp` network, 3 x 128,
~40k parameters; EDM's log-normal sigmas, preconditioning with sigma_data 1, Adam 1e-3,
EMA 0.999, 80 epochs x 100 steps x 256 points), so the two compare at matched compute.
D = 4 for N = 2: the kernel is a Student t with 4 degrees of freedom, heavy-tailed
enough to differ visibly from EDM's Gaussian (the paper's best CIFAR-10 D = 2048 for
N = 3072 puts D/N near 1; with N = 2 that would be D ~ 1-3).

    KERAS_BACKEND=tensorflow zoo train recipes/pfgmpp_moons.py --workdir runs/pfgmpp-moons
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "pfgmpp_mlp"
AUGMENTED_DIMS = 4
NUM_POINTS = 20_000
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100
EPOCHS = 80  # 8k steps, as edm-moons
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/pfgmpp-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    points, _ = zoo.datasets.load("moons", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, augmented_dims=AUGMENTED_DIMS, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/pfgmpp_moons.py", "dataset": "moons", "config": CONFIG,
                           "augmented_dims": AUGMENTED_DIMS, "batch_size": BATCH_SIZE,
                           "ema_decay": EMA_DECAY})
