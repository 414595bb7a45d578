"""The cells a table-based claim may use: the whole space, or a table's uniform random sample.

A score table is swept in a seeded random permutation of the space's official indices
(``tfnas.tables.sweep_order``), so while it is incomplete the longest prefix of that permutation
it holds is a uniform random sample of the space, drawn without replacement
(``ScoreTable.sample``). A claim on such a table is measured on that sample and carries its
sampling uncertainty; an incomplete table swept in another order (index order) is no sample and
is refused. Several tables: the cells of all their samples (the intersection of uniform samples
drawn independently, or prefixes of one permutation, is again a uniform sample, by the symmetry
of the population's cells).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.context import Context, NotRun


@dataclass(frozen=True)
class CellSet:
    """The cells a claim uses, in official index order, and whether they are a sample."""

    cells: tuple[Any, ...]
    """The cells (``tfnas.space.Arch``) in official index order."""
    sampled: bool
    """True when some table is incomplete: ``cells`` is a uniform random sample of the space."""
    population: int
    """The number of cells of the space the sample is drawn from (15,625)."""
    orders: tuple[str, ...] = ()
    """The sweep order of each incomplete table (``permutation:<seed>``)."""
    tables: tuple[str, ...] = ()
    """The tables, ``proxy/dataset``, in the order given."""

    def describe(self) -> dict[str, Any]:
        """What an outcome's details record of the cell set."""
        if not self.sampled:
            return {"cells": len(self.cells), "population": self.population, "sample": False}
        return {"cells": len(self.cells), "population": self.population, "sample": True,
                "orders": list(self.orders), "tables": list(self.tables),
                "what": (f"a uniform random sample of {len(self.cells)} of the "
                         f"{self.population} cells (the prefix of the sweep permutation the "
                         "incomplete tables hold), judged with its sampling uncertainty")}


def table_cells(ctx: Context, proxy: str, dataset: str,
                variant: str | None = None) -> tuple[tuple[Any, ...], str | None]:
    """(cells, order) of one table (of the tables variant ``variant``): every cell of the space
    when it is complete (order None), else its uniform sample; :class:`NotRun` for an
    incomplete table that is no sample."""
    from tfnas.spaces import get_space

    table = ctx.table(proxy, dataset, variant)
    if table.complete:
        return get_space("tss").all_cells(), None
    sample = table.sample
    if sample.complete:
        return get_space("tss").all_cells(), None
    if not sample.cells:
        order = sample.order or table.provenance.get("order") or "not recorded"
        raise NotRun(f"score table {proxy}/{dataset} is incomplete ({len(table.scores)} of "
                     f"{len(table.scores) + table.missing} cells) and its sweep order is "
                     f"{order!s}, not a seeded permutation: not a uniform sample of the space; "
                     "finish the sweep or sweep in a permutation order")
    return tuple(sample.cells), sample.order


def common_cells(ctx: Context, tables: Iterable[tuple[str, str]],
                 variant: str | None = None) -> CellSet:
    """The cells every one of ``tables`` (``(proxy, dataset)`` pairs, of the tables variant
    ``variant``) can give, as a :class:`CellSet`: the whole space when all are complete, else
    their samples' common cells."""
    from tfnas.spaces import get_space

    pairs = list(dict.fromkeys(tables))
    common: set[Any] | None = None
    orders: list[str] = []
    for proxy, dataset in pairs:
        cells, order = table_cells(ctx, proxy, dataset, variant)
        if order is not None:
            orders.append(order)
            common = set(cells) if common is None else common & set(cells)
    if common is None:
        from tfnas.spaces import get_space

        return CellSet(get_space("tss").all_cells(), False, get_space("tss").size, (), tuple(f"{p}/{d}" for p, d in pairs))
    cells = tuple(sorted(common, key=lambda c: c.index))
    return CellSet(cells, True, get_space("tss").size, tuple(orders), tuple(f"{p}/{d}" for p, d in pairs))


def finite_population_factor(n: int, population: int) -> float:
    """The variance factor ``(N - n) / (N - 1)`` of a statistic over ``n`` of ``N`` cells drawn
    without replacement (0 when the sample is the whole population)."""
    if population <= 1 or n >= population:
        return 0.0
    return (population - n) / (population - 1)


def cell_indices(cells: Sequence[Any]) -> list[int]:
    """The official indices of ``cells``."""
    return [c.index for c in cells]
