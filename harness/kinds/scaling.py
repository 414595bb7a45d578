"""Scaling claims: the ratio of two searches' mean quantities, A / B.

Time claims (search time at N=1000 over N=10, ...) are the :mod:`harness.kinds.timing` kind,
judged on CPU time under the chosen live protocol; a scaling claim over ``quantity = "time"``
divides wall times and stays only for claims files written before that kind existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.context import Context, NotRun
from harness.details import SidesDetails
from harness.kinds import Measurement, register_kind
from harness.kinds._sides import parse_sides
from harness.kinds.search import SearchProtocol, measure_search
from harness.verdicts import Estimate


@dataclass(frozen=True)
class ScalingProtocol:
    """The two searches whose means are divided."""

    a: SearchProtocol
    b: SearchProtocol

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> ScalingProtocol:
        return cls(*parse_sides(cid, where, proto, only="search", claim_kind="scaling"))


@register_kind("scaling", protocol=ScalingProtocol, details=SidesDetails)
def measure_scaling(proto: ScalingProtocol, ctx: Context) -> Measurement:
    """Ratio of two searches' mean quantities, A / B (e.g. time at N=1000 over time at N=10).

    On one machine the ratio cancels the hardware, so it can be compared with a published ratio
    where the absolute times cannot. Timed runs already measured in this session are reused.
    """
    a = measure_search(proto.a, ctx, reuse=True)
    b = measure_search(proto.b, ctx, reuse=True)
    if not b.estimate.value > 0:
        raise NotRun(f"side B's mean is {b.estimate.value}; a ratio needs it positive")
    return Measurement(Estimate(a.estimate.value / b.estimate.value),
                       SidesDetails(extra={"a_mean": a.estimate.value,
                                           "b_mean": b.estimate.value},
                                    a=a.details, b=b.details))
