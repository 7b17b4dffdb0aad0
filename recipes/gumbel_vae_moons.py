"""gumbel-vae-moons: a categorical-latent VAE on the 2-D two-moons toy set (a test model).

Lab notes. Four categorical latents of 8 classes (4,096 codes), 2 x 128 SiLU MLPs and a
Gaussian decoder with a per-point learned scale (`gumbel_vae_mlp`): each code decodes to a
small Gaussian blob, and the blobs tile the moons. The Gumbel-Softmax temperature anneals
from 1 to its 0.5 floor (r = 5e-4 per step: after ~1,400 of the 6,000 steps).

    KERAS_BACKEND=tensorflow zoo train recipes/gumbel_vae_moons.py --workdir runs/gumbel-vae-moons
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "gumbel_vae_mlp"
NUM_POINTS = 20_000
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
ANNEAL_RATE = 5e-4
STEPS_PER_EPOCH = 100
EPOCHS = 60  # 6k steps
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/gumbel-vae-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    points, _ = zoo.datasets.load("moons", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, anneal_rate=ANNEAL_RATE, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/gumbel_vae_moons.py", "dataset": "moons",
                           "batch_size": BATCH_SIZE, "anneal_rate": ANNEAL_RATE})
