"""Regenerate tests/golden/{pfgm,pfgmpp}_tiny.*: tiny PFGM and PFGM++ U-Nets with fixed
random weights, their field / denoiser on fixed inputs, a 3-step Heun sample from fixed
noise and two prior draws of `zoo.random` key 0. Cross-backend tests load these files.

    KERAS_BACKEND=jax python scripts/make_golden_pfgm.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo
from zoo import random

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
SHAPE = (8, 8, 3)


def tiny_model(name):
    return zoo.create(name, data_shape=SHAPE, ema_decay=None, seed=0)


def outputs(model, inputs):
    """What the golden file records of `model` (shared with tests/test_pfgm.py)."""
    noise, level = inputs["noise"], inputs["level"]
    prior = keras.ops.convert_to_numpy(model.prior_sample((2, *SHAPE), random.key(0)))
    if isinstance(model, zoo.models.PFGM):
        v_x, v_z = model.field(noise, level)
        return {"field_x": keras.ops.convert_to_numpy(v_x), "field_z": keras.ops.convert_to_numpy(v_z),
                "samples": model.sample(noise=noise * 10.0, steps=3, solver="heun", raw=True), "prior": prior}
    scaled = noise * level[:, None, None, None]
    return {"denoised": keras.ops.convert_to_numpy(model.denoise(scaled, level)),
            "samples": model.sample(noise=noise, steps=3, solver="heun", raw=True), "prior": prior}


def main():
    for name, level in (("pfgm_tiny", [0.01, 0.5, 3.0, 40.0]), ("pfgmpp_tiny", [0.05, 0.5, 3.0, 40.0])):
        rng = np.random.default_rng(1234)
        model = tiny_model(name)
        model.set_weights([rng.normal(scale=0.1, size=w.shape).astype("float32") for w in model.get_weights()])
        if name == "pfgm_tiny":  # a field pointing down (v_z ~ -2), as a trained one does, keeps samples finite
            bias = keras.ops.convert_to_numpy(model.network.conv_out.bias).copy()
            bias[-1] = -2.0
            model.network.conv_out.bias.assign(bias)
        inputs = {"noise": rng.normal(size=(4, *SHAPE)).astype("float32"), "level": np.array(level, "float32")}
        model.save_weights(GOLDEN / f"{name}.weights.h5")
        np.savez(GOLDEN / f"{name}.npz", **inputs, **outputs(model, inputs))
        print(f"wrote {name}; backend {keras.backend.backend()}")


if __name__ == "__main__":
    main()
