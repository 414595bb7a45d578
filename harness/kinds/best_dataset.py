"""Best-dataset claims: for every method (a search), one dataset has the highest mean."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import schema
from harness.context import Context
from harness.details import Details, recorded
from harness.kinds import Measurement, register_kind
from harness.kinds.search import SearchProtocol, measure_search, method_tables, on_dataset
from harness.markdown import fmt, md_text
from harness.registry import DATASETS, choice, known_fields
from harness.verdicts import Estimate


@dataclass(frozen=True)
class BestDatasetProtocol:
    """The dataset claimed best and the methods (searches without a dataset) it holds for."""

    expected: str
    methods: tuple[SearchProtocol, ...]
    """Each method's protocol, on the first dataset; it runs on every one."""

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> BestDatasetProtocol:
        known_fields(cid, where, proto, cls)
        choice(cid, where, proto, "expected", DATASETS)
        parsed = []
        for at, m in method_tables(cid, where, proto):
            on_each = [SearchProtocol.from_dict(cid, at, {**m, "dataset": d}) for d in DATASETS]
            parsed.append(on_each[0])
        return cls(proto["expected"], tuple(parsed))


def _by_realisation(m: Measurement) -> dict[int, float]:
    """The measurement's value per scoring realisation (seed 0 alone when it has none)."""
    rows = m.details.get("realisations") or [{"seed": 0, "value": m.estimate.value}]
    return {int(r["seed"]): float(r["value"]) for r in rows}


def _best_in(per_dataset: dict[str, dict[int, float]], seed: int) -> str:
    """The dataset with the highest mean under realisation ``seed`` (a table without it: 0)."""
    means = {d: v.get(seed, v[0]) for d, v in per_dataset.items()}
    return max(means, key=means.get)


def _method(v: Any, p: str) -> dict:
    return schema.fields(v, p, {"method": schema.string,
                                "means": schema.map_of(schema.optional(schema.number)),
                                "best": schema.string}, {})


@dataclass(frozen=True, eq=False)
class BestDatasetDetails(Details):
    """Each method's mean per dataset and its best dataset, and how many scoring realisations
    were judged."""

    methods: list[dict[str, Any]] | None = recorded(schema.list_of(_method))
    realisations: int | None = recorded(schema.optional(schema.count))

    def lines(self, outcome: Any) -> list[str]:
        out = [] if self.realisations is None else [
            f"- scoring realisations: {fmt(self.realisations)}"]
        for m in self.methods or []:
            means = ", ".join(f"{md_text(d)} {fmt(v)}" for d, v in m["means"].items())
            out.append(f"  - {md_text(m['method'])}: {means} → best {md_text(m['best'])}")
        return out


@register_kind("best_dataset", protocol=BestDatasetProtocol, details=BestDatasetDetails)
def measure_best_dataset(proto: BestDatasetProtocol, ctx: Context) -> Measurement:
    """For each method, which dataset has the highest mean; the value is the fraction of scoring
    realisations in which every method's best is ``expected``.

    Realisation ``s`` uses every table's seed-``s`` scores where it was re-scored under that
    seed, else its committed (seed-0) scores; the seeds are the union over the tables used.
    """
    per_method = []
    seeds: set[int] = {0}
    for method in proto.methods:
        per_dataset = {d: _by_realisation(measure_search(on_dataset(method, d), ctx))
                       for d in DATASETS}
        seeds |= {s for v in per_dataset.values() for s in v}
        per_method.append((method, per_dataset))
    holds = {str(s): all(_best_in(pd, s) == proto.expected for _, pd in per_method)
             for s in sorted(seeds)}
    fraction = sum(holds.values()) / len(holds)
    methods = [{"method": m.label(), "means": {d: v[0] for d, v in pd.items()},
                "best": _best_in(pd, 0),
                "best_by_realisation": {str(s): _best_in(pd, s) for s in sorted(seeds)}}
               for m, pd in per_method]
    return Measurement(Estimate(fraction), BestDatasetDetails.of(
        {"methods": methods, "holds_by_realisation": holds, "realisations": len(holds)}))
