"""Readers for the image files in their official layouts (CIFAR-10, CIFAR-100, ImageNet16).

Each file is a pickled dict holding ``data`` (uint8, N x 3*R*R, planar RGB: all red values, then
green, then blue) and a label list. The CIFAR files are Python 2 pickles with ``bytes`` keys
(``b'data'``, ``b'labels'`` / ``b'fine_labels'``); the ImageNet16 files have ``str`` keys and
labels 1..1000, of which ImageNet16-120 keeps 1..120 and relabels them 0..119 (as the official
``ImageNet16`` dataset class does with ``use_num_of_class_only=120``).

Files are read with :mod:`tfnas.safe_pickle` and decoded once per process (cached on path, size
and modification time).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfnas import safe_pickle
from tfnas.errors import TfnasError


class ImageFileError(TfnasError, ValueError):
    """An image file exists but is truncated, corrupt or not in the expected format."""


@dataclass(frozen=True)
class FileFormat:
    """How one family of files stores its images and labels."""

    name: str
    label_key: str
    resolution: int
    first_label: int  # the smallest label in the file (0 for CIFAR, 1 for ImageNet16)
    file_classes: int  # how many labels the file may hold
    keep_classes: int  # labels first_label .. first_label + keep_classes - 1 are kept, as 0..


FORMATS: dict[str, FileFormat] = {
    "cifar10": FileFormat("cifar10", "labels", 32, 0, 10, 10),
    "cifar100": FileFormat("cifar100", "fine_labels", 32, 0, 100, 100),
    "imagenet16": FileFormat("imagenet16", "labels", 16, 1, 1000, 120),
}


@dataclass(frozen=True)
class ImageArrays:
    """The decoded content of one image file (arrays are read-only)."""

    path: Path
    sha256: str  # of the file's bytes
    images: np.ndarray  # uint8, (N, 3, R, R)
    labels: np.ndarray  # int64, (N,), 0-based, after the format's class filter
    batch_label: str  # the file's own description, "" when it has none
    max_file_label: int  # the largest label in the file before filtering


def read_image_file(path: str | Path, file_format: str) -> ImageArrays:
    """Decode one image file of the given format (``cifar10``, ``cifar100``, ``imagenet16``)."""
    if file_format not in FORMATS:
        raise ValueError(f"unknown image file format {file_format!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    stat = path.stat()
    return _read_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, file_format)


@functools.lru_cache(maxsize=32)
def _read_cached(path: str, mtime_ns: int, size: int, file_format: str) -> ImageArrays:
    raw = Path(path).read_bytes()
    try:
        content = safe_pickle.loads(raw)
    except safe_pickle.UnsafePickleError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError) as exc:
        raise ImageFileError(
            f"{path}: truncated or corrupt pickle ({type(exc).__name__}: {exc}); expected a complete "
            f"{file_format} batch file ({size} bytes read)"
        ) from exc
    return _decode(Path(path), hashlib.sha256(raw).hexdigest(), content, FORMATS[file_format])


def _decode(path: Path, digest: str, content: object, fmt: FileFormat) -> ImageArrays:
    if not isinstance(content, dict):
        raise ImageFileError(f"{path}: expected a pickled dict, got {type(content).__name__}")
    entries = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in content.items()}
    for key in ("data", fmt.label_key):
        if key not in entries:
            raise ImageFileError(
                f"{path}: no {key!r} entry; a {fmt.name} batch file holds 'data' and "
                f"{fmt.label_key!r}, this one holds {sorted(map(str, entries))}"
            )
    data = entries["data"]
    pixels = 3 * fmt.resolution * fmt.resolution
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ImageFileError(
            f"{path}: 'data' must be a uint8 array of shape (N, {pixels}) (3x{fmt.resolution}x"
            f"{fmt.resolution} planar RGB), got {found}"
        )
    try:
        labels = np.asarray(entries[fmt.label_key], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ImageFileError(f"{path}: {fmt.label_key!r} must be a list of integers ({exc})") from exc
    if labels.shape != (data.shape[0],):
        raise ImageFileError(
            f"{path}: {len(data)} images but {fmt.label_key!r} has shape {labels.shape}; expected "
            f"one label per image"
        )
    last = fmt.first_label + fmt.file_classes - 1
    if labels.size and (labels.min() < fmt.first_label or labels.max() > last):
        raise ImageFileError(
            f"{path}: labels must lie in {fmt.first_label}..{last}, got "
            f"{labels.min()}..{labels.max()}"
        )
    keep = labels < fmt.first_label + fmt.keep_classes
    images = data[keep].reshape(-1, 3, fmt.resolution, fmt.resolution)
    kept = labels[keep] - fmt.first_label
    images.flags.writeable = False
    kept.flags.writeable = False
    batch_label = entries.get("batch_label", "")
    if isinstance(batch_label, bytes):
        batch_label = batch_label.decode("latin1")
    return ImageArrays(
        path=path,
        sha256=digest,
        images=images,
        labels=kept,
        batch_label=str(batch_label),
        max_file_label=int(labels.max()) if labels.size else -1,
    )
