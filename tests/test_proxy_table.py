"""The proxy table (harness/proxy_table.py) and ``python -m harness proxies``.

Tables are written into tmp folders with ``tfnas.tables.write_table``; the accuracy is a
synthetic column passed in, so the numbers are checked against scipy directly (the module
itself computes them with the correlation claims' code, never its own Spearman).
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as sps
from hypothesis import given
from hypothesis import strategies as st

from harness.proxy_table import (
    BEGIN,
    DASH,
    END,
    ProxyTableError,
    correlation_text,
    docs_block,
    inline,
    proxy_table,
    readme_block,
    render_table,
    replace_block,
    rewrite,
    sample_cells,
)
from tfnas.proxies.registry import Needs, Proxy
from tfnas.space import SPACE_SIZE, all_cells
from tfnas.tables import read_table, table_path, write_table

ROOT = Path(__file__).resolve().parents[1]
CELLS = all_cells()
ACC = np.random.default_rng(7).uniform(10.0, 95.0, SPACE_SIZE)
"""A synthetic 200-epoch accuracy column (every dataset gets the same one)."""


def _accuracy(dataset: str) -> np.ndarray:
    return ACC


def _proxy(name: str, help: str = "a test proxy", members: tuple[str, ...] = (),
           function=None, reference: str = "Someone 2021; repo/file.py") -> Proxy:
    return Proxy(name, function or (lambda network: 0.0), Needs(), help=help, origin="tests",
                 reference=reference, variant="our variant", members=members)


def _scores(seed: int, noise: float = 1.0) -> np.ndarray:
    """Scores correlated with ACC (higher noise: weaker)."""
    return ACC + noise * np.random.default_rng(seed).normal(0.0, 20.0, SPACE_SIZE)


def _write(root: Path, proxy: str, dataset: str, values: np.ndarray, indices=None,
           **provenance: object) -> Path:
    picked = range(SPACE_SIZE) if indices is None else indices
    scores = {CELLS[int(i)]: float(values[int(i)]) for i in picked}
    return write_table(table_path(proxy, dataset, root), proxy, dataset, scores, provenance)


def _permutation(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(SPACE_SIZE)


# ---------------------------------------------------------------- the numbers


def test_a_complete_table_gives_the_whole_space_spearman_with_minus_inf_ranked_last(tmp_path):
    values = _scores(1)
    values[:40] = -np.inf  # ranked last, tied with each other
    _write(tmp_path, "alpha", "cifar10", values, seconds_per_cell="0.0123")
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",),
                    registered=[_proxy("alpha")])
    c = t.row("alpha").correlations["cifar10"]
    expected = sps.spearmanr(values, ACC).statistic  # scipy ranks -inf lowest, ties averaged
    assert c.rho == pytest.approx(expected, abs=1e-12)
    assert (c.n, c.complete, c.interval, c.ranked_last) == (SPACE_SIZE, True, None, 40)
    assert t.row("alpha").seconds["cifar10"] == pytest.approx(0.0123)
    tau = sps.kendalltau(values, ACC).statistic  # tau-b over the same cells
    assert c.tau == pytest.approx(tau, abs=1e-12)
    assert c.vs_layers is None  # no layers table under tmp_path
    assert correlation_text(c) == f"{expected:.3f} ({abs(expected):.3f}); τ {tau:.3f}"


def test_each_proxy_is_set_against_the_layer_count_over_the_same_cells(tmp_path):
    """ρ − ρ(ℵ) exact when both tables are complete; over a proxy's sample, the difference on
    its cells with an interval that holds it."""
    alpha, layers = _scores(3), np.round(_scores(4) * 3)  # a coarse count: many ties
    _write(tmp_path, "alpha", "cifar10", alpha)
    _write(tmp_path, "layers", "cifar10", layers)
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",),
                    registered=[_proxy("alpha"), _proxy("layers")])
    v = t.row("alpha").correlations["cifar10"].vs_layers
    exact = sps.spearmanr(alpha, ACC).statistic - sps.spearmanr(layers, ACC).statistic
    assert v.value == pytest.approx(exact, abs=1e-12) and v.interval is None
    assert t.row("layers").correlations["cifar10"].vs_layers is None
    assert "; vs ℵ " in correlation_text(t.row("alpha").correlations["cifar10"])


def test_a_negative_correlation_shows_rho_and_its_absolute_value(tmp_path):
    _write(tmp_path, "neg", "cifar10", -_scores(2))
    c = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",),
                    registered=[_proxy("neg")]).row("neg").correlations["cifar10"]
    assert c.rho < 0 and c.abs_rho == -c.rho
    assert correlation_text(c).startswith(f"{c.rho:.3f} ({-c.rho:.3f})")


@pytest.mark.parametrize("undefined", [0, 1, 500])
def test_a_table_of_one_finite_value_reports_no_rho_and_says_why(tmp_path, undefined):
    """One finite value (the rest -inf) ranks only the undefined cells: no ρ is reported, and the
    rendered cell and the reason say so; two finite values are a proxy again."""
    values = np.zeros(SPACE_SIZE)
    values[:undefined] = -np.inf
    _write(tmp_path, "flat", "cifar10", values)
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",), registered=[_proxy("flat")])
    assert t.row("flat").correlations["cifar10"] is None
    why = t.row("flat").why["cifar10"]
    assert why.startswith("degenerate: every finite score is 0.0")
    assert f"{SPACE_SIZE - undefined} of {SPACE_SIZE} cells" in why
    assert "| — (degenerate) |" in render_table(t)
    values[-1] = 1.0
    _write(tmp_path, "flat", "cifar10", values)
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",), registered=[_proxy("flat")])
    assert t.row("flat").correlations["cifar10"] is not None


def test_a_missing_table_shows_a_dash_and_says_why(tmp_path):
    _write(tmp_path, "alpha", "cifar10", _scores(1))
    t = proxy_table(tmp_path, accuracy=_accuracy, registered=[_proxy("alpha"), _proxy("beta")])
    assert t.row("alpha").correlations["cifar100"] is None
    assert t.row("beta").why == {d: "no score table" for d in t.datasets}
    row = next(line for line in render_table(t).splitlines() if line.startswith("| `beta`"))
    assert row.count(DASH) == 3 + 3 + 0  # three speeds, three correlations
    assert row.endswith(f"| {DASH} | {DASH} | {DASH} |")


def test_an_incomplete_permutation_table_is_its_prefix_sample_with_n_and_an_interval(tmp_path):
    order = _permutation(3)
    prefix = order[:600]
    extra = order[700:705]  # held, but after a gap: not part of the uniform sample
    values = _scores(4)
    path = _write(tmp_path, "gamma", "cifar100", values, [*prefix, *extra],
                  order="permutation:3")
    table = read_table(path)
    assert sorted(c.index for c in sample_cells(table)) == sorted(int(i) for i in prefix)
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar100",),
                    registered=[_proxy("gamma")])
    c = t.row("gamma").correlations["cifar100"]
    index = np.sort(prefix)
    assert c.n == 600 and not c.complete
    assert c.rho == pytest.approx(sps.spearmanr(values[index], ACC[index]).statistic, abs=1e-12)
    lo, hi = c.interval
    assert -1 <= lo < c.rho < hi <= 1
    assert "n=600" in render_table(t)
    assert f"[{lo:.3f}, {hi:.3f}] n=600" in correlation_text(c)


def test_the_interval_narrows_as_the_sample_grows(tmp_path):
    order, values = _permutation(5), _scores(6, noise=2.0)
    widths = []
    for n in (200, 2000):
        root = tmp_path / str(n)
        _write(root, "delta", "cifar10", values, order[:n], order="permutation:5")
        c = proxy_table(root, accuracy=_accuracy, datasets=("cifar10",),
                        registered=[_proxy("delta")]).row("delta").correlations["cifar10"]
        widths.append(c.interval[1] - c.interval[0])
    assert widths[1] < widths[0] / 2


def test_an_incomplete_table_without_a_random_order_is_not_a_sample(tmp_path):
    _write(tmp_path, "eps", "cifar10", _scores(1), range(500))  # the first 500 by index
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",),
                    registered=[_proxy("eps")])
    assert t.row("eps").correlations["cifar10"] is None
    assert "not a sample" in t.row("eps").why["cifar10"]


def test_speed_is_dash_when_the_provenance_does_not_record_it(tmp_path):
    _write(tmp_path, "alpha", "cifar10", _scores(1), seconds_per_cell="not a number")
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",),
                    registered=[_proxy("alpha")])
    assert t.row("alpha").seconds["cifar10"] is None
    assert f"| {DASH} |" in render_table(t)


def _rank_sum(scores):
    """A stand-in ensemble: the sum of the members' ranks."""
    return sum(sps.rankdata(v) for v in scores.values())


def test_an_ensemble_is_scored_by_its_function_over_the_members_common_sample(tmp_path):
    order = _permutation(8)
    a, b = _scores(9), _scores(10)
    _write(tmp_path, "ma", "cifar10", a, seconds_per_cell="0.5")
    _write(tmp_path, "mb", "cifar10", b, order[:900], order="permutation:8",
           seconds_per_cell="0.25")
    ens = _proxy("ens", members=("ma", "mb"), function=_rank_sum)
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",),
                    registered=[_proxy("ma"), _proxy("mb"), ens])
    c = t.row("ens").correlations["cifar10"]
    common = np.sort(order[:900])
    expected = sps.spearmanr(_rank_sum({"ma": a[common], "mb": b[common]}), ACC[common]).statistic
    assert c.n == 900 and not c.complete
    assert c.rho == pytest.approx(expected, abs=1e-12)
    assert t.row("ens").seconds["cifar10"] == pytest.approx(0.75)
    assert "(ensemble of ma, mb)" in render_table(t)


def test_an_ensemble_with_a_member_table_missing_is_a_dash(tmp_path):
    _write(tmp_path, "ma", "cifar10", _scores(9))
    ens = _proxy("ens", members=("ma", "mb"), function=_rank_sum)
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",), registered=[ens])
    assert t.row("ens").correlations["cifar10"] is None
    assert "mb" in t.row("ens").why["cifar10"]


def test_vote_shows_the_pairwise_agreement_of_tfnas_proxies_vote(tmp_path, monkeypatch):
    seen = {}

    def pairwise_agreement(member_scores, accuracy):
        seen["members"], seen["n"] = sorted(member_scores), len(accuracy)
        return 0.625

    monkeypatch.setitem(sys.modules, "tfnas.proxies.vote",
                        types.SimpleNamespace(pairwise_agreement=pairwise_agreement))
    for name, seed in (("ma", 1), ("mb", 2), ("mc", 3)):
        _write(tmp_path, name, "cifar10", _scores(seed))
    vote = _proxy("vote", members=("ma", "mb", "mc"), function=_rank_sum)
    c = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",),
                    registered=[vote]).row("vote").correlations["cifar10"]
    assert c.agreement == 0.625 and seen == {"members": ["ma", "mb", "mc"], "n": SPACE_SIZE}
    assert correlation_text(c).endswith("; agreement 0.625")


def test_every_registered_proxy_gets_a_row_by_default(tmp_path):
    from tfnas.proxies import proxy_names

    t = proxy_table(tmp_path, accuracy=_accuracy)
    assert [r.name for r in t.rows] == list(proxy_names())
    assert all(c is None for r in t.rows for c in r.correlations.values())


def test_a_missing_tables_folder_is_one_line(tmp_path):
    with pytest.raises(ProxyTableError, match="no folder of score tables"):
        proxy_table(tmp_path / "absent", accuracy=_accuracy)


# ---------------------------------------------------------------- rendering


@given(st.text(max_size=80), st.text(max_size=40))
def test_any_registry_text_renders_as_one_inert_table_row(help, reference):
    from harness.proxy_table import ProxyRow, ProxyTable

    row = ProxyRow("p", help, reference, "", (), {"cifar10": None}, {"cifar10": None})
    lines = render_table(ProxyTable((row,), ("cifar10",))).splitlines()
    assert len(lines) == 3
    body = lines[2]
    unescaped = sum(1 for i, ch in enumerate(body) if ch == "|" and not _escaped(body, i))
    assert unescaped == 6  # | proxy | definition | reference | s/cell | rho |
    assert "<" not in body and ">" not in body


def _escaped(text: str, i: int) -> bool:
    """True when the character at ``i`` follows an odd run of backslashes (or is in a code
    span, which :func:`inline` only opens around text without ``|``)."""
    run = 0
    while i - run - 1 >= 0 and text[i - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def test_rst_code_becomes_a_code_span_and_markup_is_escaped():
    assert inline("``-inf`` when ``K`` is singular") == "`-inf` when `K` is singular"
    assert inline("*bold* [link](x) <b> a|b") == "\\*bold\\* \\[link\\](x) &lt;b&gt; a\\|b"
    assert inline("line\nbreak") == "line break"


def test_docs_have_one_section_per_proxy_with_reference_and_variant(tmp_path):
    _write(tmp_path, "alpha", "cifar10", _scores(1))
    registered = [_proxy("alpha"), _proxy("beta", members=("alpha",), function=_rank_sum)]
    t = proxy_table(tmp_path, accuracy=_accuracy, registered=registered)
    text = docs_block(t, registered)
    assert text.count("\n## ") + text.startswith("## ") == 2
    assert "- **reference**: Someone 2021; repo/file.py" in text
    assert "- **our variant vs the anchor**: our variant" in text
    assert "- **members**: `alpha`" in text


# ---------------------------------------------------------------- the README block


PAGE = f"# Title\n\nbefore  \n{BEGIN}\nold text\n{END}\nafter\r\nthe end"


def test_the_rewrite_touches_only_the_block_and_is_idempotent(tmp_path):
    once = replace_block(PAGE, "new | block")
    assert once == f"# Title\n\nbefore  \n{BEGIN}\nnew | block\n{END}\nafter\r\nthe end"
    assert replace_block(once, "new | block") == once
    path = tmp_path / "README.md"
    path.write_bytes(PAGE.encode("utf-8"))
    assert rewrite(path, "new | block").stale
    first = path.read_bytes()
    assert not rewrite(path, "new | block").stale
    assert path.read_bytes() == first
    head, tail = PAGE.split(BEGIN)[0], PAGE.split(END)[1]
    assert first.startswith(head.encode()) and first.endswith(tail.encode())


_NO_MARKER = st.text(max_size=60).filter(lambda t: "<!--" not in t)


@given(_NO_MARKER, _NO_MARKER, _NO_MARKER, _NO_MARKER)
def test_any_page_keeps_its_text_outside_the_block_and_a_second_rewrite_changes_nothing(
        head, old, tail, block):
    page = f"{head}{BEGIN}{old}{END}{tail}"
    once = replace_block(page, block)
    assert once == f"{head}{BEGIN}\n{block}\n{END}{tail}"
    assert replace_block(once, block) == once


def test_check_says_stale_without_writing(tmp_path):
    path = tmp_path / "README.md"
    path.write_bytes(PAGE.encode("utf-8"))
    assert rewrite(path, "other", check=True).stale
    assert path.read_bytes() == PAGE.encode("utf-8")


@pytest.mark.parametrize("text", ["no markers", f"{END}\n{BEGIN}", f"{BEGIN}{BEGIN}{END}",
                                  f"{BEGIN} only"])
def test_markers_missing_repeated_or_reversed_are_refused(text):
    with pytest.raises(ProxyTableError, match="exactly one"):
        replace_block(text, "x")


def _harness(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m harness proxies ARGS`` in this process: (exit status, stdout, stderr)."""
    from harness.__main__ import main

    code = main(["proxies", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_check_fails_on_a_stale_block_and_passes_after_the_rewrite(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_bytes(PAGE.encode("utf-8"))
    tables = tmp_path / "scores"
    tables.mkdir()
    code, out, err = _harness(capsys, "--readme", str(readme), "--tables", str(tables), "--check")
    assert code == 1, err
    assert "is stale" in out and readme.read_bytes() == PAGE.encode("utf-8")
    assert _harness(capsys, "--readme", str(readme), "--tables", str(tables))[0] == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore  \n") and "| `naswot` |" in text
    code, out, _ = _harness(capsys, "--readme", str(readme), "--tables", str(tables), "--check")
    assert code == 0 and "up to date" in out


def test_cli_without_a_file_prints_the_table(tmp_path, capsys):
    code, out, _ = _harness(capsys, "--tables", str(tmp_path))
    assert code == 0 and out.startswith("| proxy | definition | reference |")


@pytest.mark.parametrize("args", [["--readme", "{tmp}/README.md", "--tables", "{tmp}"],
                                  ["--check", "--tables", "{tmp}"],
                                  ["--tables", "{tmp}/absent"]])
def test_cli_errors_are_one_line(tmp_path, capsys, args):
    (tmp_path / "README.md").write_text("no markers", encoding="utf-8")
    code, _, err = _harness(capsys, *(a.format(tmp=tmp_path) for a in args))
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ")


@pytest.mark.integration
def test_the_command_runs_as_a_module(tmp_path):
    res = subprocess.run([sys.executable, "-m", "harness", "proxies", "--tables", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "| `naswot` |" in res.stdout


@pytest.mark.slow
def test_the_committed_readme_and_docs_blocks_are_current():
    """What CI's ``--check`` (tox.ini) checks: re-run ``python -m harness proxies --readme
    README.md --docs docs/proxies.md`` after adding a proxy or a table. Slow: it reads every
    committed table, and an ensemble over the whole space compares all pairs of cells."""
    t = proxy_table()
    for path, block in ((ROOT / "README.md", readme_block(t)),
                        (ROOT / "docs" / "proxies.md", docs_block(t))):
        assert not rewrite(path, block, check=True).stale, f"{path.name} is stale"


def test_an_ensemble_that_refuses_its_members_scores_is_a_dash_with_its_reason(tmp_path):
    from tfnas.checks import ArgumentError

    def refuse(scores):
        raise ArgumentError("member scores must be finite")

    _write(tmp_path, "ma", "cifar10", _scores(9))
    ens = _proxy("ens", members=("ma",), function=refuse)
    t = proxy_table(tmp_path, accuracy=_accuracy, datasets=("cifar10",), registered=[ens])
    assert t.row("ens").correlations["cifar10"] is None
    assert t.row("ens").why["cifar10"] == "ens refused its members' scores: member scores must be finite"
