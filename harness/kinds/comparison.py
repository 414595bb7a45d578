"""Comparison claims: side A against side B (each a search or a correlation), judged by the
claim's comparative rule (``greater``, ``noninferior``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.context import Context
from harness.kinds import Comparison, measure, register_kind
from harness.kinds._sides import parse_sides


@dataclass(frozen=True)
class ComparisonProtocol:
    """The protocols of the two sides."""

    a: Any
    b: Any

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> ComparisonProtocol:
        return cls(*parse_sides(cid, where, proto))


@register_kind("comparison", protocol=ComparisonProtocol)
def measure_comparison(proto: ComparisonProtocol, ctx: Context) -> Comparison:
    """Measure both sides."""
    return Comparison(measure(proto.a, ctx), measure(proto.b, ctx))
