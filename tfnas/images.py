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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfnas import safe_pickle
from tfnas.bounded import read_file
from tfnas.checks import is_integer
from tfnas.config import DataNotFoundError
from tfnas.errors import TfnasError, shown, shown_path

MAX_IMAGE_FILE_BYTES = 256 << 20
"""The largest image batch file read (256 MiB): CIFAR-100's train file, the largest of the
formats, is about 150 MiB; the safe unpickler then charges memory against the file's size."""


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
    """Decode one image file of the given format (``cifar10``, ``cifar100``, ``imagenet16``).

    Any failure is an :class:`ImageFileError` (or, for a pickle that asks for more than the
    safe loader admits, :class:`~tfnas.safe_pickle.UnsafePickleError`) with a one-line message;
    a missing file is a :class:`~tfnas.config.DataNotFoundError`.
    """
    if file_format not in FORMATS:
        raise ImageFileError(
            f"unknown image file format {shown(file_format)}; expected one of {', '.join(FORMATS)}"
        )
    path = Path(path)
    try:
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise DataNotFoundError(f"image file {shown_path(path)} {what}")
        stat = path.stat()
        return _read_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, file_format)
    except OSError as exc:
        if isinstance(exc, TfnasError):
            raise
        raise ImageFileError(f"{shown_path(path)}: cannot be read ({exc.strerror or type(exc).__name__})") from None


@functools.lru_cache(maxsize=32)
def _read_cached(path: str, mtime_ns: int, size: int, file_format: str) -> ImageArrays:
    raw = read_file(path, MAX_IMAGE_FILE_BYTES, ImageFileError, "image file",
                    "expected a CIFAR or ImageNet16 batch file (the largest, CIFAR-100's train "
                    "file, is about 150 MiB)")
    try:
        content = safe_pickle.loads(raw)
    except safe_pickle.UnsafePickleError as exc:
        raise safe_pickle.UnsafePickleError(f"{path}: {exc}") from None
    except safe_pickle.SafePickleError as exc:
        raise ImageFileError(
            f"{path}: truncated or corrupt pickle ({exc}); expected a complete {file_format} batch "
            f"file ({len(raw)} bytes read)"
        ) from None
    try:
        return _decode(Path(path), hashlib.sha256(raw).hexdigest(), content, FORMATS[file_format])
    except MemoryError:
        raise ImageFileError(
            f"{path}: decoding needs more memory than this process may use ({len(raw)} bytes read)"
        ) from None


def _decode(path: Path, digest: str, content: object, fmt: FileFormat) -> ImageArrays:
    if not isinstance(content, dict):
        raise ImageFileError(f"{path}: expected a pickled dict, got {type(content).__name__}")
    entries = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in content.items()}
    for key in ("data", fmt.label_key):
        if key not in entries:
            held = shown(sorted(str(k)[:40] for k in entries)[:20])
            raise ImageFileError(
                f"{path}: no {key!r} entry; a {fmt.name} batch file holds 'data' and "
                f"{fmt.label_key!r}, this one holds {held}"
            )
    data = _image_data(path, entries["data"], fmt)
    labels = _labels(path, entries[fmt.label_key], fmt)
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
    return ImageArrays(
        path=path,
        sha256=digest,
        images=images,
        labels=kept,
        batch_label=_batch_label(path, entries.get("batch_label", "")),
        max_file_label=int(labels.max()) if labels.size else -1,
    )


def _image_data(path: Path, data: object, fmt: FileFormat) -> np.ndarray:
    """``data`` if it is a plain uint8 array of shape (N, 3*R*R)."""
    pixels = 3 * fmt.resolution * fmt.resolution
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ImageFileError(
            f"{path}: 'data' must be a uint8 array of shape (N, {pixels}) (3x{fmt.resolution}x"
            f"{fmt.resolution} planar RGB), got {found}"
        )
    return data


def _labels(path: Path, labels: object, fmt: FileFormat) -> np.ndarray:
    """``labels`` (a list of ints, or a 1-D integer array) as int64, refusing anything else:
    floats (which a cast would truncate), bools, out-of-range integers, nested sequences."""
    expected = f"{fmt.label_key!r} must be a list of integers"
    if isinstance(labels, np.ndarray):
        if labels.dtype.kind not in "iu" or labels.ndim != 1:
            raise ImageFileError(f"{path}: {expected}, got a {labels.dtype} array of {labels.ndim} dims")
        if labels.size and (int(labels.max()) > np.iinfo(np.int64).max):
            raise ImageFileError(f"{path}: {expected} that fit in 64 bits")
        return labels.astype(np.int64)
    if not isinstance(labels, list | tuple):
        raise ImageFileError(f"{path}: {expected}, got {type(labels).__name__}")
    for label in labels:
        if not is_integer(label):
            raise ImageFileError(f"{path}: {expected}, got an item {shown(label)}")
        if not -(2**63) <= label < 2**63:
            raise ImageFileError(f"{path}: {expected} that fit in 64 bits, got {shown(label)}")
    return np.array([int(label) for label in labels], dtype=np.int64).reshape(len(labels))


def _batch_label(path: Path, value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if not isinstance(value, str):
        raise ImageFileError(f"{path}: 'batch_label' must be text, got {type(value).__name__}")
    return value
