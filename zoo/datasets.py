"""Datasets as NumPy arrays: CIFAR-10, MNIST, Fashion-MNIST, binarized MNIST and
the 2-D toy sets of FFJORD / flow matching.

Pure NumPy on purpose: importing this module must not start a Keras backend.

Image files are looked for, in order, in: the `data_dir` argument, `$ZOO_DATA_DIR`,
`../shared/data` beside the repository, Debian's `dataset-fashion-mnist` package
(Fashion-MNIST only), the download cache (`$ZOO_CACHE_DIR`, default
`~/.cache/zoo/datasets`), and finally a download into that cache unless
`$ZOO_NO_DOWNLOAD` is set. An `<name>.npz` file holds uint8 arrays under the keys
`x_train`, `y_train`, `x_test`, `y_test`, like `keras.datasets`.
"""

import functools
import gzip
import hashlib
import os
import pickle
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from zoo.registry import did_you_mean

IMAGE_DATASETS = ("cifar10", "mnist", "fashion_mnist", "binarized_mnist")
TOY_DATASETS = ("moons", "eight_gaussians", "checkerboard", "swiss_roll", "gaussian_grid")
SPLITS = ("train", "test")
# Paired sets for diffusion bridges (`load_pairs`): name -> what the source and target are.
PAIRED_DATASETS = {
    "cifar10_edges": "CIFAR-10 edge maps (black Sobel edges on white, 3 channels) -> the CIFAR-10 images",
    "moons_rotated": "2-D: a two-moons point -> that point rotated by 90 degrees and shifted 2 left or right at "
                     "random (two modes per source), plus N(0, 0.1^2)",
}
# The edge operator of `cifar10_edges`: Sobel gradient magnitude of the luminance in
# [0, 1] (borders replicated) above this threshold; 16% of CIFAR-10's pixels are edges.
EDGE_THRESHOLD = 1.0
SHARED_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_TF_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_IDX_FILES = {  # original file names (Debian and the mirrors keep them) -> npz keys
    "train-images-idx3-ubyte.gz": "x_train", "train-labels-idx1-ubyte.gz": "y_train",
    "t10k-images-idx3-ubyte.gz": "x_test", "t10k-labels-idx1-ubyte.gz": "y_test",
}
# (url, md5 or sha256): keras's sha256 for CIFAR-10 and MNIST, Zalando's md5 for Fashion.
_DOWNLOADS = {
    "cifar10": [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                 "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")],
    "mnist": [(_TF_DATASETS + "mnist.npz",
               "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")],
    "fashion_mnist": list(zip([_TF_DATASETS + name for name in _IDX_FILES], [
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"])),
}

CLASS_NAMES = {
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "mnist": tuple(str(d) for d in range(10)),
    "binarized_mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                      "bag", "ankle boot"),
    # Toy sets with labels (`load(..., with_labels=True)`): which moon, which mode
    # (counter-clockwise from the +x axis).
    "moons": ("upper", "lower"),
    "eight_gaussians": ("east", "north-east", "north", "north-west", "west", "south-west", "south",
                        "south-east"),
    # Row by row from (-4, -4): mode k sits at (2 (k % 5) - 4, 2 (k // 5) - 4).
    "gaussian_grid": tuple(f"({2 * (k % 5) - 4}, {2 * (k // 5) - 4})" for k in range(25)),
}


class DatasetNotFoundError(FileNotFoundError):
    """No local copy of an image dataset was found and none could be downloaded."""


def list_datasets():
    """Return the names `load` accepts, sorted."""
    return sorted(IMAGE_DATASETS + TOY_DATASETS)


def class_names(name):
    """The class names of a labelled dataset, in label order."""
    if name not in CLASS_NAMES:
        raise ValueError(f"{name!r} has no class names; labelled datasets: {sorted(CLASS_NAMES)}.")
    return CLASS_NAMES[name]


def load(name, split="train", *, num=None, seed=None, data_dir=None, download=None, with_labels=False):
    """Load a dataset as NumPy arrays.

    Args:
        name: str. One of `list_datasets()`.
        split: str. `"train"` or `"test"`.
        num: int or None. Image sets: return only the first `num` examples (default
            all). Toy sets: how many points to draw (default 10_000 for train,
            2_000 for test).
        seed: int or None. Seed of the random sets (toy sets and `binarized_mnist`);
            defaults to 0 for train and 1 for test so every call gives the same
            data. Ignored by the other image sets.
        data_dir: str, Path or None. Directory searched before all others for
            `<name>.npz`.
        download: bool or None. Whether a missing image set may be downloaded.
            `None` means yes unless the environment variable `ZOO_NO_DOWNLOAD`
            is set to something other than `""` or `"0"`.
        with_labels: bool. Toy sets: return the labels too (the points are the same
            either way): `moons` 0 upper / 1 lower moon, `eight_gaussians` the mode
            0..7 counter-clockwise from the +x axis (`class_names(name)`). The other
            toy sets have no classes. Image sets always return their labels.

    Returns:
        `(x, y)`. Image sets: `x` uint8 `(N, H, W, C)` channels-last (C=1 for the
        MNIST-like sets) and `y` int64 `(N,)` labels 0..9. `x` is shared with an
        in-memory cache and read-only; `.copy()` it to write in place.
        `binarized_mnist` is *dynamically* binarized MNIST, values in {0, 1} drawn
        as Bernoulli(pixel / 255) with a fixed seed; it is not the fixed
        binarization file of Larochelle & Murray (2011). Toy sets: `x` float32
        `(N, 2)` as in FFJORD's toy data (within about [-4, 4]) and `y` None, or int64
        `(N,)` labels with `with_labels`.

    Raises:
        ValueError: unknown `name`, bad `split` or bad `num`.
        DatasetNotFoundError: an image set is neither on disk nor downloadable.
    """
    if name not in IMAGE_DATASETS + TOY_DATASETS:
        raise ValueError(f"Unknown dataset {name!r}.{did_you_mean(name, list_datasets())} "
                         f"Known datasets: {list_datasets()}")
    if split not in SPLITS:
        raise ValueError(f"`split` must be 'train' or 'test'. Received: split={split!r}")
    if num is not None and (type(num) is bool or not isinstance(num, (int, np.integer))
                            or num < 0):
        raise ValueError(f"`num` must be a non-negative int or None. Received: num={num!r}")
    if seed is None:
        seed = SPLITS.index(split)  # fixed defaults, different per split
    if name in TOY_DATASETS:
        if with_labels and name not in CLASS_NAMES:
            raise ValueError(f"Toy set {name!r} has no classes; `with_labels=True` works for "
                             f"{sorted(set(TOY_DATASETS) & set(CLASS_NAMES))}.")
        num = (10_000 if split == "train" else 2_000) if num is None else int(num)
        x, y = _TOYS[name](np.random.default_rng(seed), num)
        return x.astype(np.float32), (y.astype(np.int64) if with_labels else None)

    x, y = _load_images("mnist" if name == "binarized_mnist" else name, split,
                        data_dir, download)
    if num is not None:
        if num > len(x):
            raise ValueError(f"`num`={num} but {name!r} {split} has only {len(x)} examples.")
        x, y = x[:num], y[:num]
    if x.ndim == 3:
        x = x[..., None]  # MNIST-like files store (N, H, W)
    if name == "binarized_mnist":
        # Drawn after slicing: the generator fills in C order, so the first `num`
        # examples are the same whatever `num` is.
        noise = np.random.default_rng(seed).random(x.shape, dtype=np.float32)
        x = (noise < x / np.float32(255)).astype(np.uint8)
    return x, y.astype(np.int64).reshape(-1)


def load_pairs(name, split="train", *, num=None, seed=None, data_dir=None, download=None):
    """Load a paired dataset (`PAIRED_DATASETS`) for diffusion bridges as `(sources,
    targets)` NumPy arrays of the same shape: uint8 images (`cifar10_edges`, whose
    sources are `edge_map(targets)`, computed on load) or float32 points
    (`moons_rotated`; `num` and `seed` as for `load`'s toy sets). Errors as `load`'s."""
    if name not in PAIRED_DATASETS:
        raise ValueError(f"Unknown paired dataset {name!r}.{did_you_mean(name, sorted(PAIRED_DATASETS))} "
                         f"Known paired datasets: {sorted(PAIRED_DATASETS)}")
    if name == "cifar10_edges":
        images, _ = load("cifar10", split, num=num, data_dir=data_dir, download=download)
        return edge_map(images), images
    points, _ = load("moons", split, num=num, seed=seed)
    rng = np.random.default_rng((SPLITS.index(split) if seed is None else seed) + 1_000)
    side = np.where(rng.random(len(points)) < 0.5, -2.0, 2.0)
    rotated = np.stack([-points[:, 1] + side, points[:, 0]], axis=1)
    return points, (rotated + 0.1 * rng.standard_normal(points.shape)).astype(np.float32)


def edge_map(images, threshold=EDGE_THRESHOLD):
    """uint8 `(N, H, W, C)` images -> uint8 edge maps of the same shape: 0 (black) where
    the Sobel gradient magnitude of the luminance (0.299 R + 0.587 G + 0.114 B in [0, 1],
    borders replicated) exceeds `threshold`, 255 elsewhere, in every channel."""
    images = _check_uint8(images, "edge_map")
    if images.ndim != 4:
        raise ValueError(f"`edge_map` takes (N, H, W, C) images; received shape {images.shape}.")
    pixels = images.astype(np.float32) / np.float32(255)
    luma = pixels[..., 0] if images.shape[-1] == 1 else pixels[..., :3] @ np.float32([0.299, 0.587, 0.114])
    p = np.pad(luma, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (p[:, :-2, 2:] + 2 * p[:, 1:-1, 2:] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, 1:-1, :-2] + p[:, 2:, :-2])
    gy = (p[:, 2:, :-2] + 2 * p[:, 2:, 1:-1] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, :-2, 1:-1] + p[:, :-2, 2:])
    edges = np.where(np.hypot(gx, gy) > threshold, 0, 255).astype(np.uint8)
    return np.repeat(edges[..., None], images.shape[-1], axis=-1)


def to_model_space(x):
    """Map uint8 pixels 0..255 to float32 in [-1, 1] as `x / 127.5 - 1`."""
    x = _check_uint8(x, "to_model_space")
    return x.astype(np.float32) / np.float32(127.5) - np.float32(1)


def from_model_space(x):
    """Map [-1, 1] back to uint8 0..255, rounding and clipping; inverts `to_model_space`."""
    x = np.asarray(x, dtype=np.float32)
    return np.clip(np.round((x + 1) * 127.5), 0, 255).astype(np.uint8)


def dequantize(x, seed=None):
    """Uniform dequantization (Theis et al., 2016, arXiv:1511.01844): `(x + u) / 256`
    with `u ~ U[0, 1)`, float32 in [0, 1), and `floor(result * 256) == x` exactly."""
    x = _check_uint8(x, "dequantize")
    noise = np.random.default_rng(seed).random(x.shape, dtype=np.float32)
    out = (x.astype(np.float32) + noise) / np.float32(256)
    # float32 rounding can turn x + u (u just below 1) into x + 1; stay one ulp under.
    upper = np.nextafter((x + np.float32(1)) / np.float32(256), np.float32(0))
    return np.minimum(out, upper)


def mixup(data, labels, alpha, rng):
    """mixup (Zhang et al. 2018, arXiv:1710.09412): one `lam ~ Beta(alpha, alpha)` per
    batch, folded to `max(lam, 1 - lam)` so that each row keeps its own example as the
    larger part (the same mixtures; `alpha -> 0` is the identity), and a random partner
    per row: `lam * x + (1 - lam) * x[perm]`, the same for the `(N, classes)` float
    `labels` (one-hot or already soft). Returns `(data, labels, lam, perm)`."""
    if not alpha > 0:
        raise ValueError(f"mixup's `alpha` must be positive; received {alpha}.")
    lam = rng.beta(alpha, alpha)
    lam = np.float32(max(lam, 1.0 - lam))
    perm = rng.permutation(len(data))
    mixed = lam * data + (np.float32(1) - lam) * data[perm]
    soft = lam * labels + (np.float32(1) - lam) * labels[perm]
    return mixed.astype(np.float32), soft.astype(np.float32), float(lam), perm


def _check_uint8(x, fn):
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(
            f"`{fn}` expects uint8 pixels 0..255. Received dtype {x.dtype}. Convert "
            "with `x.astype('uint8')` if x holds integers 0..255; floats in [-1, 1] "
            "are already in model space (`from_model_space` maps them back)."
        )
    return x


# --- toy 2-D sets: FFJORD's toy_data.py (Grathwohl et al., 2019, arXiv:1810.01367)
# Each returns `(points, labels or None)`; the labels come from draws the points make
# anyway, so the points do not depend on whether labels are asked for.


def _moons(rng, num):
    t = rng.uniform(0, np.pi, num)
    upper = rng.random(num) < 0.5
    x = np.where(upper[:, None], np.stack([np.cos(t), np.sin(t)], 1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    x = x + 0.1 * rng.standard_normal((num, 2))
    return x * 2 + np.array([-1.0, -0.2]), (~upper).astype(np.int64)  # FFJORD's centring of sklearn's moons


def _eight_gaussians(rng, num):
    modes = rng.integers(0, 8, num)
    angles = modes * (np.pi / 4)
    centers = 4 * np.stack([np.cos(angles), np.sin(angles)], 1)
    return (centers + 0.5 * rng.standard_normal((num, 2))) / 1.414, modes


def _checkerboard(rng, num):
    x1 = rng.random(num) * 4 - 2
    x2 = rng.random(num) - rng.integers(0, 2, num) * 2 + np.floor(x1) % 2
    return np.stack([x1, x2], 1) * 2, None


def _swiss_roll(rng, num):
    t = 1.5 * np.pi * (1 + 2 * rng.random(num))  # sklearn's make_swiss_roll, noise=1
    return (np.stack([t * np.cos(t), t * np.sin(t)], 1) + rng.standard_normal((num, 2))) / 5, None


def _gaussian_grid(rng, num):
    # The mode-collapse benchmark of VEEGAN / PacGAN: 25 Gaussians (std 0.05) on a 5x5
    # grid of spacing 2 from -4 to 4, equally likely.
    modes = rng.integers(0, 25, num)
    centers = np.stack([2.0 * (modes % 5) - 4.0, 2.0 * (modes // 5) - 4.0], 1)
    return centers + 0.05 * rng.standard_normal((num, 2)), modes


_TOYS = {"gaussian_grid": _gaussian_grid, "moons": _moons, "eight_gaussians": _eight_gaussians,
         "checkerboard": _checkerboard, "swiss_roll": _swiss_roll}


# --- image files


def _load_images(file, split, data_dir, download):
    dirs = [("data_dir argument", data_dir), ("$ZOO_DATA_DIR", os.environ.get("ZOO_DATA_DIR")),
            ("shared data beside the repository", SHARED_DATA_DIR)]
    looked = []
    for where, directory in dirs:
        if directory:
            path = Path(directory).expanduser() / f"{file}.npz"
            looked.append(f"{path} ({where})")
            if path.is_file():
                return _read_npz_split(path, split)
        else:
            looked.append(f"{where}: not set")
    if file == "fashion_mnist":
        paths = {key: DEBIAN_FASHION_MNIST_DIR / f for f, key in _IDX_FILES.items()}
        looked.append(f"{DEBIAN_FASHION_MNIST_DIR}/*-idx?-ubyte.gz (Debian dataset-fashion-mnist)")
        if all(p.is_file() for p in paths.values()):
            return _read(paths[f"x_{split}"]), _read(paths[f"y_{split}"])
    cache_dir = os.environ.get("ZOO_CACHE_DIR") or Path.home() / ".cache" / "zoo" / "datasets"
    cached = Path(cache_dir) / f"{file}.npz"
    looked.append(f"{cached} (download cache, $ZOO_CACHE_DIR)")
    if cached.is_file():
        return _read_npz_split(cached, split)

    if download is None:
        download = os.environ.get("ZOO_NO_DOWNLOAD", "") in ("", "0")
        reason = "not attempted: ZOO_NO_DOWNLOAD is set; pass download=True to override"
    else:
        reason = "not attempted: download=False"
    cause = None
    if download:
        try:
            return _read_npz_split(_download(file, cached), split)
        except (OSError, ValueError, tarfile.TarError, pickle.UnpicklingError) as err:
            cause, reason = err, f"failed: {err}"
    fixes = [f"set ZOO_DATA_DIR (or pass data_dir=) to a directory holding {file}.npz "
             "(uint8 arrays x_train, y_train, x_test, y_test)",
             f"put {file}.npz in {SHARED_DATA_DIR}"]
    if file == "fashion_mnist":
        fixes.append("apt-get install dataset-fashion-mnist (Debian/Ubuntu)")
    if not download:
        fixes.append("allow the download: load(..., download=True), or unset ZOO_NO_DOWNLOAD")
    raise DatasetNotFoundError(
        f"Dataset {file!r} not found. Looked in:\n  - " + "\n  - ".join(looked)
        + f"\nDownload {reason}.\nTo get it:\n  - " + "\n  - ".join(fixes)
    ) from cause


def _read_npz_split(path, split):
    x, y = _read(path, f"x_{split}"), _read(path, f"y_{split}")
    if x.dtype != np.uint8 or len(x) != len(y):
        raise ValueError(f"{path}: x_{split} must be uint8 with one label per image. "
                         f"Got x {x.dtype} {x.shape}, y {y.shape}.")
    return x, y


def _read(path, key=None):
    """Read one array (an npz key, or a whole idx file when `key` is None), cached."""
    stat = os.stat(path)  # in the cache key, so a replaced file is read again
    return _read_cached(str(path), key, stat.st_mtime_ns, stat.st_size)


# np.load reads an npz key only when asked, so loading the test split never inflates
# CIFAR's 150 MB x_train; the cache spares re-inflating it on every load().
@functools.lru_cache(maxsize=16)
def _read_cached(path, key, mtime_ns, size):
    if key is None:
        array = _read_idx(path)
    else:
        with np.load(path, allow_pickle=False) as npz:
            array = npz[key]
    array.flags.writeable = False  # shared by every caller
    return array


_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_idx(path):
    """Parse an IDX file (LeCun's MNIST format), gzipped or not."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic {data[:4]!r}).")
    ndim = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: header says shape {shape}, body has {len(body)} bytes.")
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """The CIFAR-10 batches are pickles; allow only what rebuilds an ndarray."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"CIFAR-10 batch refers to {module}.{name}; refusing.")
        return super().find_class(module, name)


def _cifar10_from_tar(path):
    """Convert the official `cifar-10-python.tar.gz` to the npz layout."""
    batches = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            base = os.path.basename(member.name)
            if member.isfile() and (base.startswith("data_batch_") or base == "test_batch"):
                # encoding="bytes": the batches were pickled by Python 2.
                batch = _NumpyOnlyUnpickler(tar.extractfile(member), encoding="bytes").load()
                images = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)
                labels = np.asarray(batch[b"labels"], np.uint8)
                batches[base] = images.transpose(0, 2, 3, 1), labels  # rows are R, G, B planes
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    return {"x_train": np.concatenate([x for x, _ in train]),
            "y_train": np.concatenate([y for _, y in train]),
            "x_test": batches["test_batch"][0], "y_test": batches["test_batch"][1]}


def _fetch(url, path, digest):
    """Download `url` to `path` and check its md5 (32 hex digits) or sha256 (64)."""
    hasher = hashlib.new("md5" if len(digest) == 32 else "sha256")
    with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as f:
        while chunk := response.read(1 << 20):
            hasher.update(chunk)
            f.write(chunk)
    if hasher.hexdigest() != digest:
        raise OSError(f"Checksum mismatch for {url}: got {hasher.hexdigest()}, want {digest}.")


def _download(file, target):
    """Fetch and convert one image set into `target`, an npz in the download cache."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        paths = []
        for url, digest in _DOWNLOADS[file]:
            paths.append(Path(tmp) / url.rsplit("/", 1)[1])
            _fetch(url, paths[-1], digest)
        if file == "cifar10":
            arrays = _cifar10_from_tar(paths[0])
        elif file == "mnist":
            with np.load(paths[0], allow_pickle=False) as npz:
                arrays = dict(npz)
        else:
            arrays = {_IDX_FILES[p.name]: _read_idx(p) for p in paths}
        # Written beside the target then renamed, so a crash never leaves half a file.
        # Uncompressed: CIFAR barely compresses (184 -> 170 MB) and zlib dominates loading.
        part = Path(tmp) / target.name
        np.savez(part, **arrays)
        os.replace(part, target)
    return target
