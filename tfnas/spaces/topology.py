"""The NATS-Bench topology space (``"tss"``, = NAS-Bench-201) as a :class:`SearchSpace`.

A thin wrapper over :mod:`tfnas.space`, which keeps its module-level names: same index order,
same random draws, same errors.
"""

from __future__ import annotations

import random

from tfnas import space as tss
from tfnas.space import Arch
from tfnas.spaces import NetworkLayout, SearchSpace, register_space

C_INIT = 16
"""Channels of the first stage."""
N_CELLS = 5
"""Cells per stage."""
CHANNELS = (C_INIT,) * N_CELLS + (2 * C_INIT,) * (N_CELLS + 1) + (4 * C_INIT,) * (N_CELLS + 1)
"""Per-layer channels of every topology-space network (C=16, N=5)."""


@register_space("tss")
class TopologySpace(SearchSpace):
    """15,625 cells of 6 edges over 5 operations; the network is the C=16, N=5 TinyNetwork."""

    size = tss.SPACE_SIZE
    max_arch_chars = tss.MAX_ARCH_CHARS
    arch_type = Arch
    word = "topology"
    archive_name = "NATS-tss-v1_0-3ffb9-simple"
    archive_epochs = (12, 200)

    def parse(self, text: str) -> Arch:
        return Arch.parse(text)

    def as_arch(self, arch: Arch | str) -> Arch:
        return tss.as_arch(arch)

    def index_of(self, arch: Arch | str) -> int:
        return tss.index_of(arch)

    def arch_at(self, index: int) -> Arch:
        return tss.arch_at(index)

    def all_cells(self) -> tuple[Arch, ...]:
        return tss.all_cells()

    def sample(self, rng: random.Random) -> Arch:
        return tss.sample(rng)

    def sample_distinct(self, rng: random.Random, n: int) -> list[Arch]:
        return tss.sample_distinct(rng, n)

    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        return tss.mutate(self.as_arch(arch), rng)

    def neighbours(self, arch: Arch) -> list[Arch]:
        return tss.neighbours(self.as_arch(arch))

    def canonical(self, arch: Arch) -> str:
        return tss.canonical(self.as_arch(arch))

    def network_layout(self, arch: Arch | str) -> NetworkLayout:
        """``infer.tiny``: the cell at C=16, N=5."""
        return NetworkLayout("infer.tiny", self.as_arch(arch), CHANNELS)
