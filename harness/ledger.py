"""The honest ledger of a run: claims and independent findings per status, and what was left out.

Claims that share a ``measurement`` key (:attr:`harness.outcome.Outcome.measurement`) rest on one
measurement (``derived_from`` names the first of them), so a run's evidence is counted twice: per
claim and per distinct measurement. A measurement whose claims got different statuses counts
under each of them and is listed as *split* (the contradiction a reviewer looks for first).
Deselected claims (``-m``, ``-k``) never run and have no outcome; the plugin records them with
the reason in ``claims.deselected``, and the ledger lists them beside the claims *not run*.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.markdown import md_cell, md_code, md_text
from harness.outcome import Outcome
from harness.verdicts import ERROR, NOT_RUN, REPRODUCED, STATUSES


@dataclass(frozen=True)
class LeftOut:
    """A claim without a verdict: deselected (never collected into the run) or not run."""

    id: str
    reason: str
    how: str
    """``"deselected"`` or the claim's status (``not run``, ``error``)."""


@dataclass(frozen=True)
class Ledger:
    """Counts per status, of claims and of distinct measurements, and the claims left out."""

    claims: dict[str, int]
    measurements: dict[str, int]
    total_claims: int
    total_measurements: int
    split: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Measurements whose claims got more than one status: key → the statuses, sorted."""
    left_out: tuple[LeftOut, ...] = ()
    split_claims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The claims of each split measurement: key → their ids, sorted."""
    published_numbers: int = 0
    """Distinct published numbers the claims check: a copied value (``lineage``) counts once,
    under its origin, however many claims quote it."""
    copied: tuple[str, ...] = ()
    """The claims whose published value their source copied from an earlier paper, sorted."""

    @property
    def deselected(self) -> tuple[LeftOut, ...]:
        return tuple(x for x in self.left_out if x.how == "deselected")

    def to_dict(self) -> dict[str, Any]:
        return {"claims": dict(self.claims), "measurements": dict(self.measurements),
                "total_claims": self.total_claims,
                "total_measurements": self.total_measurements,
                "split": {k: list(v) for k, v in self.split.items()},
                "published_numbers": self.published_numbers, "copied": list(self.copied),
                "left_out": [vars(x) for x in self.left_out]}


def status_counts(statuses: list[str]) -> dict[str, int]:
    """Count per status: every known status (``error`` only when present), then any other."""
    seen = Counter(statuses)
    counts = {s: seen.pop(s, 0) for s in STATUSES if s != ERROR or seen.get(s)}
    return counts | dict(sorted(seen.items()))


def measurement_key(rec: Outcome, by_id: dict[str, Outcome] | None = None) -> str:
    """The measurement a claim rests on: its ``measurement`` key, else that of the claim it is
    ``derived_from``, else its own id (a measurement of its own)."""
    if rec.measurement:
        return rec.measurement
    first = (by_id or {}).get(rec.derived_from or "")
    if first is not None and first.measurement:
        return first.measurement
    return f"claim {rec.derived_from or rec.id}"


def published_key(rec: Outcome) -> tuple[str, ...]:
    """The published number a claim checks: a copied value's origin and value (one number
    however many papers quote it), else the claim's own."""
    if rec.lineage and rec.published is not None:
        return ("copied", rec.lineage["origin"], repr(rec.published.value))
    return ("own", rec.id)


def ledger(recs: list[Outcome], deselected: list[dict[str, str]] | None = None) -> Ledger:
    """The ledger of a run's outcomes and its deselected claims (``[{id, reason}]``)."""
    by_id = {r.id: r for r in recs}
    statuses: dict[str, set[str]] = defaultdict(set)
    members: dict[str, list[str]] = defaultdict(list)
    for r in recs:
        statuses[measurement_key(r, by_id)].add(str(r.status))
        members[measurement_key(r, by_id)].append(r.id)
    per_measurement = [s for key in statuses for s in statuses[key]]
    split = {k: tuple(sorted(v)) for k, v in sorted(statuses.items()) if len(v) > 1}
    left = [LeftOut(d["id"], d["reason"], "deselected") for d in deselected or []]
    left += [LeftOut(r.id, r.reason or "", str(r.status)) for r in sorted(recs, key=lambda r: r.id)
             if r.status in (NOT_RUN, ERROR)]
    return Ledger(status_counts([str(r.status) for r in recs]), status_counts(per_measurement),
                  len(recs), len(statuses), split, tuple(left),
                  {k: tuple(sorted(members[k])) for k in split},
                  len({published_key(r) for r in recs}),
                  tuple(sorted(r.id for r in recs if r.lineage)))


def summary_line(book: Ledger) -> str:
    """One plain-text line: claims per status, distinct measurements per status, deselected."""
    claims = ", ".join(f"{v} {k}" for k, v in book.claims.items())
    measured = ", ".join(f"{v} {k}" for k, v in book.measurements.items() if v)
    line = (f"{book.total_claims} claims: {claims}; {book.total_measurements} independent "
            f"measurements: {measured or 'none'}")
    if book.deselected:
        line += f"; {len(book.deselected)} deselected"
    return line


def _code_span(text: str) -> str:
    """A short selection (``-m 'not live'``) as an inert code span; anything else as escaped
    prose (:func:`harness.markdown.md_text`)."""
    if text.isprintable() and "`" not in text and len(text) <= 200 and text.strip() == text != "":
        return f"`{text}`"
    return md_text(text)


FINDINGS_MARKERS = ("<!-- findings:begin -->", "<!-- findings:end -->")
"""The markers of the README block :func:`findings_block` fills (``python -m harness findings``)."""


def findings_block(book: Ledger) -> str:
    """The README's counts of a run, as Markdown: claims and independent measurements per status,
    the measurements split between statuses and what was left out, from the ledger of a results
    file. Only the statuses (and the reasons recorded for claims left out) decide the text, no date,
    file name or value, so ``--check`` tells a stale block and CI checks the README's counts
    against its own run under another seed."""
    lines = ["Rendered by `python -m harness findings RESULTS --readme README.md` from a results "
             "file; do not edit by hand (`--check` exits 1 when this block is stale). "
             "Claims that rest on one measurement (the same protocol, or a value declared a "
             "function of another claim's: `derived_from` in the claims files) count once as "
             "independent measurements; a measurement whose claims got different statuses "
             "counts under each.", "",
             "| status | claims | independent measurements |", "|---|---|---|"]
    for status, n in book.claims.items():
        lines.append(f"| {md_cell(status)} | {n} | {book.measurements.get(status, 0)} |")
    lines.append(f"| **total** | **{book.total_claims}** | **{book.total_measurements}** |")
    notes = []
    if book.split:
        notes.append("Measurements whose claims got different statuses: " + "; ".join(
            ", ".join(map(md_code, book.split_claims.get(k, (k,)))) + f" ({md_text(', '.join(v))})"
            for k, v in book.split.items()) + ".")
    if book.copied:
        notes.append(f"{len(book.copied)} claims check a published value their source copied "
                     "from an earlier paper (`lineage` in the claims files: "
                     + ", ".join(map(md_code, book.copied)) + "); such a number counts once, "
                     f"under its origin: the {book.total_claims} claims check "
                     f"{book.published_numbers} distinct published numbers.")
    reasons = Counter(x.reason for x in book.deselected)
    if reasons:
        notes.append(f"{len(book.deselected)} claims deselected (" + "; ".join(
            f"{n} by {_code_span(r)}" for r, n in sorted(reasons.items())) + ").")
    unrun = [x for x in book.left_out if x.how != "deselected"]
    if unrun:
        notes.append("Without a verdict: " + "; ".join(
            f"{md_code(x.id)} ({md_text(x.how)}: {md_text(x.reason)})" for x in unrun) + ".")
    return "\n\n".join(["\n".join(lines), *notes])


@dataclass(frozen=True)
class Evidence:
    """The reproduced claims split by what their null shows (:attr:`Outcome.informative`):
    evidence only where the same rule rejects the null; counted apart where the null also
    reproduces (*uninformative*) or the claim is a table look-up (checks the data, not a
    method); ``undecided``: no null, or one the rule neither rejects nor reproduces."""

    shown: tuple[str, ...] = ()
    uninformative: tuple[str, ...] = ()
    lookups: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()


def evidence(recs: list[Outcome]) -> Evidence:
    """The reproduced claims (by id, sorted) per :class:`Evidence` group."""
    groups: dict[str, list[str]] = defaultdict(list)
    for r in sorted(recs, key=lambda r: r.id):
        if r.status != REPRODUCED:
            continue
        lookup = r.null is not None and r.null.lookup
        group = ("lookups" if lookup else "shown" if r.informative else
                 "uninformative" if r.informative is False else "undecided")
        groups[group].append(r.id)
    return Evidence(**{k: tuple(v) for k, v in groups.items()})
