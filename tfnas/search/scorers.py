"""Fitness functions for the searches: a live proxy, a precomputed table, or the true accuracy.

A scorer is any callable ``Arch -> float`` with a ``name`` and a ``memoised`` flag. ``memoised``
tells the searches that the scorer is deterministic and costly, so a search run serves a
revisited cell from its own per-run memo (REA revisits cells). A scorer with
``simulated = True`` and ``cost(arch) -> float`` charges simulated seconds per evaluation (the accuracy oracle: NATS-Bench
training time), which makes time-budgeted searches reproducible without training.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from tfnas.checks import (
    ArgumentError,
    ArgumentTypeError,
    check_seed,
)
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import TfnasError, shown
from tfnas.spaces import Arch, SearchSpace, get_space, resolve
from tfnas.store import ScoreStore

DATASETS = TARGET_DATASETS


class MissingScoreError(TfnasError, KeyError):
    """A table scorer was asked for a cell its table does not hold."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@runtime_checkable
class Scorer(Protocol):
    name: str
    memoised: bool

    def __call__(self, arch: Arch) -> float: ...


def _check_dataset(dataset: object) -> str:
    if dataset not in DATASETS:
        raise ArgumentError(f"unknown dataset {shown(dataset)}; expected one of {', '.join(DATASETS)}")
    return dataset  # type: ignore[return-value]


class ProxyScorer:
    """Scores cells live with :func:`tfnas.scoring.score`, through a :class:`ScoreStore` if given."""

    memoised = True

    def __init__(self, proxy: str, dataset: str, seed: int = 0, batch_size: int | None = None,
                 store: ScoreStore | None = None, settings: str | None = None,
                 space: str | SearchSpace | None = None, precision: str = "float32",
                 device: str | Any = None) -> None:
        """``settings``: the store key's settings if the caller computed them already;
        ``space``: the search space of the cells (default: the topology space);
        ``precision``: the arithmetic (:mod:`tfnas.scoring`, Precision); ``device``: where the
        networks are scored (:mod:`tfnas.devices`)."""
        from tfnas.devices import check_device
        from tfnas.scoring import check_precision

        if not isinstance(proxy, str) or not proxy:
            raise ArgumentTypeError(f"proxy must be a non-empty str, got {shown(proxy)}")
        if store is not None and not isinstance(store, ScoreStore):
            raise ArgumentTypeError(
                f"store must be a ScoreStore or None, got {type(store).__name__}"
            )
        self.space = get_space(space)
        if store is not None and store.space is not self.space:
            raise ArgumentError(
                f"the score store {shown(str(store.path))} is open for the {store.space.name} "
                f"space; to score the {self.space.name} space open it with "
                f"ScoreStore(path, space={self.space.name!r})"
            )
        self.proxy, self.dataset = proxy, _check_dataset(dataset)
        self.seed = check_seed(seed)
        from tfnas.scoring import batch_for

        self.batch_size = batch_for(proxy, batch_size)
        self.precision = check_precision(precision)
        self.device = check_device(device)
        self.store = store
        self.name = proxy
        self.store_hits = 0
        self._settings: str | None = settings

    @property
    def settings(self) -> str:
        """The store key's settings text (computed once; it may hash the data batch)."""
        if self._settings is None:
            from tfnas.scoring import settings_key

            self._settings = settings_key(self.proxy, self.dataset, self.seed, self.batch_size,
                                          self.precision, self.device)
        return self._settings

    def __call__(self, arch: Arch) -> float:
        from tfnas.scoring import score

        arch = self.space.as_arch(arch)
        if self.store is not None:
            stored = self.store.get(self.proxy, self.dataset, arch, self.settings)
            if stored is not None:
                self.store_hits += 1
                return stored
        start = time.perf_counter()
        value = float(score(arch, self.proxy, self.dataset, seed=self.seed,
                            batch_size=self.batch_size, space=self.space,
                            precision=self.precision, device=self.device))
        if self.store is not None:
            self.store.put(self.proxy, self.dataset, arch, self.settings, value,
                           time.perf_counter() - start)
        return value

    def describe(self) -> dict[str, Any]:
        described = {"proxy": self.proxy, "dataset": self.dataset, "seed": self.seed,
                     "batch_size": self.batch_size,
                     "store": None if self.store is None else str(self.store.path)}
        if self.precision != "float32":
            described["precision"] = self.precision
        if self.device.type != "cpu":
            described["device"] = str(self.device)
        if self.space is not get_space(None):
            described["space"] = self.space.name
        return described


class TableScorer:
    """Looks scores up in a precomputed mapping ``Arch -> score`` (e.g. a sweep's table)."""

    memoised = False

    def __init__(self, scores: Mapping[Arch, float], name: str) -> None:
        if not isinstance(scores, Mapping):
            raise ArgumentTypeError(
                f"scores must be a mapping Arch -> float, got {type(scores).__name__}"
            )
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError(f"name must be a non-empty str, got {shown(name)}")
        self.scores, self.name = scores, name

    def __call__(self, arch: Arch) -> float:
        try:
            return self.scores[arch]
        except KeyError:
            raise MissingScoreError(
                f"the score table {shown(self.name)} ({len(self.scores)} cells) has no score "
                f"for cell {shown(str(arch))} (index {_index(arch)})"
            ) from None

    def describe(self) -> dict[str, Any]:
        return {"table": self.name, "cells": len(self.scores)}


def _index(arch: object) -> int | str:
    """The official index of ``arch`` in its space, or '?' for something no space knows."""
    try:
        cell, space = resolve(arch)
        return space.index_of(cell)
    except TfnasError:
        return "?"


class OracleScorer:
    """The true accuracy from an oracle: the "optimal" baseline and NATS-Bench's REA fitness.

    ``cifar10`` validation accuracy is read from ``cifar10-valid``, as the paper and
    ``simulate_train_eval`` do. With ``epochs=12`` each evaluation is charged the oracle's
    simulated training time (:meth:`cost`), revisits included, as the reference code does
    (``simulated`` is True); the tables hold no 200-epoch times, so 200-epoch fitness runs on the
    wall clock.
    """

    memoised = False

    def __init__(self, oracle: Any, dataset: str, epochs: int = 12, split: str = "valid") -> None:
        for method in ("accuracy", "train_time"):
            if not callable(getattr(oracle, method, None)):
                raise ArgumentTypeError(
                    f"oracle must have an .{method}() method, got {type(oracle).__name__}"
                )
        if epochs not in (12, 200):
            raise ArgumentError(f"NATS-Bench trained for 12 or 200 epochs, not {shown(epochs)}")
        if split not in ("valid", "test"):
            raise ArgumentError(f"split must be 'valid' or 'test', got {shown(split)}")
        self.oracle, self.dataset = oracle, _check_dataset(dataset)
        self.epochs, self.split = epochs, split
        self.simulated = epochs == 12
        self._query = "cifar10-valid" if (dataset, split) == ("cifar10", "valid") else dataset
        self.name = f"oracle-{split}{epochs}"

    def __call__(self, arch: Arch) -> float:
        return float(self.oracle.accuracy(arch, self._query, self.epochs, self.split))

    def cost(self, arch: Arch) -> float:
        """Simulated seconds to train and evaluate ``arch`` (NATS-Bench ``simulate_train_eval``)."""
        seconds = self.oracle.train_time(arch, self.dataset, epochs=self.epochs)
        if seconds is None:
            raise ArgumentError(
                f"the oracle {type(self.oracle).__name__} has no {self.epochs}-epoch training time for "
                f"{self.dataset}; simulated time needs epochs=12"
            )
        return float(seconds)

    def describe(self) -> dict[str, Any]:
        return {"oracle": type(self.oracle).__name__, "dataset": self.dataset,
                "epochs": self.epochs, "split": self.split}
