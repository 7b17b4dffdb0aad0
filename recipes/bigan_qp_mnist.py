"""bigan-qp-mnist: BiGAN-QP on MNIST (28x28x1): generator, encoder, joint critic.

Lab notes. MNIST rather than CIFAR-10, as the issue allows: on the 2-core CPU a
bidirectional GAN (three networks, two generator passes and one encoder pass more per
step than a GAN) gets through too few CIFAR steps to encode anything recognisable.
`bigan_qp_mnist`: DCGAN generator 64-32 channels from a 64-d latent, a DCGAN encoder
to 64-d, a joint critic (image embedding 64-d + z -> 2 x 256 -> score). The reference
code's settings: L1 distance, lambda = 10, reconstruction weights 2 (latent) and 3
(image), Adam(2e-4, beta_1 0.5), batch 64, two critic steps per generator step. EMA
0.999 of the generator and the encoder.

    KERAS_BACKEND=tensorflow zoo train recipes/bigan_qp_mnist.py --workdir runs/bigan-qp-mnist --time-limit 30
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "bigan_qp_mnist"
BATCH_SIZE = 64
LEARNING_RATE = 2e-4
CRITIC_STEPS = 2
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 200
EPOCHS = 100
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, beta_1=0.5)  # one per network
NETWORKS = ("generator", "encoder", "discriminator")


def main(workdir="runs/bigan-qp-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:
        images, steps = images[:64], 2
    model = zoo.create("bigan_qp_tiny" if smoke else CONFIG, data_shape=(28, 28, 1), critic_steps=CRITIC_STEPS,
                       ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs, resume_from=resume_from,
                 optimizer=dict.fromkeys(NETWORKS, resolve(OPTIMIZER, optimizer)), verbose=2,
                 metadata={"recipe": "recipes/bigan_qp_mnist.py", "dataset": "mnist", "batch_size": BATCH_SIZE,
                           "critic_steps": CRITIC_STEPS, "ema_decay": EMA_DECAY,
                           "steps_per_epoch": STEPS_PER_EPOCH})
