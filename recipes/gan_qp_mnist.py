"""gan-qp-mnist: GAN-QP on MNIST (unconditional, 28x28x1).

Lab notes. MNIST rather than CIFAR-10: on the shared 2-core CPU of this session the
CIFAR DCGAN (`gan_qp_small`) ran at ~6 s per step beside the other training jobs, 200
steps in 28 minutes, far too few for a GAN. `gan_qp_mnist`: DCGAN generator 64-32
channels from a 64-d latent (7x7 -> 14 -> 28), critic 32-64 channels (no normalization),
4x4 kernels. The paper's settings: L1 distance per dimension, lambda = 10,
Adam(2e-4, beta_1 0.5), batch 64, two critic steps per generator step; generator EMA
0.999 for sampling. `objective="ns"` / `"wgan-gp"` trains the baselines on the same
networks and batches.

    KERAS_BACKEND=tensorflow zoo train recipes/gan_qp_mnist.py --workdir runs/gan-qp-mnist --time-limit 30
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIGS = {"qp": "gan_qp_mnist", "ns": "ns_gan_mnist", "wgan-gp": "wgan_gp_mnist"}
BATCH_SIZE = 64
LEARNING_RATE = 2e-4
CRITIC_STEPS = 2  # the paper's code: two critic steps per generator step
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 100  # a checkpoint every few CPU minutes
EPOCHS = 200
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, beta_1=0.5)  # one per network
NETWORKS = ("generator", "discriminator")


def main(workdir="runs/gan-qp-mnist", epochs=EPOCHS, smoke=False, resume_from=None, objective="qp", optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64], 2
    config = CONFIGS[objective]
    model = zoo.create(config.replace("_mnist", "_tiny") if smoke else config, data_shape=(28, 28, 1),
                       critic_steps=CRITIC_STEPS, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs, resume_from=resume_from,
                 optimizer=dict.fromkeys(NETWORKS, resolve(OPTIMIZER, optimizer)), verbose=2,
                 metadata={"recipe": "recipes/gan_qp_mnist.py", "dataset": "mnist", "objective": objective,
                           "batch_size": BATCH_SIZE, "critic_steps": CRITIC_STEPS,
                           "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
