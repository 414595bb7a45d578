"""The fixed spot sample of the committed score tables and its float64 reference.

A float32 score is one rounding of the definition: another BLAS, kernel or CPU rounds
differently, and on ill-conditioned cells (a BatchNorm normalising a near-constant channel, the
Hessian-gradient product of grasp) two kernels of one machine already differ by tens of percent.
No float32 tolerance therefore holds on every host. The same cell scored in float64
(:mod:`tfnas.scoring`, Precision) is the definition's value up to ~1e-9 relative on any host.

So the spot check compares like with like:

* **the code**: a fixed, seeded set of cells per dataset, re-scored in float64, must equal the
  committed float64 reference (:func:`spot_path`) within :data:`FLOAT64_TOLERANCE`;
* **the tables**: each committed float32 table is compared, on the same cells, with that float64
  reference (:meth:`SpotRow.explains`): a table that is not a float32 rounding of what the code
  computes shows up as a difference that no float32 rounding recorded for the cell explains.
  Both sides are committed, so the result is the same on every host.

The cells are drawn once by a seeded generator (:data:`SPOT_SEED`) from the first
:data:`SPOT_POOL` cells of the sweep permutation, which every committed suite table holds (each
sampled table is a prefix of that permutation), so growing a table never changes them.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tfnas.bounded import read_text, write_atomic
from tfnas.config import spot_root
from tfnas.errors import TfnasError, shown_path
from tfnas.space import Arch
from tfnas.spaces import TOPOLOGY
from tfnas.tables import ScoreTable, sweep_order

SPOT_SEED = 20261206
"""Seeds the draw of the spot cells (fixed: the cells, and so the check, are the same on every
host and every run)."""

SPOT_POOL = 1000
"""The spot cells come from the first this-many cells of the sweep permutation (seed 0): the
first target of every suite sweep, held by every committed table."""

SPOT_CELLS = 20
"""Cells per dataset with a committed float64 reference."""

FLOAT64_TOLERANCE = (1e-6, 1e-9)
"""(relative, absolute) for a float64 re-score against the float64 reference (``math.isclose``).
Float64 rounds at 1.1e-16; the worst amplification of rounding seen on a cell (grasp, where two
float32 kernels differ by ~50%, i.e. ~1e7 times their 6e-8 rounding) takes that to ~1e-9
relative. 1e-6 leaves three orders of magnitude above it and stays far below any difference
between two cells' scores. tests/test_spot_check.py re-scores in float64 under another kernel
path and thread count to test it."""


@dataclass(frozen=True)
class SpotCell:
    """One spot cell of a dataset, in draw order (``rank`` 0 first)."""

    rank: int
    arch: Arch


def spot_cells(dataset: str, n: int = SPOT_CELLS, seed: int = SPOT_SEED) -> list[SpotCell]:
    """The first ``n`` spot cells of ``dataset``: a seeded draw without replacement from the first
    :data:`SPOT_POOL` cells of the sweep permutation; a prefix of a longer draw."""
    pool = sorted(sweep_order(seed=0)[:SPOT_POOL])
    rng = random.Random(f"spot|{seed}|{dataset}")
    drawn = rng.sample(pool, min(n, len(pool)))
    return [SpotCell(rank, TOPOLOGY.arch_at(index)) for rank, index in enumerate(drawn)]


REALISATIONS = ("float32", "float32_native", "float32_two_threads")
"""The float32 roundings recorded with each reference value: the scoring rule's own (oneDNN
kernels, one thread), torch's native kernels (oneDNN off), and two threads. Their distance from
the float64 value measures how ill-conditioned a cell's float32 score is."""

COLUMNS = ("proxy", "index", "arch", "float64", *REALISATIONS)
MAX_SPOT_BYTES = 1 << 20
"""A spot file holds ~20 proxies x 20 cells of ~150 bytes; 1 MiB is far above."""
SPREAD_FACTOR = 10.0
"""A table value may lie this many times the largest recorded float32 rounding error from the
float64 value (and always within the proxy's registered tolerance of it). Set on 2026-12-06,
before any table was compared with a float64 reference: another host's rounding is another draw
of the same rounding process, whose size the three recorded draws estimate."""


class SpotError(TfnasError, ValueError):
    """A spot-reference file that is not one: wrong header, row or value."""


@dataclass(frozen=True)
class SpotRow:
    """One proxy's float64 value of one spot cell and its float32 roundings."""

    proxy: str
    arch: Arch
    float64: float
    float32: tuple[float, ...]
    """In :data:`REALISATIONS` order."""

    def explains(self, value: float, tolerance: tuple[float, float]) -> bool:
        """Whether ``value`` (a committed float32 score) is a float32 rounding of this cell's
        float64 value: within ``tolerance`` (relative, absolute) of it, or within
        :data:`SPREAD_FACTOR` times the largest recorded rounding error; -inf only where the
        float64 value or a recorded rounding is -inf."""
        ref = self.float64
        if value == ref or (math.isnan(value) and math.isnan(ref)):
            return True
        if not math.isfinite(ref):
            return False
        if any(not math.isfinite(f) for f in self.float32):
            return True  # float32 itself breaks down on this cell: any float32 value is one
        if not math.isfinite(value):
            return False
        spread = max(abs(f - ref) for f in self.float32)
        relative, absolute = tolerance
        return (math.isclose(value, ref, rel_tol=relative, abs_tol=absolute)
                or abs(value - ref) <= SPREAD_FACTOR * spread)


def table_runs(tables: Iterable[ScoreTable]) -> dict[tuple[int, int], list[str]]:
    """The proxies of ``tables`` grouped by the (score seed, batch) their provenance records."""
    runs: dict[tuple[int, int], list[str]] = {}
    for table in tables:
        key = (int(table.provenance["seed"]), int(table.provenance["batch_size"]))
        runs.setdefault(key, []).append(table.proxy)
    return runs


def score_runs(arch: Arch, runs: dict[tuple[int, int], list[str]], dataset: str,
               precision: str) -> dict[str, float]:
    """``arch`` scored for every proxy of ``runs`` under its table's seed and batch in
    ``precision``: the proxies at their reference batch together (one shared pass, as the sweep
    scores), any other alone."""
    from tfnas.scoring import batch_for, score, score_many

    out = {}
    for (seed, batch), group in runs.items():
        shared = [p for p in group if batch == batch_for(p)]
        for name, value in score_many(arch, shared, dataset, seed, precision=precision).items():
            out[name] = value.score
        for name in group:
            if name not in shared:
                out[name] = score(arch, name, dataset, seed, batch, precision=precision)
    return out


def spot_path(root: str | Path | None, dataset: str) -> Path:
    """The spot-reference file of ``dataset`` under ``root`` (``None``:
    :func:`tfnas.config.spot_root`, ``$TFNAS_SPOT``, else ``benchmarks/spot``)."""
    return Path(spot_root() if root is None else root) / f"spot-{dataset}.csv"


def write_spot(path: str | Path, rows: list[SpotRow], provenance: dict[str, object]) -> Path:
    """Write ``rows`` atomically: ``# key: value`` provenance lines, then CSV (:data:`COLUMNS`),
    floats as ``repr`` (exact)."""
    text = io.StringIO(newline="")
    for key, value in provenance.items():
        text.write(f"# {key}: {value}\n")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow((row.proxy, row.arch.index, str(row.arch), repr(row.float64),
                         *(repr(f) for f in row.float32)))
    return write_atomic(path, text.getvalue().encode("utf-8"), SpotError, "spot reference")


def _number(where: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpotError(f"{where}: {text[:40]!r} is not a number") from None
    if value == math.inf:
        raise SpotError(f"{where}: +inf is no score (an undefined score is -inf)")
    return value


def read_spot(path: str | Path) -> tuple[dict[str, str], list[SpotRow]]:
    """The provenance and rows of a spot-reference file; a malformed one is :class:`SpotError`
    naming the line."""
    expected = f"a spot reference (provenance lines, then CSV {','.join(COLUMNS)})"
    text = read_text(path, MAX_SPOT_BYTES, SpotError, "spot reference", expected)
    provenance: dict[str, str] = {}
    lines = text.splitlines()
    body = 0
    while body < len(lines) and lines[body].startswith("# "):
        key, _, value = lines[body][2:].partition(": ")
        provenance[key] = value
        body += 1
    rows = []
    for number, record in enumerate(csv.reader(lines[body:]), start=body + 1):
        where = f"{shown_path(path)} line {number}"
        if number == body + 1:
            if tuple(record) != COLUMNS:
                raise SpotError(f"{where}: header {record!r}, expected {','.join(COLUMNS)}")
            continue
        if len(record) != len(COLUMNS):
            raise SpotError(f"{where}: {len(record)} fields, expected {len(COLUMNS)}")
        proxy, index, arch = record[:3]
        if not (index.isascii() and index.isdigit() and len(index) <= 5
                and int(index) < TOPOLOGY.size and str(TOPOLOGY.arch_at(int(index))) == arch):
            raise SpotError(f"{where}: {index!r} {arch[:60]!r} is not a cell's index and string")
        values = [_number(where, field) for field in record[3:]]
        rows.append(SpotRow(proxy, TOPOLOGY.arch_at(int(index)), values[0], tuple(values[1:])))
    if body == len(lines):
        raise SpotError(f"{shown_path(path)} has no header; expected {expected}")
    return provenance, rows


def isclose64(reference: float, fresh: float) -> bool:
    """Whether a float64 re-score equals the float64 reference within
    :data:`FLOAT64_TOLERANCE` (two -inf or two NaN agree)."""
    if reference == fresh or (math.isnan(reference) and math.isnan(fresh)):
        return True
    if not (math.isfinite(reference) and math.isfinite(fresh)):
        return False
    relative, absolute = FLOAT64_TOLERANCE
    return math.isclose(reference, fresh, rel_tol=relative, abs_tol=absolute)
