"""Render a results JSON as a Markdown reproduction report with PNG plots (matplotlib, Agg).

The first screen is a reviewer's summary: claims per status and independent measurements per
status (:mod:`harness.ledger`; a measurement its claims judge differently is named), then per
paper table which reading fits (``claims.tables``), what reproduces, what does not and why (the
diagnosis rendered from the run, else the interval against the margin), what would decide an
inconclusive row, and every claim left out (deselected, not run, error) with its reason. Then the
run, one table per paper table (difference and interval, verdict, slack, power), the plots (the
predicted sampling distribution of each table's published statistic against the published value;
score vs accuracy near the top) and per claim: the verdict's numbers, power, what would decide,
the diagnosis's checks, the seed-free estimate and the value per scoring realisation. Every
number is a field of the JSON, formatted (the ``TRACE`` line says which).

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
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.ledger import Ledger, ledger
from harness.ledger import status_counts as _count_statuses
from harness.outcome import UNMEASURED, AlternativeRun, Outcome
from harness.results import QUANTILES, OutputError, load_results, outcomes, valid_claim_id
from harness.rules import get_rule
from harness.verdicts import (
    DIAGNOSIS_UNSUPPORTED,
    ERROR,
    INCONCLUSIVE,
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    Estimate,
    Judgement,
    Tolerance,
)
from tfnas.bounded import atomic_writer, write_atomic
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import TfnasError, one_line, shown

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
    if e.n is not None or e.se is not None:
        parts = [f"n={_fmt(e.n)}"] * (e.n is not None) + [f"se {_fmt(e.se, 3)}"] * (e.se is not None)
        text += f" ({', '.join(parts)})"
    return text


def _matching(rec: Outcome) -> str:
    hits = [md_text(a.label) for a in rec.alternatives_run
            if (a.judgement.verdict == REPRODUCED if a.judgement is not None else a.passed)]
    return "; ".join(hits) if hits else "none"


def _factor_rule(rec: Outcome) -> bool:
    return get_rule(rec.tolerance.rule).unit == "factor"


def _ratio(rec: Outcome, j: Judgement) -> float | None:
    """The ratio a factor rule judged: its statistic's ``ratio``, else exp(the log difference)."""
    if "ratio" in j.statistic:
        return j.statistic["ratio"]
    try:
        return math.exp(j.difference)
    except (OverflowError, TypeError):
        return None


def _interval(rec: Outcome, j: Judgement) -> str:
    """The decision's interval, in the unit the claim reads (a factor rule's as ratios)."""
    if j.interval is None:
        return ""
    lo, hi = j.interval
    if _factor_rule(rec):
        try:
            return f" [×{_fmt(math.exp(lo), 3)}, ×{_fmt(math.exp(hi), 3)}]"
        except OverflowError:
            return f" [log {_fmt(lo, 3)}, log {_fmt(hi, 3)}]"
    return f" [{_fmt(lo, 3)}, {_fmt(hi, 3)}]"


def _margin(rec: Outcome) -> str:
    j = rec.judgement
    if j is None:
        return md_cell(rec.reason or "")
    if _factor_rule(rec) and ("ratio" in j.statistic or j.verdict is not None):
        allowed = rec.tolerance.factor if rec.tolerance.factor is not None else j.allowed
        return f"×{_fmt(_ratio(rec, j), 3)}{_interval(rec, j)} (allowed ×{_fmt(allowed, 3)})"
    return (f"{_fmt(j.difference, 3)}{_interval(rec, j)} (allowed {_fmt(j.allowed, 3)})"
            + _spread(rec, j))


def _spread(rec: Outcome, j: Judgement) -> str:
    """The spread part of a distribution rule: the σ ratio, its interval, the factor allowed."""
    st = j.statistic
    if "spread_ratio" not in st:
        return ""
    text = f"; σ ratio {_fmt(st['spread_ratio'], 3)}"
    if "spread_low" in st and "spread_high" in st:
        text += f" [{_fmt(st['spread_low'], 3)}, {_fmt(st['spread_high'], 3)}]"
    factor = rec.tolerance.factor
    return text + (f" (allowed ×{_fmt(factor, 3)})" if factor is not None else "")


def _verdict(rec: Outcome) -> str:
    """The claim's status, and the rule's verdict where the status is another word for it."""
    j = rec.judgement
    if j is not None and rec.status != j.verdict:
        return f"**{md_cell(rec.status)}** (rule: {md_text(j.verdict)})"
    return f"**{md_cell(rec.status)}**"


def _row(rec: Outcome) -> str:
    pub = rec.published
    if rec.reference is not None:
        pub_text = f"B = {_estimate(rec.reference)}"
    else:
        pub_text = _estimate(pub) if pub is not None and pub.value == pub.value else "–"
    j = rec.judgement
    return (f"| {md_code(rec.id)} | {md_cell(rec.title)} | {pub_text} | "
            f"{_estimate(rec.reproduced)} | {_margin(rec)} | {_verdict(rec)} | "
            f"{_fmt(j.slack, 3) if j else '–'} | {_fmt(j.power, 2) if j else '–'} | "
            f"{_matching(rec) if rec.measured else '–'} |")


def status_counts(recs: list[Outcome]) -> dict[str, int]:
    """Claims per status: every known status (``error`` only when present), then any other."""
    return _count_statuses([str(r.status) for r in recs])


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


# ---------------------------------------------------------------- the first screen


MAX_NAMED = 12
"""Most claims named per verdict in one table's finding (the rest: "and K more")."""
MAX_WHY = 4
"""Most not-reproduced claims of one table whose reason the finding spells out."""
TRACE = ("Where the numbers come from (results JSON): counts from `claims.outcomes[].status` and "
         "`.measurement`; readings from `claims.tables`; a difference, its interval, slack, power "
         "and what would decide from `.judgement`; the diagnosis from `.diagnosis.text`; sampling "
         "distributions and scoring realisations from `.details`; deselected claims from "
         "`claims.deselected`.")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _ids(ids: list[str], limit: int = MAX_NAMED) -> str:
    shown_ids = ", ".join(md_code(i) for i in ids[:limit])
    return shown_ids + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {md_text(k)}" for k, v in counts.items() if v) or "none"


def _table_record(claims: dict[str, Any], table: str) -> dict[str, Any] | None:
    for t in claims.get("tables") or []:
        if isinstance(t, dict) and t.get("table") == table:
            return t
    return None


def _reading_sentence(t: dict[str, Any]) -> str:
    """Which reading fits a paper table, and how each reading fares (``claims.tables``)."""
    def fares(r: dict[str, Any]) -> str:
        ll = r.get("log_likelihood")
        text = (f"{_fmt(r.get('reproduced', 0))} of {_fmt(r['rows'])} rows reproduced, "
                f"{_fmt(r.get('not_reproduced', 0))} not, {_fmt(r.get('inconclusive', 0))} "
                "inconclusive")
        return text + (f", log-likelihood {_fmt(ll, 4)}" if ll is not None else "")

    readings = t.get("readings") or []
    best = t.get("best_reading")
    first = next((r for r in readings if r["reading"] == best), None)
    others = [r for r in readings if r is not first]
    parts = []
    if first is not None:
        parts.append(f"the reading that fits is *{md_text(best)}* ({fares(first)})")
    else:
        parts.append("no reading fits better than another")
    parts += [f"*{md_text(r['reading'])}*: {fares(r)}" for r in others]
    return "; ".join(parts) + "."


def _why(rec: Outcome) -> str:
    """Why a claim does not reproduce, from the run: the rendered diagnosis, else the numbers."""
    j = rec.judgement
    if rec.diagnosis and rec.diagnosis.get("text"):
        why = md_text(rec.diagnosis["text"])
    elif j is not None:
        why = f"difference {_margin(rec)}"
    else:
        why = md_text(rec.reason or "no measurement")
    failed = [c for c in (rec.diagnosis or {}).get("checks") or [] if not c.get("holds")]
    if failed:
        why += "; diagnosis no longer holds: " + "; ".join(
            f"{md_text(c['check'])} expected {_fmt(c.get('expected'))}, observed "
            f"{_fmt(c.get('observed'))}" for c in failed)
    return why


def _table_finding(table: str, recs: list[Outcome], claims: dict[str, Any]) -> list[str]:
    """A few sentences on one paper table, rendered from its outcomes and ``claims.tables``."""
    counts = status_counts(recs)
    lines = [f"- **{md_text(table)}** — {_plural(len(recs), 'claim')}: {_counted(counts)}."]
    t = _table_record(claims, table)
    if t is not None:
        lines[0] += " Across its rows " + _reading_sentence(t)
    by = defaultdict(list)
    for r in recs:
        by[str(r.status)].append(r)
    if by[REPRODUCED]:
        lines.append(f"  - reproduces: {_ids([r.id for r in by[REPRODUCED]])}")
    for status in (NOT_REPRODUCED, KNOWN_DIVERGENCE, DIAGNOSIS_UNSUPPORTED):
        rows = by[status]
        if not rows:
            continue
        lines.append(f"  - {md_text(status)}: {_ids([r.id for r in rows])}")
        lines += [f"    - {md_code(r.id)}: {_why(r)}" for r in rows[:MAX_WHY]]
        if len(rows) > MAX_WHY:
            lines.append(f"    - {len(rows) - MAX_WHY} more: see the claim details")
    derived = [r for r in recs if r.derived_from]
    if derived:
        lines.append("  - not independent (the same measurement as another claim): " + ", ".join(
            f"{md_code(r.id)} from {md_code(r.derived_from)}" for r in derived[:MAX_NAMED]))
    for r in by[INCONCLUSIVE][:MAX_WHY]:
        decide = r.judgement.decide if r.judgement is not None else ""
        lines.append(f"  - inconclusive {md_code(r.id)}: {md_text(decide or 'no decision rule')}")
    if len(by[INCONCLUSIVE]) > MAX_WHY:
        lines.append(f"  - {len(by[INCONCLUSIVE]) - MAX_WHY} more inconclusive: see the claim "
                     "details")
    return lines


def _ledger_lines(book: Ledger) -> list[str]:
    lines = [f"**Independent findings:** {book.total_measurements} distinct measurements under "
             f"{book.total_claims} claims — {_counted(book.measurements)}."]
    if book.split:
        lines.append("Measurements whose claims disagree (counted under each status): " + "; ".join(
            f"{md_text(k)} ({', '.join(md_text(s) for s in v)})" for k, v in book.split.items()))
    return lines


def _left_out_lines(book: Ledger) -> list[str]:
    if not book.left_out:
        return ["- **Left out:** none — every selected claim was measured."]
    lines = [f"- **Left out:** {len(book.deselected)} deselected, "
             f"{len(book.left_out) - len(book.deselected)} not run or failed:"]
    same: dict[tuple[str, str], list[str]] = defaultdict(list)
    for x in book.left_out:  # one line per reason: a deselected live part is one line
        same[(x.how, x.reason)].append(x.id)
    for (how, reason), ids in same.items():
        lines.append(f"  - {md_text(how)} ({len(ids)}): {md_text(reason)} — "
                     + ", ".join(md_code(i) for i in ids))
    return lines


def _groups(recs: list[Outcome]) -> tuple[list[str], dict[str, list[Outcome]]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for r in recs:
        groups[r.table or "Other"].append(r)
    order = [t for t in TABLE_ORDER if t in groups] + sorted(set(groups) - set(TABLE_ORDER))
    return order, groups


def render_markdown(data: dict[str, Any], plots: list[str], proxies: Any = None,
                    proxy_plot: str | None = None) -> str:
    """The report text: the reviewer's summary (counts, findings per paper table, what was left
    out) first, then the proxy-by-dataset correlations (``proxies``: a
    :class:`harness.proxy_table.ProxyTable`, or a string saying why there is none; None leaves
    the section out), the run, one table per paper table, the plots and per-claim detail."""
    claims = data["claims"]
    recs = sorted(outcomes(data), key=lambda r: r.id)
    book = ledger(recs, claims.get("deselected"))
    lines = ["# Reproduction report: Training Free Neural Architecture Search", ""]
    lines.append("**Summary:** " + ", ".join(f"{v} {md_text(k)}" for k, v in book.claims.items())
                 + f" — {len(recs)} claims" + (f"; {len(book.deselected)} deselected"
                                               if book.deselected else "") + ".")
    lines += [""] + _ledger_lines(book) + ["", "## Findings by paper table", ""]
    order, groups = _groups(recs)
    for table in order:
        lines += _table_finding(table, groups[table], claims)
    lines += _left_out_lines(book)
    lines += ["", TRACE]
    if proxies is not None:
        lines += [""] + _proxy_lines(proxies, recs, proxy_plot)
    lines += ["", "## Run", ""]
    lines += _run_lines(data, claims)
    for table in order:
        lines += ["", f"## {md_text(table)}", "",
                  "| claim | what | published | reproduced | difference [interval] | verdict | "
                  "slack | power | alternatives that match |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [_row(r) for r in groups[table]]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p}]({p})" for p in plots if _PLOT_NAME.fullmatch(p)]
    lines += ["", "## Claim details", ""]
    for r in recs:
        lines += _details(r)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- proxies by dataset


PROXY_PLOT = "proxy_correlations.png"
PROXY_NOTE = ("Spearman ρ (|ρ| in parentheses) of each registered proxy's committed score table "
              "against NATS-Bench's 200-epoch test accuracy, computed as the README's proxy table "
              "(`python -m harness proxies`, `harness/proxy_table.py`): over the whole space for "
              "a complete table; over the random sample an incomplete table holds, with n and a "
              "95% interval; — when there is no table. Beside each value: this run's correlation "
              "claims on that proxy and dataset, with their verdicts.")


def _claim_what(r: Outcome) -> str:
    """What a claim of the proxy section measures, from its protocol."""
    p = r.protocol
    if r.kind == "correlation":
        target = p.get("against") or p.get("metric")
        words = [v for v in (p.get("coefficient"), target) if isinstance(v, str)]
        return " ".join(md_text(v) for v in words) + (" absolute" if p.get("absolute") is True
                                                       else "")
    quantity = p.get("quantity")
    return md_text(r.kind) + (f" {md_text(quantity)}" if isinstance(quantity, str) else "")


def _claim_verdicts(recs: list[Outcome]) -> str:
    """Each claim's id, what it measures and its status."""
    return ", ".join(f"{md_code(r.id)} ({_claim_what(r)}) **{md_text(r.status)}**" for r in recs)


def _proxy_lines(proxies: Any, recs: list[Outcome], plot: str | None) -> list[str]:
    """The proxy-by-dataset section: the table, the verdicts of the claims on each proxy and
    dataset, the proxy-ranking claims per dataset, and the plot; or the one-line reason it
    could not be computed."""
    from harness.proxy_table import SHORT, claims_by_cell, correlation_text

    lines = ["## Proxies by dataset", ""]
    if isinstance(proxies, str):
        return lines + [f"Not computed: {md_text(proxies)}"]
    lines += [PROXY_NOTE, ""]  # a constant of this module: Markdown as written
    by_cell = claims_by_cell(recs, proxies.rows)
    names = [SHORT.get(d, d) for d in proxies.datasets]
    lines += ["| proxy | " + " | ".join(md_cell(n) for n in names) + " |",
              "|---|" + "---|" * len(names)]
    for row in proxies.rows:
        cells = []
        for d in proxies.datasets:
            text = md_cell(correlation_text(row.correlations.get(d)))
            claims = by_cell.get((row.name, d))
            cells.append(text + (f"; {_claim_verdicts(claims)}" if claims else ""))
        lines.append(f"| {md_code(row.name)} | " + " | ".join(cells) + " |")
    shown_cells = {(r.name, d) for r in proxies.rows for d in proxies.datasets}
    extra = [""]
    for (proxy, d), claims in sorted(by_cell.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        if proxy is None:
            extra.append(f"- how the proxies rank on {md_text(SHORT.get(d, d))}: "
                         + _claim_verdicts(claims))
        elif (proxy, d) not in shown_cells:
            extra.append(f"- {md_text(proxy)} on {md_text(SHORT.get(d, d))} (no row in the "
                         "table): " + _claim_verdicts(claims))
    if len(extra) > 1:
        lines += extra
    if plot is not None and _PLOT_NAME.fullmatch(plot):
        lines += ["", f"![{plot}]({plot})"]
    return lines


def _proxy_table(proxies: Any) -> Any:
    """``proxies`` as a table: a folder of score tables is computed (a failure becomes its
    one-line reason, the report is still written); a table or None is passed through."""
    if proxies is None or not isinstance(proxies, str | Path):
        return proxies
    from harness.proxy_table import proxy_table

    try:
        return proxy_table(proxies)
    except TfnasError as exc:
        return one_line(exc, 300)


# ---------------------------------------------------------------- per claim


def _tolerance_line(tol: Tolerance) -> str:
    params = ", ".join(f"{k}={_fmt(getattr(tol, k))}" for k in ("alpha", "margin", "factor")
                       if getattr(tol, k) is not None)
    return f"- tolerance: {md_text(tol.rule)} {params} — {md_text(tol.justification)}"


def _alternative_line(a: AlternativeRun) -> str:
    label = md_text(a.label)
    if a.status == NOT_RUN:
        return f"  - alternative *{label}*: not run ({md_text(a.reason)})"
    j = a.judgement
    # without its judgement (older results) an alternative only says whether it passed: a
    # failure may be "not reproduced" or "inconclusive", so the report does not pick one
    verdict = md_text(j.verdict) if j is not None else (
        "–" if a.passed is None else "matches" if a.passed else "does not match")
    extra = f", interval [{_fmt(j.interval[0], 3)}, {_fmt(j.interval[1], 3)}]" if (
        j is not None and j.interval is not None) else ""
    return (f"  - alternative *{label}*: {_estimate(a.reproduced)} → {verdict}{extra} "
            f"({md_text(a.explanation)})")


def _judgement_lines(r: Outcome) -> list[str]:
    j = r.judgement
    if j is None:
        return []
    out = [f"- verdict of the rule: {md_text(j.verdict)}; difference {_margin(r)}"
           + (f"; slack {_fmt(j.slack, 3)} " + ("(distance to the boundary that would flip it)"
                                                 if j.slack >= 0 else "(negative: the interval "
                                                 "overlaps a boundary by this much)")
              if j.slack is not None else "")]
    if j.power is not None or j.power_effect is not None:
        out.append(f"- power: P(reproduced | no true difference) = {_fmt(j.power, 3)}; "
                   f"P(not reproduced | the stated effect {_fmt(j.effect, 3)}) = "
                   f"{_fmt(j.power_effect, 3)}")
    if j.decide:
        out.append(f"- what would decide it: {md_text(j.decide)}")
    out.append(f"- test: {md_text(j.explanation)}")
    return out


def _sampling_text(s: dict[str, Any]) -> str:
    text = f"{_fmt(s.get('mean'))} ± {_fmt(s.get('sd'), 3)}"
    if all(s.get(q) is not None for q in QUANTILES):
        text += f" (5/50/95%: {', '.join(_fmt(s[q]) for q in QUANTILES)})"
    return text


def _sensitivity_lines(r: Outcome) -> list[str]:
    """Seed and scoring sensitivity: the seed-free estimate, the predicted sampling distribution
    of the published statistic, the value per scoring realisation."""
    d = r.details or {}
    out = []
    if d.get("expected") is not None or d.get("method"):
        out.append(f"- seed-free estimate: expected value {_fmt(d.get('expected'))} "
                   f"({md_text(d.get('method') or 'method not recorded')})")
    pred = d.get("predicted") or {}
    if pred.get("mean") or pred.get("std"):
        reps = pred.get("repetitions")
        parts = [f"{name} {_sampling_text(pred[name])}" for name in ("mean", "std")
                 if pred.get(name)]
        out.append(f"- predicted sampling distribution of the published statistic"
                   f"{f' ({_fmt(reps)} repetitions)' if reps is not None else ''}: "
                   + "; ".join(parts) + f"; published {_estimate(r.published)}")
    real = d.get("realisations") or []
    if isinstance(real, int):  # only their number recorded (e.g. a yes/no claim)
        out.append(f"- scoring realisations: {_fmt(real)}")
        real = []
    if real:
        se = r.reproduced.se if r.reproduced is not None else None
        out.append(f"- scoring realisations ({len(real)}): "
                   + ", ".join(f"seed {_fmt(x['seed'])}: {_fmt(x['value'])}" for x in real[:10])
                   + (" …" if len(real) > 10 else "")
                   + (f"; standard error carried {_fmt(se, 3)}" if se is not None else ""))
    cells = d.get("cells")
    if isinstance(cells, list):
        out.append(f"- cells: a sample of {len(cells)}")
    elif cells:
        out.append(f"- cells: {_fmt(cells.get('used'))} used, {_fmt(cells.get('left_out'))} left "
                   f"out ({md_text(cells.get('why') or 'none')})")
    return out


def _diagnosis_lines(r: Outcome) -> list[str]:
    out = []
    kd = r.known_divergence
    if kd:
        expects = ", ".join(f"{label} {md_text(kd[k])}" for k, label in
                            (("expect", "verdict"), ("direction", "direction"),
                             ("reading", "reading reproduced:")) if kd.get(k))
        out.append(f"- recorded divergence: {md_text(kd.get('because', ''))}"
                   + (f" (expects: {expects})" if expects else ""))
    diag = r.diagnosis or {}
    if diag.get("text"):
        out.append(f"- diagnosis from this run: {md_text(diag['text'])}")
    for c in diag.get("checks") or []:
        mark = "holds" if c.get("holds") else "FAILS"
        out.append(f"  - {md_text(c['check'])}: expected {_fmt(c.get('expected'))}, observed "
                   f"{_fmt(c.get('observed'))} — {mark}")
    return out


def _details(r: Outcome) -> list[str]:
    out = [f"### {md_code(r.id)} — {md_text(r.status)}", "",
           f"- source: {md_text(r.source)}",
           f"- interpretation: {md_text(r.interpretation)}"
           + (f" (reading: {md_text(r.reading)})" if r.reading else ""),
           _tolerance_line(r.tolerance)]
    if r.derived_from:
        out.append(f"- derived from {md_code(r.derived_from)}: the same measurement "
                   f"({md_text(r.measurement)}), not independent evidence")
    out += _judgement_lines(r)
    if r.reason:
        label = "failed with an error" if r.status == ERROR else "not run because"
        out.append(f"- {label}: {md_text(r.reason)}")
    out += _diagnosis_lines(r)
    out += _sensitivity_lines(r)
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


def _save_plot(fig: Any, out: Path, name: str) -> None:
    """Write ``fig`` as the PNG ``out / name`` atomically (never into a FIFO or device there)."""
    with atomic_writer(_plot_file(out, name), OutputError, "plot") as handle:
        fig.savefig(handle, format="png", dpi=100)


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
    _save_plot(fig, out, name)
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
        _save_plot(fig, out, name)
        plt.close(fig)
        names.append(name)
    return names


MAX_ROWS = 60
"""Most claims drawn in one sampling-distribution plot."""
MAX_TABLE_PLOTS = 16
"""Most sampling-distribution plots (one per paper table; the paper has six)."""
MAX_PANELS = 6
"""Most measurements drawn in the score-vs-accuracy-near-the-top plot."""
TOP_POINTS = 50
"""Cells of a correlation claim's scatter shown as "near the top" when no top cells are recorded."""


def _sampling_rows(recs: list[Outcome]) -> list[tuple[str, list[float], float | None, list[float]]]:
    """Per claim with a predicted sampling distribution: label, the mean's 5/50/95% quantiles
    minus the published value in units of the margin, and the std's quantiles over the
    published std with the factor (both None/empty when not recorded)."""
    rows = []
    for r in sorted(recs, key=lambda r: r.id):
        pred = ((r.details or {}).get("predicted") or {})
        mean, std, pub = pred.get("mean") or {}, pred.get("std") or {}, r.published
        margin = r.tolerance.margin
        if pub is None or not math.isfinite(pub.value) or not margin or margin <= 0:
            continue
        qs = [mean.get(q) for q in QUANTILES]
        if any(q is None or not math.isfinite(q) for q in qs):
            continue
        spread: list[float] = []
        sq = [std.get(q) for q in QUANTILES]
        if pub.std and pub.std > 0 and all(q is not None and q > 0 and math.isfinite(q)
                                           for q in sq):
            spread = [q / pub.std for q in sq]
        rows.append((r.id, [(q - pub.value) / margin for q in qs], r.tolerance.factor, spread))
    return rows[:MAX_ROWS]


def _plot_sampling(recs: list[Outcome], out: Path) -> list[str]:
    """Per paper table: the predicted sampling distribution of each row's published statistic
    (a claim-repetitions mean, 5–95%) against the published value, in units of the row's margin
    (the equivalence region is ±1), and of its std over the published std."""
    import matplotlib.pyplot as plt

    order, groups = _groups(recs)
    names = []
    for table in order:
        rows = _sampling_rows(groups[table])
        if not rows or len(names) == MAX_TABLE_PLOTS:
            continue
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.2 + 0.3 * len(rows)), sharey=True)
        ys = list(range(len(rows)))
        for y, (_, q, factor, spread) in zip(ys, rows, strict=True):
            left.plot([q[0], q[2]], [y, y], color="tab:blue", lw=2)
            left.plot(q[1], y, "o", color="tab:blue")
            if spread:
                right.plot([spread[0], spread[2]], [y, y], color="tab:green", lw=2)
                right.plot(spread[1], y, "o", color="tab:green")
            if factor:
                right.plot([1 / factor, factor], [y, y], color="0.8", lw=8, zorder=0)
        left.axvspan(-1, 1, color="0.9", zorder=0)
        left.axvline(0, color="red")
        left.set_yticks(ys, [label[:60] for label, _, _, _ in rows], fontsize=7)
        left.set_xlabel("predicted mean − published, in margins (grey: equivalence region)")
        right.axvline(1, color="red")  # linear: log-axis tick labels need mathtext, disabled here
        right.set_xlabel("predicted std / published std (grey: 1/factor..factor)")
        fig.suptitle(f"{table[:60]}: sampling distribution of the published statistic (5–95%)")
        fig.tight_layout()
        name = f"sampling_{len(names)}.png"
        _save_plot(fig, out, name)
        plt.close(fig)
        names.append(name)
    return names


def _near_top(recs: list[Outcome]) -> list[tuple[str, list[float], list[float], list[float]]]:
    """Per score table (proxy, dataset, metric; the first claim by id): score, accuracy and score
    sd of the cells near the top — the recorded ``top_cells``; when no claim records them, the
    top of each correlation claim's scatter."""
    recorded: dict[tuple, tuple] = {}
    from_scatter: dict[tuple, tuple] = {}
    for r in sorted(recs, key=lambda r: r.id):
        d, proto = r.details or {}, r.protocol
        key = tuple(str(proto.get(k, "")) for k in ("proxy", "dataset", "metric"))
        label = " ".join(k for k in key if k) or r.id
        top = d.get("top_cells") or []
        if top and key not in recorded:
            cells = [c for c in top if math.isfinite(c["score"]) and math.isfinite(c["accuracy"])]
            sd = [c.get("score_sd") or 0.0 for c in cells]
            recorded[key] = (f"{label} ({r.id})", [c["score"] for c in cells],
                             [c["accuracy"] for c in cells], sd)
        elif r.kind == "correlation" and d.get("scatter") and key not in from_scatter:
            x, y = _finite_pairs(d["scatter"]["score"], d["scatter"]["accuracy"])
            best = sorted(zip(x, y, strict=True), reverse=True)[:TOP_POINTS]
            from_scatter[key] = (f"{label} ({r.id}, top {len(best)} of its sample)",
                                 [a for a, _ in best], [b for _, b in best], [0.0] * len(best))
    panels = list((recorded or from_scatter).values())
    with_sd = [p for p in panels if any(p[3])]  # the measured scoring noise first
    return (with_sd + [p for p in panels if not any(p[3])])[:MAX_PANELS]


def _plot_top(recs: list[Outcome], out: Path) -> str | None:
    import matplotlib.pyplot as plt

    panels = [p for p in _near_top(recs) if p[1]]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4), squeeze=False)
    for ax, (label, x, y, sd) in zip(axes[0], panels, strict=True):
        ax.errorbar(x, y, xerr=sd if any(sd) else None, fmt="o", ms=3, alpha=0.6, capsize=2)
        ax.set_title(label[:60], fontsize=8)
        ax.locator_params(axis="x", nbins=4)
        ax.set_xlabel("score (bars: sd between scoring realisations)" if any(sd) else "score")
        ax.set_ylabel("accuracy (%)")
    fig.suptitle("score vs accuracy near the top")
    fig.tight_layout()
    name = "top_cells.png"
    _save_plot(fig, out, name)
    plt.close(fig)
    return name


def write_report(results: str | Path, out_dir: str | Path = "report", proxies: Any = None
                 ) -> Path:
    """Write ``report.md`` and its PNGs into ``out_dir``; return the Markdown path.

    ``proxies`` adds the proxy-by-dataset section: a folder of score tables (computed with
    :func:`harness.proxy_table.proxy_table` after the results are validated; a failure to compute
    it is said in the section) or a computed :class:`~harness.proxy_table.ProxyTable`; None
    leaves it out. The results are validated first, so a bad file writes nothing; a folder that
    cannot be written raises :class:`~harness.results.OutputError`.
    """
    import matplotlib

    matplotlib.use("Agg")
    data = load_results(results)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        recs = outcomes(data)
        table = _proxy_table(proxies)
        proxy_plot = None
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            plots = [p for p in [_plot_scatter(recs, out), _plot_top(recs, out)] if p]
            plots += _plot_sampling(recs, out)
            plots += _plot_distributions(recs, out)
            if table is not None and not isinstance(table, str):
                from harness.proxy_table import plot_correlations

                if plot_correlations(table, _plot_file(out, PROXY_PLOT)):
                    proxy_plot = PROXY_PLOT
        path = out / "report.md"
        text = render_markdown(data, plots, table, proxy_plot)
        write_atomic(path, text.encode("utf-8"), OutputError, "report")
    except OSError as exc:
        raise OutputError(f"cannot write the report into {shown(str(out), 200)}: "
                          f"{one_line(exc, 200)}") from exc
    return path
