"""The two sides (``a``, ``b``) of a comparative claim's protocol, each a protocol of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.kinds import get_kind, kind_names
from harness.registry import ClaimError, known_fields
from tfnas.errors import shown

SIDES = ("a", "b")


def parse_sides(cid: str, where: str, proto: Mapping[str, Any], only: str | None = None,
                claim_kind: str = "comparison") -> tuple[Any, Any]:
    """The typed protocols of sides ``a`` and ``b``; a side's ``kind`` (default ``search``) is
    any kind that can be a side, or only ``only`` when given (for a ``claim_kind`` claim)."""
    known_fields(cid, where, proto, set(SIDES))
    out = []
    for side in SIDES:
        sub = proto.get(side)
        if not isinstance(sub, dict):
            raise ClaimError(f"claim {cid!r}: field '{where}.{side}' must be a table")
        sub_kind = sub.get("kind", "search")
        kind = get_kind(sub_kind) if isinstance(sub_kind, str) else None
        if kind is None or not kind.side:
            allowed = " or ".join(repr(k) for k in kind_names() if get_kind(k).side)
            raise ClaimError(f"claim {cid!r}: field '{where}.{side}.kind' is "
                             f"{shown(sub_kind)}, expected {allowed}")
        if only is not None and sub_kind != only:
            raise ClaimError(f"claim {cid!r}: field '{where}.{side}' of a {claim_kind} claim "
                             f"must be a {only}, got kind {sub_kind!r}")
        out.append(kind.protocol.from_dict(cid, f"{where}.{side}",
                                           {k: v for k, v in sub.items() if k != "kind"}))
    return out[0], out[1]
