"""Size proxies: parameter count and FLOPs, counted by NATS-Bench's rule.

NATS-Bench's cost info (``get_cost_info(i, dataset)``) comes from xautodl's
``utils/flop_benchmark.get_model_infos``: parameters are ``sum(p.numel())`` over all parameters
(reported in millions), and "FLOPs" are multiply-accumulates (MACs) of one image through every
``Conv2d`` (``k_h * k_w * C_in / groups * C_out * H_out * W_out``, plus ``C_out * H_out * W_out``
with a bias) and every ``Linear`` (``in * out``, plus ``out`` with a bias); pooling, BatchNorm,
ReLU and additions are not counted. :func:`flops` counts the same and returns raw MACs (the
archive reports millions).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from tfnas.checks import ArgumentTypeError
from tfnas.proxies.registry import register_proxy


@register_proxy(
    "params", tolerance=(0.0, 0.0),
    reference="NATS-Bench cost info (D-X-Y/NATS-Bench; xautodl utils/flop_benchmark.py)",
    variant="Every parameter tensor counted, as NATS-Bench counts them; an exact count.")
def params(network: nn.Module) -> float:
    """Number of parameters of ``network`` (every parameter tensor, trainable or not)."""
    if not isinstance(network, nn.Module):
        raise ArgumentTypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
    return float(sum(p.numel() for p in network.parameters()))


def _conv_macs(m: nn.Conv2d, output: torch.Tensor) -> int:
    k_h, k_w = m.kernel_size
    positions = output.shape[-2] * output.shape[-1]
    macs = k_h * k_w * (m.in_channels // m.groups) * m.out_channels * positions
    if m.bias is not None:
        macs += m.out_channels * positions
    return macs


def _linear_macs(m: nn.Linear) -> int:
    return m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)


@register_proxy(
    "flops", resolution=True, tolerance=(0.0, 0.0),
    reference="NATS-Bench cost info (D-X-Y/NATS-Bench; xautodl utils/flop_benchmark.py)",
    variant="Multiply-accumulates of Conv2d and Linear layers at batch 1 (NATS-Bench's rule; "
            "NASLib's tensorwatch count differs); an exact count.")
def flops(network: nn.Module, resolution: int | tuple[int, int], channels: int = 3) -> float:
    """MACs of one forward pass at batch 1 and the given input resolution (NATS-Bench's rule).

    Runs a copy of the network in eval mode under ``no_grad`` so that the caller's network (its
    BatchNorm statistics, its mode) is left untouched.
    """
    from tfnas.proxies.passes import device_of
    from tfnas.proxies.synflow import probe_input

    if not isinstance(network, nn.Module):
        raise ArgumentTypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
    x = probe_input(resolution, channels, device_of(network)).float()
    net = copy.deepcopy(network).eval().float()
    total = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += _conv_macs(module, output)
        else:
            total += _linear_macs(module)

    handles = [
        m.register_forward_hook(count)
        for m in net.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    return float(total)
