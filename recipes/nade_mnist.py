"""nade-mnist: NADE on binarized MNIST (28x28, 784 binary pixels), exact likelihood.

Lab notes. `nade_mnist` is the paper's model at 200 sigmoid hidden units (the paper: 500), the
weights shared between positions (Larochelle & Murray 2011, eq. 3-4), 0.3M parameters:
its cost is N x D x H sigmoids per batch, and 200 units get 2.5x the images through.
Trained on *dynamically* binarized MNIST, as the VAE checkpoints: every step draws
x ~ Bernoulli(pixel / 255) afresh inside the model (`dynamic_binarization`), and the
test NLL is measured on the fixed-seed binarization of the test split
(`zoo.datasets.load("binarized_mnist", "test")`), the same images as `vae-mnist`'s, so the
numbers compare. The training loss is the NLL in nats per image.

Adam at 1e-3 with a 200-step warm-up and clipping at norm 1 (the paper used SGD for many
more epochs); batch 100. On the shared 2-core CPU the run is a small fraction of the
paper's compute, so it lands above the paper's 88.9 nats (see the model card).

    KERAS_BACKEND=tensorflow nice -n 10 zoo train recipes/nade_mnist.py --workdir runs/nade-mnist --time-limit 12

Rerunning resumes from `<workdir>/state` until EPOCHS; `--resume-from nade-mnist`
warm-starts from the bundled checkpoint.
"""

import keras

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "nade_mnist"
BATCH_SIZE = 100
LEARNING_RATE = 1e-3
WARMUP_STEPS = 200
STEPS_PER_EPOCH = 50  # 5,000 images: a checkpoint every few minutes on the shared CPU
EPOCHS = 2400
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/nade-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    overrides = {}
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps, overrides = images[:64], 2, {"hidden": 8}
    model = zoo.create(CONFIG, seed=SEED, **overrides)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    settings = resolve(OPTIMIZER, optimizer)
    if keras.backend.backend() == "tensorflow":
        # XLA: the (N, D, H) pre-activations run ~3x faster fused than op by op.
        model.compile(optimizer=settings.build(), jit_compile=True)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=settings, resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/nade_mnist.py", "dataset": "binarized_mnist", "config": CONFIG,
                           "batch_size": BATCH_SIZE, "steps_per_epoch": STEPS_PER_EPOCH, "binarization": "dynamic"})
