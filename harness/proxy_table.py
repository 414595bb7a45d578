"""The proxy table: every registered proxy with its definition, reference, speed and correlation.

One function, :func:`proxy_table`, computes the numbers from the committed score tables
(``$TFNAS_TABLES``, default ``benchmarks/scores``: :func:`tfnas.config.tables_root`); the README block (``python -m harness proxies --readme``),
``docs/proxies.md`` and the report's proxy-by-dataset section all render from it, so the
numbers in the three places are the same numbers.

Per proxy and dataset:

* **speed**: the table's provenance ``seconds_per_cell`` (median scoring seconds per cell, which
  the export records); an ensemble's is the sum of its members' (it costs scoring each member);
  ``None`` ("—") when a table does not record it;
* **against the layer count**: ρ − ρ(ℵ), the proxy's ρ minus that of the trivial baseline
  ``layers`` (the number of trainable layers, VKDNW's ℵ) over the same cells; exact when both
  tables are complete, else with a 95% interval for two dependent coefficients that share the
  accuracy (Zou 2007: each ρ's Fisher-z interval, Bonett–Wright variance, finite-population
  corrected, combined through the correlation of the two estimates, which follows from ρ, ρ(ℵ)
  and the two scores' own ρ; a plug-in approximation for rank coefficients);
* **Kendall τ** over the same cells as ρ (tau-b; no interval);
* **correlation**: Spearman ρ of the scores against NATS-Bench's 200-epoch test accuracy (the
  harness's accuracy oracle, :meth:`harness.context.Context.accuracy_column`), computed by the
  correlation claims' own code (:func:`harness.kinds.correlation.usable` and its coefficient:
  a non-finite score is ranked last, tied with the others like it). A complete table gives the
  whole-space value (no sampling error, no interval). An incomplete table counts only as the
  uniform random sample its sweep order makes of it (``table.sample``): ρ over those ``n`` cells
  with a 95% interval for the space's ρ (normal, with the standard error of a coefficient over
  ``n`` cells drawn without replacement, :func:`harness.kinds.correlation.sampling_se`); an
  incomplete table that is no sample gives "—". An ensemble (:attr:`Proxy.ensemble`) is scored
  by its own function over the cells every member's sample holds; ``vote`` also reports the
  pairwise agreement of its majority vote (:func:`tfnas.proxies.vote.pairwise_agreement`).

Everything rendered is deterministic (no dates, fixed formats), so ``--check`` can tell a stale
README block in CI.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.context import Context, NotRun
from harness.kinds.correlation import (
    Z_VARIANCE,
    CorrelationProtocol,
    coefficient_on,
    sampling_se,
    usable,
)
from harness.stats import correlation
from tfnas.bounded import atomic_writer, read_file, write_atomic
from tfnas.config import tables_root as default_tables_root
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import TfnasError, one_line, shown_path
from tfnas.proxies import Proxy, proxies
from tfnas.spaces import Arch
from tfnas.tables import ScoreTable, TableNotFoundError, load_table

METRIC = "test200"
"""The accuracy the table correlates with: NATS-Bench's 200-epoch test accuracy (seed mean)."""
COEFFICIENT = "spearman"
LEVEL_Z = 1.959963984540054
"""The two-sided 95% normal quantile of the interval of a sampled table's ρ."""
SHORT = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}
DASH = "—"
BEGIN, END = "<!-- proxies:begin -->", "<!-- proxies:end -->"
"""The markers of the generated block in README.md and docs/proxies.md."""

Accuracy = Callable[[str], np.ndarray]
"""The accuracy of every cell of the space in index order, for a dataset."""


MAX_DOC_BYTES = 4 << 20
"""The largest README or docs file whose generated block is rewritten (4 MiB)."""


class ProxyTableError(TfnasError, ValueError):
    """A README or docs file whose generated block cannot be found or rewritten."""


@dataclass(frozen=True)
class Difference:
    """ρ of a proxy minus ρ of the baseline over the same cells, with a 95% interval when the
    cells are a sample (None: exact, over the whole space)."""

    value: float
    interval: tuple[float, float] | None


@dataclass(frozen=True)
class Correlation:
    """Spearman ρ of one proxy's scores against 200-epoch test accuracy on one dataset."""

    rho: float
    n: int
    """Cells the coefficient is over."""
    complete: bool
    """Over every cell of the space with an accuracy (no sampling error)."""
    interval: tuple[float, float] | None = None
    """95% interval of the space's ρ when the cells are a random sample; None when complete."""
    ranked_last: int = 0
    """Cells with a non-finite score, ranked last."""
    agreement: float | None = None
    """For ``vote``: the fraction of cell pairs its majority vote orders as accuracy does."""
    tau: float | None = None
    """Kendall τ-b over the same cells (non-finite scores ranked last)."""
    vs_layers: Difference | None = None
    """ρ − ρ(ℵ) against the layer count over the same cells; None without a ``layers`` table."""

    @property
    def abs_rho(self) -> float:
        """|ρ| (how the zero-cost papers tabulate it)."""
        return abs(self.rho)


@dataclass(frozen=True)
class ProxyRow:
    """One proxy's line of the table: what it is and, per dataset, its speed and correlation."""

    name: str
    definition: str
    reference: str
    variant: str
    members: tuple[str, ...]
    seconds: dict[str, float | None]
    correlations: dict[str, Correlation | None]
    why: dict[str, str] = field(default_factory=dict)
    """Per dataset without a correlation: the reason (no table, not a sample, ...)."""
    swept: bool = True
    """Whether the sweeps make a committed table of it by default (:attr:`Proxy.table`; False
    for e.g. a literal reference implementation kept for the tests)."""

    @property
    def ensemble(self) -> bool:
        return bool(self.members)


@dataclass(frozen=True)
class ProxyTable:
    """Every registered proxy's row, over ``datasets``."""

    rows: tuple[ProxyRow, ...]
    datasets: tuple[str, ...]

    def row(self, name: str) -> ProxyRow:
        """The row of the proxy ``name``."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)


# ---------------------------------------------------------------- computing


def sample_cells(table: ScoreTable) -> tuple[Arch, ...]:
    """The cells of ``table`` that are a uniform random sample of the space: every cell when
    complete, else the longest prefix of its sweep permutation it holds; ``()`` when it is
    incomplete without a permutation order (:attr:`tfnas.tables.ScoreTable.sample`)."""
    return tuple(table.sample.cells)


class _Source:
    """What the correlation claims' code reads from a harness :class:`Context`: a score table
    by (proxy, dataset) and the accuracy column, here from tables held in memory."""

    def __init__(self, accuracy: Accuracy) -> None:
        self._accuracy = accuracy
        self._columns: dict[str, np.ndarray] = {}
        self.tables: dict[tuple[str, str], ScoreTable] = {}

    def table(self, proxy: str, dataset: str) -> ScoreTable:
        return self.tables[(proxy, dataset)]

    def accuracy_column(self, dataset: str, metric: str) -> np.ndarray:
        if dataset not in self._columns:
            self._columns[dataset] = np.asarray(self._accuracy(dataset), dtype=float)
        return self._columns[dataset]


BASELINE = "layers"
"""The trivial baseline every proxy is compared with: the number of trainable layers (ℵ)."""


def _z_interval(r: float, n: int, population: int) -> tuple[float, float]:
    """95% interval of a Spearman coefficient over ``n`` of ``population`` cells: Fisher z with
    the Bonett–Wright variance and the finite-population correction."""
    if n <= 3 or abs(r) >= 1.0:
        return r, r
    fpc = max(population - n, 0) / max(population - 1, 1)
    se = math.sqrt(Z_VARIANCE[COEFFICIENT](r) / (n - 3) * fpc)
    z = math.atanh(r)
    return math.tanh(z - LEVEL_Z * se), math.tanh(z + LEVEL_Z * se)


def dependent_difference(r1: float, r2: float, r12: float, n: int, population: int
                         ) -> tuple[float, float]:
    """95% interval of ``r1 − r2``, two coefficients over the same ``n`` cells that share one
    variable (accuracy), ``r12`` the coefficient between the two others (Zou 2007, eq. for
    overlapping dependent correlations, with each coefficient's own interval)."""
    l1, u1 = _z_interval(r1, n, population)
    l2, u2 = _z_interval(r2, n, population)
    denominator = (1 - r1 * r1) * (1 - r2 * r2)
    c = (0.0 if denominator <= 0 else
         ((r12 - r1 * r2 / 2) * (1 - r1 * r1 - r2 * r2 - r12 * r12) + r12 ** 3) / denominator)
    d = r1 - r2
    low = d - math.sqrt(max((r1 - l1) ** 2 + (u2 - r2) ** 2 - 2 * c * (r1 - l1) * (u2 - r2), 0.0))
    high = d + math.sqrt(max((u1 - r1) ** 2 + (r2 - l2) ** 2 - 2 * c * (u1 - r1) * (r2 - l2), 0.0))
    return low, high


def _against_baseline(source: _Source, dataset: str, keep: Sequence[Arch], rho: float,
                      scores: np.ndarray, complete: bool) -> Difference | None:
    """``rho`` − ρ(ℵ) over ``keep`` (the proxy's usable cells, its ρ and its ranked-last
    ``scores`` from the caller)."""
    baseline = source.tables.get((BASELINE, dataset))
    if baseline is None or any(c not in baseline.scores for c in keep):
        return None
    proto = CorrelationProtocol(BASELINE, dataset, METRIC, COEFFICIENT)
    r2, x2, _, _ = coefficient_on(proto, source, list(keep))  # type: ignore[arg-type]
    if complete and baseline.complete:
        return Difference(rho - r2, None)
    population = int(np.isfinite(source.accuracy_column(dataset, METRIC)).sum())
    r12 = correlation(scores, x2, COEFFICIENT)
    return Difference(rho - r2, dependent_difference(rho, r2, r12, len(keep), population))


def _correlation(source: _Source, proxy: str, dataset: str, cells: Sequence[Arch],
                 complete: bool) -> Correlation:
    """ρ over ``cells`` by the correlation claims' code, τ over the same cells, ρ's interval
    when they are a sample, and ρ against the layer count's."""
    proto = CorrelationProtocol(proxy, dataset, METRIC, COEFFICIENT)
    keep, _ = usable(proto, source, list(cells))  # type: ignore[arg-type]
    rho, x, y, ranked_last = coefficient_on(proto, source, keep)  # type: ignore[arg-type]
    tau = correlation(x, y, "kendall")
    versus = None if proxy == BASELINE else _against_baseline(source, dataset, keep, rho, x,
                                                                complete)
    if complete:
        return Correlation(rho, len(keep), True, None, ranked_last, tau=tau, vs_layers=versus)
    population = int(np.isfinite(source.accuracy_column(dataset, METRIC)).sum())
    se = sampling_se(rho, COEFFICIENT, len(keep), population)
    lo, hi = max(-1.0, rho - LEVEL_Z * se), min(1.0, rho + LEVEL_Z * se)
    return Correlation(rho, len(keep), False, (lo, hi), ranked_last, tau=tau, vs_layers=versus)


class _Tables:
    """The score tables under one folder, each read once; None for one that is not there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._read: dict[tuple[str, str], ScoreTable | None] = {}

    def get(self, proxy: str, dataset: str) -> ScoreTable | None:
        key = (proxy, dataset)
        if key not in self._read:
            try:
                self._read[key] = load_table(proxy, dataset, root=self.root)
            except TableNotFoundError:
                self._read[key] = None
        return self._read[key]


def _vote_agreement(members: Mapping[str, np.ndarray], accuracy: np.ndarray) -> float | None:
    try:
        from tfnas.proxies.vote import pairwise_agreement
    except ImportError:  # the vote ensemble is not on this checkout
        return None
    return float(pairwise_agreement(members, accuracy))


def _ensemble(proxy: Proxy, dataset: str, source: _Source, found: _Tables
              ) -> tuple[Correlation | None, str]:
    """The ensemble's correlation over the cells every member's sample holds, or why none."""
    tables = {m: found.get(m, dataset) for m in proxy.members}
    absent = [m for m, t in tables.items() if t is None]
    if absent:
        return None, f"no table of member {', '.join(absent)}"
    samples = {m: set(sample_cells(t)) for m, t in tables.items() if t is not None}
    common = sorted(set.intersection(*samples.values()), key=lambda a: a.index)
    if not common:
        return None, "the members' tables share no sampled cell"
    complete = all(t is not None and t.complete for t in tables.values())
    member_scores = {m: np.array([t.scores[c] for c in common], dtype=float)
                     for m, t in tables.items() if t is not None}
    try:
        scores = np.asarray(proxy.function(member_scores), dtype=float)
    except TfnasError as exc:  # the ensemble refuses these members' scores, in one line
        return None, f"{proxy.name} refused its members' scores: {one_line(exc, 200)}"
    if scores.shape != (len(common),):
        raise ProxyTableError(f"ensemble {proxy.name!r} returned scores of shape {scores.shape} "
                              f"for {len(common)} cells; expected one score per cell")
    table = ScoreTable(proxy.name, dataset, dict(zip(common, scores.tolist(), strict=True)))
    source.tables[(proxy.name, dataset)] = table
    corr = _correlation(source, proxy.name, dataset, common, complete)
    if proxy.name == "vote":
        acc = source.accuracy_column(dataset, METRIC)
        index = np.array([c.index for c in common])
        finite = np.isfinite(acc[index])
        kept = {m: s[finite] for m, s in member_scores.items()}
        agreement = _vote_agreement(kept, acc[index][finite])
        corr = dataclasses.replace(corr, agreement=agreement)
    return corr, ""


def _default_accuracy(dataset: str) -> np.ndarray:
    return Context().accuracy_column(dataset, METRIC)


def proxy_table(tables_root: str | Path | None = None, *, accuracy: Accuracy | None = None,
                datasets: Sequence[str] = TARGET_DATASETS,
                registered: Sequence[Proxy] | None = None) -> ProxyTable:
    """The table of every registered proxy (``registered``, default :func:`tfnas.proxies.proxies`)
    from the score tables under ``tables_root`` (default :func:`tfnas.config.tables_root`).

    ``accuracy`` gives a dataset's accuracy column (default the harness oracle's 200-epoch test
    accuracy; read only when some table exists). A missing table is "—", never an error; a
    corrupt one raises its one-line :class:`tfnas.tables.TableError`.
    """
    root = Path(default_tables_root() if tables_root is None else tables_root)
    if not root.is_dir():
        raise ProxyTableError(f"no folder of score tables at {shown_path(root)}; pass --tables DIR")
    source = _Source(accuracy or _default_accuracy)
    listed = tuple(proxies() if registered is None else registered)
    found = _Tables(root)
    for p in listed:
        for d in datasets:
            table = None if p.ensemble else found.get(p.name, d)
            if table is not None:
                source.tables[(p.name, d)] = table
    rows = []
    for proxy in listed:
        seconds: dict[str, float | None] = {}
        correlations: dict[str, Correlation | None] = {}
        why: dict[str, str] = {}
        for d in datasets:
            if proxy.ensemble:
                parts = [found.get(m, d) for m in proxy.members]
                speeds = [t.seconds_per_cell if t is not None else None for t in parts]
                seconds[d] = None if any(s is None for s in speeds) else float(sum(speeds))
                try:
                    correlations[d], reason = _ensemble(proxy, d, source, found)
                except NotRun as exc:
                    correlations[d], reason = None, str(exc)
            else:
                table = found.get(proxy.name, d)
                seconds[d] = table.seconds_per_cell if table is not None else None
                correlations[d], reason = _single(source, proxy.name, d, table)
            if reason:
                why[d] = reason
        rows.append(ProxyRow(proxy.name, proxy.help, proxy.reference, proxy.variant,
                             proxy.members, seconds, correlations, why, proxy.table))
    return ProxyTable(tuple(rows), tuple(datasets))


DEGENERATE = "degenerate"
"""How a table whose finite scores are all one value is marked (:func:`degenerate`)."""


def degenerate(table: ScoreTable, cells: Sequence[Arch]) -> str | None:
    """Why ``table`` has no ρ to report over ``cells`` when its finite scores there are one value
    (a ρ would then only rank the undefined, -inf, cells last: an indicator, not the proxy);
    None otherwise."""
    values = [table.scores[a] for a in cells]
    finite = {v for v in values if math.isfinite(v)}
    if len(finite) != 1:
        return None
    return (f"{DEGENERATE}: every finite score is {next(iter(finite))!r} ({sum(map(math.isfinite, values))} "
            f"of {len(values)} cells; the rest -inf), so a ρ would only rank the undefined cells last")


def _single(source: _Source, proxy: str, dataset: str, table: ScoreTable | None
            ) -> tuple[Correlation | None, str]:
    if table is None:
        return None, "no score table"
    cells = sample_cells(table)
    if not cells:
        return None, (f"incomplete table ({len(table.scores)} cells) without a random sweep "
                      "order: not a sample")
    flat = degenerate(table, cells)
    if flat:
        return None, flat
    try:
        return _correlation(source, proxy, dataset, cells, table.complete), ""
    except NotRun as exc:
        return None, str(exc)


# ---------------------------------------------------------------- rendering


_CODE = re.compile(r"[^`|<>&\\\n\r]{1,80}")
_PROSE = {**{c: " " for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)},
          **{ord(c): "\\" + c for c in "\\`*[]|~$"},
          ord("<"): "&lt;", ord(">"): "&gt;", ord("&"): "&amp;"}
"""Registry prose made inert but readable: control characters folded, the Markdown
metacharacters that could open markup backslash-escaped, HTML's three characters as entities."""


_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
"""An ``_`` that could open or close emphasis (one inside a word, ``grad_norm``, cannot)."""


def prose(text: str) -> str:
    """``text`` as one inert line of Markdown (lighter than :func:`harness.report.md_text`, so
    the README source stays readable: parentheses, quotes and ``_`` are left as they are)."""
    return _EDGE_UNDERSCORE.sub(r"\\_", str(text).translate(_PROSE))


def inline(text: str) -> str:
    """Registry prose as one line of Markdown: RST ````code```` becomes a code span when it is
    plain, everything else goes through :func:`prose`."""
    parts = str(text).split("``")
    out = [f"`{part}`" if i % 2 and _CODE.fullmatch(part) else prose(part)
           for i, part in enumerate(parts)]
    return " ".join("".join(out).split())


def _number(x: float) -> str:
    return f"{x:.3f}"


def correlation_text(c: Correlation | None) -> str:
    """One table cell: ``ρ (|ρ|)``, for a sample its 95% interval and n, for vote its agreement."""
    if c is None:
        return DASH
    text = f"{_number(c.rho)} ({_number(c.abs_rho)})"
    if not c.complete and c.interval is not None:
        text += f" [{_number(c.interval[0])}, {_number(c.interval[1])}] n={c.n}"
    if c.tau is not None:
        text += f"; τ {_number(c.tau)}"
    if c.agreement is not None:
        text += f"; agreement {_number(c.agreement)}"
    if c.vs_layers is not None:
        v = c.vs_layers
        text += f"; vs ℵ {v.value:+.3f}"
        if v.interval is not None:
            text += f" [{v.interval[0]:+.3f}, {v.interval[1]:+.3f}]"
    return text


def seconds_text(s: float | None) -> str:
    return DASH if s is None else f"{s:.3g}"


def render_table(table: ProxyTable) -> str:
    """The Markdown table of :func:`proxy_table` (the README block's body)."""
    names = [SHORT.get(d, d) for d in table.datasets]
    lines = ["| proxy | definition | reference | s/cell (" + " / ".join(names) + ") | "
             + " | ".join(f"ρ (\\|ρ\\|) {prose(n)}" for n in names) + " |",
             "|---|---|---|---|" + "---|" * len(names)]
    for r in table.rows:
        name = (f"`{r.name}`" + (f" (ensemble of {', '.join(r.members)})" if r.ensemble else "")
                + ("" if r.swept else " (not swept by default)"))
        speeds = " / ".join(seconds_text(r.seconds.get(d)) for d in table.datasets)
        cells = [f"{DASH} ({DEGENERATE})" if r.why.get(d, "").startswith(DEGENERATE)
                 else correlation_text(r.correlations.get(d)) for d in table.datasets]
        lines.append(f"| {name} | {inline(r.definition) or DASH} | {inline(r.reference) or DASH} | "
                     f"{speeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


README_NOTE = (
    "Rendered by `python -m harness proxies --readme README.md` from the committed score tables "
    "(`benchmarks/scores`); do not edit by hand (`--check` exits 1 when this block is stale). ρ: Spearman ρ of the "
    "proxy's scores against NATS-Bench's 200-epoch test accuracy over the whole space (non-finite "
    "scores ranked last), |ρ| in parentheses; for a table still being swept, ρ over the random sample "
    "of n cells it holds with a 95% interval for the space's ρ. τ: Kendall τ-b over the same cells. vs ℵ: ρ minus "
    "the ρ of the trivial layer count (`layers`, VKDNW's ℵ) over the same cells, with a 95% interval for "
    "two dependent coefficients when the cells are a sample (harness/proxy_table.py). — (degenerate): every finite score of "
    "the table is one value, so a ρ would only rank its undefined (-inf) cells last and none is "
    "reported (the proxy's entry in docs/proxies.md gives the cause). s/cell: median scoring seconds per "
    "cell recorded by the sweep (an ensemble: the sum of its members'). —: no table (or nothing "
    "recorded). Definitions, references and each recipe's differences from its anchor: "
    "[`docs/proxies.md`](docs/proxies.md).")


def readme_block(table: ProxyTable) -> str:
    """The text between the README markers."""
    return README_NOTE + "\n\n" + render_table(table)


def _needs(proxy: Proxy) -> str:
    n = proxy.needs
    words = [w for w, on in (("images", n.data), ("labels", n.labels),
                             ("input size only (data-free)", n.resolution),
                             ("random draws from the scoring rule's generator", n.random),
                             ("a BatchNorm-free copy", n.bn_free), ("float64", n.float64)) if on]
    if proxy.ensemble:
        return "its members' scores over a population of cells"
    return ", ".join(words) or "the network only"


def docs_block(table: ProxyTable, registered: Sequence[Proxy] | None = None) -> str:
    """The generated part of ``docs/proxies.md``: one section per proxy."""
    by_name = {p.name: p for p in (proxies() if registered is None else registered)}
    out: list[str] = []
    for r in table.rows:
        p = by_name.get(r.name)
        out += [f"## `{r.name}`", "",
                f"- **definition**: {inline(r.definition) or DASH}",
                f"- **reference**: {inline(r.reference) or DASH}"]
        if p is not None:
            out.append(f"- **needs**: {prose(_needs(p))}")
            if p.batch_size is not None:
                out.append(f"- **reference batch size**: {p.batch_size}")
            if p.uses:
                out.append("- **shared-pass products**: "
                           + ", ".join(f"`{u}`" for u in sorted(p.uses) if _CODE.fullmatch(u)))
        if r.members:
            out.append(f"- **members**: {', '.join(f'`{m}`' for m in r.members)}")
        out.append(f"- **our variant vs the anchor**: {inline(r.variant) or DASH}")
        for d in table.datasets:
            c = r.correlations.get(d)
            measured = correlation_text(c) if c is not None else f"{DASH} ({prose(r.why.get(d, ''))})"
            out.append(f"- **{prose(SHORT.get(d, d))}**: ρ (|ρ|) {measured}; "
                       f"s/cell {seconds_text(r.seconds.get(d))}")
        out.append("")
    return "\n".join(out).rstrip("\n")


def replace_block(text: str, block: str, where: str = "the file",
                  markers: tuple[str, str] = (BEGIN, END)) -> str:
    """``text`` with everything between the ``markers`` (default :data:`BEGIN` and :data:`END`)
    replaced by ``block`` (the markers and all text outside them kept byte for byte)."""
    begin, end = markers
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ProxyTableError(
            f"{where} must hold exactly one {begin} ... {end} pair, begin first; found "
            f"{text.count(begin)} begin and {text.count(end)} end markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{block}\n{end}{tail}"


@dataclass(frozen=True)
class Rewrite:
    """One generated file: its path and whether its block was (or, under ``--check``, would be)
    changed."""

    path: Path
    stale: bool


def read_target(path: str | Path, markers: tuple[str, str] = (BEGIN, END)) -> str:
    """The text of a file whose generated block is to be rewritten, checked before any work: a
    regular UTF-8 file of at most :data:`MAX_DOC_BYTES` with exactly one marker pair."""
    path = Path(path)
    raw = read_file(path, MAX_DOC_BYTES, ProxyTableError, "generated-block file",
                    f"expected a Markdown file of at most {MAX_DOC_BYTES} bytes")
    try:
        text = raw.decode("utf-8")  # bytes: line endings kept as they are
    except UnicodeDecodeError as exc:
        raise ProxyTableError(f"{shown_path(path)} is not UTF-8 text (byte {exc.start}); "
                              "expected a Markdown file") from exc
    replace_block(text, "", shown_path(path), markers)
    return text


def rewrite(path: str | Path, block: str, check: bool = False,
            markers: tuple[str, str] = (BEGIN, END)) -> Rewrite:
    """Put ``block`` between the ``markers`` of the file at ``path``; with ``check`` only say
    whether it is stale. The file is written only when its text changes."""
    path = Path(path)
    text = read_target(path, markers)
    new = replace_block(text, block, shown_path(path), markers)
    stale = new != text
    if stale and not check:
        write_atomic(path, new.encode("utf-8"), ProxyTableError, "generated-block file")
    return Rewrite(path, stale)


def _bars(ax: Any, rows: Sequence[ProxyRow], datasets: Sequence[str],
          value: Callable[[Correlation], tuple[float, tuple[float, float] | None] | None]
          ) -> None:
    """One bar per proxy and dataset of ``value(correlation)`` = (height, 95% interval or None),
    an error bar where there is an interval; nothing where ``value`` gives None."""
    width = 0.8 / max(1, len(datasets))
    for k, d in enumerate(datasets):
        xs, ys, err = [], [], [[], []]
        for i, r in enumerate(rows):
            c = r.correlations.get(d)
            got = None if c is None else value(c)
            if got is None:
                continue
            y, interval = got
            lo, hi = interval if interval is not None else (y, y)
            xs.append(i + (k - (len(datasets) - 1) / 2) * width)
            ys.append(y)
            err[0].append(y - lo)
            err[1].append(hi - y)
        ax.bar(xs, ys, width, yerr=err, capsize=2, label=SHORT.get(d, d))
    ax.axhline(0, color="0.3", lw=0.8)


def plot_correlations(table: ProxyTable, path: str | Path) -> bool:
    """The ranking as a figure at ``path``, one bar per proxy and dataset in three panels:
    Spearman ρ (error bars: a sample's 95% interval), Kendall τ over the same cells, and ρ
    minus the layer count's ρ (ℵ) over the same cells (error bars: the 95% interval for two
    dependent coefficients of a sample). False (nothing written) when no proxy has a
    correlation."""
    import matplotlib.pyplot as plt

    rows = [r for r in table.rows if any(r.correlations.get(d) for d in table.datasets)]
    if not rows:
        return False
    fig, (top, mid, low) = plt.subplots(3, 1, sharex=True,
                                        figsize=(max(6.0, 0.9 * len(rows) + 2), 10))
    _bars(top, rows, table.datasets, lambda c: (c.rho, c.interval))
    top.set_ylabel("Spearman rho")
    top.set_ylim(-1, 1)
    top.legend(fontsize=8)
    top.set_title("each proxy against 200-epoch test accuracy (bars: 95% interval of a sample)",
                  fontsize=10)
    _bars(mid, rows, table.datasets, lambda c: None if c.tau is None else (c.tau, None))
    mid.set_ylabel("Kendall tau-b")
    mid.set_ylim(-1, 1)
    _bars(low, rows, table.datasets, lambda c: None if c.vs_layers is None else
          (c.vs_layers.value, c.vs_layers.interval))
    low.set_ylabel(f"rho - rho({BASELINE})")
    low.set_xticks(range(len(rows)), [r.name[:30] for r in rows], rotation=45, ha="right")
    fig.tight_layout()
    with atomic_writer(path, ProxyTableError, "plot") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
    return True


def claims_by_cell(recs: Sequence[Any], rows: Sequence[ProxyRow] = ()
                   ) -> dict[tuple[str | None, str], list[Any]]:
    """A run's claims on the proxies' scores by (proxy, dataset), as each claim's kind names its
    subject (:meth:`harness.details.Details.subject`): one proxy by name; an ensemble's members
    as the ensemble of ``rows`` with those members (else ``"+".join(members)``); how all
    proxies rank as ``(None, dataset)``."""
    from harness.kinds import details_type

    ensembles = {tuple(r.members): r.name for r in rows if r.members}
    found: dict[tuple[str | None, str], list[Any]] = {}
    for r in sorted(recs, key=lambda r: r.id):
        proto = r.protocol or {}
        dataset = proto.get("score_dataset") or proto.get("dataset")
        subject = details_type(r.kind).subject(r)
        if not isinstance(dataset, str) or subject is None:
            continue
        proxy = (None if not subject else subject[0] if len(subject) == 1
                 else ensembles.get(subject, "+".join(subject)))
        found.setdefault((proxy, dataset), []).append(r)
    return found
