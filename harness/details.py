"""A claim kind's result record: the typed details it writes, reads back and renders itself.

Each kind declares one subclass of :class:`Details` beside its measure function (``details=`` of
:func:`harness.kinds.register_kind`). Its dataclass fields made with :func:`recorded` are the keys
the kind's own rendering and the verdict read, each with the :mod:`harness.schema` check that
validates it when a results file is loaded; every other key the kind records is kept as it was in
:attr:`Details.extra` and written back unchanged, so files written before a field was typed still
load. :meth:`Details.lines` and :meth:`Details.plots` are the rendering hooks the report calls: the
report itself names no kind.

A record reads like the mapping it writes (``details["max"]``), so code that only looks at a value
needs no import of the kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import schema

if TYPE_CHECKING:
    from typing import Self

Outcome = Any
"""A claim's outcome (:class:`harness.outcome.Outcome`, which holds its record)."""
Resolve = Callable[[Any], "type[Details]"]
"""The record type of a kind name (:func:`harness.kinds.details_type`)."""


def recorded(check: schema.Check, default: Any = None) -> Any:
    """A typed field of a record: written under its name, validated with ``check`` on load."""
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class Canvas:
    """Where a kind draws its figures: ``save(figure, name)`` writes ``name`` (a fixed
    ``[A-Za-z0-9_-]{1,64}.png`` name) into the report folder and returns it."""

    out: Path
    save: Callable[[Any, str], str]


@dataclass(frozen=True, eq=False)
class Details(Mapping[str, Any]):
    """The details of a measurement: the typed fields of the kind's subclass, and ``extra``.

    ``max`` and ``decide`` are the two values the verdict reads from any kind: the largest
    measured value (an "always under" rule judges it) and, for an inconclusive judgement, what
    the kind knows from its run would decide it.
    """

    extra: dict[str, Any] = field(default_factory=dict)
    max: float | None = recorded(schema.optional(schema.number))
    decide: str | None = recorded(schema.optional(schema.string))

    @classmethod
    def checks(cls) -> dict[str, schema.Check]:
        """The typed fields and their checks."""
        return {f.name: f.metadata["check"] for f in dataclasses.fields(cls)
                if "check" in f.metadata}

    @classmethod
    def from_dict(cls, d: Any, where: str = "details", protocol: Mapping[str, Any] | None = None,
                  resolve: Resolve | None = None) -> Self:
        """A record from its dict, each typed field checked (:class:`harness.schema.Invalid`
        names the field path); ``protocol`` is the claim's and ``resolve`` gives the record
        type of a kind name, for a record whose parts are other kinds' (a comparison's sides;
        :func:`harness.kinds.read_details` passes both)."""
        d = schema.fields(dict(schema.obj(d, where)), where, {}, cls.checks())
        typed = {k: d.pop(k) for k in cls.checks() if k in d}
        return cls(extra=d, **typed)

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Self:
        """The record of a kind's measurement: ``values`` checked as a file's would be, so a
        kind cannot write what its own reader would refuse."""
        return cls.from_dict(dict(values))

    def to_dict(self) -> dict[str, Any]:
        """The recorded keys: ``extra`` and every typed field that holds a value."""
        out = dict(self.extra)
        for name in self.checks():
            value = getattr(self, name)
            if value is not None:
                out[name] = value.to_dict() if isinstance(value, Details) else value
        return out

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def without(self, keys: Collection[str]) -> Self:
        """The same record without ``keys``, in its parts too (e.g. the per-point lists a
        baseline leaves out)."""
        typed = {}
        for name in self.checks():
            value = getattr(self, name)
            typed[name] = (None if name in keys else
                           value.without(keys) if isinstance(value, Details) else value)
        return dataclasses.replace(self, extra={k: v for k, v in self.extra.items()
                                                if k not in keys}, **typed)

    # ------------------------------------------------------------ rendering hooks

    def lines(self, outcome: Outcome) -> list[str]:
        """Markdown lines for the claim's detail section (text from the file goes through
        :func:`harness.markdown.md_text`)."""
        return []

    @classmethod
    def plots(cls, outcomes: Sequence[Outcome], canvas: Canvas) -> list[str]:
        """Figures over this kind's measured outcomes; the names of the files written."""
        return []

    @classmethod
    def subject(cls, outcome: Outcome) -> tuple[str, ...] | None:
        """The proxies whose scores the claim judges: one proxy, an ensemble's members, or ()
        for how all proxies rank against one another; None when it is about no proxy's scores
        (the report's proxy-by-dataset section places a claim by it)."""
        return None

    @classmethod
    def describe(cls, outcome: Outcome) -> str:
        """A few words on what the claim measures (its kind and quantity), as inert Markdown."""
        from harness.markdown import md_text

        quantity = outcome.protocol.get("quantity")
        return md_text(outcome.kind) + (f" {md_text(quantity)}" if isinstance(quantity, str)
                                        else "")


def _side(v: Any, p: str) -> Any:
    """A side's record: an object here, typed by :meth:`SidesDetails.from_dict`, where the
    side's kind is known."""
    return v if isinstance(v, Details) else schema.obj(v, p)


@dataclass(frozen=True, eq=False)
class SidesDetails(Details):
    """The details of a two-sided claim (a comparison, a scaling ratio): each side's record, of
    the kind its protocol names (``protocol.a.kind``, default ``search``)."""

    a: Details | None = recorded(_side)
    b: Details | None = recorded(_side)

    @classmethod
    def from_dict(cls, d: Any, where: str = "details", protocol: Mapping[str, Any] | None = None,
                  resolve: Resolve | None = None) -> Self:
        record = super().from_dict(d, where, protocol, resolve)
        sides = {}
        for name in ("a", "b"):
            value = getattr(record, name)
            if value is None or isinstance(value, Details):
                sides[name] = value
                continue
            spec = (protocol or {}).get(name)
            kind = spec.get("kind", "search") if isinstance(spec, Mapping) else None
            side_type = Details if resolve is None else resolve(kind)
            sides[name] = side_type.from_dict(value, f"{where}.{name}", spec, resolve)
        return dataclasses.replace(record, **sides)

    def lines(self, outcome: Outcome) -> list[str]:
        out = []
        for name in ("a", "b"):
            side = getattr(self, name)
            if side is not None:
                out += [f"- side {name.upper()}: {line[2:]}" if line.startswith("- ") else line
                        for line in side.lines(outcome)]
        return out


def proxy_subject(outcome: Outcome) -> tuple[str, ...] | None:
    """A claim's ``protocol.proxy`` as its subject (a kind about one proxy's scores)."""
    proxy = outcome.protocol.get("proxy")
    return (proxy,) if isinstance(proxy, str) else None
