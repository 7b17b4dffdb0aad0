"""`zoo.create`: named configs give the same untrained model for the same seed."""

import random

import numpy as np
import pytest

import zoo

SMALL = ["rectified_flow_mlp", "ddpm_tiny", "edm_mlp", "score_sde_mlp", "nice_2d", "realnvp_tiny", "glow_tiny",
         "classifier_tiny", "noisy_classifier_tiny"]


def weights(model):
    return [np.asarray(w) for w in model.get_weights()]


@pytest.mark.parametrize("name", SMALL)
def test_seed_fixes_the_initial_weights(name):
    random.seed(1)
    first = weights(zoo.create(name, seed=0))
    state = random.getstate()
    again = weights(zoo.create(name, seed=0))  # other global RNG state: same weights
    assert random.getstate() == state, "create must not consume the caller's random numbers"
    other = weights(zoo.create(name, seed=1))
    assert len(first) == len(again) == len(other)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(a.size > 1 and a.std() > 0 and not np.array_equal(a, c) for a, c in zip(first, other, strict=True))


def test_unknown_config_suggests_close_names():
    with pytest.raises(ValueError, match="Unknown config 'glow_tny'. Did you mean 'glow_tiny'"):
        zoo.create("glow_tny")
