"""Pretrained checkpoints by name: `checkpoints.json` (data, at the repo root and
shipped in the package), the bundled mirror, the Hugging Face cache and the Hub."""

import functools
import json
import math
import os
import re
import tempfile
import warnings
from pathlib import Path

import keras

from zoo import datasets, hub
from zoo.checkpoint import MANIFEST_FILE, REQUIRED_FILES, CheckpointError, load_checkpoint, save_checkpoint, write_manifest
from zoo.registry import did_you_mean, list_configs
from zoo.samplers.settings import SamplerSetting

PACKAGE_DIR = Path(__file__).resolve().parent
# The registry is the repo root's checkpoints.json; zoo/checkpoints.json links to it so
# that installed packages carry it too.
REGISTRY_FILE = PACKAGE_DIR / "checkpoints.json"
MIRROR_DIR = PACKAGE_DIR / "weights"


@functools.lru_cache(maxsize=4)
def _read_registry(path, mtime_ns):
    return json.loads(Path(path).read_text())


def registry():
    """`checkpoints.json` as a dict: `{"format_version": 1, "checkpoints": {name: entry}}`."""
    return _read_registry(str(REGISTRY_FILE), REGISTRY_FILE.stat().st_mtime_ns)


def list_models():
    """Names of the registered pretrained checkpoints, sorted."""
    return sorted(registry()["checkpoints"])


def describe_models():
    """`{name: one-line description}` of the registered checkpoints."""
    return {name: entry["description"] for name, entry in sorted(registry()["checkpoints"].items())}


ENTRY_FIELDS = ("description", "family", "config", "hub", "files", "parameters", "dataset",
                "recipe", "sampler", "metrics", "training", "license")
# May be left out: the settings `zoo eval NAME` measures by default, and free-text notes
# for the model card (how a run deviated from its recipe, known weaknesses).
OPTIONAL_FIELDS = ("eval_samplers", "notes")
TRAINING_FIELDS = ("hardware", "wall_time", "images_seen", "command")
OPTIONAL_TRAINING_FIELDS = ("optimizer",)  # a sentence: `zoo.optimizers.describe` of the run's settings
_NAME = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")
_SHA1, _SHA256 = re.compile(r"[0-9a-f]{40}"), re.compile(r"[0-9a-f]{64}")


def _entry_problems(entry):
    """Each way `entry` breaks the checkpoints.json schema, as one line of text."""
    if not isinstance(entry, dict):
        return [f"must be a JSON object, not {type(entry).__name__}"]
    problems = [f"missing field `{k}`" for k in ENTRY_FIELDS if k not in entry]
    known = ENTRY_FIELDS + OPTIONAL_FIELDS
    problems += [f"unknown field `{k}`.{did_you_mean(k, known)}" for k in entry if k not in known]

    def text(value):
        return isinstance(value, str) and value.strip() != ""

    def count(value, low=0):
        return isinstance(value, int) and not isinstance(value, bool) and value >= low

    def check(field, ok, want):
        if field in entry and not ok(entry[field]):
            problems.append(f"`{field}` = {entry[field]!r}: must be {want}")

    check("description", lambda v: text(v) and "\n" not in v, "a one-line string")
    check("license", text, "a license id such as 'apache-2.0'")
    check("parameters", lambda v: count(v, 1), "an integer >= 1")
    configs = list_configs()
    check("config", lambda v: v in configs,
          f"a registered config (zoo.list_configs()).{did_you_mean(entry.get('config'), configs)}")
    # load() compares this with the class name the checkpoint's metadata.json records.
    check("family", lambda v: text(v) and _family_class(v) is not None,
          "the class name of a zoo model registered with Keras, e.g. 'RectifiedFlow'")
    check("dataset", lambda v: v in datasets.list_datasets() or v in datasets.PAIRED_DATASETS,
          f"one of zoo.datasets.list_datasets() {datasets.list_datasets()} or a paired set "
          f"{sorted(datasets.PAIRED_DATASETS)}")
    check("recipe", lambda v: text(v) and v.startswith("recipes/") and v.endswith(".py")
          and ".." not in v.split("/"), "a path 'recipes/<file>.py' in the zoo repository")
    check("hub", lambda v: isinstance(v, dict) and set(v) == {"repo_id", "revision"}
          and isinstance(v["repo_id"], str) and _REPO_ID.fullmatch(v["repo_id"]) is not None
          and (v["revision"] is None or (isinstance(v["revision"], str)
                                         and _SHA1.fullmatch(v["revision"]) is not None)),
          "{'repo_id': 'owner/name', 'revision': a 40-hex commit sha, or null until published}")
    check("sampler", lambda v: v is None or (isinstance(v, dict) and v and count(v.get("steps", 1), 1) and all(
        isinstance(k, str) and isinstance(x, (str, int, float, type(None))) for k, x in v.items())),
        "a non-empty object of recommended settings (e.g. solver, steps >= 1), or null for a model "
        "that does not sample (a classifier)")
    check("eval_samplers", lambda v: isinstance(v, list) and v and all(_is_setting(x) for x in v),
          "a non-empty list of sampler settings 'SOLVER[:STEPS][+wGUIDANCE][@NUM]', e.g. "
          "['euler:10', 'rk45@2000', 'heun:18+w2']")
    check("notes", text, "a non-empty string")
    check("metrics", lambda v: isinstance(v, dict) and all(
        isinstance(m, dict) and set(m) == {"value", "how"} and text(m["how"])
        and isinstance(m["value"], (int, float)) and not isinstance(m["value"], bool)
        and math.isfinite(m["value"]) for m in v.values()),
        "{name: {'value': a finite number, 'how': how it was measured}}")
    check("training", lambda v: isinstance(v, dict)
          and set(TRAINING_FIELDS) <= set(v) <= {*TRAINING_FIELDS, *OPTIONAL_TRAINING_FIELDS}
          and text(v["hardware"]) and text(v["command"]) and count(v["images_seen"])
          and (text(v["wall_time"]) or count(v["wall_time"])) and text(v.get("optimizer", "-")),
          f"an object with {', '.join(TRAINING_FIELDS)} (images_seen an integer) and optionally "
          f"{', '.join(OPTIONAL_TRAINING_FIELDS)}")
    files = entry.get("files")
    if "files" in entry:
        if not (isinstance(files, dict) and set(files) == {"sha256", "size"}
                and all(isinstance(files[k], dict) for k in files)):
            problems.append("`files` must be {'sha256': {file: hex}, 'size': {file: bytes}}")
        else:
            digests, sizes = files["sha256"], files["size"]
            missing = [n for n in REQUIRED_FILES if n not in digests]
            if missing:
                problems.append(f"`files` must list {', '.join(missing)}")
            if set(digests) != set(sizes):
                problems.append("`files.sha256` and `files.size` must name the same files")
            for file, digest in digests.items():
                if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                    problems.append(f"`files.sha256[{file!r}]` must be 64 lowercase hex digits")
                if file.startswith("/") or ".." in file.split("/") or "\\" in file:
                    problems.append(f"`files` name {file!r} must be a relative path")
            for file, size in sizes.items():
                if not count(size):
                    problems.append(f"`files.size[{file!r}]` must be an integer >= 0")
    return problems


def _is_setting(value):
    try:
        SamplerSetting.parse(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _family_class(family):
    """The zoo model class called `family`, or None."""
    return keras.saving.get_registered_object(f"zoo>{family}")


def validate_entry(name, entry):
    """Check one `checkpoints.json` entry against the schema (field types, a registered
    config and family, a known dataset, pinned files); ValueError listing every problem.
    Whether the recipe file and the bundled mirror exist is the repository's business
    (tests/test_registry_schema.py), not this function's."""
    problems = [] if isinstance(name, str) and _NAME.fullmatch(name) else [
        "the name must be lowercase words joined by '-', e.g. 'rectified-flow-cifar'"]
    problems += _entry_problems(entry)
    if problems:
        raise ValueError(f"checkpoints.json entry {name!r} is invalid:\n  - "
                         + "\n  - ".join(problems))
    return entry


def get_entry(name):
    """The `checkpoints.json` entry for `name`, or a ValueError with close matches."""
    entries = registry()["checkpoints"]
    if name not in entries:
        local = (f" A directory {name!r} exists here: a directory is loaded only when written as a "
                 f"path, './{name}'." if _is_local_dir(name) else "")
        raise ValueError(
            f"Unknown model {name!r}.{did_you_mean(name, entries)} Registered: "
            f"{', '.join(sorted(entries))}. Also accepted: a checkpoint directory written as a path "
            f"('./dir', '/abs/dir', a pathlib.Path), or 'hf://owner/repo' for any zoo-format "
            f"repository on the Hugging Face Hub.{local}")
    return entries[name]


def _is_local_dir(text):
    try:
        return Path(text).is_dir()
    except (OSError, ValueError):  # a name too long or otherwise no path at all
        return False


def _is_path(name_or_path):
    """Whether the argument is clearly a file-system path rather than a checkpoint name,
    so that a directory named like a registered checkpoint never stands in for it."""
    if isinstance(name_or_path, os.PathLike):
        return True
    text = str(name_or_path)
    separators = {"/", os.sep, os.altsep} - {None}
    return (text in (".", "..") or text.startswith("~")
            or any(sep in text for sep in separators))


def _checked_directory(path, verify):
    """A local checkpoint directory, its `SHA256SUMS` manifest checked when it has one
    (a warning when it has none, unless `verify` is False)."""
    if verify and hub.verify_manifest(path) is None:
        warnings.warn(f"{path} has no {MANIFEST_FILE} manifest, so its files are loaded unverified. "
                      "Checkpoints saved by this zoo carry one; add it to an older directory with "
                      "zoo.checkpoint.write_manifest(path), or pass verify=False to silence this.", stacklevel=4)
    return path


def _locate(name_or_path, revision=None, verify=True):
    """`(directory, entry)`: where the checkpoint lies, and its checkpoints.json entry
    when `name_or_path` is a registered name (else None)."""
    text = str(name_or_path)
    if not isinstance(name_or_path, os.PathLike) and text.startswith("hf://"):
        repo_id, _, at = text[5:].partition("@")
        if at and revision is not None and revision != at:
            raise ValueError(f"{text!r} asks for revision {at!r} but revision={revision!r} was also "
                             "given; pass one of them.")
        return hub.download_checkpoint(repo_id, revision=revision or at or None, verify=verify), None
    if _is_path(name_or_path):
        path = Path(text).expanduser()
        if path.is_dir():
            return _checked_directory(path, verify), None
        hint = f" For a Hub repository write 'hf://{text}'." if _REPO_ID.fullmatch(text) else ""
        raise FileNotFoundError(f"No checkpoint directory at {path}.{hint}")
    if not text.strip():
        raise ValueError("Empty model name: give a registered name (zoo.list_models()), a "
                         "checkpoint directory such as './dir', or 'hf://owner/repo'.")
    entry = get_entry(text)
    pinned = entry["hub"]["revision"]
    files = entry["files"]
    mirror = MIRROR_DIR / text
    if revision in (None, pinned) and mirror.is_dir():
        hub.verify_files(mirror, files["sha256"], files.get("size"))
        return mirror, entry
    pinned_request = revision in (None, pinned)
    return hub.download_checkpoint(
        entry["hub"]["repo_id"], revision=revision or pinned,
        sha256=files["sha256"] if pinned_request else None,
        sizes=files.get("size") if pinned_request else None, verify=verify), entry


def resolve(name_or_path, revision=None, *, verify=True):
    """Local directory holding the checkpoint. A registered name always means its pinned,
    sha256-verified files (the bundled mirror, else the Hugging Face cache, else a Hub
    download), even when a directory of that name lies in the working directory; a
    directory is taken only when written as a path (`./dir`, `/abs`, `~/dir`, `a/b`, a
    `pathlib.Path`); `hf://owner/repo[@revision]` is any Hub repository. Whatever nothing
    pins is checked against its own `SHA256SUMS` manifest (see `load`)."""
    return _locate(name_or_path, revision, verify)[0]


def load(name_or_path, revision=None, *, verify=True):
    """Load a trained model: a registered name (`zoo.list_models()`), a checkpoint
    directory written as a path (`"./dir"`, or a `pathlib.Path`), or `hf://owner/repo`.
    Every file is checked before it is read: a registered checkpoint against the sha256
    pinned in checkpoints.json, anything else (`hf://`, another `revision`, a directory)
    against its own `SHA256SUMS` manifest.

    Args:
        name_or_path: str or path.
        revision: optional Hub revision (branch, tag or commit); default the pinned one.
        verify: bool. False loads a Hub repository that has no manifest (otherwise
            refused with `UnverifiedCheckpointError`) and a directory without one
            (otherwise a warning); a manifest that is there is always checked.

    Returns:
        A ready `keras.Model` (sampling works at once; `fit` after `compile`).

    Raises:
        ChecksumError: a file differs from its recorded sha256 (evicted from the cache).
    """
    directory, entry = _locate(name_or_path, revision, verify)
    model = load_checkpoint(directory, family=entry["family"] if entry else None)
    model.checkpoint_dir = Path(directory)
    return model


def push_to_hub(model_or_dir, repo_id, *, entry=None, name=None, token=None, private=False,
                commit_message=None):
    """Upload a model (saved with its EMA weights) or a checkpoint directory with a
    generated model card, and return the `checkpoints.json` entry to paste.

    Args:
        model_or_dir: a zoo model or the path of a checkpoint directory.
        repo_id: str. `"owner/name"` on the Hub.
        entry: dict. Known fields of the entry (description, dataset, metrics, ...).
        name: str. Checkpoint name for the card (default: the repo's name).
        token: Hub token (default: the logged-in one / `HF_TOKEN`).

    Returns:
        The entry dict, with `hub.revision` and the files' sha256 and sizes filled in.
    """
    name = name or repo_id.split("/")[-1]
    entry = dict(entry or {})
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(model_or_dir, (str, Path)):
            directory = Path(model_or_dir)
            if not (directory / "config.json").is_file():
                raise CheckpointError(f"{directory} is not a checkpoint directory (no config.json).")
            hub.verify_manifest(directory)  # never publish files that already differ from their sums
        else:
            model = model_or_dir
            if getattr(model, "ema", None) is not None:  # publish the average alone
                model = model.copy(ema_decay=None)
            directory = save_checkpoint(model, Path(tmp) / name)
        staged = Path(tmp) / "upload"
        staged.mkdir()
        for path in directory.iterdir():
            if path.is_file() and path.name not in ("README.md", MANIFEST_FILE):
                (staged / path.name).write_bytes(path.read_bytes())
        write_manifest(staged)  # what `hf://` loads verify against
        metadata = json.loads((staged / "metadata.json").read_text())
        entry.setdefault("family", metadata.get("family"))
        entry.setdefault("parameters", metadata.get("parameters"))
        entry.setdefault("description", f"{entry['family']} checkpoint {name}")
        entry["files"] = hub.file_table(staged, [p.name for p in sorted(staged.iterdir()) if p.is_file()])
        entry["hub"] = {"repo_id": repo_id, "revision": None}
        (staged / "README.md").write_text(hub.render_model_card(name, entry))
        revision = hub.upload_checkpoint(staged, repo_id, token=token, private=private,
                                         commit_message=commit_message or f"Upload {name}")
    entry["hub"]["revision"] = revision
    return entry
