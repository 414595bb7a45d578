"""Share claims: "most methods reach about X" — the fraction of methods whose mean lies in a band.

The methods are search protocols without a dataset, run on the claim's ``dataset`` (each under
the claim's ``selection`` when given, so an alternative can re-read every method at once). The
measurement is 1.0 when more than half of the methods' means lie in ``[low, high]``, else 0.0
(a ``holds`` fact); the details keep every method's mean and the fraction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.context import Context
from harness.kinds import Measurement, Null, register_kind
from harness.kinds.search import SearchProtocol, measure_search, method_tables, search_null
from harness.registry import (
    DATASETS,
    MAX_MAGNITUDE,
    SELECTIONS,
    WHY_MAGNITUDE,
    ClaimError,
    choice,
    known_fields,
    number_in,
)
from harness.verdicts import Estimate


@dataclass(frozen=True)
class ShareProtocol:
    """The band ``[low, high]``, the dataset, and the methods (search protocols)."""

    dataset: str
    low: float
    high: float
    methods: tuple[SearchProtocol, ...]
    selection: str | None = None

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> ShareProtocol:
        known_fields(cid, where, proto, cls)
        choice(cid, where, proto, "dataset", DATASETS)
        choice(cid, where, proto, "selection", SELECTIONS, required=False)
        low, high = proto.get("low"), proto.get("high")
        for key, value in (("low", low), ("high", high)):
            number_in(cid, f"{where}.{key}", value, -MAX_MAGNITUDE, MAX_MAGNITUDE, WHY_MAGNITUDE)
        if not low < high:
            raise ClaimError(f"claim {cid!r}: field '{where}.low' must be below 'high', got "
                             f"{low} and {high}")
        parsed = []
        for at, m in method_tables(cid, where, proto):
            if "dataset" in m:
                raise ClaimError(f"claim {cid!r}: field '{at}.dataset' is set by the claim's "
                                 "'dataset'")
            m = {**m, "dataset": proto["dataset"]}
            if "selection" in proto:
                m["selection"] = proto["selection"]
            parsed.append(SearchProtocol.from_dict(cid, at, m))
        return cls(proto["dataset"], float(low), float(high), tuple(parsed),
                   proto.get("selection"))


def share_null(proto: ShareProtocol, ctx: Context) -> Null | None:
    """Every method replaced by its null (for accuracy: a random cell, i.e. the space mean, no
    search): does the band tell the methods from no search at all?"""
    nulls = [search_null(m, ctx) for m in proto.methods]
    if any(n is None or n.protocol is None for n in nulls):
        return None
    labels = sorted({n.label for n in nulls if n is not None})
    return Null(f"{' / '.join(labels)} for every method",
                dataclasses.replace(proto, methods=tuple(n.protocol for n in nulls
                                                         if n is not None)))


@register_kind("share", protocol=ShareProtocol, null=share_null)
def measure_share(proto: ShareProtocol, ctx: Context) -> Measurement:
    """1.0 when more than half of the methods' means lie in ``[low, high]``."""
    rows = []
    for method in proto.methods:
        mean = measure_search(dataclasses.replace(method), ctx).estimate.value
        rows.append({"method": method.label(), "mean": mean,
                     "within": proto.low <= mean <= proto.high})
    inside = sum(r["within"] for r in rows)
    holds = inside * 2 > len(rows)
    return Measurement(Estimate(1.0 if holds else 0.0),
                       {"method_means": rows, "fraction_within": inside / len(rows),
                        "band": [proto.low, proto.high]})
