"""The four NATS-Bench datasets and the one image batch a data-dependent proxy sees.

Which images a proxy batch comes from: NASWOT scored networks on a training-set batch, so when
the full official training files are present (``split="auto"``) the batch is drawn from them.
The shared data holds only test/validation subsets, so there the batch comes from those; the
batch's ``split``, ``files``, ``description`` and ``identity`` always say which file it came from.

Normalisation is NATS-Bench's: ``ToTensor()`` (divide by 255) then ``Normalize(mean/255,
std/255)``, done here with the same float32 operations in the same order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfnas.checks import ArgumentError, ArgumentTypeError, check_int, check_seed
from tfnas.config import ENV_VAR, DataNotFoundError, data_root
from tfnas.errors import TfnasError
from tfnas.images import ImageArrays, read_image_file

if TYPE_CHECKING:  # torch is imported where a batch is built, so the table reads without it
    import torch

SPLITS = ("auto", "train", "test")
SOURCES = ("exact", "jpeg")
IDENTITY_VERSION = "tfnas-batch-v1"
RECONSTRUCTED_IMAGENET_LABEL = "reconstructed ImageNet16-120"


class UnknownDatasetError(TfnasError, ValueError):
    """A dataset name that NATS-Bench does not define."""


class NotEnoughImagesError(TfnasError, ValueError):
    """A batch asked for more images than the source files hold."""


@dataclass(frozen=True)
class DatasetSpec:
    """One NATS-Bench dataset: its shape, normalisation, and where its images live."""

    name: str  # as NATS-Bench spells it
    resolution: int
    num_classes: int
    mean: tuple[float, float, float]  # per channel, 0-255 units
    std: tuple[float, float, float]
    label: str  # human-readable name
    image_dir: str  # folder under $TFNAS_DATA/images
    file_format: str  # a key of tfnas.images.FORMATS
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    download: str  # what to fetch when the files are missing
    jpeg_files: tuple[str, ...] = ()  # the lossy full test set (CIFAR-10 only), under images/
    note: str = ""
    target: bool = True
    """A dataset searches and claims are run for (cifar10-valid only holds CIFAR-10's validation
    accuracies)."""
    valid: str = ""
    """The NATS-Bench dataset holding this one's validation accuracy ("" = itself)."""


_CIFAR10_DOWNLOAD = (
    "the CIFAR-10 python version (https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz), "
    "extracted so that images/cifar-10-batches-py/ holds data_batch_1..5 and test_batch"
)
_CIFAR10 = dict(
    resolution=32,
    num_classes=10,
    mean=(125.3, 123.0, 113.9),
    std=(63.0, 62.1, 66.7),
    image_dir="cifar-10-batches-py",
    file_format="cifar10",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",),
    download=_CIFAR10_DOWNLOAD,
    jpeg_files=("cifar-10-jpeg/test_batch",),
)

DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec(name="cifar10", label="CIFAR-10", valid="cifar10-valid", **_CIFAR10),
    "cifar10-valid": DatasetSpec(
        name="cifar10-valid",
        label="CIFAR-10 (cifar10-valid)",
        note="NATS-Bench's cifar10-valid trains on half the CIFAR-10 training set; its proxy "
        "batches use the CIFAR-10 images",
        target=False,
        **_CIFAR10,
    ),
    "cifar100": DatasetSpec(
        name="cifar100",
        resolution=32,
        num_classes=100,
        mean=(129.3, 124.1, 112.4),
        std=(68.2, 65.4, 70.4),
        label="CIFAR-100",
        image_dir="cifar-100-python",
        file_format="cifar100",
        train_files=("train",),
        test_files=("test",),
        download="the CIFAR-100 python version (https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz), "
        "extracted so that images/cifar-100-python/ holds train and test",
    ),
    "ImageNet16-120": DatasetSpec(
        name="ImageNet16-120",
        resolution=16,
        num_classes=120,
        mean=(122.68, 116.66, 104.01),
        std=(63.22, 61.26, 65.09),
        label="ImageNet16-120",
        image_dir="ImageNet16",
        file_format="imagenet16",
        train_files=tuple(f"train_data_batch_{i}" for i in range(1, 11)),
        test_files=("val_data",),
        download="the downsampled ImageNet 16x16 pickles (Imagenet16_train.zip and Imagenet16_val.zip "
        "from https://image-net.org/download-images.php), so that images/ImageNet16/ holds "
        "train_data_batch_1..10 and val_data",
    ),
}


def dataset_names() -> tuple[str, ...]:
    """The dataset names NATS-Bench defines, in a fixed order."""
    return tuple(DATASETS)


TARGET_DATASETS: tuple[str, ...] = tuple(name for name, spec in DATASETS.items() if spec.target)
"""The datasets proxies score for, searches run on and claims are about (every module reads
this one list): cifar10, cifar100, ImageNet16-120."""


def valid_dataset(dataset: str) -> str:
    """The NATS-Bench dataset holding ``dataset``'s validation accuracy (cifar10 → cifar10-valid)."""
    spec = get_dataset(dataset)
    return spec.valid or spec.name


def get_dataset(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a NATS-Bench dataset name."""
    if not isinstance(name, str):
        raise ArgumentTypeError(f"dataset name must be str, got {type(name).__name__}")
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}"
        ) from None


@dataclass(frozen=True)
class ImageBatch:
    """One normalised proxy batch and where it came from."""

    images: torch.Tensor  # float32, (B, 3, R, R), normalised
    labels: torch.Tensor  # int64, (B,)
    identity: str  # sha256 hex of the source files' digests and the selected indices
    description: str  # human-readable provenance, printed by the harness
    dataset: str = ""
    label: str = ""  # e.g. "CIFAR-10" or "reconstructed ImageNet16-120"
    split: str = ""  # "train" or "test" (the files the images came from)
    files: tuple[str, ...] = ()  # paths relative to $TFNAS_DATA/images
    indices: tuple[int, ...] = ()  # positions in the concatenated files
    reconstructed: bool = False  # True for the non-official ImageNet16 reconstruction


def source_files(dataset: str, split: str = "auto", source: str = "exact") -> tuple[str, list[Path]]:
    """The split used and the image files a batch of ``dataset`` is drawn from.

    ``split="auto"`` takes the training files when all of them are present, else the test files.
    ``source="jpeg"`` (CIFAR-10 only) takes the lossy full test set ``cifar-10-jpeg/test_batch``.
    """
    spec = get_dataset(dataset)
    if split not in SPLITS:
        raise ArgumentError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if source not in SOURCES:
        raise ArgumentError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    root = data_root()
    assert root is not None
    images = root / "images"
    if source == "jpeg":
        if not spec.jpeg_files:
            raise ArgumentError(f"source='jpeg' exists only for CIFAR-10, not for {dataset!r}")
        if split == "train":
            raise ArgumentError("the JPEG CIFAR-10 set holds only the test split; use split='auto' or 'test'")
        return "test", _require(images, list(spec.jpeg_files), spec, "the lossy CIFAR-10 JPEG test set")
    train = [images / spec.image_dir / name for name in spec.train_files]
    if split == "train" or (split == "auto" and all(p.is_file() for p in train)):
        return "train", _require(images, [f"{spec.image_dir}/{n}" for n in spec.train_files], spec, spec.download)
    return "test", _require(images, [f"{spec.image_dir}/{n}" for n in spec.test_files], spec, spec.download)


def _require(images: Path, names: list[str], spec: DatasetSpec, download: str) -> list[Path]:
    paths = [images / name for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataNotFoundError(
            f"{spec.label} images missing: {', '.join(missing)}. Put {download} under "
            f"{ENV_VAR}/images (now {images})."
        )
    return paths


def normalise(images: np.ndarray, dataset: str) -> torch.Tensor:
    """uint8 NCHW images → float32, as NATS-Bench's ``ToTensor()`` + ``Normalize(mean, std)``."""
    import torch

    spec = get_dataset(dataset)
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ArgumentTypeError("normalise() needs a uint8 numpy array of shape (N, 3, H, W)")
    tensor = torch.from_numpy(np.array(images)).to(torch.float32).div(255)
    mean = torch.tensor([m / 255 for m in spec.mean], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor([s / 255 for s in spec.std], dtype=torch.float32).view(1, 3, 1, 1)
    return tensor.sub_(mean).div_(std)


def select_indices(n: int, seed: int, batch_size: int) -> np.ndarray:
    """``batch_size`` distinct positions out of ``n``, drawn from ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).choice(n, size=batch_size, replace=False)


def load_batch(
    dataset: str, seed: int = 0, batch_size: int = 128, *, split: str = "auto", source: str = "exact"
) -> ImageBatch:
    """A deterministic, normalised batch of ``dataset`` images for ``(seed, batch_size)``."""
    import torch

    seed, batch_size = check_seed(seed), check_int("batch_size", batch_size, 1)
    spec = get_dataset(dataset)
    used_split, paths = source_files(dataset, split, source)
    fmt = "cifar10" if source == "jpeg" else spec.file_format
    parts: list[ImageArrays] = [read_image_file(p, fmt) for p in paths]
    total = sum(len(part.labels) for part in parts)
    rel = tuple(str(p.relative_to(p.parents[1])) for p in paths)
    if batch_size > total:
        raise NotEnoughImagesError(
            f"asked for {batch_size} {spec.label} images but {', '.join(rel)} hold only {total}"
            + (" (after keeping the 120 ImageNet16-120 classes)" if spec.file_format == "imagenet16" else "")
        )
    indices = select_indices(total, int(seed), int(batch_size))
    images = np.concatenate([part.images for part in parts]) if len(parts) > 1 else parts[0].images
    labels = np.concatenate([part.labels for part in parts]) if len(parts) > 1 else parts[0].labels
    reconstructed = spec.file_format == "imagenet16" and _is_reconstruction(parts)
    label = RECONSTRUCTED_IMAGENET_LABEL if reconstructed else spec.label
    payload = "|".join(
        [IDENTITY_VERSION, fmt, ",".join(p.sha256 for p in parts), ",".join(map(str, indices.tolist()))]
    )
    identity = hashlib.sha256(payload.encode()).hexdigest()
    description = (
        f"{label}: {batch_size} of {total} images from {', '.join(rel)} ({used_split} split"
        f"{', lossy JPEG' if source == 'jpeg' else ''}), seed {seed}, identity {identity[:12]}"
    )
    if reconstructed:
        description += " (reconstructed from ILSVRC photos, not the official ImageNet16 pixels)"
    return ImageBatch(
        images=normalise(images[indices], dataset),
        labels=torch.from_numpy(labels[indices].copy()),
        identity=identity,
        description=description,
        dataset=dataset,
        label=label,
        split=used_split,
        files=rel,
        indices=tuple(indices.tolist()),
        reconstructed=reconstructed,
    )


def _is_reconstruction(parts: list[ImageArrays]) -> bool:
    # The official ImageNet16 files hold all 1,000 classes; a file limited to labels 1..120 is the
    # project's reconstruction (or another non-official subset) and must be labelled as such.
    return all(part.max_file_label <= 120 for part in parts)
