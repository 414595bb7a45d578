"""Dataset specs and load_batch: shared subsets, full official layouts in tmp_path, every error."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tfnas.config import DataNotFoundError
from tfnas.datasets import (
    RECONSTRUCTED_IMAGENET_LABEL,
    NotEnoughImagesError,
    UnknownDatasetError,
    dataset_names,
    get_dataset,
    load_batch,
    normalise,
    select_indices,
    source_files,
)

# PROVENANCE.md, "Normalisation used by NATS-Bench training"
PUBLISHED = {
    "cifar10": (32, 10, (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar10-valid": (32, 10, (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar100": (32, 100, (129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
    "ImageNet16-120": (16, 120, (122.68, 116.66, 104.01), (63.22, 61.26, 65.09)),
}
SHARED = {
    "cifar10": ("cifar-10-batches-py/test_batch", 206),
    "cifar10-valid": ("cifar-10-batches-py/test_batch", 206),
    "cifar100": ("cifar-100-python/test", 262),
    "ImageNet16-120": ("ImageNet16/val_data", 279),
}


def _raw(path: Path) -> dict:
    content = pickle.loads(path.read_bytes(), encoding="bytes")  # reference decode of trusted files
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in content.items()}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_specs_match_published_values(name: str) -> None:
    spec = get_dataset(name)
    assert (spec.resolution, spec.num_classes, spec.mean, spec.std) == PUBLISHED[name]
    assert spec.name == name and spec.label


def test_unknown_dataset_lists_known_ones() -> None:
    assert dataset_names() == tuple(PUBLISHED)
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'cifar1000'; known datasets: cifar10, cifar10-valid, cifar100, ImageNet16-120"):
        get_dataset("cifar1000")
    with pytest.raises(UnknownDatasetError):
        load_batch("imagenet")
    with pytest.raises(TypeError, match="must be str"):
        get_dataset(10)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_shared_batches(data_root: Path, name: str) -> None:
    relpath, count = SHARED[name]
    res, classes = PUBLISHED[name][:2]
    batch = load_batch(name)
    assert batch.images.shape == (128, 3, res, res) and batch.images.dtype == torch.float32
    assert batch.labels.shape == (128,) and batch.labels.dtype == torch.int64
    assert 0 <= int(batch.labels.min()) and int(batch.labels.max()) < classes
    assert batch.files == (relpath,) and batch.split == "test" and relpath in batch.description
    assert len(set(batch.indices)) == 128 and all(0 <= i < count for i in batch.indices)
    # images and labels are the selected rows of the file, normalised
    raw = _raw(data_root / "images" / relpath)
    chosen = np.asarray(batch.indices)
    pixels = raw["data"][chosen].reshape(128, 3, res, res).astype(np.float64)
    mean = np.asarray(PUBLISHED[name][2]).reshape(1, 3, 1, 1)
    std = np.asarray(PUBLISHED[name][3]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(batch.images.numpy(), (pixels - mean) / std, rtol=0, atol=1e-5)
    key = "fine_labels" if name == "cifar100" else "labels"
    offset = 1 if name == "ImageNet16-120" else 0
    np.testing.assert_array_equal(batch.labels.numpy(), np.asarray(raw[key])[chosen] - offset)
    # identity: sha256 of the file's digest and the selection, recomputed independently
    digest = hashlib.sha256((data_root / "images" / relpath).read_bytes()).hexdigest()
    fmt = get_dataset(name).file_format
    payload = f"tfnas-batch-v1|{fmt}|{digest}|{','.join(map(str, batch.indices))}"
    assert batch.identity == hashlib.sha256(payload.encode()).hexdigest()


def test_imagenet_subset_is_labelled_reconstructed() -> None:
    batch = load_batch("ImageNet16-120", batch_size=8)
    assert batch.reconstructed and batch.label == RECONSTRUCTED_IMAGENET_LABEL
    assert RECONSTRUCTED_IMAGENET_LABEL in batch.description
    assert not load_batch("cifar10", batch_size=8).reconstructed


def test_determinism_and_seed_sensitivity() -> None:
    a, b = load_batch("cifar100", seed=3, batch_size=64), load_batch("cifar100", seed=3, batch_size=64)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.identity == b.identity and a.indices == b.indices
    c = load_batch("cifar100", seed=4, batch_size=64)
    assert c.identity != a.identity and c.indices != a.indices
    assert load_batch("cifar100", seed=3, batch_size=65).identity != a.identity


def test_global_random_state_is_untouched() -> None:
    before = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    load_batch("cifar10", seed=11, batch_size=16)
    assert np.array_equal(np.random.get_state()[1], before[0])
    assert torch.equal(torch.get_rng_state(), before[1])


@given(n=st.integers(1, 300), seed=st.integers(0, 2**32), data=st.data())
def test_selection_is_distinct_in_range_and_reproducible(n: int, seed: int, data) -> None:
    k = data.draw(st.integers(1, n))
    chosen = select_indices(n, seed, k)
    assert len(set(chosen.tolist())) == k and chosen.min() >= 0 and chosen.max() < n
    np.testing.assert_array_equal(chosen, select_indices(n, seed, k))


@given(pixels=st.lists(st.integers(0, 255), min_size=3 * 4, max_size=3 * 4))
def test_normalise_is_published_formula(pixels: list[int]) -> None:
    images = np.asarray(pixels, dtype=np.uint8).reshape(1, 3, 2, 2)
    for name in ("cifar10", "cifar100", "ImageNet16-120"):
        spec = get_dataset(name)
        expected = (images - np.reshape(spec.mean, (1, 3, 1, 1))) / np.reshape(spec.std, (1, 3, 1, 1))
        np.testing.assert_allclose(normalise(images, name).numpy(), expected, rtol=0, atol=1e-5)
    with pytest.raises(TypeError, match="uint8 numpy array"):
        normalise(images.astype(np.float32), "cifar10")


def test_jpeg_source(data_root: Path) -> None:
    batch = load_batch("cifar10", batch_size=256, source="jpeg")
    assert batch.files == ("cifar-10-jpeg/test_batch",) and "lossy JPEG" in batch.description
    assert max(batch.indices) < 10_000 and batch.identity != load_batch("cifar10", batch_size=128).identity
    with pytest.raises(ValueError, match="only for CIFAR-10, not for 'cifar100'"):
        load_batch("cifar100", source="jpeg")
    with pytest.raises(ValueError, match="holds only the test split"):
        load_batch("cifar10", source="jpeg", split="train")
    with pytest.raises(ValueError, match="source must be one of exact, jpeg"):
        load_batch("cifar10", source="png")
    with pytest.raises(ValueError, match="split must be one of auto, train, test"):
        load_batch("cifar10", split="val")


def test_too_many_images_asked() -> None:
    with pytest.raises(NotEnoughImagesError, match="asked for 207 CIFAR-10 images but cifar-10-batches-py/test_batch hold only 206"):
        load_batch("cifar10", batch_size=207)
    assert len(load_batch("cifar10", batch_size=206).indices) == 206


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": True}, TypeError, "seed must be an int"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"batch_size": "8"}, TypeError, "batch_size must be an int"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        load_batch("cifar10", **kwargs)


def test_missing_data_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TFNAS_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="TFNAS_DATA is not set"):
        load_batch("cifar10")
    monkeypatch.setenv("TFNAS_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r"cifar-100-python/test.*cifar-100-python.tar.gz"):
        load_batch("cifar100")
    with pytest.raises(DataNotFoundError, match=r"data_batch_1.*cifar-10-python.tar.gz"):
        load_batch("cifar10", split="train")


# --- full official layouts, synthetic, in tmp_path --------------------------------------------


def _write(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(content, protocol=2))


@pytest.fixture
def full_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TFNAS_DATA holding the full official file sets, 20 images per file."""
    rng = np.random.default_rng(7)
    images = tmp_path / "images"
    cifar = images / "cifar-10-batches-py"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _write(cifar / name, {b"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                              b"labels": rng.integers(0, 10, 20).tolist(), b"batch_label": name.encode()})
    for name in ("train", "test"):
        _write(images / "cifar-100-python" / name, {
            b"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
            b"fine_labels": rng.integers(0, 100, 20).tolist(),
            b"coarse_labels": rng.integers(0, 20, 20).tolist(),
        })
    for name in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        labels = rng.integers(1, 1001, 40)
        labels[:20] = rng.integers(1, 121, 20)  # at least 20 of the 120 kept classes per file
        _write(images / "ImageNet16" / name, {"data": rng.integers(0, 256, (40, 768), dtype=np.uint8),
                                              "labels": labels.tolist(), "mean": np.zeros(768)})
    monkeypatch.setenv("TFNAS_DATA", str(tmp_path))
    return tmp_path


def test_full_cifar10_prefers_training_files(full_root: Path) -> None:
    split, paths = source_files("cifar10")
    assert split == "train" and [p.name for p in paths] == [f"data_batch_{i}" for i in range(1, 6)]
    batch = load_batch("cifar10", seed=1, batch_size=100)
    assert batch.split == "train" and len(batch.files) == 5 and max(batch.indices) < 100
    stacked = np.concatenate([_raw(p)["data"] for p in paths])
    expected = normalise(stacked[np.asarray(batch.indices)].reshape(100, 3, 32, 32), "cifar10")
    assert torch.equal(batch.images, expected)
    with pytest.raises(NotEnoughImagesError, match="hold only 100"):
        load_batch("cifar10", batch_size=101)
    test = load_batch("cifar10", seed=1, batch_size=20, split="test")
    assert test.split == "test" and test.files == ("cifar-10-batches-py/test_batch",)


def test_partial_training_set_falls_back_to_test(full_root: Path) -> None:
    (full_root / "images" / "cifar-10-batches-py" / "data_batch_3").unlink()
    assert load_batch("cifar10", batch_size=10).split == "test"
    with pytest.raises(DataNotFoundError, match="data_batch_3"):
        load_batch("cifar10", batch_size=10, split="train")


def test_full_cifar100(full_root: Path) -> None:
    batch = load_batch("cifar100", batch_size=20)
    assert batch.split == "train" and batch.files == ("cifar-100-python/train",)


def test_full_imagenet16_is_official_and_filtered(full_root: Path) -> None:
    batch = load_batch("ImageNet16-120", batch_size=150)
    assert batch.split == "train" and len(batch.files) == 10
    assert not batch.reconstructed and batch.label == "ImageNet16-120"
    assert "reconstructed" not in batch.description
    assert int(batch.labels.max()) < 120 and batch.images.shape == (150, 3, 16, 16)
    kept = sum(int((np.asarray(_raw(full_root / "images" / f)["labels"]) <= 120).sum()) for f in batch.files)
    with pytest.raises(NotEnoughImagesError, match=f"hold only {kept} \\(after keeping the 120"):
        load_batch("ImageNet16-120", batch_size=kept + 1)
