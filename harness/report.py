"""Render a results JSON as a Markdown reproduction report with PNG plots (matplotlib, Agg).

The first screen is a reviewer's summary: claims per status and independent measurements per
status (:mod:`harness.ledger`; a measurement its claims judge differently is named), then per
paper table which reading fits (``claims.tables``), what reproduces, what does not and why (the
diagnosis rendered from the run, else the interval against the margin), what would decide an
inconclusive row, and every claim left out (deselected, not run, error) with its reason. Then the
run, one table per paper table (difference and interval, verdict, slack, power), the plots and
per claim: the verdict's numbers, power, what would decide, the diagnosis's checks. What a claim
kind recorded (its :class:`~harness.details.Details`) is rendered by the kind itself: its lines
in the claim's section and its figures (:func:`kind_plots`); this module names no kind and no
paper table (tables come in the order the results file lists them). Every number is a field of
the JSON, formatted (the ``TRACE`` line says which).

A results file is untrusted: everything taken from it reaches the Markdown only through
:func:`~harness.markdown.md_text` (prose) or :func:`~harness.markdown.md_cell` (table cells),
which HTML-escape ``<>&"'``,
backslash-escape the Markdown metacharacters and fold line breaks, so a file cannot plant HTML,
links, images, headings or table breaks. Claim ids are limited to a safe charset on load and
shown as code spans; plot files have fixed names inside the output folder, and plot labels are
drawn without mathtext.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.details import Canvas
from harness.kinds import details_type
from harness.ledger import Ledger, evidence, ledger
from harness.ledger import status_counts as _count_statuses
from harness.markdown import (
    PLOT_NAME,
    estimate_text,
    fmt,
    md_cell,
    md_code,
    md_text,
    plural,
)
from harness.outcome import AlternativeRun, Outcome
from harness.results import OutputError, load_results, outcomes
from harness.rules import can_reproduce, get_rule
from harness.verdicts import (
    DIAGNOSIS_UNSUPPORTED,
    ERROR,
    INCONCLUSIVE,
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    Judgement,
    Tolerance,
)
from tfnas.bounded import atomic_writer, write_atomic
from tfnas.errors import TfnasError, one_line, shown


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
            return f" [×{fmt(math.exp(lo), 3)}, ×{fmt(math.exp(hi), 3)}]"
        except OverflowError:
            return f" [log {fmt(lo, 3)}, log {fmt(hi, 3)}]"
    return f" [{fmt(lo, 3)}, {fmt(hi, 3)}]"


def _margin(rec: Outcome) -> str:
    j = rec.judgement
    if j is None:
        return md_cell(rec.reason or "")
    if _factor_rule(rec) and ("ratio" in j.statistic or j.verdict is not None):
        allowed = rec.tolerance.factor if rec.tolerance.factor is not None else j.allowed
        return f"×{fmt(_ratio(rec, j), 3)}{_interval(rec, j)} (allowed ×{fmt(allowed, 3)})"
    return (f"{fmt(j.difference, 3)}{_interval(rec, j)} (allowed {fmt(j.allowed, 3)})"
            + _spread(rec, j))


def _spread(rec: Outcome, j: Judgement) -> str:
    """The spread part of a distribution rule: the σ ratio, its interval, the factor allowed."""
    st = j.statistic
    if "spread_ratio" not in st:
        return ""
    text = f"; σ ratio {fmt(st['spread_ratio'], 3)}"
    if "spread_low" in st and "spread_high" in st:
        text += f" [{fmt(st['spread_low'], 3)}, {fmt(st['spread_high'], 3)}]"
    factor = rec.tolerance.factor
    return text + (f" (allowed ×{fmt(factor, 3)})" if factor is not None else "")


def _verdict(rec: Outcome) -> str:
    """The claim's status, and the rule's verdict where the status is another word for it."""
    j = rec.judgement
    if j is not None and rec.status != j.verdict:
        return f"**{md_cell(rec.status)}** (rule: {md_text(j.verdict)})"
    return f"**{md_cell(rec.status)}**"


def _row(rec: Outcome) -> str:
    pub = rec.published
    if rec.reference is not None:
        pub_text = f"B = {estimate_text(rec.reference)}"
    else:
        pub_text = estimate_text(pub) if pub is not None and pub.value == pub.value else "–"
    j = rec.judgement
    return (f"| {md_code(rec.id)} | {md_cell(rec.title)} | {pub_text} | "
            f"{estimate_text(rec.reproduced)} | {_margin(rec)} | {_verdict(rec)} | "
            f"{fmt(j.slack, 3) if j else '–'} | {fmt(j.power, 2) if j else '–'} | "
            f"{_matching(rec) if rec.measured else '–'} |")


def status_counts(recs: list[Outcome]) -> dict[str, int]:
    """Claims per status: every known status (``error`` only when present), then any other."""
    return _count_statuses([str(r.status) for r in recs])


def _run_lines(data: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    mi = data.get("machine_info") or {}
    tf = mi.get("tfnas") or {}
    cpu = mi.get("cpu") or {}
    lines = [f"- machine: {md_text(mi.get('node', '?'))}, {md_text(cpu.get('brand_raw', '?'))}, "
             f"{fmt(tf.get('cpu_count', '?'))} CPUs, torch {md_text(tf.get('torch', '?'))} "
             f"({fmt(tf.get('torch_threads', '?'))} threads), "
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
    """Which readings a paper table's informative rows are consistent with, the rows no
    reading explains, and how each reading fares (``claims.tables``)."""
    def fares(r: dict[str, Any]) -> str:
        text = (f"{fmt(r.get('reproduced', 0))} of {fmt(r['rows'])} rows reproduced, "
                f"{fmt(r.get('not_reproduced', 0))} not, {fmt(r.get('inconclusive', 0))} "
                "inconclusive")
        against = r.get("rejected_by") or []
        if against:
            text += f"; rejected by {', '.join(md_code(x) for x in against)}"
        return text

    readings = t.get("readings") or []
    consistent = list(t.get("consistent") or [])
    unexplained = list(t.get("unexplained") or [])
    parts = []
    if "consistent" not in t:  # a results file from before the consistency test
        best = t.get("best_reading")
        parts.append(f"the reading named is *{md_text(best)}*" if best else
                     "no reading is named")
    elif len(consistent) == 1:
        parts.append(f"its informative rows are consistent with one reading, "
                     f"*{md_text(consistent[0])}*")
    elif consistent:
        parts.append("the table does not decide between "
                     + ", ".join(f"*{md_text(c)}*" for c in consistent)
                     + " (each is consistent with every informative row)")
    else:
        parts.append("no one reading is consistent with every informative row")
    if unexplained:
        parts.append(f"{plural(len(unexplained), 'row')} no reading explains, left out of the "
                     f"choice: {', '.join(md_code(x) for x in unexplained)}")
    if t.get("family"):
        parts.append(f"fit tests of the published mean and std under each reading's "
                     f"measurement model, Holm over {fmt(t['family'])} tests at "
                     f"{fmt(t.get('alpha'))}")
    parts += [f"*{md_text(r['reading'])}*: {fares(r)}" for r in readings]
    return "; ".join(parts) + "."


def _why(rec: Outcome) -> str:
    """Why a claim does not reproduce, from the run: the rendered diagnosis, else the numbers."""
    j = rec.judgement
    if rec.diagnosis is not None and rec.diagnosis.text:
        why = md_text(rec.diagnosis.text)
    elif j is not None:
        why = f"difference {_margin(rec)}"
    else:
        why = md_text(rec.reason or "no measurement")
    failed = rec.diagnosis.broken if rec.diagnosis is not None else ()
    if failed:
        why += "; diagnosis no longer holds: " + "; ".join(
            f"{md_text(c.check)} expected {fmt(c.expected)}, observed {fmt(c.observed)}"
            for c in failed)
    return why


def _table_finding(table: str, recs: list[Outcome], claims: dict[str, Any]) -> list[str]:
    """A few sentences on one paper table, rendered from its outcomes and ``claims.tables``."""
    counts = status_counts(recs)
    lines = [f"- **{md_text(table)}** — {plural(len(recs), 'claim')}: {_counted(counts)}."]
    t = _table_record(claims, table)
    if t is not None:
        said = _reading_sentence(t)
        lines[0] += " " + said[0].upper() + said[1:]
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


def _groups(recs: list[Outcome], order_of: list[Outcome] | None = None
            ) -> tuple[list[str], dict[str, list[Outcome]]]:
    """Claims per table, the tables in the order the results file first lists them (the
    registry's order), ``order_of`` giving that order when ``recs`` are sorted otherwise."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for r in recs:
        groups[r.table or "Other"].append(r)
    order = list(dict.fromkeys(r.table or "Other" for r in (order_of or recs)))
    return [t for t in order if t in groups], groups


def render_markdown(data: dict[str, Any], plots: list[str], proxies: Any = None,
                    proxy_plot: str | None = None) -> str:
    """The report text: the reviewer's summary (counts, findings per paper table, what was left
    out) first, then the proxy-by-dataset correlations (``proxies``: a
    :class:`harness.proxy_table.ProxyTable`, or a string saying why there is none; None leaves
    the section out), the run, one table per paper table, the plots and per-claim detail."""
    claims = data["claims"]
    listed = outcomes(data)
    recs = sorted(listed, key=lambda r: r.id)
    book = ledger(recs, claims.get("deselected"))
    lines = ["# Reproduction report", ""]
    lines.append("**Summary:** " + ", ".join(f"{v} {md_text(k)}" for k, v in book.claims.items())
                 + f" — {len(recs)} claims" + (f"; {len(book.deselected)} deselected"
                                               if book.deselected else "") + ".")
    lines += [""] + _ledger_lines(book)
    lines += _evidence_lines(recs)
    lines += _cannot_reproduce_lines(recs)
    lines += ["", "## Findings by paper table", ""]
    order, groups = _groups(recs, listed)
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
        lines += [f"![{p}]({p})" for p in plots if PLOT_NAME.fullmatch(p)]
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
    """What a claim of the proxy section measures, in its kind's words."""
    return details_type(r.kind).describe(r)


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
    if plot is not None and PLOT_NAME.fullmatch(plot):
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
    params = ", ".join(f"{k}={fmt(getattr(tol, k))}" for k in ("alpha", "margin", "factor")
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
    extra = f", interval [{fmt(j.interval[0], 3)}, {fmt(j.interval[1], 3)}]" if (
        j is not None and j.interval is not None) else ""
    return (f"  - alternative *{label}*: {estimate_text(a.reproduced)} → {verdict}{extra} "
            f"({md_text(a.explanation)})")


def _judgement_lines(r: Outcome) -> list[str]:
    j = r.judgement
    if j is None:
        return []
    out = [f"- verdict of the rule: {md_text(j.verdict)}; difference {_margin(r)}"
           + (f"; slack {fmt(j.slack, 3)} " + ("(distance to the boundary that would flip it)"
                                                 if j.slack >= 0 else "(negative: the interval "
                                                 "overlaps a boundary by this much)")
              if j.slack is not None else "")]
    if j.power is not None or j.power_effect is not None:
        out.append(f"- power: P(reproduced | no true difference) = {fmt(j.power, 3)}; "
                   f"P(not reproduced | the stated effect {fmt(j.effect, 3)}) = "
                   f"{fmt(j.power_effect, 3)}")
    if j.decide:
        out.append(f"- what would decide it: {md_text(j.decide)}")
    out.append(f"- test: {md_text(j.explanation)}")
    return out


def _diagnosis_lines(r: Outcome) -> list[str]:
    out = []
    kd = r.known_divergence
    if kd is not None:
        expects = ", ".join(f"{label} {md_text(value)}" for value, label in
                            ((kd.expect, "verdict"), (kd.direction, "direction"),
                             (kd.reading, "reading reproduced:")) if value)
        out.append(f"- recorded divergence: {md_text(kd.because)}"
                   + (f" (expects: {expects})" if expects else ""))
    diag = r.diagnosis
    if diag is not None and diag.text:
        out.append(f"- diagnosis from this run: {md_text(diag.text)}")
    for c in diag.checks if diag is not None else ():
        mark = "holds" if c.holds else "FAILS"
        out.append(f"  - {md_text(c.check)}: expected {fmt(c.expected)}, observed "
                   f"{fmt(c.observed)} — {mark}")
    return out


def _evidence_lines(recs: list[Outcome]) -> list[str]:
    """The reproduced claims by what their null shows, the uninformative ones named."""
    ev = evidence(recs)
    total = sum(map(len, (ev.shown, ev.uninformative, ev.lookups, ev.undecided)))
    if not total:
        return []
    lines = ["", f"**Evidence with power:** of {total} reproduced claims, {len(ev.shown)} "
             f"reject their null under the same rule; {len(ev.uninformative)} uninformative "
             f"(the null also reproduces), {len(ev.lookups)} table look-ups (check the data, not "
             f"a method), {len(ev.undecided)} with no null or one not decided."]
    for ids, what in ((ev.uninformative, "uninformative"), (ev.lookups, "table look-ups")):
        if ids:
            lines.append(f"- {what}: {_ids(list(ids))}")
    return lines


def cannot_reproduce(recs: list[Outcome]) -> list[str]:
    """The measured claims whose rule cannot call them *reproduced* (power at the reference at
    most :data:`harness.rules.POWER_FLOOR`): only *inconclusive* or *not reproduced* remain."""
    return sorted(r.id for r in recs if r.judgement is not None and r.judgement.power is not None
                  and not can_reproduce(r.judgement))


def _cannot_reproduce_lines(recs: list[Outcome]) -> list[str]:
    ids = cannot_reproduce(recs)
    measured = sum(r.judgement is not None and r.judgement.power is not None for r in recs)
    if not measured:
        return []
    line = (f"**Cannot come out reproduced:** {len(ids)} of {measured} claims with a power "
            "computed have next to no chance of a *reproduced* verdict even when ours equals the "
            "published value (power at the published value ≈ 0: the errors on either side are "
            "wider than the margin allows)")
    return ["", line + (f": {_ids(ids)}." if ids else ".")]


def _null_line(r: Outcome) -> list[str]:
    if r.null is None:
        return []
    return [f"- null: {md_text(r.null.sentence(r.published))}"
            + (" — uninformative: counted apart from evidence" if r.informative is False else "")]


def _details(r: Outcome) -> list[str]:
    out = [f"### {md_code(r.id)} — {md_text(r.status)}", "",
           f"- source: {md_text(r.source)}",
           f"- interpretation: {md_text(r.interpretation)}"
           + (f" (reading: {md_text(r.reading)})" if r.reading else ""),
           _tolerance_line(r.tolerance)]
    if r.derived_from:
        out.append(f"- derived from {md_code(r.derived_from)}: the same measurement "
                   f"({md_text(r.measurement)}), not independent evidence")
    if r.lineage:
        out.append(f"- published value copied: first in {md_text(r.lineage['origin'])}, quoted by "
                   f"{md_text(r.lineage['quoted_by'])} ({md_text(r.lineage['because'])}); one "
                   "published number, not independent evidence from the quoting paper")
    out += _judgement_lines(r)
    out += _null_line(r)
    if r.reason:
        label = "failed with an error" if r.status == ERROR else "not run because"
        out.append(f"- {label}: {md_text(r.reason)}")
    out += _diagnosis_lines(r)
    if r.details is not None:
        out += r.details.lines(r)  # the kind renders what it recorded
    if r.notes:
        out.append(f"- notes: {md_text(r.notes)}")
    out += [_alternative_line(a) for a in r.alternatives_run]
    out.append("")
    return out


# ---------------------------------------------------------------- plots


def _plot_file(out: Path, name: str) -> Path:
    """``out / name`` for a fixed plot name, checked to stay inside the output folder."""
    path = (out / name).resolve()
    if not PLOT_NAME.fullmatch(name) or path.parent != out.resolve():
        raise ValueError(f"plot name {name!r} would leave the output folder")
    return path


def _save_plot(fig: Any, out: Path, name: str) -> str:
    """Write ``fig`` as the PNG ``out / name`` atomically (never into a FIFO or device there);
    return ``name``."""
    with atomic_writer(_plot_file(out, name), OutputError, "plot") as handle:
        fig.savefig(handle, format="png", dpi=100)
    return name


def kind_plots(recs: list[Outcome], out: Path) -> list[str]:
    """Each registered kind's figures over its outcomes (in the results file's order), in the
    order of the kinds' names; the file names written."""
    from harness.kinds import kinds

    canvas = Canvas(out, lambda fig, name: _save_plot(fig, out, name))
    names: list[str] = []
    for kind in kinds():
        mine = [r for r in recs if r.kind == kind.name]
        if mine:
            names += kind.details.plots(mine, canvas)
    return names


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
            plots = kind_plots(recs, out)
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
