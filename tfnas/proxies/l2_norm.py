"""l2_norm (NAS-Bench-Suite-Zero, Krishnakumar et al. 2022): the summed L2 norms of the weights.

Definition (automl/NASLib ``naslib/predictors/utils/pruners/measures/l2_norm.py``, aggregated by
``predictive.find_measures``' ``sum_arr``): for every ``nn.Conv2d`` and ``nn.Linear`` of the
network, in ``modules()`` order, the Frobenius norm of its ``weight`` (biases and BatchNorm
parameters are not counted); the score is the sum over those layers. NASLib runs it on the
network itself (``copy_net=False``), at its initialisation, with no data: so does tfnas.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tfnas.checks import ArgumentTypeError
from tfnas.proxies.registry import register_proxy

_VARIANT = (
    "NASLib's l2_norm: the sum over every Conv2d and Linear layer (modules() order) of the "
    "Frobenius norm of its weight tensor; biases and BatchNorm parameters are excluded, as in "
    "NASLib. Data-free, on the network at the scoring rule's PyTorch-default-like init (NASLib: "
    "PyTorch default init of its own NB201 graph, which has affine-free cell BatchNorms; the "
    "weights counted are the same convolutions and classifier). Per-layer norms in float32 as "
    "NASLib takes them, summed in float64 (NASLib sums float32 tensors; below 1e-6 relative). "
    "Non-finite: a non-finite weight gives inf or NaN as the arithmetic does; a network with no "
    "Conv2d/Linear scores 0."
)


def weight_layers(network: nn.Module) -> list[torch.Tensor]:
    """The weight tensors of every Conv2d and Linear of ``network``, in ``modules()`` order."""
    if not isinstance(network, nn.Module):
        raise ArgumentTypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
    return [m.weight for m in network.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@register_proxy(
    "l2_norm",
    help="Sum over every Conv2d and Linear layer of the L2 norm of its weight, at init (data-free).",
    reference="Krishnakumar et al. 2022 (NAS-Bench-Suite-Zero); automl/NASLib "
              "naslib/predictors/utils/pruners/measures/l2_norm.py",
    variant=_VARIANT,
    tolerance=(1e-6, 1e-6),  # float32 norms of bitwise-reproducible weights: reduction order only
)
def l2_norm(network: nn.Module) -> float:
    """Sum of the L2 (Frobenius) norms of every Conv2d and Linear weight; the network is not modified."""
    weights = weight_layers(network)
    if not weights:
        return 0.0
    with torch.no_grad():  # float32 norms as NASLib takes them, in one fused call; a float64 sum
        return math.fsum(torch.stack(torch._foreach_norm([w.detach() for w in weights])).tolist())
