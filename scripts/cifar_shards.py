"""Move CIFAR-10 to a lent GPU machine that carries at most 64 MiB per call.

    python scripts/cifar_shards.py pack .gpu       # here: train_a.xz, train_b.xz, test.xz (~50 MB each)
    python scripts/cifar_shards.py unpack .gpu DIR  # there: DIR/cifar10.npz from whatever parts arrived

Each part is LZMA over horizontal pixel differences (lossless, 0.67 of the raw bytes).
`unpack` writes `cifar10.npz` with the keys `zoo.datasets` reads; a split whose parts
have not arrived yet is left empty.
"""

import argparse
import lzma
from pathlib import Path

import numpy as np

PARTS = {"train_a.xz": ("train", slice(0, 25000)), "train_b.xz": ("train", slice(25000, None)),
         "test.xz": ("test", slice(None))}


def pack_part(x, y, path, preset=6):
    delta = np.diff(x.astype(np.int16), axis=2, prepend=0).astype(np.uint8)
    header = np.asarray(x.shape, np.int64).tobytes() + y.astype(np.int64).tobytes()
    path.write_bytes(lzma.compress(header + delta.tobytes(), preset=preset))


def pack(source, folder):
    data = np.load(source)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (split, rows) in PARTS.items():
        x, y = data[f"x_{split}"][rows], data[f"y_{split}"][rows]
        pack_part(x, y, folder / name)
        print(f"{folder / name}: {x.shape[0]} images, {(folder / name).stat().st_size / 2**20:.1f} MiB")


def unpack_part(path):
    raw = lzma.decompress(path.read_bytes())
    shape = tuple(np.frombuffer(raw[:32], np.int64))
    y = np.frombuffer(raw[32:32 + 8 * shape[0]], np.int64).astype(np.uint8)
    delta = np.frombuffer(raw[32 + 8 * shape[0]:], np.uint8).reshape(shape)
    return np.cumsum(delta, axis=2, dtype=np.uint8), y  # uint8 wrap-around undoes the diff


def unpack(folder, out):
    arrays = {}
    for name, (split, _) in PARTS.items():
        if (folder / name).is_file():
            x, y = unpack_part(folder / name)
            arrays.setdefault(split, []).append((x, y))
    npz = {}
    for split in ("train", "test"):
        parts = arrays.get(split, [])
        npz[f"x_{split}"] = np.concatenate([x for x, _ in parts]) if parts else np.zeros((0, 32, 32, 3), np.uint8)
        npz[f"y_{split}"] = np.concatenate([y for _, y in parts]) if parts else np.zeros((0,), np.uint8)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "cifar10.npz", **npz)
    print(f"{out / 'cifar10.npz'}: train {len(npz['x_train'])}, test {len(npz['x_test'])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["pack", "unpack"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path, nargs="?", help="unpack: where cifar10.npz goes")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/cifar10.npz")
    args = parser.parse_args()
    pack(args.source, args.folder) if args.action == "pack" else unpack(args.folder, args.out)
