"""The cells of a space that a sampled score table holds, as a space of their own.

A committed suite table holds a uniform sample of the topology space (2,000 or 5,000 cells, a
prefix of the sweep permutation). A search over such a table cannot evaluate a cell it lacks; a
:class:`SampledSpace` makes the searches draw and mutate within the held cells instead of failing
on the first missing one: random search draws distinct held cells; REA's mutation picks a held
neighbour (one operation changed), uniformly. A held cell whose neighbours are all unheld has no
mutation inside the sample; its child is then a uniformly drawn held cell (stated in
:meth:`SampledSpace.mutate`). The cells keep their base space's identity (name, official
indices, networks), so traces and tables read as the base space's.

Not registered: it is made from a table (:meth:`tfnas.tables.ScoreTable.held_space`), not named.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from tfnas.checks import ArgumentError
from tfnas.errors import shown
from tfnas.space import Arch, ArchError, require_rng
from tfnas.spaces import NetworkLayout, SearchSpace, get_space


class SampledSpace(SearchSpace):
    """The cells ``cells`` of ``base`` (a space or its name), searched as a space."""

    def __init__(self, base: str | SearchSpace, cells: Iterable[Arch | str]) -> None:
        self.base = get_space(base)
        held = sorted({self.base.index_of(c) for c in cells})
        if not held:
            raise ArgumentError("a sampled space needs at least one cell")
        self.held = tuple(held)
        self._set = frozenset(held)
        self.name = self.base.name  # the cells are the base space's: traces name it
        self.size = len(held)
        self.max_arch_chars = self.base.max_arch_chars
        self.arch_type = self.base.arch_type
        self.word = self.base.word
        self.archive_name = self.base.archive_name
        self.archive_epochs = self.base.archive_epochs

    def _held(self, arch: Arch) -> Arch:
        if self.base.index_of(arch) not in self._set:
            raise ArchError(f"cell {shown(str(arch))} is not among the {self.size:,} cells this "
                            "sample holds")
        return arch

    def parse(self, text: str) -> Arch:
        return self._held(self.base.parse(text))

    def as_arch(self, arch: Arch | str) -> Arch:
        return self._held(self.base.as_arch(arch))

    def index_of(self, arch: Arch | str) -> int:
        """The official (base space) index of a held cell."""
        return self.base.index_of(self.as_arch(arch))

    def arch_at(self, index: int) -> Arch:
        """The held cell at official index ``index``."""
        return self.as_arch(self.base.arch_at(index))

    def check_index(self, index: object) -> int:
        self.base.check_index(index)
        if index not in self._set:
            raise ArchError(f"index {shown(index)} is not among the {self.size:,} held cells")
        return int(index)  # type: ignore[arg-type]

    def all_cells(self) -> tuple[Arch, ...]:
        return tuple(self.base.arch_at(i) for i in self.held)

    def sample(self, rng: random.Random) -> Arch:
        require_rng(rng)
        return self.base.arch_at(rng.choice(self.held))

    def sample_distinct(self, rng: random.Random, n: int) -> list[Arch]:
        require_rng(rng)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= self.size:
            raise ArchError(f"n must be in 0..{self.size} (the cells this sample holds), got "
                            f"{shown(n)}")
        return [self.base.arch_at(i) for i in rng.sample(self.held, n)]

    def neighbours(self, arch: Arch) -> list[Arch]:
        """The held cells one change away from ``arch``."""
        return [n for n in self.base.neighbours(self.as_arch(arch))
                if self.base.index_of(n) in self._set]

    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """A uniformly drawn held neighbour of ``arch``; a uniformly drawn held cell when none
        of its neighbours is held."""
        require_rng(rng)
        options = self.neighbours(arch)
        return rng.choice(options) if options else self.sample(rng)

    def canonical(self, arch: Arch) -> object:
        return self.base.canonical(self.as_arch(arch))

    def network_layout(self, arch: Arch | str) -> NetworkLayout:
        return self.base.network_layout(self.as_arch(arch))

    @property
    def described(self) -> str:
        return f"the sample of the space ({self.name})"

    def __repr__(self) -> str:
        return f"<SampledSpace of {self.base.name!r}: {self.size:,} of {self.base.size:,} cells>"
