"""tfnas: training-free neural architecture search on the NATS-Bench topology space."""

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
