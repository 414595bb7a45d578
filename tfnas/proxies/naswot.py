"""NASWOT (Mellor et al., ICML 2021): the log-determinant of the batch's ReLU-code kernel.

Two implementations of the same score:

* :func:`naswot_reference` re-implements the official BayesWatch/nas-without-training hook code:
  a forward hook on every ``nn.ReLU``, code = (ReLU input > 0) per sample, flattened,
  ``K += c cᵀ + (1-c)(1-c)ᵀ`` as a float32 matmul summed into a float64 numpy array, network in
  train mode, score = ``slogdet(K)[1]``.
* :func:`naswot` (the default) walks the cell structure itself and computes the same kernel
  exactly in integers (see :mod:`tfnas.proxies.kernel`), once per distinct code. A network it
  cannot walk (any other ``nn.Module``) gets the same exact integer kernel from forward hooks
  (:func:`hook_kernel`).

The official code first runs a backward pass and then counts only ReLUs whose backward hook
fired. In this space that excludes nothing: every ReLU's output reaches the pooled features,
because every node has an edge into the output node and ``none`` is ``x.mul(0.)``, which stays
in the autograd graph (its gradient is zero, but it is computed). Both paths therefore skip the
backward pass; ``tests/test_naswot.py::test_backward_pass_visits_every_relu`` checks the claim.
The size space's network has one more ReLU module per channel-changing cell, inside the 1x1
``FactorizedReduce`` skip edge, which (as in xautodl) is never applied: neither its forward nor
its backward hook fires, so it adds nothing to either path (``tests/test_size_space.py``).

The official code selects modules with ``'ReLU' in str(type(module))``, which also matches the
``ReLUConvBN`` containers of xautodl and :mod:`tfnas.network` and so counts every conv-edge code
twice (the container's hook sees the same input as its inner ReLU). The default,
``match="official"``, reproduces that selection, because the published NASWOT numbers (Mellor et
al.) and the paper under reproduction were computed with that code; ``match="relu"`` counts each
``nn.ReLU`` once, as the text defines ``N_A`` (scores then drop by about 128·ln 2 ≈ 88).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from tfnas.checks import ArgumentError
from tfnas.network import Edge, Stage, UnsupportedNetworkError, stages
from tfnas.proxies.kernel import KernelAccumulator, logdet
from tfnas.proxies.passes import check_images, hooked_forward
from tfnas.proxies.registry import register_proxy

MATCHES = ("relu", "official")
DEFAULT_MATCH = "official"


def _is_hooked(module: nn.Module, match: str) -> bool:
    if match == "relu":
        return isinstance(module, nn.ReLU)
    return "ReLU" in str(type(module))


def _hooked_forward(network: nn.Module, images: torch.Tensor, match: str,
                    hook: Callable[[nn.Module, tuple, object], None]) -> None:
    """One train-mode forward of ``network`` with ``hook`` on every module ``match`` selects;
    the network's mode (and everything else) is restored and the hooks removed afterwards."""
    hooked_forward(network, images, [m for m in network.modules() if _is_hooked(m, match)], hook)


@register_proxy("naswot_reference", data=True, table=False)
def naswot_reference(network: nn.Module, images: torch.Tensor, *, match: str = DEFAULT_MATCH) -> float:
    """NASWOT score by forward hooks, faithful to the official code; ``-inf`` when ``K`` is singular.

    ``match="official"`` hooks every module whose type name contains ``ReLU``, as the official
    code does (see the module docstring). The network's parameters, buffers and modes are left as
    they were, and the hooks are removed.
    """
    return logdet(reference_kernel(network, images, match=match))


def reference_kernel(network: nn.Module, images: torch.Tensor, *, match: str = DEFAULT_MATCH) -> np.ndarray:
    """The official code's float64 kernel ``K`` (see :func:`naswot_reference`)."""
    check_images(network, images)
    if match not in MATCHES:
        raise ArgumentError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    n = images.shape[0]
    kernel = np.zeros((n, n))

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal kernel
        # lastact's ReLU is in-place, so its hook sees relu(x); (relu(x) > 0) == (x > 0).
        x = inputs[0].reshape(n, -1)
        c = (x > 0).float()
        kernel = kernel + (c @ c.t()).cpu().numpy() + ((1.0 - c) @ (1.0 - c.t())).cpu().numpy()

    _hooked_forward(network, images, match, hook)
    return kernel


# --- the fast path -------------------------------------------------------------------------


def _batch_norm(x: torch.Tensor, bn: nn.Module) -> torch.Tensor:
    if isinstance(bn, nn.Identity):
        return x
    if not isinstance(bn, nn.BatchNorm2d):
        raise UnsupportedNetworkError(f"expected BatchNorm2d, got {type(bn).__name__}")
    return _batch_norm_with(x, bn.weight, bn.bias, bn.eps)


def _batch_norm_with(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    # Train-mode BatchNorm normalises with batch statistics; the running statistics it would
    # update do not affect this forward, so they are not touched.
    if not x.is_contiguous(memory_format=torch.channels_last):
        return F.batch_norm(x, None, None, weight, bias, True, 0.0, eps)
    # ATen's batch_norm (and var_mean) are slow on channels_last CPU tensors; the same formula
    # by hand (biased batch variance, as BatchNorm normalises with) is not. The per-channel sums
    # use torch's cascade summation over the (N*H*W, C) view; the difference of moments is
    # taken in float64, so the variance keeps float32's relative accuracy.
    flat = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    count = flat.shape[0]
    mean = flat.sum(0).double() / count
    var = (flat * flat).sum(0).double() / count - mean * mean
    scale = torch.rsqrt(var.clamp_min(0.0) + eps)
    shift = (-mean * scale).float()
    scale = scale.float()
    if weight is not None:
        scale = scale * weight
        shift = shift * weight + bias
    return torch.addcmul(shift[:, None, None], x, scale[:, None, None])


def _conv(x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    if not isinstance(conv, nn.Conv2d):
        raise UnsupportedNetworkError(f"expected Conv2d, got {type(conv).__name__}")
    return conv._conv_forward(x, conv.weight, conv.bias)


def _relu_conv_bn(module: nn.Module) -> tuple[nn.Conv2d, nn.Module] | None:
    """``(conv, bn)`` of a ReLUConvBN-shaped module (``op = Sequential(ReLU, Conv2d, BN)``)."""
    seq = getattr(module, "op", None)
    if (
        isinstance(seq, nn.Sequential)
        and len(seq) == 3
        and isinstance(seq[0], nn.ReLU)
        and isinstance(seq[1], nn.Conv2d)
    ):
        return seq[1], seq[2]
    return None


def _avg_pool(x: torch.Tensor, pool: nn.AvgPool2d) -> torch.Tensor:
    return F.avg_pool2d(
        x, pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode,
        pool.count_include_pad, pool.divisor_override,
    )


class _Walker:
    """Runs the network's forward from its structure, adding each distinct ReLU code once."""

    def __init__(self, acc: KernelAccumulator, conv_weight: int, merge: bool) -> None:
        self.acc = acc
        self.conv_weight = conv_weight  # ReLUs counted per ReLUConvBN (2 under match="official")
        self.merge = merge  # fuse same-geometry conv edges from one node (changes rounding only)

    def code(self, x: torch.Tensor, multiplicity: int) -> None:
        # K does not depend on the order of the units, so a channels_last tensor is flattened
        # in its memory order (N, H, W, C) without a copy.
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            x = x.permute(0, 2, 3, 1)
        self.acc.add(x > 0, multiplicity)

    def relu_conv_bn(self, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
        conv, bn = _relu_conv_bn(module)  # type: ignore[misc]
        self.code(x, self.conv_weight)
        return _batch_norm(_conv(F.relu(x), conv), bn)

    def infer_cell(self, x: torch.Tensor, cell: nn.Module, edges: tuple[Edge, ...]) -> torch.Tensor:
        layers = cell.layers
        num_nodes = 1 + max(e.to for e in edges)
        # Every conv edge leaving a node applies its own ReLU to the same tensor: one code,
        # counted once per such edge, and one shared relu().
        fan_out = [0] * num_nodes
        for e in edges:
            fan_out[e.src] += e.kind == "conv"
        nodes: list[torch.Tensor] = [x]
        outputs: dict[int, torch.Tensor] = {}  # conv-edge outputs, computed per source node
        for to_node in range(1, num_nodes):
            src_new = len(nodes) - 1
            if fan_out[src_new]:
                self.code(nodes[src_new], self.conv_weight * fan_out[src_new])
                convs = [e.layer for e in edges if e.src == src_new and e.kind == "conv"]
                outputs.update(self.conv_edges(nodes[src_new], [layers[i] for i in convs], convs))
            total: torch.Tensor | None = None
            for e in edges:
                if e.to != to_node or e.kind == "zero":
                    continue  # a zero edge adds x * 0 = ±0: the sum, and every code, is unchanged
                if e.kind == "skip":
                    out = nodes[e.src]
                elif e.kind == "pool":
                    out = _avg_pool(nodes[e.src], layers[e.layer].op)
                elif e.kind == "factorized":  # 1x1 conv + BN, no ReLU (xautodl's stride-1 rule)
                    module = layers[e.layer]
                    out = _batch_norm(_conv(nodes[e.src], module.conv), module.bn)
                else:
                    out = outputs.pop(e.layer)
                total = out if total is None else total + out
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]

    def conv_edges(
        self, x: torch.Tensor, modules: list[nn.Module], keys: list[int]
    ) -> dict[int, torch.Tensor]:
        """ReLU → conv → BN of every conv edge leaving one node, sharing one relu(x).

        On the fast path, edges with the same conv geometry run as one wider conv and one
        BatchNorm over the concatenated channels (per-channel statistics: the same function).
        """
        relu = F.relu(x)
        parts = [_relu_conv_bn(m) for m in modules]
        if not self.merge:
            return {k: _batch_norm(_conv(relu, c), bn) for k, (c, bn) in zip(keys, parts, strict=True)}
        groups: dict[tuple, list[int]] = {}
        for j, (conv, bn) in enumerate(parts):
            if not isinstance(bn, nn.BatchNorm2d):
                raise UnsupportedNetworkError(f"expected BatchNorm2d, got {type(bn).__name__}")
            geometry = (conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups,
                        conv.padding_mode, conv.bias is None, bn.affine, bn.eps)
            groups.setdefault(geometry, []).append(j)
        result: dict[int, torch.Tensor] = {}
        for members in groups.values():
            convs = [parts[j][0] for j in members]
            bns = [parts[j][1] for j in members]
            weight = torch.cat([c.weight for c in convs])
            bias = None if convs[0].bias is None else torch.cat([c.bias for c in convs])
            out = convs[0]._conv_forward(relu, weight, bias)
            bn_w = torch.cat([b.weight for b in bns]) if bns[0].affine else None
            bn_b = torch.cat([b.bias for b in bns]) if bns[0].affine else None
            out = _batch_norm_with(out, bn_w, bn_b, bns[0].eps)
            start = 0
            for j, conv in zip(members, convs, strict=True):
                result[keys[j]] = out[:, start : start + conv.out_channels]
                start += conv.out_channels
        return result

    def residual_block(self, x: torch.Tensor, block: nn.Module) -> torch.Tensor:
        branch = self.relu_conv_bn(self.relu_conv_bn(x, block.conv_a), block.conv_b)
        down = block.downsample
        if down is None:
            residual = x
        elif _relu_conv_bn(down) is not None:
            residual = self.relu_conv_bn(x, down)
        elif (
            isinstance(down, nn.Sequential)
            and len(down) == 2
            and isinstance(down[0], nn.AvgPool2d)
            and isinstance(down[1], nn.Conv2d)
        ):
            residual = _conv(_avg_pool(x, down[0]), down[1])
        else:
            raise UnsupportedNetworkError(f"unknown residual shortcut {type(down).__name__}")
        return residual + branch

    def network(self, net: nn.Module, images: torch.Tensor, channels_last: bool) -> None:
        plan: list[Stage] = list(stages(net))
        stem = net.stem
        if not (isinstance(stem, nn.Sequential) and len(stem) == 2):
            raise UnsupportedNetworkError("the stem must be Sequential(Conv2d, BatchNorm2d)")
        last = net.lastact
        if not (isinstance(last, nn.Sequential) and len(last) == 2 and isinstance(last[1], nn.ReLU)):
            raise UnsupportedNetworkError("lastact must be Sequential(BatchNorm2d, ReLU)")
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        x = _batch_norm(_conv(images, stem[0]), stem[1])
        for stage in plan:
            if stage.edges is not None:
                x = self.infer_cell(x, stage.module, stage.edges)
            else:
                x = self.residual_block(x, stage.module)
        self.code(_batch_norm(x, last[0]), 1)
        # global pooling and the classifier come after the last ReLU: they cannot change K.


def naswot_kernel(
    network: nn.Module, images: torch.Tensor, *, match: str = DEFAULT_MATCH, channels_last: bool = True
) -> np.ndarray:
    """The exact integer NASWOT kernel (int64, ``N x N``) of a NATS-Bench cell network.

    Any network :func:`tfnas.network.stages` can walk: both spaces' networks, and xautodl's.

    ``channels_last=False`` runs the same ATen ops as the modules' own forward (NCHW), which
    gives bitwise the reference's activations; ``True`` (about twice as fast on CPU) sums in
    another order, so an activation within rounding of 0 may change sign.
    """
    check_images(network, images)
    if match not in MATCHES:
        raise ArgumentError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    acc = KernelAccumulator(int(images.shape[0]))
    with torch.inference_mode():
        walker = _Walker(acc, 2 if match == "official" else 1, merge=channels_last)
        walker.network(network, images, channels_last)
    return acc.kernel()


@register_proxy(
    "naswot", data=True, tolerance=(0.0, 1e-6),
    reference="Mellor et al., ICML 2021; BayesWatch/nas-without-training (score_networks.py)",
    variant="Official hook selection ('ReLU' in the module type: the ReLUConvBN containers count "
            "their code twice, as the published numbers did); batch 128 NATS-normalised test "
            "images; train mode; log|det K| by exact integer kernels; singular K is -inf. "
            "Tolerance: K is integer-valued, so another machine changes only slogdet's rounding "
            "(about 6e-11).")
def naswot(
    network: nn.Module, images: torch.Tensor, *, match: str = DEFAULT_MATCH, channels_last: bool = True
) -> float:
    """NASWOT score of a NATS-Bench TinyNetwork (train-mode BatchNorm); ``-inf`` when singular.

    Equal to :func:`naswot_reference` up to activations within rounding of 0. The network is
    only read: no hooks, no mode change, no running-statistics update. Any other network (one
    :func:`tfnas.network.stages` cannot walk, e.g. a torchvision ResNet) is scored by the
    definition itself, with forward hooks (:func:`hook_kernel`); its buffers and modes are
    restored afterwards.
    """
    try:
        kernel = naswot_kernel(network, images, match=match, channels_last=channels_last)
    except UnsupportedNetworkError:  # not a cell network: the definition, by forward hooks
        kernel = hook_kernel(network, images, match=match)
    return logdet(kernel)


def hook_kernel(network: nn.Module, images: torch.Tensor, *, match: str = DEFAULT_MATCH) -> np.ndarray:
    """The exact integer NASWOT kernel (int64, ``N x N``) of any network, by forward hooks.

    The definition as the official code computes it, for a network the fast path cannot walk:
    one train-mode forward under ``no_grad``; every call of a hooked module (``match``: as
    :func:`naswot_reference`) adds the codes ``input > 0`` of its input, flattened per image (an
    input that is not a tensor with the batch on dimension 0 is skipped, as the official hook's
    ``except: pass`` skips it); a network that calls no hooked module (no ReLU at all) has no
    codes and is refused in one line. The kernel is accumulated exactly in integers
    (:class:`~tfnas.proxies.kernel.KernelAccumulator`), so it equals the reference's float64 sum
    wherever that is exact. Unlike the official code it does not first run a backward pass to drop
    modules no gradient reaches: in a feed-forward classifier every ReLU's output reaches the
    logits. Buffers (BatchNorm running statistics) and modes are restored; hooks are removed.
    """
    check_images(network, images)
    if match not in MATCHES:
        raise ArgumentError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    n = int(images.shape[0])
    acc = KernelAccumulator(n)

    def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        x = inputs[0] if inputs else None
        # an in-place ReLU has already rectified its input: (relu(x) > 0) == (x > 0)
        if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[0] == n:
            acc.add(x.detach() > 0)

    _hooked_forward(network, images, match, hook)
    if acc.num_units == 0:  # K = 0: no rectified unit to code, not a singular network
        what = "nn.ReLU module" if match == "relu" else "module whose type name contains 'ReLU'"
        raise UnsupportedNetworkError(
            f"naswot reads the binary codes of rectified units, and {type(network).__name__} "
            f"calls no {what}")
    return acc.kernel()
