"""grasp (Wang et al. 2020, as Abdelfattah et al. 2021 score with it): Σ −W ⊙ (H·g).

zero-cost-nas ``measures/grasp.py`` (T=1, one iteration): ``g = ∂L/∂W`` over every Conv2d/Linear
weight from one forward, then a second forward, ``∂L/∂W`` with ``create_graph`` and the backward
of ``z = Σ g·∂L/∂W``, giving ``H·g`` (``H`` the Hessian of the loss over those weights); the score
is ``Σ −W ⊙ Hg`` over every element and layer. In train mode the second forward repeats the
first, so the shared pass takes ``H·g`` from the first forward's graph (``weight_hvp``).
Non-finite rule: a non-finite loss, gradient, product or sum gives NaN.

Spot-check tolerance (1e-1, 0.9) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (0.14
absolute (2.2e-2 relative): the float32 Hessian-gradient product is noisy); another machine's
float32 rounds differently.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.proxies.passes import ZERO_COST_NAS, gradient_pass, layer_sum
from tfnas.proxies.registry import register_proxy

BATCH = 64


@register_proxy(
    "grasp", tolerance=(1e-1, 0.9), data=True, labels=True, batch_size=BATCH, max_batch_size=64, uses=("weight_hvp",),
    reference="Wang et al., GraSP, ICLR 2020, as in Abdelfattah et al. ICLR 2021; "
              "SamsungLabs/zero-cost-nas foresight/pruners/measures/grasp.py",
    variant="Σ over every element of every Conv2d/Linear weight of −W ⊙ (H·g), g = ∂CE/∂W, "
            "H the Hessian of the mean cross-entropy over those weights, T=1, one iteration, "
            "their sign (−θ⊙Hg). H·g from the first forward's graph instead of their second "
            "forward (identical in train mode). " + ZERO_COST_NAS.format(batch=BATCH)
            + " Per-layer sums in float32 as theirs, summed in float64 (theirs: float32). "
              "Non-finite: NaN, which scoring stores as -inf (ranked last)."
            " Spot-check tolerance (1e-1, 0.9): about 10× the float32-vs-float64 difference.")
def grasp(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ −W ⊙ (H·∂CE/∂W) over Conv2d/Linear weights (zero-cost-nas grasp, T=1)."""
    products = gradient_pass(network, images, labels, frozenset({"weight_hvp"}))
    return layer_sum((-w.detach() * h).sum()
                     for h, (_, w) in zip(products.weight_hvp, products.weights, strict=True))
