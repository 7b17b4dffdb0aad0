"""pixelcnn-mnist: gated PixelCNN on binarized MNIST, a Bernoulli head.

Lab notes. `pixelcnn_mnist`: the gated PixelCNN's vertical and horizontal stacks (no
blind spot), a 5x5 first layer and 5 gated 3x3 layers of 16 channels, ReLU 1x1 output
layers (32 wide) to one logit per pixel. Sized for the shared 2-core CPU: the paper's MNIST model
is far larger and trained far longer, so this lands above its 81.3 nats.

Data as nade-mnist: dynamic binarization in training, the fixed-seed binarized test
split for the NLL (nats per image, the training loss). Adam at 1e-3, batch 32.

    KERAS_BACKEND=tensorflow nice -n 10 zoo train recipes/pixelcnn_mnist.py --workdir runs/pixelcnn-mnist \
        --time-limit 20
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "pixelcnn_mnist"
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
WARMUP_STEPS = 100
STEPS_PER_EPOCH = 100
EPOCHS = 2000
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/pixelcnn-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    overrides = {}
    if smoke:
        images, steps, overrides = images[:64], 2, {"filters": 8, "num_layers": 1}
    model = zoo.create(CONFIG, seed=SEED, **overrides)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/pixelcnn_mnist.py", "dataset": "binarized_mnist", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "steps_per_epoch": STEPS_PER_EPOCH, "binarization": "dynamic"})
