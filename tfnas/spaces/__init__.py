"""Search spaces: each registers itself where it is defined, with ``@register_space(name)``.

A :class:`SearchSpace` is everything the searches, oracles and proxies need to know about a set
of architectures: their encoding (``parse``/``format``), the official index order, sampling,
mutation, neighbours, an isomorphism key, the facts of its NATS-Bench archive and the layout of
its networks (:class:`NetworkLayout`, plain data that :func:`tfnas.network.build_network` builds:
this package imports neither torch nor :mod:`tfnas.network`). ``"tss"`` (the NATS-Bench topology
space, :mod:`tfnas.spaces.topology`) is the default; ``"sss"`` (the size space,
:mod:`tfnas.spaces.size`) is the second. Adding a space is one new module with one decorated
class.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from tfnas.checks import is_integer
from tfnas.errors import TfnasError, shown
from tfnas.space import Arch as Cell
from tfnas.space import ArchError, ArchIndexError, ArchTypeError, require_rng

Arch = Any
"""An architecture of some space (hashable, ordered, ``str`` is its official spelling)."""


@dataclass(frozen=True, slots=True)
class NetworkLayout:
    """What :func:`tfnas.network.build_network` needs to build an architecture's network.

    ``family`` names the xautodl network it reproduces (``"infer.tiny"``: the topology space's
    ``TinyNetwork``; ``"infer.shape.tiny"``: the size space's ``DynamicShapeTinyNet``), ``cell``
    is the topology cell every non-reduction layer runs, and ``channels`` the ``3N + 2`` per-layer
    channel counts (N cells, a reduction, N cells, a reduction, N cells).
    """

    family: str
    cell: Cell
    channels: tuple[int, ...]

DEFAULT_SPACE = "tss"


class UnknownSpaceError(TfnasError, ValueError):
    """A search-space name that no module registered."""


class SearchSpace(ABC):
    """One search space: its architectures, their official order and what to do with them.

    Subclasses implement the abstract methods; the rest is written once here from them.
    Every method draws randomness only from the explicit ``random.Random`` it is given.
    """

    name: ClassVar[str] = ""
    size: ClassVar[int]
    """Number of architectures."""
    max_arch_chars: ClassVar[int]
    """The longest official spelling; longer text is refused before it is parsed."""
    arch_type: ClassVar[type]
    word: ClassVar[str] = ""
    """The space's name in prose (``"topology"``, ``"size"``)."""
    archive_name: ClassVar[str | None] = None
    """The fast-mode NATS-Bench archive folder of this space under ``$TORCH_HOME`` (None: none)."""
    archive_epochs: ClassVar[tuple[int, ...]] = ()
    """The training lengths that archive holds (its ``hp`` keys), the full length last."""

    @abstractmethod
    def parse(self, text: str) -> Arch:
        """The architecture spelled ``text`` (its one canonical spelling only)."""

    def format(self, arch: Arch) -> str:
        """The official spelling of ``arch`` (``parse(format(a)) == a``)."""
        return str(self.as_arch(arch))

    def as_arch(self, arch: Arch | str) -> Arch:
        """Accept an architecture of this space or its official spelling."""
        if isinstance(arch, self.arch_type):
            return arch
        if isinstance(arch, str):
            return self.parse(arch)
        raise ArchTypeError(
            f"expected a {self.arch_type.__name__} or its string ({self.name} space), got "
            f"{type(arch).__name__}"
        )

    @abstractmethod
    def index_of(self, arch: Arch | str) -> int:
        """The official index of ``arch``."""

    @abstractmethod
    def arch_at(self, index: int) -> Arch:
        """The architecture at official index ``index``."""

    @abstractmethod
    def all_cells(self) -> tuple[Arch, ...]:
        """Every architecture, in official index order."""

    @abstractmethod
    def sample(self, rng: random.Random) -> Arch:
        """A uniformly random architecture drawn from ``rng``."""

    def sample_distinct(self, rng: random.Random, n: int) -> list[Arch]:
        """``n`` distinct architectures drawn uniformly without replacement from ``rng``."""
        require_rng(rng)
        if not is_integer(n):
            raise ArchTypeError(f"n must be an int, got {type(n).__name__}")
        if not 0 <= n <= self.size:
            raise ArchError(
                f"n must be in 0..{self.size} (the size of the {self.name} space), got {shown(n)}"
            )
        return [self.arch_at(i) for i in rng.sample(range(self.size), n)]

    @abstractmethod
    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """``arch`` with one position changed to another value, drawn from ``rng``."""

    @abstractmethod
    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every architecture one change away, each once."""

    def canonical(self, arch: Arch) -> Hashable:
        """A key shared by functionally identical architectures (identity by default)."""
        return self.as_arch(arch)

    @abstractmethod
    def network_layout(self, arch: Arch | str) -> NetworkLayout:
        """What the network of ``arch`` is made of (:func:`tfnas.network.build_network` builds it)."""

    def check_index(self, index: object) -> int:
        """``index`` if it is an int in ``0..size-1``, else an ``ArchError``."""
        if not is_integer(index):
            raise ArchTypeError(f"index must be an int, got {type(index).__name__}")
        if not 0 <= index < self.size:
            raise ArchIndexError(
                f"index must be in 0..{self.size - 1} ({self.name} space), got {shown(index)}"
            )
        return index

    @property
    def described(self) -> str:
        """How messages name this space ("the space (tss)")."""
        return f"the space ({self.name})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.size:,} architectures>"


_REGISTRY: dict[str, SearchSpace] = {}
S = TypeVar("S", bound=type[SearchSpace])


def register_space(name: str) -> Callable[[S], S]:
    """Class decorator: register one instance of the space under ``name`` (names are unique)."""

    def wrapper(cls: S) -> S:
        if not isinstance(name, str) or not name.isidentifier():
            raise UnknownSpaceError(f"a space name must be an identifier, got {shown(name)}")
        if name in _REGISTRY:
            raise UnknownSpaceError(f"a search space is already registered as {name!r}")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return wrapper


def space_names() -> tuple[str, ...]:
    """The registered space names, the default first."""
    return tuple(sorted(_REGISTRY, key=lambda name: (name != DEFAULT_SPACE, name)))


def get_space(space: str | SearchSpace | None = None) -> SearchSpace:
    """The space named ``space`` (or ``space`` itself; ``None`` is the default, ``"tss"``)."""
    if space is None:
        space = DEFAULT_SPACE
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, str) and space in _REGISTRY:
        return _REGISTRY[space]
    raise UnknownSpaceError(
        f"unknown search space {shown(space)}; expected one of {', '.join(space_names())}"
    )


def space_of(arch: object) -> SearchSpace:
    """The registered space whose architecture type ``arch`` is."""
    for space in _REGISTRY.values():
        if isinstance(arch, space.arch_type):
            return space
    raise ArchTypeError(
        f"{type(arch).__name__} is the architecture of no registered space "
        f"({', '.join(space_names())})"
    )


def resolve(arch: object, space: str | SearchSpace | None = None) -> tuple[Arch, SearchSpace]:
    """``(arch, its space)``: ``space`` parses a string; without it an architecture object names
    its own space and a string is read in the default (topology) space."""
    if space is None:
        for known in _REGISTRY.values():
            if isinstance(arch, known.arch_type):
                return arch, known
    found = get_space(space)
    return found.as_arch(arch), found  # type: ignore[arg-type]


def _load_builtins() -> None:
    """Import every module of this package: each registers its space (one file per space)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_builtins()
TOPOLOGY: SearchSpace = get_space("tss")
SIZE: SearchSpace = get_space("sss")

__all__ = [
    "DEFAULT_SPACE", "SIZE", "TOPOLOGY", "NetworkLayout", "SearchSpace", "UnknownSpaceError", "get_space",
    "register_space", "require_rng", "resolve", "space_names", "space_of",
]
