"""Checkpoint directories, checkpoints.json entries and Hugging Face Hub I/O.

A checkpoint is a directory in Keras's own format (`config.json`, `model.weights.h5`,
`metadata.json`, which `keras.saving.load_model(dir)` and `load_model("hf://owner/repo")`
read), plus optionally `README.md` (the model card) and `samples.png`.

Downloads of registered checkpoints are pinned to a commit and every file is checked
against the sha256 and size recorded in checkpoints.json before anything loads it; any
other repository or revision is checked against its own `SHA256SUMS` manifest (written by
`zoo push`), and one without a manifest loads only with `verify=False`. A file that
changed on the Hub, or was corrupted or cut short on the way, raises `ChecksumError` and
is evicted from the cache.

`huggingface_hub` is imported only when the Hub is used, so the rest of zoo works without it.
"""

import contextlib
import importlib
import json
import pathlib
import re

import keras

from zoo.checkpoint import MANIFEST_FILE, CheckpointError, read_manifest, sha256_file

_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")

# Dataset names used in checkpoints.json -> (display name, Hugging Face dataset id).
_IMAGE_DATASETS = {
    "cifar10": ("CIFAR-10", "uoft-cs/cifar10"),
    "mnist": ("MNIST", "ylecun/mnist"),
    "fashion_mnist": ("Fashion-MNIST", "zalando-datasets/fashion_mnist"),
    "cifar10_edges": ("CIFAR-10 edge maps -> images", "uoft-cs/cifar10"),
}


class ChecksumError(ValueError):
    """A checkpoint file is missing or differs from the sha256/size recorded for it.

    Args:
        path: path-like. The file checked.
        expected: str. The recorded sha256.
        got: str or None. The file's sha256, None if the file is missing.
        expected_size: int, optional. The recorded size in bytes.
        got_size: int, optional. The file's size in bytes.
    """

    def __init__(self, path, expected, got, expected_size=None, got_size=None):
        self.path, self.expected, self.got = pathlib.Path(path), expected, got
        self.expected_size, self.got_size = expected_size, got_size
        if got is None:
            problem = "is missing"
        elif expected_size is not None and got_size != expected_size:
            problem = (f"has {got_size} bytes, expected {expected_size} (truncated or replaced); "
                       f"sha256 expected {expected}, got {got}")
        else:
            problem = f"has sha256 {got}, expected {expected}"
        super().__init__(
            f"Checkpoint file '{self.path}' {problem}. The file was not loaded. It is corrupted, "
            "incomplete, or no longer the file checkpoints.json pins; download it again, and if "
            "the mismatch persists, the copy on the Hub has changed.")


class HubUnavailableError(ConnectionError):
    """The Hub could not be reached and the checkpoint is not in the local cache."""


class UnverifiedCheckpointError(CheckpointError):
    """A checkpoint that nothing pins (an `hf://` repository, a revision other than the
    registered one) has no `SHA256SUMS` manifest, so its bytes cannot be checked."""


def verify_manifest(directory):
    """Check every file `directory/SHA256SUMS` lists (`ChecksumError` on the first that
    differs); returns the sums, or None when the directory has no manifest."""
    sums = read_manifest(directory)
    if sums is not None:
        verify_files(directory, sums)
    return sums


def verify_files(directory, sha256, sizes=None):
    """Raise `ChecksumError` on the first file of `directory` whose size (checked first, so
    a truncated file is reported as such) or sha256 differs from the recorded one."""
    directory = pathlib.Path(directory)
    sizes = sizes or {}
    for name, expected in sorted(sha256.items()):
        path = directory / name
        if not path.is_file():
            raise ChecksumError(path, expected, None)
        size = path.stat().st_size
        if name in sizes and size != sizes[name]:
            raise ChecksumError(path, expected, sha256_file(path), sizes[name], size)
        got = sha256_file(path)
        if got != expected.lower():
            raise ChecksumError(path, expected, got, sizes.get(name), size)


def file_table(directory, names=None):
    """`{"sha256": {name: hex}, "size": {name: bytes}}` for a checkpoint directory's files
    (all of them except hidden ones, or `names`): the `files` field of checkpoints.json."""
    directory = pathlib.Path(directory)
    if names is None:
        names = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
        names = [n for n in names if not any(part.startswith(".") for part in n.split("/"))]
    names = sorted(names)
    return {"sha256": {n: sha256_file(directory / n) for n in names},
            "size": {n: (directory / n).stat().st_size for n in names}}


def _hub():
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError as err:
        raise ImportError("Hub access needs `huggingface_hub`: pip install 'zoo[hub]'") from err


def _unreachable(err):
    """Whether `err` says the Hub could not be reached, as opposed to answering no."""
    if isinstance(err, ConnectionError):  # includes huggingface_hub's OfflineModeIsEnabled
        return True
    response = getattr(err, "response", None)
    if response is not None and getattr(response, "status_code", 0) >= 500:
        return True
    # huggingface_hub 2.x speaks httpx2, 1.x httpx, 0.x requests.
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"),
                         ("requests", "RequestException")):
        with contextlib.suppress(ImportError):
            if isinstance(err, getattr(importlib.import_module(module), name)):
                return True
    return False


@contextlib.contextmanager
def _hub_errors(repo_id, revision):
    from huggingface_hub import errors

    try:
        yield
    except errors.RevisionNotFoundError as err:
        raise ValueError(f"Revision '{revision}' does not exist in Hub repo '{repo_id}'.") from err
    except errors.RepositoryNotFoundError as err:
        raise ValueError(f"Hub repo '{repo_id}' does not exist, or is private or gated and "
                         "no token with access was given.") from err
    except Exception as err:
        if not (isinstance(err, errors.LocalEntryNotFoundError) or _unreachable(err)):
            raise
        raise HubUnavailableError(
            f"Cannot download '{repo_id}' at revision '{revision}': the Hugging Face Hub is "
            f"unreachable or offline mode is on, and the files are not in the local cache "
            f"({err.__class__.__name__}). To work offline: download it once while online, then "
            "set HF_HUB_OFFLINE=1 to use the cache without network; or pass a local checkpoint "
            "directory to zoo.load(path); or use the bundled copy.") from err


def _evict(path):
    """Remove a file from the Hugging Face cache (snapshot link and blob) so the next
    download fetches it again instead of serving the bad copy."""
    blob = path.resolve()
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)


def _verified(path, sha256, sizes, where):
    """`path` once its files match `sha256` (pinned sums) or, without them, its own
    `SHA256SUMS` manifest; a mismatching file is evicted from the cache. `where` names
    the download for the error raised when there is nothing to verify against."""
    try:
        if sha256:
            verify_files(path, sha256, sizes)
        elif verify_manifest(path) is None and where is not None:
            raise UnverifiedCheckpointError(
                f"{where} has no {MANIFEST_FILE} manifest, so its files cannot be checked against "
                "corruption or tampering. Publish it with `zoo push` (which writes the manifest), pin a "
                "registered checkpoint, or load it unverified with `zoo.load(..., verify=False)` "
                "(`--no-verify` on the command line), which skips the sha256 check of every file.")
    except ChecksumError as err:
        if err.got is not None:
            _evict(err.path)
        raise
    return path


def download_checkpoint(repo_id, *, revision=None, sha256=None, sizes=None, cache_dir=None,
                        token=None, verify=True):
    """Download a checkpoint directory from the Hub and verify it.

    Args:
        repo_id: str. `owner/name` on the Hub.
        revision: str, optional. A commit sha (what checkpoints.json pins), or a branch or
            tag. Defaults to `"main"`.
        sha256: dict, optional. `{file name: hex}`; only these files are downloaded, and
            each must match. Without it every file is fetched and checked against the
            repository's own `SHA256SUMS` manifest (which `zoo push` writes).
        sizes: dict, optional. `{file name: bytes}`, checked before the digests.
        cache_dir: path-like, optional. Defaults to huggingface_hub's cache.
        token: str, optional. Defaults to huggingface_hub's (`HF_TOKEN` or login).
        verify: bool. False loads a repository without a manifest (a manifest that is
            there is still checked); nothing then guards its bytes.

    Returns:
        pathlib.Path of the verified snapshot directory in the cache.

    Raises ValueError for an unknown repo or revision, `HubUnavailableError` when the Hub
    cannot be reached and the cache cannot serve the files, `ChecksumError` when a file
    does not match (the bad file is removed from the cache, and fetched once more when
    online: a corrupted cache heals, a tampered Hub copy is refused),
    `UnverifiedCheckpointError` for an unpinned repository without a manifest.
    """
    hub = _hub()
    from huggingface_hub import constants, errors

    revision = revision or "main"
    pinned, offline = bool(_COMMIT_SHA.fullmatch(revision)), constants.HF_HUB_OFFLINE
    where = f"'{repo_id}' at revision '{revision}'" if verify else None
    options = {"revision": revision, "cache_dir": cache_dir, "token": token,
               "allow_patterns": sorted(sha256) if sha256 else None}
    # A pinned commit already in the cache needs no network; offline, the cache is all there is.
    if pinned or offline:
        try:
            path = pathlib.Path(hub.snapshot_download(repo_id, local_files_only=True, **options))
            return _verified(path, sha256, sizes, where)
        except errors.LocalEntryNotFoundError:
            pass
        except ChecksumError:
            if offline:
                raise  # the bad copy is evicted, and replacing it needs the network
    with _hub_errors(repo_id, revision):
        if pinned and not offline:
            # For a commit, snapshot_download goes straight to the file listing, which the
            # client retries for ~25 s when the Hub is unreachable. One plain request first
            # fails fast, and reports a wrong repo or commit as such.
            hub.HfApi(token=token).model_info(repo_id, revision=revision)
        path = pathlib.Path(hub.snapshot_download(repo_id, local_files_only=offline, **options))
    try:
        return _verified(path, sha256, sizes, where)
    except ChecksumError:
        if offline:
            raise
    # The bad file is evicted: fetch it again, once (a corrupted cache heals here).
    with _hub_errors(repo_id, revision):
        path = pathlib.Path(hub.snapshot_download(repo_id, **options))
    return _verified(path, sha256, sizes, where)


def upload_checkpoint(directory, repo_id, *, token=None, private=False, commit_message=None,
                      revision=None):
    """Create `repo_id` if needed and commit the checkpoint `directory` to it.

    Returns:
        str, the 40-hex sha of the new commit (of the current head if nothing changed): the
        revision to pin in checkpoints.json.
    """
    directory = pathlib.Path(directory)
    if not (directory / "config.json").is_file():
        raise ValueError(f"'{directory}' is not a checkpoint directory: it has no config.json.")
    api = _hub().HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=directory, revision=revision,
                             commit_message=commit_message or f"Upload {directory.name} with zoo")
    return info.oid


_PLAIN = re.compile(r"[A-Za-z_][\w./+ -]*[\w.]|[A-Za-z_]")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _yaml_scalar(value):
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value)  # YAML reads JSON scalars as the same values


def _yaml_lines(value, indent=0):
    """Block-style YAML for the model card's front matter (zoo does not depend on PyYAML)."""
    pad, lines = "  " * indent, []
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        lead = f"{pad}{key}:" if key is not None else f"{pad}-"
        if isinstance(item, (dict, list)) and item:
            if key is None and isinstance(item, dict):
                sub = _yaml_lines(item, indent + 1)
                lines += [f"{lead} {sub[0].lstrip()}", *sub[1:]]
            else:
                lines += [lead, *_yaml_lines(item, indent + 1)]
        else:
            lines.append(f"{lead} {_yaml_scalar(item)}")
    return lines


def _cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_model_card(name, entry, *, sample_image="samples.png"):
    """The README.md for checkpoint `name` from its checkpoints.json `entry`: Hub metadata
    as YAML front matter, then what it is, how it was trained, how to load it, and its
    measured metrics with how they were measured."""
    repo_id = entry.get("hub", {}).get("repo_id", f"<org>/{name}")
    family, dataset = entry.get("family", ""), entry.get("dataset", "")
    dataset_name, dataset_id = _IMAGE_DATASETS.get(dataset, (dataset, None))
    metrics, training = entry.get("metrics", {}), entry.get("training", {})
    # The family's declared interface says what the model is and how it is used.
    model_class = keras.saving.get_registered_object(f"zoo>{family}")
    interface = getattr(model_class, "interface", None)
    kind = interface.kind if interface else "generative" if entry.get("sampler") is not None else "classifier"
    meta = {"library_name": "keras", "license": entry.get("license", "apache-2.0"),
            "tags": ["zoo", family, kind, "keras-3", "jax", "tensorflow", "pytorch"]}
    generative = kind == "generative"
    sampler = entry.get("sampler") or {}
    conditional = "guidance" in sampler  # classifier-free guidance: class labels in
    if dataset_id:
        meta["datasets"] = [dataset_id]
        meta["pipeline_tag"] = {"generative": "unconditional-image-generation", "encoder": "image-feature-extraction"
                                }.get(kind, "image-classification")
        if interface is not None and interface.can("source"):
            meta["pipeline_tag"] = "image-to-image"
    if metrics:
        meta["model-index"] = [{"name": name, "results": [{
            "task": {"type": meta.get("pipeline_tag", "other"),
                     "name": (("Image-to-image translation" if dataset_id else "Paired translation")
                              if interface is not None and interface.can("source")
                              else "Class-conditional generation" if conditional else "Unconditional generation")
                     if generative else "Representation learning" if kind == "encoder" else
                     "Image classification" if dataset_id else "Classification"},
            "dataset": {"type": dataset_id or dataset, "name": dataset_name},
            "metrics": [{"type": k.lower(), "name": k, "value": m["value"], "verified": False}
                        for k, m in metrics.items()]}]}]
    steps = f"steps={sampler['steps']}, " if "steps" in sampler else ""
    use = (f"images = model.sample(16, {steps}seed=0)" if generative else
           "logits = model.logits(images)  # uint8 (N, H, W, C) in; model.features(images): penultimate")
    if conditional:
        use = ("labels = np.arange(20) % model.num_classes  # each sample's class (none: unconditional)\n"
               f"images = model.sample(20, {steps}labels=labels, guidance={sampler['guidance']:g}, seed=0)")
    use = getattr(model_class, "card_usage", None) or use  # a family with its own way of use says so
    out = ["---", *_yaml_lines(meta), "---", "", f"# {name}", "", entry.get("description", ""), ""]
    if sample_image and generative:
        out += [f"![Samples from {name}]({sample_image})", ""]
        if sampler:
            settings = ", ".join(f"`{k}={v}`" for k, v in sampler.items())
            out += [f"Samples drawn with {settings}.", ""]
        extra = sorted(f for f in entry.get("files", {}).get("size", {}) if f.endswith(".png") and f != sample_image)
        for image in extra:  # e.g. a flow's grids at other temperatures, named samples_t0.7.png
            out += [f"![{image[:-4].replace('_', ' ')}]({image})", ""]
    out += ["## Training", "", "| | |", "|---|---|",
            f"| family / config | `{family}` / `{entry.get('config', '')}` |",
            f"| parameters | {entry.get('parameters', 0):,} |",
            f"| weights file | {entry.get('files', {}).get('size', {}).get('model.weights.h5', 0) / 2**20:.2f} MiB |",
            f"| dataset | {dataset_name} |",
            f"| hardware | {_cell(training.get('hardware', 'unknown'))} |",
            f"| wall time | {_cell(training.get('wall_time', 'unknown'))} |",
            f"| images seen | {training.get('images_seen', 0):,} |",
            *([f"| optimizer | {_cell(training['optimizer'])} |"] if training.get("optimizer") else []), ""]
    if entry.get("recipe"):
        out += [f"The run is recorded in the zoo repository at `{entry['recipe']}` and was "
                "started with:", ""]
    if training.get("command"):
        out += ["```bash", training["command"], "```", ""]
    out += ["## Use", "", "Pick a backend before importing Keras: `KERAS_BACKEND=jax`, "
            "`KERAS_BACKEND=tensorflow` or `KERAS_BACKEND=torch`.", "",
            "```python", *(["import numpy as np"] if conditional else []), "import zoo", "",
            f'model = zoo.load("{name}")  # pinned revision, sha256-verified',
            use, "```", "",
            "or with Keras alone (`import zoo` registers zoo's layers with Keras):", "",
            "```python", "import keras", "import zoo", "",
            f'model = keras.saving.load_model("hf://{repo_id}")', "```", ""]
    if entry.get("notes"):
        out += ["## Notes", "", entry["notes"], ""]
    if metrics:
        out += ["## Metrics", "", "| metric | value | how it was measured |", "|---|---|---|"]
        out += [f"| {_cell(k)} | {m['value']:.4g} | {_cell(m.get('how', ''))} |"
                for k, m in metrics.items()]
        out.append("")
    return "\n".join(out)
