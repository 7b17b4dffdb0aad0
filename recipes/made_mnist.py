"""made-mnist: MADE on binarized MNIST with 8 orderings / connectivity masks.

Lab notes. `made_mnist`: one hidden layer of 500 ReLU units (the paper's best MNIST
architecture), 8 mask sets (set 0 the natural order, 7 random orderings with random
connectivity); every training batch draws one set (order- and connectivity-agnostic
training, Germain et al. 2015, section 4.2), and the test likelihood is the ensemble
log (1/8) sum_k p_k(x) (the paper's 32-mask ensemble gets 86.6 nats from 88.0 with one).
Fewer masks than the paper's 32: each set sees 1/K of the steps, and the CPU run is short.

Data as nade-mnist: dynamic binarization in training, the fixed-seed binarized test
split for the NLL (nats per image, the training loss). Adam at 1e-3.

    KERAS_BACKEND=tensorflow nice -n 10 zoo train recipes/made_mnist.py --workdir runs/made-mnist --time-limit 12
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "made_mnist"
BATCH_SIZE = 100
LEARNING_RATE = 1e-3
WARMUP_STEPS = 200
STEPS_PER_EPOCH = 300
EPOCHS = 400
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/made-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    overrides = {}
    if smoke:
        images, steps, overrides = images[:64], 2, {"hidden_sizes": (16,), "num_masks": 2}
    model = zoo.create(CONFIG, seed=SEED, **overrides)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/made_mnist.py", "dataset": "binarized_mnist", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "steps_per_epoch": STEPS_PER_EPOCH, "binarization": "dynamic"})
