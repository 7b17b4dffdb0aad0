"""Resumable training on the stock `fit()`: shuffled batches, a training state written
atomically every epoch (weights, optimizer, EMA, seeds, history), and the exported
inference checkpoint at the end. A killed run continues where it stopped."""

import contextlib
import functools
import json
import os
import socket
import sys
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops

from zoo import datasets
from zoo.checks import check_finite_rows
from zoo.checkpoint import recover, save_checkpoint, write_atomically
from zoo.optimizers import OptimizerSettings
from zoo.pretrained import load

STATE_DIR, EXPORT_DIR, LOCK_FILE = "state", "checkpoint", ".lock"
_DEADLINE = None  # set by `time_limit`: a time.monotonic() value, or None


@contextlib.contextmanager
def time_limit(seconds):
    """Within this block, `train` stops at the last epoch boundary that fits in
    `seconds` (its state is saved, so rerunning resumes). For machines lent by the
    hour and sessions that end: `zoo train RECIPE --time-limit MINUTES`."""
    global _DEADLINE
    previous, _DEADLINE = _DEADLINE, None if seconds is None else time.monotonic() + seconds
    try:
        yield
    finally:
        _DEADLINE = previous


class StopBeforeDeadline(keras.callbacks.Callback):
    """Stop `fit` after an epoch when the next one (timed like the slowest so far)
    would end past `deadline` (a time.monotonic() value)."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline, self.longest, self._start = deadline, 0.0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        self.longest = max(self.longest, now - self._start)
        if now + self.longest > self.deadline:
            self.model.stop_training = True


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; `fit` was stopped at that batch."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise `NonFiniteLossError` at the first batch whose loss is NaN or inf.

    Keras calls callbacks in list order and `on_train_batch_end` before
    `on_epoch_end`, so placed before a per-epoch saver (`TrainingState`), it stops the
    run before the epoch that went bad overwrites the last good state. (The logged loss
    is the epoch's running mean, which stays non-finite from the bad batch on.)"""

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(ops.convert_to_numpy(loss)))
        if not np.isfinite(loss):
            raise NonFiniteLossError(
                f"The training loss is {loss} at epoch {self._epoch}, batch {batch}: training stopped there, "
                "before the epoch's end, so its state was not saved over the last good one. Check the data "
                "for NaN or inf, then try a lower learning rate or gradient clipping (`clipnorm`).")


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled mini-batches from NumPy arrays, deterministic in (seed, step).

    A Keras "epoch" here is `steps_per_epoch` batches (default: one pass). Passes over
    the data are reshuffled from `seed`, and a batch depends only on its global step,
    so a run resumed at any epoch sees exactly the batches it would have seen.
    uint8 images are mapped to [-1, 1] per batch (the float copy of a dataset never sits
    in memory), optionally flipped left-right and randomly translated (pad by reflection,
    crop back; the classifier augmentation of He et al. 2016). With `labels` or `noise` the batches
    are dicts `{"data", "labels", "noise"}` as the family models take them. With `dequantize`
    they are uniformly dequantized instead (Theis et al. 2016, arXiv:1511.01844):
    `2 (pixels + u) / 256 - 1`, `u ~ U[0, 1)` drawn from (seed, step) like the flips, each
    value inside its pixel's bin of [-1, 1), as the likelihood models (flows) train on.
    With `source` (diffusion bridges) the batches are `{"source", "target"}` pairs, `data`
    the targets, both mapped and flipped alike. With `mixup` (a Beta parameter alpha > 0)
    labelled batches are mixed after the augmentation (`zoo.datasets.mixup`, drawn from
    (seed, step)) and their labels become `(batch, classes)` float mixtures of one-hot rows.

    Args:
        data: array `(N, ...)`, uint8 images or model-space floats.
        batch_size: int.
        labels: optional `(N,)` int array.
        noise: optional `(N, ...)` noise paired with `data` (reflow couplings).
        flip: bool. Random horizontal flips (images only; not with `noise`).
        crop_padding: int. Random translations of up to this many pixels (images only).
        seed: int. Shuffle, flip and dequantization seed.
        dequantize: bool. Uniform dequantization noise on uint8 images (fresh every step).
        steps_per_epoch: int or None. Batches per Keras epoch (checkpoint interval).
        mixup: float. mixup's alpha (0: off); needs `labels`.
        num_classes: int or None. Classes of the one-hot labels under mixup (default:
            the largest label + 1).
        source: optional array like `data`: each example's source (a bridge's pairs).
    """

    def __init__(self, data, batch_size, *, labels=None, noise=None, flip=False, crop_padding=0,
                 seed=0, dequantize=False, steps_per_epoch=None, mixup=0.0, num_classes=None, source=None,
                 **kwargs):
        super().__init__(**kwargs)
        if source is not None and (source.shape != data.shape or labels is not None or noise is not None
                                   or dequantize or crop_padding or mixup):
            raise ValueError(f"`source` pairs each example with a source of the same shape ({data.shape}; "
                             f"received {getattr(source, 'shape', None)}), without labels, noise, "
                             "dequantization, crops or mixup.")
        if mixup and labels is None:
            raise ValueError("mixup mixes labels too: give `labels` (an (N,) int array), or mixup=0.")
        if mixup < 0:
            raise ValueError(f"`mixup` (alpha of its Beta distribution) must be >= 0; received {mixup}.")
        if dequantize and data.dtype != np.uint8:
            raise ValueError(f"`dequantize=True` needs uint8 images; received {data.dtype} data.")
        if (flip or crop_padding) and noise is not None:
            raise ValueError("Augmentation would break the (noise, data) coupling; use flip=False and "
                             "crop_padding=0 with `noise`.")
        if crop_padding and (data.ndim != 4 or crop_padding >= min(data.shape[1:3])):
            raise ValueError(f"`crop_padding`={crop_padding} needs images (N, H, W, C) larger than it; "
                             f"received data of shape {data.shape}.")
        if len(data) < batch_size:
            raise ValueError(f"`batch_size`={batch_size} is larger than the {len(data)} examples.")
        # Refuse NaN / inf now: one bad row would otherwise turn the loss, then every
        # weight, into NaN at whichever step first draws it.
        for name, array in (("data", data), ("labels", labels), ("noise", noise), ("source", source)):
            if array is not None:
                check_finite_rows(array, name)
        self.data, self.labels, self.noise, self.source = data, labels, noise, source
        self.batch_size, self.flip, self.crop_padding, self.seed = batch_size, flip, crop_padding, seed
        self.dequantize, self.mixup = dequantize, mixup
        self.num_classes = num_classes or (int(np.max(labels)) + 1 if labels is not None else None)
        self.batches_per_pass = len(data) // batch_size  # drop the ragged batch: one trace
        self.steps_per_epoch = steps_per_epoch or self.batches_per_pass
        self.epoch = 0  # set by `train` at the start of each epoch
        self._order = (None, None)

    def __len__(self):
        return self.steps_per_epoch

    def _permutation(self, data_pass):
        if self._order[0] != data_pass:
            self._order = (data_pass, np.random.default_rng([self.seed, data_pass]).permutation(len(self.data)))
        return self._order[1]

    def __getitem__(self, index):
        step = self.epoch * self.steps_per_epoch + index
        data_pass, position = divmod(step, self.batches_per_pass)
        order = self._permutation(data_pass)
        idx = np.sort(order[position * self.batch_size:(position + 1) * self.batch_size])
        data = self.data[idx]
        if self.dequantize:
            data = self._dequantized(data, np.random.default_rng([self.seed, step, 3]))
        elif data.dtype == np.uint8:
            data = datasets.to_model_space(data)
        source = None if self.source is None else self.source[idx]
        if source is not None and source.dtype == np.uint8:
            source = datasets.to_model_space(source)
        if self.flip:
            flips = np.random.default_rng([self.seed, step, 1]).random(len(idx)) < 0.5
            data = np.where(flips[:, None, None, None], data[:, :, ::-1], data)
            if source is not None:
                source = np.where(flips[:, None, None, None], source[:, :, ::-1], source)
        if source is not None:
            return ({"source": source, "target": data},)
        if self.crop_padding:
            data = random_translate(data, self.crop_padding, np.random.default_rng([self.seed, step, 2]))
        if self.labels is None and self.noise is None:
            return (data,)
        batch = {"data": data}
        if self.labels is not None:
            batch["labels"] = self.labels[idx].astype("int32")
            if self.mixup:
                one_hot = np.eye(self.num_classes, dtype=np.float32)[batch["labels"]]
                batch["data"], batch["labels"], _, _ = datasets.mixup(
                    data, one_hot, self.mixup, np.random.default_rng([self.seed, step, 4]))
        if self.noise is not None:
            batch["noise"] = self.noise[idx]
        return (batch,)

    @staticmethod
    def _dequantized(pixels, rng):
        """uint8 pixels -> 2 (pixels + u) / 256 - 1, u ~ U[0, 1) from `rng`, in each pixel's bin."""
        x = 2.0 * datasets.dequantize(pixels, seed=rng) - 1.0
        # float32 rounding of 2 v - 1 can land on the bin's upper edge (exact in float32): stay under it.
        upper = (pixels.astype(np.float32) + 1) / np.float32(128) - 1
        return np.minimum(x, np.nextafter(upper, np.float32(-2)))


def random_translate(images, padding, rng):
    """Shift each image by up to `padding` pixels in each direction: reflect-pad, then
    crop at a random offset per image."""
    num, height, width = images.shape[:3]
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode="reflect")
    rows = rng.integers(0, 2 * padding + 1, num)[:, None] + np.arange(height)
    cols = rng.integers(0, 2 * padding + 1, num)[:, None] + np.arange(width)
    return padded[np.arange(num)[:, None, None], rows[:, :, None], cols[:, None, :]]


class OutOfTime(RuntimeError):
    """A `time_limit` ran out before the work was done; what was done is saved, and
    rerunning the same command continues from there."""


def cached_reflow_pairs(model, num, directory, *, chunk=256, seed=0, verbose=True, **sample_kwargs):
    """`model.reflow_pairs(num, seed=seed, **sample_kwargs)`, drawn `chunk` pairs at a time
    with each chunk saved atomically under `directory`, so that a stopped run keeps what it
    drew and the next one continues. Expensive couplings (a CIFAR flow on a CPU: hours)
    then survive sessions. Under `time_limit`, raises `OutOfTime` between chunks once the
    next chunk (timed like the slowest so far) would end past the deadline.

    Returns:
        `{"noise", "data"}` float32 arrays of `num` pairs, identical to a single call.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    noise_path = directory / "noise.npy"
    if noise_path.exists():
        noise = np.load(noise_path)
        if len(noise) != num or noise.shape[1:] != tuple(model.data_shape):
            raise ValueError(f"{directory} holds pairs of shape {noise.shape}, not ({num}, "
                             f"{', '.join(map(str, model.data_shape))}); use another directory.")
    else:
        noise = model.initial_noise(num, None, seed)
        _save_npy_atomically(noise_path, noise)
    parts, longest = [], 0.0
    for index, start in enumerate(range(0, num, chunk)):
        path = directory / f"data-{index:05d}.npy"
        if not path.exists():
            if _DEADLINE is not None and time.monotonic() + longest > _DEADLINE:
                raise OutOfTime(f"Time limit reached with {start} of {num} pairs in {directory}; "
                                "rerun the same command to continue.")
            began = time.monotonic()
            data = model.sample(noise=noise[start:start + chunk], raw=True, **sample_kwargs)
            _save_npy_atomically(path, np.asarray(data, dtype="float32"))
            longest = max(longest, time.monotonic() - began)
            if verbose:
                print(f"reflow pairs {min(start + chunk, num)}/{num} ({time.monotonic() - began:.0f} s)",
                      flush=True)
        parts.append(np.load(path))
    return {"noise": noise, "data": np.concatenate(parts)}


def _save_npy_atomically(path, array):
    temporary = path.with_name(path.name + ".tmp.npy")
    np.save(temporary, array)
    temporary.replace(path)


def _state_path(workdir):
    return Path(workdir) / STATE_DIR


def save_training_state(model, workdir, epoch, info):
    """Write `workdir/state` atomically: weights with optimizer, seed state, progress.
    On a failed write (disk full, read-only) the previous state stays as it was and an
    OSError names the workdir and the cause."""
    seed_state = ops.convert_to_numpy(model.seed_generator.state).tolist()

    def write(tmp):
        model.save_weights(tmp / "model.weights.h5")
        (tmp / "training.json").write_text(json.dumps({**info, "epoch": epoch, "seed_state": seed_state}, indent=2))

    try:
        write_atomically(_state_path(workdir), write, overwrite=True)
    except OSError as err:
        raise _os_error(err, f"Could not save the training state of epoch {epoch} in {workdir}: "
                        f"{err.strerror or err}. The previous state there is unchanged; free space or fix "
                        "the permissions, then rerun to resume from it.") from err


def _os_error(err, message):
    """An OSError with `err`'s errno (when it has one) and `message`."""
    return OSError(err.errno, message) if err.errno is not None else OSError(message)


def restore_training_state(model, workdir):
    """Load `workdir/state` into a compiled `model`; returns the saved progress dict
    (`{}` when starting fresh)."""
    state = _state_path(workdir)
    recover(state)  # a run killed mid-swap left the state beside `state/`
    if not (state / "training.json").is_file():
        return {}
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(state / "model.weights.h5")
    info = json.loads((state / "training.json").read_text())
    seed_state = info.pop("seed_state", None)
    if seed_state is not None:
        model.seed_generator.state.assign(np.asarray(seed_state, dtype=model.seed_generator.state.dtype))
    return info


def start_from_checkpoint(model, source):
    """Warm start when there is no training state: copy a published checkpoint's
    weights (its EMA export) into every network and its EMA shadow, with the model's own
    variables, and carry on its epoch count and history. Across machines this continues
    a run whose state directory was lost; the optimizer's moments and the EMA's history
    restart, so it is not bit-exact resumption.

    Returns:
        The progress dict, as `restore_training_state` does.
    """
    published = load(source)
    problem = None
    if type(published) is not type(model) or published.data_shape != model.data_shape:
        problem = (f"it holds a {type(published).__name__} on data of shape {published.data_shape}, the model is "
                   f"a {type(model).__name__} on {model.data_shape}")
    else:
        try:
            model.load_network_weights(published)
        except ValueError as err:
            problem = str(err)
    if problem:
        raise ValueError(f"Cannot resume from {source}: its network or data shape differs from the model's "
                         f"({problem}).")
    for target, value in zip(model._own_variables(), published._own_variables()):
        target.assign(ops.copy(value))
    training = published.checkpoint_metadata.get("training", {})
    # A fresh offset for the noise draws, so they do not repeat the first run's.
    seed = ops.convert_to_numpy(model.seed_generator.state)
    model.seed_generator.state.assign(np.asarray([seed[0], training.get("images_seen") or 0], seed.dtype))
    return {"epoch": training.get("epochs", 0), "images_seen": training.get("images_seen", 0),
            "wall_seconds": training.get("wall_seconds", 0.0), "history": training.get("history", {}),
            "resumed_from": str(source)}


class TrainingState(keras.callbacks.Callback):
    """Save the training state after every epoch (see `save_training_state`)."""

    def __init__(self, workdir, info, batches):
        super().__init__()
        self.workdir, self.info, self.batches = workdir, info, batches
        self._started = time.monotonic()
        self._wall_before = info.get("wall_seconds", 0.0)

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        info = self.info
        for key, value in (logs or {}).items():
            info.setdefault("history", {}).setdefault(key, []).append(float(value))
        info["wall_seconds"] = self._wall_before + time.monotonic() - self._started
        info["images_seen"] = info.get("images_seen", 0) + len(self.batches) * self.batches.batch_size
        info["epochs_done"] = epoch + 1
        save_training_state(self.model, self.workdir, epoch + 1, info)


class WorkdirLocked(RuntimeError):
    """Another training run holds the workdir's lock (`workdir/.lock`)."""


@contextlib.contextmanager
def workdir_lock(workdir):
    """Hold `workdir/.lock` (this PID and host, created with O_CREAT | O_EXCL) for the
    block, so that a second run on the same workdir fails at once instead of both
    overwriting one state; a lock whose process has died is taken over. Creating it
    also checks, before any training, that the workdir is writable."""
    workdir = Path(workdir)
    path, owner = workdir / LOCK_FILE, f"{os.getpid()} {socket.gethostname()}\n"
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                _check_holder(path)  # raises while held; removes a stale lock
        try:
            with os.fdopen(fd, "w") as f:
                f.write(owner)
        except OSError:
            path.unlink(missing_ok=True)
            raise
    except OSError as err:
        raise _os_error(err, f"The training workdir {workdir} is not writable: {err.strerror or err}. "
                        "Pick another `workdir` or fix its permissions.") from err
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text() == owner:
                path.unlink()


def _check_holder(path):
    """Raise `WorkdirLocked` if the process named in the lock `path` runs; otherwise
    (it died, or the lock lost its contents) remove the lock, with a note on stderr."""
    for _ in range(20):  # a holder writes its PID just after creating the file
        try:
            fields = path.read_text().split()
        except FileNotFoundError:
            return
        if fields:
            break
        time.sleep(0.05)
    pid = int(fields[0]) if fields and fields[0].isdigit() else None
    host = fields[1] if len(fields) > 1 else socket.gethostname()
    if pid is not None and (host != socket.gethostname() or _process_runs(pid)):
        where = "" if host == socket.gethostname() else f" on host {host}"
        raise WorkdirLocked(
            f"{path.parent} is in use by another training run (PID {pid}{where}, lock file {path}). "
            f"Wait for it to finish, or if no such run exists, delete {path}.")
    why = f"PID {pid} is no longer running" if pid is not None else "it names no process"
    if _remove_stale(path, fields):
        print(f"zoo: taking over the stale lock {path} ({why}).", file=sys.stderr)


def _remove_stale(path, fields):
    """Unlink the lock `path` if it still holds `fields` (the dead holder's). Contenders
    take turns on an flock of `path.takeover`, so when two runs find the same stale lock,
    the second sees the first's fresh lock and never removes it. Returns whether it removed."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the window is the few instructions below
        fcntl = None
    with open(path.with_name(path.name + ".takeover"), "a") as guard:
        if fcntl is not None:
            fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes
        try:
            if path.read_text().split() != fields:
                return False  # taken over and renewed meanwhile: the caller looks again
            path.unlink()
            return True
        except FileNotFoundError:
            return False


def _process_runs(pid):
    if os.name == "nt":
        return True  # os.kill would terminate it there; keep the lock
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _locks_workdir(train):
    """Run `train(..., workdir=...)` holding `workdir_lock(workdir)`."""
    @functools.wraps(train)
    def locked(*args, workdir, **kwargs):
        with workdir_lock(workdir):
            return train(*args, workdir=workdir, **kwargs)
    return locked


@_locks_workdir
def train(model, batches, *, workdir, epochs, optimizer=None, callbacks=(), verbose="auto",
          metadata=None, resume_from=None):
    """Fit `model` on `batches` (an `ArrayBatches`) for `epochs` in total, resuming from
    `workdir/state` if an earlier run left one, then export `workdir/checkpoint`. Holds
    `workdir/.lock` meanwhile (see `workdir_lock`): a second run on the same workdir
    raises `WorkdirLocked`.

    Args:
        model: a zoo family model.
        batches: `ArrayBatches`.
        workdir: directory for the training state and the exported checkpoint.
        epochs: int. Total epochs (including those already done).
        optimizer: `zoo.optimizers.OptimizerSettings` (or `{network: settings}` for a
            model with an optimizer per network), or a Keras optimizer (default
            AdamW(2e-4)); ignored if `model` is compiled. Settings are recorded in the
            training state and the checkpoint's metadata, and a state saved with another
            optimizer is refused rather than resumed.
        callbacks: extra Keras callbacks.
        metadata: dict merged into the exported checkpoint's `metadata.json`.
        resume_from: optional checkpoint (name or directory) to warm-start from when
            `workdir` has no training state (see `start_from_checkpoint`).

    Returns:
        The exported inference model (EMA weights, no shadow copy).
    """
    settings = _optimizer_settings(optimizer)
    if not model.compiled:
        built = ({name: s.build() for name, s in optimizer.items()} if isinstance(optimizer, dict) and settings
                 else optimizer.build() if isinstance(optimizer, OptimizerSettings) else optimizer)
        model.compile(optimizer=built or keras.optimizers.AdamW(2e-4))
    _check_state_optimizer(workdir, settings)
    info = restore_training_state(model, workdir)
    if not info and resume_from is not None:
        info = start_from_checkpoint(model, resume_from)
    if settings is not None:
        info["optimizer"] = settings
    done = info.pop("epoch", 0)
    info["epochs_done"] = done
    if done < epochs:
        # The NaN check first: an epoch whose loss went non-finite never overwrites the state.
        callbacks = [StopOnNonFiniteLoss(), TrainingState(workdir, info, batches), *callbacks]
        if _DEADLINE is not None:
            callbacks.append(StopBeforeDeadline(_DEADLINE))
        # shuffle=False: the batches are already shuffled, deterministically; fit would
        # otherwise reorder them with an unseeded generator and break exact resumption.
        model.fit(batches, epochs=epochs, initial_epoch=done, verbose=verbose, shuffle=False,
                  callbacks=callbacks)
    exported = model.copy(ema_decay=None) if model.ema is not None else model
    training = {key: info.get(key) for key in ("images_seen", "wall_seconds", "history", "resumed_from", "optimizer")
                if info.get(key) is not None}
    # `epochs` done, which is fewer than asked when a time limit stopped the run early.
    save_checkpoint(exported, Path(workdir) / EXPORT_DIR, overwrite=True,
                    metadata={"training": {**training, "epochs": info["epochs_done"]}, **(metadata or {})})
    return exported


def _optimizer_settings(choice):
    """The JSON record of `OptimizerSettings` (or a dict of them, per network); None for
    a Keras optimizer, whose settings the recipe states itself."""
    if isinstance(choice, OptimizerSettings):
        return choice.to_dict()
    if isinstance(choice, dict) and choice and all(isinstance(s, OptimizerSettings) for s in choice.values()):
        return {name: s.to_dict() for name, s in choice.items()}
    return None


def _optimizer_names(settings):
    if settings is None:
        return None
    if "name" in settings and not isinstance(settings["name"], dict):
        return settings["name"]
    return {network: s["name"] for network, s in settings.items()}


def _check_state_optimizer(workdir, settings):
    """Refuse to resume a training state saved with another optimizer: its moments would
    not fit (Lion keeps one per weight, Adam two), or would silently mean something else."""
    path = _state_path(workdir) / "training.json"
    if settings is None or not path.is_file():
        return
    saved = _optimizer_names(json.loads(path.read_text()).get("optimizer"))
    if saved is not None and saved != _optimizer_names(settings):
        raise ValueError(f"{workdir} holds a training state of a run with optimizer {saved}, not "
                         f"{_optimizer_names(settings)}: resuming would mix their states. Use another --workdir, or "
                         f"warm-start a new run from the exported checkpoint with --resume-from "
                         f"{Path(workdir) / EXPORT_DIR}.")

