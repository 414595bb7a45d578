"""Scoring in float64: the same computation as float32, rounded less, keyed apart."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tfnas.checks import ArgumentError
from tfnas.proxies.draws import normal_, rademacher_like, randn
from tfnas.scoring import arithmetic, score, score_many, settings_key
from tfnas.space import arch_at

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_precision_is_in_the_key_only_when_not_float32():
    assert settings_key("synflow", "cifar10", 0) == settings_key("synflow", "cifar10", 0, precision="float32")
    key = json.loads(settings_key("synflow", "cifar10", 0, precision="float64"))
    assert key["precision"] == "float64"
    assert "precision" not in json.loads(settings_key("synflow", "cifar10", 0))


@pytest.mark.parametrize("bad", ["float16", "FLOAT64", "", None, 64, "float64 "])
def test_an_unknown_precision_is_one_line(bad):
    with pytest.raises(ArgumentError, match="precision must be one of float32, float64") as info:
        score(arch_at(1), "params", "cifar10", precision=bad)
    assert "\n" not in str(info.value)
    with pytest.raises(ArgumentError):
        score_many(arch_at(1), ["params"], "cifar10", precision=bad)
    with pytest.raises(ArgumentError):
        settings_key("params", "cifar10", 0, precision=bad)


@given(seed=st.integers(0, 2**63 - 1), n=st.integers(1, 40))
def test_draws_are_the_float32_draw_cast(seed, n):
    a = torch.Generator().manual_seed(seed)
    b = torch.Generator().manual_seed(seed)
    wide = randn((n,), a, torch.float64)
    assert wide.dtype == torch.float64
    assert torch.equal(wide, torch.randn((n,), generator=b).double())
    w = torch.empty(n, dtype=torch.float64)
    normal_(w, 0.5, a)
    assert torch.equal(w, torch.empty(n).normal_(0.0, 0.5, generator=b).double())
    signs = rademacher_like(torch.empty(n, dtype=torch.float64), a)
    expected = (torch.bernoulli(torch.full((n,), 0.5), generator=b) - 0.5) * 2
    assert signs.dtype == torch.float64 and torch.equal(signs, expected.double())


def test_arithmetic_restores_the_default_dtype_even_on_error():
    before = torch.get_default_dtype()
    with pytest.raises(RuntimeError), arithmetic("float64"):
        assert torch.get_default_dtype() == torch.float64
        raise RuntimeError("boom")
    assert torch.get_default_dtype() == before


@pytest.mark.parametrize("proxy", ["zen", "az_trainability", "grad_norm", "naswot", "synflow"])
def test_float64_is_float32_rounded_less(proxy):
    """The float64 score is the float32 one's computation: within the float32 rounding of it (a
    few 1e-3 relative on these cells), never another random draw (tens of percent away), and
    the same bits twice."""
    arch = arch_at(0)
    single = score(arch, proxy, "ImageNet16-120")
    double = score(arch, proxy, "ImageNet16-120", precision="float64")
    assert double == score(arch, proxy, "ImageNet16-120", precision="float64")
    assert score_many(arch, [proxy], "ImageNet16-120", precision="float64")[proxy].score == double
    assert math.isclose(single, double, rel_tol=1e-2, abs_tol=1e-3), (single, double)
    assert torch.get_default_dtype() == torch.float32


def test_cli_choices_are_the_precisions():
    from tfnas import cli
    from tfnas.scoring import PRECISIONS

    parser = __import__("argparse").ArgumentParser()
    cli._add_scoring_arguments(parser)
    action = next(a for a in parser._actions if a.dest == "precision")
    assert tuple(action.choices) == tuple(PRECISIONS) and action.default == "float32"


def test_cli_scores_in_float64_and_keeps_it_apart_in_the_store(tmp_path, capsys):
    from tfnas import cli
    from tfnas.search import ProxyScorer
    from tfnas.store import ScoreStore

    arch = str(arch_at(5))
    store = tmp_path / "s.sqlite"
    for precision in ("float64", "float32"):
        assert cli.main(["score", "--proxy", "synflow", "--dataset", "cifar10", "--arch", arch,
                         "--precision", precision, "--store", str(store), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["score"] == score(arch, "synflow", "cifar10", precision="float64")
    assert lines[1]["score"] == score(arch, "synflow", "cifar10")
    with ScoreStore(store) as opened:
        for precision, expected in zip(("float64", "float32"), lines, strict=True):
            scorer = ProxyScorer("synflow", "cifar10", store=opened, precision=precision)
            assert opened.get("synflow", "cifar10", arch_at(5), scorer.settings) == expected["score"]
    assert cli.main(["score", "--proxy", "oracle", "--dataset", "cifar10", "--arch", arch,
                     "--precision", "float64"]) == 2
    assert "--precision sets a live proxy's arithmetic" in capsys.readouterr().err
