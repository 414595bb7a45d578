"""The NATS-Bench networks, written without xautodl, from one description.

Two networks share one class, :class:`CellNetwork` (xautodl's ``DynamicShapeTinyNet``, of which
its ``TinyNetwork`` is the case of equal channels per stage):

* :class:`TinyNetwork`, the topology space's network (``infer.tiny``, C=16, N=5): ``stem``
  (conv3x3 + BN), ``cells`` (5 cells, residual reduction to 32, 5 cells, reduction to 64,
  5 cells), ``lastact`` (BN + ReLU), ``global_pooling``, ``classifier``;
* :class:`ShapeTinyNetwork`, the size space's network (``infer.shape.tiny``, N=1): one fixed
  cell at channels C1, a reduction to C2, a cell C2→C3, a reduction to C4, a cell C4→C5.

Module names and nesting follow xautodl, so state dicts load both ways. Inside a cell,
``layers[k]`` is the op on edge ``k`` in arch-string order. Every op comes from one table,
:data:`OPS` (name → :class:`OpSpec`: its factory and its ``kind``), and :func:`stages` is the one
structural traversal (for each stage: the cell or reduction block and its edges) that
``forward``, the NASWOT walker and the synflow linearisation all read.

``forward`` returns ``(features, logits)`` exactly as xautodl's networks do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from tfnas.checks import ArgumentError, ArgumentTypeError, is_integer
from tfnas.errors import TfnasError
from tfnas.space import NUM_NODES, Arch
from tfnas.spaces import NetworkLayout, SearchSpace, resolve

OpKind = Literal["zero", "skip", "factorized", "pool", "conv"]
"""What an edge computes: ``x*0``, ``x``, a 1x1 conv + BN (a skip edge that changes the channel
count), a 3x3 average pool, or ReLU → conv → BN."""


class UnsupportedNetworkError(TfnasError, TypeError):
    """A module that is not a NATS-Bench cell network, or an op it does not know."""


class ReLUConvBN(nn.Module):
    """ReLU → Conv2d (no bias) → BatchNorm2d, as xautodl's ``ReLUConvBN`` (affine BN)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op: ``x * 0`` (keeps the graph and the shape, as xautodl's ``Zero``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class _Relayout(torch.autograd.Function):
    """``x`` copied into memory format ``fmt``; its gradient copied back into ``back``.

    The backward is this function again with the formats swapped, so every order of derivative
    keeps the same discipline: the pool between two relayouts sees channels-last tensors forward,
    backward and double backward, and everything outside sees the layout it gave. A copy is exact.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, fmt: torch.memory_format,  # type: ignore[override]
                back: torch.memory_format) -> torch.Tensor:
        ctx.fmt, ctx.back = fmt, back
        return x.contiguous(memory_format=fmt)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return _Relayout.apply(grad, ctx.back, ctx.fmt), None, None


class Pooling(nn.Module):
    """``avg_pool_3x3``: stride 1, padding 1, padding not counted (xautodl's ``POOLING``).

    On CPU an NCHW batch is pooled in channels-last memory (:class:`_Relayout` on each side): the
    same windows summed in the same order and divided by the same counts, so output, gradient
    and second-order gradient are the bits ``nn.AvgPool2d`` gives on the NCHW batch
    (``tests/test_network.py`` proves it), but torch's channels-last CPU kernels are vectorised
    over channels and its NCHW ones are not (about 4x faster at batch 64; the pools were half of
    grasp's double backward).
    """

    def __init__(self) -> None:
        super().__init__()
        self.preprocess = None  # xautodl adds a 1x1 conv only when C_in != C_out: never here
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last, nchw = torch.channels_last, torch.contiguous_format
        if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous() \
                or x.is_contiguous(memory_format=last):
            return self.op(x)
        return _Relayout.apply(self.op(_Relayout.apply(x, last, nchw)), nchw, last)


class FactorizedReduce(nn.Module):
    """``skip_connect`` between different channel counts at stride 1: Conv2d 1x1 (no bias) → BN.

    xautodl's ``FactorizedReduce`` with ``stride=1``; like it, ``relu`` exists but is not applied.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.stride = 1
        self.C_in, self.C_out = c_in, c_out  # noqa: N815  (xautodl's attribute names)
        self.relu = nn.ReLU(inplace=False)
        self.conv = nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


@dataclass(frozen=True)
class OpSpec:
    """One cell operation: what it computes (``kind``) and how to build it (``factory``)."""

    kind: OpKind
    factory: Callable[[int, int], nn.Module]
    """``factory(c_in, c_out)``; only ``conv`` ops accept ``c_in != c_out``."""


OPS: dict[str, OpSpec] = {
    "none": OpSpec("zero", lambda c_in, c_out: Zero()),
    "skip_connect": OpSpec("skip", lambda c_in, c_out: nn.Identity()),
    "nor_conv_1x1": OpSpec("conv", lambda c_in, c_out: ReLUConvBN(c_in, c_out, 1, 1, 0)),
    "nor_conv_3x3": OpSpec("conv", lambda c_in, c_out: ReLUConvBN(c_in, c_out, 3, 1, 1)),
    "avg_pool_3x3": OpSpec("pool", lambda c_in, c_out: Pooling()),
}
"""The five topology-space operations, in :data:`tfnas.space.OPS` order."""

FACTORIZED = OpSpec("factorized", FactorizedReduce)
"""What ``skip_connect`` becomes on an edge whose channel count changes (xautodl's rule)."""


def op_spec(name: str, c_in: int, c_out: int) -> OpSpec:
    """The op ``name`` on an edge from ``c_in`` to ``c_out`` channels."""
    spec = OPS[name]
    if c_in == c_out or spec.kind == "conv":
        return spec
    if spec.kind == "skip":
        return FACTORIZED
    raise UnsupportedNetworkError(
        f"the op {name!r} cannot change the channel count ({c_in} -> {c_out}); only "
        "convolutions and skip connections can"
    )


@dataclass(frozen=True)
class Edge:
    """One edge of a cell: ``layers[layer]`` maps node ``src`` into node ``to``."""

    to: int
    src: int
    layer: int
    kind: OpKind


@dataclass(frozen=True)
class Stage:
    """One element of ``net.cells``: a cell with its edges, or a residual reduction block."""

    module: nn.Module
    edges: tuple[Edge, ...] | None
    """The cell's edges in layer order; ``None`` for a reduction block."""

    @property
    def is_cell(self) -> bool:
        return self.edges is not None


class InferCell(nn.Module):
    """A 4-node cell: node ``i`` is the sum of the ops on its incoming edges; node 3 is the output.

    Edges leaving the input node map ``c_in`` to ``c_out`` channels; the others keep ``c_out``.
    """

    def __init__(self, arch: Arch, c_in: int, c_out: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        self.node_IN: list[list[int]] = []  # source node of each incoming edge  # noqa: N815
        self.node_IX: list[list[int]] = []  # index into self.layers of each edge  # noqa: N815
        edges = []
        for to_node in range(1, NUM_NODES):
            sources, indices = [], []
            for tn, src, op in arch.edges():
                if tn == to_node:
                    spec = op_spec(op, c_in if src == 0 else c_out, c_out)
                    edges.append(Edge(to_node, src, len(self.layers), spec.kind))
                    sources.append(src)
                    indices.append(len(self.layers))
                    self.layers.append(spec.factory(c_in if src == 0 else c_out, c_out))
            self.node_IN.append(sources)
            self.node_IX.append(indices)
        self.edges: tuple[Edge, ...] = tuple(edges)
        self.in_dim = c_in
        self.out_dim = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to_node in range(1, NUM_NODES):
            nodes.append(
                sum(self.layers[e.layer](nodes[e.src]) for e in self.edges if e.to == to_node)
            )
        return nodes[-1]


class ResNetBasicblock(nn.Module):
    """The stride-2 residual reduction block: two ReLUConvBN 3x3 plus avgpool(2) + 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )
        self.in_dim = c_in
        self.out_dim = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def stage_plan(channels: tuple[int, ...]) -> list[tuple[int, int, bool]]:
    """``(c_in, c_out, is_reduction)`` of each element of ``cells`` for per-layer ``channels``
    (``3N + 2`` of them: N cells, a reduction, N cells, a reduction, N cells)."""
    n = len(channels) // 3
    if len(channels) % 3 != 2 or n < 1:
        raise UnsupportedNetworkError(f"a cell network has 3N+2 layers, got {len(channels)}")
    reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
    plan, c_prev = [], channels[0]
    for c_curr, reduction in zip(channels, reductions, strict=True):
        plan.append((c_prev, c_curr, reduction))
        c_prev = c_curr
    return plan


class CellNetwork(nn.Module):
    """Stem, one cell per non-reduction layer, residual reductions, BN-ReLU, pooling, linear."""

    def __init__(self, cell: Arch, channels: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels[0], kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels[0]),
        )
        self.cells = nn.ModuleList()
        for c_in, c_out, reduction in stage_plan(channels):
            block = ResNetBasicblock(c_in, c_out) if reduction else InferCell(cell, c_in, c_out)
            self.cells.append(block)
        c_last = channels[-1]
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_last), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.stem(x)
        for stage in stages(self):
            feature = stage.module(feature)
        out = self.global_pooling(self.lastact(feature))
        out = out.view(out.size(0), -1)
        return out, self.classifier(out)


class TinyNetwork(CellNetwork):
    """NATS-Bench's topology-space network for one cell (``infer.tiny``, C=16, N=5)."""

    def __init__(self, arch: object, layout: NetworkLayout, num_classes: int) -> None:
        super().__init__(layout.cell, layout.channels, num_classes)
        self.arch = arch
        self._C = layout.channels[0]  # noqa: N815  (xautodl's attribute names)
        self._layerN = len(layout.channels) // 3  # noqa: N815
        self._Layer = len(self.cells)  # noqa: N815


class ShapeTinyNetwork(CellNetwork):
    """NATS-Bench's size-space network for one channel configuration (``infer.shape.tiny``)."""

    def __init__(self, arch: object, layout: NetworkLayout, num_classes: int) -> None:
        super().__init__(layout.cell, layout.channels, num_classes)
        self.arch = arch
        self.genotype = layout.cell
        self._channels = layout.channels  # xautodl's attribute names
        self._num_stage = len(layout.channels) // 3
        self._num_layer = len(self.cells)


FAMILIES: dict[str, type[TinyNetwork] | type[ShapeTinyNetwork]] = {
    "infer.tiny": TinyNetwork,
    "infer.shape.tiny": ShapeTinyNetwork,
}
"""The network class of each :attr:`NetworkLayout.family <tfnas.spaces.NetworkLayout.family>`."""


# --- the one structural traversal ----------------------------------------------------------


def _foreign_kind(module: nn.Module) -> OpKind:
    """The kind of an op module of another implementation (xautodl's), by its structure."""
    seq = getattr(module, "op", None)
    if (isinstance(seq, nn.Sequential) and len(seq) == 3 and isinstance(seq[0], nn.ReLU)
            and isinstance(seq[1], nn.Conv2d)):
        return "conv"
    name = type(module).__name__
    if isinstance(module, nn.Identity) or name == "Identity":
        return "skip"
    if name == "Zero" and getattr(module, "C_in", 0) == getattr(module, "C_out", 0):
        return "zero"
    if isinstance(seq, nn.AvgPool2d) and getattr(module, "preprocess", None) is None:
        return "pool"
    if name == "FactorizedReduce" and getattr(module, "stride", None) == 1:
        return "factorized"
    raise UnsupportedNetworkError(f"unknown cell operation module {name}")


def cell_edges(cell: nn.Module) -> tuple[Edge, ...]:
    """The edges of a cell: read from :class:`InferCell`, or derived for an xautodl cell."""
    if isinstance(cell, InferCell):
        return cell.edges
    node_in, node_ix = getattr(cell, "node_IN", None), getattr(cell, "node_IX", None)
    layers = getattr(cell, "layers", None)
    if node_in is None or node_ix is None or layers is None:
        raise UnsupportedNetworkError("a cell needs layers, node_IN and node_IX")
    return tuple(
        Edge(to, src, i, _foreign_kind(layers[i]))
        for to, (indices, sources) in enumerate(zip(node_ix, node_in, strict=True), start=1)
        for i, src in zip(indices, sources, strict=True)
    )


def stages(net: nn.Module) -> Iterator[Stage]:
    """Each element of ``net.cells`` with its edges (a cell) or ``None`` (a reduction block)."""
    for name in ("stem", "cells", "lastact"):
        if not hasattr(net, name):
            raise UnsupportedNetworkError(
                f"expected a NATS-Bench TinyNetwork (stem, cells, lastact); "
                f"{type(net).__name__} has no {name!r}"
            )
    for cell in net.cells:
        if hasattr(cell, "layers"):
            yield Stage(cell, cell_edges(cell))
        elif hasattr(cell, "conv_a") and hasattr(cell, "conv_b"):
            yield Stage(cell, None)
        else:
            raise UnsupportedNetworkError(f"unknown cell module {type(cell).__name__}")


def is_cell_network(net: nn.Module) -> bool:
    """True when :func:`stages` can walk ``net`` (either space's network, or xautodl's): the
    structure the NATS-specific fast paths and the AZ-NAS components read."""
    try:
        for _ in stages(net):
            pass
    except UnsupportedNetworkError:
        return False
    return True


# --- building ------------------------------------------------------------------------------


def check_num_classes(num_classes: object) -> int:
    """``num_classes`` as a positive int, or a clear error."""
    if not is_integer(num_classes):
        raise ArgumentTypeError(f"num_classes must be a positive int, got {type(num_classes).__name__}")
    if num_classes < 1:
        raise ArgumentError(f"num_classes must be a positive int, got {num_classes}")
    return num_classes


def skeleton(arch: object, num_classes: int,
             space: str | SearchSpace | None = None) -> CellNetwork:
    """The network with uninitialised (``torch.empty``) parameters, built without any RNG draw.

    ``arch`` is an architecture of ``space`` or its spelling (as :func:`tfnas.spaces.resolve`
    reads them: without ``space`` an architecture names its own space and a string is a topology
    cell); the space's :meth:`~tfnas.spaces.SearchSpace.network_layout` says what to build.
    Modules are created on the meta device, so their constructors' default init (which draws from
    the global RNG) never runs; callers fill the parameters themselves.
    """
    arch, found = resolve(arch, space)
    layout = found.network_layout(arch)
    check_num_classes(num_classes)
    with torch.device("meta"):
        net = FAMILIES[layout.family](arch, layout, num_classes)
    return _materialise(net)


def _materialise(net: CellNetwork) -> CellNetwork:
    """Give every meta tensor CPU storage (uninitialised): what ``to_empty`` does, in half the
    time, because it skips ``Module._apply``'s per-tensor bookkeeping."""
    for module in net.modules():
        for name, p in module._parameters.items():
            if p is not None:
                module._parameters[name] = nn.Parameter(
                    torch.empty(p.shape, dtype=p.dtype), requires_grad=p.requires_grad
                )
        for name, b in module._buffers.items():
            if b is not None:
                module._buffers[name] = torch.empty(b.shape, dtype=b.dtype)
    return net


def build_network(
    arch: object, num_classes: int, generator: torch.Generator | None = None,
    space: str | SearchSpace | None = None,
) -> CellNetwork:
    """The NATS-Bench network for ``arch`` (of ``space``, as :func:`skeleton` reads them),
    initialised from ``generator``.

    A topology cell (an ``Arch`` or its string) gives a :class:`TinyNetwork`, a size-space
    configuration (a ``SizeArch``, or its string with ``space="sss"``) a
    :class:`ShapeTinyNetwork`. Initialisation is
    PyTorch's default (see :func:`tfnas.init.init_parameters`) drawn from ``generator``; with
    ``generator=None`` a generator seeded with :data:`tfnas.init.DEFAULT_SEED` is used. The
    global RNG is never read or advanced. The network is returned in train mode; ``forward``
    returns ``(features, logits)``.
    """
    from tfnas.init import check_generator, default_generator, init_parameters

    generator = default_generator() if generator is None else check_generator(generator)
    net = skeleton(arch, num_classes, space)
    init_parameters(net, generator)
    return net.train()
