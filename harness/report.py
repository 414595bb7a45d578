"""Render a results JSON as a Markdown reproduction report with PNG plots (matplotlib, Agg).

A results file is untrusted: everything taken from it reaches the Markdown only through
:func:`md_text` (prose) or :func:`md_cell` (table cells), which HTML-escape ``<>&"'``,
backslash-escape the Markdown metacharacters and fold line breaks, so a file cannot plant HTML,
links, images, headings or table breaks. Claim ids are limited to a safe charset on load and
shown as code spans; plot files have fixed names inside the output folder, and plot labels are
drawn without mathtext.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from harness.outcome import UNMEASURED, AlternativeRun, Outcome
from harness.results import OutputError, load_results, outcomes, valid_claim_id
from harness.rules import get_rule
from harness.verdicts import (
    ERROR,
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    NOT_RUN,
    STATUSES,
    UNEXPECTED_PASS,
    Estimate,
    Tolerance,
)
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import one_line, shown

TABLE_ORDER = ("Fig. 3", "Table I", "Table II", "Table III", "Table IV", "Table V",
               "Text claims", "Anchors")
DATASETS = TARGET_DATASETS
MD_META = frozenset("\\`*_{}[]()#+!|~$")
"""Markdown metacharacters a data string has backslash-escaped (``$``: GitHub's math)."""
MAX_BOXES = 200
"""Most claims drawn in one distribution plot (the registry has about 25 per dataset)."""
MAX_POINTS = 5000
"""Most points drawn in one scatter panel (the harness records 1,500)."""
_TRANSLATE = {**{c: " " for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)},
              **{ord(c): "\\" + c for c in MD_META}}
_PLOT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.png")


def md_text(value: Any) -> str:
    """``value`` as inert Markdown prose: one line, metacharacters escaped, HTML escaped.

    One ``str.translate`` folds every control character and line break to a space and
    backslash-escapes the metacharacters, so the cost is linear in the text, never per character
    in Python.
    """
    return html.escape(str(value).translate(_TRANSLATE).strip(), quote=True)


def md_cell(value: Any) -> str:
    """``value`` as one table cell: :func:`md_text` (which escapes ``|``), never empty."""
    return md_text(value) or " "


def md_code(claim_id: Any) -> str:
    """A claim id as a code span; an id outside the safe charset is shown as escaped text."""
    return f"`{claim_id}`" if valid_claim_id(claim_id) else md_text(claim_id)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "nan" if x != x else f"{x:.{digits}g}"
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) < 10**30:
        return str(x)
    return md_text(x)


def _estimate(e: Estimate | None) -> str:
    if e is None:
        return "–"
    text = _fmt(e.value)
    if e.std is not None:
        text += f" ± {_fmt(e.std, 3)}"
    if e.ci is not None and len(e.ci) == 2:
        text += f" [{_fmt(e.ci[0], 3)}, {_fmt(e.ci[1], 3)}]"
    if e.n is not None:
        text += f" (n={_fmt(e.n)})"
    return text


def _matching(rec: Outcome) -> str:
    hits = [md_text(a.label) for a in rec.alternatives_run if a.passed]
    return "; ".join(hits) if hits else "none"


def _margin(rec: Outcome) -> str:
    j = rec.judgement
    if j is None:
        return md_cell(rec.reason or "")
    if get_rule(rec.tolerance.rule).unit == "factor" and "ratio" in j.statistic:
        return f"×{_fmt(j.statistic['ratio'], 3)} (allowed ×{_fmt(j.allowed, 3)})"
    return f"{_fmt(j.difference, 3)} (allowed {_fmt(j.allowed, 3)})"


def _row(rec: Outcome) -> str:
    pub = rec.published
    if rec.reference is not None:
        pub_text = f"B = {_estimate(rec.reference)}"
    else:
        pub_text = _estimate(pub) if pub is not None and pub.value == pub.value else "–"
    return (f"| {md_code(rec.id)} | {md_cell(rec.title)} | {pub_text} | "
            f"{_estimate(rec.reproduced)} | {_margin(rec)} | **{md_cell(rec.status)}** | "
            f"{_matching(rec) if rec.measured else '–'} |")


def status_counts(recs: list[Outcome]) -> dict[str, int]:
    """Claims per status: every known status (``error`` only when present), then any other."""
    seen = Counter(str(r.status) for r in recs)
    counts = {s: seen.pop(s, 0) for s in STATUSES if s != ERROR or seen.get(s)}
    return counts | dict(sorted(seen.items()))


def _run_lines(data: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    mi = data.get("machine_info") or {}
    tf = mi.get("tfnas") or {}
    cpu = mi.get("cpu") or {}
    lines = [f"- machine: {md_text(mi.get('node', '?'))}, {md_text(cpu.get('brand_raw', '?'))}, "
             f"{_fmt(tf.get('cpu_count', '?'))} CPUs, torch {md_text(tf.get('torch', '?'))} "
             f"({_fmt(tf.get('torch_threads', '?'))} threads), "
             f"Python {md_text(mi.get('python_version', '?'))}"]
    ci = data.get("commit_info") or {}
    lines.append(f"- commit: {md_text(ci.get('id', '?'))} (dirty: {md_text(ci.get('dirty', '?'))}); "
                 f"date {md_text(data.get('datetime', '?'))}")
    options = claims.get("options") or {}
    lines.append("- options: " + (", ".join(f"{md_text(k)}={md_text(v)}"
                                            for k, v in sorted(options.items())) or "–"))
    for name, digest in sorted((tf.get("data_sha256") or {}).items()):
        lines.append(f"- data {md_text(name)}: sha256 {md_text(str(digest)[:16])}…")
    return lines


def render_markdown(data: dict[str, Any], plots: list[str]) -> str:
    """The report text: summary first, then one table per paper table, then per-claim detail."""
    claims = data["claims"]
    recs = sorted(outcomes(data), key=lambda r: r.id)
    counts = status_counts(recs)
    lines = ["# Reproduction report: Training Free Neural Architecture Search", ""]
    lines.append("**Summary:** " + ", ".join(f"{v} {md_text(k)}" for k, v in counts.items())
                 + f" — {len(recs)} claims.")
    lines.append("")
    for status in (NOT_REPRODUCED, UNEXPECTED_PASS, KNOWN_DIVERGENCE, NOT_RUN, ERROR):
        ids = [r.id for r in recs if r.status == status]
        if ids:
            lines.append(f"- *{status}*: " + ", ".join(md_code(i) for i in ids))
    lines += ["", "## Run", ""]
    lines += _run_lines(data, claims)
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for r in recs:
        groups[r.table or "Other"].append(r)
    order = [t for t in TABLE_ORDER if t in groups] + sorted(set(groups) - set(TABLE_ORDER))
    for table in order:
        lines += ["", f"## {md_text(table)}", "",
                  "| claim | what | published | reproduced | difference | verdict | "
                  "alternatives that match |",
                  "|---|---|---|---|---|---|---|"]
        lines += [_row(r) for r in groups[table]]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p}]({p})" for p in plots if _PLOT_NAME.fullmatch(p)]
    lines += ["", "## Claim details", ""]
    for r in recs:
        lines += _details(r)
    return "\n".join(lines) + "\n"


def _tolerance_line(tol: Tolerance) -> str:
    params = ", ".join(f"{k}={_fmt(getattr(tol, k))}" for k in ("alpha", "margin", "factor")
                       if getattr(tol, k) is not None)
    return f"- tolerance: {md_text(tol.rule)} {params} — {md_text(tol.justification)}"


def _alternative_line(a: AlternativeRun) -> str:
    label = md_text(a.label)
    if a.status == NOT_RUN:
        return f"  - alternative *{label}*: not run ({md_text(a.reason)})"
    verdict = "matches" if a.passed else "does not match"
    return (f"  - alternative *{label}*: {_estimate(a.reproduced)} → {verdict} "
            f"({md_text(a.explanation)})")


def _details(r: Outcome) -> list[str]:
    out = [f"### {md_code(r.id)} — {md_text(r.status)}", "",
           f"- source: {md_text(r.source)}",
           f"- interpretation: {md_text(r.interpretation)}",
           _tolerance_line(r.tolerance)]
    if r.judgement is not None:
        out.append(f"- test: {md_text(r.judgement.explanation)}")
    if r.reason:
        label = "failed with an error" if r.status == ERROR else "not run because"
        out.append(f"- {label}: {md_text(r.reason)}")
    if r.known_divergence:
        out.append(f"- diagnosis (known divergence): {md_text(r.known_divergence)}")
    if r.notes:
        out.append(f"- notes: {md_text(r.notes)}")
    for m in (r.details or {}).get("methods") or []:
        means = ", ".join(f"{md_text(d)} {_fmt(v)}" for d, v in m["means"].items())
        out.append(f"  - {md_text(m['method'])}: {means} → best {md_text(m['best'])}")
    out += [_alternative_line(a) for a in r.alternatives_run]
    out.append("")
    return out


# ---------------------------------------------------------------- plots


def _plot_file(out: Path, name: str) -> Path:
    """``out / name`` for a fixed plot name, checked to stay inside the output folder."""
    path = (out / name).resolve()
    if not _PLOT_NAME.fullmatch(name) or path.parent != out.resolve():
        raise ValueError(f"plot name {name!r} would leave the output folder")
    return path


def _finite_pairs(xs: list, ys: list) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=False) if math.isfinite(x) and math.isfinite(y)]
    pairs = pairs[:MAX_POINTS]
    return [x for x, _ in pairs], [y for _, y in pairs]


SCATTER_PROTOCOL = {"proxy": "naswot", "metric": "valid12", "coefficient": "pearson"}
"""The correlation the scatter plot shows per dataset (the paper's Fig. 3): NASWOT scores
against 12-epoch validation accuracy, Pearson."""


def _scatter_claim(recs: list[Outcome], dataset: str) -> Outcome | None:
    """The first (by id) correlation claim of :data:`SCATTER_PROTOCOL` on ``dataset``."""
    hits = [r for r in recs if r.kind == "correlation" and r.protocol.get("dataset") == dataset
            and all(r.protocol.get(k) == v for k, v in SCATTER_PROTOCOL.items())]
    return min(hits, key=lambda r: r.id) if hits else None


def _plot_scatter(recs: list[Outcome], out: Path) -> str | None:
    import matplotlib.pyplot as plt

    chosen = [_scatter_claim(recs, d) for d in DATASETS]
    if not any(r and (r.details or {}).get("scatter") for r in chosen):
        return None
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, d, r in zip(axes, DATASETS, chosen, strict=True):
        sc = ((r.details if r else None) or {}).get("scatter")
        ax.set_title(d)
        x, y = _finite_pairs(sc["score"], sc["accuracy"]) if sc else ([], [])
        if not x:
            ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
            continue
        ax.scatter(x, y, s=3, alpha=0.4)
        rv = r.reproduced.value if r.reproduced is not None else None
        pub = r.published.value if r.published is not None else None
        ax.set_xlabel("NASWOT score")  # the proxy of SCATTER_PROTOCOL
        ax.set_ylabel("12-epoch validation accuracy (%)")
        ax.text(0.03, 0.95, f"r = {_fmt(rv, 3)} (paper {_fmt(pub)})", transform=ax.transAxes,
                va="top")
    fig.tight_layout()
    name = "fig3_scatter.png"
    fig.savefig(_plot_file(out, name), dpi=100)
    plt.close(fig)
    return name


def _distribution_rows(recs: list[Outcome], d: str) -> list[tuple[str, list[float], Any]]:
    rows = []
    for r in sorted(recs, key=lambda r: r.id):
        proto = r.protocol
        values = [v for v in (r.details or {}).get("values") or [] if math.isfinite(v)]
        if (r.status not in UNMEASURED and r.kind == "search"
                and proto.get("dataset") == d and proto.get("quantity") == "accuracy"
                and proto.get("selection") == "best" and values):
            label = f"{r.id.replace(f'-{d}', '')} ({proto.get('metric', '?')})"
            rows.append((label, values, r.published.value if r.published is not None else None))
    return rows[:MAX_BOXES]


def _plot_distributions(recs: list[Outcome], out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    names = []
    for d in DATASETS:
        rows = _distribution_rows(recs, d)
        if not rows:
            continue
        fig, ax = plt.subplots(figsize=(min(40, max(6, 0.8 * len(rows))), 4))
        ax.boxplot([values for _, values, _ in rows])
        ax.set_xticks(range(1, len(rows) + 1), [label[:60] for label, _, _ in rows],
                      rotation=60, ha="right", fontsize=7)
        for i, (_, _, pub) in enumerate(rows, start=1):
            if pub is not None and math.isfinite(pub):
                ax.plot(i, pub, "r_", markersize=18)
        ax.set_ylabel("accuracy of the selected cell (%)")
        ax.set_title(f"{d}: selected-cell accuracy per method (red: published mean)")
        fig.tight_layout()
        name = f"accuracy_{d}.png"
        fig.savefig(_plot_file(out, name), dpi=100)
        plt.close(fig)
        names.append(name)
    return names


def write_report(results: str | Path, out_dir: str | Path = "report") -> Path:
    """Write ``report.md`` and its PNGs into ``out_dir``; return the Markdown path.

    The results are validated first, so a bad file writes nothing; a folder that cannot be
    written raises :class:`~harness.results.OutputError`.
    """
    import matplotlib

    matplotlib.use("Agg")
    data = load_results(results)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        recs = outcomes(data)
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            plots = [p for p in [_plot_scatter(recs, out)] if p]
            plots += _plot_distributions(recs, out)
        path = out / "report.md"
        path.write_text(render_markdown(data, plots), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the report into {shown(str(out), 200)}: "
                          f"{one_line(exc, 200)}") from exc
    return path
