"""gan-qp-cifar: GAN-QP on CIFAR-10 (unconditional, 32x32x3), with the baselines.

Lab notes. A DCGAN pair sized for the 2-core CPU of the development machine
(`gan_qp_small`: generator 128-64-32 channels from a 128-d latent, 0.43M; critic
32-64-128, 0.17M; 4x4 kernels, BatchNorm in the generator only). The paper's settings
where they fit: L1 distance per dimension, lambda = 10, Adam(2e-4, beta_1 0.5), batch
64, two critic steps per generator step. Generator EMA 0.999 for sampling. Horizontal
flips only.

The baselines on the same networks, optimizer, batches and number of steps (the bundled
run and its baselines: all 100 epochs, side by side on TensorFlow, 98-116 min on the
2-core CPU; `--time-limit` stops a run at an epoch boundary, rerun to resume):

    KERAS_BACKEND=tensorflow zoo train recipes/gan_qp_cifar.py --workdir runs/gan-qp-cifar --time-limit 30
    KERAS_BACKEND=tensorflow python -c "from zoo import cli, training
    with training.time_limit(1800):
        cli.load_recipe(cli.find_recipe('gan-qp-cifar')).main('runs/ns-gan-cifar', objective='ns')"

and the same with `objective='wgan-gp'` into `runs/wgan-gp-cifar`. Rerunning resumes
from `<workdir>/state`.
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIGS = {"qp": "gan_qp_small", "ns": "ns_gan_small", "wgan-gp": "wgan_gp_small"}
BATCH_SIZE = 64
LEARNING_RATE = 2e-4
CRITIC_STEPS = 2  # the paper's code: two critic steps per generator step
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 200  # a checkpoint every few CPU minutes
EPOCHS = 100  # 20k critic steps, 10k generator steps
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, beta_1=0.5)  # one per network
NETWORKS = ("generator", "discriminator")


def main(workdir="runs/gan-qp-cifar", epochs=EPOCHS, smoke=False, resume_from=None, objective="qp", optimizer=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64, :16, :16], 2
    model = zoo.create(CONFIGS[objective].replace("_small", "_tiny") if smoke else CONFIGS[objective],
                       critic_steps=CRITIC_STEPS, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs, resume_from=resume_from,
                 optimizer=dict.fromkeys(NETWORKS, resolve(OPTIMIZER, optimizer)), verbose=2,
                 metadata={"recipe": "recipes/gan_qp_cifar.py", "dataset": "cifar10", "objective": objective,
                           "batch_size": BATCH_SIZE, "critic_steps": CRITIC_STEPS,
                           "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
