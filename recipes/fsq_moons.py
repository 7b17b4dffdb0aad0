"""fsq-moons: an FSQ autoencoder on the 2-D two-moons toy set (a test model).

Lab notes. One code per point: 2 x 128 SiLU MLPs around FSQ with levels [8, 8] (64 codes,
`fsq_mlp`, ~34k parameters), so the model partitions the plane into 64 cells and decodes
each to one point. recipes/vq_moons.py trains the same MLPs with a 64-code VQ on the same
data and schedule; the pair is the quantized autoencoders' toy, small enough to bundle and
test on every backend, and shows the quantizers' difference at a glance: FSQ's codes are
a fixed 8 x 8 grid in latent space (the encoder must warp the moons onto it, and codes the
warp leaves off the data go unused), VQ's codes move to the data. Adam 1e-3, batch 256,
mean squared error plus VQ's commitment loss.

    KERAS_BACKEND=tensorflow zoo train recipes/fsq_moons.py --workdir runs/fsq-moons
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "fsq_mlp"
NUM_POINTS = 20_000
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
STEPS_PER_EPOCH = 100
EPOCHS = 60  # 6k steps
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/fsq-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    return train_point_autoencoder("fsq-moons", CONFIG, workdir, epochs, smoke, resume_from, optimizer)


def train_point_autoencoder(name, config, workdir, epochs, smoke, resume_from, optimizer=None):
    """The training both toy quantizers share (recipes/vq_moons.py calls it with its config)."""
    points, _ = zoo.datasets.load("moons", split="train", num=NUM_POINTS)
    model = zoo.create(config, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": f"recipes/{name.replace('-', '_')}.py", "dataset": "moons",
                           "batch_size": BATCH_SIZE, "num_codes": model.num_codes})
