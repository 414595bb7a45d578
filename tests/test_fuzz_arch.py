"""Fuzz (hypothesis) of the arch-string reader and the ``tfnas search|score`` command line.

The one contract (issue 12): a valid value, or a :class:`~tfnas.errors.TfnasError` whose message
is one line of at most 500 characters: never another exception, never a crash, and for the arch
reader never more than ``MEMORY_FACTOR`` x the input plus ``MEMORY_CONSTANT`` bytes of Python
memory. The CLI runs in-process (``tfnas.cli.main``) with the accuracy oracle, so nothing is
scored live; its exit status is 0, 1 or 2, and an error is one line on stderr.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import archs

from tfnas import cli
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import TfnasError
from tfnas.space import OPS, Arch, all_cells

MAX_MESSAGE = 500
MEMORY_FACTOR = 4
MEMORY_CONSTANT = 64 * 1024
"""Parsing may copy its input a few times (split, repr for the message) and build one Arch."""

# characters that matter to the grammar, and look-alikes of them
TRICKY = "|+~_0123456789 \t\n\r\x00-٠١１２⁰°.:;'\"\\" + "".join(OPS) + "ｎｏｎｅ\u200b\ufeff"


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply (kind, position, chars) edits: 0 insert, 1 delete, 2 replace, 3 duplicate a span."""
    for kind, position, chars in edits:
        i = position % (len(text) + 1)
        if kind == 0:
            text = text[:i] + chars + text[i:]
        elif kind == 1:
            text = text[:i] + text[i + 1:]
        elif kind == 2:
            text = text[:i] + chars + text[i + 1:]
        else:
            text = text[:i] + text[i:i + 12] * 3 + text[i:]
    return text


edits = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200),
                           st.text(alphabet=TRICKY, min_size=1, max_size=3)), max_size=4)
mutated = st.builds(lambda arch, e: _mutate(str(arch), e), archs, edits)
arch_texts = st.one_of(mutated, st.text(max_size=200), st.text(alphabet=TRICKY, max_size=120),
                       st.builds(lambda a, k: str(a) * k, archs, st.integers(1, 2000)))


def assert_contract_error(exc: BaseException) -> None:
    assert isinstance(exc, TfnasError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert message and "\n" not in message and len(message) <= MAX_MESSAGE, message


@settings(max_examples=200, deadline=None)
@given(arch_texts)
def test_arch_parse_round_trips_exactly_or_refuses_in_one_line(text: str) -> None:
    tracemalloc.start()
    try:
        arch = Arch.parse(text)
    except Exception as exc:  # the contract: only a TfnasError
        assert_contract_error(exc)
    else:
        assert str(arch) == text  # one canonical spelling per cell
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= MEMORY_FACTOR * len(text.encode("utf-8", "surrogatepass")) + MEMORY_CONSTANT


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(), st.binary(max_size=100), st.none(), st.floats(),
                 st.lists(st.text(max_size=5), max_size=3)))
def test_arch_parse_refuses_non_strings_in_one_line(value: object) -> None:
    with pytest.raises(TfnasError) as info:
        Arch.parse(value)  # type: ignore[arg-type]
    assert_contract_error(info.value)
    assert isinstance(info.value, TypeError)


# -- the command line ---------------------------------------------------------------------------

SMALL = ["1", "2", "3", "5", "8", "10", "20"]
"""Valid sizes that keep a fuzzed run fast (the oracle evaluates ~10,000 cells a second)."""

HOSTILE_INTS = ["0", "-1", "-0", "", " 3", "3 ", "1_0", "0x10", "1e3", "3.0", "٣", "１", "⁵",
                "99999999999999999999", "9" * 30, "9" * 5000, "2000000", "100000000", "nan",
                "inf", "--", "-" * 100_000]
HOSTILE_FLOATS = ["inf", "-inf", "nan", "NaN", "1e999", "-1", "0", "1e12", "", "1_0", "٣",
                  "0x10", "1" * 100, "20000", "500.5", "3e3"]


def _value(valid: list[str], hostile: list[str]) -> st.SearchStrategy[str]:
    # three valid values in four, so that many runs get through to the search
    pool = valid * max(1, 3 * len(hostile) // len(valid)) + hostile
    return st.one_of(*[st.sampled_from(pool)] * 7, st.text(max_size=12))


def _flags(names_values: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[str]]:
    pairs = st.lists(st.sampled_from(sorted(names_values)), max_size=3, unique=True)
    return pairs.flatmap(lambda names: st.tuples(*[
        st.tuples(st.just(name), names_values[name]) for name in names
    ]).map(lambda items: [part for item in items for part in item]))


DATASETS = st.sampled_from(list(TARGET_DATASETS) * 4 + ["mnist", "", "c" * 10_000])
PROXIES = st.sampled_from(["oracle"] * 12 + ["bogus", "", "p" * 10_000, "oracle\n"])
ARCHS = st.one_of(archs.map(str), archs.map(str), arch_texts)


def search_argv(out_dir: Path) -> st.SearchStrategy[list[str]]:
    sizes = _value(SMALL, HOSTILE_INTS)
    common = {"--repeats": _value(["1", "2"], HOSTILE_INTS), "--seed": _value(SMALL, HOSTILE_INTS),
              "--batch-size": _value(SMALL, HOSTILE_INTS),
              "--json": st.sampled_from(["-", "", str(out_dir), str(out_dir / "out.json"),
                                         str(out_dir / "no" / "such.json"), "a\x00b"])}
    random_flags = _flags({**common, "--n": sizes, "--population": sizes})
    rea_flags = _flags({**common, "--population": _value(["3", "5", "10"], HOSTILE_INTS),
                        "--sample": _value(["1", "2", "3"], HOSTILE_INTS),
                        "--cycles": _value(["20", "50", "100"], HOSTILE_INTS),
                        "--time-budget": _value(["500", "2000", "20000"], HOSTILE_FLOATS)})
    algorithm = st.sampled_from(["random", "rea"])
    return algorithm.flatmap(lambda a: st.tuples(
        st.just(["search", a]), st.tuples(st.just("--proxy"), PROXIES),
        st.tuples(st.just("--dataset"), DATASETS), random_flags if a == "random" else rea_flags,
    ).map(lambda parts: [x for part in parts for x in part]))


def score_argv() -> st.SearchStrategy[list[str]]:
    flags = _flags({"--seed": _value(SMALL, HOSTILE_INTS),
                    "--batch-size": _value(SMALL, HOSTILE_INTS)})
    switch = st.sampled_from([[], ["--json"]])
    return st.tuples(st.just(["score", "--proxy"]), PROXIES.map(lambda p: [p]),
                     st.tuples(st.just("--dataset"), DATASETS), st.tuples(st.just("--arch"), ARCHS),
                     flags, switch).map(lambda parts: [x for part in parts for x in part])


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-out")


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    event(f"exit {code}")
    assert code in (0, 1, 2), (code, err)
    if code == 0:
        assert out.strip(), "a successful command prints its result"
    else:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and len(lines[0]) <= MAX_MESSAGE + 40, err
        assert lines[0].startswith("tfnas"), err


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_search_argv_is_a_result_or_one_line(data: st.DataObject, out_dir: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             data_root: Path) -> None:
    run_cli(data.draw(search_argv(out_dir)), capsys)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=score_argv())
def test_score_argv_is_a_result_or_one_line(argv: list[str], capsys: pytest.CaptureFixture[str],
                                            data_root: Path) -> None:
    run_cli(argv, capsys)


def test_every_cell_string_is_accepted() -> None:
    assert all(Arch.parse(str(a)) == a for a in all_cells())
