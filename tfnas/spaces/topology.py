"""The NATS-Bench topology space (``"tss"``, = NAS-Bench-201) as a :class:`SearchSpace`.

A thin wrapper over :mod:`tfnas.space`, which keeps its module-level names: same index order,
same random draws, same errors.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from tfnas import space as tss
from tfnas.space import Arch
from tfnas.spaces import SearchSpace, register_space

if TYPE_CHECKING:
    import torch

    from tfnas.network import TinyNetwork


@register_space("tss")
class TopologySpace(SearchSpace):
    """15,625 cells of 6 edges over 5 operations; the network is the C=16, N=5 TinyNetwork."""

    size = tss.SPACE_SIZE
    max_arch_chars = tss.MAX_ARCH_CHARS
    arch_type = Arch

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

    def build_network(
        self, arch: Arch | str, num_classes: int, generator: torch.Generator | None = None
    ) -> TinyNetwork:
        from tfnas.network import build_network

        return build_network(self.as_arch(arch), num_classes, generator)
