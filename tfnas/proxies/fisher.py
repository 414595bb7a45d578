"""fisher (Theis et al. 2018; Turner et al. 2020, as in Abdelfattah et al. 2021).

zero-cost-nas ``measures/fisher.py``: for the output ``a`` of every Conv2d/Linear (after its bias)
and ``∂L/∂a``, the per-channel value ``F_k = ½·mean_n(Σ_spatial a⊙∂L/∂a)²``; its absolute value is
broadcast to every weight of output channel ``k`` (``weight.shape[1:]`` elements) and everything
is summed: ``Σ_layers fan_in · Σ_k |F_k|`` with ``fan_in = prod(weight.shape[1:])``. Read from the
shared pass's ``layer_fisher`` (which asks autograd for ``∂L/∂a`` only, no weight gradients).
Non-finite rule: a non-finite loss, gradient or sum gives NaN.

Spot-check tolerance (5e-3, 0.0) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (4.7e-4
relative); another machine's float32 rounds differently.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tfnas.proxies.passes import ZERO_COST_NAS, gradient_pass, layer_sum
from tfnas.proxies.registry import register_proxy

BATCH = 64


@register_proxy(
    "fisher", tolerance=(5e-3, 0.0), data=True, labels=True, batch_size=BATCH, max_batch_size=128, uses=("layer_fisher",),
    reference="Turner et al., BlockSwap, ICLR 2020 (Theis et al. 2018), as in Abdelfattah et al. "
              "ICLR 2021; SamsungLabs/zero-cost-nas foresight/pruners/measures/fisher.py",
    variant="Per Conv2d/Linear output a: F_k = ½·mean over the batch of (Σ over spatial "
            "positions of a⊙∂CE/∂a)² per output channel; |F_k| broadcast to the channel's "
            "prod(weight.shape[1:]) weights and summed over channels and layers, as theirs. "
            + ZERO_COST_NAS.format(batch=BATCH)
            + " ∂CE/∂a from autograd.grad instead of their backward hooks on an identity; "
              "per-layer channel sums in float32, the broadcast multiplication and the sum over "
              "layers in float64 (theirs: float32). Non-finite: NaN, which scoring stores as -inf (ranked last)."
            " Spot-check tolerance (5e-3, 0.0): about 10× the float32-vs-float64 difference.")
def fisher(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ_layers fan_in · Σ_channels |½·mean_n(Σ_spatial a⊙∂CE/∂a)²| (zero-cost-nas fisher)."""
    products = gradient_pass(network, images, labels, frozenset({"layer_fisher"}))
    return layer_sum(float(f.abs().sum()) * math.prod(w.shape[1:])
                     for f, (_, w) in zip(products.layer_fisher, products.weights, strict=True))
