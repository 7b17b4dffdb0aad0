"""Regenerate tests/golden/{fsq,vq}_tiny.*: the tiny quantized autoencoders with fixed
random weights, with the code grids of fixed uint8 images and their decodings.
tests/test_autoencoder.py loads these on every backend (seeded initial weights differ
between backends; a weight file does not).

    KERAS_BACKEND=jax python scripts/make_golden_autoencoder.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
CONFIGS = ("fsq_tiny", "vq_tiny")


def tiny_model(config):
    """The golden architecture (weights come from the file)."""
    return zoo.create(config, seed=0)


def main():
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for config in CONFIGS:
        rng = np.random.default_rng(1234)
        model = tiny_model(config)
        # Random weights everywhere (a codebook too): default biases of zero and small
        # initial latents would put every position on a few central codes.
        model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32") for w in model.get_weights()])
        images = rng.integers(0, 256, size=(6, *model.data_shape), dtype=np.uint8)
        codes = model.encode(images)
        model.save_weights(GOLDEN / f"{config}.weights.h5")
        np.savez(GOLDEN / f"{config}.npz", images=images, codes=codes, decoded=model.decode(codes, raw=True),
                 reconstructed=model.reconstruct(images))
        print(f"wrote {GOLDEN}/{config}.*; backend {keras.backend.backend()}; "
              f"{len(np.unique(codes))} of {model.num_codes} codes used")


if __name__ == "__main__":
    main()
