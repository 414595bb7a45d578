"""Reading a file without letting its size decide how much memory is taken."""

from __future__ import annotations

from pathlib import Path

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
