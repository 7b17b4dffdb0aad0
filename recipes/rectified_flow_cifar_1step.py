"""rectified-flow-cifar-1step: one-step distillation of rectified-flow-cifar-2rf.

Lab notes (Liu et al. 2023, sec. 2.3). On pairs (z, x) of the 2-RF flow, train only
t = 0, so that one Euler step z + v(z, 0) lands on x; initialized from 2-RF. Sample
with `steps=1`.

Sized for the 2-core CPU this was trained on (no GPU was lent to this work), like its
2-RF base: NUM_PAIRS = 2,560 pairs drawn with 4 Euler steps of 2-RF (its paths are
nearly straight, which is the point of reflow, so 4 steps stand in for its ODE at a
quarter of the cost of 16), fine-tuned at batch 32. The pairs are saved chunk by chunk
under `<workdir>/pairs`, so a stopped run keeps them.

    KERAS_BACKEND=torch zoo train recipes/rectified_flow_cifar_1step.py --workdir runs/rectified-flow-cifar-1step

Rerunning resumes: first the missing pairs, then training from `<workdir>/state`.
"""

from pathlib import Path

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, cached_reflow_pairs, train

BASE = "rectified-flow-cifar-2rf"  # the 2-RF it distils (bundled)
NUM_PAIRS = 2_560
PAIR_SOLVER, PAIR_STEPS = "euler", 4
BATCH_SIZE = 32
LEARNING_RATE = 2e-4
EMA_DECAY = 0.995
STEPS_PER_EPOCH = 50
EPOCHS = 400
SEED = 2  # fresh noise: neither 1-RF's evaluation draws nor 2-RF's pairs
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, clipnorm=1.0)


def main(workdir="runs/rectified-flow-cifar-1step", epochs=EPOCHS, smoke=False, base=BASE,
         resume_from=None, optimizer=None):
    teacher = zoo.load(base)
    num, steps = (16, 2) if smoke else (NUM_PAIRS, STEPS_PER_EPOCH)
    pairs = cached_reflow_pairs(teacher, num, Path(workdir) / "pairs", seed=SEED, solver=PAIR_SOLVER,
                                steps=1 if smoke else PAIR_STEPS, batch_size=64)
    model = teacher.copy(ema_decay=EMA_DECAY, seed=SEED, time_distribution="zero")
    batches = ArrayBatches(pairs["data"], 8 if smoke else BATCH_SIZE, noise=pairs["noise"], seed=SEED,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2,
                 metadata={"recipe": "recipes/rectified_flow_cifar_1step.py", "dataset": "cifar10",
                           "base": base, "pairs": NUM_PAIRS, "pair_sampler": {"solver": PAIR_SOLVER,
                                                                              "steps": PAIR_STEPS},
                           "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH,
                           "sampler": {"solver": "euler", "steps": 1}})
