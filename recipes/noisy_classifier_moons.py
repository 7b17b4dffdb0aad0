"""noisy-classifier-moons: a noise-aware classifier p(moon | x, sigma) of the 2-D two-moons
toy set (0 upper, 1 lower), for classifier guidance of any moons diffusion model.

Lab notes. The guided models (edm-moons, ddpm-moons, score-sde-moons) are
unconditional; this classifier, bundled as `noisy-classifier-moons`, makes them sample
one moon on request:

    clf = zoo.load("noisy-classifier-moons")
    edm = zoo.load("edm-moons")
    upper = edm.sample(1000, labels=np.zeros(1000, int), guidance=2.0, classifier=clf)

The noise range 0.002..160 covers every family's sampling grid (DDPM's linear schedule
reaches sigma 157); ln sigma is drawn uniformly over it, so 45% of the draws have
sigma > 1, where the moons blur into one blob and the classifier learns how sure it may
be there: that is where guidance picks the moon. Same MLP width as the diffusion models
(3 x 128, `noisy_classifier_mlp`, 37,762 parameters). The bundled run: 50 s of training
on one PyTorch thread of 2 busy CPU cores; test accuracy 0.999 at sigma 0.01, 0.817 at 1,
0.525 at 10 (an earlier run: 0.999, 0.816, 0.530); guiding edm-moons (Heun 18) it puts
97.0% of 1,000 samples on the requested moon at scale 1, 100% at scale 2
(`scripts/guidance_moons.py`, which measures both).

    KERAS_BACKEND=torch zoo train recipes/noisy_classifier_moons.py --workdir runs/noisy-classifier-moons
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "noisy_classifier_mlp"
NUM_POINTS = 20_000  # as for the diffusion models of the moons
BATCH_SIZE = 256
LEARNING_RATE = 1e-3  # Adam, as for the toy diffusion MLPs
STEPS_PER_EPOCH = 100
EPOCHS = 40  # 4k steps; the loss (0.32 nats, most of it the noisiest sigmas' irreducible doubt) is flat after ~600
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE)


def main(workdir="runs/noisy-classifier-moons", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    points, labels = zoo.datasets.load("moons", split="train", num=NUM_POINTS, with_labels=True)
    model = zoo.create(CONFIG, num_classes=2, seed=SEED)
    batches = ArrayBatches(points, BATCH_SIZE, labels=labels, seed=SEED,
                           steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/noisy_classifier_moons.py", "dataset": "moons", "config": CONFIG,
                           "num_classes": 2, "batch_size": BATCH_SIZE})
