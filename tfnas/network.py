"""The NATS-Bench topology-space network (TinyNetwork, C=16, N=5), written without xautodl.

Module names and nesting follow ``xautodl.models.get_cell_based_tiny_net`` with config
``{'name': 'infer.tiny', 'C': 16, 'N': 5, ...}`` so that state dicts load both ways:
``stem`` (conv3x3 + BN), ``cells`` (5 cells, residual reduction to 32, 5 cells, reduction to 64,
5 cells), ``lastact`` (BN + ReLU), ``global_pooling``, ``classifier``. Inside a cell,
``layers[k]`` is the op on edge ``k`` in arch-string order; ``nor_conv_*`` ops are
``op = Sequential(ReLU, Conv2d(bias=False), BatchNorm2d)``.

``forward`` returns ``(features, logits)`` exactly as xautodl's TinyNetwork does: the pooled
64-dim features and the class logits.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.space import NUM_NODES, Arch, as_arch

C_INIT = 16
"""Channels of the first stage (NATS-Bench topology space)."""
N_CELLS = 5
"""Cells per stage."""


Device = torch.device | str | None


def _batchnorm(channels: int, batchnorm: bool, device: Device) -> nn.Module:
    return nn.BatchNorm2d(channels, device=device) if batchnorm else nn.Identity()


class ReLUConvBN(nn.Module):
    """ReLU → Conv2d (no bias) → BatchNorm2d, as xautodl's ``ReLUConvBN`` (affine BN)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        batchnorm: bool = True,
        device: Device = None,
    ) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                c_in, c_out, kernel, stride=stride, padding=padding, bias=False, device=device
            ),
            _batchnorm(c_out, batchnorm, device),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op: ``x * 0`` (keeps the graph and the shape, as xautodl's ``Zero``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class Pooling(nn.Module):
    """``avg_pool_3x3``: stride 1, padding 1, padding not counted (xautodl's ``POOLING``)."""

    def __init__(self) -> None:
        super().__init__()
        self.preprocess = None  # xautodl adds a 1x1 conv only when C_in != C_out: never here
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def _make_op(name: str, channels: int, batchnorm: bool, device: Device) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0, batchnorm, device)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1, batchnorm, device)
    if name == "avg_pool_3x3":
        return Pooling()
    raise ValueError(f"unknown operation {name!r}")  # unreachable: Arch validates its ops


class InferCell(nn.Module):
    """A 4-node cell: node ``i`` is the sum of the ops on its incoming edges; node 3 is the output."""

    def __init__(
        self, arch: Arch, channels: int, batchnorm: bool = True, device: Device = None
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        self.node_IN: list[list[int]] = []  # source node of each incoming edge  # noqa: N815
        self.node_IX: list[list[int]] = []  # index into self.layers of each edge  # noqa: N815
        for to_node in range(1, NUM_NODES):
            sources, indices = [], []
            for tn, src, op in arch.edges():
                if tn == to_node:
                    sources.append(src)
                    indices.append(len(self.layers))
                    self.layers.append(_make_op(op, channels, batchnorm, device))
            self.node_IN.append(sources)
            self.node_IX.append(indices)
        self.in_dim = channels
        self.out_dim = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for indices, sources in zip(self.node_IX, self.node_IN, strict=True):
            nodes.append(
                sum(self.layers[i](nodes[s]) for i, s in zip(indices, sources, strict=True))
            )
        return nodes[-1]


class ResNetBasicblock(nn.Module):
    """The stride-2 residual reduction block: two ReLUConvBN 3x3 plus avgpool(2) + 1x1 shortcut."""

    def __init__(
        self, c_in: int, c_out: int, batchnorm: bool = True, device: Device = None
    ) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, batchnorm, device)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, batchnorm, device)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False, device=device),
        )
        self.in_dim = c_in
        self.out_dim = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    """NATS-Bench's cell-based network for one topology cell.

    ``batchnorm=False`` builds the same network with every BatchNorm replaced by an identity
    (same parameter names otherwise). ``device`` is passed to every layer, as PyTorch's own
    modules take it; constructing on a real device runs PyTorch's default init from the global
    RNG, so use :func:`build_network` (or :func:`skeleton`) instead.
    """

    def __init__(
        self, arch: Arch, num_classes: int, batchnorm: bool = True, device: Device = None
    ) -> None:
        super().__init__()
        self.arch = arch
        self.num_classes = num_classes
        self.batchnorm = batchnorm
        self._C = C_INIT  # noqa: N815  (xautodl's attribute names)
        self._layerN = N_CELLS  # noqa: N815
        c = C_INIT
        self.stem = nn.Sequential(
            nn.Conv2d(3, c, kernel_size=3, padding=1, bias=False, device=device),
            _batchnorm(c, batchnorm, device),
        )
        channels = [c] * N_CELLS + [2 * c] + [2 * c] * N_CELLS + [4 * c] + [4 * c] * N_CELLS
        reductions = [False] * N_CELLS + [True] + [False] * N_CELLS + [True] + [False] * N_CELLS
        self.cells = nn.ModuleList()
        c_prev = c
        for c_curr, reduction in zip(channels, reductions, strict=True):
            if reduction:
                cell: nn.Module = ResNetBasicblock(c_prev, c_curr, batchnorm, device)
            else:
                cell = InferCell(arch, c_curr, batchnorm, device)
            self.cells.append(cell)
            c_prev = c_curr
        self._Layer = len(self.cells)  # noqa: N815
        self.lastact = nn.Sequential(_batchnorm(c_prev, batchnorm, device), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes, device=device)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        out = self.global_pooling(self.lastact(feature))
        out = out.view(out.size(0), -1)
        return out, self.classifier(out)


def check_num_classes(num_classes: object) -> int:
    """``num_classes`` as a positive int, or a clear error."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be a positive int, got {type(num_classes).__name__}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes}")
    return num_classes


def skeleton(arch: Arch | str, num_classes: int, batchnorm: bool = True) -> TinyNetwork:
    """The network with uninitialised (``torch.empty``) parameters, built without any RNG draw.

    Modules are created on the meta device so that their constructors' default init (which draws
    from the global RNG) never runs; callers fill the parameters themselves.
    """
    arch = as_arch(arch)
    check_num_classes(num_classes)
    return _materialise(TinyNetwork(arch, num_classes, batchnorm, device="meta"))


def _materialise(net: TinyNetwork) -> TinyNetwork:
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
    arch: Arch | str, num_classes: int, generator: torch.Generator | None = None
) -> TinyNetwork:
    """The NATS-Bench TinyNetwork for ``arch``, initialised from ``generator``.

    Initialisation is PyTorch's default (see :func:`tfnas.init.init_parameters`) drawn from
    ``generator``; with ``generator=None`` a generator seeded with
    :data:`tfnas.init.DEFAULT_SEED` is used. The global RNG is never read or advanced.
    The network is returned in train mode; ``forward`` returns ``(features, logits)``.
    """
    from tfnas.init import default_generator, init_parameters

    if generator is None:
        generator = default_generator()
    elif not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    net = skeleton(arch, num_classes)
    init_parameters(net, generator)
    return net.train()
