"""ZiCo (Li et al., ICLR 2023): the summed log inverse coefficient of variation of weight gradients.

Definition (SLDGroup/ZiCo at commit b0fec65, ``ZeroShotProxy/compute_zico.py``: ``getzico``,
``getgrad``, ``caculate_zico``): the network in train mode; for each batch ``i`` of a training
loader, zero the gradients, forward, take the cross-entropy of the logits against the batch's
labels (``nn.CrossEntropyLoss``: the mean over the batch), backward, and keep the flattened
``weight.grad`` of every ``nn.Conv2d`` and ``nn.Linear`` (``named_modules`` order; biases and
BatchNorm parameters are not read). With the ``K`` gradients of a layer stacked as a ``K x P``
array, per element ``j``: ``std_j`` (``np.std``, ``ddof=0``) and ``mean_j = mean(|g_j|)``; the
layer's sum ``S = Σ_{j: std_j ≠ 0} mean_j / std_j`` over the elements whose standard deviation is
not zero (``np.nonzero``); the layer adds ``log S``, or nothing when ``S == 0``. The score is the
sum over layers (``nsr_mean_sum_abs``). ZiCo's own ``getzico`` moves the network and the batches
to CUDA (``network.cuda()``, ``data.cuda()``) and runs over every batch of the loader it is given.

NAS-Bench-201 protocol followed: cvlab-yonsei/AZ-NAS at 5e6683a,
``NB201/ZeroShotProxy/compute_zico_score.py`` (``compute_nas_score``, ``batch_iter=2``) driven by
``NB201/tss_general.ipynb`` — the re-run behind AZ-NAS's Table 1 ZiCo row (Kendall τ 0.589 /
0.590 / 0.584). ondratybl/VKDNW's ``NB201/ZeroShotProxy/compute_zico_score.py`` (at 6901b65, and
at 19cad2f where its driver ``NB201/tss_general_.py`` still exists) is the same file byte for
byte (AZ-NAS's header comment included; only a trailing newline differs), so the two ports
agree on every point the brief asks about: the gradient samples are the first two batches of the
training loader (``batch_iter=2``: two forwards and two backwards, never one batch split), each of
``batch_size`` 64 (``configs/nas-benchmark/algos/weight-sharing.config``; VKDNW's ``--batch_size``
default 64); modules ``nn.Conv2d`` and ``nn.Linear`` whose ``weight.grad is not None`` after
``zero_grad(set_to_none=True)`` and backward (AZ-NAS's change 2: "check whether gradients are
valid"; in the NATS-Bench network every such weight is on the graph, so none is skipped);
``np.std`` with ``ddof=0``; the nonzero-std mask and ``tmpsum == 0`` skip as ZiCo's; the loss
``nn.CrossEntropyLoss()`` on the second output of xautodl's ``(features, logits)``; train mode;
xautodl's TinyNetwork (``custom/tss_model.py``: BatchNorm affine, running statistics tracked — the
notebook's ``--track_running_stats 0`` is parsed but never passed to the network — which train mode
does not read). The drivers differ, and tfnas follows AZ-NAS's: its notebook scores ZiCo alone on a
freshly built network at PyTorch's default init; VKDNW's ``tss_general_.py``, when run without
``--zero_shot_score``, scores ``vkdnw``, ``az_nas`` and ``jacov`` on the same network object before
``zico``, and each of them re-initialises that network in place (Kaiming-normal fan-in for
Conv2d/Linear, BatchNorm γ = 1, β = 0), so its ZiCo column may have been computed at that init;
which way its published numbers were run is not recorded. tfnas's scoring rule builds the
PyTorch-default-like init, which is AZ-NAS's protocol.

Consequences of the rule, which tfnas keeps:

* With two samples ``a, b`` an element's ratio is ``(|a| + |b|) / |a − b|`` (``ddof=0``: the
  standard deviation is ``|a − b| / 2``), which is at least 1 (triangle inequality): every layer
  with a gradient term adds at least ``log`` of its count of differing elements, and the score of
  any network is ≥ 0. The ratio is heavy-tailed (an element whose two gradients nearly agree
  dominates its layer's sum), which is why float32 and float64 arithmetic land further apart than
  the gradients themselves do (see the tolerance below).
* An element whose gradient is the same in both samples (in practice: zero in both, e.g. a weight
  that reads an input channel which is 0 on every image) is left out of its layer's sum.
* A layer whose gradients are all zero (a conv edge whose output reaches the loss only through
  ``none`` edges, ``x·0``) has ``S = 0`` and contributes nothing: the anchor's ``tmpsum == 0``
  branch adds nothing and never takes ``log 0``. With the all-``none`` cell every layer is so (the
  first cell's ``x·0`` cuts the stem's gradient; the residual blocks, ``lastact`` and the
  classifier see inputs of exact zeros, so their weight gradients are 0), and the network scores
  0, the anchor's initial value.

tfnas's recipe (the registry's ``variant`` says it in one paragraph):

* Gradient samples: the proxy receives **one** batch of images with their labels (registered
  ``batch_size`` 128 = the anchor's 2 x 64) and splits it into two halves along the batch
  (``torch.tensor_split``: the first ``ceil(N/2)`` images, then the rest), forwarding each half on
  its own: train-mode BatchNorm normalises over each half, and the cross-entropy is the mean over
  each half, as over each of the anchor's two loader batches. The two halves are the anchor's
  two batches; at least 2 images are needed.
* Gradients: ``∂CE/∂W`` of every Conv2d and Linear weight (``weight_layers``, ``named_modules``
  order) from ``torch.autograd.grad`` on each half's loss (the anchor: ``loss.backward()`` and
  ``weight.grad``; the same values: a weight's gradient does not depend on which other gradients
  are computed). A weight off the graph (``None``) counts as zeros: it adds nothing, as the
  anchor's skip does.
* Statistics: per layer in float64 from the (float32) gradients: ``std`` with ``ddof=0`` (two-pass,
  as ``np.std``), ``mean |g|``, the mask ``std ≠ 0``, ``S``, ``log S`` unless ``S == 0``; the sum
  over layers exact (``math.fsum``). The anchor does this in numpy float32
  (``np.std``/``np.mean``/``np.sum`` of the float32 gradients, ``np.log``); see the tolerance for
  what that moves.
* Network and mode: the network as the scoring rule builds it (xautodl's TinyNetwork at the rule's
  PyTorch-default-like init from the cell seed), switched to train mode for the two passes (the
  anchor calls ``network.train()``), then every module's mode and every buffer (BatchNorm running
  statistics, which the anchor lets advance by two forwards) restored; ``requires_grad`` flags
  restored; no ``.grad`` is written and no weight changes.
* Device: the anchor's device-specific calls (ZiCo's ``network.cuda()`` and ``data.cuda()``, the
  ports' ``torch.device('cuda:{gpu}')`` and ``nn.CrossEntropyLoss().cuda()``) are replaced by the
  network's own device: the batch and labels are moved to the device of the network's parameters
  (``device_of``), nothing else is moved.
* Data: the scoring rule's batch: seeded NATS-normalised test images of the dataset at its own
  resolution with their labels (the anchor: the first two batches of a freshly shuffled training
  loader, random crop with padding and horizontal flip, from the global RNG — so other images per
  cell).

Non-finite rule: a NaN or infinite gradient (non-finite weights, an overflowing loss; a non-finite
image is refused before anything runs) makes its layer's statistics NaN (the anchor's
``np.nonzero`` keeps NaN, ``np.log(nan)``), so the score is NaN, which the scoring rule stores as
``-inf`` (ranked last). A layer whose gradients are all zero, or equal in both halves, contributes
0 (no ``log 0``); a network of only such layers scores 0.

Spot-check tolerance (5e-2, 0.0) (relative, absolute; ``math.isclose``): ZiCo's float32 value is
ill-conditioned. Scoring in float64 instead of float32 moved the score by up to 1.2e-2 relative
(4.2 on 342, CIFAR-10) and 4.8 absolute (on 818, ImageNet16-120) over 6 random cells at 32x32
(CIFAR-10) and the same 6 at 16x16 (ImageNet16-120), at the registered batch of 128 (median 2.4e-3
relative). The cause is the definition's: the float32 weight gradients of the NATS-Bench network
differ from float64 ones by about 1e-3 relative (norm of a cell layer's gradient, measured on one
CIFAR-10 cell), and an element whose two gradients nearly agree has a ratio
``(|a| + |b|) / |a − b|`` of 1e4 to 1e5 or more (the largest per layer on that cell: up to 3.8e5)
that dominates its layer's sum, so that layer's ``log S`` moves by up to about 3 (2.8 on one layer
of that cell). The tolerance is about 4x the largest relative difference measured, for another
machine's float32 kernels (another draw of the same rounding); the spot check's own spread rule
covers a cell whose score is small next to such a jump. The anchor's own float32 numpy statistics
on tfnas's float32 gradients differ from tfnas's float64 statistics by at most 1.5e-6 relative on
the same 12 cells: the gradients, not the statistics, carry the rounding (``tests/test_zico.py``
bounds that at 1e-4 on small batches).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tfnas.checks import ArgumentError
from tfnas.proxies.passes import (
    check_images,
    device_of,
    finite_or_nan,
    logits_of,
    preserved,
    weight_layers,
)
from tfnas.proxies.registry import check_labels, register_proxy

ZICO_BATCH = 128
"""Two of the anchor's batches of 64 (``batch_iter=2``; weight-sharing.config ``batch_size 64``),
given as one batch and split into halves."""
ZICO_SPLITS = 2
"""The number of gradient samples: the anchor's ``batch_iter=2``."""
ZICO_MAX_BATCH = 320
"""The largest batch scored: each half is one gradient pass of up to 160 images (grad_norm's
bound). Peak RSS scoring the largest cell at 32x32 (``tests/test_scoring_memory.py``'s
``peak_mib``, torch CPU, one thread): 460 MiB at 32, 865 at 128, 1,678 at 320 (about 4.2 MiB per
image: each pass holds one half), within the 2 GiB budget; grad_norm at its 160: 1,603 on the same
machine."""

_VARIANT = (
    "ZiCo as AZ-NAS's NB201 port computes it (cvlab-yonsei/AZ-NAS NB201/ZeroShotProxy/"
    "compute_zico_score.py, batch_iter=2, driven by NB201/tss_general.ipynb; VKDNW's port is the "
    "same file): the network in train mode; two gradient samples, each the mean cross-entropy "
    "gradient of every Conv2d/Linear weight on one batch of 64 labelled images; per weight "
    "element mean|g| and std(g) (ddof=0) over the two samples; per layer S = sum of mean|g|/std "
    "over the elements with std != 0, adding log S (nothing when S = 0); the score is the sum "
    "over layers. tfnas gets one batch of 128 NATS-normalised test images with labels and splits "
    "it into two halves (the first ceil(N/2) images, the rest), each forwarded on its own "
    "(train-mode BatchNorm and the loss per half, as the anchor's two loader batches), instead of "
    "two shuffled, cropped and flipped training batches; the NATS-Bench network (xautodl "
    "TinyNetwork, as the anchor's) at the scoring rule's PyTorch-default-like init, as AZ-NAS's "
    "notebook scores it (VKDNW's all-proxy driver may have scored it after other proxies re-drew "
    "the weights Kaiming-normal in place). The anchor's CUDA calls are replaced by the network's "
    "own device. Statistics and the sum in float64 (the anchor: numpy float32); modes, buffers "
    "and requires_grad restored, no .grad written. Non-finite: a NaN or infinite gradient gives "
    "NaN, which scoring stores as -inf (ranked last); a layer whose gradients are all zero or "
    "equal in both halves adds 0 (never log 0), so the all-none cell scores 0. Spot-check "
    "tolerance (5e-2, 0.0): about 4x the largest float32-vs-float64 difference measured (1.2e-2 "
    "relative): float32 gradients of near-tied elements make ZiCo's float32 value "
    "ill-conditioned."
)


def split_batch(images: torch.Tensor, labels: torch.Tensor,
                parts: int = ZICO_SPLITS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(images, labels)`` cut into ``parts`` consecutive chunks along the batch (the first
    chunks one image larger when ``N`` is not a multiple; ``torch.tensor_split``)."""
    if images.shape[0] < parts:
        raise ArgumentError(
            f"zico splits the batch into {parts} gradient samples: it needs at least {parts} "
            f"images, got {images.shape[0]}")
    return list(zip(torch.tensor_split(images, parts), torch.tensor_split(labels, parts),
                    strict=True))


def weight_gradients(network: nn.Module, images: torch.Tensor,
                     labels: torch.Tensor) -> list[torch.Tensor]:
    """``∂CE/∂W`` of every Conv2d/Linear weight (``weight_layers`` order) for one forward of
    ``images`` in the network's current mode; CE the mean cross-entropy against ``labels``. A
    weight off the graph gets zeros. ``requires_grad`` flags are restored; no ``.grad`` is
    written."""
    weights = [m.weight for _, m in weight_layers(network)]
    flags = [(p, p.requires_grad) for p in network.parameters()]
    try:
        for weight in weights:
            weight.requires_grad_(True)
        with torch.enable_grad():
            logits = logits_of(network(images.detach()))
            loss = F.cross_entropy(logits, labels)
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    return [g.detach() if g is not None else torch.zeros_like(w)
            for g, w in zip(grads, weights, strict=True)]


def layer_term(samples: torch.Tensor) -> float:
    """One layer's ZiCo term from its ``K x P`` gradient samples: ``log Σ mean|g|/std`` over the
    elements whose ``std`` (``ddof=0``, two-pass as ``np.std``) is not 0, or 0.0 when that sum
    is 0 (no element varies). In float64; NaN in, NaN out."""
    x = samples.detach().to(torch.float64)
    centred = x - x.mean(dim=0)  # two passes, as np.std: symmetric in the samples
    std = centred.square().mean(dim=0).sqrt()
    mean_abs = x.abs().mean(dim=0)
    keep = std != 0  # NaN != 0: a NaN element stays, as np.nonzero keeps it
    total = float((mean_abs[keep] / std[keep]).sum())
    return 0.0 if total == 0 else math.log(total)  # total > 0 (or NaN): log never sees 0


def zico_terms(gradients: Sequence[Sequence[torch.Tensor]]) -> list[float]:
    """Per layer the ZiCo term of ``gradients[k][layer]`` (sample ``k``'s gradient per layer)."""
    layers = zip(*gradients, strict=True)
    return [layer_term(torch.stack([g.reshape(-1) for g in per_layer])) for per_layer in layers]


def zico_gradients(network: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   parts: int = ZICO_SPLITS) -> list[list[torch.Tensor]]:
    """The weight gradients of each of the ``parts`` chunks of the batch, each chunk forwarded on
    its own in train mode; the network's modes and buffers restored afterwards."""
    check_images(network, images)
    check_labels(labels, images.shape[0])
    device = device_of(network)
    images, labels = images.to(device), labels.to(device)
    chunks = split_batch(images, labels, parts)
    with preserved(network):
        network.train()
        return [weight_gradients(network, x, y) for x, y in chunks]


@register_proxy(
    "zico", data=True, labels=True, batch_size=ZICO_BATCH, max_batch_size=ZICO_MAX_BATCH,
    tolerance=(5e-2, 0.0),
    reference="Li et al., ICLR 2023 (ZiCo); SLDGroup/ZiCo ZeroShotProxy/compute_zico.py; NB201 "
              "protocol: cvlab-yonsei/AZ-NAS NB201/ZeroShotProxy/compute_zico_score.py "
              "(batch_iter=2) with NB201/tss_general.ipynb",
    variant=_VARIANT)
def zico(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Sum over Conv2d/Linear layers of log Σ mean|g|/std(g) of two half-batches' weight gradients."""
    terms = zico_terms(zico_gradients(network, images, labels))
    if not all(math.isfinite(t) for t in terms):
        return math.nan
    return finite_or_nan(math.fsum(terms))
