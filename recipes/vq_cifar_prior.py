"""vq-cifar-prior: the gated PixelCNN prior of recipes/fsq_cifar_prior.py over vq-cifar's
8x8 grids of 1,024 codes (same network, data, schedule and steps; only the autoencoder,
and so the codes, differ).

    KERAS_BACKEND=tensorflow zoo train recipes/vq_cifar_prior.py --workdir runs/vq-cifar-prior

Rerunning resumes from `<workdir>/state` (saved every epoch).
"""

from pathlib import Path

from zoo.cli import load_recipe

_SHARED = load_recipe(Path(__file__).with_name("fsq_cifar_prior.py"))
AUTOENCODER = "vq-cifar"
EPOCHS = _SHARED.EPOCHS


def main(workdir="runs/vq-cifar-prior", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    return _SHARED.train_prior("vq-cifar-prior", AUTOENCODER, workdir, epochs, smoke, resume_from, optimizer)
