"""GradSign (Zhang & Jia, ICLR 2022): how far the per-sample gradients agree in sign.

Definition (cmu-catalyst/GradSign at commit 26412be, ``zero-cost-nas-code/foresight/pruners/
measures/grad_conflict.py``, ``get_grad_conflict``, registered as the zero-cost-nas measure
``grad_conflict`` and run by ``zero-cost-nas-code/build.py``, the script behind the paper's
Spearman ρ on NAS-Bench-201): for each sample ``i`` of one batch, ``net.zero_grad()``, one forward
of that sample alone (``inputs[[i]]``, a batch of 1), ``loss_fn(outputs, targets[[i]])`` with
``loss_fn = F.cross_entropy`` and ``loss.backward()``; the weight gradient of every ``nn.Conv2d``
and ``nn.Linear`` of ``net.modules()`` (``weight`` only, no bias; a weight without a gradient
gives zeros), flattened and concatenated into one vector ``g_i`` (``p_utils.get_flattened_metric``,
float32 numpy). Then ``np.sign`` of the ``N x P`` stack, summed over the samples, ``abs``, and
``np.nansum`` over the ``P`` elements::

    score = Σ_k | Σ_i sign(∂ℓ(x_i, y_i) / ∂θ_k) |

Consequences of the rule, which tfnas keeps:

* ``sign(0) = 0``: an element whose gradient is exactly 0 for a sample adds nothing for it; an
  element that no sample's loss reaches (a conv behind a ``none`` edge, an unused module, a weight
  without a gradient) adds 0. A cell with no path from its input to its output (every path through
  a ``none`` edge) makes the features 0 and scores exactly 0.
* Each sample's gradient comes from its own forward in train mode, so every BatchNorm normalises
  over that one sample's spatial positions: the samples never see each other. The score is a sum
  of per-sample terms' signs; it does not depend on the order of the samples.
* The score is an integer between 0 and ``N · P`` (``N`` samples, ``P`` weight elements); it grows
  with the number of weights, as the paper's sum does.
* NaN: ``np.sign(NaN)`` is NaN, so an element where any sample's gradient is NaN has a NaN code
  and ``nansum`` drops it; a sample whose loss is not finite has NaN gradients everywhere and the
  score is then 0. An infinite gradient has sign ±1.

tfnas's recipe (the registry's ``variant`` says it in one paragraph):

* Batch: 128 NATS-normalised test images with their labels (the anchor: ``build.py``'s
  ``--batch_size 128``, one random batch, ``--dataload random --dataload_info 1``).
* Network and mode: the network as the scoring rule builds and initialises it, in train mode
  (zero-cost-nas's ``get_prunable_copy`` calls ``train()``); BatchNorm running statistics and every
  module's mode are restored afterwards; no weight is written.
* Per-sample gradients, computed in batches of :data:`CHUNK` samples (:func:`sign_codes_batched`):
  one forward of the chunk in which every BatchNorm's output is replaced (forward hook) by its
  input normalised over each sample's own positions with the module's affine parameters
  (``F.instance_norm``: BatchNorm in train mode on a batch of 1, as the anchor's loop runs it), so
  the chunk's samples stay independent; one backward of the summed per-sample cross-entropies to
  the output of every Conv2d/Linear call (sample ``i``'s part of it is ``∂ℓ_i/∂out_i``); each
  sample's weight gradient from its own input and output gradient (``bmm`` per kernel offset for a
  convolution, an outer product for a Linear layer). Its signs are summed over the samples as
  exact small integers. The per-sample loop (:func:`sign_codes_loop`, the anchor's: one forward and
  backward per sample) is used instead for a network the batched path does not cover (grouped
  convolutions, non-zero padding modes, string padding, a layer that changes the batch dimension,
  a Conv2d/Linear input or output that a later in-place op overwrites).
  ``tests/test_gradsign.py`` checks the two against a literal numpy re-statement of the anchor's
  loop: in float64 the counts are identical on random cells; in float32 each path's rounding flips
  a few signs (see the tolerance below).
* Sum: exact (integers), returned as a float.

Where the anchor differs and tfnas does not follow it:

* The anchor's network is zero-cost-nas's ``NAS201Model`` (``foresight/models/nasbench2.py``):
  every cell instantiates all five ops on every edge and runs the kept ones (the others' weights
  get no gradient: zeros, sign 0, as if absent), cell convolutions with a bias (not counted: only
  weights are; in train mode the next BatchNorm cancels it) and cell BatchNorms with
  ``affine=False`` and no running statistics (at init γ = 1, β = 0: the same function). The same
  weights therefore give the same score in either module tree; tfnas scores its NATS-Bench network
  (xautodl's TinyNetwork) at the scoring rule's init instead of PyTorch's default init drawn from
  one global generator seeded with 42 for the whole run.
* Data: the anchor's batch is the first of a shuffled training loader with random crop (padding 4,
  or 2 on ImageNet16-120) and horizontal flip, its own normalisation, drawn anew for each cell;
  tfnas uses the scoring rule's seeded test batch.
* Arithmetic: the anchor runs on a GPU in float32 and sums the codes in float32 (``np.nansum``
  over about a million integers up to 128, whose partial sums pass 2^24: rounding of about 1e-7
  relative); tfnas sums exactly.

Other versions, not followed:

* ``zero-cost-nas-code/gradsign.py`` and ``naswot-code/gradsign.py`` (the NASWOT-harness
  scripts, the latter behind the paper's Kendall τ) restate the same loop; the first ends in
  ``np.nanmean`` (the sum divided by the number of weight elements), the second in
  ``np.nansum``.
* AZ-NAS's port (``cvlab-yonsei/AZ-NAS``, ``NB201/ZeroShotProxy/compute_gradsign_score.py``, which
  VKDNW's repository copies unchanged) takes ``nanmean`` from ``zero-cost-nas-code/gradsign.py``
  but scores each cell as a sampled path of one shared supernet (``tss_supernet(gradsign).ipynb``,
  affine-free BatchNorm without running statistics, training batches of 64): every supernet weight
  is in the mean, so it divides the sum by one constant and ranks as the sum does; its τ re-run
  differs by the batch (64), the supernet's one shared init and the training data (its notebook
  as committed scores 3,000 random cells; a commented-out block scores all of them).
  ``compute_gradsign_rev_score.py`` (unused by its notebook) averages over the used weights only.

Spot-check tolerance (3e-3, 0.0) (relative, absolute; ``math.isclose``): scoring in float64
instead of float32 moved the score by at most 2.6e-4 relative (2,060 of 8.16 million; 6 random
cells at 32x32 on CIFAR-10 and at 16x16 on ImageNet16-120, the registered batch of 128); the
tolerance is about 11 times that. The float32 noise is large for a count because the gradients
themselves are sensitive: rounding flips ReLU masks in the forward, and the float32 weight
gradients of the deeper cells differed from float64 by about 2% (relative norm) on the all-3x3
cell, flipping about 0.5% of the per-sample signs, most of which cancel in the count. Another
machine's float32 (the anchor's GPU included) lands about as far away. Memory: the chunks bound
it whatever the batch (peak RSS 1.2 GiB scoring the largest cell at 32x32 at batch 1,024, the
interpreter included), so it registers no bound below the general 1,024.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tfnas.checks import ArgumentError
from tfnas.proxies.passes import ZERO_COST_NAS, check_images, logits_of, preserved, weight_layers
from tfnas.proxies.registry import check_labels, register_proxy

GRADSIGN_BATCH = 128
"""The anchor's batch: ``zero-cost-nas-code/build.py``'s ``--batch_size 128``."""

CHUNK = 32
"""Samples per batched forward/backward (memory stays bounded whatever the batch)."""


class _Unbatchable(Exception):
    """The batched path meets a layer it does not cover: the per-sample loop is used instead."""


def _per_sample_norm(module: nn.Module, inputs: tuple[torch.Tensor, ...],
                     output: torch.Tensor) -> torch.Tensor:
    """Forward hook on a BatchNorm: its train-mode output as if each sample were a batch of 1."""
    x = inputs[0]
    if x.dim() < 3 or x[0, 0].numel() < 2:
        raise ArgumentError(
            f"train-mode BatchNorm on one sample needs more than one value per channel, got "
            f"input {tuple(x.shape)}")
    return F.instance_norm(x, None, None, module.weight, module.bias, True, 0.0, module.eps)


def _conv_weight_grads(conv: nn.Conv2d, x: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """Per-sample ``∂/∂W`` of a Conv2d call, ``(N, *W.shape)``, from its input and output gradient."""
    n, c_in = x.shape[:2]
    c_out, h_out, w_out = grad_out.shape[1:]
    (ph, pw), (sh, sw), (dh, dw) = conv.padding, conv.stride, conv.dilation
    kh, kw = conv.kernel_size
    padded = F.pad(x, (pw, pw, ph, ph)) if ph or pw else x
    rows = grad_out.reshape(n, c_out, h_out * w_out)
    grads = x.new_empty((n, c_out, c_in, kh, kw))
    for a in range(kh):
        for b in range(kw):
            patch = padded[:, :, a * dh: a * dh + (h_out - 1) * sh + 1: sh,
                           b * dw: b * dw + (w_out - 1) * sw + 1: sw]
            grads[..., a, b] = torch.bmm(rows, patch.reshape(n, c_in, -1).transpose(1, 2))
    return grads


def _linear_weight_grads(x: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """Per-sample ``∂/∂W`` of a Linear call, ``(N, out, in)``."""
    n = x.shape[0]
    return torch.bmm(grad_out.reshape(n, -1, grad_out.shape[-1]).transpose(1, 2),
                     x.reshape(n, -1, x.shape[-1]))


def _batchable(layers: list[nn.Module]) -> bool:
    return all(not isinstance(m, nn.Conv2d)
               or (m.groups == 1 and m.padding_mode == "zeros" and isinstance(m.padding, tuple))
               for m in layers)


def _new_codes(layers: list[nn.Module]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per layer: the running Σ_i sign (float32, exact for up to 2^24 samples) and a NaN mask."""
    return ([torch.zeros_like(m.weight, dtype=torch.float32) for m in layers],
            [torch.zeros_like(m.weight, dtype=torch.bool) for m in layers])


def _add(codes: torch.Tensor, nan: torch.Tensor, grads: torch.Tensor) -> None:
    """Add the signs of per-sample gradients ``(N, *shape)`` (or one sample's ``shape``)."""
    batch = grads.dim() > codes.dim()
    signs = torch.sign(grads)
    codes += signs.sum(0) if batch else signs
    bad = torch.isnan(grads)
    nan |= bad.any(0) if batch else bad


def _masked(codes: list[torch.Tensor], nan: list[torch.Tensor]) -> list[torch.Tensor]:
    """The codes with NaN where any sample's gradient was NaN (``np.sign(NaN)`` is NaN)."""
    return [torch.where(m, torch.full_like(c, float("nan")), c) for c, m in zip(codes, nan, strict=True)]


def sign_codes_loop(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
    """Per Conv2d/Linear weight, ``Σ_i sign(∂ℓ_i/∂W)`` from one train-mode forward and backward
    per sample (the anchor's loop); NaN where a sample's gradient is NaN."""
    layers = [m for _, m in weight_layers(network)]
    codes, nan = _new_codes(layers)
    weights = [m.weight for m in layers]
    flags = [(p, p.requires_grad) for p in weights]
    try:
        for w in weights:
            w.requires_grad_(True)
        with preserved(network), torch.enable_grad():
            network.train()
            for i in range(images.shape[0]):
                logits = logits_of(network(images[i:i + 1].detach()))
                loss = F.cross_entropy(logits, labels[i:i + 1])
                grads = torch.autograd.grad(loss, weights, allow_unused=True)
                for k, g in enumerate(grads):
                    if g is not None:
                        _add(codes[k], nan[k], g.detach())
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    return _masked(codes, nan)


def sign_codes_batched(network: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                       chunk: int = CHUNK) -> list[torch.Tensor]:
    """:func:`sign_codes_loop`'s codes from batched passes of ``chunk`` samples (module
    docstring); raises ``_Unbatchable`` where it does not apply."""
    layers = [m for _, m in weight_layers(network)]
    if not _batchable(layers):
        raise _Unbatchable
    codes, nan = _new_codes(layers)
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    flags = [(m.weight, m.weight.requires_grad) for m in layers]
    try:
        for m in layers:  # every layer output on the graph, as the loop's weight gradients are
            m.weight.requires_grad_(True)
        with preserved(network):
            network.train()
            _batched_passes(network, images, labels, chunk, layers, norms, codes, nan)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    return _masked(codes, nan)


def _batched_passes(network: nn.Module, images: torch.Tensor, labels: torch.Tensor, chunk: int,
                    layers: list[nn.Module], norms: list[nn.Module], codes: list[torch.Tensor],
                    nan: list[torch.Tensor]) -> None:
    """Add every chunk's per-sample signs to ``codes`` and ``nan`` (train mode, hooks removed)."""
    index = {id(m): k for k, m in enumerate(layers)}
    for start in range(0, images.shape[0], chunk):
        x = images[start:start + chunk].detach().clone().requires_grad_(True)
        n = x.shape[0]
        calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor, int, int]] = []

        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor,
                   calls: list = calls) -> None:
            calls.append((module, inputs[0].detach(), output, inputs[0]._version, output._version))

        handles = [m.register_forward_hook(_per_sample_norm) for m in norms]
        handles += [m.register_forward_hook(record) for m in layers]
        try:
            with torch.enable_grad():
                logits = logits_of(network(x))
                if logits.shape[0] != n or any(
                        o.shape[0] != n or i.shape[0] != n or i._version != vi or o._version != vo
                        for _, i, o, vi, vo in calls):
                    raise _Unbatchable  # another batch dimension, or a layer's input or output
                    # changed in place after the call (its recorded values are gone)
                loss = F.cross_entropy(logits, labels[start:start + chunk], reduction="sum")
                wanted = [o for _, _, o, _, _ in calls if o.requires_grad]
                got = iter(torch.autograd.grad(loss, wanted, allow_unused=True) if wanted else ())
        finally:
            for handle in handles:
                handle.remove()
        per_layer: dict[int, torch.Tensor] = {}
        for module, inp, out, _, _ in calls:
            grad_out = next(got) if out.requires_grad else None
            if grad_out is None:
                continue
            grads = (_linear_weight_grads(inp, grad_out) if isinstance(module, nn.Linear)
                     else _conv_weight_grads(module, inp, grad_out))
            k = index[id(module)]
            per_layer[k] = per_layer[k] + grads if k in per_layer else grads
        for k, grads in per_layer.items():
            _add(codes[k], nan[k], grads)


def sign_codes(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
    """Per Conv2d/Linear weight (``named_modules`` order), ``Σ_i sign(∂ℓ_i/∂W)`` over the batch,
    NaN where any sample's gradient is NaN: batched where it applies, else the per-sample loop."""
    check_images(network, images)
    check_labels(labels, images.shape[0])
    try:
        return sign_codes_batched(network, images, labels)
    except _Unbatchable:
        return sign_codes_loop(network, images, labels)


def gradsign_of_codes(codes: list[torch.Tensor]) -> float:
    """``Σ |code|`` over every element of every layer, NaN codes dropped (``np.nansum``), exactly."""
    total = 0
    for code in codes:
        total += int(torch.nan_to_num(code, nan=0.0).abs().to(torch.int64).sum())
    return float(total)


_VARIANT = (
    "GradSign as cmu-catalyst/GradSign zero-cost-nas-code/foresight/pruners/measures/"
    "grad_conflict.py computes it (get_grad_conflict, run by build.py for the paper's NAS-Bench-201 "
    "Spearman rho): for each of the batch's samples alone (a batch of 1, train mode: every "
    "BatchNorm normalises over that sample's positions) the cross-entropy gradient of every "
    "Conv2d/Linear weight (no biases; a weight without a gradient counts as zeros); the sum over "
    "weight elements of |sum over samples of sign(g_i)| (sign(0) = 0), NaN codes dropped (nansum). "
    + ZERO_COST_NAS.format(batch=GRADSIGN_BATCH)
    + " Per-sample gradients from batched passes of 32 samples in which each BatchNorm is replaced "
      "by its per-sample (one-sample train-mode) normalisation, each sample's weight gradient from "
      "its own layer input and output gradient; the per-sample loop where that does not apply. "
      "Exact integer sum (theirs: float32). Non-finite: an element whose gradient is NaN for any "
      "sample is dropped, as their nansum drops it (a sample with a non-finite loss: score 0). "
      "Spot-check tolerance (3e-3, 0.0): about 11x the largest float32-vs-float64 difference "
      "measured (2.6e-4 relative)."
)


@register_proxy(
    "gradsign", data=True, labels=True, batch_size=GRADSIGN_BATCH, tolerance=(3e-3, 0.0),
    reference="Zhang & Jia, GradSign: Model Performance Inference with Theoretical Insights, "
              "ICLR 2022; cmu-catalyst/GradSign zero-cost-nas-code/foresight/pruners/measures/"
              "grad_conflict.py (get_grad_conflict)",
    variant=_VARIANT)
def gradsign(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Σ over Conv2d/Linear weight elements of |Σ over samples of sign(per-sample ∂CE/∂W)|."""
    return gradsign_of_codes(sign_codes(network, images, labels))
