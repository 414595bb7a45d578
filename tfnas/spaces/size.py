"""The NATS-Bench size space (``"sss"``): 32,768 channel configurations ``C1:C2:C3:C4:C5``.

Every configuration uses one fixed cell (NATS-Bench's ``get_net_config`` genotype,
:data:`SIZE_CELL`) in xautodl's ``infer.shape.tiny`` network: cell (C1), reduction to C2, cell
(C3), reduction to C4, cell (C5). Each channel count is one of :data:`CANDIDATES`. The official
index order is ``itertools.product(CANDIDATES, repeat=5)`` (the first position varies slowest),
as the archive's ``meta_archs`` lists them.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from dataclasses import dataclass

from tfnas.checks import is_integer
from tfnas.errors import shown
from tfnas.space import Arch, ArchError, ArchTypeError
from tfnas.spaces import NetworkLayout, SearchSpace, register_space, require_rng

CANDIDATES: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
"""The channel counts each position may take, in official order."""
NUM_LAYERS = 5
SIZE_SPACE_SIZE = len(CANDIDATES) ** NUM_LAYERS  # 32,768
SIZE_CELL = Arch.parse(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
"""The one cell of every size-space network (NATS-Bench's ``get_net_config`` genotype)."""
MAX_SIZE_CHARS = NUM_LAYERS * max(len(str(c)) for c in CANDIDATES) + NUM_LAYERS - 1  # 14
_SIZE_RE = re.compile(r"[0-9]{1,2}(?::[0-9]{1,2}){4}", re.ASCII)
_POSITION = {c: k for k, c in enumerate(CANDIDATES)}


def _malformed(text: str, why: str) -> ArchError:
    return ArchError(f"malformed size-space config {shown(text)}: {why}")


@dataclass(frozen=True, slots=True, order=True)
class SizeArch:
    """An immutable channel configuration: the channel count of each of the 5 layers."""

    channels: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.channels, tuple):
            raise ArchTypeError(
                f"SizeArch.channels must be a tuple of {NUM_LAYERS} ints, got "
                f"{type(self.channels).__name__}"
            )
        if len(self.channels) != NUM_LAYERS:
            raise ArchError(
                f"a size-space config has {NUM_LAYERS} channel counts, got "
                f"{len(self.channels)}: {shown(self.channels)}"
            )
        for c in self.channels:
            if not is_integer(c) or c not in _POSITION:
                raise ArchError(
                    f"unknown channel count {shown(c)}; expected one of "
                    f"{', '.join(map(str, CANDIDATES))}"
                )

    @classmethod
    def parse(cls, text: str) -> SizeArch:
        """Parse ``C1:C2:C3:C4:C5`` (canonical spelling only: ASCII digits, no leading zero)."""
        if not isinstance(text, str):
            raise ArchTypeError(f"a size-space config must be str, got {type(text).__name__}")
        if len(text) > MAX_SIZE_CHARS:
            raise _malformed(text, f"{len(text):,} characters, a config has at most "
                                   f"{MAX_SIZE_CHARS}; expected 'C1:C2:C3:C4:C5'")
        if not _SIZE_RE.fullmatch(text):
            raise _malformed(text, f"expected {NUM_LAYERS} channel counts separated by ':', "
                                   "e.g. '8:16:24:32:64'")
        arch = cls(tuple(int(part) for part in text.split(":")))
        if str(arch) != text:  # a leading zero: '08:...'
            raise _malformed(text, f"expected the canonical spelling {shown(str(arch))}")
        return arch

    def __str__(self) -> str:
        return ":".join(map(str, self.channels))

    @property
    def index(self) -> int:
        """The official NATS-Bench size-space index."""
        index = 0
        for c in self.channels:
            index = index * len(CANDIDATES) + _POSITION[c]
        return index

    def with_channels(self, layer: int, channels: int) -> SizeArch:
        """A copy with layer ``layer`` (0..4) set to ``channels``."""
        if not is_integer(layer):
            raise ArchTypeError(f"layer must be an int, got {type(layer).__name__}")
        if not 0 <= layer < NUM_LAYERS:
            raise ArchError(f"layer must be in 0..{NUM_LAYERS - 1}, got {shown(layer)}")
        values = list(self.channels)
        values[layer] = channels
        return SizeArch(tuple(values))


@functools.cache
def _all() -> tuple[SizeArch, ...]:
    return tuple(SizeArch(c) for c in itertools.product(CANDIDATES, repeat=NUM_LAYERS))


@register_space("sss")
class SizeSpace(SearchSpace):
    """NATS-Bench's size space: :data:`SIZE_CELL` at 32,768 channel configurations."""

    size = SIZE_SPACE_SIZE
    max_arch_chars = MAX_SIZE_CHARS
    arch_type = SizeArch
    word = "size"
    archive_name = "NATS-sss-v1_0-50262-simple"
    archive_epochs = (1, 12, 90)

    def parse(self, text: str) -> SizeArch:
        return SizeArch.parse(text)

    def index_of(self, arch: SizeArch | str) -> int:
        return self.as_arch(arch).index

    def arch_at(self, index: int) -> SizeArch:
        return _all()[self.check_index(index)]

    def all_cells(self) -> tuple[SizeArch, ...]:
        return _all()

    def sample(self, rng: random.Random) -> SizeArch:
        """Each layer's channels drawn with ``rng.choice`` (NATS-Bench's ``random_size_func``)."""
        require_rng(rng)
        return SizeArch(tuple(rng.choice(CANDIDATES) for _ in range(NUM_LAYERS)))

    def mutate(self, arch: SizeArch, rng: random.Random) -> SizeArch:
        """One uniformly chosen layer set to another, uniformly chosen, channel count.

        NATS-Bench's ``mutate_size_func`` draws from all 8 candidates, so 1 child in 8 equals
        its parent; here, as for the topology space, the child always differs.
        """
        require_rng(rng)
        arch = self.as_arch(arch)
        layer = rng.randrange(NUM_LAYERS)
        choices = [c for c in CANDIDATES if c != arch.channels[layer]]
        return arch.with_channels(layer, rng.choice(choices))

    def neighbours(self, arch: SizeArch) -> list[SizeArch]:
        """The 35 configurations one layer's channel count away."""
        arch = self.as_arch(arch)
        return [arch.with_channels(layer, c) for layer in range(NUM_LAYERS)
                for c in CANDIDATES if c != arch.channels[layer]]

    def network_layout(self, arch: SizeArch | str) -> NetworkLayout:
        """``infer.shape.tiny``: :data:`SIZE_CELL` at the configuration's channels (N=1)."""
        return NetworkLayout("infer.shape.tiny", SIZE_CELL, self.as_arch(arch).channels)
