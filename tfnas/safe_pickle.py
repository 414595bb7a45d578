"""A restricted unpickler for the image-batch files (CIFAR, ImageNet16).

Loading a pickle runs whatever callables it names. The dataset files only need plain containers
(dicts, lists, bytes, str, numbers) and numpy arrays, which pickle as three globals:
``numpy.core.multiarray._reconstruct`` (``numpy._core`` in numpy 2), ``numpy.ndarray`` and
``numpy.dtype`` (``numeric._frombuffer`` at protocol 5). Those, numpy's ``scalar`` constructor, and ``_codecs.encode`` restricted to
latin-1 (how Python 3 writes ``bytes`` at protocols 0-2) are the only globals admitted; any other
global is refused before it is imported or called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import IO, Any

import numpy as np

from tfnas.errors import TfnasError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]

_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it for ``bytes``; any other codec is refused."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(
            f"refused _codecs.encode(..., {encoding!r}): only latin-1 text → bytes is admitted"
        )
    return text.encode("latin1")


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): _reconstruct for module in _MULTIARRAY},
    **{(module, "scalar"): scalar for module in _MULTIARRAY},
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}
"""``(module, name)`` → the object it resolves to; nothing else is ever imported."""


class UnsafePickleError(TfnasError, pickle.UnpicklingError):
    """A pickle named a global outside :data:`ALLOWED_GLOBALS`; nothing of it was executed."""


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the numpy array globals the dataset files use."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise UnsafePickleError(
                f"refused global {module}.{name}: the safe loader admits only plain data and numpy "
                f"arrays ({allowed})"
            ) from None


def load(file: IO[bytes], encoding: str = "bytes") -> Any:
    """Unpickle from a binary file object with :class:`SafeUnpickler`.

    ``encoding="bytes"`` keeps Python 2 ``str`` objects (the CIFAR files) as ``bytes``, as the
    official loading recipe ``pickle.load(f, encoding="bytes")`` does.
    """
    return SafeUnpickler(file, encoding=encoding).load()


def loads(data: bytes, encoding: str = "bytes") -> Any:
    """Unpickle ``data`` with :class:`SafeUnpickler`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"loads() needs bytes, got {type(data).__name__}")
    return load(io.BytesIO(data), encoding=encoding)


def load_path(path: str | Path, encoding: str = "bytes") -> Any:
    """Unpickle the file at ``path`` with :class:`SafeUnpickler`."""
    with open(path, "rb") as handle:
        return load(handle, encoding=encoding)
