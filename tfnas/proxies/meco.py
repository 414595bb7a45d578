"""MeCo (Jiang et al., NeurIPS 2023): the minimum eigenvalue of each feature map's channel correlation.

Definition (HamsterMimi/MeCo at commit 0d830dd2, ``correlation/NAS_Bench_201.py``, ``get_score``
with ``measure='meco'``, the script behind the paper's NAS-Bench-201 table): one forward pass of
one image; a forward hook on **every** module of ``net.named_modules()`` (the network itself,
containers, leaves) takes ``f = output[0]`` (the first sample's map, ``C x H x W``), reshapes it to
``C x (H·W)``, computes its channel correlation matrix (``torch.corrcoef``: each channel is a
variable, the ``H·W`` positions are the observations), sets every NaN and every infinite entry to
0, and takes the smallest real part of the eigenvalues (``torch.linalg.eig``). The score is the
sum of these terms over every hook call (after dropping NaN and infinite terms, of which the
zeroing leaves none).

Consequences of the rule, which tfnas keeps because the published numbers were computed with it:

* A module's output is counted once per module that returns it: a ``ReLUConvBN`` edge adds its
  ReLU output, its conv output and its BatchNorm output three times (BatchNorm, the ``op``
  Sequential, the ``ReLUConvBN``); a pooling edge twice (``POOLING`` and its ``AvgPool2d``).
* A map with one observation per channel (``H·W = 1``: the global pooling, or a 2-D output such as
  the classifier's ``(N, K)``, whose ``output[0]`` is ``(K,)`` and becomes ``K x 1``) has an
  all-NaN correlation matrix, zeroed: its term is exactly 0.
* A constant channel (a ReLU channel that is 0 at every position of this image, every channel of
  a ``none`` edge's ``x·0``) has NaN in its row and column, zeroed, diagonal included: the matrix
  is singular and the term is 0 (up to rounding).
* A map with fewer positions than channels (``H·W ≤ C``: 64 channels at 8x8 on CIFAR, at 4x4 on
  ImageNet16-120) has a correlation matrix of rank ≤ ``H·W − 1``: its true term is 0, and the
  computed one is rounding.

tfnas's recipe (the registry's ``variant`` says it in one paragraph):

* Modules: every module of ``network.modules()`` (each registered module once, as
  ``named_modules()`` yields it), with a forward hook for each call. A call whose output is not a
  tensor with a sample dimension and at least one more (a tuple, a scalar, a 1-D tensor) adds
  nothing: the NATS-Bench network (xautodl's ``TinyNetwork``) returns ``(features, logits)``,
  where the anchor's own NAS-Bench-201 model returns the logits, whose term is 0; on a tuple the
  anchor's hook would take the first element's first row and fail in ``eig`` (a 0-d matrix) — the
  anchor made its size-space network return only the logits for that reason, it seems.
* Term of one call: ``f = output[0]`` reshaped to ``(f.shape[0], -1)``, cast to float64; the
  correlation matrix from the centred rows (``cov / (σ_i σ_j)``, the ``n − 1`` of ``corrcoef``
  cancels), non-finite entries set to 0, clipped to [−1, 1] (as ``torch.corrcoef`` and
  ``numpy.corrcoef`` clip), symmetrised, and its smallest eigenvalue from ``eigvalsh`` (the
  anchor: float32 ``torch.linalg.eig`` and the minimum real part; for a symmetric matrix the same
  values up to rounding, and always real here). The term is computed inside the hook, before a
  later in-place op (xautodl's ``lastact`` ReLU is in place) can change the map.
* Sum: over the calls, exactly rounded (``math.fsum``; the anchor sums float32 terms); NaN or infinite
  terms would be dropped as the anchor drops them (none arise: the matrix is finite). A network
  whose every term is 0 scores 0.
* Network and mode: the network as the scoring rule builds and initialises it (tfnas's
  NATS-Bench network, xautodl's TinyNetwork, at the rule's PyTorch-default-like init from the
  cell seed) in train mode (the anchor's freshly built network is in train mode: BatchNorm uses
  the image's own statistics); the forward runs under ``no_grad`` (the anchor keeps autograd on;
  the values are the same), and BatchNorm running statistics and every module's mode are restored
  afterwards. No deep copy, no weights are written.
* Data: one image (the registered batch, 1): the scoring rule's seeded NATS-normalised image of
  the dataset. With a larger batch the forward sees the whole batch (train-mode BatchNorm then
  normalises over it) and each term reads the first sample, as the anchor's ``output[0]`` does.
* Precision: the forward in the scoring rule's precision (float32 by default, as the anchor); every
  correlation, eigenvalue and the sum in float64.

Where the anchor differs and tfnas does not follow it (it cannot build the anchor's network):

* The anchor's NAS-Bench-201 network is SamsungLabs zero-cost-nas's ``NAS201Model``
  (``correlation/foresight/models/nasbench2.py``): cell convolutions with a bias, cell BatchNorms
  with ``affine=False`` and no running statistics, and a module tree of its own. At init, in train
  mode, the first two change nothing here (a per-channel bias cancels in the correlation and in
  the next train-mode BatchNorm; affine γ = 1, β = 0 is the identity), but the tree does: it adds
  a ``stem`` wrapper (the stem's BatchNorm output counted three times, tfnas's twice) and three
  ``stack_cell`` Sequentials (the fifth cell of each stage counted twice); its ``top`` and
  classifier add terms of exactly 0, as tfnas's ``lastact`` pooling and classifier do.
  ``tests/test_meco.py`` re-states that tree around tfnas's own modules, with biased cell
  convolutions and affine-free cell BatchNorms, and checks both statements (equal up to float32
  rounding, about 1e-6).
* Init: the anchor's default (``--init_w_type none``) is PyTorch's default init drawn from the
  global generator seeded once with 42 for the whole run (so a cell's weights depend on every cell
  scored before it); tfnas draws each cell's init from its own cell seed.
* Data: the anchor's image is the first of a shuffled CIFAR-10/100 or ImageNet16-120 training
  loader (random crop with padding and a horizontal flip, its own normalisation; the same image
  for every cell), resized to ``--data_size`` (default 32, so ImageNet16-120 is upsampled to 32x32
  unless the run passed ``--data_size 16``: which it did is not recorded); tfnas uses one seeded
  test image at the dataset's own resolution.
* Arithmetic: the anchor runs on a GPU in float32 (corrcoef and eig included).

The ``measures`` variant (``correlation/foresight/pruners/measures/meco.py``) is the same hook
rule on a Gaussian input of shape ``(1, 3, 64, 64)`` drawn from the global generator, ignoring the
given data; tfnas does not implement it (it is not the one behind the published table).

Spot-check tolerance (1e-5, 1e-4) (relative, absolute): scoring in float64 instead of float32
moved the score by at most 5.9e-6 (absolute; scores 2.9 to 63) on 6 random cells at 32x32 and
16x16; another machine's float32 forward moves it by about as much. The anchor's own float32
``corrcoef`` and ``eig`` land further away (up to 1.1e-4 below at 16x16, where the 4x4 maps'
singular matrices give float32 eigenvalues of about -1e-6 each instead of 0; ``tests/test_meco.py``
bounds that difference at 5e-4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tfnas.proxies.passes import check_images, hooked_forward
from tfnas.proxies.registry import register_proxy

MECO_BATCH = 1
"""One image: the anchor's ``--batch_size 1`` (the paper's "one data")."""

_VARIANT = (
    "MeCo as HamsterMimi/MeCo correlation/NAS_Bench_201.py computes it (measure='meco'): a "
    "forward hook on every module of network.modules() (the network, containers and leaves; an "
    "output counted once per module returning it); each call's output[0] (the first sample's "
    "C x H x W map) reshaped to C x (H*W), its channel correlation matrix (corrcoef over the H*W "
    "positions; NaN and inf entries set to 0, so a constant channel or a one-position map gives a "
    "zero row), its smallest eigenvalue; the score is the sum over calls. Outputs that are not a "
    "tensor with a sample dimension and one more (xautodl's (features, logits) tuple) add nothing, "
    "as the anchor's logits-only network gets 0 there. One NATS-normalised test image at the "
    "dataset's resolution (the anchor: the first image of a shuffled training loader with crop "
    "and flip, resized to --data_size 32 by default, ImageNet16-120 included); train mode; the "
    "NATS-Bench network (xautodl TinyNetwork) at the scoring rule's init instead of zero-cost-nas's "
    "NAS201Model at PyTorch's default init under one global seed 42 (that model's extra stem "
    "wrapper and stack_cell Sequentials add 4 duplicate terms tfnas's module tree lacks; its conv "
    "bias and affine-free BN change nothing at init in train mode); no_grad, buffers and modes "
    "restored. Correlations, eigvalsh of the symmetrised matrix, and the sum in float64 (the "
    "anchor: float32 corrcoef and eig on a GPU, minimum real part). Non-finite: none arise (NaN "
    "entries are zeroed); a network whose terms are all 0 scores 0. Spot-check tolerance (1e-5, "
    "1e-4): about 17x the largest float32-vs-float64 difference measured (5.9e-6)."
)


def _correlation_floors(rows: torch.Tensor) -> torch.Tensor:
    """The smallest eigenvalue of each row-correlation matrix of ``rows`` (``B x C x P``, float64).

    Each ``C x P`` matrix is read as ``C`` variables observed ``P`` times; non-finite correlations
    (a constant row, a single observation) are set to 0, as the anchor sets them.
    """
    if rows.shape[2] < 2:  # one observation: corrcoef is all NaN, zeroed: the zero matrix
        return torch.zeros(rows.shape[0], dtype=rows.dtype, device=rows.device)
    centred = rows - rows.mean(dim=2, keepdim=True)
    gram = centred @ centred.transpose(1, 2)  # (n - 1) x covariance; the factor cancels
    scale = torch.sqrt(torch.diagonal(gram, dim1=1, dim2=2))
    corr = gram / scale[:, :, None] / scale[:, None, :]
    corr = torch.where(torch.isfinite(corr), corr,
                       torch.zeros((), dtype=corr.dtype, device=corr.device))
    corr = corr.clamp(-1.0, 1.0)
    corr = (corr + corr.transpose(1, 2)) / 2
    return torch.linalg.eigvalsh(corr)[:, 0]


def _rows(feature: torch.Tensor) -> torch.Tensor:
    """One sample's output as ``feature.shape[0]`` rows of observations, a float64 copy."""
    return feature.detach().reshape(feature.shape[0], -1).to(torch.float64, copy=True)


def min_eig_corr(feature: torch.Tensor) -> float:
    """The MeCo term of one map: the smallest eigenvalue of the rows' correlation matrix.

    ``feature`` is one sample's output (e.g. ``C x H x W``); it is read as ``feature.shape[0]``
    variables observed ``feature[0].numel()`` times. Non-finite correlations (a constant row, a
    single observation) are set to 0, as the anchor sets them. Computed in float64.
    """
    return float(_correlation_floors(_rows(feature)[None])[0])


def meco_terms(network: nn.Module, images: torch.Tensor) -> list[float]:
    """The MeCo term of every hooked module call of one train-mode forward, in call order.

    Calls whose output is not a tensor of at least two dimensions add no term. Each call's map
    is copied when the hook sees it (a later in-place op cannot change it); the terms are then
    computed in batches of equal-shaped maps (:func:`min_eig_corr` of each, batched). The
    network's buffers and modes are restored and the hooks removed.
    """
    check_images(network, images)
    maps: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        if isinstance(output, torch.Tensor) and output.dim() >= 2 and output.shape[0] >= 1:
            maps.append(_rows(output[0]))

    hooked_forward(network, images, list(network.modules()), hook)
    terms = [0.0] * len(maps)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, rows in enumerate(maps):
        by_shape.setdefault(tuple(rows.shape), []).append(index)
    for indices in by_shape.values():
        floors = _correlation_floors(torch.stack([maps[i] for i in indices])).tolist()
        for index, floor in zip(indices, floors, strict=True):
            terms[index] = floor
    return terms


@register_proxy(
    "meco", data=True, batch_size=MECO_BATCH, tolerance=(1e-5, 1e-4),
    reference="Jiang et al., NeurIPS 2023 (MeCo); HamsterMimi/MeCo correlation/NAS_Bench_201.py "
              "(get_score, measure='meco')",
    variant=_VARIANT)
def meco(network: nn.Module, images: torch.Tensor) -> float:
    """Sum over every module's output of the minimum eigenvalue of its channel correlation (one image)."""
    terms = meco_terms(network, images)
    return math.fsum(t for t in terms if math.isfinite(t))
