"""Where tfnas finds its data: one setting, the environment variable ``TFNAS_DATA``.

``TFNAS_DATA`` names a folder laid out like the project's shared data::

    $TFNAS_DATA/nats-tss/   NATS-Bench tables (tss-*.csv) and/or the archive NATS-tss-v1_0-3ffb9-simple/
    $TFNAS_DATA/images/     cifar-10-batches-py/, cifar-100-python/, ImageNet16/, cifar-10-jpeg/
"""

from __future__ import annotations

import os
from pathlib import Path

from tfnas.errors import TfnasError

ENV_VAR = "TFNAS_DATA"


class DataNotFoundError(TfnasError, FileNotFoundError):
    """Data a computation needs is not present; the message says what to download or set."""


def data_root(required: bool = True) -> Path | None:
    """The folder named by ``TFNAS_DATA``; a clear error when it is unset or missing."""
    value = os.environ.get(ENV_VAR)
    if not value:
        if not required:
            return None
        raise DataNotFoundError(
            f"{ENV_VAR} is not set. Set it to a folder holding nats-tss/ and images/ "
            f"(in this project's checkout: export {ENV_VAR}=../shared/data)."
        )
    root = Path(value).expanduser()
    if not root.is_dir():
        if not required:
            return None
        raise DataNotFoundError(f"{ENV_VAR}={value!r} is not a directory (resolved to {root.resolve()}).")
    return root


def data_path(*parts: str) -> Path:
    """A path under ``TFNAS_DATA``, refused with a clear message if it does not exist."""
    root = data_root()
    assert root is not None
    path = root.joinpath(*parts)
    if not path.exists():
        raise DataNotFoundError(
            f"{path} does not exist. {ENV_VAR}={root} must hold {'/'.join(parts)}; "
            "see README.md, section 'Data', for what to download and where to put it."
        )
    return path


CACHE_VAR = "TFNAS_CACHE"


def cache_dir() -> Path:
    """Where tfnas keeps what it computes for a user between runs (a live search's score store):
    ``TFNAS_CACHE`` if set, else ``$XDG_CACHE_HOME/tfnas``, else ``~/.cache/tfnas``."""
    value = os.environ.get(CACHE_VAR)
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "tfnas"


def default_store(space: str) -> Path:
    """The score store a live ``tfnas search`` keeps by default: one SQLite file per space in
    :func:`cache_dir`, so an interrupted search resumes from the scores it computed."""
    return cache_dir() / f"scores-{space}.sqlite"
