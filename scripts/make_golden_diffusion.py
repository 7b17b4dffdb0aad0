"""Regenerate tests/golden/{ddpm,edm}_tiny.*: tiny diffusion U-Nets with fixed random
weights, their denoiser on fixed inputs and a 3-step DDIM / Heun sample. Cross-backend
tests load these files (seeded draws differ between backends).

    KERAS_BACKEND=jax python scripts/make_golden_diffusion.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
SHAPE = (8, 8, 3)
CASES = {"ddpm_tiny": ("ddim", 3), "edm_tiny": ("heun", 3)}


def tiny_model(name):
    return zoo.create(name, data_shape=SHAPE, ema_decay=None, seed=0)


def main():
    for name, (solver, steps) in CASES.items():
        rng = np.random.default_rng(1234)
        model = tiny_model(name)
        model.set_weights([rng.normal(scale=0.1, size=w.shape).astype("float32") if w.shape != (model.num_steps if
                           hasattr(model, "num_steps") else -1,) else np.zeros(w.shape, "float32")
                           for w in model.get_weights()])
        noise = rng.normal(size=(4, *SHAPE)).astype("float32")
        sigma = np.array([0.05, 0.5, 3.0, 40.0], "float32")
        denoised = keras.ops.convert_to_numpy(model.denoise(noise * sigma[:, None, None, None], sigma))
        samples = model.sample(noise=noise, steps=steps, solver=solver, raw=True)
        model.save_weights(GOLDEN / f"{name}.weights.h5")
        np.savez(GOLDEN / f"{name}.npz", noise=noise, sigma=sigma, denoised=denoised, samples=samples)
        print(f"wrote {name}; backend {keras.backend.backend()}; |D| max {np.abs(denoised).max():.3f}")


if __name__ == "__main__":
    main()
