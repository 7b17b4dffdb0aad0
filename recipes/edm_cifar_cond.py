"""edm-cifar-cond: class-conditional EDM on CIFAR-10 with classifier-free guidance.

Lab notes. `edm_small_cond`: the CPU-sized U-Net with a class embedding; 10% of labels
are replaced by the "no label" token in training (Ho & Salimans 2022), so one network
gives both denoisers and `sample(labels=..., guidance=w)` mixes them. EDM's CIFAR
settings otherwise: sigma_data 0.5, ln sigma ~ N(-1.2, 1.2^2), Heun with 18 steps.

    KERAS_BACKEND=torch zoo train recipes/edm_cifar_cond.py --workdir runs/edm-cifar-cond
"""

import zoo
from zoo.training import ArrayBatches, adam_with_warmup, train

CONFIG = "edm_small_cond"
BATCH_SIZE = 64
LEARNING_RATE = 2e-4
WARMUP_STEPS = 1000
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 500
EPOCHS = 400
SEED = 0


def main(workdir="runs/edm-cifar-cond", epochs=EPOCHS, smoke=False, resume_from=None):
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
                 optimizer=adam_with_warmup(LEARNING_RATE, WARMUP_STEPS), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/edm_cifar_cond.py", "dataset": "cifar10", "config": CONFIG,
                                      "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
                                      "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH,
                                      "label_dropout": 0.1})
