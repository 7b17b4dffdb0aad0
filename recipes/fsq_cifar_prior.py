"""fsq-cifar-prior: a gated PixelCNN prior over fsq-cifar's 8x8 code grids, which turns
the FSQ autoencoder into an image generator (sample codes, then decode them).

Lab notes. The two-stage recipe of VQ-VAE (van den Oord et al. 2017, section 4.2):
freeze the autoencoder, encode the training set into integer code grids and fit an
autoregressive prior to them; `sample` draws a grid position by position (64 network
passes) and decodes it with the bundled autoencoder. The codes are those of the 50,000
training images and of their mirror images (a flip changes the codes, not only their
order), 100,000 grids, computed once and cached in `<workdir>/codes.npz`.
recipes/vq_cifar_prior.py trains the same prior on vq-cifar's codes.

`code_prior_cifar`: 64 filters, 6 gated layers (vertical and horizontal stacks, no blind
spot) over 64-wide code embeddings, 1,000 logits per position (FSQ levels [8, 5, 5, 5]).
Adam at 1e-3 after a 200-step warm-up, cosine decay to 0 over EPOCHS, gradient clipping at
norm 1, EMA 0.999; batch 64. The loss is the negative log-likelihood of a grid in nats.

    KERAS_BACKEND=tensorflow zoo train recipes/fsq_cifar_prior.py --workdir runs/fsq-cifar-prior

Rerunning resumes from `<workdir>/state` (saved every epoch).
"""

from pathlib import Path

import numpy as np

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "code_prior_cifar"
AUTOENCODER = "fsq-cifar"
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
WARMUP_STEPS = 200
STEPS_PER_EPOCH = 250
EPOCHS = 24  # 6,000 steps, 384,000 grids (3.8 passes over the 100,000)
EMA_DECAY = 0.999
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def training_codes(autoencoder, workdir, smoke=False):
    """int32 code grids of the CIFAR-10 training images and their mirror images (cached
    in `<workdir>/codes.npz`; smoke runs encode 64 images and cache nothing)."""
    cache = Path(workdir) / "codes.npz"
    if cache.exists() and not smoke:
        return np.load(cache)["codes"]
    images, _ = zoo.datasets.load("cifar10", split="train", num=64 if smoke else None)
    codes = np.concatenate([autoencoder.encode(images), autoencoder.encode(images[:, :, ::-1])])
    if not smoke:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial.npz")
        np.savez(partial, codes=codes)
        partial.replace(cache)
    return codes


def main(workdir="runs/fsq-cifar-prior", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    return train_prior("fsq-cifar-prior", AUTOENCODER, workdir, epochs, smoke, resume_from, optimizer)


def train_prior(name, autoencoder_name, workdir, epochs, smoke, resume_from, optimizer=None):
    """The training both priors share (recipes/vq_cifar_prior.py calls it with vq-cifar)."""
    autoencoder = zoo.load(autoencoder_name)
    codes = training_codes(autoencoder, workdir, smoke)
    steps, overrides = STEPS_PER_EPOCH, {}
    if smoke:
        steps, overrides = 2, {"filters": 8, "num_layers": 1}
    model = zoo.create(CONFIG, seed=SEED, ema_decay=EMA_DECAY, num_codes=autoencoder.num_codes,
                       autoencoder=autoencoder_name, **overrides)
    batches = ArrayBatches(model.to_model_space(codes), 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    total = (1 if smoke else EPOCHS) * steps  # EPOCHS, not `epochs`: stopping early keeps the curve
    warmup = 1 if smoke else WARMUP_STEPS
    settings = resolve(OPTIMIZER.replace(warmup_steps=warmup, decay_steps=max(total - warmup, 1)), optimizer)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs, optimizer=settings,
                 resume_from=resume_from, verbose=2,
                 metadata={"recipe": f"recipes/{name.replace('-', '_')}.py", "dataset": "cifar10",
                           "autoencoder": autoencoder_name, "config": CONFIG, "batch_size": BATCH_SIZE,
                           "steps_per_epoch": STEPS_PER_EPOCH, "training_grids": len(codes)})
