"""The `zoo` command line, called in-process through `zoo.cli.main`: tiny untrained
checkpoints saved in tmp dirs, a 4-step training recipe, no network."""

import json
import textwrap

import numpy as np
import pytest
from PIL import Image

import zoo
from zoo import cli, datasets, pretrained

REGISTRY = {"format_version": 1, "checkpoints": {
    "rectified-flow-moons": {"description": "1-rectified flow on the two moons.",
                             "family": "RectifiedFlow"}}}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Untrained checkpoints: a 16x16x3 U-Net and a 2-D MLP."""
    root = tmp_path_factory.mktemp("checkpoints")
    image = zoo.save_checkpoint(zoo.create("rectified_flow_tiny", seed=0, ema_decay=None), root / "tiny")
    points = zoo.save_checkpoint(zoo.create("rectified_flow_mlp", seed=0, ema_decay=None), root / "mlp",
                                 metadata={"dataset": "moons"})
    return {"image": image, "points": points}


@pytest.fixture
def registered(monkeypatch):
    """A registry holding one (never downloaded) checkpoint, for name lookups."""
    monkeypatch.setattr(pretrained, "registry", lambda: REGISTRY)


def run_cli(capsys, *argv):
    """`zoo ARGV...` -> (exit status, stdout, stderr)."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def test_image_grid_layout():
    images = np.arange(1, 6, dtype=np.uint8)[:, None, None, None] * np.ones((5, 2, 3, 1), np.uint8)
    grid = cli.image_grid(images, nrow=2)
    # 3 rows x 2 columns of 2x3 cells, 2 px of padding around every cell.
    assert grid.shape == (3 * 4 + 2, 2 * 5 + 2, 1) and grid.dtype == np.uint8
    for i in range(5):
        top, left = 2 + (i // 2) * 4, 2 + (i % 2) * 5
        assert np.all(grid[top:top + 2, left:left + 3] == i + 1), i
    assert np.sum(grid > 0) == 5 * 2 * 3  # padding and the empty last cell stay 0


def test_list_shows_checkpoints_and_configs(capsys, registered):
    status, out, _ = run_cli(capsys, "list")
    assert status == 0
    assert "rectified-flow-moons" in out and "1-rectified flow on the two moons." in out
    for name in zoo.list_configs():
        assert name in out


def test_sample_writes_image_grid(capsys, checkpoints, tmp_path):
    out_file = tmp_path / "samples" / "grid.png"
    status, out, _ = run_cli(capsys, "sample", checkpoints["image"], "--num", 5, "--nrow", 3,
                             "--steps", 2, "--out", out_file)
    assert status == 0
    assert "NFE: 2" in out and str(out_file) in out
    with Image.open(out_file) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        # 2 rows x 3 columns of 16x16 images with 2 px padding.
        assert image.size == (3 * 18 + 2, 2 * 18 + 2)


def test_sample_points_as_plot_and_array(capsys, checkpoints, tmp_path):
    status, out, _ = run_cli(capsys, "sample", checkpoints["points"], "--num", 7, "--steps", 3,
                             "--out", tmp_path / "points.npy")
    assert status == 0 and "NFE: 3" in out
    points = np.load(tmp_path / "points.npy")
    assert points.shape == (7, 2) and points.dtype == np.float32
    assert run_cli(capsys, "sample", checkpoints["points"], "--num", 7, "--steps", 3,
                   "--out", tmp_path / "points.png")[0] == 0
    with Image.open(tmp_path / "points.png") as image:
        assert image.size == (256, 256)


def test_sample_uses_the_recommended_sampler_of_a_registered_checkpoint(capsys, tmp_path):
    # rectified-flow-moons-2rf recommends Euler with 10 steps: NFE 10 without --steps.
    status, out, _ = run_cli(capsys, "sample", "rectified-flow-moons-2rf", "--num", 4,
                             "--out", tmp_path / "x.npy")
    assert status == 0 and "NFE: 10" in out
    status, _, err = run_cli(capsys, "sample", "rectified-flow-moons-2rf", "--num", 4, "--steps", 3,
                             "--out", tmp_path / "x.npy")
    assert status == 2 and "x.npy exists; pass --force" in err  # refused before any work
    status, out, _ = run_cli(capsys, "sample", "rectified-flow-moons-2rf", "--num", 4, "--steps", 3,
                             "--out", tmp_path / "x.npy", "--force")
    assert status == 0 and "NFE: 3" in out and np.load(tmp_path / "x.npy").shape == (4, 2)


def test_an_unwritable_output_folder_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    def nothing_to_load(name):
        raise AssertionError("the model was loaded before the output path was checked")

    monkeypatch.setattr(cli, "load_model", nothing_to_load)
    monkeypatch.setattr(cli.os, "access", lambda path, mode: False)  # root may write anywhere: mock it
    status, _, err = run_cli(capsys, "sample", "rectified-flow-moons", "--out", tmp_path / "new" / "x.npy")
    assert status == 2 and "is not writable" in err and str(tmp_path) in err
    (tmp_path / "report.json").write_text("{}")
    status, _, err = run_cli(capsys, "eval", "rectified-flow-moons", "--json", tmp_path / "report.json")
    assert status == 2 and "report.json exists; pass --force" in err


def test_sample_at_a_temperature_is_for_flows(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "sample", "glow-moons", "--num", 6, "--temperature", 0.5,
                             "--out", tmp_path / "cold.npy")
    assert status == 0 and "NFE: 1" in out
    expected = zoo.load("glow-moons").sample(6, temperature=0.5, seed=0)
    np.testing.assert_allclose(np.load(tmp_path / "cold.npy"), expected, atol=1e-6)
    status, _, err = run_cli(capsys, "sample", "rectified-flow-moons-2rf", "--temperature", 0.5,
                             "--out", tmp_path / "x.npy")
    assert status == 2 and "has no temperature" in err and "Leave it out" in err
    status, _, err = run_cli(capsys, "sample", "glow-moons", "--temperature", 0, "--out", tmp_path / "x.npy")
    assert status == 2 and "must be a finite number > 0" in err


def test_sample_classes_with_guidance(capsys, checkpoints, tmp_path):
    network = ("unet", dict(base_channels=8, channel_mults=(1,), num_res_blocks=1, attention_resolutions=(),
                            groups=4, num_classes=10))
    edm = zoo.create("edm_tiny", network=network, seed=0, ema_decay=None)
    path = zoo.save_checkpoint(edm, tmp_path / "edm", metadata={"dataset": "cifar10"})
    status, out, _ = run_cli(capsys, "sample", path, "--num", 4, "--steps", 2, "--labels", "cat,5",
                             "--guidance", 2, "--out", tmp_path / "x.npy")
    assert status == 0 and "NFE: 3" in out
    expected = zoo.load(path).sample(4, steps=2, labels=np.array([3, 3, 5, 5]), guidance=2.0, seed=0)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), expected)
    for argv, message in [(["--labels", "cow"], "unknown class 'cow'; give an id 0..9 or a name (airplane"),
                          (["--labels", "all", "--num", 5], "do not split evenly over 10 classes"),
                          (["--guidance", 2], "give the classes too, e.g. --labels all")]:
        status, _, err = run_cli(capsys, "sample", path, "--steps", 1, *argv, "--out", tmp_path / "y.npy")
        assert status == 2 and message in err
    status, _, err = run_cli(capsys, "sample", checkpoints["image"], "--labels", "1", "--out", tmp_path / "z.npy")
    assert status == 2 and "this model is unconditional" in err


def test_sampling_a_classifier_is_a_clear_error(capsys, tmp_path):
    status, _, err = run_cli(capsys, "sample", "noisy-classifier-moons", "--out", tmp_path / "x.npy")
    assert status == 2 and "not a generative model" in err


def test_unknown_name_exits_2_with_suggestion(capsys, registered):
    status, out, err = run_cli(capsys, "sample", "rectified-flow-moon")
    assert status == 2
    assert "Did you mean 'rectified-flow-moons'?" in err and "Traceback" not in err + out


def test_config_name_is_explained(capsys):
    status, _, err = run_cli(capsys, "sample", "rectified_flow_tiny")
    assert status == 2 and "is a config" in err


def test_missing_dataset_exits_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_NO_DOWNLOAD", "1")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "SHARED_DATA_DIR", tmp_path / "no-data")
    checkpoint = zoo.save_checkpoint(zoo.create("rectified_flow_mlp", seed=0, ema_decay=None),
                                     tmp_path / "mlp", metadata={"dataset": "mnist"})
    status, _, err = run_cli(capsys, "eval", checkpoint)
    assert status == 2 and "Dataset 'mnist' not found" in err


def test_eval_points_writes_json(capsys, checkpoints, tmp_path):
    status, out, _ = run_cli(capsys, "eval", checkpoints["points"], "--num", 64, "--steps", 4,
                             "--test-points", 32, "--rtol", 1e-3, "--atol", 1e-3, "--json", tmp_path / "eval.json")
    assert status == 0 and "log-likelihood" in out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["dataset"] == "moons"
    metrics = report["metrics"]
    assert {"log-likelihood (nats)", "NN distance (symmetric)", "straightness"} <= set(metrics)
    assert all(np.isfinite(m["value"]) for m in metrics.values())
    assert metrics["log-likelihood (nats)"]["stderr"] > 0


RECIPE = textwrap.dedent('''
    import json
    from pathlib import Path

    import zoo
    from zoo.training import ArrayBatches, train


    def main(workdir="unused", epochs=1, smoke=False):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        (Path(workdir) / "called.json").write_text(json.dumps([workdir, epochs, smoke]))
        points, _ = zoo.datasets.load("moons", num=256)
        model = zoo.create("rectified_flow_mlp", seed=0)
        return train(model, ArrayBatches(points, 64, seed=0), workdir=workdir, epochs=epochs,
                     verbose=0)
''')


def test_train_recipe_by_name(capsys, monkeypatch, tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny_moons.py").write_text(RECIPE)
    monkeypatch.chdir(tmp_path)
    status, out, _ = run_cli(capsys, "train", "tiny-moons", "--smoke")
    assert status == 0
    workdir = tmp_path / "runs" / "tiny-moons"
    # Only the given options reach the recipe: `epochs` keeps the recipe's default.
    assert json.loads((workdir / "called.json").read_text()) == ["runs/tiny-moons", 1, True]
    assert (workdir / "checkpoint" / "config.json").is_file()
    assert "runs/tiny-moons/checkpoint" in out


def test_unknown_recipe_exits_2(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(capsys, "train", "rectified-flow-cifr")
    assert status == 2 and "Did you mean 'rectified-flow-cifar'" in err
    status, _, err = run_cli(capsys, "train", tmp_path / "missing.py")
    assert status == 2 and "No recipe file" in err


def test_push_uploads_and_prints_the_entry(capsys, local_hub, tmp_path):
    directory = zoo.save_checkpoint(zoo.create("rectified_flow_mlp", seed=0, ema_decay=None), tmp_path / "ck")
    assert cli.main(["push", str(directory), "zoo-test/pushed", "--token", local_hub.token]) == 0
    out = capsys.readouterr().out
    entry = json.loads(out[out.index("{"):])["pushed"]
    assert len(entry["hub"]["revision"]) == 40
    assert entry["files"]["sha256"]["model.weights.h5"] == zoo.hub.sha256_file(directory / "model.weights.h5")
    loaded = zoo.load(f"hf://zoo-test/pushed@{entry['hub']['revision']}")
    noise = np.zeros((2, 2), "float32")
    np.testing.assert_array_equal(loaded.sample(noise=noise, steps=2),
                                  zoo.load(directory).sample(noise=noise, steps=2))


def test_sample_translates_sources_of_a_bridge(capsys, tmp_path):
    # The bundled toy bridge: --source test takes the first --num test sources of its
    # paired set; a file of sources works too; a bridge without --source is refused.
    status, out, _ = run_cli(capsys, "sample", "ddbm-moons-rotated", "--num", 6, "--source", "test",
                             "--out", tmp_path / "x.npy")
    assert status == 0 and "NFE: 11" in out  # the checkpoint's recommended dbim:10, plus its booting step
    sources = datasets.load_pairs("moons_rotated", "test", num=6)[0]
    expected = zoo.load("ddbm-moons-rotated").sample(source=sources, steps=10, solver="dbim", seed=0)
    np.testing.assert_allclose(np.load(tmp_path / "x.npy"), expected, atol=1e-6)
    np.save(tmp_path / "sources.npy", sources[:3])
    status, _, _ = run_cli(capsys, "sample", "ddbm-moons-rotated", "--source", tmp_path / "sources.npy",
                           "--out", tmp_path / "y.npy")
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected[:3], atol=1e-6)
    status, out, _ = run_cli(capsys, "sample", "ddbm-moons-rotated", "--num", 6, "--source", "test",
                             "--out", tmp_path / "pairs.png")
    assert status == 0 and "sources | translations | targets" in out
    with Image.open(tmp_path / "pairs.png") as image:  # three 256-pixel panels, 8 pixels apart
        assert image.size == (3 * 256 + 2 * 8, 256)
    status, _, err = run_cli(capsys, "sample", "ddbm-moons-rotated", "--out", tmp_path / "z.npy")
    assert status == 2 and "--source test" in err
    status, _, err = run_cli(capsys, "sample", "rectified-flow-moons-2rf", "--source", "test",
                             "--out", tmp_path / "z.npy")
    assert status == 2 and "diffusion bridges" in err


def test_sample_draws_image_translations_beside_sources(capsys, tmp_path):
    model = zoo.create("ddbm_tiny", data_shape=(8, 8, 3), seed=0, ema_decay=None)
    path = zoo.save_checkpoint(model, tmp_path / "bridge", metadata={"dataset": "cifar10_edges"})
    sources = np.random.default_rng(0).integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)
    grid = cli.image_grid(sources, nrow=2)[2:-2, 2:-2]  # a 2x2 grid of sources as one PNG, padding kept inside
    Image.fromarray(np.pad(grid, ((2, 2), (2, 2), (0, 0)))).save(tmp_path / "sources.png")
    status, _, err = run_cli(capsys, "sample", path, "--source", tmp_path / "sources.png", "--steps", 2,
                             "--out", tmp_path / "pairs.png")
    assert status == 2 and "not a grid of 8x8 images" in err  # padding makes it 22x22
    Image.fromarray(np.concatenate([np.concatenate(list(sources[:2]), 1), np.concatenate(list(sources[2:]), 1)],
                                   0)).save(tmp_path / "sources.png")
    status, out, _ = run_cli(capsys, "sample", path, "--source", tmp_path / "sources.png", "--steps", 2,
                             "--out", tmp_path / "pairs.png")
    assert status == 0 and "NFE: 3" in out
    with Image.open(tmp_path / "pairs.png") as image:  # 4 (source, translation) pairs, 2 per row
        assert image.size == (4 * 10 + 2, 2 * 10 + 2)
