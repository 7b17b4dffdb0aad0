"""ddpm-cifar: DDPM (1000 linear-beta steps, eps-prediction, L_simple) on CIFAR-10.

Lab notes. No GPU was lent to this work, so the schedule is sized for one CPU thread
(PyTorch, ~16 images/s with `ddpm_cifar`: the small U-Net at 24 channels, 0.9M
parameters, no dropout); Ho et al. train a 35.7M model for 800k steps at batch 128 on
TPUs. With a few thousand steps in a session, the paper's EMA 0.9999 (a ~7,000-step
average) and 5,000-step warm-up would never let the weights arrive: EMA 0.999 and a
500-step warm-up instead, batch 32 for more updates per image, lr 3e-4. The schedule is
constant after warm-up, so a run stopped by `--time-limit` resumes on the same curve.
Random horizontal flips as in the paper.

The bundled ddpm-cifar is this recipe's first 15 epochs (PyTorch, one thread beside
another training job, `--time-limit 108`): 96,000 images (1.9 passes, 3,000 steps) in
101 min, epoch-mean eps-MSE 0.84, 0.25, 0.071, 0.050 (epoch 5), 0.041 (10), 0.038 (15).
Then, without retraining, Analytic-DPM's Gamma_n from 10 training images:

    KERAS_BACKEND=torch python scripts/analytic_dpm.py runs/ddpm-cifar/checkpoint \\
        --gamma-examples 10 --nll-examples 10 --steps 10,50 --num 400 \\
        --solvers analytic-ddim --reconstruct-examples 10

Sample with "ddpm" (1000 steps), "ddim" at 10/50/100 steps, and "analytic-ddim" after
`model.estimate_gammas(train_images_in_model_space)`.

    KERAS_BACKEND=torch OMP_NUM_THREADS=1 zoo train recipes/ddpm_cifar.py --workdir runs/ddpm-cifar \\
        --time-limit 108
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "ddpm_cifar"
BATCH_SIZE = 32
LEARNING_RATE = 3e-4
WARMUP_STEPS = 500
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 200  # a checkpoint every 6,400 images (~4 CPU minutes)
EPOCHS = 2000
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/ddpm-cifar", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:
        images, steps = images[:64], 2
    model = zoo.create("ddpm_tiny" if smoke else CONFIG, data_shape=(32, 32, 3), ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/ddpm_cifar.py", "dataset": "cifar10", "config": CONFIG,
                                      "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
