"""Pair-agreement claims: the fraction of cell pairs a majority vote of proxies orders correctly.

Abdelfattah et al.'s ``vote`` (synflow, jacob_cov, snip) is published as the fraction of pairs of
cells whose order by 200-epoch test accuracy the members' pairwise majority vote gets right, not
as a correlation. The fraction is :func:`tfnas.proxies.vote.pairwise_agreement` (one definition,
the proxy's: how vote ties and score ties count is said there) over the member tables' cells.

Over complete tables the value is exact (``se = 0``). Over incomplete ones it is the fraction
over their uniform sample of n cells, with a standard error over cells: the fraction is a ratio
of two U-statistics of order 2 (correct pairs, pairs with distinct accuracies), for which the
jackknife over cells is a consistent variance estimator (Arvesen 1969); it is computed
delete-a-group (:data:`JACKKNIFE_GROUPS` groups, delete-1 for fewer cells), which costs that many
evaluations instead of n, times the finite-population factor ``(N - n) / (N - 1)`` that scales
the leading (Hájek projection) term of a U-statistic's variance under sampling without
replacement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.context import Context, NotRun
from harness.details import Details
from harness.kinds import Measurement, Null, register_kind
from harness.kinds._samples import common_cells, finite_population_factor
from harness.registry import DATASETS, METRICS, ClaimError, choice, known_fields, proxy_names
from harness.verdicts import Estimate
from tfnas.errors import shown

JACKKNIFE_GROUPS = 30
"""Groups of the delete-a-group jackknife: 30 leave-group-out evaluations (each O(n²) pairs);
the variance estimate then has about 29 degrees of freedom (its se within about 13%)."""

Agreement = Callable[[Mapping[str, np.ndarray], np.ndarray], float]


def agreement_function() -> Agreement:
    """The vote proxy's ``pairwise_agreement``; :class:`NotRun` while it is not installed."""
    try:
        from tfnas.proxies.vote import pairwise_agreement
    except ImportError as exc:
        raise NotRun(f"tfnas.proxies.vote.pairwise_agreement is not available ({exc}); the "
                     "vote proxy defines how pairs are counted") from exc
    return pairwise_agreement


@dataclass(frozen=True)
class PairAgreementProtocol:
    """The ``members`` proxies' scores (of ``score_dataset``, default ``dataset``) voting on each
    pair of cells, against ``metric`` accuracy of ``dataset``."""

    members: tuple[str, ...]
    dataset: str
    metric: str
    score_dataset: str | None = None

    @property
    def scored_on(self) -> str:
        return self.score_dataset or self.dataset

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> PairAgreementProtocol:
        known_fields(cid, where, proto, cls)
        members = proto.get("members")
        if (not isinstance(members, list) or not members
                or not all(isinstance(m, str) for m in members)):
            raise ClaimError(f"claim {cid!r}: field '{where}.members' must be a non-empty array "
                             f"of proxy names, got {shown(members)}")
        known = proxy_names()
        for m in members:
            if m not in known:
                raise ClaimError(f"claim {cid!r}: field '{where}.members' names {shown(m)}, "
                                 f"expected proxies among {known}")
        if len(set(members)) != len(members):
            raise ClaimError(f"claim {cid!r}: field '{where}.members' names a proxy twice: "
                             f"{shown(members)}")
        choice(cid, where, proto, "dataset", DATASETS)
        choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        choice(cid, where, proto, "metric", METRICS)
        return cls(tuple(members), proto["dataset"], proto["metric"], proto.get("score_dataset"))


def grouped_jackknife_se(agreement: Agreement, scores: Mapping[str, np.ndarray],
                         accuracy: np.ndarray, groups: int = JACKKNIFE_GROUPS) -> float:
    """The delete-a-group jackknife standard error of ``agreement(scores, accuracy)`` over cells:
    cell ``i`` (in the order given) is in group ``i mod g`` with ``g = min(groups, n)`` (delete-1
    when ``g = n``); ``var = (g - 1) / g · Σ_k (θ_(k) − mean θ_(·))²``."""
    n = accuracy.size
    g = min(groups, n)
    if g < 2:
        return float("nan")
    label = np.arange(n) % g
    values = []
    for k in range(g):
        keep = label != k
        values.append(agreement({m: s[keep] for m, s in scores.items()}, accuracy[keep]))
    theta = np.asarray(values, dtype=float)
    if not np.isfinite(theta).all():
        return float("nan")
    return float(np.sqrt((g - 1) / g * np.sum((theta - theta.mean()) ** 2)))


@dataclass(frozen=True, eq=False)
class PairAgreementDetails(Details):
    """A pair agreement's record; its subject is the ensemble of its members."""

    @classmethod
    def subject(cls, outcome: Any) -> tuple[str, ...] | None:
        members = outcome.protocol.get("members")
        return tuple(str(m) for m in members) if isinstance(members, list) else None


def agreement_null(proto: PairAgreementProtocol, ctx: Context) -> Null:
    """A coin-flip vote: scores that carry no information order half of the pairs right (over
    the ~10^8 pairs of the space the fraction's spread is negligible: exact 0.5)."""
    from tfnas.spaces import get_space

    size = get_space("tss").size
    return Null("a coin-flip vote", result=Measurement(
        Estimate(0.5, None, size, None, 0.0), {"method": "null: half of the pairs ordered right"}))


@register_kind("pair_agreement", protocol=PairAgreementProtocol, side=True,
               details=PairAgreementDetails, null=agreement_null)
def measure_pair_agreement(proto: PairAgreementProtocol, ctx: Context) -> Measurement:
    """The fraction of cell pairs (distinct accuracies) the members' majority vote orders as
    the accuracy does, over the whole space or the tables' uniform sample (module doc)."""
    cell_set = common_cells(ctx, [(m, proto.scored_on) for m in proto.members])
    agreement = agreement_function()
    acc_all = ctx.accuracy_column(proto.dataset, proto.metric)
    cells = [c for c in cell_set.cells if np.isfinite(acc_all[c.index])]
    dropped = len(cell_set.cells) - len(cells)
    if len(cells) < 2:
        raise NotRun(f"only {len(cells)} cells have a finite {proto.metric} accuracy on "
                     f"{proto.dataset}; a pair needs 2")
    index = np.array([c.index for c in cells])
    scores = {}
    for m in proto.members:
        table = ctx.table(m, proto.scored_on)
        scores[m] = np.array([table.scores[c] for c in cells], dtype=float)
    accuracy = acc_all[index]
    value = float(agreement(scores, accuracy))
    details: dict[str, Any] = {
        "members": list(proto.members), "n_cells": len(cells),
        "left_out": [{"cells": dropped, "why": f"no finite {proto.metric} accuracy"}] if dropped
        else [], "cell_set": "whole space", "space_sample": cell_set.describe(),
        "nonfinite_scores": {m: int((~np.isfinite(s)).sum()) for m, s in scores.items()},
    }
    se = 0.0
    if cell_set.sampled:
        raw = grouped_jackknife_se(agreement, scores, accuracy)
        se = raw * finite_population_factor(len(cells), cell_set.population) ** 0.5
        details["cell_set"] = (f"uniform random sample of {len(cells)} of the "
                               f"{cell_set.population} cells (incomplete tables)")
        details["jackknife"] = {"groups": min(JACKKNIFE_GROUPS, len(cells)), "se": raw,
                                "finite_population_factor":
                                finite_population_factor(len(cells), cell_set.population)}
        if not np.isfinite(se):
            raise NotRun(f"the sampling error of the agreement over {len(cells)} cells is "
                         "undefined (a leave-group-out agreement has no pair to count)")
    return Measurement(Estimate(value, None, len(cells), None, se), details)
