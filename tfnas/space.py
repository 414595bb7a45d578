"""The NATS-Bench topology search space (= NAS-Bench-201): 6-edge cells over 5 operations.

A cell has 4 nodes; node ``i`` sums ``op(i <- j)`` over ``j < i`` and node 3 is the output.
The six edges, in the order of the official string, are
``(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)``.

These module-level names are the topology space; :mod:`tfnas.spaces` wraps them as the
``"tss"`` :class:`~tfnas.spaces.SearchSpace`, beside the size space ``"sss"``.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tfnas.checks import is_integer
from tfnas.errors import TfnasError, shown

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five candidate operations, in the official NATS-Bench order."""

EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""``(to_node, from_node)`` of each of the six edges, in string order."""

NUM_EDGES = len(EDGES)
NUM_NODES = 4
SPACE_SIZE = len(OPS) ** NUM_EDGES  # 15,625
OFFICIAL_SHUFFLE_SEED = 88

_NODE_RE = re.compile(r"\|(?:[a-z0-9_]+~[0-9]+\|)+", re.ASCII)

# six "op~j" entries, a "|" after each and one opening each node, "+" between the nodes
MAX_ARCH_CHARS = NUM_EDGES * (max(map(len, OPS)) + 3) + (NUM_NODES - 1) + (NUM_NODES - 2)  # 95
"""The length of the longest cell string: anything longer is refused before it is parsed."""


class ArchError(TfnasError, ValueError):
    """A malformed arch string, an unknown operation or an out-of-range edge or index."""


class ArchTypeError(ArchError, TypeError):
    """An arch, op tuple, index or generator of the wrong type."""


class ArchIndexError(ArchError, IndexError):
    """An official index outside ``0..15624``."""


def _malformed(text: str, why: str) -> ArchError:
    return ArchError(f"malformed arch string {shown(text)}: {why}")


@dataclass(frozen=True, slots=True, order=True)
class Arch:
    """An immutable cell: the operation on each of the six edges, in string order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.ops, tuple):
            raise ArchTypeError(
                f"Arch.ops must be a tuple of {NUM_EDGES} op names, got {type(self.ops).__name__}"
            )
        if len(self.ops) != NUM_EDGES:
            raise ArchError(
                f"a cell has {NUM_EDGES} edges, got {len(self.ops)} ops: {shown(self.ops)}"
            )
        for op in self.ops:
            if not isinstance(op, str) or op not in OPS:
                raise ArchError(f"unknown operation {shown(op)}; expected one of {', '.join(OPS)}")

    @classmethod
    def parse(cls, text: str) -> Arch:
        """Parse the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

        Only the one canonical spelling is accepted (``str(Arch.parse(s)) == s``): ASCII, no
        whitespace, sources written as one digit without sign or leading zero. Any other spelling
        would name the same cell twice, so a store or table could hold two rows for it.
        """
        if not isinstance(text, str):
            raise ArchTypeError(f"an arch string must be str, got {type(text).__name__}")
        if len(text) > MAX_ARCH_CHARS:
            raise _malformed(text, f"{len(text):,} characters, a cell string has at most "
                                   f"{MAX_ARCH_CHARS}; expected '|op~0|+|op~0|op~1|+|...|'")
        nodes = text.split("+")
        if len(nodes) != NUM_NODES - 1:
            raise _malformed(text, f"expected {NUM_NODES - 1} nodes separated by '+', "
                                   f"got {len(nodes)}")
        ops: list[str] = []
        for to_node, node in enumerate(nodes, start=1):
            ops.extend(_parse_node(text, to_node, node))
        arch = cls(tuple(ops))
        if str(arch) != text:  # every rule above should make this unreachable; keep it anyway
            raise _malformed(text, f"expected the canonical spelling {shown(str(arch))}")
        return arch

    def __str__(self) -> str:
        parts = []
        k = 0
        for to_node in range(1, NUM_NODES):
            entries = []
            for src in range(to_node):
                entries.append(f"{self.ops[k]}~{src}")
                k += 1
            parts.append("|" + "|".join(entries) + "|")
        return "+".join(parts)

    @property
    def index(self) -> int:
        """The official NATS-Bench index of this cell."""
        return _index_table()[self]

    def edges(self) -> Iterator[tuple[int, int, str]]:
        """Yield ``(to_node, from_node, op)`` for the six edges in string order."""
        for (to_node, src), op in zip(EDGES, self.ops, strict=True):
            yield to_node, src, op

    def with_op(self, edge: int, op: str) -> Arch:
        """Return a copy with edge ``edge`` (0..5) set to ``op``."""
        if not is_integer(edge):
            raise ArchTypeError(f"edge must be an int, got {type(edge).__name__}")
        if not 0 <= edge < NUM_EDGES:
            raise ArchError(f"edge must be in 0..{NUM_EDGES - 1}, got {shown(edge)}")
        ops = list(self.ops)
        ops[edge] = op
        return Arch(tuple(ops))


def _parse_node(text: str, to_node: int, node: str) -> list[str]:
    """The ops of node ``to_node``'s incoming edges, from its part ``node`` of ``text``."""
    if not _NODE_RE.fullmatch(node):
        raise _malformed(text, f"node {to_node} is {shown(node)}, expected '|op~j|...|'")
    entries = node[1:-1].split("|")
    if len(entries) != to_node:
        raise _malformed(text, f"node {to_node} must have {to_node} incoming edges, "
                               f"got {len(entries)}")
    ops = []
    for expected_src, entry in enumerate(entries):
        op, _, src = entry.partition("~")
        if op not in OPS:
            raise _malformed(text, f"unknown operation {shown(op)} on node {to_node}; "
                                   f"expected one of {', '.join(OPS)}")
        if src != str(expected_src):
            raise _malformed(text, f"edge {shown(entry)} into node {to_node} has source "
                                   f"{shown(src)}, expected {expected_src} (written as one digit, "
                                   "no sign or leading zero)")
        ops.append(op)
    return ops


def as_arch(arch: Arch | str) -> Arch:
    """Accept an :class:`Arch` or its official string."""
    if isinstance(arch, Arch):
        return arch
    if isinstance(arch, str):
        return Arch.parse(arch)
    raise ArchTypeError(f"expected an Arch or an arch string, got {type(arch).__name__}")


def enumerate_cells() -> list[Arch]:
    """All cells in the NATS-Bench enumeration order (first edge varies slowest)."""
    return [Arch(ops) for ops in itertools.product(OPS, repeat=NUM_EDGES)]


@functools.cache
def _official_order() -> tuple[Arch, ...]:
    cells = enumerate_cells()
    # NATS-Bench: random.seed(88); random.shuffle(archs) -- the same sequence as a private Random(88).
    random.Random(OFFICIAL_SHUFFLE_SEED).shuffle(cells)
    return tuple(cells)


@functools.cache
def _index_table() -> dict[Arch, int]:
    return {arch: i for i, arch in enumerate(_official_order())}


def all_cells() -> tuple[Arch, ...]:
    """All 15,625 cells in the official NATS-Bench index order."""
    return _official_order()


def arch_at(index: int) -> Arch:
    """The cell at an official NATS-Bench index."""
    if not is_integer(index):
        raise ArchTypeError(f"index must be an int, got {type(index).__name__}")
    if not 0 <= index < SPACE_SIZE:
        raise ArchIndexError(f"index must be in 0..{SPACE_SIZE - 1}, got {shown(index)}")
    return _official_order()[index]


def index_of(arch: Arch | str) -> int:
    """The official NATS-Bench index of a cell."""
    return _index_table()[as_arch(arch)]


def sample(rng: random.Random) -> Arch:
    """A uniformly random cell, drawn from the explicit generator ``rng``."""
    require_rng(rng)
    return Arch(tuple(rng.choice(OPS) for _ in range(NUM_EDGES)))


def sample_distinct(rng: random.Random, n: int) -> list[Arch]:
    """``n`` distinct cells drawn uniformly without replacement from ``rng``."""
    require_rng(rng)
    if not is_integer(n):
        raise ArchTypeError(f"n must be an int, got {type(n).__name__}")
    if not 0 <= n <= SPACE_SIZE:
        raise ArchError(f"n must be in 0..{SPACE_SIZE} (the size of the space), got {shown(n)}")
    return [arch_at(i) for i in rng.sample(range(SPACE_SIZE), n)]


def mutate(arch: Arch, rng: random.Random) -> Arch:
    """Change one uniformly chosen edge to a different, uniformly chosen operation."""
    require_rng(rng)
    edge = rng.randrange(NUM_EDGES)
    choices = [op for op in OPS if op != arch.ops[edge]]
    return arch.with_op(edge, rng.choice(choices))


def neighbours(arch: Arch) -> list[Arch]:
    """The 24 cells one edit away (every edge set to every other op)."""
    return [
        arch.with_op(edge, op) for edge in range(NUM_EDGES) for op in OPS if op != arch.ops[edge]
    ]


def is_connected(arch: Arch) -> bool:
    """True when some path of non-``none`` edges leads from the input (node 0) to the output."""
    reach = {0}
    for to_node, src, op in arch.edges():
        if op != "none" and src in reach:
            reach.add(to_node)
    return NUM_NODES - 1 in reach


def without_dead_ops(arch: Arch) -> bool:
    """True when every operation other than ``none`` lies on an input-to-output path of
    non-``none`` edges (the all-``none`` cell included).

    An edge ``j -> i`` is on such a path when node ``j`` is reached from the input and node ``i``
    reaches the output, both through non-``none`` edges. GRAF's "valid" NAS-Bench-201 cells
    (gabikadlecova/zc_combine ``fixes/nb201.py``: ``remove_zero_branches``, then keep a cell only
    if that changes nothing): 9,445 of the 15,625 cells, the cells VKDNW's Table 1 evaluates.
    """
    reached = {0}
    for to_node, src, op in arch.edges():  # edges come grouped by their target node, in order
        if op != "none" and src in reached:
            reached.add(to_node)
    reaches = {NUM_NODES - 1}
    for to_node, src, op in sorted(arch.edges(), reverse=True):
        if op != "none" and to_node in reaches:
            reaches.add(src)
    return all(op == "none" or (src in reached and to_node in reaches)
               for to_node, src, op in arch.edges())


@dataclass(frozen=True)
class CellSubset:
    """A named subset of the space that a claim can be evaluated on."""

    description: str
    contains: Callable[[Arch], bool]


CELL_SUBSETS: dict[str, CellSubset] = {
    "all": CellSubset("all 15,625 cells", lambda arch: True),
    "without_dead_ops": CellSubset(
        "the 9,445 cells without dead operations (every non-none operation on an input-to-output "
        "path of non-none edges: GRAF's valid NB201 cells)", without_dead_ops),
}
"""The subsets by name: ``all`` (the default), ``without_dead_ops``."""


def cell_subset(name: str) -> CellSubset:
    """The subset called ``name``, or a one-line error naming the known ones."""
    if not isinstance(name, str) or name not in CELL_SUBSETS:
        raise ArchError(f"unknown cell subset {shown(name)}: expected one of "
                        f"{', '.join(CELL_SUBSETS)}")
    return CELL_SUBSETS[name]


def canonical(arch: Arch) -> str:
    """A key shared by isomorphic cells: NATS-Bench's ``to_unique_str(consider_zero=True)`` rule.

    Terms of a node's sum are order-free, a skip connection passes its input's key through, and a
    ``none`` edge, or any edge leaving a zero node, becomes the zero term ``#``. Under this rule the
    15,625 cells fall into the published 6,466 classes. The rule keeps ``#`` terms, so it is finer
    than pure functional equivalence (dropping them merges further, to 5,390 classes).
    """
    nodes: dict[int, str] = {0: "0"}
    for to_node in range(1, NUM_NODES):
        terms = []
        for tn, src, op in arch.edges():
            if tn != to_node:
                continue
            if op == "none" or nodes[src] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[src])
            else:
                terms.append(f"({nodes[src]})@{op}")
        nodes[to_node] = "+".join(sorted(terms))
    return nodes[NUM_NODES - 1]


def require_rng(rng: object) -> random.Random:
    """``rng`` if it is an explicit ``random.Random``, else an :class:`ArchTypeError`."""
    if not isinstance(rng, random.Random):
        raise ArchTypeError(
            f"pass an explicit random.Random generator, got {type(rng).__name__}; "
            "tfnas never draws from the global random state"
        )
    return rng
