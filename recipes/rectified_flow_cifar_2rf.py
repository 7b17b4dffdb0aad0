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

from dataclasses import asdict, dataclass
from pathlib import Path

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, cached_reflow_pairs, train

BASE = "rectified-flow-cifar"  # the 1-RF it rectifies (bundled)
SEED = 1  # not 0: fresh noise, not the draws of 1-RF's evaluation


@dataclass(frozen=True)
class ReflowSizes:
    """How many pairs, drawn how, and how the reflow trains on them."""
    num_pairs: int
    pair_solver: str
    pair_steps: int
    pair_chunk: int  # pairs per saved file
    pair_batch: int  # pairs per compiled sampling call
    batch_size: int
    learning_rate: float
    ema_decay: float
    steps_per_epoch: int
    epochs: int


CPU = ReflowSizes(
    num_pairs=2_560, pair_solver="euler", pair_steps=16, pair_chunk=256, pair_batch=64, batch_size=32,
    learning_rate=2e-4,  # the 1-RF rate (Liu et al. reflow with their 1-RF settings)
    ema_decay=0.995,  # a ~200-step horizon: the run is ~1,000 steps
    steps_per_epoch=50,  # 1,600 pairs, ~5 CPU minutes
    epochs=400)
EPOCHS = CPU.epochs


def reflow(name, sizes, workdir, epochs=None, smoke=False, base=BASE, resume_from=None, optimizer=None):
    """Draw (or reuse) the pairs under `<workdir>/pairs`, then fine-tune a copy of `base` on them."""
    teacher = zoo.load(base)
    num, steps = (16, 2) if smoke else (sizes.num_pairs, sizes.steps_per_epoch)
    pairs = cached_reflow_pairs(teacher, num, Path(workdir) / "pairs", chunk=8 if smoke else sizes.pair_chunk,
                                seed=SEED, solver=sizes.pair_solver, steps=1 if smoke else sizes.pair_steps,
                                batch_size=sizes.pair_batch)
    model = teacher.copy(ema_decay=sizes.ema_decay, seed=SEED)
    batches = ArrayBatches(pairs["data"], 8 if smoke else sizes.batch_size, noise=pairs["noise"], seed=SEED,
                           steps_per_epoch=steps)
    settings = OptimizerSettings("adam", sizes.learning_rate, clipnorm=1.0)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else (epochs or sizes.epochs),
                 optimizer=resolve(settings, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": f"recipes/{name}.py", "dataset": "cifar10", "base": base, "pairs": num,
                           "pair_sampler": {"solver": sizes.pair_solver, "steps": sizes.pair_steps},
                           "batch_size": sizes.batch_size, "ema_decay": sizes.ema_decay,
                           "steps_per_epoch": sizes.steps_per_epoch, "sizes": asdict(sizes)})


def main(workdir="runs/rectified-flow-cifar-2rf", epochs=EPOCHS, smoke=False, base=BASE,
         resume_from=None, optimizer=None):
    return reflow("rectified_flow_cifar_2rf", CPU, workdir, epochs, smoke, base, resume_from, optimizer)
