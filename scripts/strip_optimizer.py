"""Rewrite bundled checkpoints without optimizer state.

Checkpoints exported before `zoo.checkpoint.save_checkpoint` learned to drop it carry the
optimizer's variables (Adam's moments triple a file) and a `compile_config` (loading then
builds an optimizer and warns that its variables are missing). This keeps the weights
bit-exact, rewrites `model.weights.h5` and `config.json` in place, and updates the
sha256/size table in checkpoints.json and the model card.

    python scripts/strip_optimizer.py [NAME ...]      # default: every bundled checkpoint
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

import zoo
from zoo import hub
from zoo.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint
from zoo.pretrained import MIRROR_DIR, REGISTRY_FILE


def main(names):
    registry = json.loads(REGISTRY_FILE.read_text())
    for name in names or zoo.list_models():
        directory = MIRROR_DIR / name
        with h5py.File(directory / WEIGHTS_FILE, "r") as weights:
            compiled = "optimizer" in weights or json.loads((directory / CONFIG_FILE).read_text()).get("compile_config")
        if not compiled:
            continue
        model = load_checkpoint(directory)
        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(model, Path(tmp) / "c", metadata=model.checkpoint_metadata)
            again = load_checkpoint(Path(tmp) / "c")
            for a, b in zip(model.get_weights(), again.get_weights()):
                np.testing.assert_array_equal(a, b)
            before = (directory / WEIGHTS_FILE).stat().st_size
            for file in (WEIGHTS_FILE, CONFIG_FILE):
                shutil.copy2(Path(tmp) / "c" / file, directory / file)
        entry = registry["checkpoints"][name]
        entry["files"] = hub.file_table(directory, list(entry["files"]["sha256"]))
        (directory / "README.md").write_text(hub.render_model_card(name, entry))
        print(f"{name}: {before / 2**20:.2f} MiB -> {(directory / WEIGHTS_FILE).stat().st_size / 2**20:.2f} MiB")
    REGISTRY_FILE.resolve().write_text(json.dumps(registry, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
