"""The member scores of an ensemble proxy's cells: scored live (through a store) or looked up.

An ensemble (``vote``, ``az_nas``) combines its members' scores over a population of cells, so
whoever ranks a population first needs, per cell, every member's score. Two sources give them,
both callables ``Arch -> tuple of member scores`` (in the ensemble's ``members`` order):

* :class:`LiveMembers` scores the members with :func:`tfnas.scoring.score_many` (one network
  and one shared pass per batch group, bit for bit :func:`tfnas.scoring.score`), through a
  :class:`~tfnas.store.ScoreStore` if given: each member under its own
  :func:`~tfnas.scoring.settings_key`, exactly the rows ``tfnas score --proxy <member>`` and
  ``tfnas sweep`` write, so a store filled by either serves an ensemble and the other way round;
* :class:`TableMembers` looks them up in precomputed mappings (score tables, a sweep's store).

Both keep every cell's member scores once read (a search revisits cells, repeats redraw them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfnas.checks import ArgumentError, ArgumentTypeError, check_seed
from tfnas.errors import TfnasError, shown
from tfnas.proxies import get_proxy
from tfnas.spaces import Arch, SearchSpace, get_space, resolve
from tfnas.store import ScoreStore


class MissingMemberScoreError(TfnasError, KeyError):
    """Precomputed member scores lack a cell that was asked for."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def ensemble_members(proxy: str) -> tuple[str, ...]:
    """The members of the ensemble ``proxy``; a one-line error for a proxy that is none."""
    spec = get_proxy(proxy)
    if not spec.ensemble:
        raise ArgumentError(
            f"proxy {proxy!r} scores one network, it is not an ensemble (vote, az_nas): score it "
            "with tfnas.scoring.score")
    return spec.members


class LiveMembers:
    """Every member's live score of a cell, all members of a cell in one ``score_many`` pass
    (read from and written to ``store`` when given, each member under its own settings key)."""

    def __init__(self, members: tuple[str, ...], dataset: str, seed: int = 0,
                 batch_size: int | None = None, store: ScoreStore | None = None,
                 space: str | SearchSpace | None = None, precision: str = "float32",
                 device: object = None) -> None:
        """``batch_size``: every member's batch (default: each member's reference batch);
        the other arguments as :class:`tfnas.search.ProxyScorer` takes them."""
        from tfnas.datasets import get_dataset
        from tfnas.devices import check_device
        from tfnas.scoring import batch_for, check_precision

        if store is not None and not isinstance(store, ScoreStore):
            raise ArgumentTypeError(f"store must be a ScoreStore or None, got {type(store).__name__}")
        self.space = get_space(space)
        if store is not None and store.space is not self.space:
            raise ArgumentError(
                f"the score store {shown(str(store.path))} is open for the {store.space.name} "
                f"space; to score the {self.space.name} space open it with "
                f"ScoreStore(path, space={self.space.name!r})")
        get_dataset(dataset)
        self.members, self.dataset = tuple(members), dataset
        self.seed = check_seed(seed)
        for member in self.members:
            batch_for(member, batch_size)  # refuses a batch above a member's memory bound
        self.batch_size = batch_size
        self.precision = check_precision(precision)
        self.device = check_device(device)
        self.store = store
        self.store_hits = 0
        """Member scores read from the store."""
        self.scorings = 0
        """Member scores computed live."""
        self._settings: dict[str, str] = {}
        self._known: dict[Arch, tuple[float, ...]] = {}
        self.seconds: dict[Arch, dict[str, float]] = {}
        """Per cell, each member's share of its scoring time (0 for a score read from the store)."""

    def settings(self, member: str) -> str:
        """The store key's settings of ``member`` (computed once; it may hash the data batch)."""
        if member not in self._settings:
            from tfnas.scoring import settings_key

            self._settings[member] = settings_key(member, self.dataset, self.seed,
                                                  self.batch_size, self.precision, self.device)
        return self._settings[member]

    def __call__(self, arch: Arch | str) -> tuple[float, ...]:
        arch = self.space.as_arch(arch)
        known = self._known.get(arch)
        if known is None:
            known = self._known[arch] = self._read_or_score(arch)
        return known

    def _read_or_score(self, arch: Arch) -> tuple[float, ...]:
        from tfnas.scoring import score_many

        found: dict[str, float] = {}
        seconds = self.seconds.setdefault(arch, {})
        if self.store is not None:
            for member in self.members:
                stored = self.store.get(member, self.dataset, arch, self.settings(member))
                if stored is not None:
                    found[member], seconds[member] = stored, 0.0
                    self.store_hits += 1
        missing = [m for m in self.members if m not in found]
        if missing:
            scored = score_many(arch, missing, self.dataset, self.seed, self.batch_size,
                                space=self.space, precision=self.precision, device=self.device)
            self.scorings += len(missing)
            for member in missing:  # each its share of its pass, as a sweep stores it
                found[member], seconds[member] = scored[member].score, scored[member].seconds
            if self.store is not None:
                self.store.put_many([(m, self.dataset, arch, self.settings(m), found[m],
                                      seconds[m]) for m in missing])
        return tuple(found[m] for m in self.members)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "dataset": self.dataset, "seed": self.seed, "batch_size": self.batch_size,
            "store": None if self.store is None else str(self.store.path)}
        if self.precision != "float32":
            described["precision"] = self.precision
        if self.device.type != "cpu":
            described["device"] = str(self.device)
        return described


class TableMembers:
    """Member scores looked up in precomputed mappings ``{member: {cell: score}}``."""

    def __init__(self, members: tuple[str, ...], scores: Mapping[str, Mapping[Arch, float]],
                 space: str | SearchSpace | None = None, name: str = "precomputed") -> None:
        """``scores``: per member, its scores by cell (e.g. ``load_table(member, ...).scores``);
        ``name`` says where they come from in :meth:`describe`."""
        if not isinstance(scores, Mapping):
            raise ArgumentTypeError(
                f"member scores must map member names to {{cell: score}} mappings, got "
                f"{type(scores).__name__}")
        missing = [m for m in members if m not in scores]
        if missing:
            raise ArgumentError(f"the member scores lack {', '.join(missing)}; expected "
                                f"{', '.join(members)}")
        for member in members:
            if not isinstance(scores[member], Mapping):
                raise ArgumentTypeError(
                    f"member scores of {member!r} must map cells to scores, got "
                    f"{type(scores[member]).__name__}")
        self.members = tuple(members)
        self.space = get_space(space)
        self.name = name
        self.store_hits = 0
        self.scorings = 0
        self._tables = [scores[m] for m in self.members]

    def __call__(self, arch: Arch | str) -> tuple[float, ...]:
        arch = self.space.as_arch(arch)
        values = []
        for member, table in zip(self.members, self._tables, strict=True):
            value = table.get(arch)
            if value is None:
                raise MissingMemberScoreError(
                    f"the {self.name} scores of {member!r} ({len(table):,} cells) have none for "
                    f"cell {shown(str(arch))}")
            values.append(float(value))
        return tuple(values)

    def describe(self) -> dict[str, Any]:
        return {"member_scores": self.name,
                "cells": {m: len(t) for m, t in zip(self.members, self._tables, strict=True)}}


def score_population(
    archs: Sequence[Arch | str],
    proxy: str,
    dataset: str,
    seed: int = 0,
    space: str | SearchSpace | None = None,
    store: object = None,
    member_scores: dict[str, dict[Arch, float]] | None = None,
    progress: bool | None = None,
) -> list[float]:
    """The ensemble ``proxy``'s scores of a population of cells: its members' scores of each
    cell, combined by the ensemble's rule over this population (every cell as given, a repeated
    one counted again).

    The members are scored live, each at its reference batch, in one :func:`~tfnas.scoring.score_many` pass per
    cell, through ``store`` (a :class:`tfnas.store.ScoreStore`) if given, each member under its
    own :func:`~tfnas.scoring.settings_key` (a stored score is read, a new one written); or their scores are
    looked up in ``member_scores`` (per member, a mapping of its scores by cell, e.g.
    ``tfnas.tables.load_table(member, ...).scores``). ``progress``: as :mod:`tfnas.progress`
    shows it (``None``: a bar on a terminal or in a notebook, a line every 30 s in logs).
    """
    import numpy as np

    from tfnas.progress import Progress

    members = ensemble_members(proxy)
    if isinstance(archs, str) or len(archs) < 1:
        raise ArgumentError("archs must be a non-empty sequence of cells")
    if store is not None and member_scores is not None:
        raise ArgumentError("pass store= (members scored live) or member_scores= (looked up), "
                            "not both")
    searched = resolve(archs[0], space)[1] if space is None else space
    source = (TableMembers(members, member_scores, searched) if member_scores is not None
              else LiveMembers(members, dataset, seed, store=store, space=searched))
    rows = []
    with Progress(len(archs), f"{proxy} population", "cell", show=progress) as bar:
        for arch in archs:
            rows.append(source(arch))
            bar.update(1)
    columns = {m: np.asarray([row[k] for row in rows], dtype=float) for k, m in enumerate(members)}
    combined = get_proxy(proxy).function(columns)
    return [float(v) for v in np.asarray(combined, dtype=float)]
