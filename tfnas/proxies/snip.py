"""snip (Lee et al. 2019, as Abdelfattah et al. 2021 score with it): Σ |∂CE/∂W ⊙ W|.

zero-cost-nas ``measures/snip.py`` multiplies every Conv2d/Linear weight by a mask of ones and
takes ``|∂L/∂mask|``; since ``∂L/∂mask = ∂L/∂W ⊙ W`` at mask = 1, it is read from the shared
pass's ``weight_grads`` without the mask. Summed over every element of every layer.
Non-finite rule: a non-finite loss, gradient or sum gives NaN.

Spot-check tolerance (1e-3, 0.0) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (5.9e-5
relative); another machine's float32 rounds differently.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.proxies.passes import ZERO_COST_NAS, gradient_pass, layer_sum
from tfnas.proxies.registry import register_proxy

BATCH = 64


@register_proxy(
    "snip", tolerance=(1e-3, 0.0), data=True, labels=True, batch_size=BATCH, max_batch_size=160, uses=("weight_grads",),
    reference="Lee et al., SNIP, ICLR 2019, as in Abdelfattah et al. ICLR 2021; "
              "SamsungLabs/zero-cost-nas foresight/pruners/measures/snip.py",
    variant="Σ over every element of every Conv2d/Linear weight of |∂CE/∂W ⊙ W| (their "
            "|∂CE/∂mask| at mask = 1, computed without the mask), CE = mean cross-entropy. "
            + ZERO_COST_NAS.format(batch=BATCH)
            + " Per-layer sums in float32 as theirs, summed in float64 (theirs: float32). "
              "Non-finite: NaN, which scoring stores as -inf (ranked last)."
            " Spot-check tolerance (1e-3, 0.0): about 10× the float32-vs-float64 difference.")
def snip(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ |∂CE/∂W ⊙ W| over Conv2d/Linear weights (zero-cost-nas snip)."""
    products = gradient_pass(network, images, labels, frozenset({"weight_grads"}))
    return layer_sum((g * w).abs().sum()
                     for g, (_, w) in zip(products.weight_grads, products.weights, strict=True))
