"""Where tfnas finds its data and its precomputed tables: environment settings, each with a
documented default. tfnas never derives a location from where its own code is installed.

``TFNAS_DATA`` (required by whatever reads data) names a folder laid out like the project's
shared data::

    $TFNAS_DATA/nats-tss/   NATS-Bench tables (tss-*.csv) and/or the archive NATS-tss-v1_0-3ffb9-simple/
    $TFNAS_DATA/images/     cifar-10-batches-py/, cifar-100-python/, ImageNet16/, cifar-10-jpeg/

The committed score tables, scoring-noise realisations and spot references are read from folders
that default to the checkout's layout, relative to the current working directory (run from the
repository root, or set the variable):

* ``TFNAS_TABLES``: the score tables (:func:`tables_root`, default ``benchmarks/scores``);
* ``TFNAS_NOISE``: the scoring-noise realisations (:func:`noise_root`, default ``benchmarks/noise``);
* ``TFNAS_SPOT``: the float64 spot references (:func:`spot_root`, default ``benchmarks/spot``).

``TFNAS_CACHE`` (:func:`cache_dir`) is where a live search keeps its score store.
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


TABLES_VAR = "TFNAS_TABLES"
DEFAULT_TABLES = Path("benchmarks") / "scores"
"""The score tables' folder when ``TFNAS_TABLES`` is unset (relative: under the current directory)."""
NOISE_VAR = "TFNAS_NOISE"
DEFAULT_NOISE = Path("benchmarks") / "noise"
"""The scoring-noise folder when ``TFNAS_NOISE`` is unset (relative: under the current directory)."""
SPOT_VAR = "TFNAS_SPOT"
DEFAULT_SPOT = Path("benchmarks") / "spot"
"""The spot-reference folder when ``TFNAS_SPOT`` is unset (relative: under the current directory)."""


def _folder(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else default


def tables_root() -> Path:
    """The folder of the score tables: ``TFNAS_TABLES``, else ``benchmarks/scores`` (relative to
    the current directory: the repository's committed tables when run from its root)."""
    return _folder(TABLES_VAR, DEFAULT_TABLES)


def noise_root() -> Path:
    """The folder of the scoring-noise realisations: ``TFNAS_NOISE``, else ``benchmarks/noise``
    (relative to the current directory)."""
    return _folder(NOISE_VAR, DEFAULT_NOISE)


def spot_root() -> Path:
    """The folder of the float64 spot references: ``TFNAS_SPOT``, else ``benchmarks/spot``
    (relative to the current directory)."""
    return _folder(SPOT_VAR, DEFAULT_SPOT)
