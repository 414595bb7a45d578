"""Zen-score (Lin et al., ICCV 2021), as ZenNAS and NAS-Bench-Suite-Zero compute it.

Definition (idstcv/ZenNAS ``ZeroShotProxy/compute_zen_score.py``; the same recipe in automl/NASLib
``measures/zen.py`` and cvlab-yonsei/AZ-NAS ``NB201/ZeroShotProxy/compute_zen_score.py``): re-draw
every Conv2d and Linear weight from N(0, 1) (biases 0), set every BatchNorm's γ = 1 and β = 0,
keep the network in train mode, draw two Gaussian batches x and x′, and with ``no_grad`` run the
pre-global-pooling feature map f of x and of x + 0.01·x′. The score is

    log mean_n ‖f(x)_n − f(x + 0.01·x′)_n‖₁  +  Σ_BN log √mean(running_var)

where the running variances are those the two train-mode forwards leave (from freshly reset
statistics, momentum 0.1). For the NAS-Bench-201 network "pre-GAP" is the output of ``lastact``
(BatchNorm + ReLU), the input of ``global_pooling``: AZ-NAS's ``forward_pre_GAP`` and NASLib's
``forward_before_global_avg_pool`` (a hook on the AdaptiveAvgPool2d input) both take it.

tfnas works on a deep copy (the caller's network is untouched) and draws everything from the
scoring rule's ``generator`` in the anchor's order: the weights in ``modules()`` order, then x,
then x′.

Any other network (one :func:`tfnas.network.stages` cannot walk, e.g. a torchvision ResNet): the
pre-GAP map is the input of its global pooling module, read by a forward hook as NASLib reads it
(:func:`pooled_input`); a network without such a module, or one whose BatchNorms track no running
statistics, is refused in one line.

Non-finite rule: ``-inf`` when the feature maps do not differ (log 0: the output ignores its
input) or a BatchNorm's running variance averages 0; NaN when the arithmetic is undefined
(e.g. a non-finite activation).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from tfnas.checks import ArgumentTypeError, check_int
from tfnas.network import UnsupportedNetworkError, is_cell_network, stages
from tfnas.proxies.draws import normal_, randn
from tfnas.proxies.passes import device_of
from tfnas.proxies.registry import register_proxy
from tfnas.proxies.synflow import Resolution, check_network, probe_input

ZEN_BATCH = 16
"""ZenNAS's default batch (``--batch_size 16``); AZ-NAS's NB201 comparison and NASLib use the
batch of their loader instead."""
MIXUP_GAMMA = 1e-2
"""ZenNAS's ``--mixup_gamma``: the size of the input perturbation."""

_VARIANT = (
    "ZenNAS's Zen-score with one repeat (NASLib's and AZ-NAS's NB201 setting; ZenNAS's own script "
    "averages 32 repeats), batch 16 (ZenNAS's default; NASLib uses its loader's batch of 32), "
    "mixup gamma 0.01, at the dataset's resolution, on a deep copy of the NATS-Bench network "
    "(AZ-NAS's NB201 Zen runs this same xautodl network; NASLib's NB201 graph has affine-free "
    "cell BatchNorms): "
    "Conv2d and Linear weights re-drawn from N(0,1) with biases 0, BatchNorm gamma=1 beta=0 and "
    "running statistics reset (momentum 0.1), train mode, no_grad; x, x' ~ N(0,1) drawn from the "
    "scoring rule's generator after the weights; pre-GAP map = output of lastact (BN+ReLU), as "
    "AZ-NAS's forward_pre_GAP and NASLib's forward_before_global_avg_pool; score = log mean over "
    "the batch of the L1 distance between the two maps + sum over every BatchNorm2d of log "
    "sqrt(mean running_var) after the two forwards. Caveat: its authors note Zen-score is not "
    "theoretically meant for spaces with residual links, such as this one. Non-finite: -inf for "
    "log 0, NaN when undefined (scoring stores NaN as -inf, ranked last)."
)


def _check_batch_size(batch_size: object) -> int:
    return check_int("batch_size", batch_size, 1, 1024)


def check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise ArgumentTypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def gaussian_init(network: nn.Module, generator: torch.Generator) -> nn.Module:
    """ZenNAS's init, in place: Conv2d/Linear weights ~ N(0,1), biases 0, BatchNorm γ=1, β=0.

    Draws happen in ``modules()`` order, one ``normal_`` per weight, from ``generator``.
    """
    with torch.no_grad():
        for m in network.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                normal_(m.weight, 1.0, generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()
    return network


def pre_gap(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The feature map a NATS-Bench cell network feeds its global pooling: ``lastact(cells(stem(x)))``."""
    feature = network.stem(x)
    for stage in stages(network):
        feature = stage.module(feature)
    return network.lastact(feature)


def _is_global_pool(module: nn.Module, output: object) -> bool:
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return True
    return (isinstance(module, nn.AvgPool2d) and isinstance(output, torch.Tensor)
            and output.dim() == 4 and tuple(output.shape[2:]) == (1, 1))


def pooled_input(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The pre-GAP map of any network: the input of its global pooling module, by a forward hook.

    The global pooling is the last call of an ``nn.AdaptiveAvgPool2d`` (or of an ``nn.AvgPool2d``
    with a 1x1 output) after which no ``nn.Conv2d`` runs: NASLib's rule (a hook on the
    ``AdaptiveAvgPool2d`` input), made safe for networks whose blocks pool too (squeeze-excitation).
    A network that pools with a function, or whose last pooling feeds more convolutions, has no
    such module: a one-line :class:`~tfnas.network.UnsupportedNetworkError`.
    """
    calls: list[tuple[str, torch.Tensor | None]] = []

    def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        if isinstance(module, nn.Conv2d):
            calls.append(("conv", None))
        elif _is_global_pool(module, output) and isinstance(inputs[0], torch.Tensor):
            calls.append(("pool", inputs[0]))

    watched = (nn.Conv2d, nn.AdaptiveAvgPool2d, nn.AvgPool2d)
    handles = [m.register_forward_hook(hook) for m in network.modules() if isinstance(m, watched)]
    try:
        network(x)
    finally:
        for handle in handles:
            handle.remove()
    pools = [i for i, (kind, _) in enumerate(calls) if kind == "pool"]
    if not pools or any(kind == "conv" for kind, _ in calls[pools[-1]:]):
        raise UnsupportedNetworkError(
            f"zen reads the feature map before global pooling, and {type(network).__name__} has "
            "no global pooling module (an nn.AdaptiveAvgPool2d after the last convolution) whose "
            "input a hook could read; pool with an nn.AdaptiveAvgPool2d module")
    feature = calls[pools[-1]][1]
    assert feature is not None
    return feature


def _shape(resolution: Resolution, channels: int, batch_size: int) -> tuple[int, int, int, int]:
    one = probe_input(resolution, channels)  # checks resolution and channels (one line on bad input)
    return (batch_size, *one.shape[1:])


@register_proxy(
    "zen", resolution=True, random=True, batch_size=ZEN_BATCH,
    help="log mean L1 change of the pre-pooling feature map under a 0.01 Gaussian input "
         "perturbation + sum over BatchNorms of log sqrt(mean running variance); N(0,1) weights "
         "and inputs.",
    reference="Lin et al. ICCV 2021 (Zen-NAS); idstcv/ZenNAS ZeroShotProxy/compute_zen_score.py",
    variant=_VARIANT,
    tolerance=(1e-5, 1e-4),  # float32 convolutions: 1 and 2 threads agreed exactly here; slack for another BLAS
)
def zen(network: nn.Module, resolution: Resolution, channels: int = 3, *,
        generator: torch.Generator, batch_size: int = ZEN_BATCH) -> float:
    """Zen-score of ``network`` (one repeat, Gaussian inputs from ``generator``); the network is not modified."""
    check_network(network)
    generator = check_generator(generator)
    shape = _shape(resolution, channels, _check_batch_size(batch_size))
    feature_map = pre_gap if is_cell_network(network) else pooled_input
    untracked = [name for name, m in network.named_modules()
                 if isinstance(m, nn.BatchNorm2d) and m.running_var is None]
    if untracked:
        raise UnsupportedNetworkError(
            f"zen reads every BatchNorm2d's running variance, and {untracked[0] or 'the network'} "
            "tracks none (track_running_stats=False)")
    net = copy.deepcopy(network)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    net.train()
    with torch.no_grad():
        gaussian_init(net, generator)
        dtype = next(net.parameters()).dtype
        x = randn(shape, generator, dtype, device_of(net))
        x2 = randn(shape, generator, dtype, device_of(net))
        mixed = x + MIXUP_GAMMA * x2
        delta = (feature_map(net, x) - feature_map(net, mixed)).abs().sum(dim=(1, 2, 3)).mean()
        variances = [m.running_var.double().mean().item() for m in net.modules()
                     if isinstance(m, nn.BatchNorm2d)]
    return _sum_logs([delta.item()] + [math.sqrt(v) if v >= 0 else math.nan for v in variances])


def _sum_logs(values: list[float]) -> float:
    """``Σ log v`` in float64: ``-inf`` if some ``v`` is 0, NaN if some is NaN or negative or the
    terms are ``+inf`` and ``-inf`` together."""
    if any(math.isnan(v) or v < 0 for v in values):
        return math.nan
    logs = [math.log(v) if v > 0 else -math.inf for v in values]
    if math.inf in logs and -math.inf in logs:
        return math.nan
    if math.inf in logs or -math.inf in logs:
        return math.inf if math.inf in logs else -math.inf
    return math.fsum(logs)
