"""gan-qp-gaussian-grid: GAN-QP on the 25-Gaussians grid, the mode-collapse benchmark.

Lab notes. MLP pair (`gan_qp_mlp`: 3 x 128, ReLU generator from an 8-d latent, LeakyReLU
critic), GAN-QP with the paper's L1 distance and lambda = 10. Adam(1e-3, beta_1 0.5,
beta_2 0.9): the paper's 2e-4 left the samples between the modes after 9k steps (0 of 25
modes within 3 std). The modes are 0.05
wide and 2 apart, so "near a mode" is judged at 3 standard deviations (0.15), the usual
criterion (VEEGAN, PacGAN). Small enough (~35k parameters) to bundle and to test on
every backend.

    KERAS_BACKEND=tensorflow zoo train recipes/gan_qp_gaussian_grid.py --workdir runs/gan-qp-gaussian-grid
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "gan_qp_mlp"
NUM_POINTS = 50_000
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
CRITIC_STEPS = 1
EMA_DECAY = 0.999
STEPS_PER_EPOCH = 200
EPOCHS = 50  # 10k steps
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, beta_1=0.5, beta_2=0.9)  # one per network
NETWORKS = ("generator", "discriminator")


def main(workdir="runs/gan-qp-gaussian-grid", epochs=EPOCHS, smoke=False, resume_from=None,
         critic_steps=CRITIC_STEPS, optimizer=None):
    points, _ = zoo.datasets.load("gaussian_grid", split="train", num=NUM_POINTS)
    model = zoo.create(CONFIG, critic_steps=critic_steps, ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, seed=SEED, steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs, resume_from=resume_from,
                 optimizer=dict.fromkeys(NETWORKS, resolve(OPTIMIZER, optimizer)), verbose=2,
                 metadata={"recipe": "recipes/gan_qp_gaussian_grid.py", "dataset": "gaussian_grid",
                           "batch_size": BATCH_SIZE, "critic_steps": critic_steps,
                           "ema_decay": EMA_DECAY})
