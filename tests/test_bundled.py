"""Every bundled checkpoint loads on this backend and reproduces, to 1e-4, the forward
pass and the short sample from fixed noise recorded on JAX (scripts/make_golden.py)."""

from pathlib import Path

import numpy as np
import pytest
from keras import ops

import zoo

GOLDEN = Path(__file__).parent / "golden" / "bundled"


@pytest.mark.parametrize("name", zoo.list_models())
def test_bundled_checkpoint_matches_its_golden_outputs(name):
    path = GOLDEN / f"{name}.npz"
    assert path.is_file(), f"No golden outputs for {name}: run `KERAS_BACKEND=jax python scripts/make_golden.py`."
    golden = np.load(path)
    model = zoo.load(name)
    np.testing.assert_allclose(ops.convert_to_numpy(model.velocity(golden["noise"], golden["t"])),
                               golden["forward"], atol=1e-4)
    np.testing.assert_allclose(model.sample(noise=golden["noise"], steps=2, raw=True), golden["sample"],
                               atol=1e-4)

