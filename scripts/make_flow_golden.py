"""Regenerate tests/golden/glow_tiny.*: a tiny Glow with fixed random weights and
ActNorm's data-dependent initialization done on a fixed batch, with its log-densities,
latents and temperature-0.7 samples from fixed noise. tests/test_flows.py loads these on
every backend (seeded draws differ between backends; a weight file does not), and
checks that redoing the initialization from the same batch gives the stored ActNorm
values. The checked-in weight file predates the flows' `MultiScaleFlow` network and is in
the pre-contract layout, which `Flow.load_weights` still reads; regenerating writes the
current layout.

    KERAS_BACKEND=jax python scripts/make_flow_golden.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo
from zoo.layers import ActNorm

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
INIT_SEED = 0  # dequantization noise of the initialization batch


def tiny_model():
    """The golden architecture (weights come from the file)."""
    return zoo.create("glow_tiny", seed=0)


def main():
    rng = np.random.default_rng(1234)
    model = tiny_model()
    # Random weights everywhere but ActNorm (set by the initialization below): the
    # zero-initialized coupling outputs would make a trivial golden.
    for layer in model.network.flow_layers + model.network.split_layers:
        if isinstance(layer, ActNorm):
            continue
        for weight in layer.trainable_weights:
            weight.assign(rng.normal(scale=0.2, size=weight.shape).astype("float32"))
    images = rng.integers(0, 256, size=(16, *model.data_shape), dtype=np.uint8)
    model.initialize(images, seed=INIT_SEED)
    x = (2.0 * zoo.datasets.dequantize(images[:4], seed=1) - 1.0).astype("float32")
    noise = rng.normal(size=(4, *model.data_shape)).astype("float32")
    GOLDEN.mkdir(parents=True, exist_ok=True)
    model.save_weights(GOLDEN / "glow_tiny.weights.h5")
    np.savez(GOLDEN / "glow_tiny.npz", images=images, x=x, log_prob=model.log_prob(x), z=model.encode(x),
             noise=noise, samples=model.sample(noise=noise, temperature=0.7, raw=True))
    print(f"wrote {GOLDEN}/glow_tiny.*; backend {keras.backend.backend()}")


if __name__ == "__main__":
    main()
