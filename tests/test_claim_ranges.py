"""Every numeric field of a claim has a range, checked when the file loads (issue: *the claims
registry accepts nonsense*: ``seed = -5`` loaded and crashed at run time, ``sample = 10^12`` was
judged). For every numeric field, hypothesis draws values outside its range (and, for an integer
field, non-integers) and the load must refuse it with one line naming the claim and the field.

:data:`RANGES` is the list of numeric fields; a test walks the shipped claims and fails when one
has a numeric field the list does not cover, so a new field cannot come without its range.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.registry import (
    MAX_FACTOR,
    MAX_MAGNITUDE,
    MAX_PUBLISHED_N,
    SHIPPED_NAME,
    ClaimError,
    claim_files,
    parse_claims,
)
from tfnas.checks import MAX_SEED
from tfnas.search.limits import MAX_CYCLES
from tfnas.space import SPACE_SIZE

INT, REAL = "integer", "number"
REA = {"algorithm": "rea", "population": 100, "sample": 10, "cycles": 1000}
PAPER = {"protocol": {"judged": "paper-seconds",
                      "reference_published": {"value": 30.0, "std": 1.0, "n": 10}}}
"""A timing claim judged in paper-seconds, its reference row published with std and n."""
"""An REA search (population 100): its sample's range is 1..population, its cycles'
population..MAX_CYCLES."""

# (kind of the base claim, field path, low, high, type, low end open, high end open, overrides)
RANGES: list[tuple[str, str, float, float, str, bool, bool, dict[str, Any]]] = [
    ("search", "published.value", -MAX_MAGNITUDE, MAX_MAGNITUDE, REAL, False, False, {}),
    ("search", "published.std", 0, MAX_MAGNITUDE, REAL, False, False, {}),
    ("search", "published.n", 1, MAX_PUBLISHED_N, INT, False, False, {}),
    ("search", "tolerance.margin", 0, MAX_MAGNITUDE, REAL, False, False, {}),
    ("search", "tolerance.factor", 1, MAX_FACTOR, REAL, False, False, {}),
    ("search", "tolerance.alpha", 0, 0.5, REAL, True, True, {}),
    ("search", "protocol.seed", 0, MAX_SEED, INT, False, False, {}),
    # runs x evaluations per run stay within MAX_TOTAL_EVALUATIONS: 10,000 REA runs of 200 cycles
    ("search", "protocol.repetitions", 1, 10_000, INT, False, False,
     {"protocol": {**REA, "cycles": 200}}),
    ("search", "protocol.n", 1, SPACE_SIZE, INT, False, False, {}),
    ("search", "protocol.population", 1, SPACE_SIZE, INT, False, False,
     {"protocol": {**REA, "sample": 1, "cycles": MAX_CYCLES}}),
    ("search", "protocol.sample", 1, 100, INT, False, False, {"protocol": REA}),
    ("search", "protocol.cycles", 100, MAX_CYCLES, INT, False, False, {"protocol": REA}),
    ("correlation", "protocol.sample", 0, SPACE_SIZE, INT, False, False, {}),
    ("correlation", "protocol.seed", 0, MAX_SEED, INT, False, False, {}),
    ("timing", "protocol.cells", 2, 1000, INT, False, False, {}),
    ("timing", "protocol.rounds", 1, 20, INT, False, False, {}),
    ("timing", "protocol.reference_published.value", 0, MAX_MAGNITUDE, REAL, True, False, PAPER),
    ("timing", "protocol.reference_published.std", 0, MAX_MAGNITUDE, REAL, False, False, PAPER),
    ("timing", "protocol.reference_published.n", 1, MAX_PUBLISHED_N, INT, False, False, PAPER),
    ("share", "protocol.low", -MAX_MAGNITUDE, MAX_MAGNITUDE, REAL, False, False,
     {"protocol": {"high": MAX_MAGNITUDE}}),
    ("share", "protocol.high", -MAX_MAGNITUDE, MAX_MAGNITUDE, REAL, False, False,
     {"protocol": {"low": -MAX_MAGNITUDE}}),
    ("proxy_ranking", "protocol.gap", 0, 2, REAL, False, True,
     {"protocol": {"values": {"synflow": 1.0, "snip": -1.0}}}),
    ("proxy_ranking", "protocol.values.synflow", -1, 1, REAL, False, False, {}),
]
IDS = [f"{kind}:{path}" for kind, path, *_ in RANGES]


def _raw_entries() -> list[dict[str, Any]]:
    return [e for p in claim_files(SHIPPED_NAME)
            for e in tomllib.loads(p.read_text(encoding="utf-8"))["claim"]]


ENTRIES = _raw_entries()


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _base(kind: str, path: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """A shipped claim of ``kind`` that has every table on ``path``, without its alternatives and
    diagnosis (they would be validated too, and name labels), with ``overrides`` applied."""
    for entry in ENTRIES:
        node = _merge(copy.deepcopy(entry), overrides)
        if node["kind"] != kind or "values" in path and "synflow" not in str(node):
            continue
        if all(isinstance(node := node.get(k), dict) for k in path.split(".")[:-1]):
            out = _merge(copy.deepcopy(entry), overrides)
            for key in ("alternatives", "known_divergence"):
                out.pop(key, None)
            if kind == "search" and "protocol" in overrides:
                out["protocol"].pop("n", None)
            return out
    raise AssertionError(f"no shipped {kind} claim has {path}")


def _set(entry: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(entry)
    node = out
    *tables, leaf = path.split(".")
    for key in tables:
        node = node[key]
    node[leaf] = value
    return out


def outside(low: float, high: float, typ: str, open_low: bool, open_high: bool
            ) -> st.SearchStrategy[Any]:
    """Values outside ``low..high`` (the ends themselves when open), and for an integer field
    numbers that are no integer; finite (NaN and inf have their own refusal)."""
    if typ == INT:
        ints = st.one_of(st.integers(max_value=int(low) - 1), st.integers(min_value=int(high) + 1),
                         st.sampled_from([int(low) - 1, int(high) + 1, -(2**64), 2**64, 10**400]))
        fractions = st.floats(allow_nan=False, allow_infinity=False).filter(
            lambda x: not float(x).is_integer())
        return st.one_of(ints, fractions, st.sampled_from([float(low), float(high)]))
    below = st.floats(max_value=low, allow_nan=False, allow_infinity=False, exclude_max=not open_low)
    above = st.floats(min_value=high, allow_nan=False, allow_infinity=False,
                      exclude_min=not open_high)
    edges = [math.nextafter(low, -math.inf), math.nextafter(high, math.inf), -(10**400), 10**400,
             int(min(low, 0)) - 10**12, int(high) + 10**12]
    if open_low:
        edges.append(low)
    if open_high:
        edges.append(high)
    return st.one_of(below, above, st.sampled_from(edges))


@pytest.mark.parametrize("kind, path, low, high, typ, open_low, open_high, overrides", RANGES,
                         ids=IDS)
def test_the_base_claim_loads_at_both_ends_of_the_range(kind, path, low, high, typ, open_low,
                                                       open_high, overrides):
    """The range is the field's own: inside it the same claim loads (so the refusals below are
    the range's, not some other field's)."""
    base = _base(kind, path, overrides)
    step = 1 if typ == INT else 1e-9 * max(1.0, abs(high - low))
    for value in (low + step if open_low else low, high - step if open_high else high):
        value = int(value) if typ == INT else value
        if path.endswith(".low"):
            value = min(value, MAX_MAGNITUDE - 1)
        if path.endswith(".high"):
            value = max(value, -MAX_MAGNITUDE + 1)
        parse_claims({"claim": [_set(base, path, value)]}, where="base.toml")


@pytest.mark.parametrize("kind, path, low, high, typ, open_low, open_high, overrides", RANGES,
                         ids=IDS)
@given(data=st.data())
def test_values_outside_every_numeric_fields_range_are_refused_at_load(
        kind, path, low, high, typ, open_low, open_high, overrides, data):
    base = _base(kind, path, overrides)
    value = data.draw(outside(low, high, typ, open_low, open_high), label=path)
    with pytest.raises(ClaimError) as info:
        parse_claims({"claim": [_set(base, path, value)]}, where="bad.toml")
    message = str(info.value)
    assert "\n" not in message and len(message) <= 500, message
    assert f"claim {base['id']!r}" in message, message
    assert path.rsplit(".", 1)[-1] in message, message


def _numeric_fields(node: Any, path: str = "") -> set[str]:
    """The names (last path part) of every numeric leaf under ``node``."""
    if isinstance(node, dict):
        return {f for k, v in node.items() for f in _numeric_fields(v, f"{path}.{k}")}
    if isinstance(node, list):
        return {f for v in node for f in _numeric_fields(v, path)}
    if isinstance(node, int | float) and not isinstance(node, bool):
        return {re.sub(r"^.*\.", "", path)}
    return set()


def test_every_numeric_field_of_the_shipped_claims_has_a_range_test():
    covered = {path.rsplit(".", 1)[-1] for _, path, *_ in RANGES}
    proxies = {name for e in ENTRIES if e["kind"] == "proxy_ranking"
               for name in e["protocol"]["values"]}
    found = set().union(*(_numeric_fields(e) for e in ENTRIES)) - proxies
    assert found <= covered, sorted(found - covered)


@given(reps=st.integers(1, 10_000), n=st.integers(2, SPACE_SIZE))
def test_a_search_whose_runs_together_exceed_the_evaluation_bound_is_refused_at_load(reps, n):
    """Each factor in range is not enough: repetitions x n must fit the library's bound too."""
    from tfnas.search.limits import MAX_TOTAL_EVALUATIONS

    base = _base("search", "protocol.n", {})
    entry = _set(_set(base, "protocol.n", n), "protocol.repetitions", reps)
    entry["protocol"]["algorithm"] = "random"
    if reps * n <= MAX_TOTAL_EVALUATIONS:
        parse_claims({"claim": [entry]}, where="ok.toml")
        return
    with pytest.raises(ClaimError, match="protocol.repetitions") as info:
        parse_claims({"claim": [entry]}, where="big.toml")
    assert "\n" not in str(info.value) and f"{MAX_TOTAL_EVALUATIONS:,}" in str(info.value)
