"""edm-cifar-cond: class-conditional EDM on CIFAR-10 with classifier-free guidance.

Lab notes. `edm_cifar_cond`: the U-Net of ddpm_cifar (24 channels, mults 1-2-2, 2 blocks,
no dropout) with a class embedding; 10% of labels are replaced by the "no label" token in
training (Ho & Salimans 2022), so one network gives both denoisers and
`sample(labels=..., guidance=w)` mixes them. EDM's CIFAR settings otherwise: sigma_data
0.5, ln sigma ~ N(-1.2, 1.2^2) with EDM's loss weighting, Heun with 18 steps (35 NFE).

No GPU was lent to this work, so the schedule is sized for one CPU thread, as for
ddpm-cifar: EMA 0.999 and a 500-step warm-up (Karras et al.'s 0.5M-image EMA half-life and
10M-image warm-up would never settle in a few thousand steps), batch 32, lr 3e-4 constant
after warm-up so a run stopped by `--time-limit` resumes on the same curve; random
horizontal flips.

The bundled edm-cifar-cond is this recipe's first 33 epochs (PyTorch, one thread beside
evaluation jobs, `--time-limit 95`): 211,200 images (4.2 passes, 6,600 steps) in 92 min,
~38 images/s; epoch-mean EDM loss 0.90, 0.37 (epoch 3), 0.30 (5), 0.255 (10), 0.236 (20),
0.224 (33), still falling. A GPU session should switch `CONFIG` to `edm_small_cond` or
larger and lengthen the EMA and warm-up with the run.

    KERAS_BACKEND=torch OMP_NUM_THREADS=1 zoo train recipes/edm_cifar_cond.py --workdir runs/edm-cifar-cond \\
        --time-limit 95
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "edm_cifar_cond"
BATCH_SIZE = 32
LEARNING_RATE = 3e-4
WARMUP_STEPS = 500
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 200  # a checkpoint every 6,400 images (~4 CPU minutes)
EPOCHS = 2000
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/edm-cifar-cond", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, labels = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    options = {}
    if smoke:
        images, labels, steps = images[:64], labels[:64], 2
        options = {"network": ("unet", dict(base_channels=16, channel_mults=(1, 2), num_res_blocks=1,
                                            attention_resolutions=(8,), groups=8, num_classes=10))}
    model = zoo.create(CONFIG, data_shape=(32, 32, 3), ema_decay=EMA_DECAY, seed=SEED, **options)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, labels=labels, flip=True, seed=SEED,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/edm_cifar_cond.py", "dataset": "cifar10", "config": CONFIG,
                                      "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH,
                                      "label_dropout": 0.1})
