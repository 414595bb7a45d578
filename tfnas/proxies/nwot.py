"""nwot: NASLib's single-forward NASWOT variant (Mellor et al. 2021 v2, NAS-Bench-Suite-Zero).

NASLib ``naslib/predictors/utils/pruners/measures/nwot.py``: a forward hook on every ``nn.ReLU``
module reads the module's *input* ``x`` (flattened per image) and its binary code ``c = x > 0``;
the kernel ``K = Σ_ReLU [c·cᵀ + (1−c)·(1−c)ᵀ]`` counts, for each pair of images, the units on
which their codes agree; the score is ``log|det K|`` (``slogdet``'s second value, the sign
dropped). Unlike tfnas's official ``naswot`` (one count per ReLUConvBN container, its own rules),
each ``nn.ReLU`` call counts once and nothing else is hooked.

``K`` is computed as ``2·c·cᵀ − s_i − s_j + D`` per ReLU (``s`` the row sums of ``c``, ``D`` its
width): one matrix product instead of two, exact in float32 while ``D < 2²⁴`` (integers), the
running sum in float64 as theirs. Non-finite rule: ``-inf`` when ``K`` is singular (e.g. two
images with identical codes everywhere): ``log 0``, the worst score, as ``slogdet`` gives it. A
network that calls no ``nn.ReLU`` has no codes at all (``K = 0``): refused in one line
(:class:`~tfnas.network.UnsupportedNetworkError`), not scored.

Spot-check tolerance (1e-6, 1e-3) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (3.2e-5
absolute: a unit whose input is near 0 flips its code); another machine's float32 rounds
differently.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tfnas.network import UnsupportedNetworkError
from tfnas.proxies.passes import gradient_pass
from tfnas.proxies.registry import register_proxy

BATCH = 32
_EXACT = 2 ** 24  # float32 represents every integer up to here


def nwot_kernel(codes: tuple[torch.Tensor, ...] | list[torch.Tensor], batch: int) -> np.ndarray:
    """``Σ [c·cᵀ + (1−c)·(1−c)ᵀ]`` over the (N, D) boolean code matrices (on their device), as
    float64 numpy."""
    device = codes[0].device if len(codes) else torch.device("cpu")
    kernel = torch.zeros(batch, batch, dtype=torch.float64, device=device)
    for code in codes:
        width = code.shape[1]
        dtype = torch.float32 if width < _EXACT else torch.float64
        c = code.to(dtype)
        same = c @ c.T
        ones = c.sum(1)
        kernel += (2 * same - ones[:, None] - ones[None, :] + width).double()
    return kernel.cpu().numpy()


@register_proxy(
    "nwot", tolerance=(1e-6, 1e-3), data=True, batch_size=BATCH, uses=("relu_inputs",),
    reference="Mellor et al., Neural Architecture Search without Training, ICML 2021, as in "
              "Krishnakumar et al. NAS-Bench-Suite-Zero, NeurIPS 2022; automl/NASLib "
              "naslib/predictors/utils/pruners/measures/nwot.py",
    variant="NASLib's nwot: one train-mode forward, binary codes of the input of every nn.ReLU "
            "module call (the ReLUs inside ReLUConvBN and the final BN-ReLU; each counted once), "
            "K = Σ c·cᵀ + (1−c)·(1−c)ᵀ, score slogdet(K)'s log|det| (sign dropped). K from one "
            "exact float32 product per ReLU (2·c·cᵀ − s_i − s_j + D) instead of two; equal "
            "bits. The NATS-Bench network (xautodl TinyNetwork) instead of NASLib's graph model "
            "of NAS-Bench-201 (NASLib's hook skips its own 'naslib' module types, which hold "
            "nn.ReLUs that are hooked), at the scoring rule's init; one batch of 32 "
            "NATS-normalised test images instead of NASLib's training images; no labels; no deep "
            "copy. Non-finite: -inf for a singular K (log 0), never NASLib's -1e8 sentinel."
            " Spot-check tolerance (1e-6, 1e-3): about 10× the float32-vs-float64 difference.")
def nwot(network: nn.Module, images: torch.Tensor) -> float:
    """log|det K| of NASLib's per-nn.ReLU binary-code kernel (one forward)."""
    products = gradient_pass(network, images, None, frozenset({"relu_inputs"}))
    if not products.relu_inputs:  # K = 0: nothing to code, not a singular network
        raise UnsupportedNetworkError(
            f"nwot reads the binary codes of nn.ReLU inputs, and {type(network).__name__} calls "
            "no nn.ReLU module")
    _, logdet = np.linalg.slogdet(nwot_kernel(products.relu_inputs, images.shape[0]))
    return float(logdet)
