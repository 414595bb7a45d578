"""The one error contract of every reader and entry point: a ``TfnasError`` with a one-line message.

Every error that bad input can cause (a corrupt or hostile file, a nonsense flag, a locked store)
is raised as a subclass of :class:`TfnasError` (most also subclass the built-in type that fits,
``ValueError``, ``FileNotFoundError`` …, so older ``except`` clauses keep working). Its message
names what was wrong and what was expected, on one line and of bounded length: values taken from
the input are shown through :func:`shown`, never verbatim.
"""

from __future__ import annotations

import reprlib

MAX_SHOWN = 80
"""How many characters of an input value a message may quote."""

_repr = reprlib.Repr()
_repr.maxstring = MAX_SHOWN
_repr.maxother = MAX_SHOWN
_repr.maxlong = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


class TfnasError(Exception):
    """Base of every error that input to tfnas or the harness can cause."""


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` cut to about ``limit`` characters, on one line, safe to put in a message.

    Long strings and containers are elided in the middle (``reprlib``), 5,000-digit integers are
    shown by their size, and control characters are escaped by ``repr``.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        digits = int(abs(value).bit_length() * 0.30103) + 1  # str() of a huge int is refused
        return f"{'-' if value < 0 else ''}<an integer of about {digits} digits>"
    try:
        text = _repr.repr(value)
    except Exception:  # a hostile __repr__; the type is still worth naming
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    if len(text) > limit + 10:
        text = text[: limit // 2] + "…" + text[-limit // 2 :]
    return text


def shown_path(path: object) -> str:
    """A path for a message: as it is when short and printable, else bounded by :func:`shown`."""
    text = str(path)
    return text if len(text) <= 200 and text.isprintable() else shown(text)


def one_line(exc: BaseException, limit: int = 500) -> str:
    """The message of ``exc`` folded onto one line and cut to ``limit`` characters."""
    text = " ".join((str(exc) or type(exc).__name__).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
