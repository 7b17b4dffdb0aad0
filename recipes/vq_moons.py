"""vq-moons: a VQ autoencoder on the 2-D two-moons toy set (a test model).

Lab notes. recipes/fsq_moons.py's MLPs, data and schedule with VQ-VAE's quantizer in
place of FSQ (`vq_mlp`): 64 codes of width 2, commitment cost 0.25, an EMA codebook
(decay 0.99) and dead-code restarts, so the codes follow the data.

    KERAS_BACKEND=tensorflow zoo train recipes/vq_moons.py --workdir runs/vq-moons
"""

from pathlib import Path

from zoo.cli import load_recipe

# The same MLPs, data, batch and schedule as fsq-moons: only the quantizer differs.
_SHARED = load_recipe(Path(__file__).with_name("fsq_moons.py"))
CONFIG = "vq_mlp"
EPOCHS = _SHARED.EPOCHS


def main(workdir="runs/vq-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    return _SHARED.train_point_autoencoder("vq-moons", CONFIG, workdir, epochs, smoke, resume_from, optimizer)
