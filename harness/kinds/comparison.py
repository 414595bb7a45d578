"""Comparison claims: side A against side B (each a search or a correlation), judged by the
claim's comparative rule (``greater``, ``noninferior``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.context import Context
from harness.details import SidesDetails
from harness.kinds import Comparison, Measurement, Null, measure, null_of, register_kind
from harness.kinds._sides import parse_sides


@dataclass(frozen=True)
class ComparisonProtocol:
    """The protocols of the two sides."""

    a: Any
    b: Any

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> ComparisonProtocol:
        return cls(*parse_sides(cid, where, proto))


def comparison_null(proto: ComparisonProtocol, ctx: Context) -> Null | None:
    """Side A replaced by its own null (side B as measured for the claim): does the rule tell
    the claimed method from one that carries no information?"""
    side = null_of(proto.a, ctx)
    if side is None or side.lookup:
        return side
    label = f"{side.label} as side A"
    if side.protocol is not None:
        return Null(label, ComparisonProtocol(side.protocol, proto.b))
    assert isinstance(side.result, Measurement)
    return Null(label, result=Comparison(side.result, measure(proto.b, ctx)))


@register_kind("comparison", protocol=ComparisonProtocol, details=SidesDetails,
               null=comparison_null)
def measure_comparison(proto: ComparisonProtocol, ctx: Context) -> Comparison:
    """Measure both sides; two correlations are computed over the same cells (those both can
    use), and each side says which cells it used and why any were left out."""
    from harness.kinds.correlation import CorrelationProtocol, claim_cells, correlation_on, usable

    if isinstance(proto.a, CorrelationProtocol) and isinstance(proto.b, CorrelationProtocol):
        cells_a, out_a = usable(proto.a, ctx, claim_cells(proto.a, ctx))
        cells_b, out_b = usable(proto.b, ctx, claim_cells(proto.b, ctx))
        common = set(cells_b)
        shared = [c for c in cells_a if c in common]
        note = {"cells": len(cells_a) + len(cells_b) - 2 * len(shared),
                "why": "not usable on the other side: both sides use the same cells"}
        return Comparison(correlation_on(proto.a, ctx, shared, [*out_a, note]),
                          correlation_on(proto.b, ctx, shared, [*out_b, note]))
    return Comparison(measure(proto.a, ctx), measure(proto.b, ctx))
