"""Recorded divergences are data the run checks: expect, direction and reading, rendered from the run."""

from __future__ import annotations

import re

import pytest

from harness.diagnosis import diagnose
from harness.outcome import AlternativeRun
from harness.registry import ClaimError, Divergence, check_table_readings, parse_claim
from harness.verdicts import (
    DIAGNOSIS_UNSUPPORTED,
    INCONCLUSIVE,
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    REPRODUCED,
    Estimate,
    Judgement,
)

ALT = "mean over all N sampled cells"


def entry(**kd: object) -> dict:
    return {
        "id": "row-a", "title": "t", "source": "s", "kind": "correlation", "table": "Table X",
        "protocol": {"proxy": "params", "dataset": "cifar10", "metric": "valid12",
                     "coefficient": "spearman"},
        "published": {"value": 0.7},
        "tolerance": {"rule": "equivalence", "margin": 0.05, "justification": "why"},
        "interpretation": "i", "reading": "Spearman rho",
        "alternatives": [{"label": ALT, "coefficient": "kendall"}],
        **({"known_divergence": kd} if kd else {}),
    }


def judgement(verdict: str, difference: float) -> Judgement:
    return Judgement(verdict, difference, 1.0, interval=(difference - 0.5, difference + 0.5))


def test_a_divergence_is_parsed_as_data():
    claim = parse_claim(entry(expect="not reproduced", direction="above", reading=ALT,
                              because="the table reports sampled cells"))
    assert claim.known_divergence == Divergence("the table reports sampled cells",
                                                NOT_REPRODUCED, "above", ALT)


@pytest.mark.parametrize("kd, field", [
    ({"because": "ours is 75.59 against 67.39"}, "because"),
    ({"because": "ours is 12 % higher"}, "because"),
    ({"because": "68.2 ± 13"}, "because"),
    ({"because": " "}, "because"),
    ({"because": "words", "expect": "reproduced"}, "expect"),
    ({"because": "words", "direction": "sideways"}, "direction"),
    ({"because": "words", "reading": "no such reading"}, "reading"),
    ({"because": "words", "colour": "red"}, "unknown field"),
])
def test_a_bad_divergence_is_refused_in_one_line(kd, field):
    with pytest.raises(ClaimError) as err:
        parse_claim(entry(**kd))
    assert field in str(err.value) and "\n" not in str(err.value)


def test_a_plain_string_is_read_as_the_words_of_a_divergence():
    e = entry()
    e["known_divergence"] = "the table reports sampled cells"
    assert parse_claim(e).known_divergence == Divergence("the table reports sampled cells")


def test_one_table_cannot_be_explained_by_two_readings():
    a = parse_claim(entry(reading=ALT, because="one"))
    e = entry(because="two")
    e["id"] = "row-b"
    e["alternatives"].append({"label": "other", "coefficient": "pearson"})
    e["known_divergence"]["reading"] = "other"
    b = parse_claim(e)
    with pytest.raises(ClaimError, match="one table is one question"):
        check_table_readings([a, b])
    check_table_readings([a, a])


def _alt(verdict: str) -> AlternativeRun:
    j = judgement(verdict, 0.01)
    return AlternativeRun(ALT, {}, Estimate(0.71), j.passed, "", judgement=j)


@pytest.mark.parametrize("verdict, diff, alt, status", [
    (NOT_REPRODUCED, 2.0, REPRODUCED, KNOWN_DIVERGENCE),
    (REPRODUCED, 0.0, REPRODUCED, DIAGNOSIS_UNSUPPORTED),
    (INCONCLUSIVE, 1.0, REPRODUCED, DIAGNOSIS_UNSUPPORTED),
    (NOT_REPRODUCED, -2.0, REPRODUCED, DIAGNOSIS_UNSUPPORTED),
    (NOT_REPRODUCED, 2.0, NOT_REPRODUCED, DIAGNOSIS_UNSUPPORTED),
])
def test_every_expectation_is_checked_against_the_run(verdict, diff, alt, status):
    claim = parse_claim(entry(direction="above", reading=ALT, because="sampled cells"))
    got, record = diagnose(claim, Estimate(0.7 + diff), judgement(verdict, diff), [_alt(alt)])
    assert got == status
    assert all(c.holds for c in record.checks) == (status == KNOWN_DIVERGENCE)
    assert ("UNSUPPORTED" in record.text) == (status == DIAGNOSIS_UNSUPPORTED)


def test_the_explanation_is_rendered_from_the_run_numbers():
    claim = parse_claim(entry(direction="above", reading=ALT, because="sampled cells"))
    _, record = diagnose(claim, Estimate(2.7), judgement(NOT_REPRODUCED, 2.0), [_alt(REPRODUCED)])
    text = record.text
    assert "2.7" in text and "+2" in text and "0.71" in text and text.endswith("sampled cells")
    numbers = set(re.findall(r"\d+\.\d+", text))
    assert numbers and not numbers & set(re.findall(r"\d+\.\d+", claim.known_divergence.because))


def test_a_reading_that_was_not_run_does_not_support_a_diagnosis():
    claim = parse_claim(entry(reading=ALT, because="sampled cells"))
    not_run = AlternativeRun(ALT, {}, reason="no table")
    status, record = diagnose(claim, Estimate(2.7), judgement(NOT_REPRODUCED, 2.0), [not_run])
    assert status == DIAGNOSIS_UNSUPPORTED and "not run: no table" in record.text
