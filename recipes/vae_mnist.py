"""vae-mnist: a Gaussian-latent VAE with a Bernoulli decoder on binarized MNIST.

Lab notes. MLPs as in Kingma & Welling (2014) and Burda et al. (2016), a little wider
(784-512-256 ReLU encoder to 32 Gaussian latents, the mirror image as decoder; 1.1M
parameters), trained on the ELBO. Binarization is *dynamic*: the model reads MNIST's
grayscale pixels as probabilities and draws a fresh binary image every step from its seed
generator (`dynamic_binarization`), the usual remedy for overfitting a fixed binarization.
The test set is `zoo.datasets.load("binarized_mnist", split="test")`, one fixed-seed
Bernoulli draw of the test images (the classic fixed binarization of Larochelle & Murray
is not available offline), scored by the IWAE bound with k = 5000.

Adam at 1e-3 with cosine decay to 1e-4 over EPOCHS (so a stopped run resumes on the same
curve). An epoch is one pass (600 batches of 100), ~25 s on TensorFlow on 2 shared CPU
cores; the IWAE paper trained for 3,280 passes, so this stays well short of its 86.8 nats.

    KERAS_BACKEND=tensorflow zoo train recipes/vae_mnist.py --workdir runs/vae-mnist
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "vae_mnist"
BATCH_SIZE = 100
LEARNING_RATE = 1e-3
FINAL_LEARNING_RATE = 1e-4
EPOCHS = 30  # ~13 min on 2 CPU cores (TensorFlow); the ELBO still improves slowly after
SEED = 0


# A cosine from LEARNING_RATE to FINAL_LEARNING_RATE over EPOCHS (steps filled in by `main`).
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, final_fraction=FINAL_LEARNING_RATE / LEARNING_RATE)


def main(workdir="runs/vae-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")  # grayscale: binarized afresh each step
    if smoke:  # the same code path in seconds, for tests
        images = images[:64]
        model = zoo.create("vae_tiny", data_shape=(28, 28, 1), dynamic_binarization=True, seed=SEED)
    else:
        model = zoo.create(CONFIG, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else None)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER.replace(decay_steps=len(batches) * (2 if smoke else EPOCHS)), optimizer),
                 resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/vae_mnist.py", "dataset": "binarized_mnist",
                           "training_data": "mnist train split, dynamically binarized by the model",
                           "batch_size": BATCH_SIZE})
