"""Regenerate tests/golden/autoregressive_tiny.*: tiny NADE, MADE, PixelCNNs (8-bit RGB
softmax with classes, logistic mixture) and a code prior with fixed random
weights, and their log-likelihoods and seeded completions (MADE: samples) of fixed data.
tests/test_autoregressive.py loads these on every backend: a weight file and a
`zoo.random` key give the same numbers everywhere.

    KERAS_BACKEND=jax python scripts/make_golden_autoregressive.py
"""

from pathlib import Path

import keras
import numpy as np

import zoo

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
# name -> (config, overrides)
MODELS = {
    "nade": ("nade_tiny", {}),
    "made": ("made_tiny", {}),
    "pixelcnn_rgb": ("pixelcnn_tiny", {"data_shape": (3, 3, 3), "head": "categorical", "filters": 6,
                                       "num_classes": 2}),
    "pixelcnn_mixture": ("pixelcnn_tiny", {"data_shape": (2, 2, 3), "head": "logistic_mixture", "filters": 6,
                                           "gated": False, "num_mixtures": 2}),
    "code_prior": ("code_prior_tiny", {}),
}


def tiny_model(name):
    """The golden architecture (weights come from the file)."""
    config, overrides = MODELS[name]
    return zoo.create(config, seed=0, **overrides)


def weights_path(name):
    return GOLDEN / f"autoregressive_{name}.weights.h5"


def load_tiny(name):
    model = tiny_model(name)
    model.load_weights(weights_path(name))
    return model


def data_for(model, rng):
    high = {"binary": 2, "pixels": 256}.get(model.values) or model.num_codes
    data = rng.integers(0, high, size=(4, *model.data_shape))
    return data.astype("int32") if model.values == "codes" else data.astype(np.uint8)


def outputs(model, data, labels=None):
    """What the golden file records: log p of `data` (MADE: the ensemble and mask set 1)
    and the bottom half of `data` completed from seed 1 (the compiled sampler from a
    `zoo.random` key; MADE: in ordering 1, a whole sample)."""
    out = {"log_prob": model.log_prob(data, labels=labels),
           "completion": model.complete(data, known_rows=model.data_shape[0] // 2, seed=1, raw=True, labels=labels)}
    if model.__class__.__name__ == "MADE":
        out["log_prob_mask_1"] = model.log_prob(data, mask=1)
        out["sample_mask_1"] = model.sample(3, seed=0, raw=True, mask=1)
        del out["completion"]
    return out


def main():
    rng = np.random.default_rng(1234)
    arrays = {}
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        model = tiny_model(name)
        # Random weights of a visible size everywhere (zero-initialized biases and class
        # embeddings would leave parts untested).
        model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
        model.save_weights(weights_path(name))
        data = data_for(model, rng)
        labels = np.array([0, 1, 1, 0], "int32") if model.num_classes else None
        arrays[f"{name}/data"] = data
        if labels is not None:
            arrays[f"{name}/labels"] = labels
        arrays.update({f"{name}/{key}": value for key, value in outputs(model, data, labels).items()})
    np.savez(GOLDEN / "autoregressive_tiny.npz", **arrays)
    print(f"wrote {GOLDEN}/autoregressive_*; backend {keras.backend.backend()}")


if __name__ == "__main__":
    main()
