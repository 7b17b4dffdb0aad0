"""Checkpoint directories (atomic writes, clear errors) and resumable training."""

import json
import types

import keras
import numpy as np
import pytest

import zoo
from zoo.checkpoint import CheckpointError, write_atomically
from zoo.training import ArrayBatches, StopBeforeDeadline, time_limit, train


def _model():
    return zoo.create("rectified_flow_mlp", seed=0, ema_decay=0.9)


def test_keras_load_model_reads_our_directory(tmp_path, rng):
    model = _model()
    path = zoo.save_checkpoint(model, tmp_path / "ck")
    assert sorted(p.name for p in path.iterdir()) == ["SHA256SUMS", "config.json", "metadata.json", "model.weights.h5"]
    loaded = keras.saving.load_model(path)
    noise = rng.normal(size=(5, 2)).astype("float32")
    np.testing.assert_array_equal(loaded.sample(noise=noise, steps=3), model.sample(noise=noise, steps=3))
    metadata = json.loads((path / "metadata.json").read_text())
    assert metadata["family"] == "RectifiedFlow" and metadata["format_version"] == 1


def test_a_failed_write_leaves_the_old_checkpoint(tmp_path):
    path = zoo.save_checkpoint(_model(), tmp_path / "ck")
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def crash(tmp):
        (tmp / "model.weights.h5").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, crash, overwrite=True)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no temp dirs left behind
    with pytest.raises(FileExistsError, match="overwrite=True"):
        zoo.save_checkpoint(_model(), path)


def test_missing_and_corrupt_files_are_named(tmp_path):
    path = zoo.save_checkpoint(_model(), tmp_path / "ck")
    (path / "model.weights.h5").write_bytes(b"not an h5 file")
    with pytest.raises(CheckpointError, match="model.weights.h5"):
        zoo.load_checkpoint(path)
    (path / "config.json").unlink()
    with pytest.raises(CheckpointError, match="missing config.json"):
        zoo.load_checkpoint(path)


def _batches():
    return ArrayBatches(zoo.datasets.load("moons", num=1000)[0], 100, seed=0, steps_per_epoch=4)


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    straight = _model()
    resumed = _model()
    resumed.set_weights(straight.get_weights())  # initializers are not seeded by `seed`
    train(straight, _batches(), workdir=tmp_path / "a", epochs=4, verbose=0,
          optimizer=keras.optimizers.Adam(1e-3))
    train(resumed, _batches(), workdir=tmp_path / "b", epochs=2, verbose=0,
          optimizer=keras.optimizers.Adam(1e-3))
    again = _model()  # as a new process would: a fresh model (other init), same workdir
    exported = train(again, _batches(), workdir=tmp_path / "b", epochs=4, verbose=0,
                     optimizer=keras.optimizers.Adam(1e-3))
    for a, b in zip(straight.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    state = json.loads((tmp_path / "b" / "state" / "training.json").read_text())
    assert state["epoch"] == 4 and state["images_seen"] == 4 * 4 * 100 and len(state["history"]["loss"]) == 4
    # The export holds the EMA weights, without the shadow copy.
    assert exported.ema is None
    np.testing.assert_allclose(exported.network.get_weights()[0], again.averaged("network").get_weights()[0])
    assert zoo.load(tmp_path / "b" / "checkpoint").checkpoint_metadata["training"]["epochs"] == 4


def test_a_time_limit_stops_at_an_epoch_boundary_and_the_run_resumes(tmp_path):
    # A deadline already past: the first epoch runs (a limit never loses started work),
    # then training stops, saves, and exports what it has.
    with time_limit(0):
        train(_model(), _batches(), workdir=tmp_path, epochs=4, verbose=0)
    state = json.loads((tmp_path / "state" / "training.json").read_text())
    assert state["epoch"] == 1
    assert zoo.load(tmp_path / "checkpoint").checkpoint_metadata["training"]["epochs"] == 1
    train(_model(), _batches(), workdir=tmp_path, epochs=3, verbose=0)  # no limit: resumes to 3
    assert json.loads((tmp_path / "state" / "training.json").read_text())["epoch"] == 3
    assert zoo.load(tmp_path / "checkpoint").checkpoint_metadata["training"]["epochs"] == 3


def test_deadline_callback_projects_the_slowest_epoch(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(zoo.training.time, "monotonic", lambda: clock[0])
    callback = StopBeforeDeadline(deadline=100.0)
    callback.set_model(types.SimpleNamespace(stop_training=False))
    stops = []
    for start, end in [(0, 30), (30, 50), (50, 75)]:  # epochs of 30, 20 and 25 s
        clock[0] = start
        callback.on_epoch_begin(0)
        clock[0] = end
        callback.on_epoch_end(0)
        stops.append(callback.model.stop_training)
    # After 50 s, another 30 s (the slowest) fits before 100; after 75 s it does not.
    assert stops == [False, False, True]


def test_batches_are_deterministic_and_cover_each_pass():
    data = np.arange(10, dtype="float32")[:, None]
    batches = ArrayBatches(data, 3, seed=1, steps_per_epoch=2)  # 3 batches per pass of 10
    seen = []
    for epoch in range(3):
        batches.epoch = epoch
        seen += [batches[i][0][:, 0] for i in range(2)]
    first_pass = np.concatenate(seen[:3])
    assert len(set(first_pass)) == 9  # one pass: 9 distinct examples, the ragged 1 dropped
    again = ArrayBatches(data, 3, seed=1, steps_per_epoch=2)
    again.epoch = 2
    np.testing.assert_array_equal(again[1][0], seen[5][:, None])


def test_batches_flip_images_and_keep_pairs():
    images = np.arange(2 * 4 * 4 * 1, dtype=np.uint8).reshape(2, 4, 4, 1)
    (x,) = ArrayBatches(images, 2, flip=True, seed=0)[0]
    expected = zoo.datasets.to_model_space(images)
    assert all(np.array_equal(a, e) or np.array_equal(a, e[:, ::-1]) for a, e in zip(x, expected))
    noise = np.ones((2, 2), "float32")
    (batch,) = ArrayBatches(np.zeros((2, 2), "float32"), 2, noise=noise, labels=np.array([3, 4]))[0]
    assert set(batch) == {"data", "noise", "labels"} and batch["labels"].dtype == np.int32
    with pytest.raises(ValueError, match="coupling"):
        ArrayBatches(images, 2, noise=images, flip=True)


def test_warm_start_from_a_published_checkpoint(tmp_path):
    first = train(_model(), _batches(), workdir=tmp_path / "a", epochs=2, verbose=0)
    # A new machine: no state directory, only the exported checkpoint.
    fresh = _model()
    same = train(fresh, _batches(), workdir=tmp_path / "b", epochs=2, verbose=0,
                 resume_from=tmp_path / "a" / "checkpoint")
    for a, b in zip(first.get_weights(), same.get_weights()):  # nothing left to train: a copy
        np.testing.assert_array_equal(a, b)
    more = train(_model(), _batches(), workdir=tmp_path / "c", epochs=3, verbose=0,
                 resume_from=tmp_path / "a" / "checkpoint")
    training = zoo.load(tmp_path / "c" / "checkpoint").checkpoint_metadata["training"]
    assert training["images_seen"] == 3 * 4 * 100 and len(training["history"]["loss"]) == 3
    assert training["resumed_from"].endswith("checkpoint")
    assert not np.allclose(more.get_weights()[0], first.get_weights()[0])
    wider = zoo.create("rectified_flow_mlp", seed=0, network=("mlp", {"hidden": 64}))
    with pytest.raises(ValueError, match="network or data shape differs"):
        train(wider, _batches(), workdir=tmp_path / "d", epochs=3, verbose=0,
              resume_from=tmp_path / "a" / "checkpoint")


def test_warm_start_a_flow_keeps_actnorm_and_the_epoch_count(tmp_path):
    # Flows have no separate network: the whole model, ActNorm's initialized state included.
    def glow():
        return zoo.create("glow_2d", seed=0, num_steps=2, hidden=8)

    first = train(glow(), _batches(), workdir=tmp_path / "a", epochs=1, verbose=0,
                  optimizer=keras.optimizers.Adam(1e-3))
    fresh = glow()
    same = train(fresh, _batches(), workdir=tmp_path / "b", epochs=1, verbose=0,
                 resume_from=tmp_path / "a" / "checkpoint")
    assert fresh.initialized
    for a, b in zip(first.get_weights(), same.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert zoo.load(tmp_path / "b" / "checkpoint").checkpoint_metadata["training"]["epochs"] == 1
    with pytest.raises(ValueError, match="config differs"):
        train(zoo.create("glow_2d", seed=0, num_steps=3, hidden=8), _batches(), workdir=tmp_path / "c", epochs=2,
              verbose=0, resume_from=tmp_path / "a" / "checkpoint")


def test_a_compiled_model_is_saved_without_its_optimizer(tmp_path):
    import h5py

    flow = zoo.create("realnvp_2d", seed=0)  # no EMA copy: the export is the trained model itself
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    flow.fit(np.random.default_rng(0).normal(size=(64, 2)).astype("float32"), batch_size=32, epochs=1, verbose=0)
    directory = zoo.save_checkpoint(flow, tmp_path / "c")
    with h5py.File(directory / "model.weights.h5", "r") as weights:
        assert "optimizer" not in weights  # Adam's moments would triple the file
    for saved, trained in zip(zoo.load(directory).get_weights(), flow.get_weights()):
        np.testing.assert_array_equal(saved, trained)
    assert flow.optimizer is not None  # the model being trained keeps its optimizer


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    return zoo.save_checkpoint(_model(), tmp_path_factory.mktemp("saved") / "ck")


UNKNOWN_CLASS = {"module": "zoo.models", "class_name": "NoSuchFlow", "config": {},
                 "registered_name": "zoo>NoSuchFlow"}


@pytest.mark.parametrize("file, content, problem", [
    ("config.json", {}, "no `class_name`"),
    ("config.json", [], "not an array"),
    ("config.json", None, "not null"),
    ("config.json", "RectifiedFlow", "not a string"),
    ("config.json", 3, "not a number"),
    ("config.json", UNKNOWN_CLASS, "'zoo>NoSuchFlow' model that cannot be built"),
    ("metadata.json", [], "not an array"),
    ("metadata.json", None, "not null"),
    ("metadata.json", "x", "not a string"),
    ("metadata.json", 1, "not a number"),
    ("metadata.json", {"format_version": "1"}, "`format_version` must be an integer"),
    ("metadata.json", {"format_version": 1.5}, "`format_version` must be an integer"),
    ("metadata.json", {"format_version": None}, "`format_version` must be an integer"),
])
def test_valid_json_of_the_wrong_shape_is_a_checkpoint_error(saved_checkpoint, tmp_path, file, content,
                                                            problem):
    import shutil

    from zoo.checkpoint import load_checkpoint

    from zoo.checkpoint import write_manifest

    path = shutil.copytree(saved_checkpoint, tmp_path / "ck")
    (path / file).write_text(json.dumps(content))
    write_manifest(path)  # summed as written: the content itself is what is wrong
    for load in (zoo.load, load_checkpoint):
        with pytest.raises(CheckpointError) as info:
            load(path)
        assert str(path / file) in str(info.value) and problem in str(info.value)
