"""PyTorch's default parameter initialisation, drawn from an explicit ``torch.Generator``.

``nn.Conv2d``/``nn.Linear`` constructors initialise from the global RNG; tfnas never uses the
global RNG, so it re-does exactly what their ``reset_parameters()`` do with a generator:
weights ``kaiming_uniform_(a=sqrt(5))`` (= U(-1/sqrt(fan_in), 1/sqrt(fan_in))), biases
U(-1/sqrt(fan_in), 1/sqrt(fan_in)); normalisation layers get weight 1, bias 0 and fresh running
statistics (no randomness).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import init
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd

from tfnas.checks import ArgumentTypeError

DEFAULT_SEED = 0
"""Seed of the generator used when a caller passes ``generator=None``."""

_DETERMINISTIC_RESET = (_NormBase, nn.LayerNorm, nn.GroupNorm)


def default_generator() -> torch.Generator:
    """A fresh CPU generator seeded with :data:`DEFAULT_SEED`."""
    return torch.Generator().manual_seed(DEFAULT_SEED)


def check_generator(generator: object) -> torch.Generator:
    """``generator`` if it is a ``torch.Generator``, else a ``TypeError``."""
    if not isinstance(generator, torch.Generator):
        raise ArgumentTypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def init_parameters(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Initialise every parameter of ``module`` in place as PyTorch's default does; return it.

    Draws happen in ``module.modules()`` order (weight, then bias), so the same generator state
    gives the same bits. Modules with parameters of another kind raise ``TypeError`` rather
    than being left to the global RNG.
    """
    check_generator(generator)
    if not isinstance(module, nn.Module):
        raise ArgumentTypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (_ConvNd, nn.Linear)):
                init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in, _ = init._calculate_fan_in_and_fan_out(m.weight)
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, _DETERMINISTIC_RESET):
                m.reset_parameters()
            elif any(True for _ in m.parameters(recurse=False)):
                raise ArgumentTypeError(
                    f"init_parameters handles Conv, Linear and normalisation layers; "
                    f"{type(m).__name__} has parameters it does not know how to initialise"
                )
    return module
