"""ddbm-cifar-edges: a VP diffusion bridge from CIFAR-10 edge maps to CIFAR-10 images.

Lab notes. The papers translate edges -> handbags at 64x64 with a 100M+ network on GPUs;
this is the CPU-sized version of the same setup. Pairs: `zoo.datasets.load_pairs(
"cifar10_edges")`, black Sobel edges of the image's luminance on white (16% of pixels),
both flipped together. `ddbm_small`: the one-thread U-Net of ddpm_cifar (24 channels,
mults 1-2-2, 2 blocks, attention at 8x8; 0.9M) taking the noisy image and the edge map
as 6 channels. VP bridge with DBIM's schedule (beta_min 0.1, beta_d 2, T = 1), DDBM's
preconditioning (sigma_data = sigma_source = 0.5, covariance 0), t ~ U[1e-4, 1].

The optimizer is ddpm-cifar's CPU schedule: Adam 3e-4 with a 500-step warm-up and
clipping at 1, constant afterwards so a run stopped by `--time-limit` resumes on the
same curve; EMA 0.999 (a few thousand steps could never warm a 0.9999 average); batch 32.

    KERAS_BACKEND=tensorflow zoo train recipes/ddbm_cifar_edges.py --workdir runs/ddbm-cifar-edges \\
        --time-limit 80
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "ddbm_small"
BATCH_SIZE = 32
LEARNING_RATE = 3e-4
WARMUP_STEPS = 500
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 200  # a checkpoint every 6,400 pairs (a few CPU minutes)
EPOCHS = 2000
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/ddbm-cifar-edges", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    sources, targets = zoo.datasets.load_pairs("cifar10_edges", split="train")
    steps, options = STEPS_PER_EPOCH, {}
    if smoke:
        sources, targets, steps = sources[:64], targets[:64], 2
        options = {"network": ("unet", dict(base_channels=16, channel_mults=(1, 2), num_res_blocks=1,
                                            attention_resolutions=(8,), groups=8, out_channels=3))}
    model = zoo.create(CONFIG, ema_decay=EMA_DECAY, seed=SEED, **options)
    batches = ArrayBatches(targets, 8 if smoke else BATCH_SIZE, source=sources, flip=True, seed=SEED,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/ddbm_cifar_edges.py", "dataset": "cifar10_edges", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
