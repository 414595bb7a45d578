"""Searching with an ensemble proxy (``vote``, ``az_nas``): scores relative to the cells seen.

An ensemble scores a cell within a population (AZ-NAS: ``Σ log(rank/N)`` of its components'
ranks; vote: the fraction of the other cells it beats by majority vote), so a search driven by
one needs a population. The rule here is AZ-NAS's own evolutionary search
(cvlab-yonsei/AZ-NAS ``ImageNet_MBV2/evolution_search_az.py``): **the population is every
distinct cell the run has evaluated so far**, re-ranked whenever a cell joins, and

* a new cell's score (what the trace records for its evaluation) is its ensemble score within
  the cells seen at that moment, itself included. Both scores are normalised by the population's
  size (``log(rank/N)`` is a log-quantile, the Copeland score a fraction), so scores recorded at
  different times are on one scale, but only the current ones are comparable exactly;
* a search that compares earlier cells (REA's tournament) compares their *current* scores
  (:meth:`EnsembleScorer.current`), as the anchor picks parents by the re-ranked scores;
* the run's result is re-ranked once more over every evaluated cell
  (:meth:`EnsembleScorer.final`, the registered ensemble function itself): random search
  returns the argmax of the ensemble over its ``n`` drawn cells, exactly what ranking that
  sample with ``score_population`` gives; REA the argmax over every distinct cell it evaluated
  (first evaluated on ties). The trace's ``best_score`` is that final score.

Each run begins an empty population (:func:`begin_population`); the member scores of a cell are
read or scored once per scorer (:mod:`tfnas.members`) and serve every repeat. Updating the
population per new cell costs ``O(M log N)`` ranks plus ``O(M N)`` list insertion (az_nas) or
``O(M N)`` vectorised comparisons (vote) (:mod:`tfnas.search.population`).

With a table (``tfnas search --table``) the population is instead the whole table: the
ensemble is computed once over its member tables' common cells (:func:`ensemble_table`), the
anchor's NB201 rule (AZ-NAS ranks all 15,625 cells). For a sampled table that is the common
uniform sample, so scores rank within it rather than within the whole space.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tfnas.checks import ArgumentError
from tfnas.members import LiveMembers, TableMembers, ensemble_members
from tfnas.proxies import get_proxy
from tfnas.search.population import population_for
from tfnas.spaces import Arch, SearchSpace, get_space
from tfnas.tables import ScoreTable, TableError, check_settings, load_table, table_path

RULE = ("population-relative: within the distinct cells evaluated so far (a new cell's score at "
        "its evaluation; tournaments compare current scores); the result re-ranked over every "
        "evaluated cell")
"""How an :class:`EnsembleScorer` scores, as its :meth:`~EnsembleScorer.describe` says it."""


@runtime_checkable
class PopulationScorer(Protocol):
    """A scorer whose scores are relative to the cells a run has evaluated."""

    name: str
    memoised: bool

    def __call__(self, arch: Arch) -> float: ...

    def begin(self) -> None:
        """Start a new run: an empty population."""
        ...

    def current(self, arch: Arch) -> float:
        """The current score of a cell this run has evaluated."""
        ...

    def final(self, archs: Sequence[Arch]) -> list[float]:
        """The scores of ``archs`` within the population of their distinct cells."""
        ...


def begin_population(scorer: object) -> PopulationScorer | None:
    """``scorer`` with a new run's empty population when its scores are population-relative,
    else ``None`` (every other scorer: the searches then run exactly as without this)."""
    if isinstance(scorer, PopulationScorer):
        scorer.begin()
        return scorer
    return None


def best_of(scorer: PopulationScorer, archs: Sequence[Arch]) -> tuple[Arch, float]:
    """The first of ``archs`` with the highest final score (NaN lowest), and that score."""
    scores = scorer.final(archs)
    if not scores:
        raise ArgumentError("a search result needs at least one evaluated cell")
    best = max(range(len(scores)),
               key=lambda i: scores[i] if scores[i] == scores[i] else -np.inf)
    return archs[best], scores[best]


class EnsembleScorer:
    """Scores cells with an ensemble proxy within the cells seen so far (module docstring)."""

    memoised = True  # a revisit records the score of the cell's first evaluation (Run's memo)

    def __init__(self, proxy: str, members: LiveMembers | TableMembers) -> None:
        """``members``: where each cell's member scores come from (live, through a store, or
        precomputed); its ``members`` must be ``proxy``'s."""
        expected = ensemble_members(proxy)
        if tuple(getattr(members, "members", ())) != expected:
            raise ArgumentError(
                f"the member scores are for {_listed(getattr(members, 'members', ()))}; "
                f"proxy {proxy!r} combines {', '.join(expected)}")
        self.proxy = self.name = proxy
        self.source = members
        self.space = members.space
        self.dataset = getattr(members, "dataset", None)
        self._function = get_proxy(proxy).function
        self._new_population = lambda: population_for(proxy)
        self.begin()

    @property
    def store_hits(self) -> int:
        """Member scores read from the store (all runs)."""
        return self.source.store_hits

    @property
    def scorings(self) -> int:
        """Member scores computed live (all runs)."""
        return self.source.scorings

    def begin(self) -> None:
        self._population = self._new_population()
        self._index: dict[Arch, int] = {}

    def __call__(self, arch: Arch) -> float:
        arch = self.space.as_arch(arch)
        values = self.source(arch)
        index = self._index.get(arch)
        if index is None:
            index = self._index[arch] = self._population.add(values)
        return self._population.score(index)

    def current(self, arch: Arch) -> float:
        index = self._index.get(self.space.as_arch(arch))
        if index is None:
            raise ArgumentError(f"cell {arch} has not been evaluated in this run; it has no "
                                "score within the run's population")
        return self._population.score(index)

    def final(self, archs: Sequence[Arch]) -> list[float]:
        cells = [self.space.as_arch(a) for a in archs]
        distinct = list(dict.fromkeys(cells))
        if not distinct:
            return []
        rows = np.asarray([self.source(a) for a in distinct], dtype=np.float64)
        combined = np.asarray(self._function(
            {m: rows[:, k] for k, m in enumerate(self.source.members)}), dtype=np.float64)
        by_cell = dict(zip(distinct, combined.tolist(), strict=True))
        return [by_cell[a] for a in cells]

    def describe(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "members": list(self.source.members), "population": RULE,
                **self.source.describe()}


def _listed(members: Sequence[str]) -> str:
    return ", ".join(map(str, members)) or "no members"


def _table_cells(table: ScoreTable) -> set[Arch]:
    """The cells of a member table that enter the ensemble: its uniform sample when it has one
    (every cell when complete), else every cell it holds (tfnas.tables.TableSample)."""
    return set(table.sample.cells or table.scores)


def ensemble_table(proxy: str, dataset: str, root: str | Path | None = None,
                   space: str | SearchSpace | None = None,
                   settings: Mapping[str, str] | None = None) -> ScoreTable:
    """The ensemble ``proxy`` over its member tables' common cells, as one table.

    Each member's table is loaded (``settings``: per member, the settings its table must have
    been scored under, refused in one line naming the file otherwise; or check them later with
    :func:`check_member_settings`); the ensemble is computed once over the cells all of them
    hold (each table's uniform sample where it is incomplete), so it ranks within that
    population. The result's provenance keeps the members' common sweep order, so a table of a
    common sample still reads as a uniform sample (:attr:`ScoreTable.sample`), and its
    ``settings`` are the members' (JSON, member to settings).
    """
    members = ensemble_members(proxy)
    found = get_space(space)
    tables = [load_table(m, dataset, root=root, space=found,
                         settings=None if settings is None else settings[m]) for m in members]
    common = set.intersection(*(_table_cells(t) for t in tables))
    if not common:
        raise TableError(f"the {dataset} tables of {proxy}'s members ({', '.join(members)}) "
                         "share no cell; sweep them over the same cells")
    cells = sorted(common, key=found.index_of)
    orders = {t.provenance.get("order", "") for t in tables if not t.complete}
    combined = np.asarray(get_proxy(proxy).function(
        {m: np.asarray([t.scores[c] for c in cells], dtype=np.float64)
         for m, t in zip(members, tables, strict=True)}), dtype=np.float64)
    provenance = {"proxy": proxy, "dataset": dataset, "members": ",".join(members),
                  "order": orders.pop() if len(orders) == 1 else "",
                  "settings": json.dumps({m: t.settings for m, t in zip(members, tables,
                                                                        strict=True)},
                                         sort_keys=True, separators=(",", ":"))}
    return ScoreTable(proxy, dataset, dict(zip(cells, combined.tolist(), strict=True)),
                      provenance, found.name)


def check_member_settings(table: ScoreTable, settings: Mapping[str, str],
                          root: str | Path | None = None) -> ScoreTable:
    """``table`` (from :func:`ensemble_table`) if every member's table was scored under
    ``settings[member]``; else a one-line :class:`~tfnas.tables.TableMismatchError` naming the
    member's file."""
    recorded = json.loads(table.settings or "{}")
    for member in ensemble_members(table.proxy):
        path = table_path(member, table.dataset, root, table.space)
        check_settings(ScoreTable(member, table.dataset, {}, {"settings": recorded.get(member, "")},
                                  table.space), settings[member], path)
    return table
