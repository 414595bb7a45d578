"""Training-free proxies, by name.

A :class:`Proxy` is called as ``proxy(network, images, resolution=None) -> float``.
Data-dependent proxies (``needs_data``) need ``images`` (an NCHW float tensor); data-free ones
ignore the pixel values and only need the input size: ``resolution`` (int or ``(h, w)``), or
else the height and width of ``images``.

``naswot`` and ``naswot_reference`` live in :mod:`tfnas.proxies.naswot` and are imported only
when looked up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

PROXY_NAMES: tuple[str, ...] = ("naswot", "naswot_reference", "synflow", "params", "flops")
"""Every proxy :func:`get_proxy` knows; ``naswot`` is the default."""

DEFAULT_PROXY = "naswot"

# name -> (module, function, needs_data, uses_resolution)
_REGISTRY: dict[str, tuple[str, str, bool, bool]] = {
    "naswot": ("tfnas.proxies.naswot", "naswot", True, False),
    "naswot_reference": ("tfnas.proxies.naswot", "naswot_reference", True, False),
    "synflow": ("tfnas.proxies.synflow", "synflow", False, True),
    "params": ("tfnas.proxies.counts", "params", False, False),
    "flops": ("tfnas.proxies.counts", "flops", False, True),
}


@dataclass(frozen=True)
class Proxy:
    """A named scoring function of an initialised network (higher = predicted better)."""

    name: str
    needs_data: bool
    function: Callable[..., float]
    uses_resolution: bool

    def __call__(
        self,
        network: nn.Module,
        images: torch.Tensor | None = None,
        resolution: int | tuple[int, int] | None = None,
    ) -> float:
        if images is not None and not isinstance(images, torch.Tensor):
            raise TypeError(f"images must be a torch.Tensor or None, got {type(images).__name__}")
        if images is not None and images.dim() != 4:
            raise ValueError(
                f"images must be an NCHW batch (4 dimensions), got shape {tuple(images.shape)}"
            )
        if self.needs_data:
            if images is None:
                raise ValueError(f"proxy {self.name!r} needs a batch of images, got images=None")
            return float(self.function(network, images))
        if not self.uses_resolution:
            return float(self.function(network))
        if resolution is None:
            if images is None:
                raise ValueError(
                    f"proxy {self.name!r} is data-free but needs the input size: pass "
                    "resolution=<int or (h, w)> or a batch of images"
                )
            resolution = (images.shape[2], images.shape[3])
        channels = images.shape[1] if images is not None else 3
        return float(self.function(network, resolution, channels))


def get_proxy(name: str) -> Proxy:
    """The proxy called ``name`` (one of :data:`PROXY_NAMES`)."""
    if not isinstance(name, str):
        raise TypeError(f"proxy name must be a str, got {type(name).__name__}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown proxy {name!r}; known proxies: {', '.join(PROXY_NAMES)}")
    module, function, needs_data, uses_resolution = _REGISTRY[name]
    fn = getattr(importlib.import_module(module), function)
    return Proxy(name, needs_data, fn, uses_resolution)


__all__ = ["DEFAULT_PROXY", "PROXY_NAMES", "Proxy", "get_proxy"]
