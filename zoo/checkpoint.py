"""Checkpoint directories: Keras's own layout (`config.json`, `model.weights.h5`,
`metadata.json`, as `keras.saving.load_model(dir)` and `load_model("hf://...")`
read it), written atomically (temp dir, then rename) and checked on load, with a
`SHA256SUMS` manifest of its files (`sha256sum -c SHA256SUMS` checks it by hand)."""

import contextlib
import datetime
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import keras

from zoo.backend import placeholder_weights
from zoo.version import __version__

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = "config.json", "model.weights.h5", "metadata.json"
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)
MANIFEST_FILE = "SHA256SUMS"
_UNLISTED = (MANIFEST_FILE, "README.md")  # the manifest itself, and the card (prose, edited on the Hub)


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be loaded: missing, unreadable, or made by a
    newer zoo or for another family."""


def sha256_file(path):
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory):
    """Write `directory/SHA256SUMS`: the sha256 of every file in it (not hidden ones, not
    README.md), one `<hex>  <name>` line each, as `sha256sum` prints. Returns the sums."""
    directory = Path(directory)
    names = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    names = [n for n in names if n not in _UNLISTED and not any(part.startswith(".") for part in n.split("/"))]
    sums = {name: sha256_file(directory / name) for name in names}
    (directory / MANIFEST_FILE).write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return sums


def read_manifest(directory):
    """`{file name: sha256}` from `directory/SHA256SUMS`, or None when there is none.
    Raises `CheckpointError` for a malformed manifest or one that leaves out a file the
    checkpoint needs."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        return None
    sums = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        digest, _, name = line.partition("  ")
        name = name.lstrip("*")  # sha256sum's binary-mode marker
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest) or not name:
            raise CheckpointError(f"{path} line {number} is not '<64 hex digits>  <file name>': {line[:80]!r}.")
        if name.startswith("/") or ".." in name.split("/"):
            raise CheckpointError(f"{path} line {number} names a file outside the checkpoint: {name!r}.")
        sums[name] = digest.lower()
    missing = [name for name in REQUIRED_FILES if name not in sums]
    if missing:
        raise CheckpointError(f"{path} does not list {', '.join(missing)}, so the checkpoint cannot be verified; "
                              "rewrite it with zoo.checkpoint.write_manifest(directory) from a trusted copy.")
    return sums


# Siblings `.NAME<kind>*` of a directory being written: being written, written, replaced.
_TMP, _NEW, _OLD = ".tmp-", ".new-", ".old-"


def write_atomically(directory, write, overwrite=False):
    """Call `write(tmp_dir)` and move the result to `directory` by renames, so that a
    crash at any point leaves a complete directory: the old one, the new one, or (when
    the crash fell between the two renames of the swap) both beside `directory`, where
    `recover` (called by the readers and by the next write) puts the newer one back."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    recover(directory)
    if directory.exists() and not overwrite:
        raise FileExistsError(f"{directory} exists; pass overwrite=True to replace it.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}{_TMP}", dir=directory.parent))
    try:
        write(tmp)
        _fsync_tree(tmp)
        # Renamed only once fully written: a `.NAME.new-*` is complete by its name.
        ready = tmp.with_name(f".{directory.name}{_NEW}{time.time_ns()}-{tmp.name.rsplit('-', 1)[-1]}")
        os.replace(tmp, ready)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    try:
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}{_OLD}{time.time_ns()}-", dir=directory.parent))
            os.replace(directory, old / "previous")
        os.replace(ready, directory)
    except OSError:  # a failed (not a killed) swap: the caller sees the error, so keep the old state
        if old is not None and not directory.exists():
            with contextlib.suppress(OSError):
                os.replace(old / "previous", directory)
        if directory.exists():
            for path in (ready, old):
                if path is not None:
                    shutil.rmtree(path, ignore_errors=True)
        raise
    _fsync_dir(directory.parent)
    _remove_leftovers(directory)
    return directory


def recover(directory):
    """Put back `directory` if a write was stopped between the two renames of its
    swap, from the newest complete copy beside it: a finished `.NAME.new-*` (the write
    that was stopped), else the newest `.NAME.old-*/previous` (the state it replaced).
    Half-written `.NAME.tmp-*` directories are never used. Returns True if it restored.

    Safe to call at any time; it does nothing while `directory` exists."""
    directory = Path(directory)
    if directory.exists() or not directory.parent.is_dir():
        return False
    candidates = (_siblings(directory, _NEW)
                  or [p / "previous" for p in _siblings(directory, _OLD) if (p / "previous").is_dir()])
    if not candidates:
        return False
    os.replace(candidates[-1], directory)
    _fsync_dir(directory.parent)
    return True


def _siblings(directory, kind):
    """The `.NAME<kind>*` directories beside `directory`, oldest first (by the
    time.time_ns() in their names; names without one first, by modification time)."""
    def age(path):
        stamp = path.name[len(directory.name) + 1 + len(kind):].split("-", 1)[0]
        return int(stamp) if stamp.isdigit() else 0, path.stat().st_mtime_ns

    found = (p for p in directory.parent.glob(f".{glob.escape(directory.name)}{kind}*") if p.is_dir())
    return sorted(found, key=age)


def _remove_leftovers(directory):
    """Delete what stopped writes left beside `directory` (which now holds the newest
    complete state): temp, finished-but-unused and replaced copies."""
    for kind in (_TMP, _NEW, _OLD):
        for path in _siblings(directory, kind):
            shutil.rmtree(path, ignore_errors=True)


def _fsync_tree(root):
    """Flush `root`'s files to disk before the renames publish them (else a power cut
    after the rename can leave empty files under the new name)."""
    for path in sorted(Path(root).rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        elif path.is_dir():
            _fsync_dir(path)
    _fsync_dir(root)


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # platforms without directory handles (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the renames still happened
    finally:
        os.close(fd)


def save_checkpoint(model, directory, *, metadata=None, overwrite=False):
    """Save `model` as a checkpoint directory.

    Args:
        model: a zoo model (any registered Keras model).
        directory: path of the directory to create.
        metadata: dict. Extra facts for `metadata.json` (training, objective ...).
        overwrite: bool. Replace an existing directory (atomically).
    """
    info = {
        "keras_version": keras.__version__,
        "date_saved": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d@%H:%M:%S"),
        "zoo_version": __version__,
        "format_version": FORMAT_VERSION,
        "family": type(model).__name__,
        "backend": keras.backend.backend(),
        "parameters": int(model.count_params()),
        **(metadata or {}),
    }

    model = _without_optimizer(model)

    def write(tmp):
        config = keras.saving.serialize_keras_object(model)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        (tmp / METADATA_FILE).write_text(json.dumps(info, indent=2))
        model.save_weights(tmp / WEIGHTS_FILE)
        write_manifest(tmp)

    return write_atomically(directory, write, overwrite=overwrite)


def _without_optimizer(model):
    """`model`, or for a compiled model a fresh copy with its weights: Keras's
    `save_weights` also writes the optimizer's variables (Adam's two moments triple the
    file), which a published checkpoint does not need. Training state keeps them."""
    if getattr(model, "optimizer", None) is None:
        return model
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)  # rebuilt uncompiled, so without an optimizer
    clone = keras.saving.deserialize_keras_object(config)
    clone.set_weights(model.get_weights())
    return clone


def read_metadata(directory):
    """The checkpoint's `metadata.json` as a dict (checked for a supported format). A
    checkpoint a crash left set aside mid-swap is put back first (`recover`)."""
    directory = Path(directory)
    recover(directory)
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise CheckpointError(f"{directory} is not a zoo checkpoint: missing {', '.join(missing)}.")
    metadata = _read_json_object(directory / METADATA_FILE)
    version = metadata.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{directory / METADATA_FILE}: `format_version` must be an integer, "
                              f"not {_json_type(version)} {version!r}.")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{directory} was written by zoo {metadata.get('zoo_version', '?')} in checkpoint format "
            f"{version}; this zoo {__version__} reads format {FORMAT_VERSION}. Upgrade zoo.")
    return metadata


def _json_type(value):
    """JSON's own name for the type of a parsed value."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _read_json_object(path):
    """The JSON object in `path`; CheckpointError for bad JSON or any other JSON type."""
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}).") from e
    if not isinstance(value, dict):
        raise CheckpointError(f"{path} must hold a JSON object, not {_json_type(value)}.")
    return value


def _build_from_config(path):
    """The (unweighted) model that `path`, a serialized Keras object, describes."""
    config = _read_json_object(path)
    class_name = config.get("class_name")
    if not isinstance(class_name, str) or not class_name:
        raise CheckpointError(f"{path} is not a serialized Keras model: it has no `class_name`.")
    name = config.get("registered_name") or class_name
    try:
        with placeholder_weights():  # the weights file replaces them at once (see load_checkpoint)
            return keras.saving.deserialize_keras_object(config)
    # Keras reports an unknown class and a config that does not fit it as TypeError;
    # malformed nested configs surface as the others.
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise CheckpointError(f"{path} describes a {name!r} model that cannot be built "
                              f"(unknown class, or a config it does not accept): {e}") from e


def load_checkpoint(directory, *, family=None):
    """Load a checkpoint directory into a ready model (sampling works at once).

    Args:
        directory: path of the checkpoint.
        family: optional class name the checkpoint must hold (e.g. "RectifiedFlow").
    """
    directory = Path(directory)
    metadata = read_metadata(directory)
    if family is not None and metadata.get("family") != family:
        raise CheckpointError(f"{directory} holds a {metadata.get('family')!r} model, not {family!r}.")
    model = _build_from_config(directory / CONFIG_FILE)
    try:
        model.load_weights(directory / WEIGHTS_FILE)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"Could not read {directory / WEIGHTS_FILE}: {e}") from e
    model.checkpoint_metadata = metadata
    return model
