"""Cross-implementation check: our score tables against another tool's published scores.

``python -m harness crosscheck FILE`` reads another implementation's per-cell scores of
NAS-Bench-201/NATS-Bench topology cells and reports, per proxy and dataset, on the cells both
hold:

* the per-cell **agreement** (Spearman ρ between our score and theirs, with a 95% interval);
* our own **noise ceiling** next to it: the mean Spearman ρ between our scoring realisations
  (other network init and batch; :mod:`harness.noise`), i.e. the agreement two runs of *our*
  implementation reach, with the lower end of its 95% interval (a coefficient over the re-scored
  cells). An agreement whose interval lies below that lower end is more than our
  scoring noise explains: the two differ in definition or protocol, or the other implementation
  is noisier (NASLib, for one, draws a new batch per cell). An agreement at the ceiling is no
  evidence of a difference. Without a ceiling nothing can be told apart;
* each side's ρ against the **same accuracies** (NATS-Bench's 200-epoch test accuracy from the
  harness's oracle) on the **same cells**: which of two disagreeing implementations ranks better.

Formats (:func:`read_foreign`):

* NAS-Bench-Suite-Zero's JSON (automl/NASLib ``naslib/data/zc_nasbench201.json``, both layouts
  in its history): ``{"nasbench201": {dataset: {cell: {proxy: score}}}}`` or ``{dataset: {cell:
  {proxy: {"score": s, "time": t}}}}`` (or that dict as its Python text), a cell written as
  NASLib's op-index tuple ``"(4, 3, 3, 3, 2, 3)"`` or as an arch string;
* a CSV with columns ``arch,score`` (``--proxy`` and ``--dataset`` name what it holds).

NASLib's proxy names are mapped to ours (``jacov`` is ``jacob_cov``); names we do not have are
listed, not guessed.

``--per-cell-batch PROXY/DATASET`` (:func:`per_cell_ceiling`) tests the other tool's protocol
where it differs from ours in one known way: NASLib draws a new batch for every cell, tfnas
scores every cell on one batch. It re-scores the common cells ``--realisations`` times, each
cell under a score seed of its own (its own batch and init), and reports the agreement two such
runs of ours reach: the noise ceiling of a per-cell-batch protocol, next to the agreement with
the other tool.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.stats import correlation
from tfnas.bounded import read_text
from tfnas.errors import TfnasError, shown, shown_path
from tfnas.space import Arch, ArchError
from tfnas.spaces import get_space

MAX_FOREIGN_BYTES = 64 << 20
"""NAS-Bench-Suite-Zero's NB201 file is ~2 MB; 64 MiB leaves room for any one space's table."""

NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
"""NASLib's op indices (``OP_NAMES_NB201`` in naslib/search_spaces/nasbench201/conversions.py)."""
NASLIB_EDGES = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
"""NASLib's edge order of the six op indices (``EDGE_LIST``), nodes numbered from 1."""

NASLIB_NAMES = {"jacov": "jacob_cov"}
"""NASLib proxy names that differ from ours; every other name is taken as it is."""
NOT_SCORES = frozenset({"idx", "arch", "val_accuracy", "test_accuracy", "train_time"})

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")

_TUPLE = re.compile(r"\(\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,"
                    r"\s*([0-4])\s*\)")
_SCORE_TEXT = re.compile(r"\{'score':\s*([^,{}]{1,40}),\s*'time':\s*[^,{}]{1,40}\}")


class CrosscheckError(TfnasError, ValueError):
    """A foreign score file that cannot be read as one of the supported formats."""


def naslib_arch(op_indices: Sequence[int]) -> Arch:
    """The cell NASLib writes as six op indices (its ``convert_op_indices_to_str``)."""
    ops = {edge: NASLIB_OPS[op] for edge, op in zip(NASLIB_EDGES, op_indices, strict=True)}
    by_node = [[f"{ops[i, k]}~{i - 1}" for i, k in NASLIB_EDGES if k == j] for j in (2, 3, 4)]
    return get_space("tss").as_arch("+".join("|" + "|".join(node) + "|" for node in by_node))


def naslib_indices(arch: Arch | str) -> tuple[int, ...]:
    """NASLib's op indices of ``arch`` (the inverse of :func:`naslib_arch`)."""
    nodes = [[op.split("~")[0] for op in part.strip("|").split("|")]
             for part in str(get_space("tss").as_arch(arch)).split("+")]
    return tuple(NASLIB_OPS.index(nodes[j - 2][i - 1]) for i, j in NASLIB_EDGES)


def _cell(where: str, key: str) -> int:
    match = _TUPLE.fullmatch(key.strip())
    try:
        if match:
            return get_space("tss").index_of(naslib_arch([int(g) for g in match.groups()]))
        if key.isascii() and key.isdigit() and len(key) <= 5:
            return get_space("tss").check_index(int(key))
        return get_space("tss").index_of(key)
    except (ArchError, ValueError, IndexError) as exc:
        raise CrosscheckError(f"{where}: {shown(key)} is no cell (expected NASLib's op-index tuple "
                              f"'(a, b, c, d, e, f)', an arch string or an index): {exc}") from None


def _number(where: str, value: object) -> float:
    """A score: a JSON number, ``{"score": s, ...}``, or that dict as Python text; NaN if the
    value says nothing (null)."""
    if isinstance(value, Mapping):
        value = value.get("score")
    elif isinstance(value, str):
        match = _SCORE_TEXT.fullmatch(value.strip())
        text = match.group(1) if match else value
        try:
            value = float(text)
        except ValueError:
            raise CrosscheckError(f"{where}: {shown(value)} is no score (expected a number or "
                                  "{'score': s, 'time': t})") from None
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CrosscheckError(f"{where}: {shown(value)} is no score; expected a number")
    return float(value)


@dataclass(frozen=True)
class ForeignScores:
    """Another implementation's scores: ``scores[(proxy, dataset)][cell index]`` (our proxy
    names), and the accuracies the file carries (``accuracies[dataset][cell index]``)."""

    source: str
    scores: dict[tuple[str, str], dict[int, float]]
    accuracies: dict[str, dict[int, float]]
    unknown: tuple[str, ...]
    """Proxy names in the file that tfnas has no proxy of."""


def _suite_zero(where: str, data: object, known: set[str]) -> ForeignScores:
    if isinstance(data, dict) and "nasbench201" in data:
        data = data["nasbench201"]
    if not isinstance(data, dict) or not data or not set(data) <= set(DATASETS):
        found = sorted(map(str, data))[:5] if isinstance(data, dict) else type(data).__name__
        raise CrosscheckError(f"{where}: expected NAS-Bench-Suite-Zero's layout, datasets "
                              f"({', '.join(DATASETS)}) at the top or under 'nasbench201'; "
                              f"found {shown(found)}")
    scores: dict[tuple[str, str], dict[int, float]] = {}
    accuracies: dict[str, dict[int, float]] = {}
    unknown: set[str] = set()
    for dataset, cells in data.items():
        if not isinstance(cells, dict):
            raise CrosscheckError(f"{where}: {dataset} holds {type(cells).__name__}; expected an "
                                  "object of cells")
        for key, entry in cells.items():
            at = f"{where} {dataset} {shown(key, 40)}"
            if not isinstance(entry, dict):
                raise CrosscheckError(f"{at}: expected an object of proxy scores, got "
                                      f"{type(entry).__name__}")
            index = _cell(at, key)
            for name, value in entry.items():
                if name == "val_accuracy":
                    accuracies.setdefault(dataset, {})[index] = _number(f"{at} {name}", value)
                if name in NOT_SCORES:
                    continue
                proxy = NASLIB_NAMES.get(name, name)
                if proxy not in known:
                    unknown.add(name)
                    continue
                scores.setdefault((proxy, dataset), {})[index] = _number(f"{at} {name}", value)
    return ForeignScores(where, scores, accuracies, tuple(sorted(unknown)))


def _score_csv(where: str, text: str, proxy: str, dataset: str) -> ForeignScores:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:2]] != ["arch", "score"]:
        raise CrosscheckError(f"{where}: expected a header 'arch,score', got {shown(header)}")
    column: dict[int, float] = {}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) < 2:
            raise CrosscheckError(f"{where}:{line}: expected 'arch,score', got {shown(row)}")
        column[_cell(f"{where}:{line}", row[0])] = _number(f"{where}:{line}", row[1])
    if not column:
        raise CrosscheckError(f"{where}: no rows; expected one 'arch,score' row per cell")
    return ForeignScores(where, {(proxy, dataset): column}, {}, ())


def read_foreign(path: str | Path, proxy: str | None = None,
                 dataset: str | None = None) -> ForeignScores:
    """Another tool's scores from ``path``: NAS-Bench-Suite-Zero's JSON, or with ``proxy`` and
    ``dataset`` a CSV ``arch,score``. A file that is neither is one :class:`CrosscheckError`."""
    from tfnas.proxies import proxy_names

    where = shown_path(path)
    text = read_text(path, MAX_FOREIGN_BYTES, CrosscheckError, "score file",
                     "expected NAS-Bench-Suite-Zero's JSON or a CSV arch,score")
    known = set(proxy_names())
    if proxy is not None or dataset is not None:
        if proxy not in known or dataset not in DATASETS:
            raise CrosscheckError(f"a CSV needs a known proxy and dataset ({', '.join(DATASETS)}), "
                                  f"got proxy={shown(proxy)} dataset={shown(dataset)}")
        return _score_csv(where, text, proxy, dataset)
    try:
        data = json.loads(text, parse_constant=lambda c: float(c.replace("Infinity", "inf")))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CrosscheckError(f"{where} is not JSON ({str(exc)[:80]}); expected NAS-Bench-Suite-"
                              "Zero's JSON (a CSV needs --proxy and --dataset)") from None
    return _suite_zero(where, data, known)


@dataclass(frozen=True)
class Agreement:
    """One proxy on one dataset: ours against theirs on the cells both hold."""

    proxy: str
    dataset: str
    n: int
    rho: float
    """Spearman ρ between our scores and theirs."""
    low: float
    high: float
    """95% interval of ``rho`` (Fisher z, Bonett–Wright standard error)."""
    ceiling: float | None
    """Mean Spearman ρ between our own scoring realisations (1 for a proxy whose score does
    not depend on the score seed); None when not measured."""
    ceiling_seeds: int
    """How many realisations the ceiling comes from; 0 for a seed-free proxy."""
    ceiling_low: float | None
    """Lower end of the ceiling's 95% interval (a coefficient over the re-scored cells: Fisher
    z); the ceiling itself for a seed-free proxy."""
    ours: float
    """Our ρ against NATS-Bench's 200-epoch test accuracy on the common cells."""
    theirs: float
    """Their ρ against the same accuracies on the same cells."""

    constant: str = ""
    """"ours", "theirs" or "both" when that side's scores are one value on the common cells."""

    @property
    def finding(self) -> str:
        """What the numbers say, as a checked sentence."""
        if self.constant:
            side = {"ours": "our", "theirs": "their", "both": "both sides'"}[self.constant]
            return f"{side} scores are one value on the common cells: no ranking to compare"
        if self.n < 10 or not math.isfinite(self.rho):
            return f"{self.n} common cells: too few to compare"
        if self.ceiling is None or not math.isfinite(self.ceiling):
            return ("our scoring noise is not measured for this proxy and dataset: noise and "
                    "definition cannot be told apart")
        low = self.ceiling if self.ceiling_low is None else self.ceiling_low
        below = self.high < low - 1e-9  # a coefficient of 1 computes as 1 - 2e-16
        if self.ceiling_seeds == 0:
            if below:
                return (f"below 1 ({self.high:.3f}) for a proxy without scoring noise: the two "
                        "differ in definition or protocol")
            return "the same ranking (our proxy has no scoring noise)"
        if below:
            return (f"below our noise ceiling (agreement at most {self.high:.3f}, ceiling at "
                    f"least {low:.3f}): more than our scoring noise explains (a difference of "
                    "definition or protocol, or their scoring is noisier than ours)")
        return (f"within our scoring noise (agreement up to {self.high:.3f}, ceiling from "
                f"{low:.3f}): no evidence of a difference in definition")


def rho_interval(rho: float, n: int) -> tuple[float, float]:
    """95% interval of a Spearman ρ over ``n`` cells (Fisher z, Bonett–Wright standard error)."""
    if n <= 3 or not math.isfinite(rho) or abs(rho) >= 1:
        return rho, rho
    se = math.sqrt((1 + rho * rho / 2) / (n - 3))
    z = math.atanh(rho)
    return math.tanh(z - 1.959964 * se), math.tanh(z + 1.959964 * se)


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or _constant(a) or _constant(b):
        return math.nan
    return correlation(a, b, "spearman")


def _ranked(values: np.ndarray) -> np.ndarray:
    """-inf (an undefined score) ranks last; +inf, which another tool may write for an
    overflowing score, stays an ordered value at the top (unlike :func:`harness.stats.ranked_last`,
    which serves our tables, where +inf never occurs)."""
    finite = values[np.isfinite(values)]
    floor = (finite.min() - 1.0) if finite.size else 0.0
    return np.where(np.isneginf(values), floor, values)


def _constant(values: np.ndarray) -> bool:
    return values.size > 0 and bool(np.all(values == values[0]))


def crosscheck(foreign: ForeignScores, tables: str | Path | None = None,
               noise: str | Path | None = None) -> list[Agreement]:
    """Every (proxy, dataset) of ``foreign`` that we have a table of, compared."""
    from harness.noise import load_noise, score_column, seed_free, summarise_noise
    from tfnas.oracles import default_oracle
    from tfnas.tables import TableNotFoundError, load_table

    oracle = default_oracle()
    out = []
    for (proxy, dataset), theirs in sorted(foreign.scores.items()):
        try:
            table = load_table(proxy, dataset, tables)
        except TableNotFoundError:
            continue
        ours = {get_space("tss").index_of(a): s for a, s in table.scores.items()}
        common = sorted(i for i, s in theirs.items() if i in ours and not math.isnan(s)
                        and not math.isnan(ours[i]))
        a = _ranked(np.array([ours[i] for i in common], dtype=float))
        b = _ranked(np.array([theirs[i] for i in common], dtype=float))
        acc = np.array([oracle.accuracy(i, dataset, 200, "test") for i in common], dtype=float)
        rho = _rho(a, b)
        low, high = rho_interval(rho, len(common))
        realised = load_noise(proxy, dataset, score_column(table), noise, table=table)
        ceiling, seeds, ceiling_low = None, 0, None
        if realised is not None and len(realised.realisations) > 1 and realised.uniform.size >= 10:
            ceiling = summarise_noise(realised).rank_corr_uniform
            seeds = len(realised.realisations)
            ceiling_low = rho_interval(ceiling, int(realised.uniform.size))[0]
        elif seed_free(proxy):
            ceiling = ceiling_low = 1.0
        constant = {(True, False): "ours", (False, True): "theirs", (True, True): "both"}.get(
            (_constant(a), _constant(b)), "")
        out.append(Agreement(proxy, dataset, len(common), rho, low, high, ceiling, seeds,
                             ceiling_low, _rho(a, acc), _rho(b, acc), constant))
    return out


PER_CELL_SEED_STRIDE = 100_000
"""Realisation ``r`` (1, 2, ...) scores cell ``i`` under score seed ``r * stride + i``: a seed
per cell, above every official index (15,625) so that no two cells or realisations share one,
and never the tables' seed 0 or the noise realisations' 1-5."""
MAX_PER_CELL_REALISATIONS = 20


@dataclass(frozen=True)
class PerCellCeiling:
    """One proxy on one dataset scored with a batch per cell (:func:`per_cell_ceiling`)."""

    proxy: str
    dataset: str
    n: int
    realisations: int
    agreement: float
    """Spearman ρ between our committed (one-batch) table and theirs on the common cells."""
    agreement_high: float
    """Upper end of its 95% interval."""
    ceiling: float
    """Mean Spearman ρ between two per-cell-batch realisations of ours (all pairs)."""
    ceiling_low: float
    """Lower end of the ceiling's 95% interval (a coefficient over ``n`` cells)."""
    pairs: tuple[float, ...]
    """ρ of every pair of realisations."""
    vs_theirs: tuple[float, ...]
    """ρ of each realisation with their scores."""
    vs_table: tuple[float, ...]
    """ρ of each realisation with our one-batch table."""

    @property
    def finding(self) -> str:
        """What the numbers say, as a checked sentence."""
        if self.agreement_high < self.ceiling_low - 1e-9:
            return (f"below even a per-cell batch's noise (agreement at most "
                    f"{self.agreement_high:.3f}, per-cell ceiling at least {self.ceiling_low:.3f}): "
                    "more than their batch per cell explains")
        return (f"within a per-cell batch's noise (agreement up to {self.agreement_high:.3f}, "
                f"per-cell ceiling from {self.ceiling_low:.3f}): their batch per cell explains "
                "the agreement; no evidence of a difference in definition")


def per_cell_ceiling(foreign: ForeignScores, proxy: str, dataset: str, realisations: int = 5,
                     tables: str | Path | None = None) -> PerCellCeiling:
    """Score the cells ``foreign`` and our ``(proxy, dataset)`` table share ``realisations``
    times, each cell under a score seed of its own (:data:`PER_CELL_SEED_STRIDE`), and compare."""
    import itertools

    from tfnas.scoring import score
    from tfnas.tables import load_table

    if not isinstance(realisations, int) or not 2 <= realisations <= MAX_PER_CELL_REALISATIONS:
        raise CrosscheckError(f"realisations must be an integer in 2..{MAX_PER_CELL_REALISATIONS}"
                              f", got {shown(realisations)}")
    theirs = foreign.scores.get((proxy, dataset))
    if theirs is None:
        raise CrosscheckError(f"{foreign.source} holds no {proxy} scores of {dataset}; it holds "
                              f"{sorted(f'{p}/{d}' for p, d in foreign.scores)}")
    space = get_space("tss")
    table = load_table(proxy, dataset, tables)
    ours = {space.index_of(a): s for a, s in table.scores.items()}
    common = sorted(i for i, s in theirs.items() if i in ours and not math.isnan(s))
    if len(common) < 10:
        raise CrosscheckError(f"{len(common)} cells are common to {foreign.source} and our "
                              f"{proxy}-{dataset} table: too few to compare (10 at least)")
    seed0 = int(table.provenance.get("seed", "0"))
    batch = int(table.provenance["batch_size"]) if "batch_size" in table.provenance else None
    runs = [_ranked(np.array([score(space.arch_at(i), proxy, dataset, batch_size=batch,
                                    seed=seed0 + r * PER_CELL_SEED_STRIDE + i)
                              for i in common], dtype=float))
            for r in range(1, realisations + 1)]
    a = _ranked(np.array([ours[i] for i in common], dtype=float))
    b = _ranked(np.array([theirs[i] for i in common], dtype=float))
    agreement = _rho(a, b)
    pairs = tuple(_rho(x, y) for x, y in itertools.combinations(runs, 2))
    ceiling = float(np.mean(pairs))
    return PerCellCeiling(proxy, dataset, len(common), realisations, agreement,
                          rho_interval(agreement, len(common))[1], ceiling,
                          rho_interval(ceiling, len(common))[0], pairs,
                          tuple(_rho(x, b) for x in runs), tuple(_rho(x, a) for x in runs))


def render_per_cell(rows: Sequence[PerCellCeiling]) -> str:
    """A Markdown table of per-cell-batch ceilings."""
    def span(xs: Sequence[float]) -> str:
        return f"{np.mean(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"

    out = ["| proxy | dataset | common cells | ρ our table vs theirs | per-cell-batch ceiling: "
           "ρ between two of our runs, mean (range) [95% lower end] | ρ per-cell run vs theirs | "
           "ρ per-cell run vs our table | finding |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.proxy} | {r.dataset} | {r.n} | {r.agreement:.3f} | {span(r.pairs)} "
                   f"[{r.ceiling_low:.3f}] ({r.realisations} runs) | {span(r.vs_theirs)} | "
                   f"{span(r.vs_table)} | {r.finding} |")
    return "\n".join(out)


def render(rows: Sequence[Agreement], foreign: ForeignScores) -> str:
    """A Markdown table of the agreements, then what the file held that we could not use."""
    out = ["| proxy | dataset | common cells | ρ ours vs theirs [95%] | our noise ceiling "
           "[95% lower end] (realisations) | ρ vs test acc: ours | : theirs | finding |",
           "|---|---|---|---|---|---|---|---|"]
    def num(x: float) -> str:
        return f"{x:.3f}" if math.isfinite(x) else "—"

    for r in rows:
        ceiling = ("—" if r.ceiling is None else "1 (seed-free)" if r.ceiling_seeds == 0
                   else f"{r.ceiling:.3f} [{num(r.ceiling_low)}–] ({r.ceiling_seeds})")
        out.append(f"| {r.proxy} | {r.dataset} | {r.n} | {num(r.rho)} [{num(r.low)}, "
                   f"{num(r.high)}] | {ceiling} | {num(r.ours)} | {num(r.theirs)} | {r.finding} |")
    if foreign.unknown:
        out.append(f"\nNot compared (no tfnas proxy of that name): {', '.join(foreign.unknown)}.")
    missing = sorted({p for p, _ in foreign.scores} - {r.proxy for r in rows})
    if missing:
        out.append(f"\nNot compared (no committed table): {', '.join(missing)}.")
    return "\n".join(out)
