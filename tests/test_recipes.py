"""Every recipe runs its own code path end to end in smoke mode (tiny data, two steps)
and exports a loadable checkpoint that samples."""

from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.cli import load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.py"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_smoke_run_exports_a_checkpoint(recipe, tmp_path):
    load_recipe(recipe).main(workdir=str(tmp_path), smoke=True)
    model = zoo.load(tmp_path / "checkpoint")
    metadata = model.checkpoint_metadata
    assert metadata["recipe"] == f"recipes/{recipe.name}" and metadata["training"]["images_seen"] > 0
    samples = model.sample(2, steps=1, seed=0, raw=True)
    assert samples.shape == (2, *model.data_shape) and np.all(np.isfinite(samples))


def test_every_registered_checkpoint_has_its_recipe():
    recipes = {f"recipes/{p.name}" for p in RECIPES}
    assert {zoo.pretrained.get_entry(name)["recipe"] for name in zoo.list_models()} <= recipes
