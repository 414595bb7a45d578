"""What a newcomer types: tfnas proxies, --version, several proxies in one call, labelled oracle
output, and one-line refusals. In-process through tfnas.cli.main."""

from __future__ import annotations

import json

import pytest

from tfnas.cli import main
from tfnas.proxies import proxy_names
from tfnas.scoring import score

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_proxies_lists_every_registered_proxy(capsys):
    status, out, _ = _run(capsys, "proxies", "--json")
    assert status == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["proxy"] for r in rows] == list(proxy_names())
    by_name = {r["proxy"]: r for r in rows}
    assert by_name["synflow"]["cells"] == 15625 and -1 <= by_name["synflow"]["rho"] <= 1
    assert by_name["vote"]["needs"].startswith("ensemble")
    status, out, _ = _run(capsys, "proxies")
    assert status == 0 and all(name in out for name in proxy_names())


def test_version_names_tfnas_and_torch(capsys):
    from tfnas import __version__

    status = main(["--version"])
    out = capsys.readouterr().out
    assert status == 0 and out.startswith(f"tfnas {__version__} (torch ") and "Python" in out


@pytest.mark.integration
def test_several_proxies_share_one_call_and_equal_single_scores(capsys, tmp_path):
    names = ["synflow", "snip", "grad_norm", "params"]
    status, out, err = _run(capsys, "score", "--proxy", ",".join(names), "--dataset", "cifar10",
                            "--arch", ARCH, "--json", "--store", str(tmp_path / "s.sqlite"))
    assert status == 0, err
    scores = json.loads(out)["scores"]
    assert list(scores) == names
    for name in names:
        assert scores[name] == score(ARCH, name, "cifar10")  # bit for bit
    status, out, _ = _run(capsys, "score", "--proxy", ",".join(names), "--dataset", "cifar10",
                          "--arch", ARCH, "--json", "--store", str(tmp_path / "s.sqlite"))
    again = json.loads(out)
    assert again["scores"] == scores and set(again["seconds"].values()) == {0.0}  # from the store


def test_the_oracle_says_which_accuracy_it_prints(capsys):
    status, out, _ = _run(capsys, "score", "--proxy", "oracle", "--dataset", "cifar10",
                          "--arch", ARCH)
    assert status == 0 and "12 epochs" in out and "validation" in out and "%" in out


@pytest.mark.parametrize("argv, words", [
    (["score", "--proxy", "vote", "--dataset", "cifar10", "--arch", ARCH], "at least 2 --arch"),
    (["score", "--proxy", "synflow,oracle", "--dataset", "cifar10", "--arch", ARCH], "on its own"),
    (["score", "--proxy", "synflow,,snip", "--dataset", "cifar10", "--arch", ARCH], "comma-separated"),
    (["score", "--proxy", "synflow,nope", "--dataset", "cifar10", "--arch", ARCH], "unknown proxy"),
    (["score", "--proxy", "synflow", "--device", "cuda", "--dataset", "cifar10", "--arch", ARCH],
     "cuda"),
    (["score", "--proxy", "synflow", "--device", "meta", "--dataset", "cifar10", "--arch", ARCH],
     "meta"),
    (["score", "--proxy", "oracle", "--device", "cuda", "--dataset", "cifar10", "--arch", ARCH],
     "--device"),
    (["search", "random", "--proxy", "synflow", "--dataset", "cifar10", "--store", "x.sqlite",
      "--no-store"], "exclude each other"),
    (["search", "random", "--proxy", "synflow", "--dataset", "cifar10", "--trace", "-"],
     "--trace"),
    (["search", "random", "--proxy", "synflow", "--dataset", "cifar10", "--trace", "/no/such/t"],
     "--trace"),
])
def test_refusals_are_one_line(capsys, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    status, out, err = _run(capsys, *argv)
    assert status in (1, 2) and out == ""
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "x.sqlite").exists()


def test_help_texts_say_each_default_once(capsys):
    with pytest.raises(SystemExit):
        from tfnas.cli import build_parser

        build_parser().parse_args(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.count("(default 1000, or unlimited with --time-budget)") == 1
    assert "(default 1000, or unlimited with --time-budget) (default 1000)" not in text


@pytest.mark.integration
def test_an_ensemble_on_a_population_reads_its_members_back_from_the_store(capsys, tmp_path):
    other = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    argv = ["score", "--proxy", "vote", "--dataset", "cifar10", "--arch", ARCH, "--arch", other,
            "--json", "--store", str(tmp_path / "s.sqlite")]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    first = json.loads(out)["cells"]
    status, out, _ = _run(capsys, *argv)
    assert json.loads(out)["cells"] == first
    for cell in first:  # each member stored under its own key: the same bits as score()
        for member, value in cell["members"].items():
            assert value == score(cell["arch"], member, "cifar10")


@pytest.mark.parametrize("command", ["score", "search", "sweep", "proxies"])
def test_every_option_has_a_help_text(command):
    """Each option of each subcommand says what it does (argparse leaves it blank otherwise)."""
    from tfnas.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001
    for action in sub.choices[command]._actions:  # noqa: SLF001
        if action.option_strings and action.dest != "help":
            assert action.help, f"tfnas {command} {action.option_strings[0]} has no help"


@pytest.mark.integration
def test_a_rerun_ensemble_search_says_how_many_member_scores_it_read(capsys, tmp_path):
    argv = ["search", "rea", "--proxy", "vote", "--dataset", "cifar10", "--cycles", "4",
            "--population", "3", "--sample", "2", "--store", str(tmp_path / "s.sqlite"), "--quiet"]
    assert _run(capsys, *argv)[0] == 0
    status, out, err = _run(capsys, *argv)
    assert status == 0
    hits = int(err.split(" member scores read from the store")[0].split()[-1])
    # vote has 3 members; a run of 4 evaluations sees 1 to 4 distinct cells, every one stored
    assert hits % 3 == 0 and 3 <= hits <= 3 * 4 and out and err.rstrip().endswith("0 scored live")
