"""pfgm-mnist: PFGM on MNIST (unconditional, 28x28x1), sized for a short CPU run.

Lab notes. `pfgm_mnist`: rectified-flow-mnist's U-Net (16/32/64 channels, one block per
level, attention at 7x7; 0.69M parameters) with a second output channel whose spatial
mean is the field's z component. The paper's CIFAR-10 settings otherwise (sigma 0.01,
tau 0.03, M = 291 with restricted m, gamma 5, z_max 40, radius clipped at 3000): for
N = 784 the perturbed radii (~0.28 (1.03)^m, up to ~1,500) still cover the prior's.
The empirical field is computed over each batch of 512 images and scored on its first
64 (the paper: 4096 and 128 on CIFAR-10; the field's cost is a 64 x 512 distance matrix,
the network's 64 images). EMA 0.995 and a 200-step warm-up, because the run is short.

No GPU was lent to this work: the published run is what `--time-limit` allowed on the
shared 2-core CPU (see the model card for steps and wall time).

    KERAS_BACKEND=tensorflow zoo train recipes/pfgm_mnist.py --workdir runs/pfgm-mnist --time-limit 20
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "pfgm_mnist"
BATCH_SIZE = 512  # charges of the empirical field
PERTURBED_BATCH = 64  # images scored per step
LEARNING_RATE = 5e-4
WARMUP_STEPS = 200
EMA_DECAY = 0.995
STEPS_PER_EPOCH = 50  # a checkpoint every ~3 CPU minutes
EPOCHS = 1000
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/pfgm-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps, batch, config, options = STEPS_PER_EPOCH, BATCH_SIZE, CONFIG, {}
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps, batch, config = images[:64], 2, 16, "pfgm_tiny"
        options = {"data_shape": (28, 28, 1), "network": ("unet", dict(base_channels=8, channel_mults=(1, 2),
                   num_res_blocks=1, attention_resolutions=(), groups=4, out_channels=2))}
    model = zoo.create(config, perturbed_batch=8 if smoke else PERTURBED_BATCH, ema_decay=EMA_DECAY, seed=SEED,
                       **options)
    batches = ArrayBatches(images, batch, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/pfgm_mnist.py", "dataset": "mnist", "config": CONFIG,
                                      "batch_size": BATCH_SIZE, "perturbed_batch": PERTURBED_BATCH,
                                      "ema_decay": EMA_DECAY,
                                      "steps_per_epoch": STEPS_PER_EPOCH})
