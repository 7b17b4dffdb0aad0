"""Pretrained checkpoints by name: `checkpoints.json` (data, at the repo root and
shipped in the package), the bundled mirror, the Hugging Face cache and the Hub."""

import functools
import json
import tempfile
from pathlib import Path

from zoo import hub
from zoo.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from zoo.registry import did_you_mean

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


def get_entry(name):
    """The `checkpoints.json` entry for `name`, or a ValueError with close matches."""
    entries = registry()["checkpoints"]
    if name not in entries:
        raise ValueError(
            f"Unknown model {name!r}.{did_you_mean(name, entries)} Registered: "
            f"{', '.join(sorted(entries))}. Also accepted: a checkpoint directory path, or "
            "'hf://owner/repo' for any zoo-format repository on the Hugging Face Hub.")
    return entries[name]


def resolve(name_or_path, revision=None):
    """Local directory holding the checkpoint, verified against checkpoints.json when it
    is a registered name. Order: a directory path; `hf://owner/repo[@revision]`; the
    bundled mirror (pinned revision only); the Hugging Face cache; a Hub download."""
    text = str(name_or_path)
    if text.startswith("hf://"):
        repo_id, _, at = text[5:].partition("@")
        return hub.download_checkpoint(repo_id, revision=revision or at or None)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if "/" in text or text.startswith("."):
        raise FileNotFoundError(f"No checkpoint directory at {path}.")
    entry = get_entry(text)
    pinned = entry["hub"]["revision"]
    files = entry["files"]
    mirror = MIRROR_DIR / text
    if revision in (None, pinned) and mirror.is_dir():
        hub.verify_files(mirror, files["sha256"], files.get("size"))
        return mirror
    pinned_request = revision in (None, pinned)
    return hub.download_checkpoint(
        entry["hub"]["repo_id"], revision=revision or pinned,
        sha256=files["sha256"] if pinned_request else None,
        sizes=files.get("size") if pinned_request else None)


def load(name_or_path, revision=None):
    """Load a trained model: a registered name (`zoo.list_models()`), a checkpoint
    directory, or `hf://owner/repo`. Every file of a registered checkpoint is checked
    against its sha256 before it is read.

    Args:
        name_or_path: str or path.
        revision: optional Hub revision (branch, tag or commit); default the pinned one.

    Returns:
        A ready `keras.Model` (sampling works at once; `fit` after `compile`).
    """
    directory = resolve(name_or_path, revision)
    name = str(name_or_path)
    family = None
    if not name.startswith("hf://") and not Path(name).expanduser().is_dir():
        family = get_entry(name)["family"]
    model = load_checkpoint(directory, family=family)
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
        else:
            model = model_or_dir
            if getattr(model, "ema_network", None) is not None:
                model = model.copy(ema_decay=None)
            directory = save_checkpoint(model, Path(tmp) / name)
        metadata = json.loads((directory / "metadata.json").read_text())
        entry.setdefault("family", metadata.get("family"))
        entry.setdefault("parameters", metadata.get("parameters"))
        entry.setdefault("description", f"{entry['family']} checkpoint {name}")
        entry["files"] = hub.file_table(directory, [p.name for p in sorted(directory.iterdir())
                                                    if p.is_file() and p.name != "README.md"])
        entry["hub"] = {"repo_id": repo_id, "revision": None}
        card = hub.render_model_card(name, entry)
        staged = Path(tmp) / "upload"
        staged.mkdir()
        for path in directory.iterdir():
            if path.is_file() and path.name != "README.md":
                (staged / path.name).write_bytes(path.read_bytes())
        (staged / "README.md").write_text(card)
        revision = hub.upload_checkpoint(staged, repo_id, token=token, private=private,
                                         commit_message=commit_message or f"Upload {name}")
    entry["hub"]["revision"] = revision
    return entry
