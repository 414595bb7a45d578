"""A new claim kind is one file, its results and rendering included: a toy kind defined here
(protocol, typed result record, report lines, a figure) is measured, judged, written to a
results file, read back through its own record and rendered by the report, which names no kind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from harness import registry, schema
from harness.context import Context
from harness.details import Canvas, Details, recorded
from harness.evaluate import evaluate_claim
from harness.kinds import Measurement, details_type, register_kind
from harness.markdown import fmt, md_text
from harness.registry import parse_claim
from harness.results import FORMAT, ResultsError, load_results, outcomes
from harness.verdicts import Estimate

# ---------------------------------------------------------------- the whole kind


@dataclass(frozen=True)
class DiceProtocol:
    """Throws of a fair die (a seeded draw): the claim is about their mean."""

    throws: int
    seed: int = 0

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> DiceProtocol:
        registry.known_fields(cid, where, proto, cls)
        registry.positive_int(cid, where, proto, "throws")
        return cls(int(proto["throws"]), int(proto.get("seed", 0)))


@dataclass(frozen=True, eq=False)
class DiceDetails(Details):
    """The faces thrown, checked on load, rendered as a line and a histogram."""

    faces: list[float] | None = recorded(schema.list_of(schema.number))

    def lines(self, outcome: Any) -> list[str]:
        return [f"- dice faces: {md_text(', '.join(fmt(f) for f in self.faces or []))}"]

    @classmethod
    def plots(cls, outcomes: Sequence[Any], canvas: Canvas) -> list[str]:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.hist([f for r in outcomes if r.details is not None for f in r.details.faces or []])
        name = canvas.save(fig, "dice.png")
        plt.close(fig)
        return [name]


@register_kind("toy_dice", protocol=DiceProtocol, details=DiceDetails)
def measure_dice(proto: DiceProtocol, ctx: Context) -> Measurement:
    import random

    rng = random.Random(ctx.seed_for(proto.seed))
    faces = [float(rng.randint(1, 6)) for _ in range(proto.throws)]
    mean = sum(faces) / len(faces)
    return Measurement(Estimate(mean, None, len(faces)), DiceDetails(faces=faces, max=max(faces)))


# ---------------------------------------------------------------- what the harness does with it


def _claim():
    return parse_claim({"id": "toy-dice-mean", "title": "a die's mean", "source": "a test",
                        "kind": "toy_dice", "table": "Toy table",
                        "protocol": {"throws": 60, "seed": 3},
                        "tolerance": {"rule": "equivalence", "margin": 1.0,
                                      "justification": "a test"},
                        "published": {"value": 3.5}, "interpretation": "fair die"})


def _results_file(tmp_path, outcome) -> Any:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"claims": {"format": FORMAT, "outcomes": [outcome.to_dict()]}}),
                    encoding="utf-8")
    return path


def test_a_kind_in_one_file_is_measured_recorded_read_back_and_rendered(tmp_path):
    from harness.report import write_report

    out = evaluate_claim(_claim(), Context())
    assert isinstance(out.details, DiceDetails) and len(out.details.faces) == 60
    assert out.details["faces"] == out.details.faces  # the record reads as what it writes
    path = _results_file(tmp_path, out)
    (back,) = outcomes(load_results(path))
    assert isinstance(back.details, DiceDetails) and back.details.faces == out.details.faces
    assert back.to_dict() == out.to_dict()
    md = write_report(path, tmp_path / "report").read_text(encoding="utf-8")
    assert "- dice faces: " + ", ".join(fmt(f) for f in out.details.faces) in md
    assert "![dice.png](dice.png)" in md and (tmp_path / "report" / "dice.png").is_file()
    assert "## Toy table" in md


def test_its_record_checks_a_file_naming_the_field(tmp_path):
    out = evaluate_claim(_claim(), Context())
    rec = out.to_dict()
    rec["details"]["faces"] = ["six"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"claims": {"format": FORMAT, "outcomes": [rec]}}),
                    encoding="utf-8")
    with pytest.raises(ResultsError, match=r"outcomes\[0\]\.details\.faces\[0\] must be a number"):
        load_results(path)


def test_a_kind_this_process_lacks_still_loads_and_renders_its_verdict(tmp_path):
    from harness.report import write_report

    rec = evaluate_claim(_claim(), Context()).to_dict()
    rec["kind"] = "someone_elses_kind"
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"claims": {"format": FORMAT, "outcomes": [rec]}}),
                    encoding="utf-8")
    (back,) = outcomes(load_results(path))
    assert type(back.details) is Details and details_type("someone_elses_kind") is Details
    assert back.details.to_dict() == rec["details"]  # kept as recorded, written back unchanged
    md = write_report(path, tmp_path / "report").read_text(encoding="utf-8")
    assert "`toy-dice-mean`" in md and "dice faces" not in md
