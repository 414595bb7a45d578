"""The search space: strings, official order, sampling, mutation, isomorphism."""

from __future__ import annotations

import random

import nats_bench
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import archs, seeds

from tfnas.space import (
    MAX_ARCH_CHARS,
    SPACE_SIZE,
    Arch,
    ArchError,
    all_cells,
    arch_at,
    as_arch,
    canonical,
    index_of,
    is_connected,
    mutate,
    neighbours,
    sample,
    sample_distinct,
)

INDEX0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


@given(archs)
def test_string_round_trip(arch: Arch) -> None:
    assert Arch.parse(str(arch)) == arch
    assert str(Arch.parse(str(arch))) == str(arch)


def test_index_zero_is_the_published_cell() -> None:
    assert str(arch_at(0)) == INDEX0
    assert index_of(INDEX0) == 0


def test_official_order_matches_the_real_nats_bench_archive(fake_archive) -> None:
    api = nats_bench.create(str(fake_archive), "tss", fast_mode=True, verbose=False)
    assert len(api) == SPACE_SIZE
    ours = [str(a) for a in all_cells()]
    assert ours == list(api.meta_archs)
    for i in (0, 11, 284, 15624):
        assert api.query_index_by_arch(str(arch_at(i))) == i


@given(st.integers(min_value=0, max_value=SPACE_SIZE - 1))
def test_index_lookup_both_ways(i: int) -> None:
    arch = arch_at(i)
    assert index_of(arch) == i
    assert arch.index == i
    assert index_of(str(arch)) == i


def test_all_cells_are_distinct() -> None:
    assert len(set(all_cells())) == SPACE_SIZE


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected 3 nodes"),
        ("|none~0|+|none~0|none~1|", "expected 3 nodes"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "has source '1', expected 0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "must have 2 incoming edges"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "must have 3 incoming edges"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 is 'none~0'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2| ", "node 3"),
        ("|none~0|x|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1"),
    ],
)
def test_malformed_strings_are_refused_with_the_reason(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="malformed arch string") as info:
        Arch.parse(text)
    assert fragment in str(info.value)


def test_wrong_types_and_sizes_are_refused() -> None:
    with pytest.raises(TypeError):
        Arch.parse(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Arch(["none"] * 6)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="6 edges"):
        Arch(("none",) * 5)
    with pytest.raises(ValueError, match="unknown operation"):
        Arch(("none",) * 5 + ("relu",))
    with pytest.raises(TypeError):
        as_arch(3)  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        arch_at(SPACE_SIZE)
    with pytest.raises(TypeError):
        arch_at(True)


def test_an_explicit_generator_is_required() -> None:
    import numpy as np

    with pytest.raises(TypeError, match="random.Random"):
        sample(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="random.Random"):
        mutate(arch_at(0), np.random.default_rng(0))  # type: ignore[arg-type]


@given(seeds)
def test_same_seed_same_draws(seed: int) -> None:
    a = [sample(random.Random(seed)) for _ in range(3)]
    b = [sample(random.Random(seed)) for _ in range(3)]
    assert a == b
    assert sample_distinct(random.Random(seed), 50) == sample_distinct(random.Random(seed), 50)


def test_sampling_does_not_touch_the_global_state() -> None:
    state = random.getstate()
    sample(random.Random(1))
    mutate(arch_at(3), random.Random(2))
    sample_distinct(random.Random(3), 100)
    assert random.getstate() == state


@given(seeds, st.integers(min_value=0, max_value=SPACE_SIZE))
def test_sample_distinct_gives_n_distinct_cells(seed: int, n: int) -> None:
    cells = sample_distinct(random.Random(seed), min(n, 2000))
    assert len(cells) == len(set(cells)) == min(n, 2000)


def test_sample_distinct_refuses_more_than_the_space() -> None:
    with pytest.raises(ValueError, match="15625"):
        sample_distinct(random.Random(0), SPACE_SIZE + 1)


@given(archs, seeds)
def test_mutation_changes_exactly_one_edge(arch: Arch, seed: int) -> None:
    child = mutate(arch, random.Random(seed))
    assert sum(a != b for a, b in zip(arch.ops, child.ops, strict=True)) == 1
    assert child in neighbours(arch)


@given(archs)
def test_neighbourhood_is_the_24_one_edit_cells(arch: Arch) -> None:
    nbrs = neighbours(arch)
    assert len(nbrs) == len(set(nbrs)) == 24
    assert all(sum(a != b for a, b in zip(arch.ops, n.ops, strict=True)) == 1 for n in nbrs)


def test_connectivity_examples() -> None:
    assert not is_connected(Arch(("none",) * 6))
    assert is_connected(Arch(("none",) * 3 + ("skip_connect", "none", "none")))
    # 0 -> 1 -> 3 through two edges
    assert is_connected(Arch(("nor_conv_3x3", "none", "none", "none", "avg_pool_3x3", "none")))
    # 1 is reached but nothing leaves it
    assert not is_connected(Arch(("nor_conv_3x3", "none", "none", "none", "none", "none")))


def test_canonical_form_gives_the_published_6466_classes() -> None:
    assert len({canonical(a) for a in all_cells()}) == 6466


def test_canonical_form_identifies_isomorphic_cells() -> None:
    conv, pool, skip = "nor_conv_3x3", "avg_pool_3x3", "skip_connect"
    # a skip edge passes its input through: conv on 0->3 equals skip 0->1 then conv 1->3
    direct = Arch(("none", "none", "none", conv, "none", "none"))
    via_1 = Arch((skip, "none", "none", "none", conv, "none"))
    assert canonical(direct) == canonical(via_1)
    assert canonical(direct) != canonical(direct.with_op(3, "nor_conv_1x1"))
    # any edge leaving the zero node 1 is zero, whatever its op
    assert canonical(Arch(("none",) * 4 + (conv, "none"))) == canonical(
        Arch(("none",) * 4 + (pool, "none"))
    )


# -- one canonical spelling (issue 12, cause 9) ----------------------------------------------------

_DIGIT_FORMS = {
    "leading zero": "0{d}", "two leading zeros": "00{d}", "plus sign": "+{d}", "minus sign": "-{d}",
    "space before": " {d}", "space after": "{d} ", "tab": "{d}\t", "newline": "{d}\n",
    "arabic-indic": "{arabic}", "fullwidth": "{fullwidth}", "devanagari": "{devanagari}",
    "underscore": "{d}_", "superscript": "{superscript}",
}


def _respell(digit: int, form: str) -> str:
    return form.format(d=digit, arabic=chr(0x660 + digit), fullwidth=chr(0xFF10 + digit),
                       devanagari=chr(0x966 + digit), superscript="⁰¹²³⁴⁵⁶⁷⁸⁹"[digit])


@given(archs, st.integers(0, 5), st.sampled_from(sorted(_DIGIT_FORMS)))
def test_every_other_spelling_of_a_source_is_refused(arch: Arch, edge: int, form: str) -> None:
    # Each of these names a real cell to int(); accepting any would let two rows of one cell
    # live side by side in a store (and get() and scored() disagree).
    text = str(arch)
    entries = text.split("~")
    src = int(entries[edge + 1][0])
    entries[edge + 1] = _respell(src, _DIGIT_FORMS[form]) + entries[edge + 1][1:]
    spelled = "~".join(entries)
    assert spelled != text
    with pytest.raises(ArchError) as info:
        Arch.parse(spelled)
    message = str(info.value)
    assert "\n" not in message and len(message) <= 500
    assert "malformed arch string" in message and "expected" in message


@given(archs, st.sampled_from([str.upper, str.title, lambda s: " " + s, lambda s: s + "\n",
                               lambda s: s.replace("_", "-"), lambda s: s.replace("|", "｜", 1),
                               lambda s: s.replace("+", "++", 1), lambda s: s + "+"]))
def test_other_spellings_of_the_whole_string_are_refused(arch: Arch, respell) -> None:
    spelled = respell(str(arch))
    assume(spelled != str(arch))  # e.g. '_' -> '-' changes nothing in an all-'none' cell
    with pytest.raises(ArchError):
        Arch.parse(spelled)


@given(archs)
def test_every_canonical_string_is_accepted_as_is(arch: Arch) -> None:
    text = str(arch)
    assert text.isascii() and len(text) <= MAX_ARCH_CHARS
    assert str(Arch.parse(text)) == text


def test_huge_strings_are_refused_in_one_short_line() -> None:
    for text in ("|none~0|" * 20_000, "9" * 5000, str(arch_at(0)) + " " * 100_000):
        with pytest.raises(ArchError) as info:
            Arch.parse(text)
        assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_space_errors_are_tfnas_errors_keeping_their_builtin_types() -> None:
    from tfnas.errors import TfnasError

    for call, builtin in [(lambda: Arch.parse(42), TypeError), (lambda: arch_at(-1), IndexError),
                          (lambda: Arch(("none",) * 5), ValueError),
                          (lambda: arch_at(0).with_op(6, "none"), ValueError),
                          (lambda: sample(None), TypeError),
                          (lambda: sample_distinct(random.Random(0), 10**4000), ValueError)]:
        with pytest.raises(TfnasError) as info:
            call()
        assert isinstance(info.value, builtin)
        assert "\n" not in str(info.value) and len(str(info.value)) < 300


# -- the SearchSpace interface: the topology space is tfnas.space, draw for draw -------------

from tfnas.spaces import (  # noqa: E402
    SIZE,
    TOPOLOGY,
    SearchSpace,
    UnknownSpaceError,
    get_space,
    register_space,
    space_names,
    space_of,
)


def test_registry_names_the_built_in_spaces_default_first() -> None:
    assert space_names()[:1] == ("tss",) and set(space_names()) >= {"tss", "sss"}
    assert get_space() is get_space("tss") is TOPOLOGY and get_space("sss") is SIZE
    assert space_of(arch_at(0)) is TOPOLOGY and space_of(SIZE.arch_at(0)) is SIZE
    with pytest.raises(UnknownSpaceError, match="unknown search space 'nb101'; expected one of tss"):
        get_space("nb101")
    with pytest.raises(UnknownSpaceError, match="already registered as 'tss'"):
        register_space("tss")(type("Again", (type(TOPOLOGY),), {}))
    with pytest.raises(TypeError):
        SearchSpace()  # type: ignore[abstract]


@given(archs, seeds)
def test_topology_space_object_draws_exactly_as_the_module(arch: Arch, seed: int) -> None:
    space = get_space("tss")
    assert space.mutate(arch, random.Random(seed)) == mutate(arch, random.Random(seed))
    assert space.sample(random.Random(seed)) == sample(random.Random(seed))
    assert space.sample_distinct(random.Random(seed), 5) == sample_distinct(random.Random(seed), 5)
    assert space.neighbours(arch) == neighbours(arch)
    assert space.canonical(arch) == canonical(arch)
    assert space.parse(space.format(arch)) == arch == space.as_arch(str(arch))
    assert space.arch_at(space.index_of(arch)) == arch and space.index_of(arch) == index_of(arch)


def test_topology_space_object_constants() -> None:
    assert TOPOLOGY.size == SPACE_SIZE and TOPOLOGY.max_arch_chars == MAX_ARCH_CHARS
    assert TOPOLOGY.all_cells() is all_cells()
    with pytest.raises(ArchError, match="0..15624"):
        TOPOLOGY.arch_at(SPACE_SIZE)
