"""VKDNW (Tybl & Neumann, CVPR 2025): the entropy of the deciles of an empirical Fisher spectrum.

Definition (ondratybl/VKDNW at HEAD 6901b65, ``NB201/ZeroShotProxy/compute_vkdnw_score.py``,
``compute_nas_score`` with ``params_grad_len=128`` and ``p=1``; ``NB201/tss_general_.py``, deleted
in 2b67433 and read at its parent beb332b, calls it once per cell on a freshly built
``custom/tss_model.TinyNetwork``, with ``trainloader=None``, ``batch_size=64`` and the dataset's
resolution):

1. ``init_model(model, 'kaiming_norm_fanin')``: ``model.apply`` re-draws every Conv2d and Linear
   weight ``kaiming_normal_(mode='fan_in', nonlinearity='relu')`` (N(0, 2/fan_in)), zeroes their
   biases, and sets every affine BatchNorm2d/GroupNorm to γ = 1, β = 0 (running statistics are
   left as they are: a fresh network's 0 and 1).
2. ``input_ = torch.randn(64, 3, r, r)`` (float32), drawn after the init.
3. ``get_fisher`` puts the model in **eval** mode (BatchNorm normalises with its running
   statistics, so every sample is scored on its own). ``get_jacobian_index``: for each parameter
   tensor of ``named_parameters()`` the entries ``torch.linspace(0, numel - 1, steps=int(p))``
   — with ``p = 1`` the single entry at flat index 0 (the first element: ``weight[0, 0, 0, 0]``
   of a convolution, ``γ_0``/``β_0`` of a BatchNorm, ``W[0, 0]``/``b_0`` of a Linear) — of the
   **first 128 tensors** (``list(...)[0:params_grad_len]``: all of them when there are fewer);
   per sample (``vmap``), the Jacobian of the logits (``model(x)[1]``) with respect to these
   entries (``jacrev``): ``J_n``, ``K x P``.
4. ``cholesky_covariance(model(input)[1])``: ``p = softmax(logits)·(1 − α) + α/K`` with α the
   float16 constant ``0.05`` (0.04998779296875; ``1 − α`` and ``α/K`` are float16 arithmetic:
   0.9501953125 and ``α/K`` rounded to float16, so ``Σp`` is about 1.0002, not 1); ``q_j = 1 −
   Σ_{i≤j} p_i`` with ``q_K = 0``, ``q_0 = 1`` shifted in; ``d_j = √(p_j q_j / q_{j−1})``; ``L``
   lower triangular with ``L_ij = −p_i / q_j`` below the diagonal (``nan_to_num``: −inf → 0), 1 on
   it, then ``L ← L·diag(d)``. Its own back-test says ``L Lᵀ = diag(p) − p pᵀ``.
5. The Fisher matrix ``F = mean_n (L_n J_n)ᵀ (L_n J_n) = mean_n J_nᵀ (L_nᵀ L_n) J_n`` (``P x P``).
   Note ``L_nᵀ L_n``, not the covariance ``L_n L_nᵀ = diag(p) − p pᵀ`` of the paper's categorical
   Fisher ``Jᵀ (diag(p) − p pᵀ) J``: the anchor multiplies ``J`` by ``L`` where the categorical
   Fisher needs ``Lᵀ``. tfnas follows the code (the published numbers come from it). The last
   column of ``L`` is 0 (``d_K = 0``), so the last logit's Jacobian row never enters.
6. ``λ = torch.svd(F).S`` (the singular values: the eigenvalues of the PSD ``F``); if the SVD
   raises (``LinAlgError``: e.g. non-finite ``F``), ``λ = zeros(2)``.
7. The deciles ``Q = torch.quantile(λ, torch.arange(0.1, 1., 0.1))`` (9 levels, 0.1 … 0.9, as
   float32 values; linear interpolation), ``t = Q / (‖Q‖₁ + 1e-10)``, and the score
   ``vkdnw_entropy = −Σ t log(t + 1e-10)`` (in [≈ −1e-9, log 9]; higher ranks better).
   ``vkdnw_dim = len(list(named_parameters()))`` is ℵ (:mod:`tfnas.proxies.layers`).

Which code behind the published numbers: Table 1 was built (``paper_preparation.ipynb`` at
779a3a8, 2024-11-12, "table 1 adjust (sample first layers)") from runs of the version at 945250a
("params first", 2024-11-02: ``v.flatten()[0:1]`` of the first 128 tensors, deciles
``arange(0.1, 1., 0.1)`` since 148397c); HEAD with ``p = 1`` computes the same (``linspace(0, n
− 1, 1) = [0]``). HEAD's own default ``p = 0`` selects no entry at all (``steps=0``) and fails in
``quantile`` of an empty spectrum. The only random choice in the history, f2c352d (2024-11-17,
after Table 1: with the default ``p = 0`` a random entry per tensor from Python's
``random.seed(12)``), lived for two hours (f8eef9e made ``p = 0`` take index 0 again). So the
"sampled" entry is deterministic: nothing but the init and the Gaussian input is random.

tfnas's recipe (the registry's ``variant`` says it in one paragraph):

* A deep copy of the network (the caller's is untouched), BatchNorm running statistics reset
  (a fresh network's 0 and 1, which the anchor's freshly built network has), the Kaiming init of
  :func:`tfnas.proxies.az_nas.kaiming_init` (the same rule; ``model.apply`` visits the weights in
  the order ``modules()`` does), then the Gaussian batch; every draw from the scoring rule's
  ``generator`` (the anchor: the global CUDA generator), in the anchor's order. Eval mode.
* The Jacobian: instead of ``vmap(jacrev(...))`` over 64 single-sample forwards, one batched
  eval-mode forward in which every selected entry ``θ`` gets a per-sample zero perturbation
  ``ε_n``: a forward hook on the module owning ``θ`` adds ``ε_n ∂y/∂θ`` to its output (for a
  Conv2d, Linear or BatchNorm only the one output channel ``θ`` touches, in closed form; for
  another module, ``torch.func.jvp`` of that module). The output is unchanged (``ε = 0``) and,
  eval mode keeping the samples independent, ``∂ logits[n, k] / ∂ε_n`` is ``J_n[k, θ]``; one
  backward per logit ``k < K − 1`` (the last row is multiplied by 0) gives row ``k`` of every
  ``J_n``, with no weight gradients computed. When the logits are a Linear head ``W h + b`` of
  fewer features ``h`` than ``K − 1`` (NATS-Bench's classifier reads 64 pooled features; CIFAR-100
  and ImageNet16-120 have 100 and 120 classes), the backward passes start from the features
  instead: ``J = W ∂h/∂θ`` by the chain rule (64 passes, not 99 or 119), and the head's own two
  entries from passes that reach only the head. ``tests/test_vkdnw.py`` checks both paths
  against each other and against the anchor's ``vmap``/``jacrev`` form. A tensor is followed
  through the calls of the modules that register it (shared tensors and modules called twice
  included); a network that reads a parameter outside its module's call (``self.fc.weight`` in
  another module's forward) is not differentiated there — no NATS-Bench network does.
* ``L``, ``F``, the singular values (``torch.linalg.svdvals``), the deciles (``torch.quantile``
  at the anchor's float32 levels, linear), the normalisation and the entropy in float64 from the
  network's float32 Jacobian and logits (the anchor: all float32 on a GPU).

Where tfnas differs from the anchor, and why:

* Network: tfnas's NATS-Bench network (xautodl's TinyNetwork, the anchor's
  ``custom/tss_model.TinyNetwork`` with the same modules, parameter order and BatchNorm running
  statistics) — the same network.
* Draws: from the scoring rule's generator (one stream per cell and run seed) instead of the
  global CUDA generator seeded once per run (``--rand_seed`` 1 to 5); the anchor averages the
  correlations of its 5 seeds.
* Arithmetic: float64 after the Jacobian (module docstring above); the anchor's float32 ``L`` and
  ``F`` and its float32 SVD differ from it by float32 rounding.
* Non-finite: the anchor's fallback is kept for any non-finite ``F`` (its SVD refuses such a
  matrix: ``λ = (0, 0)``, entropy 0.0); a network without parameters (the anchor fails) is
  refused in one line; a BatchNorm without running statistics (eval mode would normalise over the
  batch, where the anchor's single-sample forwards normalise each sample alone) is refused too.

Tolerance (1e-3, 1e-3) (relative, absolute): scoring in float64 instead of float32 moved the
entropy by at most 6.0e-5 (absolute; entropies 0.38 to 0.48) on 3 random cells at 32x32 (CIFAR-10)
and by at most 3.6e-8 on 2 at 16x16 (ImageNet16-120; a third was stopped for time); the small
deciles come from the smallest eigenvalues of ``F``, which a float32 Jacobian fixes only to about 1e-7 of the largest,
and their ``t log t`` terms carry that into the entropy. The anchor's all-float32 ``F`` and SVD
land further away than tfnas's float64 ones.

Cost: ``min(K − 1, 64)`` backward passes of the batch on a NATS-Bench network (``vmap``-batching
them over the classes was slower on a CPU), at most as many network passes as the anchor's
``jacrev``; CIFAR-100 and ImageNet16-120 take 64 passes, about seven times CIFAR-10's 9. The
head path took 0.52 of the per-logit path's time at 120 classes, 16x16, one thread
(``benchmarks/test_speed_vkdnw.py``, 2 cells, a loaded 2-core machine: a first look).

VKDNW_single (the paper's ranking by "(ℵ, entropy)"): ``tss_utils.get_scores`` ranks the tuples
``(vkdnw_dim, vkdnw_entropy)`` with ``rank(method='dense', ascending=True)`` and takes the log
(:func:`vkdnw_single_rank`); the registered proxy ``vkdnw_single`` is a single float of the same
order (:func:`single_score`). VKDNW_agg (``vkdnw_comb_rank``) adds to that log-rank the
log-ranks (pandas average ranks) of AZ-NAS's expressivity and trainability, the FLOPs and jacov
(NaN jacov set to the population's minimum): the ensemble ``vkdnw_agg``
(:mod:`tfnas.proxies.vkdnw_agg`), whose jacov member is tfnas's ``jacob_cov`` (the anchor's
``compute_jacov_score.py`` re-initialises the network Kaiming fan-in first; said there).
"""

from __future__ import annotations

import copy
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tfnas.checks import ArgumentError, check_int
from tfnas.network import UnsupportedNetworkError
from tfnas.proxies.az_nas import kaiming_init
from tfnas.proxies.draws import randn
from tfnas.proxies.last_draw import LastDraw
from tfnas.proxies.passes import device_of, logits_of
from tfnas.proxies.registry import register_proxy
from tfnas.proxies.synflow import Resolution, check_network, probe_input
from tfnas.proxies.zen import check_generator

VKDNW_BATCH = 64
"""The anchor's Gaussian batch (``tss_general_.py``: ``--batch_size 64``)."""
VKDNW_MAX_BATCH = 128
"""The largest Gaussian batch scored: the retained eval-mode graph of the largest cell at 32x32
takes about 11 MiB per image (peak RSS 1008 MiB at 64, 1716 MiB at 128, Python and torch
included)."""
MAX_TENSORS = 128
"""``params_grad_len``: the entries are taken from the first 128 parameter tensors."""
ALPHA = float(torch.tensor(0.05, dtype=torch.float16, device="cpu"))
"""The anchor's smoothing constant, a float16 ``0.05`` (0.04998779296875)."""
DECILES = torch.arange(0.1, 1.0, 0.1, device="cpu")
"""The anchor's quantile levels, ``torch.arange(0.1, 1., 0.1)``: 9 float32 values 0.1 … 0.9."""
_TOLERANCE = (1e-3, 1e-3)
"""Spot-check tolerance (relative, absolute), about 17x the largest float32-vs-float64 difference
measured (module docstring, Tolerance)."""
EPS = 1e-10
"""The anchor's guard in the normalisation and inside the log."""


def smoothing(num_classes: int) -> tuple[float, float]:
    """``(1 − α, α/K)`` as the anchor computes them: float16 arithmetic on a float16 ``α``."""
    alpha = torch.tensor(0.05, dtype=torch.float16, device="cpu")
    return float(1 - alpha), float(alpha / num_classes)


def cholesky_factor(logits: torch.Tensor) -> torch.Tensor:
    """The anchor's ``L`` per sample (``N x K x K``, float64) from ``N x K`` logits.

    ``p = softmax·(1 − α) + α/K``, ``q = 1 − cumsum(p)`` with ``q_K = 0``; ``L_ij = −p_i/q_j``
    below the diagonal (non-finite → 0, as ``nan_to_num``), 1 on it, 0 above; columns scaled by
    ``d_j = √(p_j q_j / q_{j−1})`` (``q_0 = 1``).
    """
    n, k = logits.shape
    keep, floor = smoothing(k)
    prob = torch.softmax(logits.to(torch.float64), dim=1) * keep + floor
    q = 1.0 - torch.cumsum(prob, dim=1)
    q[:, -1] = 0.0
    q_prev = torch.roll(q, shifts=1, dims=1)
    q_prev[:, 0] = 1.0
    d = torch.sqrt(prob * q / q_prev)
    lower = -prob[:, :, None] / q[:, None, :]
    lower = torch.nan_to_num(lower, nan=0.0, posinf=torch.finfo(torch.float64).max, neginf=0.0)
    eye = torch.eye(k, dtype=torch.float64, device=logits.device)
    strictly_lower = torch.tril(torch.ones(k, k, dtype=torch.float64, device=logits.device), -1)
    factor = lower * strictly_lower + eye
    return factor * d[:, None, :]


def fisher_matrix(jacobian: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``mean_n (L_n J_n)ᵀ (L_n J_n)`` in float64 from ``J`` (``N x K x P``) and the logits.

    ``J`` may hold only the first ``K − 1`` rows: the last column of ``L`` is 0.
    """
    factor = cholesky_factor(logits)
    rows = jacobian.shape[1]
    scaled = torch.einsum("nkj,njp->nkp", factor[:, :, :rows], jacobian.to(torch.float64))
    return torch.einsum("nkp,nkq->pq", scaled, scaled) / jacobian.shape[0]


def decile_entropy(fisher: torch.Tensor) -> float:
    """``−Σ t log(t + 1e-10)``, ``t`` the deciles of ``F``'s singular values over their L1 norm + 1e-10.

    A non-finite ``F`` gets the anchor's fallback spectrum ``(0, 0)``: entropy 0.0.
    """
    fisher = fisher.to(torch.float64)
    if fisher.numel() == 0:
        raise UnsupportedNetworkError("vkdnw needs at least one parameter entry; got none")
    if bool(torch.isfinite(fisher).all()):
        lambdas = torch.linalg.svdvals(fisher)
    else:
        lambdas = torch.zeros(2, dtype=torch.float64, device=fisher.device)
    quantiles = torch.quantile(lambdas, DECILES.to(torch.float64).to(lambdas.device))
    t = quantiles / (float(quantiles.abs().sum()) + EPS)
    return float(-(t * torch.log(t + EPS)).sum())


# --- the Jacobian with respect to one entry of each selected tensor ---------------------------


@dataclass(frozen=True)
class Entry:
    """Flat index 0 of one parameter tensor: its name, the tensor and the modules that own it."""

    name: str
    parameter: nn.Parameter
    owners: tuple[tuple[nn.Module, str], ...]
    """``(module, attribute)`` of every module that registers this tensor directly."""


def selected_entries(network: nn.Module, limit: int = MAX_TENSORS) -> list[Entry]:
    """The anchor's selection: the first ``limit`` tensors of ``named_parameters()``, entry 0 each."""
    owners: dict[int, list[tuple[nn.Module, str]]] = {}
    for module in network.modules():
        for attr, param in module.named_parameters(recurse=False):
            owners.setdefault(id(param), []).append((module, attr))
    chosen = list(network.named_parameters())[:limit]
    return [Entry(name, p, tuple(owners[id(p)])) for name, p in chosen]


def _first_channel_tangent(module: nn.Module, attr: str, x: torch.Tensor,
                           y: torch.Tensor) -> tuple[int, torch.Tensor] | None:
    """``(dim, ∂y₀/∂θ)`` for ``θ = module.<attr>.flatten()[0]``: ``y₀`` is channel 0 of the output
    along ``dim`` (the rest of ``∂y/∂θ`` is 0); in closed form for Conv2d, Linear and eval-mode
    BatchNorm, ``None`` for any other module."""
    if isinstance(module, nn.Conv2d) and module.padding_mode == "zeros" \
            and not isinstance(module.padding, str):
        if attr == "bias":
            return 1, torch.ones_like(y[:, 0])
        kernel = torch.zeros((1, 1, *module.kernel_size), dtype=x.dtype, device=x.device)
        kernel[0, 0, 0, 0] = 1.0  # weight[0, 0, 0, 0]: input channel 0, tap (0, 0)
        return 1, nn.functional.conv2d(x[:, :1], kernel, None, module.stride, module.padding,
                                       module.dilation)[:, 0]
    if isinstance(module, nn.Linear):
        return -1, torch.ones_like(y[..., 0]) if attr == "bias" else x[..., 0]
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not module.training \
            and module.running_mean is not None and y.dim() >= 2:
        if attr == "bias":
            return 1, torch.ones_like(y[:, 0])
        scale = torch.sqrt(module.running_var[0] + module.eps)
        return 1, (x[:, 0] - module.running_mean[0]) / scale
    return None


def _jvp_tangent(module: nn.Module, attr: str, inputs: tuple, kwargs: dict) -> torch.Tensor:
    """``∂y/∂θ`` of any module by forward mode (``torch.func.jvp``), ``θ`` entry 0 of ``attr``."""
    param = getattr(module, attr)
    tangent = torch.zeros_like(param)
    tangent.view(-1)[0] = 1.0

    def call(value: torch.Tensor) -> torch.Tensor:
        return logits_or_tensor(torch.func.functional_call(module, {attr: value}, inputs, kwargs))

    _, out = torch.func.jvp(call, (param.detach(),), (tangent,))
    return out


def logits_or_tensor(output: object) -> torch.Tensor:
    if not isinstance(output, torch.Tensor):
        raise UnsupportedNetworkError(
            f"vkdnw perturbs a parameter through its module's output, and a module returned a "
            f"{type(output).__name__}, not a tensor")
    return output


def _perturb(entries: list[Entry], eps: list[torch.Tensor]
             ) -> Callable[[nn.Module, tuple, dict, object], torch.Tensor]:
    by_module: dict[int, list[tuple[str, torch.Tensor]]] = {}
    for entry, e in zip(entries, eps, strict=True):
        for module, attr in entry.owners:
            by_module.setdefault(id(module), []).append((attr, e))

    inside: list[nn.Module] = []  # modules re-run for a tangent: their hook must not fire again

    def hook(module: nn.Module, inputs: tuple, kwargs: dict, output: object) -> object:
        if inside:
            return output
        y = logits_or_tensor(output)
        x = inputs[0] if len(inputs) == 1 and not kwargs else None
        for attr, e in by_module[id(module)]:
            closed = _first_channel_tangent(module, attr, x, y) if x is not None else None
            if closed is None:  # any other module: its full tangent by forward mode
                inside.append(module)
                try:
                    full = _jvp_tangent(module, attr, inputs, kwargs)
                finally:
                    inside.pop()
                y = y + e.view((-1,) + (1,) * (y.dim() - 1)) * full
                continue
            dim, first = closed
            # in place on channel 0 alone: no copy of the output (a Conv2d, Linear or BatchNorm
            # keeps no output for its backward; autograd's version check would refuse one that did)
            y.select(dim, 0).add_(e.view((-1,) + (1,) * (first.dim() - 1)) * first)
        return y

    return hook


@dataclass
class LinearCalls:
    """A forward hook for every ``nn.Linear`` of a forward: how often each was called, and the
    last call's module, input and output."""

    module: nn.Linear | None = None
    inputs: torch.Tensor | None = None
    output: torch.Tensor | None = None
    calls: dict[int, int] = field(default_factory=dict)

    def __call__(self, module: nn.Module, inputs: tuple, output: object) -> None:
        self.calls[id(module)] = self.calls.get(id(module), 0) + 1
        if len(inputs) == 1 and isinstance(inputs[0], torch.Tensor) \
                and isinstance(output, torch.Tensor):
            self.module, self.inputs, self.output = module, inputs[0], output  # type: ignore[assignment]


def linear_head(record: LinearCalls, logits: torch.Tensor, entries: list[Entry]
                ) -> tuple[nn.Linear, torch.Tensor] | None:
    """``(head, h)`` when the logits are ``head(h)`` of a Linear called once, ``h`` is ``N x C``
    with ``C < K − 1`` (fewer backward passes through ``h`` than through the logits) and every
    selected entry is owned by the head alone or not by it at all; else None."""
    head, h = record.module, record.inputs
    if head is None or h is None or record.output is not logits:
        return None
    n, k = logits.shape
    if record.calls.get(id(head)) != 1 or h.dim() != 2 or h.shape[0] != n \
            or h.shape[1] >= k - 1 or not h.requires_grad:
        return None
    for entry in entries:
        at_head = [m is head for m, _ in entry.owners]
        if any(at_head) and not all(at_head):
            return None
    with torch.no_grad():  # logits = h Wᵀ + b exactly (the perturbations add 0): a plain Linear
        if not torch.equal(nn.functional.linear(h, head.weight, head.bias), logits):
            return None
    return head, h


def _grads(output: torch.Tensor, eps: list[torch.Tensor]) -> torch.Tensor:
    """``∂ output.sum() / ∂ε`` for every ``ε`` (``N x len(eps)``; 0 where unused)."""
    grads = torch.autograd.grad(output.sum(), eps, retain_graph=True, allow_unused=True)
    return torch.stack([g if g is not None else torch.zeros_like(e)
                        for g, e in zip(grads, eps, strict=True)], dim=1)


def entry_jacobian(network: nn.Module, x: torch.Tensor, entries: list[Entry]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(J, logits)``: ``J[n, k, p] = ∂ logits[n, k] / ∂θ_p`` for ``k < K − 1`` (``N x (K−1) x P``)
    and the logits (``N x K``), from one eval-mode forward of ``network`` (BatchNorm on running
    statistics: the samples are independent) and one backward pass per row.

    The rows are those of the logits (``K − 1`` backward passes), or, when the logits are a
    Linear ``head(h)`` of an ``N x C`` ``h`` with ``C < K − 1`` (:func:`linear_head`: NATS-Bench's
    classifier on 64 pooled features, with 100 or 120 classes), those of ``h`` (``C`` passes):
    by the chain rule ``J = W ∂h/∂θ`` for the entries before the head, and the head's own entries
    (which ``h`` does not depend on) from passes that reach only the head."""
    n = x.shape[0]
    eps = [torch.zeros(n, dtype=x.dtype, device=x.device, requires_grad=True) for _ in entries]
    hook = _perturb(entries, eps)
    modules = {id(m): m for entry in entries for m, _ in entry.owners}
    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in modules.values()]
    record = LinearCalls()  # registered after the perturbations: sees the head's output
    handles += [m.register_forward_hook(record) for m in network.modules()
                if isinstance(m, nn.Linear)]
    try:
        with torch.enable_grad():
            logits = logits_of(network(x))
            if logits.dim() != 2 or logits.shape[0] != n:
                raise UnsupportedNetworkError(
                    f"vkdnw reads (N, K) logits; the network returned shape {tuple(logits.shape)}")
            k = logits.shape[1]
            jacobian = torch.zeros(n, max(k - 1, 0), len(entries), dtype=x.dtype, device=x.device)
            found = linear_head(record, logits, entries) if k > 1 else None
            if found is None:
                for cls in range(k - 1):
                    jacobian[:, cls] = _grads(logits[:, cls], eps)
            else:
                head, h = found
                own = [any(m is head for m, _ in e.owners) for e in entries]
                before = [i for i, mine in enumerate(own) if not mine]
                at_head = [i for i, mine in enumerate(own) if mine]
                if before:
                    inner = torch.stack([_grads(h[:, c], [eps[i] for i in before])
                                         for c in range(h.shape[1])], dim=1)
                    jacobian[:, :, before] = torch.einsum(
                        "kc,ncp->nkp", head.weight.detach()[: k - 1], inner)
                if at_head:
                    jacobian[:, :, at_head] = torch.stack(
                        [_grads(logits[:, cls], [eps[i] for i in at_head])
                         for cls in range(k - 1)], dim=1)
    finally:
        for handle in handles:
            handle.remove()
    return jacobian.detach(), logits.detach()


def prepared_copy(network: nn.Module, generator: torch.Generator) -> nn.Module:
    """A deep copy with reset BatchNorm statistics and the Kaiming init, in eval mode, no grads."""
    untracked = [name or "the network" for name, m in network.named_modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is None]
    if untracked:
        raise UnsupportedNetworkError(
            f"vkdnw scores each sample alone (eval-mode BatchNorm on running statistics), and "
            f"{untracked[0]} tracks none (track_running_stats=False)")
    net = copy.deepcopy(network)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    kaiming_init(net, generator)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


_last: LastDraw[tuple[float, float]] = LastDraw()


def clear_cache() -> None:
    """Forget the cached result (tests; nothing else needs to)."""
    _last.clear()


def _compute(network: nn.Module, shape: tuple[int, ...], generator: torch.Generator
             ) -> tuple[float, float]:
    net = prepared_copy(network, generator)
    x = randn(shape, generator, next(net.parameters()).dtype, device_of(net))
    jacobian, logits = entry_jacobian(net, x, selected_entries(net))
    return float(len(list(network.named_parameters()))), \
        decile_entropy(fisher_matrix(jacobian, logits))


def vkdnw_parts(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                generator: torch.Generator, batch_size: int = VKDNW_BATCH) -> tuple[float, float]:
    """``(ℵ, entropy)`` of ``network`` for one draw of ``generator``; the network is not modified.

    A second call for the same network object, input shape, dtype and generator state returns the
    first result and leaves the generator as the first did (``vkdnw`` and ``vkdnw_single`` of one
    cell cost one computation): on the deep copy every weight is re-drawn or reset and the
    running statistics are reset, so the result depends on nothing else.
    """
    check_network(network)
    generator = check_generator(generator)
    batch_size = check_int("batch_size", batch_size, 1, 1024)
    one = probe_input(resolution, channels)
    first = next(network.parameters(), None)
    if first is None:
        raise UnsupportedNetworkError(
            f"vkdnw differentiates the output with respect to parameter entries, and "
            f"{type(network).__name__} has no parameters")
    shape = (batch_size, *one.shape[1:])

    def compute() -> tuple[float, float]:
        with torch.enable_grad():
            return _compute(network, shape, generator)

    return _last.get(network, (shape, first.dtype, str(first.device)), generator, compute)


_VARIANT = (
    "VKDNW's vkdnw_entropy as ondratybl/VKDNW NB201/ZeroShotProxy/compute_vkdnw_score.py "
    "computes it with params_grad_len=128 and p=1 (the code behind Table 1: one entry, flat index "
    "0, of each of the first 128 tensors of named_parameters(), all of them when fewer; nothing "
    "random in the choice): on a deep copy of the NATS-Bench network (the anchor's "
    "custom/tss_model TinyNetwork is the same network), BatchNorm running statistics reset (a fresh "
    "network's), Kaiming-normal fan_in ReLU init of Conv2d/Linear weights (biases 0), affine BN "
    "gamma=1 beta=0, then one N(0,1) batch of 64 at the dataset's resolution, every draw from the "
    "scoring rule's generator in that order (the anchor: the global CUDA generator); eval mode "
    "(BN on running statistics, each sample alone, as the anchor's vmap over single samples). "
    "J_n = d logits_n / d entries (K x P) per sample, from one forward with a zero per-sample "
    "perturbation of each entry and one backward per logit, or per input feature of a Linear "
    "head when it has fewer (J = W dh/d entries, the chain rule) (the anchor: vmap(jacrev)); "
    "p = softmax*(1-alpha) + alpha/K with the anchor's float16 alpha=0.05 arithmetic; its "
    "'Cholesky' factor L (L L^T = diag(p) - p p^T) and F = mean_n (L_n J_n)^T (L_n J_n), i.e. "
    "J^T L^T L J as the code has it (not J^T L L^T J); singular values of F; deciles "
    "torch.quantile at arange(0.1, 1., 0.1) (9 float32 levels, linear); t = Q/(|Q|_1 + 1e-10); "
    "score -sum t log(t + 1e-10), higher better; L, F, spectrum and entropy in float64 from the "
    "float32 Jacobian (the anchor: float32 on a GPU). Non-finite: a non-finite F gets the "
    "anchor's failed-SVD fallback (spectrum 0, 0: entropy 0.0); a network without parameters, or "
    "with a BatchNorm that tracks no running statistics, is refused. Spot-check tolerance "
    "(1e-3, 1e-3): about 17x the largest float32-vs-float64 difference measured (6.0e-5)."
)


@register_proxy(
    "vkdnw", resolution=True, random=True, batch_size=VKDNW_BATCH,
    reference="Tybl & Neumann CVPR 2025 (VKDNW); ondratybl/VKDNW "
              "NB201/ZeroShotProxy/compute_vkdnw_score.py (compute_nas_score, p=1)",
    max_batch_size=VKDNW_MAX_BATCH, variant=_VARIANT, tolerance=_TOLERANCE)
def vkdnw(network: nn.Module, resolution: Resolution, channels: int = 3, *,
          generator: torch.Generator, batch_size: int = VKDNW_BATCH) -> float:
    """Entropy of the deciles of the Fisher spectrum of entry 0 of each of the first 128 tensors."""
    return vkdnw_parts(network, resolution, channels, generator=generator,
                       batch_size=batch_size)[1]


# --- VKDNW_single: the ranking by (ℵ, entropy) -------------------------------------------------

SINGLE_MAX_LAYERS = 2**20
"""ℵ below this keeps ``ℵ + code/2³²`` exact in float64 (20 + 32 bits of a 52-bit mantissa)."""


def float32_order_code(value: float) -> int:
    """An int in ``[0, 2³²)`` increasing with ``value`` rounded to float32 (equal codes exactly for
    equal float32 values; ``-0.0`` as ``0.0``); ``value`` must not be NaN."""
    rounded = struct.unpack("<f", struct.pack("<f", value))[0] + 0.0  # -0.0 (or a tiny < 0) as 0.0
    bits = struct.unpack("<I", struct.pack("<f", rounded))[0]
    return bits ^ 0xFFFFFFFF if bits & 0x80000000 else bits | 0x80000000


def single_score(layers: float, entropy: float) -> float:
    """``ℵ + code(entropy)/2³²``: one float64 whose order is the lexicographic order of
    ``(ℵ, float32(entropy))`` exactly (``code``: :func:`float32_order_code`); NaN entropy: NaN."""
    if math.isnan(entropy) or math.isnan(layers):
        return math.nan
    if layers != int(layers) or not 0 <= layers < SINGLE_MAX_LAYERS:
        raise UnsupportedNetworkError(
            f"vkdnw_single encodes the layer count exactly below {SINGLE_MAX_LAYERS}; got {layers}")
    return layers + float32_order_code(entropy) / 2.0**32


def vkdnw_single_rank(layers: np.ndarray, entropy: np.ndarray) -> np.ndarray:
    """The anchor's VKDNW_single of a population: ``log`` of the dense rank (ascending, 1 = lowest)
    of the tuples ``(ℵ, entropy)`` (``tss_utils.get_scores``: ``rank(method='dense')`` of the
    tuples, then ``np.log``). NaN entropy ranks lowest within its ℵ."""
    layers = np.asarray(layers, dtype=np.float64)
    entropy = np.asarray(entropy, dtype=np.float64)
    if layers.shape != entropy.shape or layers.ndim != 1:
        raise ArgumentError(
            f"layers and entropy must be 1-D of one length, got shapes {layers.shape} and "
            f"{entropy.shape}")
    if layers.size == 0:
        return np.zeros(0, dtype=np.float64)
    entropy = np.where(np.isnan(entropy), -np.inf, entropy)
    order = np.lexsort((entropy, layers))
    pairs = np.stack([layers[order], entropy[order]], axis=1)
    new = np.ones(len(order), dtype=bool)
    new[1:] = np.any(pairs[1:] != pairs[:-1], axis=1)
    ranks = np.empty(len(order), dtype=np.float64)
    ranks[order] = np.cumsum(new)
    return np.log(ranks)


@register_proxy(
    "vkdnw_single", resolution=True, random=True, batch_size=VKDNW_BATCH,
    reference="Tybl & Neumann CVPR 2025 (VKDNW_single); ondratybl/VKDNW "
              "NB201/ZeroShotProxy/compute_vkdnw_score.py and NB201/tss_utils.py (get_scores)",
    variant="VKDNW_single: cells ranked by (number of parameter tensors, vkdnw entropy) "
            "lexicographically (the anchor: log of the dense rank of the (vkdnw_dim, "
            "vkdnw_entropy) tuples). One float: layers + c(float32(entropy)) / 2^32, c the "
            "order-preserving 32-bit code of a float32, so its order is exactly that of "
            "(layers, entropy rounded to float32: the anchor's own float32 entropy); the layer "
            "count and the entropy as the layers and vkdnw proxies compute them (one computation "
            "serves both). Non-finite: none arise (vkdnw's fallback is 0.0). Tolerance: vkdnw's "
            "on the fractional part, the integer part exact.",
    max_batch_size=VKDNW_MAX_BATCH, tolerance=(0.0, 1e-4))
def vkdnw_single(network: nn.Module, resolution: Resolution, channels: int = 3, *,
                 generator: torch.Generator, batch_size: int = VKDNW_BATCH) -> float:
    """ℵ + an order code of the VKDNW entropy in [0, 1): ranks by (layers, entropy)."""
    layers, entropy = vkdnw_parts(network, resolution, channels, generator=generator,
                                  batch_size=batch_size)
    return single_score(layers, entropy)
