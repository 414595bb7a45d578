"""Read a results JSON written by ``pytest benchmarks/ --benchmark-json``: its claim outcomes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tfnas.errors import TfnasError


class ResultsError(TfnasError, ValueError):
    """The file is not a claims results JSON (no top-level ``claims`` from the harness plugin)."""


def load_results(path: str | Path) -> dict[str, Any]:
    """The whole JSON document, checked to carry the harness's ``claims`` summary."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not JSON: {exc}") from exc
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, dict) or not isinstance(claims.get("outcomes"), list):
        raise ResultsError(
            f"{path} has no 'claims' summary; produce it with "
            "`pytest benchmarks/ --benchmark-json FILE` (the harness plugin adds it)"
        )
    for i, rec in enumerate(claims["outcomes"]):
        if not isinstance(rec, dict) or "id" not in rec or "status" not in rec:
            raise ResultsError(f"{path}: claims.outcomes[{i}] lacks 'id' or 'status'")
    return data


def outcomes_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rec["id"]: rec for rec in data["claims"]["outcomes"]}
