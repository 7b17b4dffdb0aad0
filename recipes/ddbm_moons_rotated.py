"""ddbm-moons-rotated: a VP diffusion bridge on the 2-D paired toy set `moons_rotated`.

Lab notes. Each source is a two-moons point; its target is the point rotated by 90
degrees and shifted 2 to the left or to the right at random, so p(target | source) has
two modes and a bridge must learn a distribution, not a map. `ddbm_mlp`: the toy MLP
(3 x 128) over the noisy state and the source side by side (4 inputs, 2 outputs), VP
bridge (beta_min 0.1, beta_d 2, DBIM's), DDBM's preconditioning with the pairs' stds (2
and 1.4), t ~ U[1e-4, 1]. Same schedule as the other toys: 8k Adam steps of 256 pairs.

    KERAS_BACKEND=tensorflow zoo train recipes/ddbm_moons_rotated.py --workdir runs/ddbm-moons-rotated
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "ddbm_mlp"
NUM_POINTS = 20_000
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100
EPOCHS = 80
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/ddbm-moons-rotated", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    sources, targets = zoo.datasets.load_pairs("moons_rotated", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(targets, BATCH_SIZE, source=sources, seed=SEED,
                           steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/ddbm_moons_rotated.py", "dataset": "moons_rotated", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY})
