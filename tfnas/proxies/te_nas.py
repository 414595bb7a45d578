"""TE-NAS (Chen, Gong & Wang, ICLR 2021): the NTK condition number and the number of linear regions.

TE-NAS ranks a network by two training-free indicators, each turned into a rank, and adds the
ranks. tfnas registers the two components as single-network proxies, ``te_nas_ntk`` and
``te_nas_regions`` (higher is better for both), and their rank sum as the ensemble ``te_nas``.

Anchor followed: the NAS-Bench-201 port behind the published re-runs,
``cvlab-yonsei/AZ-NAS`` (commit 5e6683a) ``NB201/ZeroShotProxy/compute_te_nas_score.py``
(``compute_nas_score`` → ``compute_NTK_score`` / ``get_ntk_n`` and ``compute_RN_score`` /
``Linear_Region_Collector``), as its driver ``NB201/tss_general.ipynb`` calls it (the
``te_nas`` branch of the last cells aggregates the two). ``ondratybl/VKDNW`` (commit 6901b65)
holds the same file byte for byte; the two ports differ only in their drivers (below). The
original repository (``VITA-Group/TENAS`` 9df78ff, ``prune_tenas.py``, ``lib/procedures/ntk.py``
``get_ntk_n``, ``lib/procedures/linear_region_counter.py``) uses the two indicators to prune a
supernet, not to score the cells of NAS-Bench-201: the published NB201 numbers (AZ-NAS τ
0.536 / 0.535 / 0.492; VKDNW τ 0.536 / 0.537 / 0.523) come from the port, so tfnas follows it.

The anchor's definition:

* **NTK** (``get_ntk_n`` with ``train_mode=True, num_batch=1``): the network in train mode; one
  batch of 64 real training images (``next(iter(trainloader))``: the first batch of a freshly
  shuffled NATS-Bench training loader, random crop with padding 4 and horizontal flip, the
  dataset's normalisation; the AZ-NAS port's change 4: the original draws nothing random here
  either, it reads its loader); one forward; for each sample ``i`` the sum of its logits is
  backpropagated (``logit[i:i+1].backward(ones, retain_graph=True)``) and the gradients of
  every parameter whose name contains ``"weight"`` and whose ``.grad`` is not ``None`` (every
  Conv2d and Linear weight and every BatchNorm γ; no bias, no BatchNorm β) are flattened and
  concatenated into row ``i`` of ``J`` (``N x P``); the NTK is ``G = J Jᵀ`` (``einsum``); its
  eigenvalues ascending (``torch.symeig`` in the original, removed from torch; the port already
  calls ``torch.linalg.eigh``; tfnas ``torch.linalg.eigvalsh``, the same ascending eigenvalues
  of a symmetric matrix, which ``tests/test_te_nas.py`` checks against ``numpy.linalg.eigh``);
  the condition number ``κ = λ_max / λ_min``, passed through ``np.nan_to_num(κ, nan=100000.0)``
  (the port's change 2: the original had the same call; AZ-NAS's note says it revised the
  argument). The score is ``-κ``: a lower condition number is better.
* **Linear regions** (``compute_RN_score`` with ``batch_size=64, num_batch=1``): a forward hook
  on every ``nn.ReLU`` module keeps its output when its input is 4-D; one Gaussian batch
  ``torch.randn(64, 3, R, R)`` (global RNG) at the dataset's resolution goes through the network
  under ``no_grad`` in the mode the NTK left it in (train); every hooked output is flattened per
  sample and concatenated, ``sign`` of it is each sample's activation pattern (1 where the ReLU
  is active); ``calc_LR`` counts the distinct patterns: with ``A`` the ``N x D`` 0/1 matrix,
  ``A (1 − A)ᵀ + transposed`` is the pairwise Hamming distance (in float16, where a positive
  count stays positive), ``1 − sign`` marks identical pairs, and ``Σ_i 1 / #{j: pattern j =
  pattern i}`` is the number of distinct patterns (a float32 sum of reciprocals). Higher is
  better. At init with 64 Gaussian inputs and ~10⁵–10⁶ ReLUs almost every cell gives 64; the
  ones whose output ignores the input (a ``none`` cell output) give 1.
* **TE-NAS** (the notebook's ``te_nas`` branch): ``rankdata(ntk) + rankdata(linear_region)``
  (``scipy.stats.rankdata``, ascending, average ranks) over all 15,625 cells; higher is better.

Consequences tfnas keeps: a network whose weight gradients are all zero (every path from the
input to the logits through a ``none`` edge) has ``G = 0``, ``κ = 0/0 = NaN``, and scores
``-100000``; a nonzero singular ``G`` has ``λ_min`` equal to rounding (of either sign), so ``κ`` is
huge and its sign is chance (as in the anchor); ``λ_min = 0`` exactly with ``λ_max > 0`` gives
``κ = inf``, which ``nan_to_num`` turns into the largest float (score ``-1.797e308``). Train-mode
BatchNorm couples the samples, so each sample's logits depend on the whole batch and every
backward runs over the whole batch: the cost is ``N`` full backward passes (quadratic in the
batch), the anchor's too.

tfnas's recipe (the ``variant`` strings say it in one paragraph each):

* Network: tfnas's NATS-Bench network (xautodl's TinyNetwork, which the port's
  ``custom/tss_model.py`` re-states with the same modules and parameter names) as the scoring
  rule builds it: PyTorch's default init drawn from the cell seed (the port: PyTorch's default
  init from the global RNG, seeded once per run, so a cell's weights depend on the cells before
  it; no re-init: the port drops the original's Kaiming re-inits). Train mode; BatchNorm
  buffers and every module's mode restored afterwards; the weights are never written.
* NTK data: the scoring rule's seeded batch of 64 NATS-normalised images (``load_batch``), not
  an augmented shuffled training batch.
* NTK arithmetic: gradients in the scoring rule's precision (float32 by default, as the
  anchor); ``autograd.grad`` of each sample's logit sum with respect to the weights (the same
  numbers as ``.backward`` into ``.grad``; an unreached weight contributes zeros, which change
  no entry of ``G``, where the anchor skips its ``None`` gradient); ``G`` and its eigenvalues in
  float64 (the anchor: float32 ``einsum`` and ``eigh`` on a GPU; where ``κ`` is large, float32
  eigenvalues lose its digits).
* Regions: the Gaussian batch drawn from the scoring rule's ``generator`` (float32 on the CPU,
  :func:`tfnas.proxies.draws.randn`) instead of the global RNG; each hooked output's
  ``output > 0`` (the anchor's ``sign`` of a ReLU output, which is 0 or 1); the count of distinct
  rows is exact (an integer, as a float), where the anchor's float32 sum of reciprocals can land
  a few ulps off it. A network without ReLU modules (the anchor fails on it) has one region.
* TE-NAS: the same rank sum over the population scored (a sample ranks within the sample; the
  anchor ranks all 15,625 cells); NaN counts as ``-inf`` (the scoring rule stores NaN so) and
  ranks lowest.

VKDNW's driver (``NB201/tss_general_.py`` in its history, before 2b67433) scores every proxy on
one network object in the order vkdnw, az_nas, jacov, gradsign, zico, zen, gradnorm, naswot,
synflow, snip, grasp, te_nas, and its analysis reads all of them from one run per seed: te_nas
then sees the network as grasp left it (Kaiming-normal fan-in weights) with snip's
``weight_mask`` parameters (all ones, named ``*.weight_mask``, so their gradients
``W ⊙ ∂/∂W`` enter ``J`` too) and naswot's hooks. tfnas does not re-create that state; it follows
AZ-NAS's driver, which scores te_nas alone on a fresh network. Its C10 and C100 τ agree with
VKDNW's; its IN16 τ is 0.03 lower.

Spot-check tolerance: see ``_NTK_TOLERANCE`` and ``_REGIONS_TOLERANCE`` (measured float32 vs
float64 differences, and the factor applied).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.stats
import torch
from torch import nn

from tfnas.checks import check_int
from tfnas.proxies.az_nas import member_arrays
from tfnas.proxies.draws import randn
from tfnas.proxies.passes import check_images, device_of, hooked_forward, logits_of, preserved
from tfnas.proxies.registry import register_proxy
from tfnas.proxies.synflow import Resolution, check_network, probe_input
from tfnas.proxies.zen import check_generator

TE_NAS_BATCH = 64
"""The port's batch: ``configs/nas-benchmark/algos/weight-sharing.config``'s ``batch_size 64``
for the NTK's training batch, and the same size for the Gaussian batch of the region count."""
TE_NAS_MAX_BATCH = 96
"""The largest NTK batch scored: on the largest cell at 32x32 the per-sample gradients (``N x P``
float32, 6.1 MB per image) and the retained graph peak at 1.29 / 1.57 / 1.76 GiB RSS at batch
64 / 80 / 96 (the forward, ``J`` allocated and two of the per-sample backward passes: the loop's
steady peak), under :data:`tfnas.scoring.MEMORY_BUDGET_GIB` (2)."""
NAN_CONDITION = 100000.0
"""What the anchor's ``np.nan_to_num(..., nan=100000.0)`` makes of an undefined condition number."""

COMPONENTS = ("te_nas_ntk", "te_nas_regions")
"""The ensemble's members, in the anchor's order (its result dict: ``ntk``, ``linear_region``)."""

_REFERENCE = ("Chen, Gong & Wang ICLR 2021 (TE-NAS); cvlab-yonsei/AZ-NAS "
              "NB201/ZeroShotProxy/compute_te_nas_score.py and NB201/tss_general.ipynb "
              "(VITA-Group/TENAS lib/procedures/ntk.py, linear_region_counter.py)")

_NTK_TOLERANCE = (2e-2, 0.0)
"""Measured: scoring in float64 instead of float32 moved ``-κ`` by at most 3.6e-3 relative (κ 22 to
15,530) on 6 random cells at 16x16 (ImageNet16-120, the registered batch of 64; 1e-7 to 3.6e-3)
and by at most 1.0e-3 at 32x32 (CIFAR-10, batch 16 only: 64 costs ~10 min a cell on this CPU);
about 5.5x the largest. The float32 error is not the eigensolver's: the per-sample gradients
themselves carry ~1e-4 relative error (train-mode BatchNorm's backward subtracts batch means),
which moves ``λ_min`` by up to ~1e-4 of ``λ_max``; another BLAS's float32 moves it as much."""
_REGIONS_TOLERANCE = (2e-2, 0.0)
"""Measured: float32 and float64 gave the same counts (64) on the same 6 cells at 16x16 and 32x32
(batch 64); the slack is one pattern of 64 (1.6%), as one activation at the ReLU's kink may flip under another
rounding and merge or split a pattern (the registry takes no absolute slack of 1)."""

_NTK_VARIANT = (
    "TE-NAS's NTK condition number as AZ-NAS's NB201 port computes it (compute_te_nas_score.py "
    "get_ntk_n, train_mode=True, num_batch=1; VKDNW's port is the same file): the NATS-Bench "
    "network at the scoring rule's PyTorch-default init from the cell seed (no re-init, as the "
    "port), train mode (BatchNorm on batch statistics, buffers and modes restored), one forward of "
    "the scoring rule's batch of 64 NATS-normalised images (the port: the first batch of a "
    "shuffled, augmented training loader); per sample i the gradient of the sum of its logits "
    "with respect to every parameter whose name contains 'weight' (conv and linear weights, "
    "BatchNorm gamma; no bias or beta) as row i of J; NTK G = J J^T; kappa = lambda_max / "
    "lambda_min from eigvalsh (ascending, as the original's removed torch.symeig); "
    "nan_to_num(kappa, nan=1e5) (inf -> the largest float); score -kappa (higher is better). "
    "Gradients in the scoring rule's precision (float32), G and eigenvalues in float64 (the "
    "anchor: float32 on a GPU). Non-finite: none (an all-zero G scores -1e5, as the anchor). "
    "Spot-check tolerance (2e-2, 0): ~5.5x the largest float32-vs-float64 difference measured "
    "(3.6e-3 relative)."
)
_REGIONS_VARIANT = (
    "TE-NAS's number of linear regions as AZ-NAS's NB201 port computes it (compute_te_nas_score.py "
    "Linear_Region_Collector, batch 64, one batch; VKDNW's port is the same file): one Gaussian "
    "N(0,1) batch of 64 at the dataset's resolution drawn from the scoring rule's generator (the "
    "port: torch.randn from the global RNG); a forward hook on every nn.ReLU whose input is 4-D "
    "records output > 0 (the anchor's sign of the ReLU output); train mode, no_grad, buffers and "
    "modes restored, at the scoring rule's init; the score is the number of distinct activation "
    "patterns among the 64 samples (exact; the anchor sums 1/multiplicity in float32). Higher is "
    "better. Non-finite: none; a network without ReLU modules has one region. Spot-check "
    "tolerance (2e-2, 0): float32 and float64 counts were equal; one pattern of 64 of slack."
)


def ntk_weights(network: nn.Module) -> list[nn.Parameter]:
    """The parameters the anchor's NTK differentiates: every one whose name contains ``"weight"``
    and that requires grad (a frozen one never gets a ``.grad`` there), in ``named_parameters``
    order."""
    return [w for name, w in network.named_parameters() if "weight" in name and w.requires_grad]


def per_sample_gradients(network: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``J`` (``N x P``, the network's dtype): row ``i`` is the gradient of sample ``i``'s logit
    sum with respect to :func:`ntk_weights`, from one train-mode forward of the whole batch.

    BatchNorm buffers and module modes are restored; the weights and their ``.grad`` untouched.
    """
    check_network(network)
    check_images(network, images)
    weights = ntk_weights(network)
    with preserved(network), torch.enable_grad():
        network.train()
        sums = logits_of(network(images.detach())).sum(dim=1)
        count = sum(w.numel() for w in weights)
        rows = torch.zeros(sums.shape[0], count, dtype=sums.dtype, device=sums.device)
        for i in range(sums.shape[0]):
            if not weights or not sums.requires_grad:
                break
            grads = torch.autograd.grad(sums[i], weights, retain_graph=True, allow_unused=True)
            start = 0
            for w, g in zip(weights, grads, strict=True):
                if g is not None:
                    rows[i, start:start + w.numel()] = g.reshape(-1)
                start += w.numel()
        del sums
    return rows


def ntk_gram(rows: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    """``G = J Jᵀ`` in float64 (``N x N``), summed over column chunks of ``J`` (no float64 copy of
    the whole ``J``), symmetrised."""
    n = rows.shape[0]
    gram = torch.zeros(n, n, dtype=torch.float64, device=rows.device)
    for start in range(0, rows.shape[1], chunk):
        block = rows[:, start:start + chunk].to(torch.float64)
        gram += block @ block.T
    return (gram + gram.T) / 2


def condition_number(gram: torch.Tensor) -> float:
    """The anchor's ``κ``: largest over smallest eigenvalue (ascending ``eigvalsh`` of ``gram``), in
    float64, through ``np.nan_to_num(κ, nan=100000.0)`` (``±inf`` become ``±`` the largest float)."""
    eigenvalues = torch.linalg.eigvalsh(gram.to(torch.float64)).cpu().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.float64(eigenvalues[-1]) / np.float64(eigenvalues[0])
    return float(np.nan_to_num(kappa, nan=NAN_CONDITION))


def ntk_condition(network: nn.Module, images: torch.Tensor) -> float:
    """The anchor's condition number of the NTK of ``network`` on ``images`` (lower is better)."""
    return condition_number(ntk_gram(per_sample_gradients(network, images)))


@register_proxy(
    "te_nas_ntk", data=True, batch_size=TE_NAS_BATCH, max_batch_size=TE_NAS_MAX_BATCH,
    help="Minus the condition number of the NTK (Gram matrix of per-sample weight gradients of "
         "the logit sum; train mode, 64 images).",
    reference=_REFERENCE, variant=_NTK_VARIANT, tolerance=_NTK_TOLERANCE)
def te_nas_ntk(network: nn.Module, images: torch.Tensor) -> float:
    """TE-NAS NTK component: ``-λ_max/λ_min`` of the per-sample-gradient Gram matrix (higher is better)."""
    return -ntk_condition(network, images)


def activation_patterns(network: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Each sample's activation pattern, bit-packed (``N x ceil(D/8)`` uint8): ``output > 0`` of
    every ``nn.ReLU`` call whose input is 4-D, in call order, from one train-mode ``no_grad``
    forward (buffers and modes restored)."""
    check_images(network, x)
    parts: list[np.ndarray] = []

    def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        if (isinstance(inputs, tuple) and inputs and isinstance(inputs[0], torch.Tensor)
                and inputs[0].dim() == 4 and isinstance(output, torch.Tensor)):
            active = (output.detach() > 0).reshape(output.shape[0], -1).cpu().numpy()
            parts.append(active)

    relus = [m for m in network.modules() if isinstance(m, nn.ReLU)]
    hooked_forward(network, x, relus, hook)
    if not parts:
        return np.zeros((x.shape[0], 0), dtype=np.uint8)
    return np.packbits(np.concatenate(parts, axis=1), axis=1)


def count_distinct(patterns: np.ndarray) -> int:
    """The number of distinct rows of ``patterns``."""
    return len({row.tobytes() for row in patterns})


def linear_regions(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                   generator: torch.Generator, batch_size: int = TE_NAS_BATCH) -> int:
    """The number of distinct ReLU activation patterns of a Gaussian batch drawn from ``generator``."""
    check_network(network)
    generator = check_generator(generator)
    batch_size = check_int("batch_size", batch_size, 1, 1024)
    one = probe_input(resolution, channels)
    first = next(iter(network.parameters()), None)
    dtype = first.dtype if first is not None else None
    x = randn((batch_size, *one.shape[1:]), generator, dtype, device_of(network))
    return count_distinct(activation_patterns(network, x))


@register_proxy(
    "te_nas_regions", resolution=True, random=True, batch_size=TE_NAS_BATCH,
    help="Number of distinct ReLU activation patterns (linear regions) among 64 Gaussian inputs.",
    reference=_REFERENCE, variant=_REGIONS_VARIANT, tolerance=_REGIONS_TOLERANCE)
def te_nas_regions(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                   generator: torch.Generator, batch_size: int = TE_NAS_BATCH) -> float:
    """TE-NAS linear-region component: distinct ReLU patterns of a Gaussian batch (higher is better)."""
    return float(linear_regions(network, resolution, channels, generator=generator,
                                batch_size=batch_size))


def average_rank(values: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata`` (ascending, average ranks for ties), NaN counted as ``-inf``."""
    return scipy.stats.rankdata(np.where(np.isnan(values), -np.inf, values))


@register_proxy(
    "te_nas", members=COMPONENTS, reference=_REFERENCE,
    help="Sum of the population ranks of te_nas_ntk and te_nas_regions (TE-NAS).",
    variant="TE-NAS's aggregation as AZ-NAS's NB201 notebook (tss_general.ipynb, the te_nas "
            "branch) computes it: rankdata(te_nas_ntk) + rankdata(te_nas_regions) within the "
            "population scored (scipy.stats.rankdata, ascending, average ranks for ties); NaN "
            "member scores count as -inf and rank lowest. The anchor ranks all 15,625 cells; a "
            "sample ranks within the sample. Higher is better; the best cell is the argmax "
            "(first on ties).")
def te_nas(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """TE-NAS score of each cell of a population: the sum of its two components' average ranks."""
    arrays = member_arrays(scores, COMPONENTS)
    if arrays[0].shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    total = average_rank(arrays[0])
    for values in arrays[1:]:
        total = total + average_rank(values)
    return np.asarray(total, dtype=np.float64)


__all__ = [
    "COMPONENTS", "NAN_CONDITION", "TE_NAS_BATCH", "TE_NAS_MAX_BATCH", "activation_patterns",
    "average_rank", "condition_number", "count_distinct", "linear_regions", "ntk_condition",
    "ntk_gram", "ntk_weights", "per_sample_gradients", "te_nas", "te_nas_ntk", "te_nas_regions",
]
