"""tfnas: training-free neural architecture search on the NATS-Bench topology space.

The public names are imported on first use (PEP 562), so that ``import tfnas.errors`` or
``tfnas.space`` — what the harness's report and compare commands need — does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "build_network": "tfnas.network",
    "PROXY_NAMES": "tfnas.proxies",
    "get_proxy": "tfnas.proxies",
    "score": "tfnas.scoring",
    **{name: "tfnas.space" for name in (
        "OPS", "SPACE_SIZE", "Arch", "all_cells", "arch_at", "as_arch", "canonical", "index_of",
        "is_connected", "mutate", "neighbours", "sample", "sample_distinct")},
}

__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'tfnas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
