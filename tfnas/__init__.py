"""tfnas: training-free neural architecture search on the NATS-Bench topology and size spaces.

A search space is an object (:class:`SearchSpace`: ``tfnas.get_space("tss")``, the default, or
``"sss"``; ``TOPOLOGY``, ``SIZE``): its size, official order, sampling, mutation, neighbours and
networks are its methods and attributes. ``tfnas.Arch`` (the topology cell) and ``tfnas.sample``
stay for the code README's first example showed; :mod:`tfnas.space` implements the topology
space's encoding.

The public names are imported on first use (PEP 562), so that ``import tfnas.errors`` or
``tfnas.spaces`` — what the harness's report and compare commands need — does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "build_network": "tfnas.network",
    **{name: "tfnas.proxies" for name in (
        "PROXY_NAMES", "DEFAULT_PROXY", "get_proxy", "proxy_names", "register_proxy")},
    "score": "tfnas.scoring",
    "measure": "tfnas.measuring",
    **{name: "tfnas.spaces" for name in (
        "get_space", "space_names", "SearchSpace", "NetworkLayout", "register_space", "TOPOLOGY",
        "SIZE")},
    **{name: "tfnas.search.registry" for name in ("algorithm_names", "get_algorithm")},
    # kept because README's "Use" example has always shown them (tfnas.Arch.parse(...),
    # tfnas.sample(rng)); every other fact of a space is on its SearchSpace object
    **{name: "tfnas.space" for name in ("Arch", "sample")},
}

_LIVE = {"PROXY_NAMES"}  # recomputed on each access (the proxy registry can grow), never cached

__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'tfnas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if name not in _LIVE:
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
