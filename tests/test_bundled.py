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



def _bundled(kind):
    names = []
    for name in zoo.list_models():
        entry = zoo.pretrained.get_entry(name)
        if kind == "points" and entry["dataset"] in zoo.datasets.TOY_DATASETS and entry["sampler"]:
            names.append(name)
        if kind == "flow images" and entry["family"] in ("NICE", "RealNVP", "Glow") and "bits_per_dim" in entry["metrics"]:
            names.append(name)
    return names


@pytest.mark.parametrize("name", _bundled("points"))
def test_bundled_toy_models_sample_the_data(name):
    """Every 2-D checkpoint, with its recommended sampler, lands on the data: symmetric
    nearest-neighbour distance to 1,000 test points below 0.12 (untrained models: > 0.2)."""
    entry = zoo.pretrained.get_entry(name)
    data, _ = zoo.datasets.load(entry["dataset"], "test", num=1000)
    samples = zoo.load(name).sample(1000, seed=0, **entry["sampler"])
    distance = [np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).min(1).mean() for a, b in ((samples, data), (data, samples))]
    assert sum(distance) / 2 < 0.12, (name, distance)


@pytest.mark.parametrize("name", _bundled("flow images"))
def test_bundled_flows_reproduce_their_bits_per_dim(name):
    """A flow's likelihood is exact, so the registered test bits/dim (first N test images,
    dequantization seed 0) reproduces on every backend to 1e-3."""
    metric = zoo.pretrained.get_entry(name)["metrics"]["bits_per_dim"]
    count = int(metric["how"].split()[1])
    images, _ = zoo.datasets.load(zoo.pretrained.get_entry(name)["dataset"], "test", num=count)
    assert abs(float(np.mean(zoo.load(name).bits_per_dim(images, seed=0))) - metric["value"]) < 1e-3
