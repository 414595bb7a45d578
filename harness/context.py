"""The settings of one harness run and the data it loads once; the *not run* outcome signal.

Anything a measurement needs that is not there (a score table, a cell missing from a partial
table) raises :class:`NotRun` with the reason; nothing is skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tfnas.checks import MAX_SEED
from tfnas.errors import TfnasError, shown

T = TypeVar("T")

SCORE_SOURCES = ("tables", "live")
MAX_REPETITIONS = 10_000
"""Most repetitions of a claim protocol or of ``--repetitions``: the paper's largest is 500;
more would run for days."""
MAX_BOOTSTRAP = 100_000
"""Most bootstrap resamples: 200 is the default; beyond 100,000 the interval no longer moves."""


class NotRun(Exception):  # noqa: N818 - an outcome, not an error
    """The claim cannot be measured here; the message is the reason."""


class OptionError(TfnasError, ValueError):
    """A harness run setting (score source, repetitions, bootstrap) is out of range."""


class DataFileError(TfnasError, OSError):
    """A data file the run records (an accuracy or score table it hashes) cannot be read: not a
    regular file, too large, unreadable."""


@dataclass
class Context:
    """Settings of one harness run and the data it loads once (tables, accuracy columns)."""

    score_source: str = "tables"
    tables_root: Path | None = None
    repetitions: int | None = None
    bootstrap: int = 200
    store_path: Path | None = None
    live_protocol: str = "reduced"  # timing claims: "reduced" (cost sample) or "full" searches
    claims_seed: int | None = None
    """Replaces the master seed of every claim (``--claims-seed``); None keeps each claim's own."""
    scoring_noise: bool = True
    """Carry the spread between scoring realisations (:mod:`harness.noise`) into estimates."""
    noise_root: Path | None = None
    """The scoring-noise folder (default ``$TFNAS_NOISE``, else ``benchmarks/noise``:
    :func:`tfnas.config.noise_root`)."""
    _tables: dict[tuple[str, str, str | None], Any] = field(default_factory=dict)
    _columns: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _memo: dict[tuple[str, Hashable], Any] = field(default_factory=dict)
    _scores: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _noise: dict[tuple[str, str, str | None], Any] = field(default_factory=dict)
    _store: Any = None

    def __post_init__(self) -> None:
        if self.score_source not in SCORE_SOURCES:
            raise OptionError(f"score source must be one of {SCORE_SOURCES}, "
                              f"got {shown(self.score_source)}")
        if self.repetitions is not None and not 1 <= self.repetitions <= MAX_REPETITIONS:
            raise OptionError(f"repetitions must be in 1..{MAX_REPETITIONS} (the registry's "
                              f"largest protocol uses 500), got {shown(self.repetitions)}")
        if self.claims_seed is not None and not (
                isinstance(self.claims_seed, int) and 0 <= self.claims_seed <= MAX_SEED):
            raise OptionError(f"claims seed must be an integer in 0..{MAX_SEED} (a master seed), "
                              f"got {shown(self.claims_seed)}")
        if not 1 <= self.bootstrap <= MAX_BOOTSTRAP:
            raise OptionError(f"bootstrap resamples must be in 1..{MAX_BOOTSTRAP} (beyond that "
                              f"the interval no longer moves), got {shown(self.bootstrap)}")

    def memo(self, namespace: str, key: Hashable, make: Callable[[], T], fresh: bool = False) -> T:
        """``make()`` computed once per run for ``(namespace, key)`` and kept: the claims of a run
        that need the same searches, cost samples or estimates share them. ``fresh`` computes it
        again and keeps the new value (a timing claim that must not reuse another's runs)."""
        slot = (namespace, key)
        if fresh or slot not in self._memo:
            self._memo[slot] = make()
        return self._memo[slot]

    def has_memo(self, namespace: str, key: Hashable) -> bool:
        """True when ``(namespace, key)`` was computed in this run."""
        return (namespace, key) in self._memo

    def run_key(self, protocol: Any) -> str:
        """What decides a claim's measurement in this run: the typed protocol, the master seed
        it runs under, the scoring-noise setting and the repetitions override."""
        return json.dumps({"p": repr(protocol), "seed": self.seed_for(protocol.seed),
                           "noise": self.scoring_noise, "reps": self.repetitions},
                          sort_keys=True)

    def close(self) -> None:
        """Close what the run opened (the live score store); the context stays usable."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def seed_for(self, seed: int) -> int:
        """The master seed a claim runs under: ``claims_seed`` when set, else its own ``seed``."""
        return seed if self.claims_seed is None else self.claims_seed

    def score_column(self, proxy: str, dataset: str) -> np.ndarray:
        """The committed table's scores in cell index order; :class:`NotRun` unless complete
        (a seed-free estimate ranks every cell of the space)."""
        key = (proxy, dataset)
        if key not in self._scores:
            table = self.table(proxy, dataset)
            if not table.complete:
                raise NotRun(f"score table {proxy}/{dataset} is partial ({table.missing} cells "
                             "missing); a seed-free estimate ranks every cell — finish the "
                             "sweep or use --score-source live")
            from harness.noise import score_column

            self._scores[key] = score_column(table)
        return self._scores[key]

    def noise(self, proxy: str, dataset: str, variant: str | None = None) -> Any:
        """The scoring realisations of a table (:func:`harness.noise.load_noise`), or None (none
        recorded, or recorded under other scoring settings than this table's:
        :func:`harness.noise.load_noise`). A partial table's columns hold NaN where it
        has no score (its seed-free searches are not run; its correlations read only the
        re-scored cells, which it holds). A tables ``variant`` that holds the table reads its
        realisations from the noise folder's ``variants/<variant>/`` (the same layout)."""
        key = (proxy, dataset, variant)
        if key not in self._noise:
            from harness.noise import load_noise, score_column
            from tfnas.config import noise_root
            from tfnas.tables import VARIANTS_FOLDER, table_path, variant_root

            table = self.table(proxy, dataset, variant)
            root = self.noise_root
            if variant is not None and table_path(proxy, dataset,
                                                  variant_root(variant, self.tables_root)).exists():
                root = (noise_root() if root is None else root) / VARIANTS_FOLDER / variant
            if variant is None and table.complete:
                base = self.score_column(proxy, dataset)
            else:
                base = score_column(table)
            self._noise[key] = load_noise(proxy, dataset, base, root, table=table)
        return self._noise[key]

    def accuracy_column(self, dataset: str, metric: str) -> np.ndarray:
        """Accuracy of every cell in index order: 12-epoch validation or 200-epoch test."""
        key = (dataset, metric)
        if key not in self._columns:
            from tfnas.datasets import valid_dataset
            from tfnas.oracles import default_oracle

            oracle = default_oracle()
            if metric == "valid12":
                col = oracle.column(valid_dataset(dataset), 12, "valid")
            else:
                col = oracle.column(dataset, 200, "test")
            self._columns[key] = np.asarray(col, dtype=float)
        return self._columns[key]

    def table(self, proxy: str, dataset: str, variant: str | None = None) -> Any:
        """The score table (of the tables variant ``variant``, :func:`tfnas.tables.
        load_variant_table`), or :class:`NotRun` saying why there is none."""
        key = (proxy, dataset, variant)
        if key not in self._tables:
            from tfnas.tables import TableError, TableNotFoundError, load_variant_table

            try:
                self._tables[key] = load_variant_table(proxy, dataset, variant,
                                                       root=self.tables_root)
            except TableNotFoundError as exc:
                if exc.where is None:  # e.g. no such variant: the message names no host path
                    raise NotRun(f"no score table for {proxy}/{dataset}: {exc}") from exc
                # the same words on every host (the README's findings block is checked
                # against CI's run): the file as named, not the directory it was looked from
                raise NotRun(f"no score table for {proxy}/{dataset} at {exc.where}; "
                             f"{exc.remedy}") from exc
            except TableError as exc:
                raise NotRun(f"score table {proxy}/{dataset} unusable: {exc}") from exc
        return self._tables[key]

    def scorer(self, proxy: str, dataset: str, live: bool = False) -> Any:
        """A table scorer, or a live proxy scorer (always live for timing claims)."""
        from tfnas.search import ProxyScorer, TableScorer

        if live or self.score_source == "live":
            store = None
            if self.store_path is not None and not live:
                if self._store is None:  # one store for the run, closed by close()
                    from tfnas.store import ScoreStore

                    self._store = ScoreStore(self.store_path)
                store = self._store
            return ProxyScorer(proxy, dataset, store=store)
        table = self.table(proxy, dataset)
        return TableScorer(table.scores, f"table:{proxy}/{dataset}")
