"""Random draws made in float32 whatever the arithmetic a proxy runs in.

A proxy scored in float64 (:mod:`tfnas.scoring`, Precision) must compute the same draw as its
float32 score, only more precisely: torch draws a float64 Gaussian from other random bits than a
float32 one, so a float64 draw would be another realisation, not the same number rounded less.
Each draw here is made as float32 from the generator and then cast to the target dtype (exact).
The same holds for devices: every draw is made on the CPU from a CPU generator and then moved, so
a network scored on an accelerator sees the very numbers it would see on the CPU.
"""

from __future__ import annotations

import torch


def randn(shape: tuple[int, ...], generator: torch.Generator,
          dtype: torch.dtype | None = None,
          device: torch.device | str | None = None) -> torch.Tensor:
    """A standard Gaussian tensor drawn in float32 from ``generator`` (on the CPU), cast to
    ``dtype`` (default: torch's default dtype) and moved to ``device`` (default: the CPU)."""
    draw = torch.randn(shape, generator=generator, dtype=torch.float32, device="cpu")
    return draw.to(device=device, dtype=dtype or torch.get_default_dtype())


def normal_(tensor: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """Fill ``tensor`` (on any device) in place with N(0, std²) drawn in float32 from ``generator``
    on the CPU."""
    draw = torch.empty(tensor.shape, dtype=torch.float32, device="cpu").normal_(
        0.0, std, generator=generator)
    with torch.no_grad():
        return tensor.copy_(draw)


def rademacher_like(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """±1 entries of ``tensor``'s shape, dtype and device, as ``(bernoulli(½) − ½)·2`` drawn in
    float32 on the CPU."""
    half = torch.full(tensor.shape, 0.5, dtype=torch.float32, device="cpu")
    draw = (torch.bernoulli(half, generator=generator) - 0.5) * 2
    return draw.to(device=tensor.device, dtype=tensor.dtype)
