"""The shared forward/backward pass of the gradient proxies (zero-cost-nas, NASLib).

One forward of ``network(images)`` in the network's current mode, and only the autograd work the
requested products need:

- ``logits``: the network's output logits (detached).
- ``weight_grads``: ``∂CE/∂W`` for the weight of every Conv2d and Linear (``named_modules``
  order), CE = ``F.cross_entropy(logits, labels)`` (mean), as zero-cost-nas.
- ``weight_hvp``: ``H·g`` per weight, ``H`` the Hessian of CE over all those weights and ``g``
  the (detached) weight gradient: GraSP with T=1 and one iteration. zero-cost-nas runs a second
  forward for it; in train mode that forward gives the same graph as the first, so the product is
  taken from the first forward's graph (``create_graph`` on the gradient, then one more backward).
- ``layer_fisher``: per Conv2d/Linear the per-output-channel Fisher value
  ``½·mean_n(Σ_spatial a⊙∂CE/∂a)²`` of its output ``a`` (zeros for an output CE ignores).
- ``input_jacobian``: ``∂Σlogits/∂x`` (N, C, H, W): the Jacobian of the summed logits with
  respect to the input, as zero-cost-nas' and NASLib's ``y.backward(ones_like(y))``.
- ``relu_inputs``: per ``nn.ReLU`` module call the binary codes ``input > 0`` as (N, D) bool.

Each backward asks autograd only for what is needed (``autograd.grad`` with exactly those
inputs), so e.g. the Jacobian skips every weight-gradient convolution and Fisher alone skips them
too. Outside :func:`sharing`, :func:`gradient_pass` computes exactly ``uses``. Inside
``sharing(U)``, the first call for a (network, images) pair computes ``U`` once and later calls
with ``uses ⊆ U`` get the same :class:`PassProducts` (cache keyed by object identity, cleared
when the context exits). A call without labels (``nwot``) computes only the label-free part of
``U``; a later call that brings labels computes what is missing with one more pass and the cache
merges the two (the products are equal either way: a train-mode forward is a function of the
weights and the batch). So a group costs one pass when a proxy with labels is scored first.

The pass never changes the network's weights. Parameters that do not require grad are switched
on for the call and restored after; hooks are removed in ``finally``; BatchNorm running statistics
advance by one forward, as any train-mode forward does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tfnas.checks import ArgumentError, ArgumentTypeError
from tfnas.proxies.registry import check_labels

PRODUCTS = frozenset({"logits", "weight_grads", "weight_hvp", "layer_fisher",
                      "input_jacobian", "relu_inputs"})
"""Every product a pass can compute."""

LABELLED = frozenset({"weight_grads", "weight_hvp", "layer_fisher"})
"""Products that need labels (they differentiate the cross-entropy loss)."""


@dataclass(frozen=True)
class PassProducts:
    """What one pass computed; a field is ``None`` when its product was not requested.

    ``weights`` is always filled: ``(module name, weight)`` of every Conv2d and Linear in
    ``named_modules`` order (detached views of the live parameters; read, never written). The tuples of per-layer
    tensors (``weight_grads``, ``weight_hvp``, ``layer_fisher``) follow that order.
    ``relu_names`` names the ``nn.ReLU`` module of each entry of ``relu_inputs`` (one entry per
    call, in call order).
    """

    weights: tuple[tuple[str, torch.Tensor], ...]
    logits: torch.Tensor | None = None
    weight_grads: tuple[torch.Tensor, ...] | None = None
    weight_hvp: tuple[torch.Tensor, ...] | None = None
    layer_fisher: tuple[torch.Tensor, ...] | None = None
    input_jacobian: torch.Tensor | None = None
    relu_inputs: tuple[torch.Tensor, ...] | None = None
    relu_names: tuple[str, ...] | None = None

    def has(self, uses: frozenset[str]) -> bool:
        """True when every product in ``uses`` was computed."""
        return all(getattr(self, name) is not None for name in uses)


def weight_layers(network: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every Conv2d and Linear of ``network``, in ``named_modules`` order."""
    return [(name, m) for name, m in network.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def device_of(network: nn.Module) -> torch.device:
    """The device of ``network``'s first parameter (or buffer; the CPU for a module with neither):
    where a proxy creates the tensors it feeds or compares with the network."""
    for tensor in network.parameters():
        return tensor.device
    for tensor in network.buffers():
        return tensor.device
    return torch.device("cpu")


def logits_of(output: torch.Tensor | tuple | list) -> torch.Tensor:
    """The logits of a network's output: xautodl-style networks return ``(features, logits)``."""
    return output[-1] if isinstance(output, (tuple, list)) else output


def check_uses(uses: object) -> frozenset[str]:
    """``uses`` as a frozenset of known product names, else a one-line error."""
    if isinstance(uses, str) or not isinstance(uses, (set, frozenset, tuple, list)):
        raise ArgumentTypeError(
            f"uses must be a set of product names, got {type(uses).__name__}")
    uses = frozenset(uses)
    unknown = sorted(str(u) for u in uses - PRODUCTS)
    if unknown:
        raise ArgumentError(
            f"unknown pass products {', '.join(unknown)}; expected some of {', '.join(sorted(PRODUCTS))}")
    return uses


def _check_inputs(network: object, images: object) -> None:
    if not isinstance(network, nn.Module):
        raise ArgumentTypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
    if not isinstance(images, torch.Tensor):
        raise ArgumentTypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or not images.is_floating_point():
        raise ArgumentError(
            f"images must be an NCHW float batch, got shape {tuple(images.shape)} of {images.dtype}")


def check_images(network: object, images: object) -> None:
    """Refuse, in one line, anything but a module and a non-empty, finite, floating-point
    NCHW batch (the forward-hook proxies' input)."""
    if not isinstance(network, nn.Module):
        raise ArgumentTypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
    if not isinstance(images, torch.Tensor):
        raise ArgumentTypeError(f"images must be a torch.Tensor (N, C, H, W), got {type(images).__name__}")
    if images.dim() != 4 or images.shape[0] < 1:
        raise ArgumentError(f"images must be a non-empty 4-D batch (N, C, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ArgumentError(f"images must be floating point (normalised), got {images.dtype}")
    if not bool(torch.isfinite(images).all()):
        raise ArgumentError("images contain NaN or infinite values")


@contextlib.contextmanager
def preserved(network: nn.Module) -> Iterator[None]:
    """Restore every buffer (BatchNorm running statistics) and every module's mode on exit."""
    modes = [(m, m.training) for m in network.modules()]
    buffers = [(b, b.detach().clone()) for b in network.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, saved in buffers:
                buf.copy_(saved)
        for module, training in modes:
            module.training = training


def hooked_forward(network: nn.Module, images: torch.Tensor, modules: list[nn.Module],
                   hook: Callable[[nn.Module, tuple, object], None]) -> None:
    """One train-mode, no-grad forward of ``network`` with ``hook`` on each of ``modules``; the
    network's modes and buffers are restored and the hooks removed afterwards."""
    with preserved(network), torch.no_grad():
        handles = [m.register_forward_hook(hook) for m in modules]
        try:
            network.train()
            network(images)
        finally:
            for handle in handles:
                handle.remove()


def _compute(network: nn.Module, images: torch.Tensor, labels: torch.Tensor | None,
             uses: frozenset[str]) -> PassProducts:
    """One forward and the backward work ``uses`` needs (see the module docstring)."""
    layers = weight_layers(network)
    live = [m.weight for _, m in layers]
    weights = tuple((name, m.weight.detach()) for name, m in layers)
    want_grads = bool(uses & {"weight_grads", "weight_hvp"})
    want_fisher = "layer_fisher" in uses
    want_jacobian = "input_jacobian" in uses
    want_relu = "relu_inputs" in uses
    backward = want_grads or want_fisher or want_jacobian

    outputs: list[tuple[int, torch.Tensor]] = []  # (layer index, output) per call
    codes: list[torch.Tensor] = []
    code_names: list[str] = []
    handles: list[torch.utils.hooks.RemovableHandle] = []
    flags = [(p, p.requires_grad) for p in network.parameters()]
    try:
        if want_fisher:
            for index, (_, m) in enumerate(layers):
                handles.append(m.register_forward_hook(
                    lambda _m, _i, out, index=index: outputs.append((index, out))))
        if want_relu:
            for name, m in network.named_modules():
                if isinstance(m, nn.ReLU):
                    handles.append(m.register_forward_pre_hook(
                        lambda _m, inp, name=name: _record_codes(inp, name, codes, code_names)))
        if want_grads or want_fisher:  # Fisher's layer outputs must be on the graph
            for weight in live:
                weight.requires_grad_(True)
        x = images.detach()
        if want_jacobian:
            x = x.clone().requires_grad_(True)
        with torch.enable_grad() if backward else torch.no_grad():  # forward-only: no graph
            logits = logits_of(network(x))
            jacobian = None
            labelled = want_grads or want_fisher
            if want_jacobian:
                (jacobian,) = torch.autograd.grad(logits.sum(), x, retain_graph=labelled)
            grads = hvp = fisher = None
            if labelled:
                loss = F.cross_entropy(logits, labels)
                wrt: list[torch.Tensor] = list(live) if want_grads else []
                wrt += [out for _, out in outputs]
                hvp_wanted = "weight_hvp" in uses
                got = torch.autograd.grad(loss, wrt, allow_unused=True, create_graph=hvp_wanted)
                n = len(weights) if want_grads else 0
                raw = [g if g is not None else torch.zeros_like(w)
                       for g, w in zip(got[:n], wrt[:n], strict=True)]
                if want_grads:
                    grads = tuple(g.detach() for g in raw)
                if hvp_wanted:
                    z = sum((g.detach() * g).sum() for g in raw if g.grad_fn is not None)
                    if isinstance(z, torch.Tensor) and z.requires_grad:
                        hv = torch.autograd.grad(z, live, allow_unused=True)
                    else:  # no gradient depends on the weights (e.g. all-zero network)
                        hv = (None,) * len(weights)
                    hvp = tuple(h.detach() if h is not None else torch.zeros_like(w)
                                for h, (_, w) in zip(hv, weights, strict=True))
                if want_fisher:
                    fisher = _fisher(layers, outputs, got[n:])
    finally:
        for handle in handles:
            handle.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
    return PassProducts(
        weights=weights,
        logits=logits.detach() if "logits" in uses else None,
        weight_grads=grads if "weight_grads" in uses else None,
        weight_hvp=hvp,
        layer_fisher=fisher,
        input_jacobian=jacobian.detach() if jacobian is not None else None,
        relu_inputs=tuple(codes) if want_relu else None,
        relu_names=tuple(code_names) if want_relu else None,
    )


def _record_codes(inputs: tuple[torch.Tensor, ...], name: str, codes: list[torch.Tensor],
                  names: list[str]) -> None:
    x = inputs[0]
    codes.append((x.detach() > 0).reshape(x.shape[0], -1))
    names.append(name)


def _fisher(layers: list[tuple[str, nn.Module]], outputs: list[tuple[int, torch.Tensor]],
            grads: tuple[torch.Tensor | None, ...]) -> tuple[torch.Tensor, ...]:
    """Per layer ``½·mean_n(Σ_spatial a⊙∂L/∂a)²`` per output channel, summed over calls."""
    fisher: list[torch.Tensor | None] = [None] * len(layers)
    for (index, act), grad in zip(outputs, grads, strict=True):
        if grad is None:
            continue
        act, grad = act.detach(), grad.detach()
        prod = act * grad
        g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        value = g_nk.pow(2).mean(0).mul(0.5)
        fisher[index] = value if fisher[index] is None else fisher[index] + value
    return tuple(f if f is not None else torch.zeros(m.weight.shape[0], dtype=m.weight.dtype,
                                                     device=m.weight.device)
                 for f, (_, m) in zip(fisher, layers, strict=True))


class _Cache:
    """The products of the sharing context: per (network, images) object pair."""

    def __init__(self, uses: frozenset[str]) -> None:
        self.uses = uses
        self.entries: dict[tuple[int, int], tuple[nn.Module, torch.Tensor, torch.Tensor | None,
                                                  PassProducts]] = {}


_CACHES: list[_Cache] = []


@contextlib.contextmanager
def sharing(uses: frozenset[str] | set[str] | tuple[str, ...]) -> Iterator[None]:
    """Within the context, passes on the same (network, images) compute ``uses`` once and share it.

    The network and the batch must not change inside the context (the cache is keyed by object
    identity and holds references so that identities stay unique); it is cleared on exit.
    """
    cache = _Cache(check_uses(uses))
    _CACHES.append(cache)
    try:
        yield
    finally:
        _CACHES.remove(cache)
        cache.entries.clear()


def _merge(old: PassProducts, new: PassProducts) -> PassProducts:
    fields = {f.name: getattr(old, f.name) if getattr(old, f.name) is not None else getattr(new, f.name)
              for f in dataclasses.fields(PassProducts)}
    return PassProducts(**fields)


def gradient_pass(network: nn.Module, images: torch.Tensor, labels: torch.Tensor | None,
                  uses: frozenset[str] | set[str] | tuple[str, ...]) -> PassProducts:
    """The products ``uses`` of one pass of ``network`` on ``images`` (and ``labels``).

    ``labels`` (int64, shape ``(N,)``) are needed for the loss-based products (:data:`LABELLED`);
    ``None`` is fine otherwise. Inside :func:`sharing` the products are computed once per
    (network, images) and shared (module docstring).
    """
    uses = check_uses(uses)
    _check_inputs(network, images)
    if labels is not None:
        check_labels(labels, images.shape[0])
    elif uses & LABELLED:
        raise ArgumentError(
            f"pass products {', '.join(sorted(uses & LABELLED))} differentiate the loss: pass "
            "labels=<int64 tensor of shape (N,)>")
    cache = _CACHES[-1] if _CACHES else None
    if cache is None or not uses <= cache.uses:
        return _compute(network, images, labels, uses)
    key = (id(network), id(images))
    entry = cache.entries.get(key)
    if entry is not None:
        _, _, cached_labels, products = entry
        same_labels = labels is None or labels is cached_labels
        if same_labels and products.has(uses):
            return products
        if not same_labels and cached_labels is not None:
            return _compute(network, images, labels, uses)  # other labels: not this batch's pass
        want = cache.uses - (LABELLED if labels is None else frozenset())
        missing = frozenset(u for u in want if getattr(products, u) is None)
        products = _merge(products, _compute(network, images, labels, missing))
    else:
        want = cache.uses - (LABELLED if labels is None else frozenset())
        products = _compute(network, images, labels, want | uses)
    cache.entries[key] = (network, images, labels if labels is not None else
                          (entry[2] if entry is not None else None), products)
    return products




def finite_or_nan(total: float) -> float:
    """``total`` if finite, else NaN: a non-finite loss, gradient or overflowing sum leaves a
    gradient proxy undefined (the documented rule of every pass-based sum)."""
    return total if math.isfinite(total) else math.nan


def layer_sum(values: object) -> float:
    """Σ over layers of per-layer float32 sums, accumulated exactly in float64 (``math.fsum``).

    zero-cost-nas accumulates the per-layer sums in a float32 tensor; ``fsum`` differs from that
    only by float32 rounding (about 1e-7 relative), in the direction of the exact sum.
    """
    return finite_or_nan(math.fsum(float(v) for v in values))


ZERO_COST_NAS = (
    "The NATS-Bench network (xautodl TinyNetwork: cell convs without bias, BatchNorm affine with "
    "running statistics) at the scoring rule's PyTorch-default-like init, not zero-cost-nas's own "
    "NAS-Bench-201 model (conv bias, BN affine=False without running statistics); in train mode, "
    "as theirs; one batch of {batch} NATS-normalised test images with their labels instead of "
    "{batch} randomly cropped and flipped training images under their normalisation (seed 42); "
    "no deep copy (the pass never writes weights); split_data=1.")
"""The variant sentences every zero-cost-nas gradient proxy shares (format with ``batch``)."""


__all__ = ["LABELLED", "PRODUCTS", "PassProducts", "check_uses", "device_of", "finite_or_nan",
           "gradient_pass", "layer_sum", "logits_of", "ZERO_COST_NAS", "sharing", "weight_layers"]
