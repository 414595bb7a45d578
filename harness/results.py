"""Read a results JSON written by ``pytest benchmarks/ --benchmark-json``: its claim outcomes.

The document is validated once, here, against the schema the harness plugin writes (every field
that ``report``, ``compare`` and ``baseline`` read, with its type), so those commands only ever see
valid records. A results file is untrusted input: its size and nesting depth are bounded
(:data:`MAX_BYTES`, :data:`MAX_DEPTH`), numbers are normalised to floats, and every failure is a
:class:`ResultsError` with a one-line message naming the file, the field path (for example
``claims.outcomes[3].published.ci``) and what was expected. :func:`outcomes` then gives the
validated records as :class:`~harness.outcome.Outcome` objects, the one statement of a record's
fields.

Fields of the three-way verdicts (all optional, so older results still load, and checked
strictly when present): ``Estimate.se``; ``judgement.verdict`` (consistent with ``passed``),
``interval``, ``slack``, ``power`` and ``power_effect`` (probabilities), ``effect``, ``decide``;
an outcome's ``reading``, ``measurement``, ``derived_from`` (another claim's id, with the same
``measurement``), ``known_divergence`` (prose, or ``{because, expect, direction, reading}``) and
``diagnosis`` (``{text, checks: [{check, expected, observed, holds}]}``); ``details``: checked
by the outcome's kind's own record (:mod:`harness.details`; e.g. a search's ``predicted``,
``realisations``, ``top_cells``, ``cells``), a kind this process lacks as a plain object; at the top, ``claims.tables``
(``[{table, readings: [{reading, rows, reproduced, not_reproduced, inconclusive,
log_likelihood}], best_reading, rows}]``) and ``claims.deselected`` (``[{id, reason}]``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.markdown import CLAIM_ID_RULE, valid_claim_id
from harness.measurement_model import checked as model_record
from harness.outcome import UNMEASURED, Outcome
from harness.schema import (
    Check,
    Invalid,
    array,
    boolean,
    count,
    fields,
    finite,
    list_of,
    map_of,
    nonnegative,
    number,
    obj,
    one_of,
    optional,
    pair,
    probability,
    string,
)
from harness.verdicts import NOT_RUN, REPRODUCED, STATUSES, VERDICTS, Tolerance
from tfnas.bounded import read_text
from tfnas.errors import TfnasError, one_line, shown

FORMAT = "tfnas-claims/1"
MAX_BYTES = 32 * 2**20
"""Largest results file read (32 MiB): a full run of every claim writes under 10 MB. Parsed JSON
costs at most about 25 bytes of memory per byte of text, so a results file costs under 1 GB."""
MAX_DEPTH = 32
"""Deepest JSON nesting accepted: the plugin writes 8 levels at most."""
MAX_OUTCOMES = 10_000
"""Most claim outcomes in one file: the registry holds about a hundred claims."""


class ResultsError(TfnasError, ValueError):
    """The file is not a valid claims results JSON; the message names the file and the field."""


class ResultsNotFoundError(ResultsError, FileNotFoundError):
    """No results file at the path given."""


class OutputError(TfnasError, OSError):
    """An output path (``--out``, ``--to``) cannot be written."""


def _estimate(v: Any, p: str) -> dict:
    return fields(v, p, {"value": number},
                   {"std": optional(number), "n": optional(count), "ci": optional(pair),
                    "se": optional(nonnegative)})


def _judgement(v: Any, p: str) -> dict:
    """A rule's judgement: ``passed`` (every version) and, since the three-way rules, the
    ``verdict`` (consistent with ``passed``), the interval, slack, power and what would decide."""
    d = fields(v, p, {"passed": boolean, "difference": number, "allowed": number,
                       "statistic": map_of(number), "explanation": string},
                {"verdict": optional(one_of(VERDICTS)), "interval": optional(pair),
                 "slack": optional(number), "power": optional(probability),
                 "effect": optional(number), "power_effect": optional(probability),
                 "decide": string})
    verdict = d.get("verdict")
    if verdict is not None and (verdict == REPRODUCED) != d["passed"]:
        raise Invalid(f"{p}.passed", f"{verdict == REPRODUCED} (the verdict is {verdict!r})",
                       d["passed"])
    return d


def _tolerance(v: Any, p: str) -> dict:
    d = fields(v, p, {"rule": string},
                {"alpha": optional(finite), "margin": optional(finite),
                 "factor": optional(finite), "justification": string})
    try:
        Tolerance.from_dict({k: d[k] for k in ("rule", "alpha", "margin", "factor") if k in d})
    except (TypeError, ValueError) as exc:
        raise Invalid(p, f"a valid tolerance ({one_line(exc, 200)})", v) from None
    return d


def _protocol(v: Any, p: str) -> dict:
    return fields(v, p, {}, {k: string for k in ("dataset", "quantity", "selection", "metric")})


def _details(kind: Any, protocol: dict) -> Check:
    """The check of an outcome's details: its kind's result record (:mod:`harness.details`)."""
    def check(v: Any, p: str) -> dict:
        from harness.kinds import read_details

        return read_details(kind, v, p, protocol).to_dict()
    return check


def _alternative_run(v: Any, p: str) -> dict:
    d = fields(v, p, {"label": string}, {"overrides": obj, "status": one_of((NOT_RUN,))})
    if d.get("status") == NOT_RUN:
        return fields(d, p, {"reason": string}, {})
    d = fields(d, p, {"reproduced": _estimate, "passed": boolean, "explanation": string},
                {"verdict": optional(one_of(VERDICTS)), "judgement": optional(_judgement),
                 "model": optional(model_record), "mc_se": number, "spread_mc": number})
    verdict = d.get("verdict")
    if verdict is not None and (verdict == REPRODUCED) != d["passed"]:
        raise Invalid(f"{p}.verdict", f"consistent with passed={d['passed']}", verdict)
    return d


DIRECTIONS = ("above", "below")
"""The sign of reproduced − published a recorded divergence may expect."""


def _divergence(v: Any, p: str) -> Any:
    """A recorded divergence: prose (older results) or the table of what it expects."""
    if isinstance(v, str):
        return v
    if not isinstance(v, dict):
        raise Invalid(p, "a string or an object {expect, direction, reading, because}", v)
    return fields(v, p, {"because": string},
                   {"expect": one_of(VERDICTS), "direction": one_of(DIRECTIONS),
                    "reading": string, "no_reading_fits": boolean})


def _lineage(v: Any, p: str) -> dict:
    """A copied published value's lineage: where it first appeared, who quotes it, and why."""
    return fields(v, p, {"origin": string, "quoted_by": string, "because": string}, {})


def _plain(v: Any, p: str) -> Any:
    """A scalar an expectation was checked with: a string, number, boolean or null."""
    if v is None or isinstance(v, str | bool):
        return v
    if isinstance(v, int | float):
        return number(v, p)
    raise Invalid(p, "a string, number, boolean or null", v)


def _check(v: Any, p: str) -> dict:
    return fields(v, p, {"check": string, "holds": boolean},
                   {"expected": _plain, "observed": _plain})


def _diagnosis(v: Any, p: str) -> dict:
    """The diagnosis of a recorded divergence as checked against the run."""
    return fields(v, p, {"text": string}, {"checks": list_of(_check)})


def _claim_id(v: Any, p: str) -> str:
    if not valid_claim_id(v):
        raise Invalid(p, f"a claim id ({CLAIM_ID_RULE})", v)
    return v


def _outcome(v: Any, p: str) -> dict:
    d = fields(v, p, {"id": _claim_id, "status": one_of(STATUSES), "tolerance": _tolerance},
                {**{k: string for k in ("title", "source", "table", "interpretation", "notes",
                                         "kind", "score_source")},
                 "reading": string, "measurement": string,
                 "derived_from": optional(_claim_id), "diagnosis": optional(_diagnosis),
                 "lineage": optional(_lineage),
                 "known_divergence": optional(_divergence), "reason": string,
                 "protocol": _protocol, "published": optional(_estimate),
                 "reproduced": optional(_estimate), "reference": optional(_estimate),
                 "judgement": optional(_judgement),
                 "alternatives": array, "alternatives_run": list_of(_alternative_run),
                 "repetitions_override": optional(count)})
    if d.get("details") is not None:
        d["details"] = _details(d.get("kind"), d.get("protocol") or {})(d["details"], f"{p}.details")
    if d["status"] in UNMEASURED and "reason" not in d:
        raise Invalid(f"{p}.reason", f"present (the reason a claim is {d['status']!r})")
    if d.get("derived_from") is not None and d["derived_from"] == d["id"]:
        raise Invalid(f"{p}.derived_from", "another claim's id (the first with the same "
                       "measurement)", d["derived_from"])
    return d


def _outcomes(v: Any, p: str) -> list[dict]:
    recs = array(v, p)
    if len(recs) > MAX_OUTCOMES:
        raise Invalid(p, f"at most {MAX_OUTCOMES} outcomes", got=f"{len(recs)} of them")
    seen: set[str] = set()
    for i, rec in enumerate(recs):
        _outcome(rec, f"{p}[{i}]")
        if rec["id"] in seen:
            raise Invalid(f"{p}[{i}].id", "unique (each claim once)", rec["id"])
        seen.add(rec["id"])
    _same_measurement(recs, p)
    return recs


def _same_measurement(recs: list[dict], p: str) -> None:
    """A claim derived from another one in the file shares its measurement key."""
    key = {rec["id"]: rec.get("measurement", "") for rec in recs}
    for i, rec in enumerate(recs):
        first = rec.get("derived_from")
        if first in key and key[first] != rec.get("measurement", ""):
            raise Invalid(f"{p}[{i}].measurement", f"that of {first} ({key[first]!r}), the "
                           "claim it is derived from", rec.get("measurement", ""))


def _reading_count(v: Any, p: str) -> dict:
    d = fields(v, p, {"reading": string, "rows": count},
                {"reproduced": count, "not_reproduced": count, "inconclusive": count,
                 "log_likelihood": optional(number), "rejected_by": list_of(_claim_id),
                 "consistent": boolean})
    judged = sum(d.get(k, 0) for k in ("reproduced", "not_reproduced", "inconclusive"))
    if judged > d["rows"]:
        raise Invalid(f"{p}.rows", f"at least the rows judged ({judged})", d["rows"])
    return d


def _paper_table(v: Any, p: str) -> dict:
    """One paper table judged under each reading: rows per verdict, the reading that fits."""
    d = fields(v, p, {"table": string, "readings": list_of(_reading_count)},
                {"best_reading": optional(string), "rows": list_of(_claim_id),
                 "consistent": list_of(string), "unexplained": list_of(_claim_id),
                 "family": count, "alpha": probability})
    names = [r["reading"] for r in d["readings"]]
    for name in d.get("consistent", []):
        if name not in names:
            raise Invalid(f"{p}.consistent", f"readings of the table ({', '.join(names)})", name)
    if d.get("best_reading") is not None and d["best_reading"] not in names:
        raise Invalid(f"{p}.best_reading", f"one of the readings ({', '.join(names) or 'none'})",
                       d["best_reading"])
    return d


def _deselected(v: Any, p: str) -> dict:
    return fields(v, p, {"id": _claim_id, "reason": string}, {})


def _claims(v: Any, p: str) -> dict:
    d = fields(v, p, {"format": one_of((FORMAT,)), "outcomes": _outcomes},
                {"options": obj, "summary": obj, "registry_sha256": string,
                 "tables": list_of(_paper_table), "deselected": list_of(_deselected)})
    return d


def _machine_info(v: Any, p: str) -> dict:
    d = fields(v, p, {}, {"node": string, "python_version": string,
                           "cpu": lambda c, q: fields(c, q, {}, {"brand_raw": string})})
    if "tfnas" in d:
        fields(d["tfnas"], f"{p}.tfnas", {},
                {"torch": string, "python": string, "cpu_count": optional(count),
                 "torch_threads": count, "data_sha256": map_of(string)})
    return d


def _document(v: Any) -> dict:
    if not isinstance(v, dict) or not isinstance(v.get("claims"), dict):
        raise ResultsError("has no 'claims' summary; produce it with "
                           "`pytest benchmarks/ --benchmark-json FILE` (the harness plugin adds it)")
    return fields(v, "", {"claims": _claims},
                   {"machine_info": _machine_info, "datetime": string,
                    "commit_info": lambda c, q: fields(c, q, {}, {"id": string,
                                                                   "dirty": boolean}),
                    "benchmarks": list_of(obj)})


# ---------------------------------------------------------------- reading


def _depth_at_most(doc: Any, limit: int) -> bool:
    """True when ``doc`` nests no deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return False
            stack.extend((child, depth + 1)
                         for child in (node.values() if isinstance(node, dict) else node))
    return True


def _read_text(path: Path, name: str) -> str:
    """The file's text: a regular file, at most :data:`MAX_BYTES`, UTF-8."""
    if not os.path.lexists(path):
        raise ResultsNotFoundError(f"results file {name} does not exist")
    return read_text(path, MAX_BYTES, ResultsError, "results file",
                     f"expected a results JSON of at most {MAX_BYTES} bytes")


def load_results(path: str | Path) -> dict[str, Any]:
    """The whole JSON document, validated: the harness's ``claims`` summary and what it reads."""
    path = Path(path)
    name = shown(str(path), 200)
    text = _read_text(path, name)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{name} is not JSON: {one_line(exc, 200)}") from exc
    except RecursionError:
        raise ResultsError(f"{name} nests deeper than {MAX_DEPTH} levels; "
                           "expected a results JSON") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ResultsError(f"{name} holds a value JSON cannot be read into: "
                           f"{one_line(exc, 200)}") from exc
    if not _depth_at_most(data, MAX_DEPTH):
        raise ResultsError(f"{name} nests deeper than {MAX_DEPTH} levels; "
                           "expected a results JSON")
    try:
        return _document(data)
    except Invalid as exc:
        raise ResultsError(f"{name}: {exc}") from None
    except ResultsError as exc:
        raise ResultsError(f"{name} {exc}") from None


def outcomes(data: dict[str, Any]) -> list[Outcome]:
    """The validated document's claim outcomes as :class:`~harness.outcome.Outcome` objects."""
    return [Outcome.from_dict(rec) for rec in data["claims"]["outcomes"]]


def outcomes_by_id(data: dict[str, Any]) -> dict[str, Outcome]:
    """The validated document's outcomes keyed by claim id."""
    return {o.id: o for o in outcomes(data)}
