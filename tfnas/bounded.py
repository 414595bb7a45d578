"""Every file the project reads or rewrites goes through here: regular files only, a size bound,
and atomic replacement.

A reader that opens a path with plain ``open()`` hangs on a FIFO (the open waits for a writer),
reads ``/dev/zero`` until memory runs out, and takes whatever size the file has. A writer that
writes in place leaves a truncated file behind when it fails part-way (a full disk, a file-size
limit, a kill). The functions below rule all three out: a path is opened without blocking
(``O_NONBLOCK``), the *opened* descriptor must be a regular file (so no check-then-open race),
at most ``limit + 1`` bytes are ever read, and a rewrite goes to a temporary file in the same
folder that is renamed over the target only once it is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tfnas.errors import shown_path

BLOCK = 1 << 20
"""Bytes read per step (1 MiB)."""

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, in words, for a message."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


@contextlib.contextmanager
def open_regular(path: str | Path, error: type[Exception], what: str,
                 missing: type[Exception] | None = None) -> Iterator[BinaryIO]:
    """``path`` opened for binary reading, refused with ``error`` (one line) unless it is a
    regular file; a path that does not exist raises ``missing`` (default ``error``).

    The open never blocks (a FIFO with no writer would wait forever) and the check is made on the
    opened descriptor, so a path swapped between a check and the open cannot slip through.
    """
    where = shown_path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise (missing or error)(f"{what} {where} does not exist") from exc
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL
        reason = _reason(exc) if isinstance(exc, OSError) else "not a valid path"
        raise error(f"{what} {where} cannot be opened: {reason}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{what} {where} is {file_kind(mode)}; expected a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def _bounded_blocks(handle: BinaryIO, limit: int) -> Iterator[bytes]:
    """The handle's bytes in :data:`BLOCK` steps, stopping after ``limit + 1`` of them."""
    size = 0
    while size <= limit:
        chunk = handle.read(min(BLOCK, limit + 1 - size))
        if not chunk:
            return
        size += len(chunk)
        yield chunk


def _checked_blocks(path: str | Path, limit: int, error: type[Exception], what: str,
                   expected: str, missing: type[Exception] | None = None) -> Iterator[bytes]:
    """A regular file's bytes in :data:`BLOCK` steps; ``error`` when it holds more than ``limit``
    (told by its size before a byte is read, or when it grows while read)."""
    where = shown_path(path)
    over = f"{what} {where} is over {limit} bytes; {expected}"
    with open_regular(path, error, what, missing) as handle:
        size = 0
        try:
            size = os.fstat(handle.fileno()).st_size
            if size <= limit:
                size = 0
                for chunk in _bounded_blocks(handle, limit):
                    size += len(chunk)
                    if size > limit:
                        break
                    yield chunk
        except OSError as exc:
            raise error(f"{what} {where} cannot be read: {_reason(exc)}") from exc
        if size > limit:  # raised outside the handler: ``error`` may itself be an OSError
            raise error(over)


def read_file(path: str | Path, limit: int, error: type[Exception], what: str,
              expected: str, missing: type[Exception] | None = None) -> bytes:
    """The whole file if it is a regular file of at most ``limit`` bytes; else ``error`` with one
    line (``missing``, default ``error``, when nothing is at ``path``).

    ``what`` names the file's role ("NATS-Bench table"), ``expected`` says what such a file holds,
    for the message when it is larger.
    """
    return b"".join(_checked_blocks(path, limit, error, what, expected, missing))


def read_text(path: str | Path, limit: int, error: type[Exception], what: str,
              expected: str) -> str:
    """:func:`read_file` decoded as UTF-8; a file that is not UTF-8 is ``error`` naming the byte."""
    data = read_file(path, limit, error, what, expected)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {shown_path(path)} is not UTF-8 text (byte {exc.start} is "
                    f"{data[exc.start:exc.start + 1]!r}); {expected}") from exc


def sha256_file(path: str | Path, limit: int, error: type[Exception], what: str) -> str:
    """The sha256 of a regular file of at most ``limit`` bytes, read in bounded steps."""
    digest = hashlib.sha256()
    for chunk in _checked_blocks(path, limit, error, what, "expected a smaller file"):
        digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_writer(path: str | Path, error: type[Exception], what: str) -> Iterator[BinaryIO]:
    """A binary handle whose bytes replace ``path`` all at once when the block ends without error.

    The bytes go to a temporary file in the target's folder, are flushed to disk, and the file is
    renamed over the target; any failure (a full disk, a file-size limit, an exception or signal
    in the block) removes the temporary file and leaves the target as it was. An existing target
    that is not a regular file (a FIFO, a device, a directory) is refused, not replaced. The new
    file keeps the old one's permission bits (or gets the umask's default). Writing through the
    handle lets a large output be produced piece by piece instead of held in memory whole.
    """
    path = Path(path)
    where = shown_path(path)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    except (OSError, ValueError) as exc:
        reason = _reason(exc) if isinstance(exc, OSError) else "not a valid path"
        raise error(f"cannot write {what} {where}: {reason}") from exc
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise error(f"cannot write {what} {where}: it is {file_kind(old.st_mode)}; expected a "
                    "regular file or a new path")
    tmp: str | None = None
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp",
                                       dir=path.parent if str(path.parent) else ".")
            handle = os.fdopen(fd, "wb")
        except OSError as exc:
            raise error(f"cannot write {what} {where}: {_reason(exc)}") from exc
        try:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            raise error(f"cannot write {what} {where}: {_reason(exc)} (left "
                        "unchanged)") from exc
        finally:
            with contextlib.suppress(OSError):  # a failed flush fails again on close
                handle.close()
        try:
            os.chmod(tmp, stat.S_IMODE(old.st_mode) if old is not None else 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as exc:
            raise error(f"cannot write {what} {where}: {_reason(exc)} (left "
                        "unchanged)") from exc
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_atomic(path: str | Path, data: bytes, error: type[Exception], what: str) -> Path:
    """Replace ``path`` by ``data`` all at once (see :func:`atomic_writer`): the target is either
    untouched or complete."""
    with atomic_writer(path, error, what) as handle:
        handle.write(data)
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
