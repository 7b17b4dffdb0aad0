"""Every recipe runs its own code path end to end in smoke mode (tiny data, two steps)
and exports a loadable checkpoint that samples (generative models) or classifies."""

import inspect
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo.cli import load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.py"))
# A recipe's smoke run is seconds to a minute of graph compilation on JAX and TensorFlow
# for two steps, and recipes differ only in Python wiring: they all run on PyTorch, and
# three on every backend (one optimizer, one per class of images, one per network of a
# GAN). Fit/save/load of every family on every backend is the families' harness tests'.
EVERY_BACKEND_RECIPES = {"rectified_flow_moons", "classifier_cifar", "gan_qp_gaussian_grid"}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_smoke_run_exports_a_checkpoint(recipe, tmp_path):
    if keras.backend.backend() != "torch" and recipe.stem not in EVERY_BACKEND_RECIPES:
        pytest.skip("recipe smoke runs are compile-bound on JAX and TensorFlow; they run on PyTorch")
    load_recipe(recipe).main(workdir=str(tmp_path), smoke=True)
    model = zoo.load(tmp_path / "checkpoint")
    metadata = model.checkpoint_metadata
    assert metadata["recipe"] == f"recipes/{recipe.name}" and metadata["training"]["images_seen"] > 0
    if model.interface.kind == "classifier" and not model.interface.can("features"):  # noisy data, a noise level
        logits = keras.ops.convert_to_numpy(model.logits(np.zeros((2, *model.data_shape), np.float32), 1.0))
        assert logits.shape == (2, model.num_classes) and np.all(np.isfinite(logits))
        return
    if model.interface.can("reconstruct") and not model.interface.can("sample"):  # images -> codes -> images
        images = np.zeros((2, *model.data_shape), np.uint8)
        assert model.reconstruct(images).shape == images.shape
        return
    if model.interface.kind == "encoder":  # features of uint8 images
        features = model.features(np.zeros((2, *model.data_shape), np.uint8))
        assert features.shape[0] == 2 and np.all(np.isfinite(features))
        return
    if not model.interface.can("sample"):  # a classifier: logits for uint8 images
        images = np.zeros((2, *model.data_shape), np.uint8)
        logits = model.logits(images)
        assert logits.shape[0] == 2 and np.all(np.isfinite(logits))
        return
    # The fewest steps a family's sampler takes (flows and one-step samplers have none).
    accepted = inspect.signature(model.sample).parameters
    options = {key: value for key, value in (("steps", 1), ("raw", True)) if key in accepted}
    if model.interface.can("source"):  # a bridge translates sources: uint8 images or points
        options["source"] = (np.zeros((2, *model.data_shape), np.uint8) if model.is_image
                             else np.zeros((2, *model.data_shape), "float32"))
    samples = np.asarray(model.sample(2, seed=0, **options))
    assert samples.shape == (2, *model.sample_shape) and np.all(np.isfinite(samples))


def test_every_registered_checkpoint_has_its_recipe():
    recipes = {f"recipes/{p.name}" for p in RECIPES}
    assert {zoo.pretrained.get_entry(name)["recipe"] for name in zoo.list_models()} <= recipes


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_can_warm_start(recipe):
    # `zoo train RECIPE --resume-from CHECKPOINT` passes `resume_from` to main().
    assert "resume_from" in inspect.signature(load_recipe(recipe).main).parameters


def test_a_recipe_without_warm_start_is_a_clear_cli_error(tmp_path, capsys):
    recipe = tmp_path / "plain.py"
    recipe.write_text("def main(workdir, epochs=1, smoke=False):\n    raise AssertionError('ran')\n")
    with pytest.raises(SystemExit) as exit_info:
        zoo.cli.main(["train", str(recipe), "--workdir", str(tmp_path / "run"), "--resume-from", "rectified-flow-moons"])
    assert exit_info.value.code == 2 and "cannot warm-start" in capsys.readouterr().err


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_takes_optimizer_settings(recipe):
    # `zoo train RECIPE --optimizer lion [--learning-rate ...]` passes `optimizer` to main().
    assert "optimizer" in inspect.signature(load_recipe(recipe).main).parameters


def test_train_with_another_optimizer_records_it_in_the_checkpoint(tmp_path, capsys):
    recipe = load_recipe(RECIPES[0].with_name("rectified_flow_moons.py"))
    workdir = tmp_path / "lion"
    assert zoo.cli.main(["train", "rectified-flow-moons", "--smoke", "--workdir", str(workdir),
                         "--optimizer", "lion", "--weight-decay", "0.3"]) in (0, None)
    recorded = zoo.load(workdir / "checkpoint").checkpoint_metadata["training"]["optimizer"]
    expected = recipe.OPTIMIZER.switch("lion").replace(weight_decay=0.3)
    assert recorded == expected.to_dict() and recorded["learning_rate"] == recipe.LEARNING_RATE / 3
    # Resuming that workdir with the recipe's own Adam is refused, not silently mixed.
    with pytest.raises(SystemExit) as exit_info:
        zoo.cli.main(["train", "rectified-flow-moons", "--smoke", "--workdir", str(workdir), "--epochs", "2",
                      "--optimizer", "adam"])
    assert exit_info.value.code == 2 and "optimizer lion, not adam" in capsys.readouterr().err
    plain = tmp_path / "plain.py"
    plain.write_text("def main(workdir, epochs=1, smoke=False):\n    raise AssertionError('ran')\n")
    with pytest.raises(SystemExit) as exit_info:
        zoo.cli.main(["train", str(plain), "--workdir", str(tmp_path / "run"), "--optimizer", "lion"])
    assert exit_info.value.code == 2 and "takes no optimizer settings" in capsys.readouterr().err
