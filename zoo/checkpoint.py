"""Checkpoint directories: Keras's own layout (`config.json`, `model.weights.h5`,
`metadata.json`, as `keras.saving.load_model(dir)` and `load_model("hf://...")`
read it), written atomically (temp dir, then rename) and checked on load."""

import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path

import keras

from zoo.version import __version__

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = "config.json", "model.weights.h5", "metadata.json"
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be loaded: missing, unreadable, or made by a
    newer zoo or for another family."""


def write_atomically(directory, write, overwrite=False):
    """Call `write(tmp_dir)` and move the result to `directory` by renames, so a crash
    leaves either the old complete directory or the new one, never half of one."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    if directory.exists() and not overwrite:
        raise FileExistsError(f"{directory} exists; pass overwrite=True to replace it.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        write(tmp)
        old = None
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            os.replace(directory, old / "previous")
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


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
    """The checkpoint's `metadata.json` as a dict (checked for a supported format)."""
    directory = Path(directory)
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise CheckpointError(f"{directory} is not a zoo checkpoint: missing {', '.join(missing)}.")
    try:
        metadata = json.loads((directory / METADATA_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{directory / METADATA_FILE} is not valid JSON ({e}).") from e
    version = metadata.get("format_version", 1)
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{directory} was written by zoo {metadata.get('zoo_version', '?')} in checkpoint format "
            f"{version}; this zoo {__version__} reads format {FORMAT_VERSION}. Upgrade zoo.")
    return metadata


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
    try:
        config = json.loads((directory / CONFIG_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{directory / CONFIG_FILE} is not valid JSON ({e}).") from e
    model = keras.saving.deserialize_keras_object(config)
    try:
        model.load_weights(directory / WEIGHTS_FILE)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"Could not read {directory / WEIGHTS_FILE}: {e}") from e
    model.checkpoint_metadata = metadata
    return model
