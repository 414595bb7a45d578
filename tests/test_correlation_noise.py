"""Scoring noise carried into correlation claims (harness.kinds.correlation.scoring_noise_se)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.context import Context
from harness.kinds.correlation import CorrelationProtocol, measure_correlation, scoring_noise_se
from harness.noise import load_noise, score_column
from harness.stats import correlation
from tfnas.space import arch_at
from tfnas.tables import load_table, table_path, write_table


def _proto(proxy: str = "grasp", dataset: str = "ImageNet16-120") -> CorrelationProtocol:
    return CorrelationProtocol(proxy, dataset, "test200", "spearman")


def test_the_committed_realisations_widen_the_error_by_their_spread():
    ctx = Context()
    proto = _proto()
    on = measure_correlation(proto, ctx)
    off = measure_correlation(proto, Context(scoring_noise=False))
    assert on.estimate.value == off.estimate.value  # the table's own coefficient either way
    noted = on.details["scoring_noise"]
    realised = ctx.noise("grasp", "ImageNet16-120")
    assert len(noted["values"]) == len(realised.realisations) >= 2
    expected_sd = float(np.std(noted["values"], ddof=1))
    assert noted["sd_over_uniform_cells"] == pytest.approx(expected_sd)
    n = on.details["n_cells"]
    se_noise = expected_sd * math.sqrt(realised.uniform.size / n)
    assert on.estimate.se == pytest.approx(math.hypot(off.estimate.se, se_noise))
    assert off.details["scoring_noise"]["note"].startswith("scoring noise off")


def test_each_realisations_coefficient_is_over_the_rescored_cells():
    ctx = Context()
    proto = _proto("snip", "ImageNet16-120")
    _, noted = scoring_noise_se(proto, ctx, 5000)
    realised = load_noise("snip", "ImageNet16-120",
                          score_column(load_table("snip", "ImageNet16-120")))
    acc = ctx.accuracy_column("ImageNet16-120", "test200")
    for value, r in zip(noted["values"], realised.realisations, strict=True):
        x = r.scores[realised.uniform]
        x = np.where(np.isfinite(x), x, x[np.isfinite(x)].min() - 1)
        assert value == pytest.approx(correlation(x, acc[realised.uniform], "spearman"))


def test_without_realisations_nothing_is_added_and_it_is_said(tmp_path):
    se, noted = scoring_noise_se(_proto("grasp", "cifar10"), Context(noise_root=tmp_path), 2000)
    assert se == 0.0 and "one scoring realisation" in noted["note"]


@pytest.mark.parametrize("proxy", ["params", "flops", "layers"])
def test_a_seed_free_proxy_has_no_scoring_noise(proxy):
    se, noted = scoring_noise_se(_proto(proxy, "cifar10"), Context(), 15625)
    assert se == 0.0 and "does not depend on the score seed" in noted["note"]


def _one_realisation(tmp_path, scores, change: dict | None = None):
    """A noise folder with grasp/ImageNet16-120's seed-1 realisation of 30 uniform cells
    (``scores(cell)``), recorded under the committed table's settings changed by ``change``
    (None: no settings recorded)."""
    root = tmp_path / "noise"
    root.mkdir()
    cells = list(range(0, 300, 10))
    (root / "cells-grasp-ImageNet16-120.txt").write_text(
        "# top 0 (none)\n" + "".join(f"{c}\n" for c in cells))
    settings = json.loads(load_table("grasp", "ImageNet16-120").provenance["settings"])
    provenance = {"seed": 1} if change is None else {
        "seed": 1, "settings": json.dumps({**settings, "seed": 1, **change})}
    write_table(table_path("grasp", "ImageNet16-120", root / "seed1"), "grasp", "ImageNet16-120",
                {arch_at(c): scores(c) for c in cells}, provenance)
    return root


def test_a_constant_realisation_is_not_carried(tmp_path):
    root = _one_realisation(tmp_path, lambda c: 1.0, {})
    se, noted = scoring_noise_se(_proto(), Context(noise_root=root), 5000)
    assert se == 0.0 and "undefined under some realisation" in noted["note"]


@pytest.mark.parametrize("change", [{"scoring_version": "0"}, {"batch_size": 32}, None])
def test_realisations_of_other_scoring_settings_are_not_this_tables_noise(tmp_path, change):
    root = _one_realisation(tmp_path, float, change)
    se, noted = scoring_noise_se(_proto(), Context(noise_root=root), 5000)
    assert se == 0.0 and "one scoring realisation" in noted["note"]


def test_an_aggregate_carries_its_members_noise_computed_literally():
    """AZ-NAS's rank aggregate (rank_aggregate kind): each realisation's coefficient is the
    aggregate, restated here as the anchor writes it (sum of log(rankdata / l) over the members,
    FLOPs fixed), on the re-scored cells every member holds; the sd between them, scaled by
    sqrt(m / n), joins the sampling error."""
    from scipy.stats import rankdata

    from harness.kinds.rank_aggregate import (
        RankAggregateProtocol,
        aggregate_noise_se,
        measure_rank_aggregate,
    )
    from tfnas.proxies import get_proxy

    proto = RankAggregateProtocol("az_nas", "cifar10", "test200", "correlation", "spearman")
    ctx = Context()
    on = measure_rank_aggregate(proto, ctx)
    off = measure_rank_aggregate(proto, Context(scoring_noise=False))
    noted = on.details["scoring_noise"]
    assert "values" in noted, noted
    assert set(get_proxy("az_nas").members) == {"az_complexity", "az_expressivity",
                                                 "az_progressivity", "az_trainability"}
    noisy = {m: ctx.noise(m, "cifar10") for m in noted["members"]}
    cells = sorted(set.intersection(*(set(n.uniform.tolist()) for n in noisy.values())))
    assert noted["uniform_cells"] == len(cells)
    acc = ctx.accuracy_column("cifar10", "test200")[cells]
    for value, seed in zip(noted["values"], noted["seeds"], strict=True):
        total = np.zeros(len(cells))
        # the anchor's order of the sum: tied cells' sums must round alike to stay tied
        for m in ("az_complexity", "az_expressivity", "az_progressivity", "az_trainability"):
            if m in noisy:
                x = next(r.scores for r in noisy[m].realisations if r.seed == seed)[cells]
            else:
                x = np.array([load_table(m, "cifar10").scores[arch_at(c)] for c in cells])
            total += np.log(rankdata(np.where(np.isfinite(x), x, -np.inf)) / len(cells))
        assert value == pytest.approx(correlation(total, acc, "spearman"))
    sd = float(np.std(noted["values"], ddof=1))
    n = on.details["n_cells"]
    assert on.estimate.se == pytest.approx(math.hypot(off.estimate.se, sd * math.sqrt(len(cells) / n)))
    assert off.details["scoring_noise"]["note"].startswith("scoring noise off")
    se, _ = aggregate_noise_se(proto, Context(noise_root=Path("/nonexistent")), (), 100)
    assert se == 0.0
