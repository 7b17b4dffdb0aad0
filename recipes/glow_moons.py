"""glow-moons: Glow (ActNorm, 2x2 LU linear map, affine coupling) on the 2-D two-moons toy set.

Lab notes. `glow_2d`: 8 steps of ActNorm (data-dependent init on the first batch),
an invertible 2x2 linear map in LU form and a sigmoid-scaled affine coupling (MLPs
2 x 64, ~35k parameters). ~35 ms/step on 2 idle CPU cores (PyTorch), ~4 min in
all; the published run took 14 min on shared cores. Test NLL 2.44 nats. The density is exact, so the
checkpoint reports test log-likelihood (nats) next to sample distances.

    KERAS_BACKEND=torch zoo train recipes/glow_moons.py --workdir runs/glow-moons

Rerunning resumes from `<workdir>/state`. `--resume-from glow-moons` copies a published
checkpoint's weights when the state is gone (it keeps the epoch count and history; Adam restarts).
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "glow_2d"
NUM_POINTS = 20_000  # plenty for a 2-D density; more only slows each epoch
BATCH_SIZE = 256
LEARNING_RATE = 1e-3  # Adam; small flows tolerate a large step
STEPS_PER_EPOCH = 100
EPOCHS = 60  # 6k steps: the test NLL flattens after ~4k
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/glow-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    points, _ = zoo.datasets.load("moons", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/glow_moons.py", "dataset": "moons", "config": CONFIG,
                           "batch_size": BATCH_SIZE})
