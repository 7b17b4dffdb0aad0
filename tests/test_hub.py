"""zoo.hub through the real huggingface_hub client against the loopback stand-in Hub
(tests/hub_server.py): no network, no training."""

import hashlib
import json

import numpy as np
import pytest
import yaml

from zoo import hub
from zoo.hub import ChecksumError, HubUnavailableError

REPO = "zoo-test/toy-cifar"
ENTRY = {
    "description": "A toy rectified flow on CIFAR-10, small enough for tests.",
    "family": "rectified-flow",
    "config": "rectified_flow_tiny",
    "hub": {"repo_id": REPO, "revision": "0" * 40},
    "parameters": 123_456,
    "dataset": "cifar10",
    "recipe": "recipes/rectified_flow_cifar.py",
    "sampler": {"method": "euler", "steps": 50},
    "metrics": {
        "FID": {"value": 12.5, "how": "50k samples vs the training set, Inception-v3 pool3"},
        "bits_per_dim": {"value": 3.1, "how": "test set, 1 | dequantisation sample"},
    },
    "training": {"hardware": "1x H100 80GB", "wall_time": "2h 10m", "images_seen": 25_600_000,
                 "command": "python recipes/rectified_flow_cifar.py --steps 200000"},
    "license": "apache-2.0",
}


def make_checkpoint(directory, seed=0):
    """A checkpoint-like directory; `model.weights.h5` is random bytes. Returns its file table."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"class_name": "Sequential", "seed": seed}))
    (directory / "metadata.json").write_text(json.dumps({"keras_version": "3.15.1"}))
    (directory / "model.weights.h5").write_bytes(np.random.default_rng(seed).bytes(40_000))
    (directory / "samples.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (directory / "README.md").write_text(hub.render_model_card("toy-cifar", ENTRY))
    return hub.file_table(directory)


def download(table, revision, **kwargs):
    return hub.download_checkpoint(REPO, revision=revision, sha256=table["sha256"],
                                   sizes=table["size"], **kwargs)


def go_offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read once, at import


def test_upload_then_download_at_pinned_revision(local_hub, tmp_path):
    table = make_checkpoint(tmp_path / "ckpt")
    revision = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    assert len(revision) == 40 and int(revision, 16) >= 0
    path = download(table, revision)
    assert path.name == revision
    assert sorted(p.name for p in path.iterdir()) == sorted(table["sha256"])  # no .gitattributes
    for name in table["sha256"]:
        assert (path / name).read_bytes() == (tmp_path / "ckpt" / name).read_bytes()
    # Pushing the same files again changes nothing and returns the same pinned commit.
    assert hub.upload_checkpoint(tmp_path / "ckpt", REPO) == revision


def test_old_revision_still_gives_old_bytes(local_hub, tmp_path):
    old = make_checkpoint(tmp_path / "ckpt", seed=0)
    first = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    new = make_checkpoint(tmp_path / "ckpt", seed=1)
    second = hub.upload_checkpoint(tmp_path / "ckpt", REPO, commit_message="retrain")
    assert second != first and old["sha256"] != new["sha256"]
    for table, revision in ((old, first), (new, second)):
        weights = download(table, revision) / "model.weights.h5"
        assert hub.sha256_file(weights) == table["sha256"]["model.weights.h5"]
    # "main" moved on: the old pins no longer verify against it.
    with pytest.raises(ChecksumError):
        download(old, "main")


def test_tampered_file_is_refused_and_evicted(local_hub, tmp_path):
    table = make_checkpoint(tmp_path / "ckpt")
    revision = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    original = (tmp_path / "ckpt" / "model.weights.h5").read_bytes()
    forged = np.random.default_rng(7).bytes(len(original))
    local_hub.tamper(REPO, "model.weights.h5", forged, revision=revision)
    with pytest.raises(ChecksumError) as info:
        download(table, revision)
    message = str(info.value)
    assert "model.weights.h5" in message and "not loaded" in message
    assert table["sha256"]["model.weights.h5"] in message
    assert hashlib.sha256(forged).hexdigest() in message
    assert not info.value.path.exists()  # never left in the cache looking downloaded
    # Once the Hub serves the right bytes again, the same call succeeds.
    local_hub.tamper(REPO, "model.weights.h5", original, revision=revision)
    assert (download(table, revision) / "model.weights.h5").read_bytes() == original


def test_truncated_file_reports_sizes(local_hub, tmp_path):
    table = make_checkpoint(tmp_path / "ckpt")
    revision = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    local_hub.tamper(REPO, "model.weights.h5", b"\x00" * 1000, revision=revision)
    with pytest.raises(ChecksumError, match=r"has 1000 bytes, expected 40000 \(truncated"):
        download(table, revision)


def test_unknown_revision_and_repo_are_value_errors(local_hub, tmp_path):
    table = make_checkpoint(tmp_path / "ckpt")
    hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    for revision in ("f" * 40, "no-such-branch"):
        with pytest.raises(ValueError, match=f"Revision '{revision}' does not exist"):
            download(table, revision)
    with pytest.raises(ValueError, match="Hub repo 'zoo-test/missing' does not exist"):
        hub.download_checkpoint("zoo-test/missing", revision="main", sha256=table["sha256"])


def test_hub_down_with_empty_cache(local_hub, tmp_path, monkeypatch):
    from huggingface_hub.utils import _http

    table = make_checkpoint(tmp_path / "ckpt")
    revision = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    local_hub.stop()
    backoffs = []  # the client's retry loop sleeps between attempts
    monkeypatch.setattr(_http.time, "sleep", backoffs.append)
    for rev in (revision, "main"):
        with pytest.raises(HubUnavailableError, match="HF_HUB_OFFLINE=1") as info:
            download(table, rev)
        assert "zoo.load(path)" in str(info.value) and "bundled copy" in str(info.value)
    assert backoffs == []  # gave up at once, without the client's retry loop


def test_warm_cache_needs_no_network(local_hub, tmp_path, monkeypatch):
    table = make_checkpoint(tmp_path / "ckpt")
    revision = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    first = download(table, revision)
    download(table, "main")  # records the main -> commit ref in the cache
    served = len(local_hub.requests)
    assert download(table, revision) == first  # pinned and cached: not a single request
    assert len(local_hub.requests) == served
    local_hub.stop()  # unreachable: the pinned commit and the cached branch ref still work
    assert download(table, revision) == first
    assert download(table, "main") == first
    local_hub.start()
    go_offline(monkeypatch)
    served = len(local_hub.requests)
    assert download(table, revision) == first
    assert download(table, "main") == first
    assert len(local_hub.requests) == served


def test_corrupted_cache_is_fetched_again(local_hub, tmp_path, monkeypatch):
    table = make_checkpoint(tmp_path / "ckpt")
    revision = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    weights = download(table, revision) / "model.weights.h5"
    good = weights.read_bytes()
    weights.resolve().write_bytes(good[:-1] + b"!")  # bit rot in the cached blob
    assert download(table, revision) == weights.parent  # evicted, fetched again, verified
    assert weights.read_bytes() == good
    weights.resolve().write_bytes(b"!")
    go_offline(monkeypatch)  # offline, the bad copy is refused and nothing can replace it
    with pytest.raises(ChecksumError, match="has 1 bytes, expected 40000"):
        download(table, revision)
    assert not weights.exists()


def test_offline_with_cold_cache(local_hub, tmp_path, monkeypatch):
    table = make_checkpoint(tmp_path / "ckpt")
    revision = hub.upload_checkpoint(tmp_path / "ckpt", REPO)
    go_offline(monkeypatch)
    with pytest.raises(HubUnavailableError, match="HF_HUB_OFFLINE=1"):
        download(table, revision)


def test_upload_without_xet_and_to_a_branch(local_hub, tmp_path, monkeypatch):
    # Without hf_xet, upload_folder takes create_commit instead of the streamed pipeline.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    table = make_checkpoint(tmp_path / "ckpt")
    main = hub.upload_checkpoint(tmp_path / "ckpt", REPO, private=True)
    other = make_checkpoint(tmp_path / "other", seed=3)
    branch = hub.upload_checkpoint(tmp_path / "other", REPO, revision="v2")
    assert branch != main
    assert download(table, main).name == main
    assert download(other, "v2").name == branch


def test_verify_files_and_file_table(tmp_path):
    table = make_checkpoint(tmp_path / "ckpt")
    assert set(table["sha256"]) == {"README.md", "config.json", "metadata.json",
                                    "model.weights.h5", "samples.png"}
    hub.verify_files(tmp_path / "ckpt", table["sha256"], table["size"])
    (tmp_path / "ckpt" / "config.json").unlink()
    with pytest.raises(ChecksumError, match="config.json' is missing"):
        hub.verify_files(tmp_path / "ckpt", table["sha256"])


def front_matter(card):
    assert card.startswith("---\n")
    meta, _, body = card[4:].partition("\n---\n")
    return yaml.safe_load(meta), body


def test_model_card_front_matter_and_body():
    meta, body = front_matter(hub.render_model_card("toy-cifar", ENTRY))
    assert meta["library_name"] == "keras" and meta["license"] == "apache-2.0"
    assert {"zoo", "rectified-flow", "generative", "keras-3", "jax", "tensorflow",
            "pytorch"} <= set(meta["tags"])
    assert meta["pipeline_tag"] == "unconditional-image-generation"
    assert meta["datasets"] == ["uoft-cs/cifar10"]
    (result,) = meta["model-index"][0]["results"]
    assert {m["name"]: m["value"] for m in result["metrics"]} == {"FID": 12.5, "bits_per_dim": 3.1}
    for text in ('zoo.load("toy-cifar")', f'keras.saving.load_model("hf://{REPO}")',
                 "KERAS_BACKEND=torch", "](samples.png)", "recipes/rectified_flow_cifar.py",
                 "--steps 200000", "1x H100", "25,600,000", "Inception-v3 pool3",
                 "1 \\| dequantisation", "steps=50"):
        assert text in body, text
    # A toy 2-D model: no image pipeline tag, no Hub dataset, still valid YAML.
    # Values YAML would otherwise read as booleans or nulls stay strings.
    toy = {**ENTRY, "dataset": "two_moons", "metrics": {}, "family": "on", "license": "null",
           "description": 'quotes " and: colons'}
    meta, body = front_matter(hub.render_model_card("flow-moons", toy, sample_image=None))
    assert "pipeline_tag" not in meta and "datasets" not in meta and "model-index" not in meta
    assert "on" in meta["tags"] and meta["license"] == "null"
    assert 'quotes " and: colons' in body and "![" not in body
    # Classifier-free guidance recorded with the sampler: the card samples classes with it.
    guided = {**ENTRY, "sampler": {"solver": "heun", "steps": 18, "guidance": 3.0}}
    meta, body = front_matter(hub.render_model_card("cond-cifar", guided))
    assert meta["model-index"][0]["results"][0]["task"]["name"] == "Class-conditional generation"
    assert "import numpy as np" in body and "% model.num_classes" in body
    assert "model.sample(20, steps=18, labels=labels, guidance=3, seed=0)" in body


def test_keras_model_loads_from_hf_uri(local_hub, tmp_path):
    keras = pytest.importorskip("keras")
    from keras.src.saving import saving_lib

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    saving_lib._save_model_to_dir(model, str(tmp_path / "ckpt"), "h5")
    (tmp_path / "ckpt" / "README.md").write_text(hub.render_model_card("dense", ENTRY))
    hub.upload_checkpoint(tmp_path / "ckpt", "zoo-test/dense")
    loaded = keras.saving.load_model("hf://zoo-test/dense")
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(model(x)), rtol=1e-6, atol=1e-6)
