"""Regenerate tests/golden/ddbm_tiny.*: a tiny diffusion-bridge U-Net with fixed random
weights, its denoiser on fixed inputs and short DBIM (orders 1 and 2) and DDBM samples
from fixed sources. Cross-backend tests load these files.

    KERAS_BACKEND=jax python scripts/make_golden_bridge.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
SHAPE = (8, 8, 3)


def tiny_model():
    return zoo.create("ddbm_tiny", data_shape=SHAPE, ema_decay=None, seed=0)


def outputs(model, inputs):
    """What the golden file records of `model` (shared with tests/test_bridge.py)."""
    x, t, source = inputs["x"], inputs["t"], inputs["source"]
    images = zoo.datasets.from_model_space(source)
    return {"denoised": keras.ops.convert_to_numpy(model.denoise(x, t, source)),
            "dbim": model.sample(source=images, steps=3, solver="dbim", seed=0, raw=True),
            "dbim2": model.sample(source=images, steps=3, solver="dbim-2", seed=0, raw=True),
            "ddbm": model.sample(source=images, steps=2, solver="ddbm", churn=0.0, seed=0, raw=True)}


def main():
    rng = np.random.default_rng(1234)
    model = tiny_model()
    model.set_weights([rng.normal(scale=0.1, size=w.shape).astype("float32") for w in model.get_weights()])
    source = zoo.datasets.to_model_space(rng.integers(0, 256, size=(4, *SHAPE), dtype=np.uint8))
    inputs = {"x": rng.normal(size=(4, *SHAPE)).astype("float32"), "t": np.array([1e-3, 0.1, 0.5, 1.0], "float32"),
              "source": source}
    model.save_weights(GOLDEN / "ddbm_tiny.weights.h5")
    np.savez(GOLDEN / "ddbm_tiny.npz", **inputs, **outputs(model, inputs))
    print(f"wrote ddbm_tiny; backend {keras.backend.backend()}")


if __name__ == "__main__":
    main()
