"""The search algorithms, registered where they are defined.

A search module decorates its entry point with :func:`register_search`, declaring the parameters
it takes (they become ``tfnas search`` flags and the fields of a search protocol in the claims
registry) and a ``prepare`` function that fills defaults and validates them. Every module of the
:mod:`tfnas.search` package is imported on first lookup, so a new algorithm is one new file.

An algorithm is run as ``algorithm.run(scorer=..., seed=..., space=..., **params)`` and returns a
:class:`~tfnas.search.trace.Trace`; ``space`` (a :class:`~tfnas.spaces.SearchSpace` or its name,
default the topology space) is the space it searches.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tfnas.checks import ArgumentError
from tfnas.errors import TfnasError, shown


class UnknownSearchError(TfnasError, ValueError):
    """A search algorithm name that no module registered."""


@dataclass(frozen=True)
class Param:
    """One parameter of a search algorithm: a keyword of its run function and a protocol field."""

    name: str
    type: type  # int or float
    default: int | float | None
    help: str
    evaluations: bool = False
    """True when the value is the number of evaluations a run makes (``n``, ``cycles``)."""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Algorithm:
    """A registered search: its name, run function, parameters and their validation."""

    name: str
    run: Callable[..., Any]
    params: tuple[Param, ...]
    prepare: Callable[..., dict[str, Any]]
    """``prepare(**given, space=None) -> params``: defaults filled in, every value checked for the
    search space (ArgumentError); ``space`` itself is passed to ``run``, not returned."""
    help: str
    label: str = ""
    """How a run is named in reports, a ``str.format`` template over the parameters
    (``"random N={n}"``); empty: the name and every ``parameter=value``."""

    def describe(self, params: Mapping[str, Any]) -> str:
        """A short name of a run with ``params``, e.g. ``REA P=64 S=20 C=1000``."""
        if self.label:
            return self.label.format(**params)
        return " ".join([self.name, *(f"{k}={v}" for k, v in params.items())])

    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def evaluations(self, params: Mapping[str, Any]) -> int | None:
        """The evaluations one run with ``params`` makes at most (None: a time budget decides)."""
        counts = [params.get(p.name) for p in self.params if p.evaluations]
        known = [c for c in counts if isinstance(c, int) and not isinstance(c, bool)]
        return min(known) if known else None


_ALGORITHMS: dict[str, Algorithm] = {}


def register_search(name: str, *, params: tuple[Param, ...], prepare: Callable[..., dict[str, Any]],
                    help: str, label: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register the decorated function as the search algorithm ``name``."""

    def wrap(run: Callable[..., Any]) -> Callable[..., Any]:
        known = _ALGORITHMS.get(name)
        if known is not None and known.run is not run:
            raise ArgumentError(f"a search algorithm {shown(name)} is already registered "
                             f"({known.run.__module__}.{known.run.__qualname__})")
        _ALGORITHMS[name] = Algorithm(name, run, tuple(params), prepare, help, label)
        return run

    return wrap


@functools.cache
def _load_builtins() -> None:
    import tfnas.search as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def algorithm_names() -> tuple[str, ...]:
    """Every registered search algorithm, in registration order."""
    _load_builtins()
    return tuple(_ALGORITHMS)


def get_algorithm(name: object) -> Algorithm:
    """The algorithm registered as ``name``, or an :class:`UnknownSearchError` naming the known ones."""
    _load_builtins()
    if not isinstance(name, str) or name not in _ALGORITHMS:
        raise UnknownSearchError(f"unknown search algorithm {shown(name)}; expected one of "
                                 f"{', '.join(_ALGORITHMS)}")
    return _ALGORITHMS[name]
