"""Scoring within its memory bounds: every accepted batch fits the budget, running out is one line.

- A failed allocation inside a proxy (torch's CPU allocator raises a RuntimeError "can't allocate
  memory", other devices ``torch.OutOfMemoryError``, numpy ``MemoryError``) becomes a one-line
  :class:`~tfnas.scoring.ScoringMemoryError`; the CLI prints it as one line and exits 1, checked
  end to end under ``RLIMIT_AS``.
- A batch above a proxy's measured bound (``max_batch_size``) is refused before anything runs.
- (slow) Each bound is re-measured: peak RSS of scoring the largest cell at 32x32 at the bound
  stays within :data:`~tfnas.scoring.MEMORY_BUDGET_GIB`.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.checks import MAX_BATCH_SIZE
from tfnas.errors import TfnasError
from tfnas.proxies import get_proxy, proxy_names
from tfnas.proxies import registry as registry_module
from tfnas.scoring import MEMORY_BUDGET_GIB, ScoringMemoryError, batch_for, score, score_many

REPO = Path(__file__).resolve().parents[1]
CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
LARGEST = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
           "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
SINGLE = tuple(n for n in proxy_names() if get_proxy(n).builtin and not get_proxy(n).ensemble)
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, /proc")

ALLOCATOR = ("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1610612736 "
             "bytes. Error code 12 (Cannot allocate memory)")


def _failing(monkeypatch: pytest.MonkeyPatch, name: str, error: BaseException) -> None:
    """Make proxy ``name`` raise ``error`` when called."""
    spec = get_proxy(name)

    def fail(*_args, **_kwargs):
        raise error

    monkeypatch.setitem(registry_module._PROXIES, name, dataclasses.replace(spec, function=fail))


@pytest.mark.parametrize("error", [
    RuntimeError(ALLOCATOR),
    RuntimeError("[enforce fail at alloc_cpu.cpp:118] data.\nDefaultCPUAllocator: not enough "
                 "memory: you tried to allocate 10 bytes."),
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    MemoryError(),
], ids=["cpu-allocator", "windows-allocator", "OutOfMemoryError", "MemoryError"])
@pytest.mark.parametrize("via", ["score", "score_many"])
def test_an_allocation_failure_is_one_line(monkeypatch, error: BaseException, via: str) -> None:
    _failing(monkeypatch, "grasp", error)
    with pytest.raises(ScoringMemoryError) as info:
        if via == "score":
            score(CELL, "grasp", "ImageNet16-120", batch_size=8)
        else:
            score_many(CELL, ["grad_norm", "grasp"], "ImageNet16-120", batch_size=8)
    message = str(info.value)
    assert isinstance(info.value, TfnasError) and isinstance(info.value, MemoryError)
    assert "\n" not in message and len(message) < 400
    assert message.startswith("proxy 'grasp' ran out of memory scoring a ImageNet16-120 cell at "
                              "batch 8 (")
    assert "smaller --batch-size" in message


@settings(max_examples=20, deadline=None)
@given(text=st.text(max_size=60))
def test_other_runtime_errors_pass_through(text: str) -> None:
    """A RuntimeError that is not a failed allocation is a bug to see, not memory to blame."""
    from tfnas.scoring import is_out_of_memory

    assert is_out_of_memory(RuntimeError(text + " can't allocate memory " + text))
    assert is_out_of_memory(RuntimeError("CPU OUT OF MEMORY"))
    plain = text.lower()
    expected = any(p in plain for p in ("can't allocate memory", "cannot allocate memory",
                                        "out of memory", "not enough memory"))
    assert is_out_of_memory(RuntimeError(text)) is expected
    assert not is_out_of_memory(ValueError("out of memory"))


def test_a_bug_in_a_proxy_is_not_reported_as_memory(monkeypatch) -> None:
    _failing(monkeypatch, "grasp", RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied") as info:
        score(CELL, "grasp", "ImageNet16-120", batch_size=8)
    assert not isinstance(info.value, ScoringMemoryError)


# --- the bounds ------------------------------------------------------------------------------


def bound(name: str) -> int:
    """The largest batch the scoring rule accepts for ``name``."""
    return get_proxy(name).max_batch_size or MAX_BATCH_SIZE


@pytest.mark.parametrize("name", [n for n in SINGLE if get_proxy(n).takes_batch])
def test_a_batch_above_the_bound_is_refused_in_one_line(name: str) -> None:
    top = bound(name)
    assert batch_for(name, top) == top
    if top == MAX_BATCH_SIZE:
        return  # the general bound (tfnas.checks) refuses above it, tested there
    with pytest.raises(ValueError) as info:
        batch_for(name, top + 1)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"batch_size for proxy {name!r} must be <= {top} (its peak memory on the largest cell at "
        f"32x32 stays within {MEMORY_BUDGET_GIB} GiB up to there; measured in docs/proxies.md), "
        f"got {top + 1}")
    with pytest.raises(ValueError, match=f"must be <= {top} "):
        score(CELL, name, "ImageNet16-120", batch_size=top + 1)


def test_every_reference_batch_is_within_its_bound() -> None:
    for name in SINGLE:
        assert batch_for(name) <= bound(name), name


# --- end to end: the CLI under RLIMIT_AS ------------------------------------------------------

_PROBE = textwrap.dedent("""
    import tfnas.cli, tfnas.scoring, tfnas.datasets
    from tfnas.proxies import proxy_names
    proxy_names()
    print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmPeak')))
""")


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _limited_cli(args: list[str], headroom: int) -> subprocess.CompletedProcess:
    """``python -m tfnas <args>`` with its address space limited to what the imports take +
    ``headroom`` bytes."""
    probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                           env=_env(), check=True, cwd=REPO, timeout=120)
    limit = int(probe.stdout) * 1024 + headroom

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "tfnas", *args], capture_output=True, text=True,
                          env=_env(), preexec_fn=cap, timeout=300, cwd=REPO)


@pytest.mark.integration
@LINUX
def test_out_of_memory_in_the_cli_is_one_line_and_exit_1(data_root) -> None:
    """grasp at its reference batch on the largest CIFAR-10 cell needs ~1.5 GiB above the
    interpreter's own; with 768 MiB it runs out, and the user reads one line, no traceback."""
    done = _limited_cli(["score", "--proxy", "grasp", "--dataset", "cifar10", "--arch", LARGEST],
                        768 << 20)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("tfnas: error: proxy 'grasp' ran out of memory scoring a cifar10 "
                               "cell at batch 64 (")
    assert lines[0].endswith("retry with a smaller --batch-size (memory grows with the batch; "
                             "docs/proxies.md lists each proxy's peak)")


# --- (slow) the bounds re-measured --------------------------------------------------------------

_MEASURE = textwrap.dedent("""
    import sys, torch
    import tfnas.scoring as scoring
    names, size = sys.argv[1].split("+"), int(sys.argv[2])
    g = torch.Generator().manual_seed(0)

    class Batch:  # synthetic images: any batch size, whatever the data files hold
        images = torch.randn(size, 3, 32, 32, generator=g)
        labels = torch.randint(0, 10, (size,), generator=g)

    scoring._shared_batch = lambda *args: Batch
    scoring.score_many(sys.argv[3], names, "cifar10", batch_size=size)
""")


def peak_mib(names: list[str], size: int) -> float:
    """Peak RSS (MiB) of a fresh process that scores the largest cell on CIFAR-10 (32x32) with
    ``names`` (one ``score_many`` group) at batch ``size``."""
    child = subprocess.Popen([sys.executable, "-c", _MEASURE, "+".join(names), str(size), LARGEST],
                             env=_env(), cwd=REPO, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    error = child.stderr.read().decode()
    child.stderr.close()
    assert status == 0, error[-2000:]
    return usage.ru_maxrss / 1024  # KiB on Linux


_DATA = [n for n in SINGLE if get_proxy(n).needs.data]
GROUPS = [[n] for n in SINGLE if get_proxy(n).takes_batch] + [
    # a sweep's --batch-size puts every data proxy in one group (one shared pass of their union),
    # at the smallest bound among them; without the lowest-bound members the bound rises
    _DATA,
    [n for n in _DATA if n != "grasp"],
    [n for n in _DATA if n not in ("grasp", "fisher", "naswot", "naswot_reference")],
    [n for n in SINGLE if get_proxy(n).draws_batch],
]


@pytest.mark.integration
@LINUX
@pytest.mark.slow
@pytest.mark.parametrize("names", GROUPS, ids=["+".join(g) for g in GROUPS])
def test_every_bound_fits_the_memory_budget(names: list[str]) -> None:
    """Each proxy (and each group a sweep can form) at its largest accepted batch: peak RSS of
    the whole process, interpreter and torch included, within MEMORY_BUDGET_GIB."""
    size = min(bound(n) for n in names)
    if any(get_proxy(n).needs.data for n in names):
        size = min(size, MAX_BATCH_SIZE)
    assert peak_mib(names, size) <= MEMORY_BUDGET_GIB * 1024
