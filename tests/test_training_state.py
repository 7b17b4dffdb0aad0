"""No lost training state: a write killed at any point leaves a complete state that the
next run finds, a failed write keeps the old one, and one run at a time per workdir."""

import errno
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import zoo
from zoo.training import ArrayBatches, WorkdirLocked, restore_training_state, save_training_state, train, workdir_lock


class Killed(BaseException):
    """The process died here: no handler runs after it, not even `except Exception`."""


def _model():
    model = zoo.create("rectified_flow_mlp", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    return model


def _batches():
    return ArrayBatches(zoo.datasets.load("moons", num=200)[0], 100, seed=0, steps_per_epoch=2)


def _epoch(workdir):
    return json.loads((workdir / "state" / "training.json").read_text())["epoch"]


def _kill_at(monkeypatch, module, name, call):
    """Replace `module.name` so that its `call`-th call (1-based) kills the process
    instead of running; the calls before it run as usual."""
    real, calls = getattr(module, name), []

    def maybe_die(*args, **kwargs):
        calls.append(args)
        if len(calls) == call:
            raise Killed(f"{name} #{call}")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, maybe_die)


# The swap's steps: write the temp dir; rename it to its "complete" name; move the old
# state aside; move the new one in; delete the old one. Killed before each, the run
# leaves the old state (or, once the new one is complete, the new one), never none.
@pytest.mark.parametrize("module, name, call, survivor", [
    (keras.Model, "save_weights", 1, 1),  # while writing the new state
    (os, "replace", 1, 1),  # before marking the new state complete
    (os, "replace", 2, 1),  # before moving the old state aside
    (os, "replace", 3, 2),  # between the renames: no `state/` until the next read
    (shutil, "rmtree", 1, 2),  # before deleting the old state
])
def test_a_state_write_killed_at_any_step_leaves_a_complete_state(tmp_path, monkeypatch, module, name, call,
                                                                   survivor):
    model = _model()
    save_training_state(model, tmp_path, 1, {})
    weights = {1: model.get_weights()}
    model.set_weights([w + 1.0 for w in weights[1]])
    weights[2] = model.get_weights()
    with monkeypatch.context() as patch:
        _kill_at(patch, module, name, call)
        with pytest.raises(Killed):
            save_training_state(model, tmp_path, 2, {})

    fresh = _model()  # the next run
    assert restore_training_state(fresh, tmp_path)["epoch"] == survivor
    for restored, saved in zip(fresh.get_weights(), weights[survivor]):
        np.testing.assert_array_equal(restored, saved)
    save_training_state(fresh, tmp_path, 3, {})  # and the next write clears what the crash left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    assert _epoch(tmp_path) == 3


def test_recovery_takes_the_replaced_state_and_never_a_half_written_one(tmp_path):
    # As a run killed between the renames leaves it when its new copy is gone: the old
    # state set aside, and a temp dir whose write never finished.
    model = _model()
    save_training_state(model, tmp_path, 1, {})
    (tmp_path / ".state.old-abc").mkdir()
    (tmp_path / "state").rename(tmp_path / ".state.old-abc" / "previous")
    (tmp_path / ".state.tmp-xyz").mkdir()
    (tmp_path / ".state.tmp-xyz" / "training.json").write_text('{"epoch": 9}')
    assert restore_training_state(_model(), tmp_path)["epoch"] == 1
    assert _epoch(tmp_path) == 1


def test_a_checkpoint_killed_between_renames_is_not_overwritten_silently(tmp_path, monkeypatch):
    path = zoo.save_checkpoint(_model(), tmp_path / "ck")
    with monkeypatch.context() as patch:
        _kill_at(patch, os, "replace", 3)
        with pytest.raises(Killed):
            zoo.save_checkpoint(_model(), path, overwrite=True)
    with pytest.raises(FileExistsError, match="overwrite=True"):  # the new copy was put back first
        zoo.save_checkpoint(_model(), path)
    assert zoo.load_checkpoint(path).checkpoint_metadata["family"] == "RectifiedFlow"
    zoo.save_checkpoint(_model(), path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


@pytest.mark.parametrize("fault", ["weights", "json"])
def test_a_failed_state_write_names_the_workdir_and_keeps_the_state(tmp_path, monkeypatch, fault):
    train(_model(), _batches(), workdir=tmp_path, epochs=1, verbose=0)
    with monkeypatch.context() as patch:
        if fault == "weights":
            def full(self, path, *args, **kwargs):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            patch.setattr(keras.Model, "save_weights", full)
        else:
            real = pathlib.Path.write_text

            def read_only(self, *args, **kwargs):
                if self.name == "training.json":
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
                return real(self, *args, **kwargs)
            patch.setattr(pathlib.Path, "write_text", read_only)
        reason = os.strerror(errno.ENOSPC if fault == "weights" else errno.EROFS)
        with pytest.raises(OSError, match=re.escape(f"{tmp_path}: {reason}")) as raised:
            train(_model(), _batches(), workdir=tmp_path, epochs=2, verbose=0)
    assert raised.value.errno in (errno.ENOSPC, errno.EROFS)
    assert _epoch(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "state"]  # no temp dirs, no lock
    train(_model(), _batches(), workdir=tmp_path, epochs=2, verbose=0)  # resumes from epoch 1
    assert _epoch(tmp_path) == 2


def test_a_held_lock_stops_a_second_run_at_once(tmp_path):
    lock = tmp_path / ".lock"
    lock.write_text(f"{os.getpid()}\n")  # this process: alive
    with pytest.raises(RuntimeError, match=f"PID {os.getpid()}"):
        train(_model(), _batches(), workdir=tmp_path, epochs=1, verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]  # nothing trained or written
    assert lock.read_text() == f"{os.getpid()}\n"


def test_a_stale_lock_is_taken_over_and_released(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".lock").write_text(f"{dead.pid}\n")
    train(_model(), _batches(), workdir=tmp_path, epochs=1, verbose=0)
    assert f"stale lock {tmp_path / '.lock'} (PID {dead.pid} " in capsys.readouterr().err
    assert _epoch(tmp_path) == 1
    assert not (tmp_path / ".lock").exists()


def test_the_lock_is_held_during_training_and_released_on_errors(tmp_path):
    seen = []

    class Fail(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((tmp_path / ".lock").read_text().split()[0])
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        train(_model(), _batches(), workdir=tmp_path, epochs=1, verbose=0, callbacks=[Fail()])
    assert seen == [str(os.getpid())]
    assert not (tmp_path / ".lock").exists()


def test_an_unwritable_workdir_is_named_before_training(tmp_path, monkeypatch):
    real = os.open

    def refuse(path, *args, **kwargs):  # as on a read-only mount (root ignores chmod)
        if pathlib.Path(path).parent == tmp_path / "run":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(OSError, match=re.escape(f"workdir {tmp_path / 'run'} is not writable: Permission denied")):
        train(_model(), _batches(), workdir=tmp_path / "run", epochs=1, verbose=0)
    assert list((tmp_path / "run").iterdir()) == []


def _contend(workdir, dead_pid, barrier, holders, results):
    # Slow between reading the stale lock and acting on it, so that every contender acts
    # on what it read before the others' moves: the window of the race.
    runs = zoo.training._process_runs
    zoo.training._process_runs = lambda pid: time.sleep(0.3) or (pid != dead_pid and runs(pid))
    barrier.wait()
    try:
        with workdir_lock(workdir):
            with holders.get_lock():
                holders.value += 1
                together = holders.value  # runs holding the workdir now, this one included
            time.sleep(0.5)  # hold it while the others try
            with holders.get_lock():
                holders.value -= 1
            results.put(("held", together))
    except WorkdirLocked:
        results.put(("locked", 0))


@pytest.mark.filterwarnings("ignore:os.fork")  # JAX warns about forking; the children run no JAX
def test_runs_racing_for_one_stale_lock_never_hold_it_together(tmp_path):
    """Six processes find the same stale lock at once: whoever holds the workdir holds it
    alone (removing the stale lock is serialized, so none removes a fresh one)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".lock").write_text(f"{dead.pid}\n")
    context = multiprocessing.get_context("fork")
    barrier, holders, results = context.Barrier(6), context.Value("i", 0), context.Queue()
    workers = [context.Process(target=_contend, args=(tmp_path, dead.pid, barrier, holders, results))
               for _ in range(6)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    held = [together for kind, together in outcomes if kind == "held"]
    assert held and all(together == 1 for together in held), outcomes  # never two at once
    assert not (tmp_path / ".lock").exists()
