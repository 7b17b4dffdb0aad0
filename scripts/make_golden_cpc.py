"""Regenerate tests/golden/cpc_tiny.*: the tiny CPC encoder with fixed random weights,
its `embed` features and InfoNCE losses on fixed uint8 images. Cross-backend tests load
these files (seeded initial weights differ between backends).

    KERAS_BACKEND=jax python scripts/make_golden_cpc.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"


def main():
    rng = np.random.default_rng(1234)
    model = zoo.create("cpc_tiny", augment=False, seed=0)
    # Random weights everywhere, biases included, at a scale that keeps the ReLUs half open.
    model.set_weights([rng.normal(scale=0.2, size=w.shape).astype("float32") for w in model.get_weights()])
    images = rng.integers(0, 256, size=(8, 16, 16, 3), dtype=np.uint8)
    embedding = model.embed(images)
    losses = model.info_nce(images, batch_size=4)
    model.save_weights(GOLDEN / "cpc_tiny.weights.h5")
    np.savez(GOLDEN / "cpc_tiny.npz", images=images, embedding=embedding, info_nce=losses)
    print(f"wrote cpc_tiny; backend {keras.backend.backend()}; |embedding| max {np.abs(embedding).max():.3f}, "
          f"InfoNCE {losses}")


if __name__ == "__main__":
    main()
