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
``diagnosis`` (``{text, checks: [{check, expected, observed, holds}]}``); in ``details``:
``expected``, ``method``, ``predicted`` (``{repetitions, mean: {mean, sd, q05, q50, q95}, std:
{...}}``: the sampling distribution of the published statistic), ``realisations`` (``[{seed,
value}]``: the value per scoring realisation), ``top_cells`` (``[{cell, score, accuracy,
score_sd, wins}]``) and ``cells`` (``{used, left_out, why}``, or a list of cells); at the top, ``claims.tables``
(``[{table, readings: [{reading, rows, reproduced, not_reproduced, inconclusive,
log_likelihood}], best_reading, rows}]``) and ``claims.deselected`` (``[{id, reason}]``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.outcome import UNMEASURED, Outcome
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
MAX_COUNT = 10**15
"""Largest count (``n``, repetitions, threads) accepted: beyond it a count is nonsense."""
CLAIM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
"""The safe charset of claim ids: letters, digits, ``.``, ``_``, ``-``; at most 80 characters."""
CLAIM_ID_RULE = "1-80 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"


class ResultsError(TfnasError, ValueError):
    """The file is not a valid claims results JSON; the message names the file and the field."""


class ResultsNotFoundError(ResultsError, FileNotFoundError):
    """No results file at the path given."""


class OutputError(TfnasError, OSError):
    """An output path (``--out``, ``--to``) cannot be written."""


_MISSING = object()


class _Invalid(Exception):
    """A field of the document does not match the schema (wrapped into a ResultsError)."""

    def __init__(self, path: str, expected: str, value: Any = _MISSING, got: str = "") -> None:
        got = got or ("nothing" if value is _MISSING else _got(value))
        super().__init__(f"{path or 'the document'} must be {expected}, got {got}")


def _got(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             type(None): "null", int: "an integer", float: "a number"}
    kind = kinds.get(type(value), type(value).__name__)
    return kind if isinstance(value, dict | list) else f"{kind} {shown(value)}"


def valid_claim_id(value: Any) -> bool:
    """True when ``value`` is a string in the safe claim-id charset (:data:`CLAIM_ID`)."""
    return isinstance(value, str) and CLAIM_ID.fullmatch(value) is not None


# ---------------------------------------------------------------- schema checks

Check = Callable[[Any, str], Any]
"""Validate a value found at a field path; return it normalised or raise :class:`_Invalid`."""


def _instance(typ: type, expected: str) -> Check:
    """The check that a value is a ``typ`` (JSON's string, boolean, object or array)."""

    def check(v: Any, p: str) -> Any:
        if not isinstance(v, typ):
            raise _Invalid(p, expected, v)
        return v

    return check


_string = _instance(str, "a string")
_boolean = _instance(bool, "true or false")
_object = _instance(dict, "an object")
_array = _instance(list, "an array")


def _number(v: Any, p: str) -> float:
    """Any JSON number (NaN and infinities included: measurements may be non-finite)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Invalid(p, "a number", v)
    try:
        return float(v)
    except OverflowError:
        raise _Invalid(p, "a number within the float range", v) from None


def _finite(v: Any, p: str) -> float:
    x = _number(v, p)
    if not math.isfinite(x):
        raise _Invalid(p, "a finite number", v)
    return x


def _count(v: Any, p: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_COUNT:
        raise _Invalid(p, f"an integer in 0..{MAX_COUNT}", v)
    return v


def _optional(check: Check) -> Check:
    return lambda v, p: None if v is None else check(v, p)


def _one_of(options: tuple[str, ...]) -> Check:
    def check(v: Any, p: str) -> str:
        if not isinstance(v, str) or v not in options:
            raise _Invalid(p, f"one of {', '.join(repr(o) for o in options)}", v)
        return v
    return check


def _list_of(item: Check) -> Check:
    return lambda v, p: [item(x, f"{p}[{i}]") for i, x in enumerate(_array(v, p))]


def _map_of(item: Check) -> Check:
    return lambda v, p: {k: item(x, f"{p}.{k}") for k, x in _object(v, p).items()}


def _fields(v: Any, p: str, required: dict[str, Check], optional: dict[str, Check]) -> dict:
    """Check an object's named fields in place; fields not named are kept unchecked."""
    d = _object(v, p)
    for name, check in required.items():
        if name not in d:
            raise _Invalid(f"{p}.{name}".lstrip("."), "present")
        d[name] = check(d[name], f"{p}.{name}".lstrip("."))
    for name, check in optional.items():
        if name in d:
            d[name] = check(d[name], f"{p}.{name}".lstrip("."))
    return d


def _pair(v: Any, p: str) -> list[float]:
    xs = _array(v, p)
    if len(xs) != 2:
        raise _Invalid(p, "an array of two numbers [low, high]", v)
    return [_number(x, f"{p}[{i}]") for i, x in enumerate(xs)]


def _probability(v: Any, p: str) -> float:
    x = _number(v, p)
    if not 0.0 <= x <= 1.0:
        raise _Invalid(p, "a probability in [0, 1]", v)
    return x


def _nonnegative(v: Any, p: str) -> float:
    """A number that is not negative (NaN passes: a measurement may be undefined, e.g. the
    spread of one value)."""
    x = _number(v, p)
    if x < 0.0:
        raise _Invalid(p, "a number >= 0", v)
    return x


def _estimate(v: Any, p: str) -> dict:
    return _fields(v, p, {"value": _number},
                   {"std": _optional(_number), "n": _optional(_count), "ci": _optional(_pair),
                    "se": _optional(_nonnegative)})


def _judgement(v: Any, p: str) -> dict:
    """A rule's judgement: ``passed`` (every version) and, since the three-way rules, the
    ``verdict`` (consistent with ``passed``), the interval, slack, power and what would decide."""
    d = _fields(v, p, {"passed": _boolean, "difference": _number, "allowed": _number,
                       "statistic": _map_of(_number), "explanation": _string},
                {"verdict": _optional(_one_of(VERDICTS)), "interval": _optional(_pair),
                 "slack": _optional(_number), "power": _optional(_probability),
                 "effect": _optional(_number), "power_effect": _optional(_probability),
                 "decide": _string})
    verdict = d.get("verdict")
    if verdict is not None and (verdict == REPRODUCED) != d["passed"]:
        raise _Invalid(f"{p}.passed", f"{verdict == REPRODUCED} (the verdict is {verdict!r})",
                       d["passed"])
    return d


def _tolerance(v: Any, p: str) -> dict:
    d = _fields(v, p, {"rule": _string},
                {"alpha": _optional(_finite), "margin": _optional(_finite),
                 "factor": _optional(_finite), "justification": _string})
    try:
        Tolerance.from_dict({k: d[k] for k in ("rule", "alpha", "margin", "factor") if k in d})
    except (TypeError, ValueError) as exc:
        raise _Invalid(p, f"a valid tolerance ({one_line(exc, 200)})", v) from None
    return d


def _protocol(v: Any, p: str) -> dict:
    return _fields(v, p, {}, {k: _string for k in ("dataset", "quantity", "selection", "metric")})


def _scatter(v: Any, p: str) -> dict:
    d = _fields(v, p, {"score": _list_of(_number), "accuracy": _list_of(_number)}, {})
    if len(d["score"]) != len(d["accuracy"]):
        raise _Invalid(f"{p}.accuracy", f"as long as {p}.score ({len(d['score'])})",
                       d["accuracy"])
    return d


def _method(v: Any, p: str) -> dict:
    return _fields(v, p, {"method": _string, "means": _map_of(_optional(_number)),
                          "best": _string}, {})


QUANTILES = ("q05", "q50", "q95")
"""The quantiles a predicted sampling distribution records (5, 50 and 95%)."""


def _sampling(v: Any, p: str) -> dict:
    """A predicted sampling distribution of one statistic: mean, sd and the 5/50/95% quantiles
    (each optional; the quantiles, when all three are given, in increasing order)."""
    d = _fields(v, p, {}, {"mean": _optional(_number), "sd": _optional(_nonnegative),
                           **{q: _optional(_number) for q in QUANTILES}})
    qs = [d.get(q) for q in QUANTILES]
    if all(q is not None and math.isfinite(q) for q in qs) and not qs[0] <= qs[1] <= qs[2]:
        raise _Invalid(f"{p}.q95", "q05 <= q50 <= q95", got=f"{qs[0]}, {qs[1]}, {qs[2]}")
    return d


def _predicted(v: Any, p: str) -> dict:
    """The predicted sampling distribution of the published statistic (a claim-repetitions run's
    ``mean`` and ``std``) and the number of repetitions it is for."""
    return _fields(v, p, {}, {"mean": _sampling, "std": _sampling,
                              "repetitions": _optional(_count)})


def _realisation(v: Any, p: str) -> dict:
    return _fields(v, p, {"seed": _count, "value": _number}, {})


def _realisations(v: Any, p: str) -> list[dict] | int:
    """The value per scoring realisation (``[{seed, value}]``), or only how many there were."""
    if isinstance(v, int) and not isinstance(v, bool):
        return _count(v, p)
    if not isinstance(v, list):
        raise _Invalid(p, "an array of {seed, value} or a count", v)
    return _list_of(_realisation)(v, p)


def _top_cell(v: Any, p: str) -> dict:
    return _fields(v, p, {"score": _number, "accuracy": _number},
                   {"cell": _string, "score_sd": _optional(_nonnegative),
                    "wins": _optional(_probability)})


def _cells(v: Any, p: str) -> dict | list[str]:
    """The cells a measurement used: ``{used, left_out, why}``, or the list of cells itself (a
    timing claim's sample)."""
    if isinstance(v, list):
        return _list_of(_string)(v, p)
    if not isinstance(v, dict):
        raise _Invalid(p, "an object {used, left_out, why} or an array of cells", v)
    return _fields(v, p, {}, {"used": _count, "left_out": _count, "why": _string})


def _details(v: Any, p: str) -> dict:
    d = _fields(v, p, {}, {"scatter": _scatter, "values": _list_of(_number),
                           "methods": _list_of(_method), "max": _optional(_number),
                           "expected": _optional(_number), "method": _string,
                           "predicted": _predicted, "realisations": _realisations,
                           "top_cells": _list_of(_top_cell), "cells": _cells})
    for side in ("a", "b"):  # the two sides of a comparison or scaling claim
        if isinstance(d.get(side), dict):
            _details(d[side], f"{p}.{side}")
    return d


def _alternative_run(v: Any, p: str) -> dict:
    d = _fields(v, p, {"label": _string}, {"overrides": _object, "status": _one_of((NOT_RUN,))})
    if d.get("status") == NOT_RUN:
        return _fields(d, p, {"reason": _string}, {})
    d = _fields(d, p, {"reproduced": _estimate, "passed": _boolean, "explanation": _string},
                {"verdict": _optional(_one_of(VERDICTS)), "judgement": _optional(_judgement)})
    verdict = d.get("verdict")
    if verdict is not None and (verdict == REPRODUCED) != d["passed"]:
        raise _Invalid(f"{p}.verdict", f"consistent with passed={d['passed']}", verdict)
    return d


DIRECTIONS = ("above", "below")
"""The sign of reproduced − published a recorded divergence may expect."""


def _divergence(v: Any, p: str) -> Any:
    """A recorded divergence: prose (older results) or the table of what it expects."""
    if isinstance(v, str):
        return v
    if not isinstance(v, dict):
        raise _Invalid(p, "a string or an object {expect, direction, reading, because}", v)
    return _fields(v, p, {"because": _string},
                   {"expect": _one_of(VERDICTS), "direction": _one_of(DIRECTIONS),
                    "reading": _string})


def _plain(v: Any, p: str) -> Any:
    """A scalar an expectation was checked with: a string, number, boolean or null."""
    if v is None or isinstance(v, str | bool):
        return v
    if isinstance(v, int | float):
        return _number(v, p)
    raise _Invalid(p, "a string, number, boolean or null", v)


def _check(v: Any, p: str) -> dict:
    return _fields(v, p, {"check": _string, "holds": _boolean},
                   {"expected": _plain, "observed": _plain})


def _diagnosis(v: Any, p: str) -> dict:
    """The diagnosis of a recorded divergence as checked against the run."""
    return _fields(v, p, {"text": _string}, {"checks": _list_of(_check)})


def _claim_id(v: Any, p: str) -> str:
    if not valid_claim_id(v):
        raise _Invalid(p, f"a claim id ({CLAIM_ID_RULE})", v)
    return v


def _outcome(v: Any, p: str) -> dict:
    d = _fields(v, p, {"id": _claim_id, "status": _one_of(STATUSES), "tolerance": _tolerance},
                {**{k: _string for k in ("title", "source", "table", "interpretation", "notes",
                                         "kind", "score_source")},
                 "reading": _string, "measurement": _string,
                 "derived_from": _optional(_claim_id), "diagnosis": _optional(_diagnosis),
                 "known_divergence": _optional(_divergence), "reason": _string,
                 "protocol": _protocol, "published": _optional(_estimate),
                 "reproduced": _optional(_estimate), "reference": _optional(_estimate),
                 "judgement": _optional(_judgement), "details": _optional(_details),
                 "alternatives": _array, "alternatives_run": _list_of(_alternative_run),
                 "repetitions_override": _optional(_count)})
    if d["status"] in UNMEASURED and "reason" not in d:
        raise _Invalid(f"{p}.reason", f"present (the reason a claim is {d['status']!r})")
    if d.get("derived_from") is not None and d["derived_from"] == d["id"]:
        raise _Invalid(f"{p}.derived_from", "another claim's id (the first with the same "
                       "measurement)", d["derived_from"])
    return d


def _outcomes(v: Any, p: str) -> list[dict]:
    recs = _array(v, p)
    if len(recs) > MAX_OUTCOMES:
        raise _Invalid(p, f"at most {MAX_OUTCOMES} outcomes", got=f"{len(recs)} of them")
    seen: set[str] = set()
    for i, rec in enumerate(recs):
        _outcome(rec, f"{p}[{i}]")
        if rec["id"] in seen:
            raise _Invalid(f"{p}[{i}].id", "unique (each claim once)", rec["id"])
        seen.add(rec["id"])
    _same_measurement(recs, p)
    return recs


def _same_measurement(recs: list[dict], p: str) -> None:
    """A claim derived from another one in the file shares its measurement key."""
    key = {rec["id"]: rec.get("measurement", "") for rec in recs}
    for i, rec in enumerate(recs):
        first = rec.get("derived_from")
        if first in key and key[first] != rec.get("measurement", ""):
            raise _Invalid(f"{p}[{i}].measurement", f"that of {first} ({key[first]!r}), the "
                           "claim it is derived from", rec.get("measurement", ""))


def _reading_count(v: Any, p: str) -> dict:
    d = _fields(v, p, {"reading": _string, "rows": _count},
                {"reproduced": _count, "not_reproduced": _count, "inconclusive": _count,
                 "log_likelihood": _optional(_number)})
    judged = sum(d.get(k, 0) for k in ("reproduced", "not_reproduced", "inconclusive"))
    if judged > d["rows"]:
        raise _Invalid(f"{p}.rows", f"at least the rows judged ({judged})", d["rows"])
    return d


def _paper_table(v: Any, p: str) -> dict:
    """One paper table judged under each reading: rows per verdict, the reading that fits."""
    d = _fields(v, p, {"table": _string, "readings": _list_of(_reading_count)},
                {"best_reading": _optional(_string), "rows": _list_of(_claim_id)})
    names = [r["reading"] for r in d["readings"]]
    if d.get("best_reading") is not None and d["best_reading"] not in names:
        raise _Invalid(f"{p}.best_reading", f"one of the readings ({', '.join(names) or 'none'})",
                       d["best_reading"])
    return d


def _deselected(v: Any, p: str) -> dict:
    return _fields(v, p, {"id": _claim_id, "reason": _string}, {})


def _claims(v: Any, p: str) -> dict:
    d = _fields(v, p, {"format": _one_of((FORMAT,)), "outcomes": _outcomes},
                {"options": _object, "summary": _object, "registry_sha256": _string,
                 "tables": _list_of(_paper_table), "deselected": _list_of(_deselected)})
    return d


def _machine_info(v: Any, p: str) -> dict:
    d = _fields(v, p, {}, {"node": _string, "python_version": _string,
                           "cpu": lambda c, q: _fields(c, q, {}, {"brand_raw": _string})})
    if "tfnas" in d:
        _fields(d["tfnas"], f"{p}.tfnas", {},
                {"torch": _string, "python": _string, "cpu_count": _optional(_count),
                 "torch_threads": _count, "data_sha256": _map_of(_string)})
    return d


def _document(v: Any) -> dict:
    if not isinstance(v, dict) or not isinstance(v.get("claims"), dict):
        raise ResultsError("has no 'claims' summary; produce it with "
                           "`pytest benchmarks/ --benchmark-json FILE` (the harness plugin adds it)")
    return _fields(v, "", {"claims": _claims},
                   {"machine_info": _machine_info, "datetime": _string,
                    "commit_info": lambda c, q: _fields(c, q, {}, {"id": _string,
                                                                   "dirty": _boolean}),
                    "benchmarks": _list_of(_object)})


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
    except _Invalid as exc:
        raise ResultsError(f"{name}: {exc}") from None
    except ResultsError as exc:
        raise ResultsError(f"{name} {exc}") from None


def outcomes(data: dict[str, Any]) -> list[Outcome]:
    """The validated document's claim outcomes as :class:`~harness.outcome.Outcome` objects."""
    return [Outcome.from_dict(rec) for rec in data["claims"]["outcomes"]]


def outcomes_by_id(data: dict[str, Any]) -> dict[str, Outcome]:
    """The validated document's outcomes keyed by claim id."""
    return {o.id: o for o in outcomes(data)}
