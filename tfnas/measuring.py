"""Score any torch model with training-free proxies: ``tfnas.measure(net, data) -> {proxy: score}``.

:func:`tfnas.scoring.score` scores a cell of a search space under the project's fixed rule (it
builds the network and loads the batch). :func:`measure` scores a network the caller built, on a
batch the caller gives (a tensor, an ``(images, labels)`` pair or a ``DataLoader``;
:mod:`tfnas.batches`), with several proxies at once, on any device.

The rule it follows is the scoring rule's, applied to the caller's network: a deep copy is scored
(the caller's parameters, buffers, gradients, ``requires_grad`` flags and modes stay bit for bit
as they were), in train mode (BatchNorm normalises with batch statistics, as NASWOT and
zero-cost-nas score) except for dropout modules, which are switched off so that a score is a
function of the network, the batch and the seed; on one torch thread; in ``precision``. Proxies
that read products of the shared forward/backward pass get them from one pass, as in
:func:`tfnas.scoring.score_many`. An undefined value (NaN) is ``-inf``
(:func:`tfnas.scoring.ranked`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from tfnas.batches import Batch, gather
from tfnas.checks import ArgumentError, ArgumentTypeError, check_seed
from tfnas.devices import check_device
from tfnas.errors import TfnasError, one_line, shown
from tfnas.network import UnsupportedNetworkError, is_cell_network
from tfnas.proxies import get_proxy
from tfnas.proxies import proxies as registered
from tfnas.proxies.passes import device_of, logits_of, sharing
from tfnas.proxies.registry import STRUCTURES, Proxy
from tfnas.scoring import (
    PRECISIONS,
    ScoringMemoryError,
    arithmetic,
    check_precision,
    is_out_of_memory,
    one_thread,
    ranked,
)


def general_proxies() -> tuple[str, ...]:
    """The proxies :func:`measure` scores by default: every registered proxy defined for any network.

    Left out: ensembles (they combine a population's scores), proxies that need a structure a
    general model lacks (the AZ-NAS network components), and proxies registered with
    ``table=False`` (``naswot_reference``: naswot's slower reference implementation, same value).
    """
    return tuple(p.name for p in registered()
                 if not p.ensemble and p.structure is None and p.table)


def _specs(names: object, net: nn.Module) -> list[Proxy]:
    if names is None:
        names = general_proxies()
    if isinstance(names, str) or not isinstance(names, Sequence | set | frozenset):
        raise ArgumentTypeError(
            f"proxies must be a list of proxy names or None, got {type(names).__name__} "
            f"{shown(names)}" + ("; pass [name] for one proxy" if isinstance(names, str) else ""))
    if not names:
        raise ArgumentError("proxies is empty; pass None for every general proxy")
    specs = [get_proxy(name) for name in dict.fromkeys(names)]
    for spec in specs:
        if spec.ensemble:
            raise ArgumentError(
                f"proxy {spec.name!r} combines {', '.join(spec.members)} over a population of "
                "networks, not one: measure its members and combine them over your population")
        if spec.structure is not None and not is_cell_network(net):
            raise UnsupportedNetworkError(
                f"proxy {spec.name!r} needs {STRUCTURES[spec.structure]}; {type(net).__name__} "
                "is a general model and lacks it")
    return specs


def _device(device: object, net: nn.Module) -> torch.device:
    if device is None:
        device = device_of(net)
        if device.type == "meta":
            raise ArgumentError("net lives on the 'meta' device (no values): pass device='cpu' or "
                                "an accelerator, or materialise it first")
    return check_device(device)


def _copy(net: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """The deep copy that is scored: on ``device`` in ``dtype``, train mode, dropout off."""
    try:
        work = copy.deepcopy(net)
    except Exception as exc:  # any module's own __deepcopy__ may refuse
        raise ArgumentError(
            f"net cannot be deep-copied ({type(exc).__name__}: {one_line(exc, 160)}); measure "
            "scores a copy so that your network stays as it is") from None
    work.to(device=device, dtype=dtype)
    work.zero_grad(set_to_none=True)  # no proxy reads .grad; the caller's stay on the original
    work.train()
    for module in work.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    return work


def _check_output(work: nn.Module, batch: Batch) -> None:
    """One eval-mode forward of one image: the network maps images to ``(N, classes)`` logits and
    the labels are classes of it; else one line."""
    image = batch.images[:1]
    modes = [(m, m.training) for m in work.modules()]
    try:
        work.eval()
        with torch.no_grad():
            output = logits_of(work(image))
    except Exception as exc:  # the caller's model on the caller's images: say what failed
        raise ArgumentError(
            f"net failed on one image of shape {tuple(image.shape[1:])} ({type(exc).__name__}: "
            f"{one_line(exc, 200)}); expected a network that maps (N, C, H, W) images to logits"
        ) from None
    finally:
        for module, training in modes:
            module.training = training
    if not isinstance(output, torch.Tensor) or output.dim() != 2 or output.shape[0] != 1:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ArgumentError(
            f"net must map (N, C, H, W) images to logits of shape (N, classes), got {shape} for "
            "one image")
    if batch.labels is not None and batch.labels.numel():
        low, high, classes = int(batch.labels.min()), int(batch.labels.max()), output.shape[1]
        if low < 0 or high >= classes:
            raise ArgumentError(
                f"labels must lie in 0..{classes - 1} (the net has {classes} logits), got "
                f"{low}..{high}")


@contextlib.contextmanager
def _isolated_rng(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global RNG (the CPU's and the scoring device's) seeded from ``seed`` inside, and
    restored after: a model's own random modules (stochastic depth, noise layers) draw the same
    numbers for the same seed, and the caller's RNG state is left as it was. tfnas' own draws
    never use it (they come from an explicit generator)."""
    if device.type == "cpu":
        with torch.random.fork_rng(devices=[], device_type="cpu"):
            torch.default_generator.manual_seed(seed)
            yield
        return
    module = torch.get_device_module(device.type)
    index = device.index if device.index is not None else module.current_device()
    with torch.random.fork_rng(devices=[index], device_type=device.type):
        torch.default_generator.manual_seed(seed)
        chosen = module.device(index) if hasattr(module, "device") else contextlib.nullcontext()
        with chosen:
            module.manual_seed(seed)
        yield


def _score(spec: Proxy, work: nn.Module, batch: Batch, state: torch.Tensor) -> float:
    images, labels = batch.images, batch.labels if spec.needs.labels else None
    if not spec.builtin:  # one batch serves every proxy: keep it safe from others' code
        images = images.clone()
        labels = labels.clone() if labels is not None else None
    generator = None
    if spec.needs.random:
        generator = torch.Generator()  # on the CPU: draws are moved (tfnas.proxies.draws)
        generator.set_state(state)
    extra = {"batch_size": spec.batch_size} if spec.draws_batch else {}
    resolution = (int(images.shape[2]), int(images.shape[3]))
    return spec(work, images, resolution=resolution, labels=labels, generator=generator, **extra)


def measure(
    net: nn.Module,
    data: object,
    proxies: Sequence[str] | None = None,
    *,
    labels: torch.Tensor | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    dataload: str = "random",
    num_batches: int = 1,
    samples_per_class: int | None = None,
    num_classes: int | None = None,
    precision: str = "float32",
) -> dict[str, float]:
    """Every proxy's score of ``net`` on one batch of ``data``: ``{proxy: score}`` in ``proxies``
    order (higher = predicted better; an undefined value is ``-inf``).

    ``net``: any ``nn.Module`` that maps ``(N, C, H, W)`` images to ``(N, classes)`` logits (or
    a tuple ending with them); the NATS-Bench networks get their fast paths. It is left exactly
    as it was: a deep copy is scored, in train mode with dropout off (module docstring).

    ``data``: an ``(N, C, H, W)`` float tensor (its int64 labels as ``labels=``), an ``(images,
    labels)`` pair, or an iterable of batches such as a ``DataLoader``, read as ``dataload``
    says: ``"random"``, the first ``num_batches`` batches; ``"grouped"``, ``samples_per_class``
    images of each of ``num_classes`` classes (:mod:`tfnas.batches`). Data-free proxies take
    only the input size from it. Labels are needed only by proxies that differentiate the loss.

    ``proxies``: names (default :func:`general_proxies`). ``device``: where to score (default: the
    network's device). ``seed``: seeds the generator random proxies draw from (each starts from
    the same state); ``generator``: that starting state instead (copied, not advanced), e.g. to
    continue a NATS network's init generator as :func:`tfnas.scoring.score` does.
    ``precision``: ``"float32"`` or ``"float64"`` (the copy and the batch are cast).

    Bad input is a one-line :class:`~tfnas.checks.ArgumentError`; a proxy this network cannot
    have (a structure it lacks, no ReLU to code, no global pooling module for zen) a one-line
    :class:`~tfnas.network.UnsupportedNetworkError`; a proxy failing inside the model or torch a
    one-line :class:`MeasureError`.
    """
    if not isinstance(net, nn.Module):
        raise ArgumentTypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    dtype = PRECISIONS[check_precision(precision)]
    seed = check_seed(seed)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ArgumentTypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator is not None and generator.device.type != "cpu":
        raise ArgumentError("generator must be a CPU generator: draws are made on the CPU and moved")
    specs = _specs(proxies, net)
    chosen = _device(device, net)
    batch = gather(data, labels=labels, dataload=dataload, num_batches=num_batches,
                   samples_per_class=samples_per_class, num_classes=num_classes)
    labelled = [spec.name for spec in specs if spec.needs.labels]
    if labelled and batch.labels is None:
        raise ArgumentError(
            f"proxies {', '.join(labelled)} need the images' labels: pass labels= with a tensor, "
            "(images, labels) pairs, or proxies= without them")
    state = (generator if generator is not None else torch.Generator().manual_seed(seed)).get_state()
    uses = frozenset().union(*(spec.uses for spec in specs))
    shared = [spec.name for spec in specs if spec.uses]
    values: dict[str, float] = {}
    with one_thread(), arithmetic(precision), _isolated_rng(seed, chosen):
        work = _copy(net, chosen, dtype)
        batch = Batch(batch.images.detach().to(device=chosen, dtype=dtype),
                      batch.labels.to(chosen) if batch.labels is not None else None)
        _check_output(work, batch)
        with sharing(uses) if uses else contextlib.nullcontext():
            # labelled proxies first: the shared pass then computes the whole union at once
            for spec in sorted(specs, key=lambda spec: not spec.needs.labels):
                values[spec.name] = ranked(_guarded(spec, work, batch, state, chosen, shared))
    return {spec.name: values[spec.name] for spec in specs}


class MeasureError(TfnasError, RuntimeError):
    """A proxy failed on the caller's network (e.g. torch cannot differentiate one of its ops
    twice, as grasp needs): the proxy, the network and torch's reason, in one line."""


def _guarded(spec: Proxy, work: nn.Module, batch: Batch, state: torch.Tensor,
             device: torch.device, shared: list[str]) -> float:
    """:func:`_score`, every failure one line naming the proxy: running out of memory
    (:class:`ScoringMemoryError`), a network the proxy cannot read (with the remedy), or any
    other error of the model's own code or of torch (:class:`MeasureError`). ``shared``: the
    proxies whose shared-pass products the first pass computes at once."""
    network = type(work).__name__
    try:
        return _score(spec, work, batch, state)
    except UnsupportedNetworkError as exc:
        raise UnsupportedNetworkError(
            f"proxy {spec.name!r} cannot score {network}: {one_line(exc, 300)}; leave it out of "
            "proxies= to score the others") from None
    except TfnasError:
        raise
    except Exception as exc:  # the model's code or torch, on the caller's network
        if is_out_of_memory(exc):
            detail = one_line(exc, 120)
        else:
            where = (f" (in the shared pass, which computes the products of "
                     f"{', '.join(shared)} at once: measure them one by one to see which)"
                     if spec.uses and len(shared) > 1 else "")
            raise MeasureError(
                f"proxy {spec.name!r} failed on {network}{where}: {type(exc).__name__}: "
                f"{one_line(exc, 200)}") from exc
    raise ScoringMemoryError(
        f"proxy {spec.name!r} ran out of memory on {batch.images.shape[0]} images on {device} "
        f"({detail}); pass fewer images (a smaller batch or num_batches)")


__all__ = ["MeasureError", "general_proxies", "measure"]
