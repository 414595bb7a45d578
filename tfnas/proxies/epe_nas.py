"""epe_nas (Lopes et al. 2021) as NASLib's NAS-Bench-Suite-Zero computes it.

NASLib ``naslib/predictors/utils/pruners/measures/epe_nas.py``: ``J = ∂Σlogits/∂x`` (one flattened
row per image, as jacob_cov); the images are grouped by label (classes in order of first
appearance); per class ``c`` with correlation matrix ``C_c = corrcoef(J_c)`` (rows of that class),
``s_c = Σ log(|C_c| + k)``, ``k = 1e-5``. With ``n`` = the number of logits:

- ``n ≤ 100`` (CIFAR-10, CIFAR-100): score ``Σ_c |s_c|``. A class with one image has
  ``C_c = 1`` (numpy's corrcoef of one row), so it adds ``log(1 + k)``.
- ``n > 100`` (ImageNet16-120): ``s_c`` is divided by the side of ``C_c`` and the score is
  ``Σ_c Σ_c' |s_c − s_c'| / m`` over the ``m`` classes kept. A class with one image is skipped:
  NASLib's ``len()`` of numpy's 0-d result raises and its ``except: continue`` drops it. With no
  class kept the score is 0.

A correlation between rows of ``J`` depends on those two rows only, so every ``C_c`` is a block of
the one ``corrcoef(J)`` of the batch. Non-finite rule: NaN when a correlation is undefined (a
constant Jacobian row in a class with at least two images, or, for ``n ≤ 100``, in a one-image
class: numpy's ``c / c`` is then 0/0) or ``J`` is non-finite; NASLib gives NaN there too.

Spot-check tolerance (5e-2, 1e-6) (relative, absolute; ``math.isclose``): about ten times the
largest float32-vs-float64 difference measured on 6 random cells at the reference batch (4e-3
relative: log(|c|+1e-5) is steep at near-zero correlations); another machine's float32 rounds
differently.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from tfnas.proxies.passes import gradient_pass
from tfnas.proxies.registry import register_proxy

BATCH = 32
K = 1e-5


def epe_nas_score(jacobian: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """NASLib's per-class Jacobian-correlation score (module docstring) of ``jacobian`` rows."""
    if not np.isfinite(jacobian).all():
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        corrs = np.corrcoef(jacobian) if len(jacobian) > 1 else np.ones((1, 1))
        variance = jacobian.var(axis=1)
    _, first = np.unique(labels, return_index=True)
    classes = labels[np.sort(first)]
    scores = []
    for c in classes:
        rows = np.flatnonzero(labels == c)
        if len(rows) == 1:
            if n_classes > 100:
                continue
            scores.append(math.log(1.0 + K) if variance[rows[0]] > 0 else math.nan)
            continue
        block = corrs[np.ix_(rows, rows)]
        s = float(np.sum(np.log(np.abs(block) + K)))
        scores.append(s / len(rows) if n_classes > 100 else s)
    values = np.asarray(scores, dtype=np.float64)
    if n_classes <= 100:
        return float(np.sum(np.abs(values)))
    if len(values) == 0:
        return 0.0
    return float(np.sum(np.abs(values[:, None] - values[None, :])) / len(values))


@register_proxy(
    "epe_nas", tolerance=(5e-2, 1e-6), data=True, labels=True, batch_size=BATCH, max_batch_size=160, uses=("input_jacobian", "logits"),
    reference="Lopes et al., EPE-NAS, ICANN 2021, as in Krishnakumar et al. NAS-Bench-Suite-Zero, "
              "NeurIPS 2022; automl/NASLib naslib/predictors/utils/pruners/measures/epe_nas.py",
    variant="NASLib's rule: J = ∂Σlogits/∂x, rows grouped by label, s_c = Σ log(|corrcoef(J_c)|"
            "+1e-5); ≤ 100 logits: Σ_c |s_c| (a one-image class adds log(1+1e-5)); > 100 logits "
            "(ImageNet16-120): s_c divided by the class's image count, score Σ_c Σ_c' |s_c−s_c'| "
            "over kept classes / their count, one-image classes dropped (NASLib's len() of a 0-d "
            "array raising), 0 with none kept. Blocks of one corrcoef of the batch instead of one "
            "corrcoef per class (equal up to rounding). The NATS-Bench network (xautodl "
            "TinyNetwork) instead of NASLib's graph model of NAS-Bench-201, train mode, at the "
            "scoring rule's init; one batch of 32 NATS-normalised test images and their labels "
            "instead of NASLib's training images; no deep copy. Non-finite: NaN when a "
            "correlation is undefined (a constant Jacobian row) or J is non-finite (NASLib: NaN "
            "too, never its -1e8 sentinel; scoring stores NaN as -inf, ranked last). At batch 32 on ImageNet16-120 few classes repeat: "
            "with at most one class kept the score is 0 whatever the cell (so it is on tfnas's "
            "seed-0 batch, where one class repeats)."
            " Spot-check tolerance (5e-2, 1e-6): about 10× the float32-vs-float64 difference.")
def epe_nas(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """NASLib's epe_nas: per-class log-|correlation| of the input Jacobians."""
    products = gradient_pass(network, images, labels, frozenset({"input_jacobian", "logits"}))
    jacobian = products.input_jacobian
    return epe_nas_score(jacobian.reshape(jacobian.shape[0], -1).cpu().numpy(),
                         labels.cpu().numpy(), int(products.logits.shape[-1]))
