"""vq-cifar: a VQ autoencoder on CIFAR-10, 32x32x3 images -> 8x8 grids of 1,024 codes.

Lab notes. The baseline of recipes/fsq_cifar.py: the same network, data, batch, schedule
and number of images, with VQ-VAE's quantizer in place of FSQ: 1,024 codes of width 32
(narrow codes use more of a codebook; ViT-VQGAN's observation), commitment cost 0.25 and
an EMA codebook with decay 0.99 (van den Oord et al. 2017, appendix A.1), and codes whose
EMA count falls below 1 restarted at random encoder outputs of the batch (Jukebox's fix
for dead codes). Without restarts a codebook of this size typically ends with most codes
unused, which is the FSQ paper's usage comparison; with them the question is how much
usage and reconstruction error still differ. The nearest-code search (4,096 x 1,024
distances per batch) makes a step about half again as costly as FSQ's rounding.

    KERAS_BACKEND=tensorflow zoo train recipes/vq_cifar.py --workdir runs/vq-cifar

The plain-VQ contrast (no restarts; measured: 19 of 1,024 codes in use, see the README):

    KERAS_BACKEND=tensorflow python -c "from zoo import cli
    cli.load_recipe(cli.find_recipe('vq-cifar')).main('runs/vq-plain-cifar', restarts=False)"

Rerunning resumes from `<workdir>/state` (saved every epoch, the codebook and its EMA
counts included); `<workdir>/checkpoint` is the export and
`<workdir>/reconstructions.png` shows 32 test images beside their reconstructions.
"""

from pathlib import Path

from zoo.cli import load_recipe

# The same network, data, batch, schedule and number of images as fsq-cifar: only the quantizer differs.
_SHARED = load_recipe(Path(__file__).with_name("fsq_cifar.py"))
CONFIG = "vq_small"
EPOCHS = _SHARED.EPOCHS


def main(workdir="runs/vq-cifar", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None, restarts=True):
    """`restarts=False`: plain VQ (EMA codebook, no dead-code restarts), the FSQ paper's contrast."""
    options = {} if restarts else {"dead_code_threshold": 0.0}
    return _SHARED.train_autoencoder("vq-cifar", CONFIG, "vq_tiny", workdir, epochs, smoke, resume_from, optimizer,
                                     **options)
