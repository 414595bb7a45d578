"""plain (Mozer & Smolensky 1989, as in Abdelfattah et al. 2021): Σ ∂CE/∂W ⊙ W, signed.

zero-cost-nas ``measures/plain.py``: per Conv2d/Linear weight ``∂L/∂W ⊙ W``, summed over every
element and layer (no abs). Read from the shared pass's ``weight_grads``.
Non-finite rule: a non-finite loss, gradient or sum gives NaN.

Spot-check tolerance (1e-2, 3e-3) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (2.4e-4
absolute on a signed sum near 0.03); another machine's float32 rounds differently.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.proxies.passes import ZERO_COST_NAS, gradient_pass, layer_sum
from tfnas.proxies.registry import register_proxy

BATCH = 64


@register_proxy(
    "plain", tolerance=(1e-2, 3e-3), data=True, labels=True, batch_size=BATCH, max_batch_size=160, uses=("weight_grads",),
    reference="Mozer & Smolensky 1989, as in Abdelfattah et al. ICLR 2021; "
              "SamsungLabs/zero-cost-nas foresight/pruners/measures/plain.py",
    variant="Σ over every element of every Conv2d/Linear weight of ∂CE/∂W ⊙ W (signed, no abs), "
            "CE = mean cross-entropy. " + ZERO_COST_NAS.format(batch=BATCH)
            + " Per-layer sums in float32 as theirs, summed in float64 (theirs: float32). "
              "Non-finite: NaN, which scoring stores as -inf (ranked last)."
            " Spot-check tolerance (1e-2, 3e-3): about 10× the float32-vs-float64 difference.")
def plain(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ ∂CE/∂W ⊙ W over Conv2d/Linear weights, signed (zero-cost-nas plain)."""
    products = gradient_pass(network, images, labels, frozenset({"weight_grads"}))
    return layer_sum((g * w).sum()
                     for g, (_, w) in zip(products.weight_grads, products.weights, strict=True))
