"""The scoring rule's settings are honoured or ignored, never only recorded.

- Threads: a score is the same bits at any torch thread count (the rule scores on one thread and
  restores the caller's count), so ``tfnas score`` and a sweep worker store the same value.
- Batch: for every proxy, a batch size either reaches the proxy and changes the key, or the
  proxy takes none and both its key and its value ignore it.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import archs

from tfnas.proxies import get_proxy, proxy_names
from tfnas.proxies import registry as registry_module
from tfnas.scoring import (
    DEFAULT_BATCH,
    SCORING_THREADS,
    batch_for,
    one_thread,
    score,
    score_many,
    settings_key,
)
from tfnas.space import Arch

DATASET = "ImageNet16-120"  # the smallest images (16x16): the cheapest networks to score
BATCH = 16  # small, yet at 16 images 2 and 3 threads changed the bits of 7 proxies (unpinned)
SINGLE = tuple(n for n in proxy_names() if get_proxy(n).builtin and not get_proxy(n).ensemble)
CELL = Arch.parse(
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
LARGEST = Arch.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                     "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")


@pytest.fixture
def restore_threads():
    """Put torch's thread count back after a test that changes it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _bits(value: float) -> bytes:
    """A float's IEEE bytes: equal bits, not merely equal values (-0.0 vs 0.0, NaN)."""
    import struct

    return struct.pack("<d", value)


# --- threads ---------------------------------------------------------------------------------


@pytest.mark.integration  # every proxy, three times per cell, on 1 and 2-3 threads (~12 s)
@settings(max_examples=3, deadline=None)
@given(cell=archs, threads=st.sampled_from((2, 3)))
def test_scores_are_the_same_bits_at_any_thread_count(cell: Arch, threads: int) -> None:
    """Every proxy alone and the shared pass: 1 thread and ``threads`` threads give equal bits,
    and the caller's count is back afterwards."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = score_many(cell, SINGLE, DATASET, batch_size=BATCH)
        assert torch.get_num_threads() == 1
        torch.set_num_threads(threads)
        many = score_many(cell, SINGLE, DATASET, batch_size=BATCH)
        assert torch.get_num_threads() == threads
        for name in SINGLE:
            alone = score(cell, name, DATASET, batch_size=BATCH)
            assert torch.get_num_threads() == threads
            assert _bits(alone) == _bits(one[name].score) == _bits(many[name].score), name
    finally:
        torch.set_num_threads(before)


def test_one_thread_pins_and_restores_even_on_error(restore_threads) -> None:
    torch.set_num_threads(3)
    with pytest.raises(ZeroDivisionError), one_thread():
        assert torch.get_num_threads() == SCORING_THREADS
        with one_thread():  # nested: the inner exit must not restore early
            pass
        assert torch.get_num_threads() == SCORING_THREADS
        1 / 0  # noqa: B018
    assert torch.get_num_threads() == 3


def test_concurrent_contexts_keep_their_pin_and_restore_their_own_count(restore_threads) -> None:
    """A context that closes while another Python thread still scores leaves that one pinned,
    and each thread gets its own count back."""
    torch.set_num_threads(2)
    inside, release, seen = threading.Event(), threading.Event(), []

    def other() -> None:
        torch.set_num_threads(3)
        with one_thread():
            inside.set()
            release.wait(10)
            seen.append(torch.get_num_threads())
        seen.append(torch.get_num_threads())

    worker = threading.Thread(target=other)
    worker.start()
    inside.wait(10)
    with one_thread():
        assert torch.get_num_threads() == SCORING_THREADS
    assert torch.get_num_threads() == 2  # this context closed first, while the other is open
    release.set()
    worker.join(10)
    assert seen == [SCORING_THREADS, 3]
    assert torch.get_num_threads() == 2


def test_failed_scoring_restores_the_thread_count(restore_threads) -> None:
    torch.set_num_threads(2)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        score(LARGEST, "grasp", DATASET, batch_size=0)
    assert torch.get_num_threads() == 2


# --- batch size ------------------------------------------------------------------------------


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Every single-network proxy wrapped to record the batch it is given (its images' count or
    the ``batch_size=`` it draws); the wrapped function then runs as before."""
    seen: dict[str, list[int]] = {name: [] for name in SINGLE}
    for name in SINGLE:
        spec = get_proxy(name)

        def spy(*args, _f=spec.function, _name=name, **kwargs):
            images = args[1] if len(args) > 1 and isinstance(args[1], torch.Tensor) else None
            if images is not None:
                seen[_name].append(images.shape[0])
            elif "batch_size" in kwargs:
                seen[_name].append(kwargs["batch_size"])
            return _f(*args, **kwargs)

        monkeypatch.setitem(registry_module._PROXIES, name,
                            dataclasses.replace(spec, function=spy))
    return seen


@pytest.mark.parametrize("name", SINGLE)
@settings(max_examples=2, deadline=None,  # the spies are shared; each example clears them
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(2, 24), min_size=2, max_size=2, unique=True))
def test_a_batch_is_used_and_keyed_or_ignored_by_both(spies, name: str, sizes: list[int]) -> None:
    """Batch a != b: a proxy that takes a batch receives each and keys each apart; one that takes
    none receives none, and its key and its value are the same for both."""
    spec = get_proxy(name)
    keys = [settings_key(name, DATASET, 0, size) for size in sizes]
    for log in spies.values():
        log.clear()
    values = [score(CELL, name, DATASET, batch_size=size) for size in sizes]
    if spec.takes_batch:
        assert keys[0] != keys[1]
        assert spies[name] == sizes
        assert [batch_for(name, size) for size in sizes] == sizes
    else:
        assert keys[0] == keys[1] == settings_key(name, DATASET, 0)
        assert spies[name] == []
        assert _bits(values[0]) == _bits(values[1])
        assert batch_for(name, sizes[0]) == DEFAULT_BATCH


@pytest.mark.parametrize("name", ["zen", "az_expressivity", "az_progressivity", "az_trainability"])
def test_gaussian_proxies_honour_the_batch(name: str) -> None:
    """The issue's case: zen and the AZ-NAS components drew their reference batch whatever the
    batch; now another batch is another draw (another value), the reference one the old value."""
    reference = get_proxy(name).batch_size
    assert score(CELL, name, DATASET) == score(CELL, name, DATASET, batch_size=reference)
    assert score(CELL, name, DATASET, batch_size=4) != score(CELL, name, DATASET)
    assert settings_key(name, DATASET, 0) == settings_key(name, DATASET, 0, reference)


def test_batch_free_proxies_are_those_without_a_batch() -> None:
    """The registrations say which proxies take no batch: the data-free ones that draw none."""
    free = {n for n in SINGLE if not get_proxy(n).takes_batch}
    assert free == {"synflow", "params", "flops", "az_complexity", "l2_norm", "layers"}
    assert {n for n in SINGLE if get_proxy(n).draws_batch} == {
        "zen", "az_expressivity", "az_progressivity", "az_trainability", "te_nas_regions",
        "vkdnw", "vkdnw_single"}


def test_a_batch_passed_to_a_proxy_that_draws_none_is_refused() -> None:
    import tfnas

    network = tfnas.build_network(LARGEST, num_classes=120)
    with pytest.raises(ValueError, match="draws no input batch of its own"):
        get_proxy("synflow")(network, resolution=16, batch_size=8)
