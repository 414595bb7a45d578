"""Checks of an untrusted JSON document's fields: the toolkit :mod:`harness.results` and each
claim kind's result record (:mod:`harness.details`) validate with.

A check is ``check(value, path) -> value``: it returns the value normalised (numbers as floats)
or raises :class:`Invalid` naming the field path (for example ``claims.outcomes[3].details.max``),
what was expected and what was found.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tfnas.errors import shown

MAX_COUNT = 10**15
"""Largest count (``n``, repetitions, threads) accepted: beyond it a count is nonsense."""
QUANTILES = ("q05", "q50", "q95")
"""The quantiles a predicted sampling distribution records (5, 50 and 95%)."""

_MISSING = object()


class Invalid(Exception):  # noqa: N818 - wrapped into a ResultsError
    """A field of the document does not match the schema (wrapped into a ResultsError)."""

    def __init__(self, path: str, expected: str, value: Any = _MISSING, got: str = "") -> None:
        got = got or ("nothing" if value is _MISSING else got_text(value))
        super().__init__(f"{path or 'the document'} must be {expected}, got {got}")


def got_text(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             type(None): "null", int: "an integer", float: "a number"}
    kind = kinds.get(type(value), type(value).__name__)
    return kind if isinstance(value, dict | list) else f"{kind} {shown(value)}"



Check = Callable[[Any, str], Any]
"""Validate a value found at a field path; return it normalised or raise :class:`Invalid`."""


def instance(typ: type, expected: str) -> Check:
    """The check that a value is a ``typ`` (JSON's string, boolean, object or array)."""

    def check(v: Any, p: str) -> Any:
        if not isinstance(v, typ):
            raise Invalid(p, expected, v)
        return v

    return check


string = instance(str, "a string")
boolean = instance(bool, "true or false")
obj = instance(dict, "an object")
array = instance(list, "an array")


def number(v: Any, p: str) -> float:
    """Any JSON number (NaN and infinities included: measurements may be non-finite)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise Invalid(p, "a number", v)
    try:
        return float(v)
    except OverflowError:
        raise Invalid(p, "a number within the float range", v) from None


def finite(v: Any, p: str) -> float:
    x = number(v, p)
    if not math.isfinite(x):
        raise Invalid(p, "a finite number", v)
    return x


def count(v: Any, p: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_COUNT:
        raise Invalid(p, f"an integer in 0..{MAX_COUNT}", v)
    return v


def optional(check: Check) -> Check:
    return lambda v, p: None if v is None else check(v, p)


def one_of(options: tuple[str, ...]) -> Check:
    def check(v: Any, p: str) -> str:
        if not isinstance(v, str) or v not in options:
            raise Invalid(p, f"one of {', '.join(repr(o) for o in options)}", v)
        return v
    return check


def list_of(item: Check) -> Check:
    return lambda v, p: [item(x, f"{p}[{i}]") for i, x in enumerate(array(v, p))]


def map_of(item: Check) -> Check:
    return lambda v, p: {k: item(x, f"{p}.{k}") for k, x in obj(v, p).items()}


def fields(v: Any, p: str, required: dict[str, Check], optional: dict[str, Check]) -> dict:
    """Check an object's named fields in place; fields not named are kept unchecked."""
    d = obj(v, p)
    for name, check in required.items():
        if name not in d:
            raise Invalid(f"{p}.{name}".lstrip("."), "present")
        d[name] = check(d[name], f"{p}.{name}".lstrip("."))
    for name, check in optional.items():
        if name in d:
            d[name] = check(d[name], f"{p}.{name}".lstrip("."))
    return d


def pair(v: Any, p: str) -> list[float]:
    xs = array(v, p)
    if len(xs) != 2:
        raise Invalid(p, "an array of two numbers [low, high]", v)
    return [number(x, f"{p}[{i}]") for i, x in enumerate(xs)]


def probability(v: Any, p: str) -> float:
    x = number(v, p)
    if not 0.0 <= x <= 1.0:
        raise Invalid(p, "a probability in [0, 1]", v)
    return x


def nonnegative(v: Any, p: str) -> float:
    """A number that is not negative (NaN passes: a measurement may be undefined, e.g. the
    spread of one value)."""
    x = number(v, p)
    if x < 0.0:
        raise Invalid(p, "a number >= 0", v)
    return x


def sampling(v: Any, p: str) -> dict:
    """A predicted sampling distribution of one statistic: mean, sd and the 5/50/95% quantiles
    (each optional; the quantiles, when all three are given, in increasing order)."""
    d = fields(v, p, {}, {"mean": optional(number), "sd": optional(nonnegative),
                          **{q: optional(number) for q in QUANTILES}})
    qs = [d.get(q) for q in QUANTILES]
    if all(q is not None and math.isfinite(q) for q in qs) and not qs[0] <= qs[1] <= qs[2]:
        raise Invalid(f"{p}.q95", "q05 <= q50 <= q95", got=f"{qs[0]}, {qs[1]}, {qs[2]}")
    return d


def plain_json(v: Any, p: str) -> Any:
    """Any JSON value (the document's depth is bounded on load): a field recorded, not read."""
    return v
