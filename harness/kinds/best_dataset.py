"""Best-dataset claims: for every method (a search), one dataset has the highest mean."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.context import Context
from harness.kinds import Measurement, register_kind
from harness.kinds.search import SearchProtocol, measure_search, on_dataset
from harness.registry import DATASETS, ClaimError, _choice, _known_fields
from harness.verdicts import Estimate


@dataclass(frozen=True)
class BestDatasetProtocol:
    """The dataset claimed best and the methods (searches without a dataset) it holds for."""

    expected: str
    methods: tuple[SearchProtocol, ...]
    """Each method's protocol, on the first dataset; it runs on every one."""

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> BestDatasetProtocol:
        _known_fields(cid, where, proto, cls)
        _choice(cid, where, proto, "expected", DATASETS)
        methods = proto.get("methods")
        if not isinstance(methods, list) or not methods:
            raise ClaimError(f"claim {cid!r}: field '{where}.methods' must be a non-empty array")
        parsed = []
        for j, m in enumerate(methods):
            if not isinstance(m, dict):
                raise ClaimError(f"claim {cid!r}: field '{where}.methods[{j}]' must be a table")
            on_each = [SearchProtocol.from_dict(cid, f"{where}.methods[{j}]", {**m, "dataset": d})
                       for d in DATASETS]
            parsed.append(on_each[0])
        return cls(proto["expected"], tuple(parsed))


@register_kind("best_dataset", protocol=BestDatasetProtocol)
def measure_best_dataset(proto: BestDatasetProtocol, ctx: Context) -> Measurement:
    """For each method, which dataset has the highest mean score; 1.0 if always ``expected``."""
    per_method = []
    for method in proto.methods:
        means = {d: measure_search(on_dataset(method, d), ctx).estimate.value for d in DATASETS}
        per_method.append({"method": method.label(), "means": means,
                           "best": max(means, key=means.get)})
    holds = all(m["best"] == proto.expected for m in per_method)
    return Measurement(Estimate(1.0 if holds else 0.0), {"methods": per_method})
