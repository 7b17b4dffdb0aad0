"""zoo.load / zoo.push_to_hub / scripts/publish.py end to end: a tiny rectified flow
published to the loopback stand-in Hub (tests/hub_server.py) through the real
huggingface_hub client, registered in a temporary checkpoints.json, and loaded back."""

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo import hub, pretrained
from zoo.checkpoint import CheckpointError, write_manifest
from zoo.hub import ChecksumError, HubUnavailableError

pytest.importorskip("huggingface_hub")

NAME = "rectified-flow-moons-test"
REPO = "zoo-test/rectified-flow-moons-test"
NOISE = np.random.default_rng(0).standard_normal((8, 2)).astype("float32")
FIELDS = {  # what push_to_hub cannot know; it fills in family, parameters, files and hub
    "description": "A 2-D rectified flow, untrained, small enough for tests.",
    "config": "rectified_flow_mlp",
    "dataset": "moons",
    "recipe": "recipes/rectified_flow_moons.py",
    "sampler": {"solver": "euler", "steps": 4},
    "metrics": {"energy_distance": {"value": 0.5, "how": "1k samples vs 1k test points"}},
    "training": {"hardware": "none", "wall_time": "0s", "images_seen": 0,
                 "command": "zoo.create('rectified_flow_mlp', seed=0, ema_decay=None)"},
    "license": "apache-2.0",
}


def sample(model):
    return model.sample(noise=NOISE, steps=4)


@pytest.fixture(scope="module")
def model():
    return zoo.create("rectified_flow_mlp", seed=0, ema_decay=None)


@pytest.fixture(scope="module")
def expected(model):
    return sample(model)


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    return zoo.save_checkpoint(model, tmp_path_factory.mktemp("saved") / NAME)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """`register(entries)`: a temporary checkpoints.json and (empty) bundled mirror in
    place of the real ones, which stay untouched."""
    monkeypatch.setattr(pretrained, "MIRROR_DIR", tmp_path / "weights")
    (tmp_path / "weights").mkdir()
    versions = iter(range(100))

    def register(entries):
        # A new file each time: the registry cache is keyed by path and mtime.
        path = tmp_path / f"checkpoints-{next(versions)}.json"
        path.write_text(json.dumps({"format_version": 1, "checkpoints": entries}))
        monkeypatch.setattr(pretrained, "REGISTRY_FILE", path)
        return path

    return register


@pytest.fixture
def published(local_hub, registry, model):  # noqa: F811
    """The model pushed to the local Hub and registered under NAME at the pushed commit."""
    entry = zoo.push_to_hub(model, REPO, entry=FIELDS, name=NAME)
    registry({NAME: entry})
    return entry


@pytest.fixture
def no_load(monkeypatch):
    """Records every checkpoint zoo.load deserializes: must stay empty after a refusal."""
    loaded = []
    real = pretrained.load_checkpoint
    monkeypatch.setattr(pretrained, "load_checkpoint",
                        lambda directory, **kw: loaded.append(directory) or real(directory, **kw))
    return loaded


def bundle(registry, checkpoint, **changes):
    """Copy `checkpoint` into the temporary mirror and register it, not yet published."""
    mirror = pretrained.MIRROR_DIR / NAME
    shutil.copytree(checkpoint, mirror)
    entry = {**FIELDS, "family": "RectifiedFlow", "parameters": 1,
             "hub": {"repo_id": REPO, "revision": None}, "files": hub.file_table(mirror),
             **changes}
    registry({NAME: entry})
    return mirror, entry


def go_offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read once, at import


def test_push_register_load_at_pinned_revision(published, local_hub, model, expected):  # noqa: F811
    entry = published
    assert json.loads(json.dumps(entry)) == entry  # what `zoo push` prints and we paste
    pretrained.validate_entry(NAME, entry)
    revision = entry["hub"]["revision"]
    assert len(revision) == 40 and entry["family"] == "RectifiedFlow"
    assert entry["parameters"] == model.count_params()
    assert set(entry["files"]["sha256"]) == {"config.json", "metadata.json", "model.weights.h5", "SHA256SUMS"}
    # main moves on; the registered name still loads the pinned commit.
    zoo.push_to_hub(zoo.create("rectified_flow_mlp", seed=1, ema_decay=None), REPO, name=NAME)
    loaded = zoo.load(NAME)
    assert loaded.checkpoint_dir.name == revision
    np.testing.assert_array_equal(sample(loaded), expected)
    from huggingface_hub import hf_hub_download

    card = Path(hf_hub_download(REPO, "README.md", revision=revision)).read_text()
    assert f'zoo.load("{NAME}")' in card and f'load_model("hf://{REPO}")' in card


def test_tampered_file_on_hub_is_never_loaded(published, local_hub, no_load):  # noqa: F811
    expected_sha = published["files"]["sha256"]["model.weights.h5"]
    size = published["files"]["size"]["model.weights.h5"]
    local_hub.tamper(REPO, "model.weights.h5", bytes(size), revision=published["hub"]["revision"])
    with pytest.raises(ChecksumError) as info:
        zoo.load(NAME)
    assert info.value.path.name == "model.weights.h5"
    got_sha = hashlib.sha256(bytes(size)).hexdigest()
    assert f"has sha256 {got_sha}, expected {expected_sha}" in str(info.value)
    assert "not loaded" in str(info.value)
    assert no_load == []


def test_truncated_bundled_file_reports_sizes(registry, checkpoint, expected, no_load):
    mirror, entry = bundle(registry, checkpoint)
    np.testing.assert_array_equal(sample(zoo.load(NAME)), expected)  # no Hub needed
    assert no_load == [mirror]
    size = entry["files"]["size"]["model.weights.h5"]
    weights = mirror / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ChecksumError, match=rf"model.weights.h5' has 1000 bytes, expected {size} "
                                            r"\(truncated"):
        zoo.load(NAME)
    assert no_load == [mirror]


def test_wrong_revision_is_a_clear_value_error(published):
    for revision in ("f" * 40, "no-such-branch"):
        with pytest.raises(ValueError, match=f"Revision '{revision}' does not exist in Hub repo "
                                             f"'{REPO}'"):
            zoo.load(NAME, revision=revision)


def test_hub_down_and_nothing_cached(published, local_hub):  # noqa: F811
    local_hub.stop()
    with pytest.raises(HubUnavailableError, match="HF_HUB_OFFLINE=1") as info:
        zoo.load(NAME)
    assert "zoo.load(path)" in str(info.value) and REPO in str(info.value)


def test_offline_with_warm_cache(published, local_hub, monkeypatch, expected):  # noqa: F811
    first = zoo.load(NAME).checkpoint_dir
    local_hub.stop()
    go_offline(monkeypatch)
    served = len(local_hub.requests)
    loaded = zoo.load(NAME)
    assert loaded.checkpoint_dir == first and len(local_hub.requests) == served
    np.testing.assert_array_equal(sample(loaded), expected)


def test_hf_uri_with_zoo_and_with_keras(local_hub, model, expected):  # noqa: F811
    revision = zoo.push_to_hub(model, REPO)["hub"]["revision"]
    for uri in (f"hf://{REPO}", f"hf://{REPO}@{revision}"):
        np.testing.assert_array_equal(sample(zoo.load(uri)), expected)
    # What we publish is a plain Keras directory: Keras alone loads it (zoo registers classes).
    loaded = keras.saving.load_model(f"hf://{REPO}")
    assert isinstance(loaded, zoo.models.RectifiedFlow)
    np.testing.assert_array_equal(sample(loaded), expected)


def test_local_directory(checkpoint, expected, tmp_path):
    for path in (checkpoint, str(checkpoint)):
        np.testing.assert_array_equal(sample(zoo.load(path)), expected)
    with pytest.raises(FileNotFoundError, match="No checkpoint directory"):
        zoo.load(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=f"For a Hub repository write 'hf://{REPO}'"):
        zoo.load(REPO)


def test_newer_format_is_refused(checkpoint, tmp_path):
    newer = shutil.copytree(checkpoint, tmp_path / "newer")
    metadata = json.loads((newer / "metadata.json").read_text())
    metadata.update(format_version=99, zoo_version="9.0.0")
    (newer / "metadata.json").write_text(json.dumps(metadata))
    write_manifest(newer)  # as a newer zoo would have saved it
    with pytest.raises(CheckpointError, match=r"zoo 9\.0\.0 in checkpoint format 99.*Upgrade zoo"):
        zoo.load(newer)


def test_family_mismatch_is_refused(registry, checkpoint):
    bundle(registry, checkpoint, family="Glow")
    with pytest.raises(CheckpointError, match="holds a 'RectifiedFlow' model, not 'Glow'"):
        zoo.load(NAME)


def test_unknown_name_suggests(registry, checkpoint):
    bundle(registry, checkpoint)
    with pytest.raises(ValueError, match=f"Unknown model 'rectified-flow-moon-test'. "
                                         f"Did you mean '{NAME}'"):
        zoo.load("rectified-flow-moon-test")
    assert zoo.list_models() == [NAME]


def load_script(name):
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publish_script_round_trip(local_hub, registry, checkpoint, expected, capsys):  # noqa: F811
    mirror, entry = bundle(registry, checkpoint, hub={"repo_id": "elsewhere/x", "revision": None})
    publish = load_script("publish")
    argv = ["--endpoint", local_hub.endpoint, "--token", local_hub.token, "--org", "zoo-test"]
    assert publish.main(argv + ["--write"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(pretrained.REGISTRY_FILE.read_text())["checkpoints"]
    assert printed == written
    revision = written[NAME]["hub"]["revision"]
    assert written[NAME] == {**entry, "hub": {"repo_id": "zoo-test/x", "revision": revision}}
    # Without the bundled copy, the name now loads from the Hub at the pinned commit.
    shutil.rmtree(mirror)
    loaded = zoo.load(NAME)
    assert loaded.checkpoint_dir.name == revision
    np.testing.assert_array_equal(sample(loaded), expected)
    # A bundled copy that is not what checkpoints.json pins is never published.
    shutil.copytree(checkpoint, mirror)
    (mirror / "config.json").write_text("{}")
    assert publish.main(argv) == 1
    assert "config.json" in capsys.readouterr().err


def test_bundle_script_updates_the_metrics_of_a_bundled_entry(registry, checkpoint, tmp_path, capsys):  # noqa: F811
    metrics = {"floor_2000": {"value": 0.09, "how": "2000 images"}, "fd": {"value": 5.4, "how": "2000 samples"},
               "straightness": {"value": 0.001, "how": "paths"}}
    mirror, entry = bundle(registry, checkpoint, metrics=metrics)
    report = tmp_path / "eval.json"
    report.write_text(json.dumps({"metrics": {
        "FD": {"value": 5.443456, "stderr": None, "how": "10000 samples"},
        "FD floor (train 10000)": {"value": 0.0315, "stderr": None, "how": "10000 images"}}}))
    script = load_script("bundle")
    update = [NAME, "--update-metrics", str(report), "--eval-samplers", "euler:1@10000"]
    assert script.main([*update, "--drop-metric", "floor_2000"]) == 0
    written = json.loads(pretrained.REGISTRY_FILE.read_text())["checkpoints"][NAME]
    # New measurements first (rounded, stderr dropped), then what the entry had besides.
    assert list(written["metrics"].items()) == [
        ("fd", {"value": 5.44346, "how": "10000 samples"}),
        ("fd_floor_train_10000", {"value": 0.0315, "how": "10000 images"}),
        ("straightness", {"value": 0.001, "how": "paths"})]
    assert written["eval_samplers"] == ["euler:1@10000"]
    assert {k: v for k, v in written.items() if k not in ("metrics", "eval_samplers")} == \
        {k: v for k, v in entry.items() if k != "metrics"}
    hub.verify_files(mirror, entry["files"]["sha256"], entry["files"]["size"])  # weights untouched
    card = (mirror / "README.md").read_text()
    assert "| fd | 5.443 | 10000 samples |" in card and "floor_2000" not in card
    capsys.readouterr()
    with pytest.raises(SystemExit):
        script.main([*update, "--drop-metric", "floor_200"])
    assert "--drop-metric floor_200: no such metric" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["no-such-model", "--update-metrics", str(report)])
    assert "'no-such-model' is not in" in capsys.readouterr().err


def test_a_same_named_directory_in_the_cwd_never_stands_in_for_a_registered_name(
        registry, checkpoint, expected, no_load, tmp_path, monkeypatch):
    mirror, _ = bundle(registry, checkpoint)
    impostor = zoo.create("rectified_flow_mlp", seed=1, ema_decay=None)
    work = tmp_path / "work"
    zoo.save_checkpoint(impostor, work / NAME)
    zoo.save_checkpoint(impostor, work / "my-run")
    monkeypatch.chdir(work)
    loaded = zoo.load(NAME)
    assert loaded.checkpoint_dir == mirror and no_load == [mirror]
    np.testing.assert_array_equal(sample(loaded), expected)
    assert pretrained.resolve(NAME) == mirror
    # Written as a path, the local directory is what loads (unverified, as any directory).
    for path in (f"./{NAME}", Path(NAME), str(work / NAME)):
        np.testing.assert_array_equal(sample(zoo.load(path)), sample(impostor))
    # The name stays pinned: a corrupt bundled copy is refused, not swapped for ./NAME.
    (mirror / "model.weights.h5").write_bytes(b"!")
    with pytest.raises(ChecksumError):
        zoo.load(NAME)
    # An unregistered bare name is a name, and the error says how to load the directory.
    with pytest.raises(ValueError, match=r"Unknown model 'my-run'.*'\./my-run'"):
        zoo.load("my-run")
    np.testing.assert_array_equal(sample(zoo.load("./my-run")), sample(impostor))


def test_an_empty_name_is_a_value_error(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("", "  "):
        with pytest.raises(ValueError, match="Empty model name"):
            zoo.load(name)
        with pytest.raises(ValueError, match="Empty model name"):
            pretrained.resolve(name)


def test_two_different_revisions_for_an_hf_uri_are_refused(monkeypatch):
    asked = []
    monkeypatch.setattr(hub, "download_checkpoint", lambda repo_id, revision=None, **kw:
                        asked.append((repo_id, revision)) or Path("unused"))
    with pytest.raises(ValueError, match=r"'hf://x/y@a'.*revision 'a'.*revision='b'"):
        pretrained.resolve("hf://x/y@a", revision="b")
    assert asked == []
    pretrained.resolve("hf://x/y@a", revision="a")  # the same revision twice is fine
    pretrained.resolve("hf://x/y", revision="b")
    assert asked == [("x/y", "a"), ("x/y", "b")]


# SHA256SUMS manifests: what nothing pins verifies itself ------------------------------


def test_saved_checkpoint_carries_a_manifest_that_sha256sum_reads(checkpoint):
    lines = (checkpoint / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ")[1]: line.split("  ")[0] for line in lines}
    assert set(listed) == {"config.json", "metadata.json", "model.weights.h5"}
    assert all(hashlib.sha256((checkpoint / name).read_bytes()).hexdigest() == digest
               for name, digest in listed.items())


def test_hf_uri_refuses_a_tampered_hub_copy_and_a_corrupted_cache(local_hub, model, expected):
    revision = zoo.push_to_hub(model, REPO)["hub"]["revision"]
    # The Hub's copy replaced (same size and ETag): refused on the branch and at the commit.
    original = local_hub.read(REPO, "model.weights.h5", revision=revision)
    forged = bytearray(original)
    forged[len(forged) // 2] ^= 0xFF
    local_hub.tamper(REPO, "model.weights.h5", bytes(forged), revision=revision)
    for uri in (f"hf://{REPO}", f"hf://{REPO}@{revision}"):
        with pytest.raises(ChecksumError, match="model.weights.h5") as info:
            zoo.load(uri)
        assert not info.value.path.exists()  # evicted, never left looking downloaded
    local_hub.tamper(REPO, "model.weights.h5", original, revision=revision)
    weights = pretrained.resolve(f"hf://{REPO}") / "model.weights.h5"
    np.testing.assert_array_equal(sample(zoo.load(f"hf://{REPO}")), expected)
    # Bit rot in the cached blob: evicted, fetched again, verified.
    weights.resolve().write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    np.testing.assert_array_equal(sample(zoo.load(f"hf://{REPO}")), expected)
    assert weights.read_bytes() == original


def test_registered_name_at_another_revision_verifies_its_manifest(published, local_hub):
    pinned = published["hub"]["revision"]
    weights = local_hub.read(REPO, "model.weights.h5", revision=pinned)
    local_hub.tamper(REPO, "model.weights.h5", weights[::-1], revision=pinned)
    with pytest.raises(ChecksumError):
        zoo.load(NAME, revision="main")
    local_hub.tamper(REPO, "model.weights.h5", weights, revision=pinned)
    zoo.load(NAME, revision="main")


def test_hub_repo_without_manifest_needs_an_explicit_opt_out(local_hub, checkpoint, expected, tmp_path):
    bare = shutil.copytree(checkpoint, tmp_path / "bare")
    (bare / "SHA256SUMS").unlink()
    hub.upload_checkpoint(bare, REPO)
    with pytest.raises(hub.UnverifiedCheckpointError, match=r"no SHA256SUMS.*verify=False.*skips the sha256"):
        zoo.load(f"hf://{REPO}")
    np.testing.assert_array_equal(sample(zoo.load(f"hf://{REPO}", verify=False)), expected)


def test_local_directory_verifies_its_manifest_or_warns(checkpoint, expected, tmp_path):
    copy = shutil.copytree(checkpoint, tmp_path / "copy")
    np.testing.assert_array_equal(sample(zoo.load(copy)), expected)
    config = json.loads((copy / "config.json").read_text())
    config["config"]["time_distribution"] = "logit_normal"  # a valid config, not the one summed
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ChecksumError, match="config.json"):
        zoo.load(copy)
    (copy / "config.json").write_bytes((checkpoint / "config.json").read_bytes())
    (copy / "SHA256SUMS").unlink()
    with pytest.warns(UserWarning, match="no SHA256SUMS manifest"):
        np.testing.assert_array_equal(sample(zoo.load(copy)), expected)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.load(copy, verify=False)


def test_malformed_manifests_are_checkpoint_errors(checkpoint, tmp_path):
    copy = shutil.copytree(checkpoint, tmp_path / "copy")
    lines = (copy / "SHA256SUMS").read_text().splitlines()
    for text, problem in [("not a manifest\n", "is not '<64 hex digits>"),
                          ("\n".join(line for line in lines if "weights" not in line) + "\n", "does not list model.weights.h5"),
                          (lines[0].split("  ")[0] + "  ../../etc/passwd\n", "outside the checkpoint")]:
        (copy / "SHA256SUMS").write_text(text)
        with pytest.raises(CheckpointError, match=problem):
            zoo.load(copy)


def test_push_refuses_a_directory_whose_files_differ_from_its_manifest(local_hub, checkpoint, tmp_path):
    copy = shutil.copytree(checkpoint, tmp_path / "copy")
    data = bytearray((copy / "model.weights.h5").read_bytes())
    data[-1] ^= 1
    (copy / "model.weights.h5").write_bytes(bytes(data))
    with pytest.raises(ChecksumError):
        zoo.push_to_hub(copy, REPO)
    assert REPO not in str(local_hub.requests)  # nothing was uploaded
