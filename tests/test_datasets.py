"""Tests for zoo.datasets. Nothing here touches the network: `_fetch` is replaced."""

import ast
import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from zoo import datasets

_REAL_FETCH = datasets._fetch
SHARED = datasets.SHARED_DATA_DIR
DEBIAN_FILES = [datasets.DEBIAN_FASHION_MNIST_DIR / name for name in datasets._IDX_FILES]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Never download, start from an empty cache, ignore the caller's ZOO_DATA_DIR."""
    monkeypatch.setenv("ZOO_NO_DOWNLOAD", "1")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)

    def no_network(url, path, digest):
        raise AssertionError(f"tests must not download ({url})")

    monkeypatch.setattr(datasets, "_fetch", no_network)


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """Hide the shared data and the Debian package, so only the test's files exist."""
    monkeypatch.setattr(datasets, "SHARED_DATA_DIR", tmp_path / "no-shared")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")


def needs(path, how):
    return pytest.mark.skipif(not Path(path).is_file(), reason=f"{path} absent ({how})")


def write_npz(path, n=3, labels_shape=None, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in ("train", "test"):
        arrays[f"x_{split}"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        arrays[f"y_{split}"] = y.reshape(labels_shape or (n,))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object, so numpy keeps the exact name
        np.savez(f, **arrays)
    return arrays


def idx_bytes(array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def cifar_tar(path, per_batch=2, extra_pickle=None):
    """A miniature cifar-10-python.tar.gz: 5 train batches and a test batch."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6 * per_batch, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 6 * per_batch)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    with tarfile.open(path, "w:gz") as tar:
        for i, name in enumerate(names):
            part = slice(i * per_batch, (i + 1) * per_batch)
            # The official layout: rows of 3072 = red plane, green plane, blue plane.
            batch = {b"batch_label": name.encode(), b"labels": labels[part].tolist(),
                     b"data": images[part].transpose(0, 3, 1, 2).reshape(per_batch, -1)}
            if extra_pickle is not None:
                batch[b"extra"] = extra_pickle
            blob = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        readme = tarfile.TarInfo("cifar-10-batches-py/readme.html")
        tar.addfile(readme, io.BytesIO(b""))
    split = 5 * per_batch
    return images[:split], labels[:split], images[split:], labels[split:]


# --- module hygiene and argument checks


def test_module_imports_only_numpy_and_stdlib():
    tree = ast.parse(Path(datasets.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert not imported & {"keras", "jax", "torch", "tensorflow"}, imported


def test_list_datasets():
    assert datasets.list_datasets() == sorted([
        "cifar10", "mnist", "fashion_mnist", "binarized_mnist",
        "moons", "eight_gaussians", "checkerboard", "swiss_roll", "gaussian_grid"])


@pytest.mark.parametrize("name, suggestion", [
    ("cifar", "cifar10"), ("fashion-mnist", "fashion_mnist"), ("8gaussians", "eight_gaussians"),
])
def test_unknown_name_suggests_and_lists(name, suggestion):
    with pytest.raises(ValueError, match="Unknown dataset") as info:
        datasets.load(name)
    assert f"Did you mean {suggestion!r}" in str(info.value)
    assert "swiss_roll" in str(info.value) and "mnist" in str(info.value)


def test_bad_split_and_num():
    with pytest.raises(ValueError, match="`split`.*'val'"):
        datasets.load("moons", "val")
    for num in (-1, 2.5, True):
        with pytest.raises(ValueError, match="`num`"):
            datasets.load("moons", num=num)


# --- real image sets


@needs(SHARED / "cifar10.npz", "shared data")
def test_cifar10_test_split():
    x, y = datasets.load("cifar10", "test")
    assert x.shape == (10000, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.int64
    assert y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert np.bincount(y).tolist() == [1000] * 10
    # Red channel of the first row of test image 0, as printed from the official pickles.
    assert x[0, 0, :9, 0].tolist() == [158, 159, 165, 166, 160, 156, 162, 159, 158]


@needs(SHARED / "mnist.npz", "shared data")
def test_mnist_splits():
    x, y = datasets.load("mnist", "test")
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    x, y = datasets.load("mnist", num=10)
    assert x.shape == (10, 28, 28, 1)
    assert y.tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    with pytest.raises(ValueError, match="only 10000"):
        datasets.load("mnist", "test", num=10001)


@needs(DEBIAN_FILES[2], "apt-get install dataset-fashion-mnist")
def test_fashion_mnist_from_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "SHARED_DATA_DIR", tmp_path)  # no npz may shadow Debian
    x, y = datasets.load("fashion_mnist", "test")
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    assert y[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]  # ankle boot, pullover, ...
    assert np.bincount(y).tolist() == [1000] * 10


@needs(SHARED / "mnist.npz", "shared data")
def test_binarized_mnist_is_reproducible_bernoulli():
    x, y = datasets.load("binarized_mnist", "test")
    pixels, labels = datasets.load("mnist", "test")
    assert x.shape == pixels.shape and x.dtype == np.uint8
    assert set(np.unique(x).tolist()) == {0, 1}
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(x, datasets.load("binarized_mnist", "test")[0])
    assert not x[pixels == 0].any() and x[pixels == 255].all()
    assert abs(x.mean() - pixels.mean() / 255) < 2e-3  # E[x] = pixel / 255
    # The first `num` examples do not depend on `num`; an explicit seed redraws.
    np.testing.assert_array_equal(datasets.load("binarized_mnist", "test", num=50)[0], x[:50])
    assert (datasets.load("binarized_mnist", "test", num=50, seed=7)[0] != x[:50]).any()
    train, _ = datasets.load("binarized_mnist", "train", num=50, seed=1)
    assert (train != datasets.load("binarized_mnist", "train", num=50)[0]).any()


# --- where files are found


def test_data_dir_argument_beats_env_beats_shared(monkeypatch, tmp_path):
    env = write_npz(tmp_path / "env" / "mnist.npz", n=3, seed=1)
    arg = write_npz(tmp_path / "arg" / "mnist.npz", n=4, labels_shape=(4, 1), seed=2)
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "env"))
    x, y = datasets.load("mnist", "test")
    np.testing.assert_array_equal(x[..., 0], env["x_test"])
    x, y = datasets.load("mnist", "test", data_dir=tmp_path / "arg")
    np.testing.assert_array_equal(x[..., 0], arg["x_test"])
    assert y.shape == (4,)  # keras-style (N, 1) labels are flattened
    # A directory without the file falls through to the next place.
    x, _ = datasets.load("mnist", "test", data_dir=tmp_path)
    assert len(x) == 3


def test_arrays_are_cached_read_only_and_reread_when_replaced(tmp_path):
    write_npz(tmp_path / "mnist.npz", n=3, seed=1)
    x1, _ = datasets.load("mnist", "train", data_dir=tmp_path)
    x2, _ = datasets.load("mnist", "train", data_dir=tmp_path)
    assert np.shares_memory(x1, x2)
    with pytest.raises(ValueError, match="read-only"):
        x1[0] = 0
    write_npz(tmp_path / "mnist.npz", n=5, seed=2)
    assert len(datasets.load("mnist", "train", data_dir=tmp_path)[0]) == 5


def test_loading_one_split_does_not_read_the_other(tmp_path):
    arrays = write_npz(tmp_path / "mnist.npz")
    # An object array cannot be read with allow_pickle=False: touching x_train fails.
    arrays["x_train"] = np.array([None, 1], dtype=object)
    with open(tmp_path / "mnist.npz", "wb") as f:
        np.savez(f, **arrays)
    assert len(datasets.load("mnist", "test", data_dir=tmp_path)[0]) == 3
    with pytest.raises(ValueError):
        datasets.load("mnist", "train", data_dir=tmp_path)


def test_missing_dataset_says_where_it_looked_and_what_to_do(nowhere, tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.load("fashion_mnist", data_dir=tmp_path / "mine")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for expected in [tmp_path / "mine" / "fashion_mnist.npz", "$ZOO_DATA_DIR: not set",
                     tmp_path / "no-shared" / "fashion_mnist.npz", tmp_path / "no-debian",
                     tmp_path / "cache" / "fashion_mnist.npz", "ZOO_NO_DOWNLOAD is set",
                     "set ZOO_DATA_DIR", "apt-get install dataset-fashion-mnist",
                     "download=True"]:
        assert str(expected) in message, (expected, message)
    with pytest.raises(datasets.DatasetNotFoundError, match=r"download=False") as info:
        datasets.load("cifar10", download=False)
    assert "apt-get" not in str(info.value)


# --- downloads (faked) and conversions


def serve(monkeypatch, files):
    """Replace `_fetch` by one that writes `files[basename]` bytes; return the urls asked."""
    urls = []

    def fetch(url, path, digest):
        urls.append(url)
        Path(path).write_bytes(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(datasets, "_fetch", fetch)
    return urls


def test_mnist_download_then_cache(nowhere, monkeypatch, tmp_path):
    arrays = write_npz(tmp_path / "served" / "mnist.npz", n=6)
    urls = serve(monkeypatch, {"mnist.npz": (tmp_path / "served" / "mnist.npz").read_bytes()})
    x, y = datasets.load("binarized_mnist", "train", download=True)
    assert urls == [datasets._DOWNLOADS["mnist"][0][0]] and x.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(y, arrays["y_train"])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["mnist.npz"]
    # Now cached: no second download, even with downloads allowed by default.
    monkeypatch.delenv("ZOO_NO_DOWNLOAD")
    x, _ = datasets.load("mnist", "test")
    assert len(urls) == 1
    np.testing.assert_array_equal(x[..., 0], arrays["x_test"])


def test_download_defaults_follow_zoo_no_download(nowhere, monkeypatch, tmp_path):
    write_npz(tmp_path / "served.npz")
    urls = serve(monkeypatch, {"mnist.npz": (tmp_path / "served.npz").read_bytes()})
    with pytest.raises(datasets.DatasetNotFoundError):
        datasets.load("mnist")  # ZOO_NO_DOWNLOAD=1 from the fixture
    assert urls == []
    monkeypatch.setenv("ZOO_NO_DOWNLOAD", "0")
    assert len(datasets.load("mnist")[0]) == 3 and len(urls) == 1


def test_failed_download_leaves_nothing_behind(nowhere, monkeypatch, tmp_path):
    def broken(url, path, digest):
        Path(path).write_bytes(b"half a file")
        raise OSError("connection reset")

    monkeypatch.setattr(datasets, "_fetch", broken)
    with pytest.raises(datasets.DatasetNotFoundError, match="Download failed: connection reset") as info:
        datasets.load("cifar10", download=True)
    assert isinstance(info.value.__cause__, OSError)
    assert "download=True" not in str(info.value)  # it was tried; no advice to try it
    assert list((tmp_path / "cache").iterdir()) == []


def test_fashion_mnist_download_converts_idx(nowhere, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 5).astype(np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 2).astype(np.uint8)}
    files = {name: gzip.compress(idx_bytes(arrays[key]))
             for name, key in datasets._IDX_FILES.items()}
    urls = serve(monkeypatch, files)
    x, y = datasets.load("fashion_mnist", "train", download=True)
    assert len(urls) == 4 and all(u.startswith("https://") for u in urls)
    np.testing.assert_array_equal(x[..., 0], arrays["x_train"])
    np.testing.assert_array_equal(y, arrays["y_train"])


def test_cifar10_download_converts_tar(nowhere, monkeypatch, tmp_path):
    x_train, y_train, x_test, y_test = cifar_tar(tmp_path / "c.tar.gz")
    serve(monkeypatch, {"cifar-10-python.tar.gz": (tmp_path / "c.tar.gz").read_bytes()})
    x, y = datasets.load("cifar10", "train", download=True)
    assert x.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(x, x_train)
    np.testing.assert_array_equal(y, y_train)
    x, y = datasets.load("cifar10", "test")
    np.testing.assert_array_equal(x, x_test)
    np.testing.assert_array_equal(y, y_test)


def test_cifar10_conversion_refuses_foreign_pickles(tmp_path):
    cifar_tar(tmp_path / "evil.tar.gz", extra_pickle=print)  # pickles builtins.print
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        datasets._cifar10_from_tar(tmp_path / "evil.tar.gz")
    # The official batches were pickled by numpy 1 (numpy.core); numpy 2 says numpy._core.
    unpickler = datasets._NumpyOnlyUnpickler(io.BytesIO(b""))
    assert callable(unpickler.find_class("numpy.core.multiarray", "_reconstruct"))
    with pytest.raises(pickle.UnpicklingError):
        unpickler.find_class("os", "system")


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    ints = np.array([-5, 7, 1 << 20], dtype=np.int32)
    for name, array, code in [("images", images, 0x08), ("ints", ints.astype(">i4"), 0x0C)]:
        data = idx_bytes(array, code)
        (tmp_path / name).write_bytes(gzip.compress(data) if compress else data)
    np.testing.assert_array_equal(datasets._read_idx(tmp_path / "images"), images)
    read = datasets._read_idx(tmp_path / "ints")
    np.testing.assert_array_equal(read, ints)
    assert read.dtype.isnative


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "magic").write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets._read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((2, 3), np.uint8))[:-1])
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        datasets._read_idx(tmp_path / "short")


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_fetch_checks_the_digest(monkeypatch, tmp_path, algorithm):
    payload = b"dataset bytes" * 1000
    monkeypatch.setattr(datasets.urllib.request, "urlopen",
                        lambda url, timeout: io.BytesIO(payload))
    digest = hashlib.new(algorithm, payload).hexdigest()
    _REAL_FETCH("https://example.invalid/f", tmp_path / "f", digest)
    assert (tmp_path / "f").read_bytes() == payload
    with pytest.raises(OSError, match="Checksum mismatch"):
        _REAL_FETCH("https://example.invalid/f", tmp_path / "g", "0" * len(digest))


# --- toy sets


@pytest.mark.parametrize("name", datasets.TOY_DATASETS)
def test_toy_sets(name):
    x, y = datasets.load(name)
    assert x.shape == (10_000, 2) and x.dtype == np.float32 and y is None
    assert np.isfinite(x).all() and np.abs(x).max() < 6
    assert 0.5 < x.std() < 3 and np.abs(x.mean(0)).max() < 1.5
    np.testing.assert_array_equal(x, datasets.load(name, "train")[0])
    test, _ = datasets.load(name, "test")
    assert test.shape == (2_000, 2) and not np.array_equal(test, x[:2_000])
    other, _ = datasets.load(name, num=100, seed=5)
    assert other.shape == (100, 2)
    np.testing.assert_array_equal(other, datasets.load(name, num=100, seed=5)[0])
    assert not np.array_equal(other, datasets.load(name, num=100, seed=6)[0])


def test_toy_set_shapes_are_the_familiar_ones():
    x, _ = datasets.load("eight_gaussians")
    angles = np.round(np.arctan2(x[:, 1], x[:, 0]) / (np.pi / 4)) % 8
    assert np.bincount(angles.astype(int)).min() > 1_000  # eight modes, all used
    np.testing.assert_allclose(np.median(np.hypot(*x.T)), 4 / 1.414, rtol=0.05)
    x, _ = datasets.load("checkerboard")
    cells = (np.floor(x[:, 0] / 2) + np.floor(x[:, 1] / 2)) % 2
    assert np.all(cells == 0)  # only every other square of the 4x4 board
    assert np.abs(x).max() <= 4


def test_toy_labels_name_the_mode_and_leave_the_points_alone():
    x, y = datasets.load("eight_gaussians", with_labels=True)
    np.testing.assert_array_equal(x, datasets.load("eight_gaussians")[0])
    assert y.dtype == np.int64 and y.shape == (10_000,) and len(datasets.class_names("eight_gaussians")) == 8
    nearest_angle = np.round(np.arctan2(x[:, 1], x[:, 0]) / (np.pi / 4)) % 8
    assert np.mean(nearest_angle == y) > 0.95  # mode k sits at angle k pi / 4
    x, y = datasets.load("moons", "test", with_labels=True)
    np.testing.assert_array_equal(x, datasets.load("moons", "test")[0])
    assert set(np.unique(y)) == {0, 1} and datasets.class_names("moons") == ("upper", "lower")
    assert x[y == 0, 1].mean() > x[y == 1, 1].mean()  # 0 is the upper moon
    for name in ("checkerboard", "swiss_roll"):
        with pytest.raises(ValueError, match="no classes"):
            datasets.load(name, with_labels=True)


# --- pixel transforms


def test_model_space_round_trip_is_exact():
    pixels = np.arange(256, dtype=np.uint8)
    x = datasets.to_model_space(pixels)
    assert x.dtype == np.float32 and x[0] == -1 and x[-1] == 1
    np.testing.assert_array_equal(datasets.from_model_space(x), pixels)
    clipped = datasets.from_model_space(np.array([-3.0, 1.5, 0.0039, np.float32(x[128])]))
    assert clipped.dtype == np.uint8 and clipped.tolist() == [0, 255, 128, 128]


def test_to_model_space_rejects_floats():
    with pytest.raises(ValueError, match=r"dtype float64.*astype\('uint8'\)"):
        datasets.to_model_space(np.zeros(3))
    with pytest.raises(ValueError, match="dequantize"):
        datasets.dequantize(np.zeros(3, np.float32))


def test_dequantize_stays_in_its_bin():
    pixels = np.tile(np.arange(256, dtype=np.uint8), 4_000)
    y = datasets.dequantize(pixels, seed=0)
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() < 1
    np.testing.assert_array_equal(np.floor(y * 256), pixels)
    assert 0.4 < (y * 256 - pixels).mean() < 0.6
    np.testing.assert_array_equal(y, datasets.dequantize(pixels, seed=0))
    assert not np.array_equal(y, datasets.dequantize(pixels, seed=1))


def test_dequantize_worst_case_noise(monkeypatch):
    class AlmostOne:  # u = largest float32 below 1, where x + u rounds up to x + 1
        def random(self, shape, dtype):
            return np.full(shape, np.nextafter(np.float32(1), np.float32(0)), dtype)

    monkeypatch.setattr(datasets.np.random, "default_rng", lambda seed: AlmostOne())
    pixels = np.arange(256, dtype=np.uint8)
    y = datasets.dequantize(pixels)
    assert y.max() < 1
    np.testing.assert_array_equal(np.floor(y * 256), pixels)

