"""Accuracy oracles: what NATS-Bench says a trained cell scores, from the tables or the archive.

The paper's mapping (:meth:`AccuracyOracle.accuracies`): for the proxy dataset ``cifar10`` the
12-epoch validation accuracy comes from ``cifar10-valid`` (NATS-Bench's ``cifar10`` has no
validation split) and the 200-epoch test accuracy from ``cifar10``; ``cifar100`` and
``ImageNet16-120`` give both themselves.

Training time is NATS-Bench's simulated cost, as ``api.simulate_train_eval`` accounts it:
``train-all-time + valid-per-time`` (the whole training run plus one validation pass), taken
from ``cifar10-valid`` for ``cifar10``.
"""

from __future__ import annotations

import csv
import functools
import os
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfnas.bounded import read_file
from tfnas.checks import is_integer
from tfnas.config import ENV_VAR, DataNotFoundError, data_root
from tfnas.datasets import TARGET_DATASETS, dataset_names, valid_dataset
from tfnas.errors import TfnasError, one_line, shown, shown_path
from tfnas.spaces import Arch, SearchSpace, get_space, space_names

EPOCHS = (12, 200)
SPLITS = ("valid", "test")
PROXY_DATASETS = TARGET_DATASETS
ORACLE_DATASETS = dataset_names()
TABLE_FILES_12 = {d: f"tss-12epoch-{d}.csv" for d in ("cifar10-valid", "cifar100", "ImageNet16-120")}
TABLE_FILE_200 = "tss-200epoch-test.csv"
REQUIRED_12 = ("valid-accuracy", "test-accuracy", "train-all-time", "valid-per-time")
"""The columns of a 12-epoch CSV the oracle reads (the 200-epoch CSV needs PROXY_DATASETS)."""
MAX_NATS_CSV_BYTES = 16 * 1024 * 1024
"""The most of a NATS-Bench CSV read: the official exports are 2.2 to 4.9 MB (a 12-epoch row of
12 values is at most ~400 bytes even in full ``repr``, 6.3 MB for 15,625 rows)."""
MAX_NATS_LINE_CHARS = 4096
"""The longest CSV line accepted (official rows are at most 331 characters)."""
MAX_NATS_COLUMNS = 64
"""The most columns accepted (the official exports have 14 and 5)."""
MAX_SECONDS = 1e7
"""The largest simulated time accepted, about 116 days (the official 12-epoch maximum is 1,260 s)."""
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A plain ASCII decimal: what the exports hold (no ``nan``/``inf`` text, no Unicode digits)."""


class OracleQueryError(TfnasError, KeyError, ValueError):
    """A query for an arch, dataset, split or epoch count the oracle cannot answer."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class OracleTypeError(TfnasError, TypeError):
    """An argument of the wrong type given to an oracle (a bool arch, ``trial=True`` …)."""


class TableFormatError(TfnasError, ValueError):
    """A NATS-Bench table that is malformed or disagrees with the official arch order."""


class Accuracies(NamedTuple):
    """The paper's three numbers for one cell on one proxy dataset."""

    valid12: float  # 12-epoch validation accuracy, percent
    test200: float  # 200-epoch test accuracy, percent
    train_time12: float | None  # simulated 12-epoch training time, seconds


def _index(arch: object, space: SearchSpace) -> int:
    """The official index of ``arch`` (an architecture of ``space``, its spelling or an index)."""
    if isinstance(arch, bool):
        raise OracleTypeError("arch must be an arch, an arch string or an index, got bool")
    if isinstance(arch, int | np.integer):
        return space.check_index(int(arch))  # range and type check with the space's own message
    return space.index_of(space.as_arch(arch))


def archived_spaces() -> tuple[str, ...]:
    """The registered spaces that have a NATS-Bench archive (:attr:`SearchSpace.archive_name`)."""
    return tuple(name for name in space_names() if get_space(name).archive_name)


def _check_query(dataset: str, epochs: int, split: str, allowed: tuple[int, ...] = EPOCHS) -> None:
    if dataset not in ORACLE_DATASETS:
        raise OracleQueryError(f"unknown dataset {dataset!r}; available: {', '.join(ORACLE_DATASETS)}")
    if not is_integer(epochs):
        raise OracleTypeError(f"epochs must be an int ({' or '.join(map(str, allowed))}), got {type(epochs).__name__}")
    if epochs not in allowed:
        raise OracleQueryError(f"NATS-Bench trained for {' or '.join(map(str, allowed))} epochs, not {epochs}")
    if split not in SPLITS:
        raise OracleQueryError(f"unknown split {split!r}; available: {', '.join(SPLITS)}")
    if dataset == "cifar10" and split == "valid":
        raise OracleQueryError(
            "NATS-Bench's cifar10 has no validation split (it trains on train+valid); "
            "ask for dataset 'cifar10-valid'"
        )


class AccuracyOracle(ABC):
    """What NATS-Bench reports for a trained cell. ``arch`` is an Arch, its string or its index."""

    name: str = "oracle"
    full_epochs: int = 200
    """The training length of :attr:`Accuracies.test200` (the size space's archive: 90)."""

    @abstractmethod
    def accuracy(self, arch: Arch | str | int, dataset: str, epochs: int, split: str) -> float:
        """Accuracy in percent after ``epochs`` (12 or 200) on ``split`` ('valid' or 'test')."""

    @abstractmethod
    def train_time(self, arch: Arch | str | int, dataset: str, epochs: int = 12) -> float | None:
        """Simulated training time in seconds (``train-all-time + valid-per-time``), or None."""

    def accuracies(self, arch: Arch | str | int, dataset: str) -> Accuracies:
        """The paper's numbers for a proxy dataset (cifar10 ↔ cifar10-valid mapped as it does)."""
        if dataset == "cifar10-valid":
            dataset = "cifar10"
        if dataset not in PROXY_DATASETS:
            raise OracleQueryError(f"unknown proxy dataset {dataset!r}; available: {', '.join(PROXY_DATASETS)}")
        return Accuracies(
            valid12=self.accuracy(arch, valid_dataset(dataset), 12, "valid"),
            test200=self.accuracy(arch, dataset, self.full_epochs, "test"),
            train_time12=self.train_time(arch, dataset, 12),
        )


class TableOracle(AccuracyOracle):
    """The NATS-Bench CSV exports in ``$TFNAS_DATA/nats-tss``, loaded once, queried in O(1).

    Holds 12-epoch valid/test accuracy and times of cifar10-valid, cifar100 and ImageNet16-120
    (the cifar10-valid table is one random trial per cell, as the paper used), and 200-epoch
    test accuracy (seed mean) of cifar10, cifar100 and ImageNet16-120.
    """

    name = "tables"
    space: SearchSpace = get_space("tss")
    """The tables are the topology space's."""

    def __init__(self, root: str | Path | None = None) -> None:
        if root is None:
            base = data_root()
            assert base is not None
            root = base / "nats-tss"
        self.root = Path(root)
        self._columns: dict[tuple[str, int, str], np.ndarray] = {}
        self._times: dict[str, np.ndarray] = {}
        expected = [self.space.format(a) for a in self.space.all_cells()]
        for dataset, filename in TABLE_FILES_12.items():
            table = _read_table(self.root / filename, expected, REQUIRED_12)
            for split in SPLITS:
                self._columns[(dataset, 12, split)] = table[f"{split}-accuracy"]
            self._times[dataset] = _frozen(_training_times(self.root / filename, table))
        table = _read_table(self.root / TABLE_FILE_200, expected, PROXY_DATASETS)
        for dataset in PROXY_DATASETS:
            self._columns[(dataset, 200, "test")] = table[dataset]

    def available(self) -> list[tuple[str, int, str]]:
        """The ``(dataset, epochs, split)`` combinations these tables hold."""
        return sorted(self._columns)

    def column(self, dataset: str, epochs: int, split: str) -> np.ndarray:
        """Accuracy of all 15,625 cells in official index order (read-only)."""
        _check_query(dataset, epochs, split)
        try:
            return self._columns[(dataset, int(epochs), split)]
        except KeyError:
            raise OracleQueryError(
                f"the NATS-Bench tables hold no {epochs}-epoch {split} accuracy for {dataset}; "
                f"available (dataset, epochs, split): {self.available()}"
            ) from None

    def time_column(self, dataset: str) -> np.ndarray:
        """Simulated 12-epoch training time of all cells in index order (cifar10 → cifar10-valid)."""
        if dataset not in ORACLE_DATASETS:
            raise OracleQueryError(f"unknown dataset {dataset!r}; available: {', '.join(ORACLE_DATASETS)}")
        return self._times[valid_dataset(dataset)]

    def accuracy(self, arch: Arch | str | int, dataset: str, epochs: int, split: str) -> float:
        return float(self.column(dataset, epochs, split)[_index(arch, self.space)])

    def train_time(self, arch: Arch | str | int, dataset: str, epochs: int = 12) -> float | None:
        """12-epoch simulated time; None for 200 epochs (the tables hold no 200-epoch times)."""
        _check_query(valid_dataset(dataset), epochs, "valid")
        if epochs == 200:
            return None
        return float(self.time_column(dataset)[_index(arch, self.space)])


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _csv_text(path: Path) -> str:
    """The file's text, read up to :data:`MAX_NATS_CSV_BYTES` and decoded as UTF-8."""
    where = shown_path(path)
    data = read_file(path, MAX_NATS_CSV_BYTES, TableFormatError, "NATS-Bench table",
                     "the NATS-Bench CSV exports are 2 to 5 MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TableFormatError(f"{where} is not UTF-8 text (byte {exc.start}: {exc.reason})") from exc


def _csv_lines(where: str, text: str) -> Iterator[str]:
    """The lines of ``text``, refusing one longer than any row can be before csv parses it.

    Slices of ``text`` one at a time (``io.StringIO`` would hold a second, 4-byte-per-character
    copy of the whole file).
    """
    start, number = 0, 0
    while start < len(text):
        end = text.find("\n", start, start + MAX_NATS_LINE_CHARS + 1)
        number += 1
        if end < 0 and len(text) - start > MAX_NATS_LINE_CHARS:
            raise TableFormatError(
                f"{where}: line {number} is over {MAX_NATS_LINE_CHARS} characters; a NATS-Bench "
                "row is a few hundred"
            )
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _check_header(where: str, header: list[str] | None, required: tuple[str, ...]) -> list[str]:
    """The header, refused unless it is ``index,arch`` then unique names including ``required``."""
    if not header or header[:2] != ["index", "arch"]:
        raise TableFormatError(f"{where}: the header must start with 'index,arch', got {shown(header)}")
    if len(header) > MAX_NATS_COLUMNS:
        raise TableFormatError(
            f"{where}: the header has {len(header)} columns, more than {MAX_NATS_COLUMNS}"
        )
    if len(set(header)) != len(header):
        raise TableFormatError(f"{where}: the header repeats a column name: {shown(header)}")
    missing = [name for name in required if name not in header]
    if missing:
        raise TableFormatError(
            f"{where} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; expected "
            f"index, arch, {', '.join(required)} (it has {shown(', '.join(header))})"
        )
    return header


def _value_rule(name: str) -> tuple[float, float, str]:
    """``(low, high, description)`` every value of column ``name`` must satisfy."""
    if name.endswith("-accuracy") or name in PROXY_DATASETS:
        return 0.0, 100.0, "an accuracy within [0, 100] percent"
    if name.endswith("-time"):
        return 0.0, MAX_SECONDS, f"a time within [0, {MAX_SECONDS:g}] seconds"
    if name.endswith("-loss"):
        return 0.0, np.inf, "a finite loss >= 0"
    return -np.inf, np.inf, "a finite number"


def _check_values(where: str, names: list[str], values: np.ndarray) -> None:
    """Every value finite and within its column's rule (:func:`_value_rule`)."""
    for k, name in enumerate(names):
        low, high, what = _value_rule(name)
        column = values[:, k]
        bad = ~np.isfinite(column) | (column < low) | (column > high)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TableFormatError(
                f"{where}: row {row + 2} column {shown(name)} is {shown(float(column[row]))}; "
                f"expected {what}"
            )


def _parse_row(where: str, position: int, row: list[str], width: int, arch: str) -> list[float]:
    """The values of data row ``position`` (0-based), checked against the official arch."""
    if len(row) != width:
        raise TableFormatError(f"{where}: row {position + 2} has {len(row)} fields, expected {width}")
    if row[0] != str(position) or row[1] != arch:
        raise TableFormatError(
            f"{where}: row {position + 2} is index {shown(row[0])} arch {shown(row[1])}, but the "
            f"official NATS-Bench index {position} is {arch}"
        )
    for field in row[2:]:
        if not _NUMBER.fullmatch(field):
            raise TableFormatError(
                f"{where}: row {position + 2}: non-numeric value {shown(field)}; expected a "
                "decimal number"
            )
    return [float(field) for field in row[2:]]


def _read_table(
    path: Path, expected_archs: list[str], required: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """One NATS-Bench CSV export as columns, refused in one line unless it is exactly valid.

    Valid: at most :data:`MAX_NATS_CSV_BYTES` of UTF-8, the header ``index,arch,...`` naming
    every ``required`` column, one row per cell in official order, every value a plain decimal
    (no ``nan``/``inf`` text) that is finite and fits its column (:func:`_value_rule`).
    Memory stays bounded by the file-size, line-length and column-count caps.
    """
    where = shown_path(path)
    try:
        is_file = path.is_file()
    except OSError as exc:  # a name too long, a folder that cannot be searched
        raise TableFormatError(
            f"{where} cannot be examined: {exc.strerror or type(exc).__name__}"
        ) from exc
    if not is_file:
        raise DataNotFoundError(
            f"NATS-Bench table {where} does not exist; set {ENV_VAR} to a folder whose nats-tss/ "
            f"holds {', '.join([*TABLE_FILES_12.values(), TABLE_FILE_200])}"
        )
    reader = csv.reader(_csv_lines(where, _csv_text(path)))
    try:
        header = _check_header(where, next(reader, None), required)
        size = len(expected_archs)
        values = np.empty((size, len(header) - 2), dtype=np.float64)
        count = 0
        for position, row in enumerate(reader):
            if position >= size:
                raise TableFormatError(
                    f"{where}: expected {size} rows (one per cell), got more"
                )
            values[position] = _parse_row(where, position, row, len(header), expected_archs[position])
            count += 1
    except csv.Error as exc:
        raise TableFormatError(f"{where}: not a well-formed CSV file ({one_line(exc)})") from exc
    if count != size:
        raise TableFormatError(f"{where}: expected {size} rows (one per cell), got {count}")
    _check_values(where, header[2:], values)
    return {name: _frozen(values[:, k].copy()) for k, name in enumerate(header[2:])}


def _training_times(path: Path, table: dict[str, np.ndarray]) -> np.ndarray:
    """``train-all-time + valid-per-time`` per cell, refused unless positive (a search's clock
    must advance with every cell it trains)."""
    times = table["train-all-time"] + table["valid-per-time"]
    bad = ~(times > 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TableFormatError(
            f"{shown_path(path)}: row {row + 2}: train-all-time + valid-per-time is "
            f"{shown(float(times[row]))}; a cell's simulated training time must be positive"
        )
    return times


def default_archive_path(space: str | SearchSpace = "tss") -> Path:
    """Where ``nats_bench`` looks for a space's archive: ``$TORCH_HOME`` (default ``~/.torch``)."""
    found = get_space(space)
    if not found.archive_name:
        raise OracleQueryError(f"NATS-Bench has no archive for the space {found.name!r}; it has "
                               f"{', '.join(archived_spaces())}")
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(os.path.expanduser("~"), ".torch")
    return Path(torch_home) / found.archive_name


def archive_space(path: Path) -> str:
    """The space of the archive at ``path``: from its folder name (``NATS-sss-...``), else from
    the number of cells its meta lists; ``"tss"`` when neither says."""
    from tfnas import nats_archive

    tokens = set(path.name.replace("_", "-").split("-"))
    for name in archived_spaces():
        if name in tokens:
            return name
    meta = path / "meta.pickle.pbz2"
    if meta.is_file():
        archs = nats_archive.load_file(meta)
        archs = archs.get("meta_archs") if isinstance(archs, dict) else None
        for name in archived_spaces():
            if isinstance(archs, list) and len(archs) == get_space(name).size:
                return name
    return "tss"


class NatsBenchOracle(AccuracyOracle):
    """The official ``nats_bench`` API over a fast-mode archive of the topology space
    (``$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple``) or the size space
    (``$TORCH_HOME/NATS-sss-v1_0-50262-simple``).

    ``space`` (``"tss"``, ``"sss"`` or a :class:`~tfnas.spaces.SearchSpace`) says which; by
    default it is read from the archive (:func:`archive_space`), and with neither ``path`` nor
    ``space`` it is the topology archive. Cells are given as the space's arch, its string or its
    index. The size archive holds 1, 12 and 90 epochs (:attr:`full_epochs` is 90 there, so
    :meth:`accuracies`' ``test200`` is its 90-epoch test accuracy).

    ``trial=False`` (default) answers the mean over training seeds; an int answers that seed's
    trial; a ``random.Random`` picks one of the cell's seeds per query from that generator. The
    API's own ``is_random=True`` (the global random state) is never used.

    Every archive file is read through :mod:`tfnas.nats_archive` (installed before each call
    into the API): bounded bz2, then the restricted unpickler, so no archive runs code. A file
    the API cannot use raises :class:`~tfnas.nats_archive.ArchiveError`.
    """

    name = "nats_bench"

    def __init__(self, path: str | Path | None = None, trial: bool | int | random.Random = False,
                 space: str | SearchSpace | None = None) -> None:
        if trial is True:
            raise OracleTypeError(
                "trial=True would draw from the global random state; pass a random.Random or a seed"
            )
        if not (trial is False or isinstance(trial, random.Random) or isinstance(trial, int)):
            raise OracleTypeError(f"trial must be False, an int seed or a random.Random, got {type(trial).__name__}")
        named = None if space is None else get_space(space)
        if named is not None and not named.archive_name:
            raise OracleQueryError(
                f"NATS-Bench has no archive for the space {named.name!r}; it has "
                f"{', '.join(archived_spaces())}"
            )
        guess = named or get_space("tss")  # the space a missing archive would have been
        self.path = Path(path) if path is not None else default_archive_path(guess)
        if not (self.path / "meta.pickle.pbz2").is_file():
            raise DataNotFoundError(
                f"no NATS-Bench {guess.word} archive at {self.path} (meta.pickle.pbz2 "
                f"missing). Download {guess.archive_name}.tar (https://github.com/D-X-Y/NATS-Bench) "
                f"and extract it into $TORCH_HOME (now {self.path.parent}), or pass its path."
            )
        self.space = named or get_space(self._call(lambda: archive_space(self.path)))
        self.full_epochs = self.space.archive_epochs[-1]
        import nats_bench

        self.trial = trial
        self.api = self._call(
            lambda: nats_bench.create(str(self.path), self.space.name, fast_mode=True, verbose=False)
        )
        self._check_order()

    @property
    def _word(self) -> str:
        """``topology`` or ``size``, for messages (topology until the space is known)."""
        space = getattr(self, "space", None)
        return get_space("tss" if space is None else space).word

    def _call(self, call):  # type: ignore[no-untyped-def]
        """``call()`` with the safe archive loader installed; the API's failures on a malformed
        archive (asserts, KeyErrors …) become one-line :class:`ArchiveError`s."""
        from tfnas import nats_archive

        nats_archive.install()
        try:
            return call()
        except TfnasError:
            raise
        except (AssertionError, AttributeError, KeyError, IndexError, TypeError, ValueError,
                OverflowError, RecursionError, MemoryError) as exc:
            raise nats_archive.ArchiveError(
                f"{self.path}: not a usable NATS-Bench {self._word} archive ({type(exc).__name__}: "
                f"{one_line(exc, 160)})"
            ) from None

    def _check_order(self) -> None:
        """The archive's cells must be the space's, in the official order (answers are by index)."""
        from tfnas.nats_archive import ArchiveError

        meta = getattr(self.api, "meta_archs", None)
        expected = [self.space.format(arch) for arch in self.space.all_cells()]
        if not isinstance(meta, list) or meta != expected:
            count = len(meta) if isinstance(meta, list) else type(meta).__name__
            raise ArchiveError(
                f"{self.path}: meta.pickle.pbz2 does not list the {self.space.size} cells in the "
                f"official NATS-Bench order (it holds {count}); expected the "
                f"{self.space.word} ({self.space.name}) archive"
            )

    def _index(self, arch: object) -> int:
        """The index of ``arch`` (the space's arch, its string or an index) in this archive."""
        return _index(arch, self.space)

    def _held(self) -> list[int]:
        names = (p.name.split(".")[0] for p in self.path.glob("*.pickle.pbz2"))
        return sorted(int(name) for name in names if name.isascii() and name.isdigit())

    def _info(self, index: int, dataset: str, epochs: int) -> dict:
        # fast mode reads one file per cell: 000123.pickle.pbz2 (or 123.pickle.pbz2)
        if not any((self.path / f"{name}.pickle.pbz2").is_file() for name in (f"{index:06d}", str(index))):
            held = self._held()
            listed = ", ".join(map(str, held[:20])) + (", ..." if len(held) > 20 else "")
            raise OracleQueryError(
                f"cell {index} is not in this archive ({self.path}); it holds {len(held)} cells: {listed}"
            )
        hp = f"{epochs:02d}"  # the archives' keys: '01', '12', '90', '200'
        self._call(lambda: self.api._prepare_info(index))
        seeds = self._call(
            lambda: sorted(self.api.arch2infos_dict[index][hp].get_dataset_seeds(dataset))
        )
        trial: bool | int = False
        if isinstance(self.trial, random.Random):
            trial = self._call(lambda: self.trial.choice(seeds))  # type: ignore[union-attr]
        elif self.trial is not False:
            if self.trial not in seeds:
                raise OracleQueryError(
                    f"cell {index} has no trial with seed {shown(self.trial)} for {dataset} at "
                    f"{epochs} epochs; its seeds are {shown(seeds)}"
                )
            trial = int(self.trial)
        info = self._call(
            lambda: self.api.get_more_info(index, dataset, iepoch=None, hp=hp, is_random=trial)
        )
        if not isinstance(info, dict):
            raise self._bad(index, f"the API answered a {type(info).__name__}")
        return info

    def _bad(self, index: int, why: str) -> TfnasError:
        from tfnas.nats_archive import ArchiveError

        return ArchiveError(f"{self.path}: cell {index} of this archive is not usable: {why}")

    def _number(self, info: dict, key: str, index: int, high: float) -> float:
        """``info[key]`` as a finite float in 0..high (accuracies: percent; times: seconds)."""
        value = info.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise self._bad(index, f"{key} is {shown(value)}, expected a number")
        number = float(value)
        if not 0 <= number <= high:  # also refuses NaN
            raise self._bad(index, f"{key} is {shown(number)}, expected a number in 0..{high:g}")
        return number

    def accuracy(self, arch: Arch | str | int, dataset: str, epochs: int, split: str) -> float:
        _check_query(dataset, epochs, split, self.space.archive_epochs)
        index = self._index(arch)
        return self._number(self._info(index, dataset, int(epochs)), f"{split}-accuracy", index, 100.0)

    def train_time(self, arch: Arch | str | int, dataset: str, epochs: int = 12) -> float | None:
        name = valid_dataset(dataset)
        _check_query(name, epochs, "valid", self.space.archive_epochs)
        index = self._index(arch)
        info = self._info(index, name, int(epochs))
        limit = 1e9  # seconds, about 30 years: any real simulated time is far below
        return self._number(info, "train-all-time", index, limit) + self._number(
            info, "valid-per-time", index, limit
        )


@functools.lru_cache(maxsize=4)
def _table_oracle_at(root: str) -> TableOracle:
    return TableOracle(Path(root))


def default_oracle() -> TableOracle:
    """The :class:`TableOracle` over ``$TFNAS_DATA/nats-tss``, loaded once per process."""
    root = data_root()
    assert root is not None
    return _table_oracle_at(str((root / "nats-tss").resolve()))
