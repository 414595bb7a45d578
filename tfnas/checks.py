"""Argument checks shared by the public functions: one wording for every bad-input error.

Every check raises :class:`ArgumentError` (a ``ValueError``) or, for a value of the wrong type,
:class:`ArgumentTypeError` (also a ``TypeError``); both are :class:`~tfnas.errors.TfnasError`, so
the command line prints them as one line. A bound that is not obvious carries its reason, which
the message repeats.
"""

from __future__ import annotations

import argparse
import math
import numbers
import re

from tfnas.errors import TfnasError, shown

MAX_SEED = 2**63 - 1
WHY_SEED = "seeds are stored as signed 64-bit integers and fed to torch and numpy"

MAX_BATCH_SIZE = 1024
WHY_BATCH_SIZE = ("a proxy's memory grows with its batch; the proxies' papers use 64 to 256 images; "
                  "the heavier proxies register lower bounds, docs/proxies.md")


class ArgumentError(TfnasError, ValueError):
    """A size, budget, seed or other argument outside what tfnas accepts."""


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of the wrong type (an int expected, a str given, ...)."""


SearchArgumentError = ArgumentError
"""The name the searches' documentation uses for :class:`ArgumentError`."""


def _bound(limit: int | float, why: str | None) -> str:
    return f"{limit:,}" + (f" ({why})" if why else "")


def is_integer(value: object) -> bool:
    """True for an ``int`` or a numpy integer, False for a bool: the one rule of what an integer
    argument may be (every integer check of tfnas uses it)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: object, minimum: int, maximum: int | None = None,
              why: str | None = None) -> int:
    """``value`` as an int if it is an integer (``int`` or a numpy integer, not a bool) in
    ``minimum..maximum``; else a one-line error. The one integer check of tfnas.

    ``why`` says why ``maximum`` is the bound; the message repeats it.
    """
    if not is_integer(value):
        raise ArgumentTypeError(f"{name} must be an int, got {type(value).__name__} {shown(value)}")
    value = int(value)
    if value < minimum:
        raise ArgumentError(f"{name} must be >= {minimum}, got {shown(value)}")
    if maximum is not None and value > maximum:
        raise ArgumentError(f"{name} must be <= {_bound(maximum, why)}, got {shown(value)}")
    return value


def check_seconds(name: str, value: object, maximum: float, why: str | None = None) -> float:
    """``value`` as a float if it is a finite number of seconds in ``(0, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(
            f"{name} must be a number of seconds, got {type(value).__name__} {shown(value)}"
        )
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        seconds = math.inf
    if not math.isfinite(seconds) or not seconds > 0:
        raise ArgumentError(f"{name} must be a finite number of seconds > 0, got {shown(value)}")
    if seconds > maximum:
        raise ArgumentError(
            f"{name} must be <= {_bound(maximum, None)} seconds" + (f" ({why})" if why else "")
            + f", got {shown(value)}"
        )
    return seconds


def check_seed(value: object, name: str = "seed") -> int:
    """A scoring or master seed: an int in ``0..MAX_SEED``."""
    return check_int(name, value, 0, MAX_SEED, WHY_SEED)


def check_batch_size(value: object, name: str = "batch_size") -> int:
    """A proxy batch size: an int in ``1..MAX_BATCH_SIZE``."""
    return check_int(name, value, 1, MAX_BATCH_SIZE, WHY_BATCH_SIZE)


# -- argparse types: ASCII decimal text of bounded length -----------------------------------

MAX_INT_DIGITS = 20
"""Longest integer a flag accepts: every bound of tfnas fits in 19 digits (2**63 - 1)."""

MAX_FLOAT_CHARS = 40
"""Longest number text a flag accepts (``1.2345678901234567e+300`` is 23 characters)."""

_INT_RE = re.compile(r"-?[0-9]+", re.ASCII)
_FLOAT_RE = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", re.ASCII)

def int_arg(text: str) -> int:
    """An argparse ``type``: a decimal integer in ASCII digits, at most 20 of them.

    ``int()`` would also take Unicode digits, ``_`` and spaces, and fails with a traceback-worthy
    ValueError past 4,300 digits; here every refusal is one short line.
    """
    if len(text) > MAX_INT_DIGITS + 1 or not _INT_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected an integer in ASCII digits (at most {MAX_INT_DIGITS}), got {shown(text)}"
        )
    return int(text)


def float_arg(text: str) -> float:
    """An argparse ``type``: a finite decimal number in ASCII (no ``inf``, ``nan`` or ``_``)."""
    value = float(text) if len(text) <= MAX_FLOAT_CHARS and _FLOAT_RE.fullmatch(text) else None
    if value is None or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite decimal number, got {shown(text)}")
    return value
