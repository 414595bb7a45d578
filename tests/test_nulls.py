"""Every claim shows that it discriminates: its kind's null (a method carrying no information)
is measured and judged by the claim's own rule against the same reference, recorded on the
outcome, counted apart when it also reproduces, and rendered in the report from its numbers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from harness import registry
from harness.context import Context, NotRun
from harness.evaluate import evaluate_claim
from harness.kinds import Measurement, Null, null_of, register_kind
from harness.ledger import evidence
from harness.markdown import md_text
from harness.outcome import NullRun, Outcome
from harness.registry import parse_claim
from harness.results import FORMAT, load_results, outcomes
from harness.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, VERDICTS, Estimate, Judgement

# ---------------------------------------------------------------- a toy kind with a null


@dataclass(frozen=True)
class CoinProtocol:
    """A coin's measured rate of heads (given, exact); ``null``: the rate a null coin gets (the
    null is the same kind, measured by the same code), absent: no null; -1: a look-up; -2: a
    null that cannot be measured."""

    rate: float
    null: float | None = None

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> CoinProtocol:
        registry.known_fields(cid, where, proto, cls)
        return cls(float(proto["rate"]), proto.get("null"))


def coin_null(proto: CoinProtocol, ctx: Context) -> Null | None:
    if proto.null is None:
        return None
    if proto.null == -1:
        return Null("a table look-up: checks the data, not a method", lookup=True)
    if proto.null == -2:
        raise NotRun("no null coin today")
    return Null("a fair coin", CoinProtocol(float(proto.null)))


@register_kind("toy_null_coin", protocol=CoinProtocol, null=coin_null)
def measure_coin(proto: CoinProtocol, ctx: Context) -> Measurement:
    return Measurement(Estimate(proto.rate, None, 1000, None, 0.0))


def _claim(rate: float, null: float | None, published: float = 0.5) -> Any:
    proto: dict[str, Any] = {"rate": rate}
    if null is not None:
        proto["null"] = null
    return parse_claim({"id": f"toy-coin-{rate}-{null}", "title": "a coin's rate",
                        "source": "a test", "kind": "toy_null_coin", "table": "Toy table",
                        "protocol": proto, "published": {"value": published},
                        "tolerance": {"rule": "equivalence", "margin": 0.05,
                                      "justification": "a test"},
                        "interpretation": "heads per throw"})


# ---------------------------------------------------------------- judged by the same rule


def test_a_null_the_rule_rejects_makes_the_claim_evidence():
    out = evaluate_claim(_claim(0.5, 0.9), Context())
    assert out.status == REPRODUCED and isinstance(out.null, NullRun)
    assert out.null.label == "a fair coin" and out.null.estimate.value == 0.9
    assert out.null.verdict == NOT_REPRODUCED and out.informative is True
    assert evidence([out]).shown == (out.id,) and not evidence([out]).uninformative


def test_a_null_that_also_passes_makes_the_claim_uninformative():
    out = evaluate_claim(_claim(0.5, 0.51), Context())
    assert out.status == REPRODUCED and out.null.verdict == REPRODUCED
    assert out.informative is False
    ev = evidence([out])
    assert ev.uninformative == (out.id,) and not ev.shown


def test_the_null_is_judged_against_the_same_reference_with_the_same_tolerance():
    # the same null rate is rejected against one published value and reproduces another
    far = evaluate_claim(_claim(0.9, 0.5, published=0.9), Context())
    near = evaluate_claim(_claim(0.5, 0.52, published=0.5), Context())
    assert far.null.verdict == NOT_REPRODUCED and near.null.verdict == REPRODUCED
    assert far.null.judgement.allowed == far.judgement.allowed == 0.05


def test_a_failing_claim_is_never_counted_uninformative():
    out = evaluate_claim(_claim(0.8, 0.5), Context())
    assert out.status == NOT_REPRODUCED and out.null.verdict == REPRODUCED
    assert out.informative is None and evidence([out]) == evidence([])


def test_a_lookup_and_a_null_not_run_and_no_null():
    lookup = evaluate_claim(_claim(0.5, -1), Context())
    assert lookup.null.lookup and lookup.null.estimate is None and lookup.informative is False
    assert evidence([lookup]).lookups == (lookup.id,)
    unrun = evaluate_claim(_claim(0.5, -2), Context())
    assert unrun.null.reason == "no null coin today" and unrun.informative is None
    assert evidence([unrun]).undecided == (unrun.id,)
    none = evaluate_claim(_claim(0.5, None), Context())
    assert none.null is None and none.informative is None


@pytest.mark.parametrize("claim", VERDICTS)
@pytest.mark.parametrize("null", VERDICTS)
def test_informative_only_false_when_both_reproduce(claim, null):
    j = Judgement(claim, 0.0, 0.1)
    rec = Outcome("x", claim, _claim(0.5, None).tolerance, judgement=j,
                  null=NullRun("n", Estimate(0.0), Judgement(null, 0.0, 0.1)))
    expected = (True if null == NOT_REPRODUCED else
                False if claim == null == REPRODUCED else None)
    assert rec.informative is expected
    assert INCONCLUSIVE in VERDICTS


def test_a_null_needs_a_protocol_or_a_result():
    with pytest.raises(ValueError, match="a protocol or a result"):
        Null("nothing")
    with pytest.raises(TypeError, match="must be a function"):
        register_kind("toy_bad_null", protocol=CoinProtocol, null="zero")  # type: ignore[arg-type]


# ---------------------------------------------------------------- recorded and read back


def _results(tmp_path, *outs: Outcome) -> Any:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"claims": {"format": FORMAT,
                                           "outcomes": [o.to_dict() for o in outs]}}),
                    encoding="utf-8")
    return path


def test_the_null_round_trips_and_old_records_without_it_load(tmp_path):
    outs = [evaluate_claim(_claim(0.5, v), Context()) for v in (0.9, 0.51, -1, -2)]
    for out in outs:
        back = Outcome.from_dict(json.loads(json.dumps(out.to_dict())))
        assert back.null == out.null and back.to_dict() == out.to_dict()
        assert back.informative is out.informative
    read = outcomes(load_results(_results(tmp_path, *outs)))
    assert [r.null for r in read] == [o.null for o in outs]
    old = outs[0].to_dict()
    del old["null"]
    (back,) = outcomes(load_results(_results(tmp_path, Outcome.from_dict(old))))
    assert back.null is None and back.informative is None and "null" not in back.to_dict()


# ---------------------------------------------------------------- rendered from its numbers


def test_the_report_renders_the_null_and_lists_uninformative_claims(tmp_path):
    from harness.report import write_report

    shown = evaluate_claim(_claim(0.5, 0.9), Context())
    empty = evaluate_claim(_claim(0.5, 0.51), Context())
    lookup = evaluate_claim(_claim(0.5, -1), Context())
    md = write_report(_results(tmp_path, shown, empty, lookup),
                      tmp_path / "report").read_text(encoding="utf-8")
    first_screen = md.split("## Findings by paper table")[0]
    assert "**Evidence with power:** of 3 reproduced claims, 1 reject their null" in first_screen
    assert f"- uninformative: `{empty.id}`" in first_screen
    assert f"- table look-ups: `{lookup.id}`" in first_screen
    assert "- null: " + md_text("a fair coin under the same rule: not reproduced (0.9 vs "
                                "published 0.5)") in md
    assert "- null: " + md_text("a fair coin under the same rule: reproduced (0.51 vs "
                                "published 0.5)") + " — uninformative" in md
    assert "a table look-up: checks the data, not a method" in md


# ---------------------------------------------------------------- the shipped kinds' nulls


def _search(**over: Any) -> Any:
    from harness.kinds.search import SearchProtocol

    proto = {"algorithm": "random", "proxy": "naswot", "dataset": "cifar10",
             "metric": "valid12", "n": 100, "repetitions": 30, "seed": 1,
             "selection": "best", "quantity": "accuracy", **over}
    return SearchProtocol.from_dict("x", "protocol", {k: v for k, v in proto.items()
                                                      if v is not None})


def test_search_nulls():
    ctx = Context()
    acc = null_of(_search(), ctx)
    assert acc.label == "a random cell" and acc.protocol.params == {"n": 1}
    assert acc.protocol.proxy == "oracle"  # a random cell needs no score
    assert null_of(_search(proxy="oracle"), ctx).lookup
    rea = {"algorithm": "rea", "population": 64, "sample": 20, "cycles": 1000}
    score = null_of(_search(quantity="score", n=None, **rea), ctx)
    assert score.label.startswith("random search with the same budget (N=1000")
    assert score.protocol.algorithm == "random" and score.protocol.params == {"n": 1000}
    assert score.protocol.proxy == "naswot"
    assert null_of(_search(quantity="score"), ctx).protocol.params == {"n": 1}
    every = null_of(_search(selection="all"), ctx)
    assert every.label == "100 random cells" and every.protocol.selection == "all"
    assert null_of(_search(quantity="time"), ctx) is None
    with pytest.raises(NotRun, match="score tables"):
        null_of(_search(quantity="score"), Context(score_source="live"))


def test_correlation_null_is_zero_with_the_sampling_error_of_the_claims_cells():
    from harness.kinds.correlation import CorrelationProtocol, sampling_se

    proto = {"proxy": "naswot", "dataset": "cifar10", "metric": "valid12",
             "coefficient": "spearman"}
    whole = null_of(CorrelationProtocol.from_dict("x", "p", proto), Context())
    assert whole.label == "zero correlation" and whole.result.estimate.value == 0.0
    assert whole.result.estimate.se == 0.0
    some = null_of(CorrelationProtocol.from_dict("x", "p", {**proto, "sample": 1000}), Context())
    assert some.result.estimate.se == pytest.approx(sampling_se(0.0, "spearman", 1000, 15625))
    assert some.result.estimate.se > 0
