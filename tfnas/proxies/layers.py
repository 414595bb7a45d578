"""The number of trainable layers, ℵ (Tybl & Neumann, VKDNW, CVPR 2025): a structure-only proxy.

Definition (ondratybl/VKDNW ``NB201/ZeroShotProxy/compute_vkdnw_score.py``, ``compute_nas_score``):
``info['vkdnw_dim'] = float(len(list(model.named_parameters())))``, the number of parameter
tensors of the network (``named_parameters()`` counts a tensor shared by several modules once),
reported in the paper's Table 1 as "No. of trainable layers (ℵ)" and used as the first key of
VKDNW's lexicographic ranking. No data, no initialisation and no seed enter it.

Which network. The anchor scores ``custom/tss_model.TinyNetwork(C=16, N=5, genotype, classes)``
(``NB201/tss_general_.py``): xautodl's NAS-Bench-201 macro skeleton with xautodl ``InferCell``
cells at their defaults (``affine=True``; its ``--affine``/``--track_running_stats`` flags are
parsed but never passed to the network, and running statistics are buffers, not parameters, in
any case). That is the network tfnas builds (``tfnas.network``, xautodl's TinyNetwork; the
oracle test builds both): the stem (conv, BatchNorm weight and bias: 3 tensors), every
``nor_conv`` edge of the 15 cells (ReLU-conv-BN with a bias-free conv: 3 tensors each), the two
residual reduction blocks (two ReLU-conv-BN and a 1x1 shortcut conv: 7 each), the last BatchNorm
(2) and the classifier (2). ``none``, ``skip_connect`` and ``avg_pool_3x3`` edges hold none. So
ℵ = 21 + 45·k with k the cell's number of conv edges, counted on every edge as built: a conv
edge that lies on no input-to-output path (cut off by ``none`` edges) still holds its tensors,
and the anchor's network builds it (``InferCell`` prunes nothing).
"""

from __future__ import annotations

from torch import nn

from tfnas.checks import ArgumentTypeError
from tfnas.proxies.registry import register_proxy

_VARIANT = (
    "VKDNW's vkdnw_dim: len(list(network.named_parameters())), every parameter tensor of the "
    "network as built (trainable or not; a shared tensor once). The anchor counts it on "
    "custom/tss_model.TinyNetwork (xautodl's NAS-Bench-201 TinyNetwork, C=16, N=5, InferCell at "
    "its default affine=True), the network tfnas builds: 21 + 45 x (conv edges of the cell) "
    "tensors, dead conv edges (on no input-output path) included, as the anchor's network builds "
    "them. Structure only: no data, no init, the same value under every seed; exact."
)


@register_proxy(
    "layers", tolerance=(0.0, 0.0),
    reference="Tybl & Neumann CVPR 2025 (VKDNW, Table 1 'No. of trainable layers'); "
              "ondratybl/VKDNW NB201/ZeroShotProxy/compute_vkdnw_score.py (vkdnw_dim)",
    variant=_VARIANT)
def layers(network: nn.Module) -> float:
    """Number of parameter tensors of ``network`` (VKDNW's ℵ, "trainable layers")."""
    if not isinstance(network, nn.Module):
        raise ArgumentTypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
    return float(len(list(network.named_parameters())))
