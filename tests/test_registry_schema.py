"""checkpoints.json: every entry follows the schema (zoo.pretrained.validate_entry), names
a registered config and an existing recipe, and its bundled mirror zoo/weights/<name>/
matches the pinned sha256 and sizes. The validator itself is checked on a synthetic good
entry and on bad ones."""

import copy
import json
from pathlib import Path

import pytest

import zoo
from zoo import hub, pretrained
from zoo.pretrained import validate_entry

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = json.loads((ROOT / "checkpoints.json").read_text())
NAMES = sorted(REGISTRY["checkpoints"])

GOOD = {
    "description": "1-rectified flow on two moons, a 2-D toy.",
    "family": "RectifiedFlow",
    "config": "rectified_flow_mlp",
    "hub": {"repo_id": "zoo-models/rectified-flow-moons", "revision": "0123456789" * 4},
    "files": {
        "sha256": {"config.json": "a" * 64, "metadata.json": "b" * 64,
                   "model.weights.h5": "c" * 64},
        "size": {"config.json": 1200, "metadata.json": 300, "model.weights.h5": 180_000},
    },
    "parameters": 42_754,
    "dataset": "moons",
    "recipe": "recipes/rectified_flow_moons.py",
    "sampler": {"solver": "euler", "steps": 50},
    "metrics": {"energy_distance": {"value": 0.0123, "how": "10k samples vs 10k test points"}},
    "training": {"hardware": "2 CPU cores", "wall_time": "4m 10s", "images_seen": 1_280_000,
                 "command": "zoo train recipes/rectified_flow_moons.py"},
    "license": "apache-2.0",
}


def test_registry_file_is_the_packaged_one():
    assert pretrained.REGISTRY_FILE.resolve() == (ROOT / "checkpoints.json").resolve()
    assert REGISTRY["format_version"] == 1 and set(REGISTRY) == {"format_version", "checkpoints"}
    assert zoo.list_models() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_registered_entry(name):
    entry = REGISTRY["checkpoints"][name]
    validate_entry(name, entry)
    assert entry["config"] in zoo.list_configs()
    assert (ROOT / entry["recipe"]).is_file(), f"{name}: recipe {entry['recipe']} is missing"
    mirror = pretrained.MIRROR_DIR / name
    assert mirror.is_dir(), f"{name}: no bundled mirror at {mirror}"
    hub.verify_files(mirror, entry["files"]["sha256"], entry["files"]["size"])


def test_good_entry_passes():
    assert validate_entry("rectified-flow-moons", GOOD) is GOOD
    unpublished = {**GOOD, "hub": {**GOOD["hub"], "revision": None}, "metrics": {}}
    validate_entry("rectified-flow-moons", unpublished)  # bundled, not yet on the Hub
    optional = {**GOOD, "eval_samplers": ["euler:1", "euler:10", "rk45@2000"], "notes": "Trained briefly."}
    validate_entry("rectified-flow-moons", optional)
    validate_entry("rectified-flow-moons", {**GOOD, "sampler": None})  # a classifier samples nothing


def changed(path, value):
    """GOOD with the field at dotted `path` set to `value` (deleted if value is DELETE)."""
    entry = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = entry
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return entry


DELETE = object()
BAD = [
    ("license", DELETE, "missing field `license`"),
    ("licence", "mit", "unknown field `licence`. Did you mean 'license'"),
    ("config", "rectified_flow_mpl", "Did you mean 'rectified_flow_mlp'"),
    ("family", "rectified-flow", "`family` = 'rectified-flow'"),
    ("description", "two\nlines", "one-line"),
    ("dataset", "cifar100", "`dataset` = 'cifar100'"),
    ("recipe", "../recipes/x.py", "`recipe`"),
    ("parameters", True, "`parameters` = True"),
    ("parameters", 0, "`parameters` = 0"),
    ("hub.revision", "main", "40-hex commit sha"),
    ("hub.repo_id", "no-owner", "'owner/name'"),
    ("hub.token", "hf_x", "`hub`"),
    ("files.size", {"config.json": 1}, "must name the same files"),
    ("sampler", {}, "`sampler` = {}"),
    ("sampler.steps", 0, "steps >= 1"),
    ("metrics.energy_distance.value", float("nan"), "finite number"),
    ("metrics.energy_distance.how", "", "finite number, 'how'"),
    ("training.images_seen", "1.28M", "images_seen an integer"),
    ("training.gpu", "H100", "with hardware, wall_time, images_seen, command"),
    ("training.optimizer", "", "optionally optimizer"),
    ("eval_samplers", [], "`eval_samplers` = []"),
    ("eval_samplers", ["euler:0"], "SOLVER[:STEPS][+wGUIDANCE][@NUM]"),
    ("eval_samplers", "euler:10", "non-empty list"),
    ("notes", "", "`notes` = ''"),
    ("note", "typo", "unknown field `note`. Did you mean 'notes'?"),
]


@pytest.mark.parametrize("path, value, message", BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_entry_is_rejected(path, value, message):
    with pytest.raises(ValueError, match="entry 'rectified-flow-moons' is invalid") as info:
        validate_entry("rectified-flow-moons", changed(path, value))
    assert message in str(info.value)


def test_bad_files_and_names_are_rejected():
    entry = copy.deepcopy(GOOD)
    for table in entry["files"].values():
        del table["model.weights.h5"]
    with pytest.raises(ValueError, match="`files` must list model.weights.h5"):
        validate_entry("rectified-flow-moons", entry)
    entry = copy.deepcopy(GOOD)
    entry["files"]["sha256"]["config.json"] = "A" * 64
    entry["files"]["sha256"]["../evil"] = "d" * 64
    entry["files"]["size"]["../evil"] = -1
    with pytest.raises(ValueError) as info:
        validate_entry("rectified-flow-moons", entry)
    for text in ("`files.sha256['config.json']` must be 64 lowercase hex",
                 "'../evil' must be a relative path", "`files.size['../evil']` must be an integer"):
        assert text in str(info.value)
    for name in ("Rectified Flow", "rectified_flow_moons", "-moons", ""):
        with pytest.raises(ValueError, match="lowercase words joined by '-'"):
            validate_entry(name, GOOD)
    with pytest.raises(ValueError, match="must be a JSON object"):
        validate_entry("rectified-flow-moons", [GOOD])


def test_every_problem_is_reported_at_once():
    entry = {**GOOD, "license": "", "parameters": -1, "dataset": None}
    message = str(pytest.raises(ValueError, validate_entry, "rectified-flow-moons", entry).value)
    assert message.count("\n  - ") == 3
