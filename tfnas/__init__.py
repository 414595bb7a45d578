"""tfnas: training-free neural architecture search on the NATS-Bench topology space."""

from tfnas.network import build_network
from tfnas.proxies import PROXY_NAMES, get_proxy
from tfnas.scoring import score
from tfnas.space import (
    OPS,
    SPACE_SIZE,
    Arch,
    all_cells,
    arch_at,
    as_arch,
    canonical,
    index_of,
    is_connected,
    mutate,
    neighbours,
    sample,
    sample_distinct,
)

__version__ = "0.1.0"

__all__ = [
    "PROXY_NAMES",
    "build_network",
    "get_proxy",
    "score",
    "OPS",
    "SPACE_SIZE",
    "Arch",
    "all_cells",
    "arch_at",
    "as_arch",
    "canonical",
    "index_of",
    "is_connected",
    "mutate",
    "neighbours",
    "sample",
    "sample_distinct",
]
