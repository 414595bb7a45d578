"""grad_norm (Abdelfattah et al. 2021): the sum over layers of the L2 norm of ∂CE/∂W.

zero-cost-nas ``measures/grad_norm.py``: per Conv2d/Linear weight ``‖∂L/∂W‖₂`` (a layer without
a gradient contributes 0), summed over layers. Read from the shared pass's ``weight_grads``.
Non-finite rule: a non-finite loss, gradient or sum gives NaN (the quantity is undefined).

Spot-check tolerance (1e-3, 0.0) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (7.8e-5
relative); another machine's float32 rounds differently.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.proxies.passes import ZERO_COST_NAS, gradient_pass, layer_sum
from tfnas.proxies.registry import register_proxy

BATCH = 64


@register_proxy(
    "grad_norm", tolerance=(1e-3, 0.0), data=True, labels=True, batch_size=BATCH, max_batch_size=160, uses=("weight_grads",),
    reference="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021; "
              "SamsungLabs/zero-cost-nas foresight/pruners/measures/grad_norm.py",
    variant="Σ over Conv2d/Linear weights of ‖∂CE/∂W‖₂ (Frobenius norm per layer, no abs "
            "needed), CE = mean cross-entropy against the batch labels. "
            + ZERO_COST_NAS.format(batch=BATCH)
            + " Per-layer norms in float32 as theirs, summed in float64 (theirs: float32). "
              "Non-finite: NaN, which scoring stores as -inf (ranked last)."
            " Spot-check tolerance (1e-3, 0.0): about 10× the float32-vs-float64 difference.")
def grad_norm(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ over Conv2d/Linear layers of ‖∂CE/∂W‖₂ (zero-cost-nas grad_norm)."""
    products = gradient_pass(network, images, labels, frozenset({"weight_grads"}))
    return layer_sum(g.norm() for g in products.weight_grads)
