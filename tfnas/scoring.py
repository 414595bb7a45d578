"""Score one cell with one proxy under the project's fixed scoring rule.

For ``(arch, proxy, dataset, seed, batch_size)``: the network is built for the dataset's class
count and initialised from a ``torch.Generator`` seeded with :func:`cell_seed` (a function of the
arch string and the seed only, so any order or partition of work gives the same bits); it stays
in train mode (NASWOT's setting: BatchNorm uses batch statistics); data-dependent proxies see
``load_batch(dataset, seed, batch_size).images`` (and its ``.labels`` when they need labels), one
batch shared by all cells; data-free ones see only the dataset's resolution. An undefined value
(NaN) is scored ``-inf``: it ranks last (:func:`ranked`).

Threads: every proxy is scored on one intra-op torch thread (:func:`one_thread`, which restores the
caller's count afterwards). Parallel reductions split their sums by thread (the weight gradient of
a convolution, summed over the batch, differs in its last bits between 1 and 2 threads), so a
score at the caller's thread count would depend on the machine's cores: ``tfnas score`` (torch's
default count) and a ``tfnas sweep`` worker (one thread) would store different bits under one key.
Parallelism comes from processes (the sweep's workers), not from threads.

Precision: ``precision="float32"`` (the default, the anchors' arithmetic and every committed
table's) or ``"float64"``. In float64 the network (its float32 init cast exactly), the batch and
every tensor a proxy creates are float64 (:func:`arithmetic`): the definition's value up to
float64 rounding, which no BLAS, kernel choice or thread count moves by more than ~1e-9 relative
even on the worst-conditioned proxy (grasp), where float32 can differ by tens of percent between
two kernels of one machine. A float64 score has its own settings key.

Device: ``device="cpu"`` (the default), ``"cuda"``, ``"mps"`` (:mod:`tfnas.devices`). The network
is built and initialised on the CPU and then moved, and random draws are made on the CPU
generator, so another device changes only the arithmetic's rounding; its scores carry the device
type in their settings key, apart from the CPU's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tfnas.checks import (
    ArgumentError,
    ArgumentTypeError,
    check_batch_size,
    check_seed,
)
from tfnas.errors import TfnasError, one_line, shown
from tfnas.network import build_network
from tfnas.proxies import get_proxy
from tfnas.proxies.registry import Proxy, check_labels
from tfnas.spaces import Arch, SearchSpace, resolve

if TYPE_CHECKING:
    from tfnas.datasets import DatasetSpec, ImageBatch

DEFAULT_BATCH = 128
"""The batch of a proxy that registers none (the project's NASWOT setting)."""

MEMORY_BUDGET_GIB = 2
"""The peak memory (resident, GiB) that scoring one cell stays within at every batch a proxy
accepts: each proxy's ``max_batch_size`` is measured against it (docs/proxies.md)."""

SCORING_VERSION = "1"
"""Bumped whenever a proxy's numbers change meaning; part of every store key."""

_SEED_BITS = 63  # fits every consumer of a seed (torch, numpy, signed 64-bit SQLite)

SCORING_THREADS = 1
"""torch's intra-op thread count while a proxy scores (module docstring: the bits depend on it)."""

_pinned = threading.local()  # per Python thread: open contexts and the count to restore

PRECISIONS = {"float32": torch.float32, "float64": torch.float64}
"""The arithmetic a score can be computed in (module docstring, Precision)."""


def check_precision(precision: object) -> str:
    """``precision`` if it names one of :data:`PRECISIONS`, else a one-line error."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ArgumentError(f"precision must be one of {', '.join(PRECISIONS)}, got {shown(precision)}")
    return precision


@contextlib.contextmanager
def arithmetic(precision: str) -> Iterator[None]:
    """Make ``precision`` torch's default dtype for the body (the tensors a proxy creates:
    Gaussian inputs, probes), then restore the caller's. Like :func:`one_thread`, process state:
    tfnas scores in processes, one cell at a time."""
    dtype = PRECISIONS[check_precision(precision)]
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the body on :data:`SCORING_THREADS` intra-op threads, then restore the caller's count.

    torch's OpenMP backend keeps the count per calling thread, so the pin is per Python thread:
    the outermost context of a thread saves its count and restores it on exit, nested ones (a
    score inside a score) leave it alone. (A build with a process-wide pool would share the
    count between Python threads scoring at once; tfnas scores in processes.)
    """
    depth = getattr(_pinned, "depth", 0)
    if depth == 0:
        _pinned.saved = torch.get_num_threads()
    if torch.get_num_threads() != SCORING_THREADS:
        torch.set_num_threads(SCORING_THREADS)
    _pinned.depth = depth + 1
    try:
        yield
    finally:
        _pinned.depth = depth
        if depth == 0 and torch.get_num_threads() != _pinned.saved:
            torch.set_num_threads(_pinned.saved)


def cell_seed(arch: Arch | str, seed: int, space: str | SearchSpace | None = None) -> int:
    """The network-init seed of ``arch`` under run seed ``seed``: 63 bits of sha256(f"{seed}|{arch}")."""
    arch, _ = resolve(arch, space)
    check_seed(seed)
    digest = hashlib.sha256(f"{seed}|{arch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


@dataclass(frozen=True)
class ScoreSettings:
    """Everything besides (proxy, dataset, arch) that a stored score depends on."""

    seed: int
    batch_size: int
    # Identity of the proxy batch (sha256 of the source files' bytes + the selected indices);
    # "" when data-free. It covers the labels too: they are read from the same files at the
    # same indices.
    data: str
    scoring_version: str = SCORING_VERSION
    origin: str = ""
    """``"<distribution>==<version>"`` of a proxy from an installed package (an upgrade then
    gives new keys); "" for the built-ins and left out of their key, which stays as it was."""
    precision: str = "float32"
    """The arithmetic (:data:`PRECISIONS`); the default float32 is left out of the key, which
    stays as every committed table has it."""
    device: str = "cpu"
    """The device type scored on; the default CPU is left out of the key."""

    def key(self) -> str:
        """Canonical JSON text (sorted keys, no spaces): the store key's "settings" part."""
        fields = asdict(self)
        if not fields["origin"]:
            del fields["origin"]
        if fields["precision"] == "float32":
            del fields["precision"]
        if fields["device"] == "cpu":
            del fields["device"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def batch_for(proxy: str, batch_size: int | None = None) -> int:
    """The batch ``proxy`` is scored with: ``batch_size`` if given, else the proxy's registered
    reference batch, else :data:`DEFAULT_BATCH`.

    A proxy that takes no batch (:attr:`~tfnas.proxies.registry.Proxy.takes_batch` false: params,
    flops, synflow, l2_norm, az_complexity) gets :data:`DEFAULT_BATCH` whatever is asked (a given
    batch is still checked): its value does not depend on a batch, so neither does its key, which
    keeps the batch field its tables have always carried. A batch above the proxy's
    ``max_batch_size`` (its measured memory bound) is refused in one line.
    """
    spec = get_proxy(proxy)
    if batch_size is not None:
        batch_size = check_batch_size(batch_size)
    if not spec.takes_batch:
        return DEFAULT_BATCH
    size = batch_size if batch_size is not None else spec.batch_size or DEFAULT_BATCH
    if spec.max_batch_size is not None and size > spec.max_batch_size:
        raise ArgumentError(
            f"batch_size for proxy {proxy!r} must be <= {spec.max_batch_size} (its peak memory on "
            f"the largest cell at 32x32 stays within {MEMORY_BUDGET_GIB} GiB up to there; "
            f"measured in docs/proxies.md), got {size}")
    return size


def settings_key(proxy: str, dataset: str, seed: int, batch_size: int | None = None,
                 precision: str = "float32", device: str | torch.device | None = None) -> str:
    """The store key's settings for scoring with ``proxy`` on ``dataset`` (loads the batch once)."""
    from tfnas.datasets import get_dataset, load_batch
    from tfnas.devices import check_device

    spec = get_proxy(proxy)
    if spec.ensemble:
        raise ArgumentError(
            f"proxy {proxy!r} combines {', '.join(spec.members)}: store and tabulate its members")
    get_dataset(dataset)
    check_seed(seed)
    check_precision(precision)
    batch_size = batch_for(proxy, batch_size)
    data = load_batch(dataset, seed, batch_size).identity if spec.needs.data else ""
    origin = "" if spec.builtin else spec.origin
    return ScoreSettings(seed=seed, batch_size=batch_size, data=data, origin=origin,
                         precision=precision, device=check_device(device).type).key()


def _check_batch(batch: object, batch_size: int, resolution: int, dataset: str) -> torch.Tensor:
    if not isinstance(batch, torch.Tensor):
        raise ArgumentTypeError(
            f"batch must be a torch.Tensor or None, got {type(batch).__name__}"
        )
    if batch.dtype != torch.float32:
        raise ArgumentTypeError(f"batch must be float32 (normalised images), got {batch.dtype}")
    expected = (batch_size, 3, resolution, resolution)
    if tuple(batch.shape) != expected:
        raise ArgumentError(
            f"batch for {dataset} must have shape (batch_size, 3, {resolution}, {resolution}) = "
            f"{expected}, got {tuple(batch.shape)}"
        )
    return batch


def _check_labels(labels: object, batch_size: int, num_classes: int, dataset: str) -> torch.Tensor:
    labels = check_labels(labels, batch_size)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ArgumentError(
            f"labels for {dataset} must lie in 0..{num_classes - 1}, got "
            f"{int(labels.min())}..{int(labels.max())}")
    return labels


@functools.lru_cache(maxsize=8)
def _shared_batch(root: Path | None, dataset: str, seed: int, batch_size: int) -> ImageBatch:
    # One batch (images and labels) serves every cell of a run; normalising it again per cell
    # cost ~20% of a NASWOT score. ``root`` keys the cache on TFNAS_DATA; proxies never write
    # into their input.
    from tfnas.datasets import load_batch

    return load_batch(dataset, seed, batch_size)


def score(
    arch: Arch | str,
    proxy: str,
    dataset: str,
    seed: int = 0,
    batch_size: int | None = None,
    batch: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    space: str | SearchSpace | None = None,
    precision: str = "float32",
    device: str | torch.device | None = None,
) -> float:
    """The ``proxy`` score of ``arch`` on ``dataset`` under the scoring rule (module docstring).

    ``arch`` is a cell of ``space`` (an architecture object names its own space; a string is read
    in the topology space unless ``space`` says otherwise, e.g. ``space="sss"``).

    ``batch_size`` defaults to the proxy's reference batch (:func:`batch_for`), or to the size of
    ``batch`` when one is given. ``batch`` replaces the loaded images (float32, shape
    ``(batch_size, 3, R, R)`` with the dataset's resolution ``R``); data-free proxies use it only
    for its size. ``labels`` (int64,
    shape ``(batch_size,)``, in ``0..classes-1``) go with ``batch``; a proxy that needs labels
    then requires them. Every proxy runs on one torch thread (module docstring); running out of
    memory raises :class:`ScoringMemoryError`. ``precision``: ``"float32"`` or ``"float64"``;
    ``device``: where the network is scored (module docstring).
    """
    from tfnas.devices import check_device

    check_precision(precision)
    chosen = check_device(device)
    with one_thread():
        return _score(arch, proxy, dataset, seed, batch_size, batch, labels, space, precision,
                      chosen)


def _score(arch: Arch | str, proxy: str, dataset: str, seed: int, batch_size: int | None,
           batch: torch.Tensor | None, labels: torch.Tensor | None,
           space: str | SearchSpace | None, precision: str = "float32",
           device: torch.device | None = None) -> float:
    """:func:`score`'s work, on the caller's thread count."""
    from tfnas.config import data_root
    from tfnas.datasets import get_dataset

    if isinstance(arch, torch.nn.Module):
        raise ArgumentTypeError(
            f"score() scores a cell of a search space, got a {type(arch).__name__} network; to "
            "score your own nn.Module use tfnas.measure(net, data, proxies=[...])")
    arch, searched = resolve(arch, space)
    spec = get_proxy(proxy)
    if spec.ensemble:
        raise ArgumentError(
            f"proxy {proxy!r} combines {', '.join(spec.members)} over a population of cells: "
            "use tfnas.members.score_population(archs, ...)")
    data = get_dataset(dataset)
    check_seed(seed)
    if batch_size is None and isinstance(batch, torch.Tensor) and batch.dim() == 4:
        batch_size = int(batch.shape[0])  # a given batch says its own size
    size = batch_for(proxy, batch_size)
    given = size if batch_size is None else batch_size  # the batch= to expect (checked above)
    images = targets = None
    if labels is not None:
        if batch is None:
            raise ArgumentError("labels= goes with batch=: the loaded batch has its own labels")
        targets = _check_labels(labels, given, data.num_classes, dataset)
    if batch is not None:
        images = _check_batch(batch, given, data.resolution, dataset)
        if spec.needs.labels and targets is None:
            raise ArgumentError(f"proxy {proxy!r} needs labels: pass labels= with batch=")
    elif spec.needs.data:
        loaded = _shared_batch(data_root(required=False), dataset, seed, size)
        images, targets = loaded.images, loaded.labels
        if not spec.builtin:  # the cached batch serves every cell: keep it safe from others' code
            images, targets = images.clone(), targets.clone()
    network, state = _network(arch, searched, data.num_classes, seed)
    network, images = _in_precision(network, images, precision, device)
    targets = targets.to(device) if targets is not None and device is not None else targets
    return ranked(_run(spec, network, images, targets, data, state, size, precision))


def _in_precision(network: torch.nn.Module, images: torch.Tensor | None, precision: str,
                  device: torch.device | None = None
                  ) -> tuple[torch.nn.Module, torch.Tensor | None]:
    """The network (cast and moved in place; its float32 init is exact in float64) and a cast,
    moved copy of the images, in ``precision`` on ``device``; both as they are in float32 on the
    CPU."""
    dtype = PRECISIONS[precision]
    if dtype == torch.float32 and (device is None or device.type == "cpu"):
        return network, images
    return (network.to(device=device, dtype=dtype),
            images.to(device=device, dtype=dtype) if images is not None else None)


class ScoringMemoryError(TfnasError, MemoryError):
    """Scoring ran out of memory (an allocation failed): the batch is too large for this machine."""


_ALLOCATION_FAILURES = ("can't allocate memory", "cannot allocate memory", "out of memory",
                        "not enough memory")
"""Phrases of torch's allocator failures (a RuntimeError on CPU; ``torch.OutOfMemoryError``
otherwise)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True when ``exc`` is a failed allocation (torch's or Python's) rather than a bug."""
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(phrase in text for phrase in _ALLOCATION_FAILURES)


def _run(spec: Proxy, network: torch.nn.Module, images: torch.Tensor | None,
         labels: torch.Tensor | None, data: DatasetSpec, state: torch.Tensor, size: int,
         precision: str = "float32") -> float:
    """``spec``'s value of ``network`` (as the scoring rule calls it; network and images already
    in ``precision``, :func:`_in_precision`); a failed allocation is raised as a one-line
    :class:`ScoringMemoryError` naming the proxy, the batch and the remedy."""
    extra = {"batch_size": size} if spec.draws_batch else {}
    try:
        with arithmetic(precision):
            return spec(network, images, resolution=data.resolution,
                        labels=labels if spec.needs.labels else None,
                        generator=_generator(spec, state), **extra)
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        detail = one_line(exc, 120)
    # Raised outside the handler: the failed call's frames (and their tensors) are freed first.
    raise ScoringMemoryError(
        f"proxy {spec.name!r} ran out of memory scoring a {data.name} cell at batch {size} "
        f"({detail}); retry with a smaller --batch-size (memory grows with the batch; "
        "docs/proxies.md lists each proxy's peak)")


def ranked(value: float) -> float:
    """The stored form of a proxy's value: an undefined one (NaN) ranks last, as ``-inf``.

    A proxy is undefined on some networks (a constant Jacobian, a non-finite loss); the searches,
    the store and the score tables need a total order, and the field's tools rank such cells last
    (NASLib writes a -1e8 sentinel). ``-inf`` is that, without a number that could be a score.
    """
    value = float(value)
    return -math.inf if math.isnan(value) else value


def _network(arch: Arch, space: SearchSpace, num_classes: int, seed: int
             ) -> tuple[torch.nn.Module, torch.Tensor]:
    """The cell's network (train mode) and the state of its init generator after the build."""
    generator = torch.Generator().manual_seed(cell_seed(arch, seed, space))
    network = build_network(arch, num_classes, generator, space=space).train()
    return network, generator.get_state()


def _generator(spec: object, state: torch.Tensor) -> torch.Generator | None:
    # A proxy that draws random numbers continues the init generator's stream: one seed per
    # (cell, run seed), and every proxy starts from the same state, whatever it is scored with.
    if not spec.needs.random:  # type: ignore[attr-defined]
        return None
    generator = torch.Generator()
    generator.set_state(state)
    return generator


@dataclass(frozen=True)
class CellScore:
    """One proxy's score of one cell and its share of the scoring time."""

    proxy: str
    score: float
    seconds: float


def score_many(
    arch: Arch | str,
    proxies: Sequence[str],
    dataset: str,
    seed: int = 0,
    batch_size: int | None = None,
    space: str | SearchSpace | None = None,
    precision: str = "float32",
    device: str | torch.device | None = None,
) -> dict[str, CellScore]:
    """Every proxy's :func:`score` of ``arch``, bit for bit, sharing the work they have in common.

    Proxies are grouped by batch (their reference batch unless ``batch_size`` is given) and data
    needs; a group gets one network, and the proxies of a group that read products of the shared
    pass (:mod:`tfnas.proxies.passes`) get them from one forward/backward. A group's wall time is
    divided equally among its proxies (``seconds``: a cost share, since the work is shared).
    Every proxy runs on one torch thread, in ``precision`` and on ``device``, as in :func:`score`.
    """
    from tfnas.devices import check_device

    check_precision(precision)
    chosen = check_device(device)
    with one_thread():
        return _score_many(arch, proxies, dataset, seed, batch_size, space, precision, chosen)


def _score_many(arch: Arch | str, proxies: Sequence[str], dataset: str, seed: int,
                batch_size: int | None, space: str | SearchSpace | None,
                precision: str = "float32", device: torch.device | None = None
                ) -> dict[str, CellScore]:
    """:func:`score_many`'s work, on the caller's thread count."""
    import time

    from tfnas.config import data_root
    from tfnas.datasets import get_dataset
    arch, searched = resolve(arch, space)
    names = list(dict.fromkeys(proxies))
    specs = [get_proxy(name) for name in names]
    for spec in specs:
        if spec.ensemble:
            raise ArgumentError(
                f"proxy {spec.name!r} combines {', '.join(spec.members)} over a population of "
                "cells: score its members, or use tfnas.members.score_population(archs, ...)")
    data = get_dataset(dataset)
    check_seed(seed)
    groups: dict[tuple[int, bool], list] = {}
    for spec in specs:
        groups.setdefault((batch_for(spec.name, batch_size), spec.needs.data), []).append(spec)
    out: dict[str, CellScore] = {}
    for (size, needs_data), group in groups.items():
        start = time.perf_counter()
        images = targets = None
        if needs_data:
            loaded = _shared_batch(data_root(required=False), dataset, seed, size)
            images, targets = loaded.images, loaded.labels
        network, state = _network(arch, searched, data.num_classes, seed)
        network, images = _in_precision(network, images, precision, device)  # once for the group
        if targets is not None and device is not None:
            targets = targets.to(device)
        values = {}
        uses = frozenset().union(*(spec.uses for spec in group))
        if uses:
            from tfnas.proxies.passes import sharing
        with sharing(uses) if uses else contextlib.nullcontext():
            # Labelled proxies first: the shared pass then computes the group's whole union at once.
            for spec in sorted(group, key=lambda spec: not spec.needs.labels):
                given, labels = images, targets
                if needs_data and not spec.builtin:
                    given, labels = images.clone(), targets.clone()
                values[spec.name] = _run(spec, network, given, labels, data, state, size,
                                         precision)
        share = (time.perf_counter() - start) / len(group)
        for name, value in values.items():
            out[name] = CellScore(name, ranked(value), share)
    return {name: out[name] for name in names}

