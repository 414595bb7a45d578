"""CI spot check: recompute a fresh random sample of every committed score table.

Each run draws a NEW sample (seed from ``secrets``, or ``TFNAS_SPOT_SEED`` to replay a failure);
the seed is in every test's report section and in every failure message. For a partial table
(the NASWOT sweep runs in pieces) only cells present in the table are sampled.

Every table of a dataset is checked on the same sampled cells, all proxies scored together
(one shared pass per cell, as the sweep scored them). Tolerances are registered with each proxy
(``Proxy.tolerance``, ``(relative, absolute)``, its reasons in its ``variant``); the first four's,
and why:

* ``params``, ``flops``: exact. They are counts from the architecture alone; no data, no
  reduction whose order a BLAS could change.
* ``synflow`` (natural log of a float64 sum): relative 1e-9. Identical code on the same machine
  gives identical bits. Across machines, float64 convolution kernels may sum in another order:
  ~1e-16 per rounding times reduction lengths of at most ~1e4 gives a relative drift of the raw
  sum of ~1e-12, which is an absolute 1e-12 after the log. Log scores are ~10-150, so 1e-9
  relative (1e-8 to 1e-7 absolute) leaves 10^4 of headroom for that drift while being far below
  any difference that could reorder two distinct cells in a search.
* ``naswot`` (log|det K|, K an integer-valued 128x128 kernel): absolute 1e-6. K's entries are
  counts, exact in float64, so a different machine only changes the LU rounding of slogdet:
  ~n·eps·|log det| ≈ 128 · 2.2e-16 · 2e3 ≈ 6e-11. 1e-6 (about 5e-10 relative) covers that by
  10^4. A float32 activation landing on the other side of zero under another BLAS flips a code
  bit and changes K by an integer; that moves the score by far more than 1e-6 and fails the
  check on purpose: the table would not be the one this environment computes.
"""

from __future__ import annotations

import functools
import math
import os
import random
import secrets

import pytest

from tfnas.proxies import get_proxy, proxies
from tfnas.scoring import batch_for, score, score_many, settings_key
from tfnas.space import Arch, arch_at
from tfnas.tables import ScoreTable, load_table, table_path, write_table

PROXIES = tuple(p.name for p in proxies() if p.builtin and p.table)  # what scripts/sweep-all tabulates
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
SAMPLE = int(os.environ.get("TFNAS_SPOT_N", "20"))
SEED = int(os.environ.get("TFNAS_SPOT_SEED") or secrets.randbits(32))


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def agrees(proxy: str, table_value: float, fresh: float) -> bool:
    """Whether a recomputed score matches the table under ``proxy``'s registered tolerance."""
    if table_value == fresh or (math.isnan(table_value) and math.isnan(fresh)):
        return True
    if not (math.isfinite(table_value) and math.isfinite(fresh)):
        return False
    relative, absolute = get_proxy(proxy).tolerance
    return math.isclose(table_value, fresh, rel_tol=relative, abs_tol=absolute)


def spot_sample(cells: list[Arch], dataset: str, seed: int, n: int) -> list[Arch]:
    """``n`` cells drawn from ``cells`` by a generator seeded with (seed, dataset)."""
    rng = random.Random(f"{seed}|{dataset}")
    return rng.sample(sorted(cells), min(n, len(cells)))


Fresh = dict[tuple[str, Arch], float]


def fresh_scores(tables: list[ScoreTable], seed: int, n: int) -> tuple[Fresh, list[str]]:
    """Fresh scores of one spot sample of the tables (of one dataset), their proxies scored together.

    The sample is drawn from the cells every table holds (a partial table is a prefix of the
    sweep permutation, itself a uniform sample), so that one shared pass per cell
    (:func:`tfnas.scoring.score_many`) checks every table; a table whose batch the shared
    scoring would not use is rescored alone. Also the tables computed under other settings.
    """
    problems = []
    for table in tables:
        run_seed, batch_size = int(table.provenance["seed"]), int(table.provenance["batch_size"])
        if table.settings != settings_key(table.proxy, table.dataset, run_seed, batch_size):
            problems.append(f"{table.proxy}-{table.dataset} table was computed under other "
                            "settings (scoring version or data changed); re-run its sweep")
    if not tables:
        return {}, problems
    dataset = tables[0].dataset
    common = set.intersection(*(set(t.scores) for t in tables))
    cells = spot_sample(list(common), dataset, seed, n)
    fresh: Fresh = {}
    by_seed: dict[int, list[str]] = {}
    for table in tables:
        run_seed, batch_size = int(table.provenance["seed"]), int(table.provenance["batch_size"])
        if batch_size == batch_for(table.proxy):
            by_seed.setdefault(run_seed, []).append(table.proxy)
        else:
            for arch in cells:
                fresh[table.proxy, arch] = score(arch, table.proxy, dataset, seed=run_seed,
                                                 batch_size=batch_size)
    for run_seed, names in by_seed.items():
        for arch in cells:
            for name, value in score_many(arch, names, dataset, seed=run_seed).items():
                fresh[name, arch] = value.score
    return fresh, problems


@functools.cache
def _committed(dataset: str, seed: int, n: int) -> tuple[Fresh, list[str]]:
    tables = [load_table(p, dataset) for p in PROXIES if table_path(p, dataset).exists()]
    return fresh_scores(tables, seed, n)


def disagreements(table: ScoreTable, seed: int, n: int,
                  fresh: tuple[Fresh, list[str]] | None = None) -> tuple[list[str], int]:
    """The spot-sampled cells of ``table`` whose fresh score disagrees, and how many were checked
    (``fresh``: :func:`fresh_scores` of the tables checked together; default ``table`` alone)."""
    scores, problems = fresh if fresh is not None else fresh_scores([table], seed, n)
    mine = [p for p in problems if p.startswith(f"{table.proxy}-{table.dataset} ")]
    assert not mine, mine[0]
    checked = [(arch, value) for (proxy, arch), value in scores.items() if proxy == table.proxy]
    bad = [f"#{arch.index} {arch}: table {table.scores[arch]!r}, now {value!r}"
           for arch, value in checked if not agrees(table.proxy, table.scores[arch], value)]
    return bad, len(checked)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_table_matches_a_fresh_sample(proxy, dataset, request, record_property):
    replay = f"spot-check seed {SEED} (replay: TFNAS_SPOT_SEED={SEED} pytest {__file__})"
    request.node.add_report_section("call", "spot-check", replay)
    record_property("spot_seed", SEED)
    print(replay)
    if not table_path(proxy, dataset).exists():
        pytest.skip(f"no {proxy}-{dataset} table yet; scripts/sweep-all or scripts/sweep-suite produces it")
    bad, checked = disagreements(load_table(proxy, dataset), SEED, SAMPLE,
                                 _committed(dataset, SEED, SAMPLE))
    assert checked >= 1
    assert not bad, f"{len(bad)} of {checked} cells disagree; {replay}:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize(
    "proxy, a, b, ok",
    [
        ("params", 1.0, 1.0, True),
        ("params", 1.0, 1.0 + 2**-52, False),
        ("synflow", 100.0, 100.0 * (1 + 5e-10), True),
        ("synflow", 100.0, 100.0 * (1 + 2e-9), False),
        ("synflow", -math.inf, -math.inf, True),
        ("synflow", -math.inf, 1.0, False),
        ("naswot", 1700.0, 1700.0 + 5e-7, True),
        ("naswot", 1700.0, 1700.0 + 2e-6, False),
        ("naswot", math.nan, math.nan, True),
    ],
)
def test_tolerances(proxy, a, b, ok):
    assert agrees(proxy, a, b) is ok


def test_samples_differ_by_seed_and_repeat_for_a_seed():
    pool = [arch_at(i) for i in range(50)]
    assert spot_sample(pool, "cifar10", 1, 4) == spot_sample(pool, "cifar10", 1, 4)
    assert len({tuple(spot_sample(pool, "cifar10", s, 4)) for s in range(20)}) > 1
    assert spot_sample(pool, "cifar10", 1, 4) != spot_sample(pool, "cifar100", 1, 4)
    assert set(spot_sample(pool[:3], "cifar10", 1, 20)) == set(pool[:3])


@pytest.mark.parametrize("proxy, nudge", [("params", lambda v: v + 1.0),
                                          ("synflow", lambda v: v * (1 + 1e-8))])
def test_spot_check_catches_a_wrong_score(tmp_path, proxy, nudge):
    """The check can fail: a table with one score off by more than the tolerance is caught."""
    cells = [arch_at(i) for i in range(3)]
    scores = {a: score(a, proxy, "cifar10") for a in cells}
    prov = {"seed": 0, "batch_size": 128, "settings": settings_key(proxy, "cifar10", 0, 128)}
    write_table(table_path(proxy, "cifar10", tmp_path), proxy, "cifar10", scores, prov)
    assert disagreements(load_table(proxy, "cifar10", tmp_path), 0, 3) == ([], 3)
    scores[cells[1]] = nudge(scores[cells[1]])
    write_table(table_path(proxy, "cifar10", tmp_path), proxy, "cifar10", scores, prov)
    bad, checked = disagreements(load_table(proxy, "cifar10", tmp_path), 0, 3)
    assert checked == 3 and len(bad) == 1 and bad[0].startswith(f"#{cells[1].index} ")


def test_spot_check_refuses_a_table_of_other_settings(tmp_path):
    prov = {"seed": 0, "batch_size": 128, "settings": '{"scoring_version":"0"}'}
    write_table(table_path("params", "cifar10", tmp_path), "params", "cifar10", {arch_at(0): 1.0}, prov)
    with pytest.raises(AssertionError, match="other settings"):
        disagreements(load_table("params", "cifar10", tmp_path), 0, 1)


@pytest.mark.parametrize("proxy, dataset", [("synflow", "cifar10"), ("naswot", "ImageNet16-120")])
def test_thread_count_does_not_change_the_bits(proxy, dataset):
    """Another reduction split (2 threads vs 1) gives the same bits: the tables do not depend on
    how many threads the sweep used, and a spot-check mismatch is not thread noise."""
    import torch

    arch = arch_at(11)
    one = score(arch, proxy, dataset)
    torch.set_num_threads(2)
    try:
        two = score(arch, proxy, dataset)
    finally:
        torch.set_num_threads(1)
    assert one == two
