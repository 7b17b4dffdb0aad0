"""rectified-flow-moons-1step: one-step distillation of rectified-flow-moons-2rf.

Lab notes (Liu et al. 2023, sec. 2.3). On pairs (z, x) from the 2-RF ODE, train only
t = 0, so that one Euler step z + v(z, 0) lands on x. Initialized from 2-RF. Sample
with `steps=1`.

    zoo train recipes/rectified_flow_moons_1step.py --workdir runs/rectified-flow-moons-1step
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

BASE = "rectified-flow-moons-2rf"
NUM_PAIRS = 20_000
BATCH_SIZE = 256
LEARNING_RATE = 5e-4
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100
EPOCHS = 40
SEED = 2
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/rectified-flow-moons-1step", epochs=EPOCHS, smoke=False, base=BASE, resume_from=None, optimizer=None):
    teacher = zoo.load(base)
    pairs = teacher.reflow_pairs(512 if smoke else NUM_PAIRS, solver="rk45", seed=SEED)
    model = teacher.copy(ema_decay=EMA_DECAY, seed=SEED, time_distribution="zero")
    batches = ArrayBatches(pairs["data"], BATCH_SIZE, noise=pairs["noise"], seed=SEED,
                           steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/rectified_flow_moons_1step.py", "dataset": "moons",
                           "base": base, "pairs": NUM_PAIRS, "sampler": {"solver": "euler", "steps": 1}})
