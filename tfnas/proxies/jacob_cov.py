"""jacob_cov (Mellor et al. 2020 v1, as Abdelfattah et al. 2021 score with it).

zero-cost-nas ``measures/jacob_cov.py``: ``J = ∂Σlogits/∂x`` (the input gradient of the summed
logits of the whole batch), one flattened row per image; ``C = corrcoef(J)`` (numpy, float64);
eigenvalues ``λ`` of ``C``; score ``−Σ[log(λ+k) + 1/(λ+k)]``, ``k = 1e-5``. ``C`` is symmetric, so
the eigenvalues come from ``numpy.linalg.eigvalsh`` of its symmetrised copy (theirs: ``eig``,
whose result can turn complex on a nearly degenerate spectrum). ``J`` is the shared pass's
``input_jacobian`` (autograd for the input only, no weight gradients).

Non-finite rule: NaN when ``C`` is undefined (an image whose Jacobian row is constant, e.g. a
network whose output ignores its input, a non-finite Jacobian, or a batch of one); theirs returns NaN there too
(``eig`` raises on NaN and the exception is turned into NaN).

Spot-check tolerance (1e-3, 3e-2) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (3.1e-3
absolute on about -69); another machine's float32 rounds differently.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from tfnas.proxies.passes import ZERO_COST_NAS, gradient_pass
from tfnas.proxies.registry import register_proxy

BATCH = 64
K = 1e-5


def jacob_cov_score(jacobian: np.ndarray) -> float:
    """``−Σ[log(λ+k) + 1/(λ+k)]`` over the eigenvalues of ``corrcoef(jacobian)`` (rows: images)."""
    if jacobian.ndim != 2 or len(jacobian) < 2 or not np.isfinite(jacobian).all():
        return math.nan  # one image has no correlation matrix (theirs: eig of a 0-d array → NaN)
    with np.errstate(divide="ignore", invalid="ignore"):
        corrs = np.corrcoef(jacobian)
    if not np.isfinite(corrs).all():
        return math.nan
    eigenvalues = np.linalg.eigvalsh((corrs + corrs.T) / 2)
    shifted = eigenvalues + K
    if (shifted <= 0).any():  # not reachable for a correlation matrix (λ ≥ 0 up to rounding)
        return math.nan
    return float(-np.sum(np.log(shifted) + 1.0 / shifted))


@register_proxy(
    "jacob_cov", tolerance=(1e-3, 3e-2), data=True, batch_size=BATCH, max_batch_size=160, uses=("input_jacobian",),
    reference="Mellor et al., Neural Architecture Search without Training, arXiv v1 2020, as in "
              "Abdelfattah et al. ICLR 2021; SamsungLabs/zero-cost-nas "
              "foresight/pruners/measures/jacob_cov.py",
    variant="J = ∂Σlogits/∂x over the whole batch (one row per image), C = numpy corrcoef(J), "
            "score −Σ[log(λ+1e-5) + 1/(λ+1e-5)] over the eigenvalues λ of C, from eigvalsh of "
            "the symmetrised C (theirs: eig; equal up to rounding, always real); no labels "
            "(theirs ignores them). " + ZERO_COST_NAS.format(batch=BATCH)
            + " Non-finite: NaN when a row of J is constant or J is non-finite (theirs: NaN too); scoring stores NaN as -inf (ranked last)."
            " Spot-check tolerance (1e-3, 3e-2): about 10× the float32-vs-float64 difference.")
def jacob_cov(network: nn.Module, images: torch.Tensor) -> float:
    """−Σ[log(λ+k) + 1/(λ+k)] over the eigenvalues of the Jacobian correlation (zero-cost-nas)."""
    products = gradient_pass(network, images, None, frozenset({"input_jacobian"}))
    jacobian = products.input_jacobian
    return jacob_cov_score(jacobian.reshape(jacobian.shape[0], -1).cpu().numpy())
