"""Reading a file without letting its size decide how much memory is taken."""

from __future__ import annotations

from pathlib import Path

from tfnas.errors import shown_path

BLOCK = 1 << 20
"""Bytes read per step (1 MiB)."""


def read_at_most(path: str | Path, limit: int) -> bytes:
    """The file's bytes, but no more than ``limit + 1`` of them, read in :data:`BLOCK` steps.

    ``len(result) > limit`` tells the caller the file is too large. One ``read(limit + 1)`` would
    allocate the whole limit up front, whatever the file's size.
    """
    chunks: list[bytes] = []
    size = 0
    with open(path, "rb") as handle:
        while size <= limit:
            chunk = handle.read(min(BLOCK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)


def read_file(path: str | Path, limit: int, error: type[Exception], what: str,
              expected: str) -> bytes:
    """The whole file if it holds at most ``limit`` bytes; else ``error`` with one line.

    ``what`` names the file's role ("NATS-Bench table"), ``expected`` says what such a file holds,
    for the message when it is larger.
    """
    where = shown_path(path)
    try:
        data = read_at_most(path, limit)
    except OSError as exc:
        raise error(f"{what} {where} cannot be read: {exc.strerror or type(exc).__name__}") from exc
    if len(data) > limit:
        raise error(f"{what} {where} is over {limit} bytes; {expected}")
    return data
