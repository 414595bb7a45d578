"""Inert Markdown for the report and for each claim kind's rendering hook.

Everything taken from a results file reaches the Markdown only through :func:`md_text` (prose)
or :func:`md_cell` (table cells), which HTML-escape ``<>&"'``, backslash-escape the Markdown
metacharacters and fold line breaks, so a file cannot plant HTML, links, images, headings or table
breaks. :func:`fmt` and :func:`estimate_text` format numbers and estimates the same way everywhere.
"""

from __future__ import annotations

import html
import re
from typing import Any

from harness.verdicts import Estimate

CLAIM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
"""The safe charset of claim ids: letters, digits, ``.``, ``_``, ``-``; at most 80 characters."""
CLAIM_ID_RULE = "1-80 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"
PLOT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.png")
"""The names a plot file may have: fixed names inside the output folder."""


def valid_claim_id(value: Any) -> bool:
    """True when ``value`` is a string in the safe claim-id charset (:data:`CLAIM_ID`)."""
    return isinstance(value, str) and CLAIM_ID.fullmatch(value) is not None


MD_META = frozenset("\\`*_{}[]()#+!|~$")
"""Markdown metacharacters a data string has backslash-escaped (``$``: GitHub's math)."""
_TRANSLATE = {**{c: " " for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)},
              **{ord(c): "\\" + c for c in MD_META}}


def md_text(value: Any) -> str:
    """``value`` as inert Markdown prose: one line, metacharacters escaped, HTML escaped.

    One ``str.translate`` folds every control character and line break to a space and
    backslash-escapes the metacharacters, so the cost is linear in the text, never per character
    in Python.
    """
    return html.escape(str(value).translate(_TRANSLATE).strip(), quote=True)


def md_cell(value: Any) -> str:
    """``value`` as one table cell: :func:`md_text` (which escapes ``|``), never empty."""
    return md_text(value) or " "


def md_code(claim_id: Any) -> str:
    """A claim id as a code span; an id outside the safe charset is shown as escaped text."""
    return f"`{claim_id}`" if valid_claim_id(claim_id) else md_text(claim_id)


def fmt(x: Any, digits: int = 4) -> str:
    """A number to ``digits`` significant digits (``–`` for None); anything else as text."""
    if x is None:
        return "–"
    if isinstance(x, float):
        return "nan" if x != x else f"{x:.{digits}g}"
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) < 10**30:
        return str(x)
    return md_text(x)


def estimate_text(e: Estimate | None) -> str:
    """An estimate as ``value ± std [ci] (n=…, se …)``, each part only when recorded."""
    if e is None:
        return "–"
    text = fmt(e.value)
    if e.std is not None:
        text += f" ± {fmt(e.std, 3)}"
    if e.ci is not None and len(e.ci) == 2:
        text += f" [{fmt(e.ci[0], 3)}, {fmt(e.ci[1], 3)}]"
    if e.n is not None or e.se is not None:
        parts = [f"n={fmt(e.n)}"] * (e.n is not None) + [f"se {fmt(e.se, 3)}"] * (e.se is not None)
        text += f" ({', '.join(parts)})"
    return text


def plural(n: int, word: str) -> str:
    """``n word`` with an ``s`` unless n is 1."""
    return f"{n} {word}" + ("" if n == 1 else "s")
