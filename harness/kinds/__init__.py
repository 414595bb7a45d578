"""Claim kinds, registered where they are defined: one module of this package per kind.

A kind module defines a frozen protocol dataclass (its fields are the keys of the claim's
``protocol`` table; ``from_dict(cid, where, mapping)`` validates one and raises
:class:`~harness.registry.ClaimError` naming the claim and the field) and a measure function
decorated with :func:`register_kind`::

    @register_kind("search", protocol=SearchProtocol, side=True, details=SearchDetails)
    def measure(protocol: SearchProtocol, ctx: Context) -> Measurement: ...

``details`` is the kind's result record (a :class:`harness.details.Details` subclass): the typed
keys it writes, checked on load, and its own report lines and figures. The kind's module is all a
new kind needs: the report composes what each kind renders.

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

from harness.details import Details, SidesDetails
from harness.measurement_model import MeasurementModel
from harness.verdicts import Estimate

if TYPE_CHECKING:
    from harness.context import Context


@dataclass
class Measurement:
    """A measured estimate and the details worth recording (seeds, values for plots): the kind's
    :class:`~harness.details.Details` record (a plain mapping becomes a base record)."""

    estimate: Estimate
    details: Details = field(default_factory=Details)
    model: MeasurementModel | None = None
    """What one published repetition is under the measured reading
    (:mod:`harness.measurement_model`); None where the published row is read as it stands."""
    mc_se: float = 0.0
    """The Monte-Carlo part of the estimate's error (0: computed exactly)."""
    spread_mc: float = 0.0
    """The relative Monte-Carlo error of the estimate's spread (0: exact)."""
    se_mc: float = 0.0
    """The relative Monte-Carlo error of the estimate's standard error (0: exact, or known)."""
    refine: Callable[[], Measurement] | None = field(default=None, repr=False, compare=False)
    """The same reading measured with more Monte-Carlo runs; None when exact or at the cap."""

    def __post_init__(self) -> None:
        if not isinstance(self.details, Details):
            self.details = Details.of(self.details)


@dataclass(frozen=True)
class Comparison:
    """The two measured sides of a comparative claim, judged A against B."""

    a: Measurement
    b: Measurement

    @property
    def details(self) -> SidesDetails:
        """Both sides' records."""
        return SidesDetails(a=self.a.details, b=self.b.details)


class ClaimProtocol(Protocol):
    """What a kind's protocol dataclass provides."""

    @classmethod
    def from_dict(cls, cid: str, where: str, mapping: Mapping[str, Any]) -> ClaimProtocol: ...


Measure = Callable[[Any, "Context"], "Measurement | Comparison"]


@dataclass(frozen=True)
class Null:
    """What a claim's rule is shown against: a method that carries no information (a random
    cell, random search with the same budget, zero correlation), in words (``label``), and
    either the ``protocol`` to measure (a registered kind's protocol, measured by the same code
    as the claim) or the ``result`` itself. ``lookup``: the claim reads a table (e.g. the best
    accuracy of the space) and checks the data, not a method: there is nothing to measure."""

    label: str
    protocol: object | None = None
    result: Measurement | Comparison | None = None
    lookup: bool = False

    def __post_init__(self) -> None:
        if not self.lookup and (self.protocol is None) == (self.result is None):
            raise ValueError(f"null {self.label!r}: give a protocol or a result, not both")


NullFn = Callable[[Any, "Context"], "Null | None"]
"""A kind's null hook: the null of one of its protocols, or None when none makes sense."""


@dataclass(frozen=True)
class Kind:
    """A registered claim kind: its name, protocol type and measure function."""

    name: str
    protocol: type
    measure: Measure
    side: bool = False
    """True when it can be one side of a comparison (its measure returns a Measurement)."""
    details: type[Details] = Details
    """The kind's result record: typed keys, checked on load, rendered by the kind."""
    null: NullFn | None = None
    """The null of a protocol of this kind (:class:`Null`), None: the kind states none."""


_KINDS: dict[str, Kind] = {}


def register_kind(name: str, *, protocol: type, side: bool = False,
                  details: type[Details] = Details,
                  null: NullFn | None = None) -> Callable[[Measure], Measure]:
    """Decorator: register the decorated measure function as the claim kind ``name``, with its
    result record type ``details`` and its ``null`` hook (``null(protocol, ctx)`` gives the
    :class:`Null` a claim of this kind is shown against, or None)."""
    if null is not None and not callable(null):
        raise TypeError(f"the null of kind {name!r} must be a function (protocol, ctx) -> Null")
    if not callable(getattr(protocol, "from_dict", None)):
        raise TypeError(f"the protocol of kind {name!r} needs a from_dict(cid, where, mapping)")
    if not (isinstance(details, type) and issubclass(details, Details)):
        raise TypeError(f"the details of kind {name!r} must be a harness.details.Details subclass")

    def wrap(measure: Measure) -> Measure:
        known = _KINDS.get(name)
        if known is not None and known.measure is not measure:
            raise ValueError(f"a claim kind {name!r} is already registered "
                             f"({known.measure.__module__}.{known.measure.__qualname__})")
        _KINDS[name] = Kind(name, protocol, measure, side, details, null)
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


def details_type(name: Any) -> type[Details]:
    """The result record of kind ``name``; the base record for a kind not registered here (a
    results file may come from a run with kinds this process does not have)."""
    kind = get_kind(name) if isinstance(name, str) else None
    return Details if kind is None else kind.details


def read_details(kind: Any, d: Any, where: str = "details",
                 protocol: Mapping[str, Any] | None = None) -> Details:
    """The record of kind ``kind`` read from its dict (checked, :class:`harness.schema.Invalid`
    naming the field), its parts that are other kinds' records read as those kinds'."""
    return details_type(kind).from_dict(d, where, protocol, details_type)


def kinds() -> tuple[Kind, ...]:
    """Every registered kind, sorted by name."""
    _load_builtins()
    return tuple(_KINDS[n] for n in sorted(_KINDS))


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


def null_of(protocol: object, ctx: Context) -> Null | None:
    """The null of a typed protocol from its kind's hook; None when the kind states none."""
    hook = kind_of(protocol).null
    return None if hook is None else hook(protocol, ctx)
