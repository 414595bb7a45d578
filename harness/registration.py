"""When and why each claim's tolerance numbers were set: the registration record.

A claims folder may hold ``registration.toml`` beside its claims files: one ``[claim.<id>]`` table
per claim with ``set`` (the date and commit where the tolerance's current numbers first appeared),
``results_known`` (whether the claim's own result had been seen then: true, false or
``"unknown"``), ``reason`` (why the numbers are what they are), ``fingerprint`` (the numbers
themselves: :func:`tolerance_numbers`), ``words`` (a digest of the tolerance's justification:
:func:`words_digest`), ``changes`` (every later change of the tolerance's words or numbers: when, in
which commit, what, whether results were known then, and why) and optionally ``sensitivity`` (how
the verdict moves under another margin). The record does not claim pre-registration; it states the
history, so that a reader can weigh a margin that was set after its result was known.
``tests/test_registration.py`` refuses a tolerance whose numbers differ from its fingerprint or
whose justification differs from its digest: a change needs a recorded change.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.verdicts import Tolerance
from tfnas.bounded import read_file
from tfnas.errors import TfnasError, one_line, shown

FILE_NAME = "registration.toml"
"""The registration record's name inside a claims folder (never read as a claims file)."""
MAX_BYTES = 2**20
"""Largest registration file read (1 MiB; the shipped one is about 100 KB)."""
TOLERANCE_FIELDS = ("rule", "alpha", "margin", "factor")
"""The tolerance fields a fingerprint holds (the justification is words, not numbers)."""
WINDOW_FIELDS = ("low", "high")
"""Protocol fields that act as a tolerance (a band the claim's words allow, e.g. 'about 70' read
as 65..75): fingerprinted with the tolerance, as ``window_low``/``window_high``."""
UNKNOWN = "unknown"
PENDING = "pending"
"""A ``set.commit`` for a change not committed yet (replace it with the hash once committed)."""
_COMMIT = re.compile(r"[0-9a-f]{7,40}")
_RECORD_FIELDS = {"set", "results_known", "reason", "fingerprint", "words", "changes",
                  "sensitivity"}
_CHANGE_FIELDS = {"date", "commit", "changed", "results_known", "reason"}
CHANGEABLE = ("justification", *TOLERANCE_FIELDS, *(f"window_{w}" for w in WINDOW_FIELDS))
"""What a recorded change may name: the justification's words or a fingerprinted number."""
_DIGEST = re.compile(r"[0-9a-f]{12}")


class RegistrationError(TfnasError, ValueError):
    """The registration record is malformed or does not cover the claims; one line says where."""


@dataclass(frozen=True)
class Change:
    """One change of a tolerance after it was set: when, in which commit, which fields, whether
    the claim's results were known then, and why."""

    date: str
    commit: str
    changed: tuple[str, ...]
    results_known: bool | str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "commit": self.commit, "changed": list(self.changed),
                "results_known": self.results_known, "reason": self.reason}


@dataclass(frozen=True)
class Registration:
    """One claim's registration: when its tolerance numbers were set, whether its result was
    known then, why the numbers are what they are, and the numbers (``fingerprint``)."""

    date: str
    commit: str
    results_known: bool | str
    reason: str
    fingerprint: Mapping[str, float | str] = field(default_factory=dict)
    sensitivity: str = ""
    words: str = ""
    """:func:`words_digest` of the tolerance's justification as last recorded."""
    changes: tuple[Change, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"set": {"date": self.date, "commit": self.commit},
                               "results_known": self.results_known, "reason": self.reason,
                               "fingerprint": dict(self.fingerprint)}
        out["words"] = self.words
        if self.changes:
            out["changes"] = [c.to_dict() for c in self.changes]
        if self.sensitivity:
            out["sensitivity"] = self.sensitivity
        return out

    def describe(self) -> str:
        """One line for a report: when the numbers were set and whether the result was known."""
        known = {True: "after its result was known", False: "before its result was known",
                 UNKNOWN: "whether its result was known is not recorded"}[self.results_known]
        text = f"tolerance set {self.date} ({self.commit}), {known}"
        if self.changes:
            last = self.changes[-1]
            text += f"; changed {last.date} ({last.commit}: {', '.join(last.changed)})"
        return text


def words_digest(justification: str) -> str:
    """12 hex digits naming a justification's words: a changed word changes it."""
    return hashlib.sha256(justification.encode("utf-8")).hexdigest()[:12]


def tolerance_numbers(tolerance: Tolerance, protocol: Mapping[str, Any]) -> dict[str, float | str]:
    """The numbers a registration fingerprints: the rule, every numeric tolerance parameter that
    is set, and a protocol's window (``low``/``high``) when it has one."""
    out: dict[str, float | str] = {"rule": tolerance.rule}
    for name in TOLERANCE_FIELDS[1:]:
        value = getattr(tolerance, name)
        if value is not None:
            out[name] = float(value)
    for name in WINDOW_FIELDS:
        value = protocol.get(name) if isinstance(protocol, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"window_{name}"] = float(value)
    return out


def fingerprint_changes(registered: Mapping[str, float | str],
                        current: Mapping[str, float | str]) -> list[str]:
    """The fields whose registered and current numbers differ, each as 'field: old -> new'."""
    out = []
    for name in sorted(set(registered) | set(current)):
        old, new = registered.get(name), current.get(name)
        same = (old == new if isinstance(old, str) or isinstance(new, str) or None in (old, new)
                else math.isclose(float(old), float(new), rel_tol=0, abs_tol=1e-12))
        if not same:
            out.append(f"{name}: {shown(old)} -> {shown(new)}")
    return out


def _fail(where: str, text: str) -> RegistrationError:
    return RegistrationError(one_line(f"{where}: {text}", 400))


def _when(at: str, name: str, value: Mapping[str, Any]) -> tuple[str, str]:
    """A record's (date, commit) under ``name`` (``set`` or ``changes[i]``), checked."""
    date = value.get("date")
    if isinstance(date, datetime.date):
        date = date.isoformat()
    try:
        datetime.date.fromisoformat(date if isinstance(date, str) else "")
    except ValueError:
        raise _fail(at, f"field '{name}.date' is {shown(date)}, expected a date YYYY-MM-DD") from None
    commit = value.get("commit")
    if not isinstance(commit, str) or not (commit == PENDING or _COMMIT.fullmatch(commit)):
        raise _fail(at, f"field '{name}.commit' is {shown(commit)}, expected 7-40 lowercase hex "
                    f"digits or {PENDING!r}")
    return str(date), commit


def _known(at: str, name: str, known: Any) -> bool | str:
    if known not in (True, False, UNKNOWN) or isinstance(known, int) and not isinstance(known, bool):
        raise _fail(at, f"field '{name}' is {shown(known)}, expected true, false or "
                    f"{UNKNOWN!r}")
    return known


def _changes(at: str, value: Any) -> tuple[Change, ...]:
    if not isinstance(value, list):
        raise _fail(at, "field 'changes' must be an array of tables")
    out = []
    for i, entry in enumerate(value):
        name = f"changes[{i}]"
        if not isinstance(entry, dict) or set(entry) != _CHANGE_FIELDS:
            raise _fail(at, f"field '{name}' must be a table {sorted(_CHANGE_FIELDS)}")
        date, commit = _when(at, name, entry)
        changed = entry["changed"]
        if (not isinstance(changed, list) or not changed
                or any(c not in CHANGEABLE for c in changed)):
            raise _fail(at, f"field '{name}.changed' is {shown(changed)}, expected a non-empty "
                        f"list of {list(CHANGEABLE)}")
        reason = entry["reason"]
        if not isinstance(reason, str) or not reason.strip():
            raise _fail(at, f"field '{name}.reason' must say why the tolerance changed")
        out.append(Change(date, commit, tuple(changed),
                          _known(at, f"{name}.results_known", entry["results_known"]), reason))
    return tuple(out)


def _record(cid: str, value: Any, where: str) -> Registration:
    at = f"{where}: claim {cid!r}"
    if not isinstance(value, dict):
        raise _fail(at, f"expected a table, got {type(value).__name__}")
    unknown = set(value) - _RECORD_FIELDS
    if unknown:
        raise _fail(at, f"unknown field(s) {shown(sorted(map(str, unknown)))}; expected some of "
                    f"{sorted(_RECORD_FIELDS)}")
    missing = {"set", "results_known", "reason", "fingerprint", "words"} - set(value)
    if missing:
        raise _fail(at, f"missing field(s) {sorted(missing)}")
    when = value["set"]
    if not isinstance(when, dict) or set(when) != {"date", "commit"}:
        raise _fail(at, "field 'set' must be a table {date, commit}")
    date, commit = _when(at, "set", when)
    known = _known(at, "results_known", value["results_known"])
    words = value["words"]
    if not (isinstance(words, str) and _DIGEST.fullmatch(words)):
        raise _fail(at, f"field 'words' is {shown(words)}, expected 12 lowercase hex digits "
                    "(harness.registration.words_digest of the justification)")
    reason = value["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise _fail(at, "field 'reason' must say why the numbers are what they are")
    sensitivity = value.get("sensitivity", "")
    if not isinstance(sensitivity, str):
        raise _fail(at, "field 'sensitivity' must be a string")
    return Registration(date, commit, known, reason, _fingerprint(at, value["fingerprint"]),
                        sensitivity, words, _changes(at, value.get("changes", [])))


def _fingerprint(at: str, value: Any) -> dict[str, float | str]:
    names = {*TOLERANCE_FIELDS, *(f"window_{w}" for w in WINDOW_FIELDS)}
    if not isinstance(value, dict) or not isinstance(value.get("rule"), str):
        raise _fail(at, "field 'fingerprint' must be a table with a string 'rule'")
    unknown = set(value) - names
    if unknown:
        raise _fail(at, f"field 'fingerprint' has unknown field(s) "
                    f"{shown(sorted(map(str, unknown)))}; expected some of {sorted(names)}")
    out: dict[str, float | str] = {"rule": value["rule"]}
    for name, number in value.items():
        if name == "rule":
            continue
        if (isinstance(number, bool) or not isinstance(number, int | float)
                or not math.isfinite(number)):
            raise _fail(at, f"field 'fingerprint.{name}' is {shown(number)}, expected a finite "
                        "number")
        out[name] = float(number)
    return out


def parse_registration(data: Mapping[str, Any], where: str = FILE_NAME
                       ) -> dict[str, Registration]:
    """The records of a decoded registration file, keyed by claim id."""
    unknown = set(data) - {"claim", "sensitivity"}
    if unknown:
        raise _fail(where, f"unknown top-level table(s) {shown(sorted(map(str, unknown)))}; "
                    "expected 'claim' (one table per claim) and optionally 'sensitivity'")
    claims = data.get("claim")
    if not isinstance(claims, dict) or not claims:
        raise _fail(where, "expected [claim.<id>] tables, one per claim")
    sensitivity = data.get("sensitivity", {})
    if not isinstance(sensitivity, dict):
        raise _fail(where, "'sensitivity' must be a table")
    return {str(cid): _record(str(cid), rec, where) for cid, rec in claims.items()}


def read_registration(path: Path) -> dict[str, Registration]:
    """Read and validate one registration file (bounded, regular files only)."""
    raw = read_file(path, MAX_BYTES, RegistrationError, "registration record",
                    "one record per claim fits in well under that")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        raise _fail(str(path.name), f"not valid UTF-8 TOML: {one_line(exc, 200)}") from None
    return parse_registration(data, where=str(path.name))


def check_coverage(records: Mapping[str, Registration], claims: Iterable[str],
                   *, complete: bool, where: str = FILE_NAME) -> None:
    """Every claim has a record; with ``complete`` (every claims file of the folder is loaded)
    every record names a claim."""
    ids = list(claims)
    missing = [cid for cid in ids if cid not in records]
    if missing:
        raise _fail(where, f"no record for claim(s) {shown(missing[:5])}"
                    f"{' and more' if len(missing) > 5 else ''}: every claim's tolerance needs "
                    "its registration (set, results_known, reason, fingerprint)")
    if complete:
        extra = sorted(set(records) - set(ids))
        if extra:
            raise _fail(where, f"record(s) for unknown claim id(s) {shown(extra[:5])}: no claims "
                        "file of the folder defines them")
