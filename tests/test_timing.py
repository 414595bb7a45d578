"""The timing claim kind: protocol parsing, the reduced protocol's counting, and that the judged
quantity (an in-run ratio of CPU times) barely moves when another process loads the machine."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.context import Context
from harness.kinds import get_kind
from harness.kinds import timing as tk
from harness.registry import ClaimError, load_registry
from tfnas.spaces import get_space

SEARCH = {"algorithm": "random", "proxy": "params", "dataset": "cifar10", "n": 10,
          "repetitions": 3, "seed": 5}
PROTO = {"judged": "paper-seconds", "search": {**SEARCH, "n": 100}, "reference": SEARCH,
         "reference_published": {"value": 1.5, "std": 0.3, "n": 30}}


def parse(proto: dict) -> tk.TimingProtocol:
    return tk.TimingProtocol.from_dict("t", "protocol", proto)


def edited(**changes: object) -> dict:
    proto = copy.deepcopy(PROTO)
    for key, value in changes.items():
        if value is None:
            proto.pop(key)
        else:
            proto[key] = value
    return proto


# ---------------------------------------------------------------- parsing


def test_the_kind_is_registered_and_parses_a_protocol():
    assert get_kind("timing").protocol is tk.TimingProtocol
    p = parse(PROTO)
    assert p.search.n == 100 and p.reference.n == 10 and p.judged == "paper-seconds"
    assert p.reference_published.value == 1.5 and p.reference_published.n == 30
    assert (p.cells, p.rounds) == (tk.DEFAULT_CELLS, tk.DEFAULT_ROUNDS)


@pytest.mark.parametrize("proto, field", [
    (edited(judged="seconds"), "protocol.judged"),
    (edited(judged=None), "protocol.judged"),
    (edited(colour="red"), "unknown field"),
    (edited(search=None), "protocol.search"),
    (edited(reference={**SEARCH, "metric": "test200"}), "protocol.reference.metric"),
    (edited(search={**SEARCH, "quantity": "score"}), "protocol.search.quantity"),
    (edited(search={**SEARCH, "n": 0}), "protocol.search.n"),
    (edited(reference={**SEARCH, "algorithm": "annealing"}), "protocol.reference.algorithm"),
    (edited(reference_published=None), "protocol.reference_published"),
    (edited(reference_published={"value": 0}), "protocol.reference_published.value"),
    (edited(reference_published={"value": 1.0, "std": 0.1}), "protocol.reference_published"),
    (edited(reference_published={"value": 1.0, "mean": 1}), "protocol.reference_published"),
    (edited(judged="ratio"), "protocol.reference_published"),
    (edited(cells=1), "protocol.cells"),
    (edited(rounds=0), "protocol.rounds"),
    (edited(cells=True), "protocol.cells"),
])
def test_malformed_protocols_name_the_field(proto, field):
    with pytest.raises(ClaimError) as info:
        parse(proto)
    message = str(info.value)
    assert "'t'" in message and field in message and "\n" not in message, message


def test_shipped_time_claims_are_timing_claims_sharing_their_searches():
    claims = load_registry(["shipped"]).claims
    timing = {cid: c for cid, c in claims.items() if c.kind == "timing"}
    assert len(timing) == 22
    assert not [cid for cid, c in claims.items()
                if c.kind == "search" and c.protocol.quantity == "time"]
    # Table II time rows are Table I N=100: the same protocol, so one measurement
    for d in ("cifar10", "cifar100", "ImageNet16-120"):
        assert timing[f"table2-{d}-time"].protocol == timing[f"table1-{d}-n100-time"].protocol
    # the Mellor anchors time the very searches Table I CIFAR-10 times (metric is not timed)
    assert (timing["mellor-time-n1000-cifar10"].protocol.search
            == timing["table1-cifar10-n1000-time"].protocol.search)
    for cid in ("rea-time-cifar10", "rea-time-cifar100", "rea-time-ImageNet16-120"):
        assert timing[cid].protocol.search.repetitions >= 3  # 'always' needs several runs
        assert timing[cid].tolerance.rule == "at_most"
    for c in timing.values():
        assert c.tolerance.rule in ("ratio", "at_most") and c.tolerance.factor != 10.0


# ---------------------------------------------------------------- the reduced protocol


def test_the_cost_sample_is_fixed_uniform_and_distinct():
    space = get_space(None)
    a, b = tk.sample_cells(space, 16, 7), tk.sample_cells(space, 16, 7)
    assert a == b and len(set(map(str, a))) == 16
    assert tk.sample_cells(space, 16, 8) != a


def test_distinct_counts_are_counted_on_the_table_once(data_root):
    ctx = Context()
    rnd = parse(PROTO).search
    assert tk.distinct_counts(rnd, ctx) == [100, 100, 100]  # random search draws distinct cells
    rea = parse(edited(search={"algorithm": "rea", "proxy": "params", "dataset": "cifar10",
                               "population": 8, "sample": 3, "cycles": 60, "repetitions": 4,
                               "seed": 2})).search
    counts = tk.distinct_counts(rea, ctx)
    assert len(counts) == 4 and all(8 <= c <= 60 for c in counts)
    from tfnas.search import TableScorer, repeat
    from tfnas.search.registry import get_algorithm

    table = ctx.table("params", "cifar10")
    traces = repeat(get_algorithm("rea").run, 4, 2, scorer=TableScorer(table.scores, "t"),
                    population=8, sample=3, cycles=60)
    assert counts == [len({e.arch for e in t.evaluations}) for t in traces]
    ctx._tables.clear()  # served from the session's count, not counted again
    assert tk.distinct_counts(rea, ctx) == counts and not ctx._tables


def _fake_costs(calls: list, per_cell: dict[str, float]):
    def fake(scorers, cells, rounds, threads=1):
        calls.append(sorted(scorers))
        k = len(cells)
        return {d: (np.full((rounds, k), per_cell[d]), np.full((rounds, k), 2 * per_cell[d]))
                for d in scorers}
    return fake


def test_reduced_estimate_is_distinct_cells_times_cost_per_cell(data_root, monkeypatch):
    calls: list = []
    monkeypatch.setattr(tk, "measure_costs", _fake_costs(
        calls, {"cifar10": 0.2, "cifar100": 0.25, "ImageNet16-120": 0.05}))
    ctx = Context()
    same = tk.measure_timing(parse(PROTO), ctx)
    # N=100 over N=10 on one dataset: 1.5 s x 100/10, and only the published side's error
    assert same.estimate.value == pytest.approx(15.0)
    assert same.estimate.se == pytest.approx(15.0 * (0.3 / math.sqrt(30)) / 1.5)
    assert same.details["value_wall"] == pytest.approx(15.0)
    assert same.details["ours"]["search_cpu_s"] == pytest.approx(100 * 0.2)
    assert same.details["ours"]["search_wall_s"] == pytest.approx(100 * 0.4)
    assert same.details["clock"] == "cpu" and same.details["live_protocol"] == "reduced"
    assert calls == [sorted(["cifar10", "cifar100", "ImageNet16-120"])]  # all at once
    cross = tk.measure_timing(parse(edited(search={**SEARCH, "dataset": "ImageNet16-120"})), ctx)
    assert cross.estimate.value == pytest.approx(1.5 * 0.05 / 0.2)
    assert len(calls) == 1  # the cost sample is shared by every claim of the session
    ratio = tk.measure_timing(parse(edited(judged="ratio", reference_published=None)), ctx)
    assert ratio.estimate.value == pytest.approx(10.0) and ratio.estimate.se == 0.0
    rea = tk.measure_timing(parse(edited(search={
        "algorithm": "rea", "proxy": "params", "dataset": "cifar10", "population": 8,
        "sample": 3, "cycles": 60, "repetitions": 4, "seed": 2})), ctx)
    counts = tk.distinct_counts(parse(edited(search={
        "algorithm": "rea", "proxy": "params", "dataset": "cifar10", "population": 8,
        "sample": 3, "cycles": 60, "repetitions": 4, "seed": 2})).search, ctx)
    # per run: distinct cells x the paper's per-cell cost (its N=10 time / 10)
    assert rea.details["values"] == pytest.approx([1.5 * c / 10 for c in counts])
    assert rea.details["max"] == pytest.approx(1.5 * max(counts) / 10)
    assert rea.estimate.n == 4


@settings(max_examples=10, deadline=None)  # an exact cancellation; each example runs 2 searches
@given(costs=st.lists(st.floats(0.01, 5.0), min_size=3, max_size=3),
       slowdown=st.floats(1.0, 50.0))
def test_a_uniformly_slower_machine_leaves_the_judged_value_unchanged(data_root, costs,
                                                                      slowdown):
    """The hardware cancels: every cost x k changes our absolute seconds by k, not the verdict's
    number (cross-dataset and across N)."""
    per_cell = dict(zip(("cifar10", "cifar100", "ImageNet16-120"), costs, strict=True))
    proto = parse(edited(search={**SEARCH, "n": 100, "dataset": "ImageNet16-120"}))
    got = []
    for k in (1.0, slowdown):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tk, "measure_costs", _fake_costs([], {d: k * c for d, c in
                                                             per_cell.items()}))
            got.append(tk.measure_timing(proto, Context()))
    assert got[1].estimate.value == pytest.approx(got[0].estimate.value, rel=1e-9)
    assert got[0].estimate.value == pytest.approx(
        1.5 * 100 * per_cell["ImageNet16-120"] / (10 * per_cell["cifar10"]))
    assert got[1].details["ours"]["search_cpu_s"] == pytest.approx(
        slowdown * got[0].details["ours"]["search_cpu_s"])


def test_full_protocol_divides_the_live_runs_cpu_times(data_root, one_torch_thread):
    ctx = Context(live_protocol="full")
    small = {**SEARCH, "repetitions": 2}
    proto = parse(edited(search={**small, "n": 6}, reference={**small, "n": 2}))
    got = tk.measure_timing(proto, ctx)
    assert got.details["live_protocol"] == "full"
    ours = got.details["ours"]
    assert got.estimate.value == pytest.approx(1.5 * ours["search_cpu_s"] / ours["reference_cpu_s"])
    assert got.details["distinct_search"] == [6, 6]
    again = tk.measure_timing(proto, ctx)  # the same live runs, not new ones
    assert again.details["ours"] == ours


def test_an_unknown_live_protocol_is_not_run():
    from harness.context import NotRun

    with pytest.raises(NotRun, match="live protocol"):
        tk.measure_timing(parse(PROTO), Context(live_protocol="fast"))


# ---------------------------------------------------------------- robust to machine load


class Busy:
    """A CPU-bound stand-in scorer: ``work`` units of pure-Python arithmetic per call."""

    name = "busy"

    def __init__(self, work: int) -> None:
        self.work, self.space = work, get_space(None)

    def __call__(self, arch: object) -> float:
        return float(sum(i * i for i in range(self.work)))


def _quiet_then_busy(measure: Callable[[], tuple[float, float]]
                     ) -> tuple[tuple[float, float], tuple[float, float]]:
    """``measure()`` once as the machine is, then again with every core (and one more) kept
    busy by real spinning subprocesses, which are killed afterwards."""
    quiet = measure()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range((os.cpu_count() or 2) + 1)]
    try:
        time.sleep(0.3)
        busy = measure()
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    return quiet, busy


def _ratio_and_wall(cells: list) -> tuple[float, float]:
    got = tk.measure_costs({"a": Busy(600_000), "b": Busy(200_000)}, cells, rounds=3)
    cpu_ratio = got["a"][0].mean() / got["b"][0].mean()
    return float(cpu_ratio), float(got["a"][1].sum() + got["b"][1].sum())


@pytest.mark.integration
def test_the_judged_ratio_moves_far_less_than_wall_time_under_load():
    cells = tk.sample_cells(get_space(None), 6, 1)
    (quiet_ratio, quiet_wall), (busy_ratio, busy_wall) = _quiet_then_busy(
        lambda: _ratio_and_wall(cells))
    wall_move = abs(math.log(busy_wall / quiet_wall))
    judged_move = abs(math.log(busy_ratio / quiet_ratio))
    assert wall_move > math.log(1.3), (quiet_wall, busy_wall)  # the load did slow the clock
    assert judged_move < 0.2 and judged_move < wall_move / 3, (quiet_ratio, busy_ratio)


@pytest.mark.integration
@pytest.mark.slow
def test_live_naswot_cost_ratio_holds_under_load(data_root):
    """The same with live NASWOT scoring: CIFAR-10 over ImageNet16-120 per cell, quiet and with
    the machine's every core kept busy by other processes.

    Slow-marked: it times real scoring of three cells, and its "quiet" half is only quiet on a
    machine that runs nothing else — in a CI run beside other jobs it measured a load move of
    0.33 against its bound of 0.25. The stand-in test above checks the same property in the
    default run with a controlled workload."""
    from tfnas.search import ProxyScorer

    cells = tk.sample_cells(get_space(None), 3, 11)
    scorers = {d: ProxyScorer("naswot", d) for d in ("cifar10", "ImageNet16-120")}

    def measure() -> tuple[float, float]:
        got = tk.measure_costs(scorers, cells, rounds=1)
        ratio = got["cifar10"][0].mean() / got["ImageNet16-120"][0].mean()
        return float(ratio), float(sum(w.sum() for _, w in got.values()))

    (quiet_ratio, quiet_wall), (busy_ratio, busy_wall) = _quiet_then_busy(measure)
    wall_move = abs(math.log(busy_wall / quiet_wall))
    judged_move = abs(math.log(busy_ratio / quiet_ratio))
    assert wall_move > math.log(1.3), (quiet_wall, busy_wall)
    assert judged_move < 0.25 and judged_move < wall_move / 2, (quiet_ratio, busy_ratio)


# ---------------------------------------------------------------- the trace records CPU time


def test_traces_record_cpu_seconds_and_old_traces_still_read():
    from tfnas.search.registry import get_algorithm
    from tfnas.search.trace import Trace

    t = get_algorithm("random").run(seed=1, scorer=Busy(1000), n=5)
    assert t.cpu_seconds is not None and t.cpu_seconds >= 0
    assert Trace.from_json(t.to_json()).cpu_seconds == t.cpu_seconds
    data = t.to_dict()
    del data["cpu_seconds"]  # a trace written before CPU time was recorded
    old = Trace.from_dict(data)
    assert old.cpu_seconds is None and "cpu_seconds" not in old.to_dict()


# ---------------------------------------------------------------- the pytest option


@pytest.mark.integration
def test_the_live_protocol_option_reaches_the_context(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["harness.plugin"]\n')
    (tmp_path / "test_ctx.py").write_text(
        "import os\n\ndef test_ctx(claims_context):\n"
        "    assert claims_context.live_protocol == os.environ['WANT']\n")
    env = {**os.environ, "PYTHONPATH": str(root)}

    def run(want: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                               "test_ctx.py", *args], cwd=tmp_path, env={**env, "WANT": want},
                              capture_output=True, text=True, timeout=300)

    assert run("reduced").returncode == 0
    full = run("full", "--live-protocol", "full")
    assert full.returncode == 0, full.stdout[-2000:]
    bad = run("x", "--live-protocol", "fast")
    assert bad.returncode == 4 and "--live-protocol" in bad.stderr and "full" in bad.stderr
