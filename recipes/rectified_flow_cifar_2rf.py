"""rectified-flow-cifar-2rf: reflow (2-rectified flow) of rectified-flow-cifar.

Lab notes (Liu et al. 2023, Algorithm 1). Draw noise z, integrate the 1-RF ODE to
x = ODE(z), and fine-tune a copy of 1-RF on the (z, x) pairs: the new flow's paths
cross less, so they are straighter and one or two Euler steps land near its ODE's end.

Sized for the 2-core CPU this was trained on (no GPU was lent to this work). The paper
draws 4M pairs with RK45 and trains for hundreds of thousands of steps; on one CPU thread
the 3.6M-parameter network takes ~17 forward passes a second, so this run draws
NUM_PAIRS = 2,560 pairs with 16 Euler steps (41k network evaluations, ~40 min; 1-RF
scores FD-classifier 4.9 at 10 steps and 2.5 at 20, so the coupling itself is that
good) and fine-tunes on them at batch 32 with a short EMA horizon: a CPU session gets
through several hundred steps, where the paper trains for hundreds of thousands. The pairs are saved
chunk by chunk under `<workdir>/pairs`, so a stopped run keeps them.

    KERAS_BACKEND=torch zoo train recipes/rectified_flow_cifar_2rf.py --workdir runs/rectified-flow-cifar-2rf

Rerunning resumes: first the missing pairs, then training from `<workdir>/state`.
"""

from pathlib import Path

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, cached_reflow_pairs, train

BASE = "rectified-flow-cifar"  # the 1-RF it rectifies (bundled)
NUM_PAIRS = 2_560
PAIR_SOLVER, PAIR_STEPS = "euler", 16
BATCH_SIZE = 32
LEARNING_RATE = 2e-4  # the 1-RF rate (Liu et al. reflow with their 1-RF settings)
EMA_DECAY = 0.995  # a ~200-step horizon: the run is ~1,000 steps
STEPS_PER_EPOCH = 50  # 1,600 pairs, ~5 CPU minutes
EPOCHS = 400
SEED = 1  # not 0: fresh noise, not the draws of 1-RF's evaluation
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, clipnorm=1.0)


def main(workdir="runs/rectified-flow-cifar-2rf", epochs=EPOCHS, smoke=False, base=BASE,
         resume_from=None, optimizer=None):
    teacher = zoo.load(base)
    num, steps = (16, 2) if smoke else (NUM_PAIRS, STEPS_PER_EPOCH)
    pairs = cached_reflow_pairs(teacher, num, Path(workdir) / "pairs", seed=SEED, solver=PAIR_SOLVER,
                                steps=1 if smoke else PAIR_STEPS, batch_size=64)
    model = teacher.copy(ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(pairs["data"], 8 if smoke else BATCH_SIZE, noise=pairs["noise"], seed=SEED,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2,
                 metadata={"recipe": "recipes/rectified_flow_cifar_2rf.py", "dataset": "cifar10",
                           "base": base, "pairs": NUM_PAIRS, "pair_sampler": {"solver": PAIR_SOLVER,
                                                                              "steps": PAIR_STEPS},
                           "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
