"""Regenerate tests/golden/: a tiny rectified-flow U-Net with fixed random weights and
its velocity and Euler samples on fixed noise, and for every bundled checkpoint its
forward pass and a short sample from fixed noise (tests/golden/bundled/<name>.npz).
Cross-backend tests load these files instead of comparing seeded draws (seeds differ
between backends). Rerun after bundling a checkpoint; name it to write only its file.

    KERAS_BACKEND=jax python scripts/make_golden.py [NAME ...]
"""

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

import zoo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from golden_outputs import reference_outputs  # noqa: E402  (shared with tests/test_bundled.py)

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
SHAPE = (8, 8, 3)


def tiny_model():
    """The golden architecture (weights come from the file)."""
    return zoo.create("rectified_flow_tiny", data_shape=SHAPE, ema_decay=None, seed=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these bundled checkpoints (default: every file)")
    names = parser.parse_args(argv).names
    if names:
        unknown = sorted(set(names) - set(zoo.list_models()))
        if unknown:
            parser.error(f"not registered: {', '.join(unknown)}")
    else:
        write_tiny_model()
        names = zoo.list_models()
    (GOLDEN / "bundled").mkdir(parents=True, exist_ok=True)
    for name in names:
        np.savez(GOLDEN / "bundled" / f"{name}.npz", **reference_outputs(zoo.load(name)))
        print(f"wrote {GOLDEN / 'bundled' / name}.npz")


def write_tiny_model():
    rng = np.random.default_rng(1234)
    model = tiny_model()
    # Random weights everywhere: the zero-initialized convs would make a trivial golden.
    model.set_weights([rng.normal(scale=0.1, size=w.shape).astype("float32") for w in model.get_weights()])
    noise = rng.normal(size=(4, *SHAPE)).astype("float32")
    t = np.array([0.0, 0.25, 0.5, 0.9], "float32")
    velocity = keras.ops.convert_to_numpy(model.velocity(noise, t))
    samples = model.sample(noise=noise, steps=3, solver="euler", raw=True)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    model.save_weights(GOLDEN / "rectified_flow_tiny.weights.h5")
    np.savez(GOLDEN / "rectified_flow_tiny.npz", noise=noise, t=t, velocity=velocity, samples=samples)
    print(f"wrote {GOLDEN}; backend {keras.backend.backend()}; |v| max {np.abs(velocity).max():.3f}")


if __name__ == "__main__":
    main()
