"""synflow (Tanaka et al. 2020), as Abdelfattah et al. 2021 score networks with it.

Faithful definition (SamsungLabs/zero-cost-nas ``measures/synflow.py`` on
``get_prunable_copy(bn=False)``): on a copy of the network with BatchNorm removed, every
parameter replaced by its absolute value and cast to float64, feed one all-ones input (batch 1)
and backpropagate ``R = sum(logits)``; the score is ``sum |θ ⊙ ∂R/∂θ|`` over the weights of every
Conv2d and Linear layer. tfnas returns its natural logarithm (``-inf`` for 0), as the paper does.

Fast path for :class:`tfnas.network.CellNetwork` (both spaces' networks): with non-negative weights and a non-negative
input every activation is non-negative, so for a layer ``y = W * x`` one has
``sum(W ⊙ ∂R/∂W) = <∂R/∂y, y>``. :func:`synflow` therefore runs the BN-free network functionally
(no module copy) and asks autograd only for the gradients with respect to the layer outputs,
skipping every weight-gradient convolution. :func:`synflow_reference` is the literal recipe; the
tests prove the two equal.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from tfnas.checks import ArgumentError, ArgumentTypeError, is_integer
from tfnas.network import CellNetwork, Edge, stages
from tfnas.proxies.passes import device_of
from tfnas.proxies.registry import register_proxy

Resolution = int | tuple[int, int]


def probe_input(resolution: Resolution, channels: int,
           device: torch.device | str = "cpu") -> torch.Tensor:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, tuple)):
        raise ArgumentTypeError(
            f"resolution must be an int or an (height, width) tuple, got {type(resolution).__name__}"
        )
    height, width = (resolution, resolution) if isinstance(resolution, int) else resolution
    for side in (height, width, channels):
        if not is_integer(side) or side < 1:
            raise ArgumentError(
                f"resolution and channels must be positive ints, got resolution={resolution!r}, "
                f"channels={channels!r}"
            )
    return torch.ones(1, channels, height, width, dtype=torch.float64, device=device)


def _log(total: float) -> float:
    return math.log(total) if total > 0 else -math.inf


def _logits(output: torch.Tensor | tuple | list) -> torch.Tensor:
    # xautodl-style networks return (features, logits); plain ones return the logits.
    return output[-1] if isinstance(output, (tuple, list)) else output


def check_network(network: object) -> None:
    if not isinstance(network, nn.Module):
        raise ArgumentTypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")


def _strip_batchnorm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            _strip_batchnorm(child)


def synflow_layers_reference(
    network: nn.Module, resolution: Resolution, channels: int = 3
) -> dict[str, float]:
    """Per layer ``sum |θ ⊙ ∂R/∂θ|`` by the literal zero-cost-nas recipe, on a deep copy.

    Keys are the module names of every Conv2d and Linear in ``network``; works for any network.
    """
    check_network(network)
    x = probe_input(resolution, channels, device_of(network))
    net = copy.deepcopy(network)
    _strip_batchnorm(net)
    net.double()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            tensor.abs_()
    net.zero_grad(set_to_none=True)
    _logits(net(x)).sum().backward()
    layers = {}
    for name, m in net.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            grad = m.weight.grad
            layers[name] = 0.0 if grad is None else (m.weight * grad).abs().sum().item()
    return layers


def synflow_reference(network: nn.Module, resolution: Resolution, channels: int = 3) -> float:
    """ln synflow by the literal zero-cost-nas recipe (any network; the network is not modified)."""
    return _log(math.fsum(synflow_layers_reference(network, resolution, channels).values()))


class _Linearised:
    """Runs a cell network without BatchNorm on |θ| in float64, recording every layer output.

    It reads the network's structure from :func:`tfnas.network.stages` and each edge's ``kind``.
    """

    def __init__(self) -> None:
        self.outputs: list[torch.Tensor] = []
        self.modules: list[nn.Module] = []

    @staticmethod
    def _w(weight: torch.Tensor) -> torch.Tensor:
        return weight.detach().abs().double()

    def conv(self, m: nn.Conv2d, h: torch.Tensor) -> torch.Tensor:
        if m.bias is not None or m.groups != 1:
            raise TypeError("the synflow fast path expects bias-free, ungrouped convolutions")
        y = F.conv2d(h, self._w(m.weight), None, m.stride, m.padding, m.dilation)
        self.outputs.append(y)
        self.modules.append(m)
        return y

    def relu_conv(self, m: nn.Module, h: torch.Tensor) -> torch.Tensor:
        return self.conv(m.op[1], F.relu(h))

    def edge(self, m: nn.Module, edge: Edge, h: torch.Tensor) -> torch.Tensor:
        if edge.kind == "conv":
            return self.relu_conv(m, h)
        if edge.kind == "zero":
            return h.mul(0.0)
        if edge.kind == "skip":
            return h
        if edge.kind == "pool":
            return m.op(h)
        return self.conv(m.conv, h)  # "factorized": 1x1 conv (+ BN, removed)

    def cell(self, m: nn.Module, edges: tuple[Edge, ...], h: torch.Tensor) -> torch.Tensor:
        nodes = [h]
        for to_node in range(1, 1 + max(e.to for e in edges)):
            terms = [self.edge(m.layers[e.layer], e, nodes[e.src]) for e in edges if e.to == to_node]
            nodes.append(sum(terms[1:], terms[0]))
        return nodes[-1]

    def reduction(self, m: nn.Module, h: torch.Tensor) -> torch.Tensor:
        residual = self.conv(m.downsample[1], m.downsample[0](h))
        return residual + self.relu_conv(m.conv_b, self.relu_conv(m.conv_a, h))

    def network(self, net: CellNetwork, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(net.stem[0], x)
        for stage in stages(net):
            if stage.edges is not None:
                h = self.cell(stage.module, stage.edges, h)
            else:
                h = self.reduction(stage.module, h)
        h = F.adaptive_avg_pool2d(F.relu(h), 1).flatten(1)
        y = F.linear(h, self._w(net.classifier.weight))
        self.outputs.append(y)
        self.modules.append(net.classifier)
        bias = net.classifier.bias
        return y if bias is None else y + self._w(bias)


def synflow_layers(
    network: nn.Module, resolution: Resolution, channels: int = 3
) -> dict[str, float]:
    """Per layer ``sum |θ ⊙ ∂R/∂θ|`` (keys: Conv2d/Linear module names); fast for the networks
    of :mod:`tfnas.network` (both spaces).

    Any other module goes through :func:`synflow_layers_reference`.
    """
    check_network(network)
    if not isinstance(network, CellNetwork):
        return synflow_layers_reference(network, resolution, channels)
    x = probe_input(resolution, channels, device_of(network)).requires_grad_()
    run = _Linearised()
    logits = run.network(network, x)
    grads = torch.autograd.grad(logits.sum(), run.outputs, allow_unused=True)
    names = {id(m): name for name, m in network.named_modules()}
    layers = {
        name: 0.0 for name, m in network.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    }
    for module, y, g in zip(run.modules, run.outputs, grads, strict=True):
        if g is not None:
            layers[names[id(module)]] = torch.vdot(y.detach().flatten(), g.flatten()).item()
    return layers


@register_proxy(
    "synflow", resolution=True, bn_free=True, float64=True, tolerance=(1e-9, 0.0),
    reference="Tanaka et al. 2020 as Abdelfattah et al., ICLR 2021 use it; SamsungLabs/zero-cost-nas "
              "(foresight/pruners/measures/synflow.py)",
    variant="BatchNorm-free copy, |parameters| in float64, one all-ones input at the dataset "
            "resolution, R = sum of logits, score ln sum |W * dR/dW| over Conv2d and Linear "
            "weights (the paper takes the log; zero-cost-nas reports the raw sum, which ranks the "
            "same); ln 0 is -inf. NATS network (no conv bias), not zero-cost-nas's own NB201 model.")
def synflow(network: nn.Module, resolution: Resolution, channels: int = 3) -> float:
    """ln synflow of ``network`` at the given input resolution; the network is not modified.

    Uses the fast path for a :class:`~tfnas.network.CellNetwork` (either space) and the literal recipe
    (:func:`synflow_reference`) for any other module.
    """
    return _log(math.fsum(synflow_layers(network, resolution, channels).values()))
