"""Image file readers: official layouts (synthetic files in tmp_path), shared subsets, every error."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from tfnas.images import FORMATS, ImageFileError, read_image_file
from tfnas.safe_pickle import UnsafePickleError


def write_batch(path: Path, data: np.ndarray, labels, label_key: str, *, bytes_keys: bool = True, protocol: int = 2, **extra) -> Path:
    """Write a batch file the way the official datasets are laid out."""
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    content = {key("data"): data, key(label_key): list(labels)}
    content.update({key(k): v for k, v in extra.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    return path


def planar(n: int, resolution: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3 * resolution * resolution), dtype=np.uint8)


@pytest.mark.parametrize(
    "relpath, fmt, count, classes",
    [
        ("cifar-10-batches-py/test_batch", "cifar10", 206, 10),
        ("cifar-100-python/test", "cifar100", 262, 100),
        ("ImageNet16/val_data", "imagenet16", 279, 120),
        ("cifar-10-jpeg/test_batch", "cifar10", 10_000, 10),
    ],
)
def test_shared_files_decode(data_root: Path, relpath: str, fmt: str, count: int, classes: int) -> None:
    path = data_root / "images" / relpath
    arrays = read_image_file(path, fmt)
    res = FORMATS[fmt].resolution
    assert arrays.images.shape == (count, 3, res, res) and arrays.images.dtype == np.uint8
    assert arrays.labels.shape == (count,) and arrays.labels.dtype == np.int64
    assert 0 <= arrays.labels.min() and arrays.labels.max() < classes
    raw = pickle.loads(path.read_bytes(), encoding="bytes")  # trusted shared data: reference decode
    raw = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    np.testing.assert_array_equal(arrays.images.reshape(count, -1), raw["data"])
    offset = 1 if fmt == "imagenet16" else 0
    np.testing.assert_array_equal(arrays.labels, np.asarray(raw[FORMATS[fmt].label_key]) - offset)
    assert not arrays.images.flags.writeable and not arrays.labels.flags.writeable


def test_planar_rgb_layout(tmp_path: Path) -> None:
    # channel c of pixel (y, x) stored at c*R*R + y*R + x
    data = np.zeros((2, 3 * 32 * 32), dtype=np.uint8)
    for c in range(3):
        data[:, c * 1024 : (c + 1) * 1024] = 10 * (c + 1)
    data[1, 5 * 32 + 7] = 200
    arrays = read_image_file(write_batch(tmp_path / "b", data, [0, 1], "labels"), "cifar10")
    assert (arrays.images[0, 0] == 10).all() and (arrays.images[0, 2] == 30).all()
    assert arrays.images[1, 0, 5, 7] == 200


def test_imagenet16_keeps_120_classes_and_relabels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = [1, 120, 121, 1000, 60, 500, 2]
    data = planar(len(labels), 16, rng)
    path = write_batch(tmp_path / "val_data", data, labels, "labels", bytes_keys=False, protocol=4)
    arrays = read_image_file(path, "imagenet16")
    keep = [i for i, label in enumerate(labels) if label <= 120]
    np.testing.assert_array_equal(arrays.labels, [labels[i] - 1 for i in keep])
    np.testing.assert_array_equal(arrays.images.reshape(len(keep), -1), data[keep])
    assert arrays.max_file_label == 1000


def test_cifar100_fine_labels_without_coarse(tmp_path: Path) -> None:
    data = planar(3, 32, np.random.default_rng(2))
    path = write_batch(tmp_path / "test", data, [0, 99, 5], "fine_labels", coarse_labels=[0, 19, 1])
    np.testing.assert_array_equal(read_image_file(path, "cifar100").labels, [0, 99, 5])


def test_cache_reuses_and_notices_changes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    path = write_batch(tmp_path / "b", planar(4, 32, rng), [0, 1, 2, 3], "labels")
    first = read_image_file(path, "cifar10")
    assert read_image_file(path, "cifar10") is first
    write_batch(path, planar(5, 32, rng), [0, 1, 2, 3, 4], "labels")
    later = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))
    second = read_image_file(path, "cifar10")
    assert len(second.labels) == 5 and second.sha256 != first.sha256


def test_sha256_is_of_the_file_bytes(data_root: Path) -> None:
    import hashlib

    path = data_root / "images" / "cifar-100-python" / "test"
    assert read_image_file(path, "cifar100").sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_truncated_file(tmp_path: Path, data_root: Path) -> None:
    raw = (data_root / "images" / "cifar-10-batches-py" / "test_batch").read_bytes()
    path = tmp_path / "test_batch"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageFileError, match=r"test_batch: truncated or corrupt"):
        read_image_file(path, "cifar10")


@pytest.mark.parametrize(
    "data, labels, key, match",
    [
        (np.zeros((2, 3072), np.float32), [0, 1], "labels", r"uint8 array of shape \(N, 3072\).*float32"),
        (np.zeros((2, 768), np.uint8), [0, 1], "labels", r"shape \(N, 3072\).*\(2, 768\)"),
        (np.zeros((2, 3, 32, 32), np.uint8), [0, 1], "labels", r"shape \(N, 3072\)"),
        ([[0] * 3072], [0], "labels", r"uint8 array.*got list"),
        (np.zeros((2, 3072), np.uint8), [0], "labels", r"2 images but 'labels' has shape \(1,\)"),
        (np.zeros((2, 3072), np.uint8), [0, 10], "labels", r"labels must lie in 0..9"),
        (np.zeros((2, 3072), np.uint8), [0, 1], "fine_labels", r"no 'labels' entry"),
        (np.zeros((2, 3072), np.uint8), ["a", "b"], "labels", r"'labels' must be a list of integers"),
    ],
)
def test_malformed_content(tmp_path: Path, data, labels, key: str, match: str) -> None:
    path = write_batch(tmp_path / "bad", data, labels, key)
    with pytest.raises(ImageFileError, match=match):
        read_image_file(path, "cifar10")


def test_not_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "list"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ImageFileError, match="expected a pickled dict, got list"):
        read_image_file(path, "cifar10")


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope does not exist"):
        read_image_file(tmp_path / "nope", "cifar10")
    with pytest.raises(ValueError, match="unknown image file format 'svhn'; expected one of cifar10"):
        read_image_file(tmp_path / "nope", "svhn")


def test_malicious_file_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(UnsafePickleError, match="refused global"):
        read_image_file(path, "cifar10")
    assert not marker.exists()


# -- issue 12: every failure is a one-line TfnasError -----------------------------------------

from tfnas.config import DataNotFoundError  # noqa: E402
from tfnas.errors import TfnasError  # noqa: E402


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) <= 500, text
    return text


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0, 2**70], r"fit in 64 bits"),  # numpy's cast raised OverflowError
        ([0, 10**5000], r"fit in 64 bits"),  # and this one is 5,000 digits long
        ([0.5, 1.7], r"must be a list of integers, got an item 0\.5"),  # the cast truncated to 0, 1
        ([True, False], r"must be a list of integers, got an item True"),
        ([[0], [1]], r"must be a list of integers, got an item \[0\]"),
        ({0: 1, 1: 2}, r"must be a list of integers, got dict"),
        (np.zeros(2, np.float64), r"must be a list of integers, got a float64 array"),
    ],
    ids=["overflow", "5000-digits", "floats", "bools", "nested", "dict", "float-array"],
)
def test_labels_must_be_integers(tmp_path: Path, labels, match: str) -> None:
    path = tmp_path / "b"
    content = {b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}
    path.write_bytes(pickle.dumps(content, protocol=4))
    with pytest.raises(ImageFileError, match=match) as info:
        read_image_file(path, "cifar10")
    _one_line(info.value)


def test_integer_label_array_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "b"
    content = {b"data": np.zeros((3, 3072), np.uint8), b"labels": np.array([3, 0, 9], np.uint16)}
    path.write_bytes(pickle.dumps(content, protocol=4))
    np.testing.assert_array_equal(read_image_file(path, "cifar10").labels, [3, 0, 9])


def test_directory_and_unknown_format_are_tfnas_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="is a directory, not a file"):
        read_image_file(tmp_path, "cifar10")
    with pytest.raises(ImageFileError, match="unknown image file format") as info:
        read_image_file(tmp_path, "x" * 100_000)
    assert len(_one_line(info.value)) < 300


@pytest.mark.parametrize(
    "content, match",
    [
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"batch_label": [1, 2]},
         "'batch_label' must be text"),
        ({"k" * 100_000: 1, b"labels": [0]}, "no 'data' entry"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], "x": "\n" * 1000}, None),
    ],
    ids=["batch-label-list", "100KB-key", "newlines-elsewhere"],
)
def test_content_errors_are_one_line(tmp_path: Path, content: dict, match: str | None) -> None:
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps(content, protocol=4))
    if match is None:
        assert read_image_file(path, "cifar10").labels.tolist() == [0]
        return
    with pytest.raises(ImageFileError, match=match) as info:
        read_image_file(path, "cifar10")
    _one_line(info.value)


@pytest.mark.parametrize("cut", [1, 2, 17, 100, 3000, -1])
def test_cut_files_are_one_line_image_errors(tmp_path: Path, data_root: Path, cut: int) -> None:
    raw = (data_root / "images" / "ImageNet16" / "val_data").read_bytes()
    path = tmp_path / "val_data"
    path.write_bytes(raw[:cut])
    with pytest.raises(TfnasError) as info:
        read_image_file(path, "imagenet16")
    assert isinstance(info.value, ImageFileError | UnsafePickleError)
    _one_line(info.value)
