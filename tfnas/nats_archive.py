"""Safe loading of NATS-Bench archive files through the real ``nats_bench`` API.

``nats_bench`` reads every archive file (``meta.pickle.pbz2``, the per-cell
``000123.pickle.pbz2``, of the topology ``tss`` and the size ``sss`` archives alike) with one
function, ``nats_bench.api_utils.pickle_load``, which calls plain ``pickle.load`` and so runs
whatever a file names. :func:`install` replaces that function, everywhere the package holds it
(``api_utils``, ``api_topology``, ``api_size`` and the package itself), by :func:`pickle_load`:
a bounded streaming bz2 decompression followed by :mod:`tfnas.safe_pickle` with only the
globals the official archives use (:data:`tfnas.safe_pickle.ARCHIVE_GLOBALS`:
``collections.OrderedDict`` and numpy's float scalars). Everything else stays the real API.

The replacement is process-wide and permanent once installed (it is idempotent and thread-safe;
there is no window in which another thread could load an archive with plain pickle), so other
code in the same process that uses ``nats_bench`` gets the safe loader too. ``NatsBenchOracle``
installs it before every call into the API, so a reload of ``nats_bench`` cannot undo it.
"""

from __future__ import annotations

import bz2
import os
import sys
import threading
from pathlib import Path
from typing import Any

from tfnas import safe_pickle
from tfnas.bounded import open_regular
from tfnas.config import DataNotFoundError
from tfnas.errors import TfnasError, one_line

MAX_FILE_BYTES = 64 << 20
"""The most an archive file may decompress to: 64 MiB. A fast-mode file holds one cell (a few MB
in the full archives, about 0.3 MB in the simple ones) or the meta (about 1.4 MB)."""

CHUNK = 1 << 20
"""How many compressed bytes are read, and how many decompressed bytes produced, per step."""

_MODULES = ("nats_bench.api_utils", "nats_bench.api_topology", "nats_bench.api_size", "nats_bench")
_LOCK = threading.Lock()


class ArchiveError(TfnasError, ValueError):
    """A NATS-Bench archive file that is not a valid, bounded bz2-compressed pickle."""


def decompress(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bz2 content of ``path`` (one or more streams), refusing more than ``limit`` bytes."""
    out = bytearray()
    decompressor = bz2.BZ2Decompressor()
    try:
        with open_regular(path, ArchiveError, "NATS-Bench archive file",
                          DataNotFoundError) as handle:
            pending = handle.read(CHUNK)
            while True:
                out += decompressor.decompress(pending, max_length=limit + 1 - len(out))
                if len(out) > limit:
                    raise ArchiveError(
                        f"{path}: decompresses to more than {limit / 2**20:g} MiB; a fast-mode "
                        f"NATS-Bench archive file holds one cell or the meta (a few MB at most)"
                    )
                if decompressor.eof:
                    pending = decompressor.unused_data or handle.read(CHUNK)
                    if not pending:
                        return bytes(out)
                    decompressor = bz2.BZ2Decompressor()  # a further stream (as BZ2File reads)
                elif decompressor.needs_input:
                    pending = handle.read(CHUNK)
                    if not pending:
                        raise ArchiveError(f"{path}: truncated bz2 data; expected a complete stream")
                else:
                    pending = b""
    except OSError as exc:  # bz2's "Invalid data stream", or the file cannot be read
        raise ArchiveError(f"{path}: not a readable bz2 file ({one_line(exc, 160)})") from None
    except (EOFError, ValueError) as exc:
        if isinstance(exc, TfnasError):
            raise
        raise ArchiveError(f"{path}: corrupt bz2 data ({one_line(exc, 160)})") from None


def load_file(path: str | Path, limit: int = MAX_FILE_BYTES) -> Any:
    """One archive file decoded with the safe loader (``ARCHIVE_GLOBALS`` only)."""
    path = Path(path)
    raw = decompress(path, limit)
    try:
        return safe_pickle.loads(raw, encoding="ASCII", allowed=safe_pickle.ARCHIVE_GLOBALS)
    except safe_pickle.SafePickleError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def pickle_load(file_path: Any, ext: str = ".pbz2") -> Any:
    """Drop-in for ``nats_bench.api_utils.pickle_load`` (same path rule: ``file_path`` if it is a
    file, else ``file_path + ext``), loading with :func:`load_file`."""
    import nats_bench.api_utils as api_utils

    if api_utils.get_file_system() != "default":
        raise ArchiveError(
            f"the safe NATS-Bench loader reads local files only, not file system "
            f"{api_utils.get_file_system()!r}"
        )
    path = str(file_path)
    return load_file(path if os.path.isfile(path) else path + ext)


def installed() -> bool:
    """Whether every ``pickle_load`` name of the loaded ``nats_bench`` modules is the safe one."""
    return all(
        getattr(sys.modules[name], "pickle_load", pickle_load) is pickle_load
        for name in _MODULES
        if name in sys.modules
    )


def install() -> None:
    """Route every archive load of ``nats_bench`` through :func:`pickle_load` (idempotent)."""
    import nats_bench  # noqa: F401  (imports api_utils, api_topology and api_size)

    with _LOCK:
        for name in _MODULES:
            module = sys.modules[name]
            if getattr(module, "pickle_load", None) is not pickle_load:
                module.pickle_load = pickle_load  # type: ignore[attr-defined]
