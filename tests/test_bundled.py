"""Every bundled checkpoint loads on this backend and reproduces, to 1e-4, the outputs
recorded on JAX (scripts/make_golden.py): a generative model's forward pass (velocity,
denoiser or log-density) and short sample from fixed noise, a classifier's logits and
features on fixed images (tests/golden_outputs.py says which, per kind)."""

from pathlib import Path

import numpy as np
import pytest
from golden_outputs import INPUT_KEYS, replay

import zoo

GOLDEN = Path(__file__).parent / "golden" / "bundled"


@pytest.mark.parametrize("name", zoo.list_models())
def test_bundled_checkpoint_matches_its_golden_outputs(name):
    path = GOLDEN / f"{name}.npz"
    assert path.is_file(), f"No golden outputs for {name}: run `KERAS_BACKEND=jax python scripts/make_golden.py`."
    golden = np.load(path)
    inputs = {key: golden[key] for key in INPUT_KEYS if key in golden}
    for key, value in replay(zoo.load(name), inputs).items():
        np.testing.assert_allclose(value, golden[key], rtol=1e-4, atol=1e-4, err_msg=f"{name}: {key}")

