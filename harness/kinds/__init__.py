"""Claim kinds, registered where they are defined: one module of this package per kind.

A kind module defines a frozen protocol dataclass (its fields are the keys of the claim's
``protocol`` table; ``from_dict(cid, where, mapping)`` validates one and raises
:class:`~harness.registry.ClaimError` naming the claim and the field) and a measure function
decorated with :func:`register_kind`::

    @register_kind("search", protocol=SearchProtocol, side=True)
    def measure(protocol: SearchProtocol, ctx: Context) -> Measurement: ...

Every module of this package is imported on the first lookup, so a new claim kind is one new
file; a kind defined elsewhere (a test, a user's package) registers the same way.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from harness.verdicts import Estimate

if TYPE_CHECKING:
    from harness.context import Context


@dataclass
class Measurement:
    """A measured estimate and the details worth recording (seeds, values for plots)."""

    estimate: Estimate
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """The two measured sides of a comparative claim, judged A against B."""

    a: Measurement
    b: Measurement


class ClaimProtocol(Protocol):
    """What a kind's protocol dataclass provides."""

    @classmethod
    def from_dict(cls, cid: str, where: str, mapping: Mapping[str, Any]) -> ClaimProtocol: ...


Measure = Callable[[Any, "Context"], "Measurement | Comparison"]


@dataclass(frozen=True)
class Kind:
    """A registered claim kind: its name, protocol type and measure function."""

    name: str
    protocol: type
    measure: Measure
    side: bool = False
    """True when it can be one side of a comparison (its measure returns a Measurement)."""


_KINDS: dict[str, Kind] = {}


def register_kind(name: str, *, protocol: type, side: bool = False) -> Callable[[Measure], Measure]:
    """Decorator: register the decorated measure function as the claim kind ``name``."""
    if not callable(getattr(protocol, "from_dict", None)):
        raise TypeError(f"the protocol of kind {name!r} needs a from_dict(cid, where, mapping)")

    def wrap(measure: Measure) -> Measure:
        known = _KINDS.get(name)
        if known is not None and known.measure is not measure:
            raise ValueError(f"a claim kind {name!r} is already registered "
                             f"({known.measure.__module__}.{known.measure.__qualname__})")
        _KINDS[name] = Kind(name, protocol, measure, side)
        return measure

    return wrap


@functools.cache
def _load_builtins() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def kind_names() -> tuple[str, ...]:
    """Every registered claim kind, sorted."""
    _load_builtins()
    return tuple(sorted(_KINDS))


def get_kind(name: str) -> Kind | None:
    """The kind registered as ``name``, or None."""
    _load_builtins()
    return _KINDS.get(name)


def kind_of(protocol: object) -> Kind:
    """The kind whose protocol type ``protocol`` is an instance of."""
    _load_builtins()
    for kind in _KINDS.values():
        if type(protocol) is kind.protocol:
            return kind
    raise TypeError(f"no claim kind has protocol type {type(protocol).__name__}")


def measure(protocol: object, ctx: Context) -> Measurement | Comparison:
    """Measure a typed protocol with its kind's measure function."""
    return kind_of(protocol).measure(protocol, ctx)
