"""The outcome of one claim: the single statement of the results-JSON schema.

:meth:`Outcome.to_dict` writes a record of the ``claims.outcomes`` array exactly as
``pytest benchmarks/ --benchmark-json`` stores it, and :meth:`Outcome.from_dict` reads one back
(after :mod:`harness.results` has validated it). ``report``, ``compare``, ``baseline`` and the
plugin read outcomes through these attributes and the status constants of
:mod:`harness.verdicts`, never by string keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.details import Details
from harness.measurement_model import MeasurementModel
from harness.verdicts import (
    ERROR,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    Estimate,
    Judgement,
    Tolerance,
)

UNMEASURED = (NOT_RUN, ERROR)
"""Statuses of an outcome without a measurement (it carries a ``reason`` instead)."""


def _estimate(d: Any) -> Estimate | None:
    return None if d is None else Estimate.from_dict(d)


@dataclass(frozen=True)
class Divergence:
    """A recorded divergence, as data the harness checks against every run.

    ``expect``: the primary verdict it expects; ``direction``: where ours lies relative to the
    published value; ``reading``: the label of an alternative reading expected not to be
    rejected; ``no_reading_fits``: every reading expected rejected; ``because``: the
    registrant's hypothesis in words, rendered as such and never as a finding. The numbers are rendered from the run, never typed:
    ``because`` may not contain decimals, '±' or percentages (checked where a claims file is
    parsed, :mod:`harness.registry`).
    """

    because: str
    expect: str = NOT_REPRODUCED
    direction: str | None = None
    reading: str | None = None
    no_reading_fits: bool = False
    """Expect every reading of the row (its own and each alternative) not reproduced."""

    def to_dict(self) -> dict[str, Any]:
        """The table as a claims file writes it (unset expectations left out)."""
        out = {"expect": self.expect, "direction": self.direction, "reading": self.reading,
               "no_reading_fits": self.no_reading_fits or None, "because": self.because}
        return {k: v for k, v in out.items() if v is not None}


    @classmethod
    def from_dict(cls, d: Any) -> Divergence:
        """A recorded divergence as written in a results file (older files: prose alone)."""
        if isinstance(d, str):
            return cls(d)
        return cls(d["because"], d.get("expect", NOT_REPRODUCED), d.get("direction"),
                   d.get("reading"), bool(d.get("no_reading_fits", False)))


@dataclass(frozen=True)
class Check:
    """One expectation of a diagnosis, what the run shows, and whether they agree."""

    check: str
    expected: Any
    observed: Any
    holds: bool

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "expected": self.expected, "observed": self.observed,
                "holds": self.holds}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Check:
        return cls(d["check"], d.get("expected"), d.get("observed"), bool(d["holds"]))


@dataclass(frozen=True)
class Diagnosis:
    """A recorded divergence checked against the run: each expectation, and the explanation
    rendered from the run's numbers (:mod:`harness.diagnosis`)."""

    text: str
    checks: tuple[Check, ...] = ()

    @property
    def broken(self) -> tuple[Check, ...]:
        """The expectations this run does not bear out."""
        return tuple(c for c in self.checks if not c.holds)

    def to_dict(self) -> dict[str, Any]:
        return {"checks": [c.to_dict() for c in self.checks], "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnosis:
        return cls(d["text"], tuple(Check.from_dict(c) for c in d.get("checks") or ()))


@dataclass(frozen=True)
class RunSettings:
    """The run settings a measured (or not-run) outcome records; an error outcome has none."""

    score_source: str
    repetitions_override: int | None = None


@dataclass(frozen=True)
class AlternativeRun:
    """One alternative reading of the protocol, measured and judged (or not run, with why)."""

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    reproduced: Estimate | None = None
    passed: bool | None = None
    explanation: str = ""
    reason: str | None = None
    """Why the alternative was not run; None when it was measured."""
    judgement: Judgement | None = None
    """The rule's judgement of this reading (its ``verdict``, slack, power)."""
    model: MeasurementModel | None = None
    """What one published repetition is under this reading; None: the row as it stands."""
    mc_se: float = 0.0
    """The Monte-Carlo part of the reading's estimate error (0: exact)."""
    spread_mc: float = 0.0
    """The relative Monte-Carlo error of the reading's predicted spread (0: exact)."""

    @property
    def verdict(self) -> str | None:
        """The three-way verdict of this reading, None when not run."""
        if self.judgement is not None:
            return self.judgement.verdict
        return None if self.passed is None else ("reproduced" if self.passed else "not reproduced")

    @property
    def status(self) -> str | None:
        return NOT_RUN if self.reason is not None else None

    def to_dict(self) -> dict[str, Any]:
        if self.reason is not None:
            return {"label": self.label, "overrides": self.overrides, "status": NOT_RUN,
                    "reason": self.reason}
        out = {"label": self.label, "overrides": self.overrides,
               "reproduced": None if self.reproduced is None else self.reproduced.to_dict(),
               "passed": self.passed, "explanation": self.explanation}
        if self.judgement is not None:  # a record from before the three-way verdicts has none
            out["verdict"] = self.verdict
            out["judgement"] = self.judgement.to_dict()
        if self.model is not None:
            out["model"] = self.model.to_dict()
        if self.mc_se:
            out["mc_se"] = self.mc_se
        if self.spread_mc:
            out["spread_mc"] = self.spread_mc
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlternativeRun:
        if d.get("status") == NOT_RUN:
            return cls(d["label"], dict(d.get("overrides") or {}), reason=d["reason"])
        j = d.get("judgement")
        return cls(d["label"], dict(d.get("overrides") or {}), _estimate(d.get("reproduced")),
                   d.get("passed"), d.get("explanation", ""),
                   judgement=None if j is None else Judgement.from_dict(j),
                   model=None if d.get("model") is None else MeasurementModel.from_dict(d["model"]),
                   mc_se=float(d.get("mc_se") or 0.0),
                   spread_mc=float(d.get("spread_mc") or 0.0))


@dataclass(frozen=True)
class NullRun:
    """The claim's null (a method carrying no information: a random cell, random search with the
    same budget, zero correlation) measured and judged by the claim's rule against the same
    reference; or a table look-up (``lookup``), which checks the data, not a method; or not
    run (``reason``)."""

    label: str
    estimate: Estimate | None = None
    judgement: Judgement | None = None
    reference: Estimate | None = None
    """The measured other side of a comparison (the null replaces side A only)."""
    lookup: bool = False
    reason: str | None = None

    @property
    def verdict(self) -> str | None:
        """The rule's verdict on the null; None for a look-up or a null not run."""
        return None if self.judgement is None else self.judgement.verdict

    def sentence(self, published: Estimate | None) -> str:
        """The null in one plain sentence from its numbers: "a random cell under the same rule:
        reproduced (87.1 vs published 86.6)"; ``published``: the claim's published value (a
        comparison's null is shown against its measured other side)."""
        if self.lookup:
            return f"{self.label}: no null to compare, not evidence of a method"
        if self.reason is not None:
            return f"{self.label} under the same rule: not run ({self.reason})"
        if self.estimate is None or self.verdict is None:
            return f"{self.label} under the same rule: not judged"
        ref = self.reference if self.reference is not None else published
        against = "" if ref is None else (
            f" vs {'side B' if self.reference is not None else 'published'} {ref.value:.4g}")
        return (f"{self.label} under the same rule: {self.verdict} "
                f"({self.estimate.value:.4g}{against})")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label}
        if self.lookup:
            out["lookup"] = True
        if self.reason is not None:
            out["reason"] = self.reason
        if self.estimate is not None:
            out["estimate"] = self.estimate.to_dict()
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
        if self.judgement is not None:
            out["judgement"] = self.judgement.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NullRun:
        j = d.get("judgement")
        return cls(d["label"], _estimate(d.get("estimate")),
                   None if j is None else Judgement.from_dict(j), _estimate(d.get("reference")),
                   bool(d.get("lookup", False)), d.get("reason"))


@dataclass(frozen=True)
class Outcome:
    """What one claim got: the claim as registered, the run settings, status and verdict."""

    id: str
    status: str
    tolerance: Tolerance
    title: str = ""
    source: str = ""
    kind: str = ""
    table: str = ""
    protocol: dict[str, Any] = field(default_factory=dict)
    """The protocol as written in the registry (the raw table)."""
    published: Estimate | None = None
    interpretation: str = ""
    alternatives: list[Any] = field(default_factory=list)
    """The alternative readings as written in the registry (label and overrides)."""
    known_divergence: Divergence | None = None
    """The recorded divergence (``because``, ``expect``, ``direction``, ``reading``)."""
    notes: str = ""
    reading: str = ""
    """Name of the primary reading (the claim's interpretation) in its paper table."""
    measurement: str = ""
    """Key of the measurement (kind + protocol): claims with the same key share one measurement."""
    derived_from: str | None = None
    """The first claim (registry order) with the same measurement, when it is another claim."""
    lineage: dict[str, str] | None = None
    """The published value's lineage when the source copied it from an earlier paper
    (``origin``, ``quoted_by``, ``because``: :class:`harness.registry.Lineage`)."""
    diagnosis: Diagnosis | None = None
    """For a recorded divergence: each expectation checked against the run and the explanation
    rendered from the run."""
    run: RunSettings | None = None
    reason: str | None = None
    """Why the claim was not run, or the error it raised."""
    reproduced: Estimate | None = None
    reference: Estimate | None = None
    """The measured other side of a comparison claim."""
    judgement: Judgement | None = None
    details: Details | None = None
    """The kind's result record (:class:`~harness.details.Details`)."""
    alternatives_run: tuple[AlternativeRun, ...] = ()
    null: NullRun | None = None
    """The claim's null under the same rule (absent from older records and from kinds that
    state none)."""

    def __post_init__(self) -> None:
        if self.null is not None and not isinstance(self.null, NullRun):
            object.__setattr__(self, "null", NullRun.from_dict(self.null))
        if self.known_divergence is not None and not isinstance(self.known_divergence, Divergence):
            object.__setattr__(self, "known_divergence", Divergence.from_dict(self.known_divergence))
        if self.diagnosis is not None and not isinstance(self.diagnosis, Diagnosis):
            object.__setattr__(self, "diagnosis", Diagnosis.from_dict(self.diagnosis))
        if self.details is not None and not isinstance(self.details, Details):
            from harness.kinds import read_details  # a mapping: read as the kind's record

            object.__setattr__(self, "details", read_details(self.kind, self.details, "details",
                                                             self.protocol))

    @property
    def measured(self) -> bool:
        """True when the claim was measured and judged (not *not run*, not *error*)."""
        return self.status not in UNMEASURED

    @property
    def informative(self) -> bool | None:
        """Does the claim's rule tell the claim from its null? True: the rule rejects the null
        (*not reproduced*); False (*uninformative*, counted apart from evidence): a table
        look-up, or the claim reproduces and so does its null; None: not shown either way (no
        null, a null not run or inconclusive, or a claim that does not reproduce while its null
        is not rejected: nothing passed to weigh)."""
        if self.null is None:
            return None
        if self.null.lookup:
            return False
        if self.null.verdict == NOT_REPRODUCED:
            return True
        if (self.null.verdict == REPRODUCED and self.judgement is not None
                and self.judgement.verdict == REPRODUCED):
            return False
        return None

    def to_dict(self) -> dict[str, Any]:
        """The results-JSON record, key for key as the harness has always written it."""
        out: dict[str, Any] = {
            "id": self.id, "title": self.title, "source": self.source, "kind": self.kind,
            "table": self.table, "protocol": self.protocol,
            "published": None if self.published is None else self.published.to_dict(),
            "tolerance": self.tolerance.to_dict(), "interpretation": self.interpretation,
            "alternatives": self.alternatives,
            "known_divergence": (None if self.known_divergence is None
                                 else self.known_divergence.to_dict()),
            "notes": self.notes,
        }
        for key in ("reading", "measurement", "derived_from", "lineage"):  # absent from older records
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.run is not None:
            out["score_source"] = self.run.score_source
            out["repetitions_override"] = self.run.repetitions_override
        out["status"] = self.status
        if self.reason is not None:
            out["reason"] = self.reason
        if self.reproduced is not None:
            out["reproduced"] = self.reproduced.to_dict()
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
        if self.judgement is not None:
            out["judgement"] = self.judgement.to_dict()
        if self.details is not None:
            out["details"] = self.details.to_dict()
        if self.diagnosis is not None:
            out["diagnosis"] = self.diagnosis.to_dict()
        out["alternatives_run"] = [a.to_dict() for a in self.alternatives_run]
        if self.null is not None:  # absent from older records
            out["null"] = self.null.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        """An outcome from a record (validated by :func:`harness.results.load_results`)."""
        tol = d["tolerance"]
        run = (RunSettings(d["score_source"], d.get("repetitions_override"))
               if "score_source" in d else None)
        judgement = d.get("judgement")
        return cls(
            id=d["id"], status=d["status"],
            tolerance=Tolerance.from_dict(tol),
            title=d.get("title", ""), source=d.get("source", ""), kind=d.get("kind", ""),
            table=d.get("table", ""), protocol=dict(d.get("protocol") or {}),
            published=_estimate(d.get("published")), interpretation=d.get("interpretation", ""),
            alternatives=list(d.get("alternatives") or []),
            known_divergence=d.get("known_divergence"), notes=d.get("notes", ""),
            reading=d.get("reading", ""), measurement=d.get("measurement", ""),
            derived_from=d.get("derived_from"), lineage=d.get("lineage"),
            diagnosis=d.get("diagnosis"), run=run,
            reason=d.get("reason"), reproduced=_estimate(d.get("reproduced")),
            reference=_estimate(d.get("reference")),
            judgement=None if judgement is None else Judgement.from_dict(judgement),
            details=d.get("details"),
            alternatives_run=tuple(AlternativeRun.from_dict(a)
                                   for a in d.get("alternatives_run") or []),
            null=None if d.get("null") is None else NullRun.from_dict(d["null"]),
        )
