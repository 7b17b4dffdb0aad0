"""rectified-flow-moons-2rf: reflow (2-rectified flow) of rectified-flow-moons.

Lab notes (Liu et al. 2023, Algorithm 1). Draw noise z, integrate the 1-RF ODE to
x = ODE(z) (RK45, so the coupling is the flow's and not the solver's error), and
train a new flow on the (z, x) pairs, initialized from 1-RF as in the paper. The
paths of 2-RF cross less, so they are straighter and few Euler steps suffice.

    zoo train recipes/rectified_flow_moons_2rf.py --workdir runs/rectified-flow-moons-2rf
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

BASE = "rectified-flow-moons"  # the 1-RF it rectifies (bundled)
NUM_PAIRS = 20_000
BATCH_SIZE = 256
LEARNING_RATE = 5e-4  # fine-tuning from 1-RF: half the 1-RF step
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100
EPOCHS = 60
SEED = 1  # not 0: fresh noise, not the 1-RF's training draws
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/rectified-flow-moons-2rf", epochs=EPOCHS, smoke=False, base=BASE, resume_from=None, optimizer=None):
    teacher = zoo.load(base)
    pairs = teacher.reflow_pairs(512 if smoke else NUM_PAIRS, solver="rk45", seed=SEED)
    model = teacher.copy(ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(pairs["data"], BATCH_SIZE, noise=pairs["noise"], seed=SEED,
                           steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/rectified_flow_moons_2rf.py", "dataset": "moons",
                           "base": base, "pairs": NUM_PAIRS, "pair_solver": "rk45"})
