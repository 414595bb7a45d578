"""AZ-NAS (Lee & Ham, CVPR 2024): four training-free components and their rank aggregation.

Definition (cvlab-yonsei/AZ-NAS ``NB201/ZeroShotProxy/compute_az_nas_score.py`` with the network
and protocol of ``NB201/tss_general.ipynb``): on the NAS-Bench-201 network in train mode,
re-initialise every Conv2d and Linear weight Kaiming-normal (fan_in, ReLU gain; biases 0) and
every BatchNorm to γ = 1, β = 0; feed one Gaussian batch (64 images at the dataset's resolution)
and keep the 18 feature maps ``F_0 = stem(x)``, ``F_l = cells[l-1](F_{l-1})``.

* **expressivity**: for each ``F_l`` (as a ``(b·h·w, c)`` matrix, centred) the entropy
  ``-Σ p log(p + 1e-8)`` of the normalised eigenvalues ``p = λ / Σλ`` of its covariance;
  the score is the sum over the 18 maps;
* **progressivity**: ``min_l (e_l − e_{l−1})`` of those per-map entropies;
* **trainability**: for ``l = 17 … 1`` a Rademacher ``g_out`` (``(bernoulli(½) − ½)·2``) is
  backpropagated from ``F_l`` to ``F_{l−1}`` (a block with stride 2 has its input gradient
  pixel-unshuffled); with ``M = g_inᵀ g_out / (b·h·w)`` and ``σ`` its largest singular value the
  block scores ``−σ − 1/(σ + 1e−6) + 2``, or ``−inf`` when ``g_in`` equals ``g_out`` (an identity
  block); the score is the mean over blocks;
* **complexity**: the network's FLOPs (the anchor reads NATS-Bench's; :func:`tfnas.proxies.counts.flops`
  counts them by the same rule).

The ensemble ``az_nas`` scores a population: ``Σ_components log(rank/N)``, with
``scipy.stats.rankdata`` (average ranks for ties) over the population, as the notebook does.

Sharing: the three network components come from one forward and one chain of backward steps.
:func:`az_components` computes all three and keeps the last result in a one-entry cache keyed by
the network *object* (held by a weak reference), the generator's state before the draws, the
input shape; for a network whose modules are not replaced in between, the result depends on
nothing else, because on the deep copy every parameter is re-drawn from the generator or reset to
a constant, and BatchNorm uses batch statistics (train mode). A hit restores the generator to the state a fresh
computation leaves, so a caller cannot tell a hit from a computation. The scoring rule therefore
gets the three components of a cell for the price of one when it hands each of them a generator
in the same state on the same network object.

Non-finite rule (the anchor's): a NaN component becomes ``-inf``; an identity block makes
trainability ``-inf``.

General networks: the three network components are defined on the anchor's blocks (NB201: the
stem and each cell; its MobileNetV2 and AutoFormer code: blocks its own model classes expose), which
an arbitrary ``nn.Module`` does not delimit, so they refuse one in one line (registered with
``structure="cells"``). az_complexity (FLOPs) is defined for any network.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.stats
import torch
from torch import nn

from tfnas.checks import ArgumentError, check_int
from tfnas.network import UnsupportedNetworkError, is_cell_network, stages
from tfnas.proxies.counts import flops
from tfnas.proxies.draws import rademacher_like, randn
from tfnas.proxies.last_draw import LastDraw
from tfnas.proxies.passes import device_of
from tfnas.proxies.registry import register_proxy
from tfnas.proxies.synflow import Resolution, check_network, probe_input
from tfnas.proxies.zen import check_generator

AZ_BATCH = 64
"""The anchor's batch (``configs/nas-benchmark/algos/weight-sharing.config``: ``batch_size 64``)."""
AZ_MAX_BATCH = 168
"""The largest Gaussian batch scored: its 18 feature maps and their graph take ~8.7 MiB per 32x32
image on the largest cell (1797 MiB peak at 168; docs/proxies.md, Memory)."""

COMPONENTS = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")
"""The ensemble's members, in the order of the anchor's sum (FLOPs first there; see
:func:`az_nas`)."""

_REFERENCE = ("Lee & Ham CVPR 2024 (AZ-NAS); cvlab-yonsei/AZ-NAS "
              "NB201/ZeroShotProxy/compute_az_nas_score.py and NB201/tss_general.ipynb")

_TOLERANCE = (1e-4, 1e-4)
"""float32 eigvalsh/svdvals of float32 features: 1 and 2 threads differ by up to 2e-6 here;
another LAPACK may differ more, and trainability is -1/(s + 1e-6) for a vanishing s."""

_COMMON = (
    "AZ-NAS's NB201 recipe on a deep copy of the NATS-Bench network (the anchor's own TinyNetwork: "
    "the same, affine BN; its notebook's track_running_stats=0 option is never passed to the "
    "cells, and in train mode BN uses batch statistics either way), train mode, Kaiming-normal "
    "fan_in ReLU init of Conv2d/Linear weights (biases 0), BN gamma=1 beta=0, one Gaussian "
    "N(0,1) batch of 64 at the dataset's resolution; every draw (weights in modules() order, "
    "the input, then the Rademacher gradients from the last block down) comes from the scoring "
    "rule's generator instead of the global RNG. Features: stem output and each of the 17 cell "
    "and reduction outputs. Computed in the scoring precision: the committed tables in float64 "
    "(the definition's spectrum, the same on every host: float32 eigenvalues near 1e9 round "
    "to -inf entropies on some hosts and not others), the anchor's float32 (on GPU) as the "
    "tables variant float32 (benchmarks/scores/variants/float32/). Non-finite: NaN becomes -inf "
    "(the anchor's rule). "
)


@dataclass(frozen=True)
class AZComponents:
    """The three network components of AZ-NAS for one network and one draw."""

    expressivity: float
    progressivity: float
    trainability: float
    entropies: tuple[float, ...]
    """Per feature map (stem, then each cell): the eigenvalue entropy expressivity sums."""
    blocks: tuple[float, ...]
    """Per block, last first (the anchor's order): the trainability terms it averages."""


def kaiming_init(network: nn.Module, generator: torch.Generator) -> nn.Module:
    """AZ-NAS's ``kaiming_norm_fanin`` init in place: Conv2d/Linear weights ~ N(0, 2/fan_in),
    biases 0, affine BatchNorm γ=1, β=0; draws in ``modules()`` order from ``generator``."""
    with torch.no_grad():
        for m in network.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                draw = torch.empty(m.weight.shape, dtype=torch.float32, device="cpu")  # as draws
                nn.init.kaiming_normal_(draw, mode="fan_in", nonlinearity="relu",
                                        generator=generator)
                m.weight.copy_(draw)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()
    return network


def check_cells(network: nn.Module) -> nn.Module:
    """``network`` if it is a NATS-Bench cell network (:func:`tfnas.network.is_cell_network`), else
    a one-line :class:`~tfnas.network.UnsupportedNetworkError`: the components read the stem and
    every cell's feature map, which a general model does not delimit."""
    if not is_cell_network(network):
        raise UnsupportedNetworkError(
            f"the AZ-NAS components read the stem and cell feature maps of a NATS-Bench cell "
            f"network (stem, cells, lastact); {type(network).__name__} is a general model and "
            "lacks them")
    return network


def cell_features(network: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """``[stem(x), cells[0](...), ..., cells[-1](...)]`` of a NATS-Bench cell network."""
    plan = list(stages(check_cells(network)))
    feature = network.stem(x)
    features = [feature]
    for stage in plan:
        feature = stage.module(feature)
        features.append(feature)
    return features


def entropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised covariance spectrum of a ``(b, c, h, w)`` map over its channels."""
    b, c, h, w = feature.shape
    flat = feature.permute(0, 2, 3, 1).reshape(b * h * w, c)
    flat = flat - flat.mean(dim=0, keepdim=True)
    sigma = flat.T @ flat / flat.shape[0]
    s = torch.linalg.eigvalsh(sigma)
    p = s / s.sum()
    return (-p * torch.log(p + 1e-8)).sum().item()


def block_trainability(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """One block's trainability term from the gradient at its input and the one sent in."""
    if g_out.shape == g_in.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_out.shape[2:] != g_in.shape[2:]:
        g_in = nn.functional.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    bo, co, ho, wo = g_out.shape
    ci = g_in.shape[1]
    out = g_out.permute(0, 2, 3, 1).reshape(bo * ho * wo, co)
    inn = g_in.permute(0, 2, 3, 1).reshape(bo * ho * wo, ci)
    mat = inn.T @ out / (bo * ho * wo)
    if mat.shape[0] < mat.shape[1]:
        mat = mat.T
    top = torch.linalg.svdvals(mat).max().item()
    return -top - 1.0 / (top + 1e-6) + 2.0


def _finite_or_minus_inf(value: float) -> float:
    return -math.inf if math.isnan(value) else float(value)


def _compute(network: nn.Module, shape: tuple[int, ...], generator: torch.Generator) -> AZComponents:
    net = copy.deepcopy(network)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    net.train()
    kaiming_init(net, generator)
    x = randn(shape, generator, next(net.parameters()).dtype, device_of(net))
    features = cell_features(net, x)
    entropies = [entropy(f.detach()) for f in features]
    blocks = []
    for i in reversed(range(1, len(features))):
        f_out, f_in = features[i], features[i - 1]
        g_out = rademacher_like(f_out, generator)
        (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=False)
        blocks.append(block_trainability(g_in, g_out))
    e = np.asarray(entropies, dtype=np.float64)
    expressivity = float(np.sum(e))
    with np.errstate(invalid="ignore"):
        progressivity = float(np.min(e[1:] - e[:-1]))
        trainability = float(np.mean(np.asarray(blocks, dtype=np.float64)))
    return AZComponents(_finite_or_minus_inf(expressivity), _finite_or_minus_inf(progressivity),
                        _finite_or_minus_inf(trainability), tuple(entropies), tuple(blocks))


_last: LastDraw[AZComponents] = LastDraw()


def clear_cache() -> None:
    """Forget the cached components (tests; nothing else needs to)."""
    _last.clear()


def az_components(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                  generator: torch.Generator, batch_size: int = AZ_BATCH) -> AZComponents:
    """Expressivity, progressivity and trainability of ``network`` from one draw of ``generator``.

    The network is not modified. A second call for the same network object, input shape and
    generator state returns the first result and leaves the generator as the first did.
    """
    check_network(network)
    check_cells(network)
    generator = check_generator(generator)
    batch_size = check_int("batch_size", batch_size, 2, 1024)
    one = probe_input(resolution, channels)
    shape = (batch_size, *one.shape[1:])

    def compute() -> AZComponents:
        with torch.enable_grad():  # trainability backpropagates, even under a caller's no_grad
            return _compute(network, shape, generator)

    return _last.get(network, shape, generator, compute)


@register_proxy(
    "az_expressivity", resolution=True, structure="cells",
    help="Sum over the stem and cell feature maps of the entropy of their normalised "
         "channel-covariance spectrum (Kaiming init, Gaussian input).", random=True, batch_size=AZ_BATCH, reference=_REFERENCE,
    max_batch_size=AZ_MAX_BATCH,
    tolerance=_TOLERANCE,
    variant=_COMMON + "Expressivity: sum over the 18 feature maps of the entropy of the "
                      "normalised eigenvalues of the channel covariance (eigvalsh, +1e-8 inside "
                      "the log).",
)
def az_expressivity(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                    generator: torch.Generator, batch_size: int = AZ_BATCH) -> float:
    """AZ-NAS expressivity: summed eigenvalue entropy of the cell feature maps (Gaussian input)."""
    return az_components(network, resolution, channels, generator=generator,
                         batch_size=batch_size).expressivity


@register_proxy(
    "az_progressivity", resolution=True, structure="cells",
    help="Smallest increase of that spectral entropy from one feature map to the next.", random=True, batch_size=AZ_BATCH, reference=_REFERENCE,
    max_batch_size=AZ_MAX_BATCH,
    tolerance=_TOLERANCE,
    variant=_COMMON + "Progressivity: the smallest increase of that entropy from one feature "
                      "map to the next.",
)
def az_progressivity(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                     generator: torch.Generator, batch_size: int = AZ_BATCH) -> float:
    """AZ-NAS progressivity: the smallest entropy increase between consecutive feature maps."""
    return az_components(network, resolution, channels, generator=generator,
                         batch_size=batch_size).progressivity


@register_proxy(
    "az_trainability", resolution=True, structure="cells",
    help="Mean over blocks of 2 - s - 1/s, s the top singular value of the block's input-output "
         "gradient map probed with a Rademacher gradient.", random=True, batch_size=AZ_BATCH, reference=_REFERENCE,
    max_batch_size=AZ_MAX_BATCH,
    tolerance=_TOLERANCE,
    variant=_COMMON + "Trainability: mean over the 17 blocks (last first) of -s - 1/(s+1e-6) + 2, "
                      "s the top singular value of g_in^T g_out / (b h w) for a Rademacher g_out "
                      "(stride-2 blocks: g_in pixel-unshuffled); -inf for an identity block.",
)
def az_trainability(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                    generator: torch.Generator, batch_size: int = AZ_BATCH) -> float:
    """AZ-NAS trainability: block Jacobian spectral-norm closeness to 1 (Rademacher gradients)."""
    return az_components(network, resolution, channels, generator=generator,
                         batch_size=batch_size).trainability


@register_proxy(
    "az_complexity", resolution=True,
    help="FLOPs by NATS-Bench's counting rule (AZ-NAS's complexity term).", reference=_REFERENCE, tolerance=(0.0, 0.0),
    variant="AZ-NAS's complexity term: the network's FLOPs. The anchor reads NATS-Bench's archive "
            "FLOPs for the dataset; tfnas counts them by NATS-Bench's rule (multiply-accumulates "
            "of Conv2d and Linear at batch 1, the flops proxy), the same numbers up to the "
            "archive's unit (millions), which no rank sees.",
)
def az_complexity(network: nn.Module, resolution: Resolution, channels: int = 3) -> float:
    """AZ-NAS complexity: the network's FLOPs by NATS-Bench's counting rule."""
    return flops(network, resolution, channels)


def member_arrays(scores: Mapping[str, np.ndarray], members: tuple[str, ...]) -> list[np.ndarray]:
    """The members' score arrays as aligned 1-D float64 arrays, or a one-line error."""
    if not isinstance(scores, Mapping):
        raise ArgumentError(f"scores must map member names to arrays, got {type(scores).__name__}")
    missing = [m for m in members if m not in scores]
    if missing:
        raise ArgumentError(
            f"scores lack the member(s) {', '.join(missing)}; expected {', '.join(members)}")
    arrays = []
    for m in members:
        a = np.asarray(scores[m], dtype=np.float64)
        if a.ndim != 1:
            raise ArgumentError(f"scores[{m!r}] must be 1-D (one score per cell), got shape {a.shape}")
        arrays.append(a)
    if len({a.shape[0] for a in arrays}) > 1:
        raise ArgumentError(
            "the members' scores must cover the same cells: got lengths "
            + ", ".join(f"{m}={a.shape[0]}" for m, a in zip(members, arrays, strict=True)))
    return arrays


def log_rank(values: np.ndarray) -> np.ndarray:
    """``log(rank / N)`` with ``scipy.stats.rankdata``'s average ranks (ascending); NaN counts as
    ``-inf`` (the anchor's rule for a component), so it ranks lowest."""
    v = np.where(np.isnan(values), -np.inf, values)
    return np.log(scipy.stats.rankdata(v) / v.shape[0])


_ORDER = ("az_complexity", "az_expressivity", "az_progressivity", "az_trainability")
"""The order of the anchor's sum (FLOPs first, then its result dict's keys)."""


@register_proxy(
    "az_nas", members=COMPONENTS,
    help="Sum over the four AZ-NAS components of log(rank/N), ranks within the population.", reference=_REFERENCE,
    variant="AZ-NAS's aggregation over a population of cells: sum over the four components of "
            "log(rank/N), ranks ascending by scipy.stats.rankdata (average ranks for ties) within "
            "the population scored, summed in the anchor's order (complexity, expressivity, "
            "progressivity, trainability). NaN component scores count as -inf (the anchor maps "
            "NaN to -inf) and rank lowest. The anchor ranks all 15,625 cells; a sample ranks "
            "within the sample. Higher is better; the best cell is the argmax (first on ties).",
)
def az_nas(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """AZ-NAS score of each cell of a population: Σ_components log(rank/N) within the population."""
    arrays = dict(zip(COMPONENTS, member_arrays(scores, COMPONENTS), strict=True))
    n = next(iter(arrays.values())).shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    total = log_rank(arrays[_ORDER[0]])
    for name in _ORDER[1:]:
        total = total + log_rank(arrays[name])
    return total
