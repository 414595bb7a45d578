"""The NATS-Bench size space (sss): encoding, official order (the real API on the fake archive),
the network against xautodl's ``infer.shape.tiny``, its costs against the archive, the proxies,
both searches and the oracle."""

from __future__ import annotations

import itertools
import math
import random
import shutil
from pathlib import Path

import nats_bench
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from xautodl.models import get_cell_based_tiny_net

from tfnas import nats_archive
from tfnas.errors import TfnasError
from tfnas.network import FactorizedReduce, ShapeTinyNetwork, build_network, stages
from tfnas.oracles import NatsBenchOracle, OracleQueryError
from tfnas.proxies.counts import flops, params
from tfnas.proxies.kernel import logdet
from tfnas.proxies.naswot import naswot, naswot_kernel, reference_kernel
from tfnas.proxies.synflow import (
    synflow,
    synflow_layers,
    synflow_layers_reference,
    synflow_reference,
)
from tfnas.search import Trace, random_search, rea, repeat
from tfnas.space import ArchError, ArchIndexError, ArchTypeError
from tfnas.spaces import SIZE, get_space
from tfnas.spaces.size import CANDIDATES, MAX_SIZE_CHARS, SIZE_CELL, SizeArch

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # a shared 2-core machine

SMALLEST, LARGEST = SizeArch((8,) * 5), SizeArch((64,) * 5)
ARCHIVED = (0, 11, 284)  # the configurations whose cell files the fake archive holds
DATASETS = {"cifar10-valid": (10, 32), "cifar10": (10, 32), "cifar100": (100, 32),
            "ImageNet16-120": (120, 16)}
size_archs = st.tuples(*[st.sampled_from(CANDIDATES)] * 5).map(SizeArch)
seeds = st.integers(0, 2**63 - 1)


@pytest.fixture(scope="module")
def sss_archive(data_root: Path) -> Path:
    return data_root / "nats-sss" / "NATS-sss-v1_0-50262-simple"


@pytest.fixture(scope="module")
def api(sss_archive: Path):
    nats_archive.install()
    return nats_bench.create(str(sss_archive), "sss", fast_mode=True, verbose=False)


# -- the space ------------------------------------------------------------------------------

def test_registered_as_sss_beside_the_default_tss() -> None:
    assert get_space("sss") is SIZE and get_space(SIZE) is SIZE
    assert get_space().name == get_space(None).name == "tss"
    assert SIZE.size == 32_768 == len(SIZE.all_cells()) == len(set(SIZE.all_cells()))
    assert SIZE.max_arch_chars == MAX_SIZE_CHARS == len("64:64:64:64:64")


def test_index_order_is_the_archives_meta_archs(api) -> None:
    assert api.meta_archs == [SIZE.format(a) for a in SIZE.all_cells()]
    # and it is itertools.product of the candidates, first layer slowest
    assert [a.channels for a in SIZE.all_cells()] == list(itertools.product(CANDIDATES, repeat=5))
    for index in ARCHIVED:
        assert SIZE.index_of(api.meta_archs[index]) == index == api.query_index_by_arch(
            SIZE.format(SIZE.arch_at(index)))


@example(SMALLEST)
@example(LARGEST)
@given(size_archs)
def test_parse_format_and_index_round_trip(arch: SizeArch) -> None:
    text = SIZE.format(arch)
    assert SIZE.parse(text) == arch and str(arch) == text and len(text) <= SIZE.max_arch_chars
    assert SIZE.arch_at(SIZE.index_of(arch)) == arch
    assert SIZE.index_of(text) == arch.index
    assert SIZE.canonical(arch) == arch


@given(st.integers(0, SIZE.size - 1))
def test_index_of_arch_at(index: int) -> None:
    assert SIZE.index_of(SIZE.arch_at(index)) == index


@example(SMALLEST, 0)
@given(size_archs, seeds)
def test_mutate_changes_exactly_one_layer(arch: SizeArch, seed: int) -> None:
    child = SIZE.mutate(arch, random.Random(seed))
    assert sum(a != b for a, b in zip(arch.channels, child.channels, strict=True)) == 1
    assert child in SIZE.neighbours(arch)


@example(LARGEST)
@given(size_archs)
def test_neighbours_are_the_35_single_changes(arch: SizeArch) -> None:
    near = SIZE.neighbours(arch)
    assert len(near) == len(set(near)) == 5 * 7
    assert all(sum(a != b for a, b in zip(arch.channels, n.channels, strict=True)) == 1 for n in near)


def test_sampling_uses_only_the_given_generator() -> None:
    state = random.getstate()
    a = [SIZE.sample(random.Random(3)) for _ in range(3)]
    assert a == [SIZE.sample(random.Random(3)) for _ in range(3)]
    drawn = SIZE.sample_distinct(random.Random(4), 500)
    assert len(set(drawn)) == 500 and drawn == SIZE.sample_distinct(random.Random(4), 500)
    assert random.getstate() == state
    with pytest.raises(ArchTypeError, match="random.Random"):
        SIZE.sample(random)  # type: ignore[arg-type]
    with pytest.raises(ArchError, match="0..32768"):
        SIZE.sample_distinct(random.Random(0), 32_769)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("8:8:8:8", "5 channel counts"),
        ("8:8:8:8:8:8", "5 channel counts"),
        ("8:8:8:8:12", "unknown channel count 12"),
        ("08:8:8:8:8", "canonical spelling '8:8:8:8:8'"),
        ("8:8:8:8:8 ", "5 channel counts"),
        ("8:8:8:8:\u0668", "5 channel counts"),  # an Arabic-Indic digit
        ("8" * 10_000, "10,000 characters"),
        ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "at most 14"),
    ],
)
def test_bad_configs_are_one_line_errors(text: str, words: str) -> None:
    with pytest.raises(ArchError) as info:
        SIZE.parse(text)
    message = str(info.value)
    assert words in message and "\n" not in message and len(message) <= 300, message


def test_bad_values_are_refused() -> None:
    with pytest.raises(ArchTypeError):
        SIZE.parse(8)  # type: ignore[arg-type]
    with pytest.raises(ArchTypeError, match="SizeArch or its string"):
        SIZE.as_arch(SIZE_CELL)
    with pytest.raises(ArchError, match="unknown channel count True"):
        SizeArch((True, 8, 8, 8, 8))
    with pytest.raises(ArchIndexError, match="0..32767"):
        SIZE.arch_at(32_768)
    with pytest.raises(ArchTypeError):
        SIZE.arch_at(1.0)  # type: ignore[arg-type]


# -- the network ----------------------------------------------------------------------------

NETWORK_CASES = [SMALLEST, LARGEST, SizeArch((64, 8, 56, 16, 24)), SizeArch((8, 64, 8, 64, 8))]


def xautodl_size_network(arch: SizeArch, num_classes: int) -> torch.nn.Module:
    config = {"name": "infer.shape.tiny", "channels": str(arch), "genotype": str(SIZE_CELL),
              "num_classes": num_classes}
    with torch.random.fork_rng(devices=[]):  # xautodl's constructors draw from the global RNG
        return get_cell_based_tiny_net(config)


def test_fixed_cell_is_the_archives_genotype(api) -> None:
    for index in ARCHIVED:
        config = api.get_net_config(index, "cifar10")
        assert config["name"] == "infer.shape.tiny"
        assert config["genotype"] == str(SIZE_CELL) and config["channels"] == api.meta_archs[index]


@pytest.mark.parametrize("arch", NETWORK_CASES, ids=str)
def test_same_state_dict_as_xautodl(arch: SizeArch) -> None:
    ours = build_network(arch, 100, space=SIZE)
    theirs = xautodl_size_network(arch, 100)
    assert isinstance(ours, ShapeTinyNetwork) and ours.arch == arch
    assert params(ours) == params(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # a skip edge whose channel count changes is the 1x1 factorized op, as in xautodl
    # (cells: C1 -> C1, C2 -> C3, C4 -> C5; each has one skip edge from its input)
    c = arch.channels
    factorized = [m for m in ours.modules() if isinstance(m, FactorizedReduce)]
    assert len(factorized) == (c[1] != c[2]) + (c[3] != c[4])
    kinds = [e.kind for s in stages(ours) if s.is_cell for e in s.edges]
    assert kinds.count("factorized") == len(factorized) and "zero" not in kinds


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("arch", NETWORK_CASES, ids=str)
def test_same_outputs_for_the_same_weights_both_directions(arch: SizeArch, train: bool) -> None:
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    for forward in (True, False):
        ours = build_network(arch, 10, torch.Generator().manual_seed(1 + forward), space=SIZE)
        theirs = xautodl_size_network(arch, 10)
        src, dst = (ours, theirs) if forward else (theirs, ours)
        dst.load_state_dict(src.state_dict())
        src.train(train)
        dst.train(train)
        with torch.no_grad():
            (f1, l1), (f2, l2) = src(x), dst(x)
        assert torch.equal(f1, f2) and torch.equal(l1, l2)
        for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items(), strict=True):
            assert torch.equal(a, b), k  # train mode: the same running statistics


@pytest.mark.parametrize("index", ARCHIVED)
def test_params_and_flops_equal_the_archives_cost_info(api, index: int) -> None:
    arch = SIZE.arch_at(index)
    for dataset, (num_classes, resolution) in DATASETS.items():
        cost = api.get_cost_info(index, dataset)
        net = build_network(arch, num_classes, space=SIZE)
        assert params(net) / 1e6 == pytest.approx(cost["params"], abs=5e-7), dataset
        assert flops(net, resolution) / 1e6 == pytest.approx(cost["flops"], abs=5e-7), dataset


def test_build_network_dispatches_on_the_arch_type() -> None:
    a = build_network(SMALLEST, 10, torch.Generator().manual_seed(2))
    b = build_network("8:8:8:8:8", 10, torch.Generator().manual_seed(2), space=SIZE)
    assert isinstance(a, ShapeTinyNetwork)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


# -- proxies --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(data_root: Path) -> torch.Tensor:
    from tfnas.datasets import load_batch

    return load_batch("cifar10", seed=0, batch_size=32).images


@pytest.mark.parametrize("arch", [SMALLEST, LARGEST, SizeArch((16, 48, 8, 40, 64))], ids=str)
def test_naswot_fast_path_equals_the_reference(arch: SizeArch, images: torch.Tensor) -> None:
    batch = images[:16]
    net = build_network(arch, 10, torch.Generator().manual_seed(3), space=SIZE)
    k_ref = reference_kernel(net, batch)
    # the walk with the modules' own NCHW ops gives the hooks' kernel bit for bit, so the same score
    np.testing.assert_array_equal(naswot_kernel(net, batch, channels_last=False), k_ref)
    ref = logdet(k_ref)
    assert math.isfinite(ref) and naswot(net, batch, channels_last=False) == ref
    assert abs(naswot(net, batch) - ref) <= 1e-3  # channels_last: rounding near 0 only
    # and on xautodl's network with the same weights
    theirs = xautodl_size_network(arch, 10)
    theirs.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(naswot_kernel(theirs, batch, channels_last=False), k_ref)


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook:FutureWarning")
def test_backward_pass_visits_every_relu_the_forward_runs(images: torch.Tensor) -> None:
    """The official code counts ReLUs whose backward hook fired: those the forward runs, i.e.
    all but the idle ``relu`` of each 1x1 factorized skip edge."""
    net = build_network(SizeArch((8, 16, 24, 32, 40)), 10, space=SIZE)
    relus = [m for m in net.modules() if "ReLU" in str(type(m))]
    forward, backward = set(), set()
    handles = [m.register_forward_hook(lambda mod, i, o: forward.add(id(mod))) for m in relus]
    handles += [m.register_backward_hook(lambda mod, gi, go: backward.add(id(mod))) for m in relus]
    try:
        features, _ = net(images[:4].clone().requires_grad_(True))
        features.backward(torch.ones_like(features))
    finally:
        for h in handles:
            h.remove()
    idle = {id(m.relu) for m in net.modules() if isinstance(m, FactorizedReduce)}
    assert len(idle) == 2 and backward == forward == {id(m) for m in relus} - idle


@pytest.mark.parametrize("arch", [SMALLEST, LARGEST, SizeArch((64, 8, 56, 16, 24))], ids=str)
def test_synflow_fast_path_equals_the_literal_recipe(arch: SizeArch) -> None:
    net = build_network(arch, 100, torch.Generator().manual_seed(4), space=SIZE)
    fast, ref = synflow_layers(net, 32), synflow_layers_reference(net, 32)
    assert fast.keys() == ref.keys()
    for name in fast:
        assert fast[name] == pytest.approx(ref[name], rel=1e-9, abs=1e-300), name
    assert math.isfinite(synflow(net, 32))
    assert synflow(net, 32) == pytest.approx(synflow_reference(net, 32), rel=1e-12)


# -- searches -------------------------------------------------------------------------------


class SumScorer:
    """A table-free scorer: the total channel count (the largest configuration wins)."""

    name = "channels"
    memoised = False

    def __call__(self, arch: SizeArch) -> float:
        return float(sum(arch.channels))


def test_random_search_runs_on_the_size_space() -> None:
    trace = random_search(SumScorer(), 50, 5, space="sss")
    assert trace.space == "sss" and isinstance(trace.best, SizeArch)
    assert trace.best_score == max(e.score for e in trace.evaluations)
    assert [e.arch for e in trace.evaluations] == [
        str(a) for a in SIZE.sample_distinct(random.Random(5), 50)]
    again = Trace.from_json(trace.to_json())
    assert again.best == trace.best and again.space == "sss"
    with pytest.raises(TfnasError, match="32,768"):
        random_search(SumScorer(), 32_769, 0, space=SIZE)


def test_rea_runs_on_the_size_space_and_climbs() -> None:
    trace = rea(SumScorer(), 10, 3, 300, 1, space=SIZE)
    assert trace.space == "sss" and len(trace.evaluations) == 300
    assert trace.best == SIZE.parse(max(trace.evaluations, key=lambda e: e.score).arch)
    assert trace.best_score >= 5 * 48  # the additive score is easy to climb
    traces = repeat(rea, 2, 0, scorer=SumScorer(), population=10, sample=3, cycles=40, space="sss")
    assert all(t.space == "sss" for t in traces)


def test_table_scores_search_on_the_size_space() -> None:
    rng = random.Random(0)
    table = {a: rng.random() for a in SIZE.all_cells()}
    scorer = type("T", (), {"name": "table", "memoised": False, "__call__": lambda self, a: table[a]})()
    trace = random_search(scorer, 200, 0, space="sss")
    assert trace.best_score == max(table[SIZE.parse(e.arch)] for e in trace.evaluations)


# -- the oracle -----------------------------------------------------------------------------


def test_oracle_answers_for_the_size_space(sss_archive: Path, api) -> None:
    oracle = NatsBenchOracle(sss_archive)  # the space is read from the archive
    assert oracle.space is SIZE and oracle.full_epochs == 90
    for index in ARCHIVED:
        arch = SIZE.arch_at(index)
        for dataset in ("cifar10-valid", "cifar100", "ImageNet16-120"):
            for hp in ("12", "90"):
                info = api.get_more_info(index, dataset, hp=hp, is_random=False)
                assert oracle.accuracy(arch, dataset, int(hp), "valid") == info["valid-accuracy"]
                assert oracle.accuracy(str(arch), dataset, int(hp), "test") == info["test-accuracy"]
        info = api.get_more_info(index, "cifar10-valid", hp="12", is_random=False)
        assert oracle.train_time(index, "cifar10") == info["train-all-time"] + info["valid-per-time"]
        acc = oracle.accuracies(arch, "cifar10")
        assert acc.test200 == api.get_more_info(index, "cifar10", hp="90", is_random=False)[
            "test-accuracy"]
    with pytest.raises(OracleQueryError, match="1 or 12 or 90 epochs, not 200"):
        oracle.accuracy(0, "cifar100", 200, "test")
    with pytest.raises(OracleQueryError, match="cell 5 is not in this archive"):
        oracle.accuracy(5, "cifar100", 12, "valid")
    with pytest.raises(ArchError, match="size-space config"):
        oracle.accuracy(str(SIZE_CELL), "cifar100", 12, "valid")


def test_oracle_space_from_the_meta_or_the_argument(sss_archive: Path, tmp_path: Path) -> None:
    plain = tmp_path / "archive"  # a folder name that names no space: the meta's size decides
    shutil.copytree(sss_archive, plain)
    assert NatsBenchOracle(plain).space is SIZE
    assert NatsBenchOracle(plain, space="sss").space is SIZE
    from tfnas.nats_archive import ArchiveError

    with pytest.raises(ArchiveError, match="does not list the 15625 cells"):
        NatsBenchOracle(plain, space="tss")  # the wrong space is refused, not misread
    from tfnas.spaces import UnknownSpaceError

    with pytest.raises(UnknownSpaceError, match="unknown search space 'nb101'"):
        NatsBenchOracle(plain, space="nb101")


def test_oracle_fitness_drives_rea_on_the_size_space(sss_archive: Path) -> None:
    from tfnas.search import OracleScorer

    oracle = NatsBenchOracle(sss_archive)
    scorer = OracleScorer(oracle, "cifar100")
    assert scorer(SIZE.arch_at(284)) == oracle.accuracy(284, "cifar100", 12, "valid")


@settings(max_examples=3)
@given(size_archs)
def test_every_config_builds_a_network_with_the_right_output(arch: SizeArch) -> None:
    features, logits = build_network(arch, 7, space=SIZE)(torch.zeros(2, 3, 8, 8))
    assert features.shape == (2, arch.channels[-1]) and logits.shape == (2, 7)


# ------------------------------------------- the scoring rule, scorers and the CLI on the size space


def test_score_takes_the_space_from_the_arch_or_from_space_and_scores_the_size_network():
    import tfnas
    from tfnas.scoring import cell_seed

    arch = SizeArch.parse("8:16:24:32:40")
    by_object = tfnas.score(arch, "synflow", "cifar10")
    assert math.isfinite(by_object)
    assert tfnas.score("8:16:24:32:40", "synflow", "cifar10", space="sss") == by_object
    # the same rule as the topology space: the network is the space's, seeded from (seed, arch)
    generator = torch.Generator().manual_seed(cell_seed(arch, 0))
    net = build_network(arch, 10, generator, space=SIZE)
    assert by_object == synflow(net, 32)
    assert math.isfinite(tfnas.score(arch, "naswot", "cifar100", batch_size=16))
    with pytest.raises(ArchError):  # a size string is no topology cell
        tfnas.score("8:16:24:32:40", "synflow", "cifar10")


def test_proxy_scorer_searches_the_size_space_and_refuses_a_topology_store(tmp_path):
    from tfnas.search import ProxyScorer
    from tfnas.store import ScoreStore

    scorer = ProxyScorer("params", "cifar10", space="sss")
    trace = random_search(scorer, n=3, seed=1, space="sss")
    assert {e.arch.count(":") for e in trace.evaluations} == {4}
    assert trace.best_score == max(e.score for e in trace.evaluations)
    assert scorer.describe()["space"] == "sss"
    with pytest.raises(TfnasError, match="is open for the tss space; to score the sss space"):
        ProxyScorer("params", "cifar10", space="sss", store=ScoreStore(tmp_path / "s.db"))


def test_cli_scores_and_searches_the_size_space(capsys):
    import json

    from tfnas import cli

    assert cli.main(["score", "--space", "sss", "--proxy", "flops", "--dataset", "cifar10",
                     "--arch", "64:64:64:64:64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["arch"] == "64:64:64:64:64" and out["score"] == flops(
        build_network(SizeArch.parse("64:64:64:64:64"), 10, space=SIZE), 32)
    assert cli.main(["search", "rea", "--space", "sss", "--proxy", "params", "--dataset",
                     "cifar10", "--population", "4", "--sample", "2", "--cycles", "8",
                     "--json", "-"]) == 0
    (trace,) = json.loads(capsys.readouterr().out)["traces"]
    assert len(trace["evaluations"]) == 8 and SizeArch.parse(trace["best"])
    assert cli.main(["search", "random", "--space", "sss", "--proxy", "oracle", "--dataset",
                     "cifar10", "--n", "2"]) == 2
    assert "reads topology-space accuracy tables" in capsys.readouterr().err
    assert cli.main(["score", "--space", "sss", "--proxy", "params", "--dataset", "cifar10",
                     "--arch", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]) == 1
    assert "malformed" in capsys.readouterr().err
