"""gumbel-vae-mnist: a VAE with 30 categorical latents of 10 classes (Jang et al. 2017)
on binarized MNIST.

Lab notes. Jang et al.'s setting: a 784-512-256 ReLU encoder to 30 x 10 logits, the
mirror image as Bernoulli decoder (1.2M parameters), a uniform categorical prior with the
exact categorical KL, and Gumbel-Softmax relaxations (not straight-through) fed to the
decoder during training at a temperature annealed as tau = max(0.5, exp(-r t)) with
r = 1e-4 per step, which reaches the 0.5 floor after ~6,900 steps (Jang et al.: r in
1e-5..1e-4, updated every 500 steps). The step counter is a weight of the model, so a
resumed run continues the schedule. Sampling and the bounds use exact categorical draws.

Binarization is dynamic in training (fresh Bernoulli draws of the grayscale pixels each
step); the test set is `zoo.datasets.load("binarized_mnist", split="test")`, a fixed-seed
binarization. Adam 1e-3 with cosine decay to 1e-4 over EPOCHS, 600 batches of 100 per epoch.

    KERAS_BACKEND=tensorflow zoo train recipes/gumbel_vae_mnist.py --workdir runs/gumbel-vae-mnist
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "gumbel_vae_mnist"
BATCH_SIZE = 100
LEARNING_RATE = 1e-3
FINAL_LEARNING_RATE = 1e-4
ANNEAL_RATE = 1e-4  # per step: tau = max(0.5, exp(-1e-4 t))
EPOCHS = 30  # ~14 min on 2 CPU cores (TensorFlow)
SEED = 0


# A cosine from LEARNING_RATE to FINAL_LEARNING_RATE over EPOCHS (steps filled in by `main`).
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, final_fraction=FINAL_LEARNING_RATE / LEARNING_RATE)


def main(workdir="runs/gumbel-vae-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")  # grayscale: binarized afresh each step
    if smoke:  # the same code path in seconds, for tests
        images = images[:64]
        model = zoo.create("gumbel_vae_tiny", data_shape=(28, 28, 1), dynamic_binarization=True,
                           anneal_rate=ANNEAL_RATE, seed=SEED)
    else:
        model = zoo.create(CONFIG, anneal_rate=ANNEAL_RATE, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else None)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER.replace(decay_steps=len(batches) * (2 if smoke else EPOCHS)), optimizer),
                 resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/gumbel_vae_mnist.py", "dataset": "binarized_mnist",
                           "training_data": "mnist train split, dynamically binarized by the model",
                           "batch_size": BATCH_SIZE, "anneal_rate": ANNEAL_RATE})
