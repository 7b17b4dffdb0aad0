"""Regenerate tests/golden/{vae,gumbel_vae}_tiny.weights.h5 and vae_tiny.npz: the tiny
VAE and Gumbel VAE with fixed random weights, and on fixed inputs their decoder means,
keyed samples and IWAE bounds. `tests/test_vae.py` replays them on every backend
(seeds give different draws per backend; `zoo.random` keys and weight files do not).

    KERAS_BACKEND=jax python scripts/make_golden_vae.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"


def tiny_model(name):
    """The golden architectures (weights come from the files)."""
    return zoo.create(f"{name}_tiny", seed=0)


def outputs(model, x, noise):
    """What the golden file records for `model` on binary data `x` and latents `noise`."""
    bounds = model.bounds(x, k=6, seed=3, batch_size=2)
    return {"decoded": model.decode(noise), "sample": model.sample(noise=noise, seed=4, raw=True),
            "elbo": bounds["elbo"], "iwae": bounds["iwae"]}


def main():
    rng = np.random.default_rng(2024)
    arrays = {}
    for name in ("vae", "gumbel_vae"):
        model = tiny_model(name)
        model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32") for w in model.get_weights()])
        if name == "gumbel_vae":  # a weight too: start the schedule at tau = 1
            model.gumbel_softmax.step.assign(0.0)
        x = np.where(rng.random((3, 8, 8, 1)) < 0.3, 1.0, -1.0).astype("float32")
        noise = np.asarray(model.initial_noise(3, None, 11))
        model.save_weights(GOLDEN / f"{name}_tiny.weights.h5")
        arrays.update({f"{name}_x": x, f"{name}_noise": noise,
                       **{f"{name}_{key}": value for key, value in outputs(model, x, noise).items()}})
    np.savez(GOLDEN / "vae_tiny.npz", **arrays)
    print(f"wrote {GOLDEN}/vae_tiny.npz; backend {keras.backend.backend()}")


if __name__ == "__main__":
    main()
