"""Give every bundled checkpoint in zoo/weights a SHA256SUMS manifest and register the
manifest's own sha256 and size in checkpoints.json (for mirrors bundled before
`scripts/bundle.py` wrote one). Idempotent; checks each mirror against its registered
sums first, so it never blesses a corrupted file.

    python scripts/write_manifests.py
"""

import json

from zoo import hub, pretrained
from zoo.checkpoint import MANIFEST_FILE, write_manifest


def main():
    path = pretrained.REGISTRY_FILE.resolve()
    registry = json.loads(path.read_text())
    changed = []
    for name, entry in registry["checkpoints"].items():
        mirror = pretrained.MIRROR_DIR / name
        if not mirror.is_dir():
            continue
        sums = {k: v for k, v in entry["files"]["sha256"].items() if k != MANIFEST_FILE}
        hub.verify_files(mirror, sums, entry["files"].get("size"))
        write_manifest(mirror)
        table = hub.file_table(mirror, [MANIFEST_FILE])
        if entry["files"]["sha256"].get(MANIFEST_FILE) != table["sha256"][MANIFEST_FILE]:
            entry["files"]["sha256"][MANIFEST_FILE] = table["sha256"][MANIFEST_FILE]
            entry["files"].setdefault("size", {})[MANIFEST_FILE] = table["size"][MANIFEST_FILE]
            entry["files"]["sha256"] = dict(sorted(entry["files"]["sha256"].items()))
            entry["files"]["size"] = dict(sorted(entry["files"]["size"].items()))
            changed.append(name)
    path.write_text(json.dumps(registry, indent=2, ensure_ascii=False) + "\n")
    print(f"manifests registered for {len(changed)} checkpoints: {', '.join(changed) or 'none'}")


if __name__ == "__main__":
    main()
