"""pytest plugin: collect claim outcomes, and extend pytest-benchmark's JSON and machine info.

Loaded from ``benchmarks/conftest.py`` (``pytest_plugins = ["harness.plugin"]``). Outcomes of
every claim, including those not run, are kept on the session and written as the top-level
``claims`` entry of ``--benchmark-json`` through pytest-benchmark's own hook, so the JSON is the
complete record and ``--benchmark-compare`` / ``--benchmark-histogram`` keep working.

A claim benchmark that raises something unexpected (in set-up or in the measurement) before
recording its outcome is recorded as an ``error`` outcome with the one-line reason, so the
``claims`` record is always complete: every claim that was collected and run has an outcome.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any

import pytest

from harness.outcome import UNMEASURED, Outcome
from harness.registry import DEFAULT_PATH, Claim
from harness.results import FORMAT
from harness.verdicts import STATUSES

OUTCOMES = pytest.StashKey[list]()
OPTIONS = pytest.StashKey[dict]()


def record(config: pytest.Config, outcome: Outcome) -> None:
    """Keep a claim's outcome for the JSON summary and the terminal summary."""
    config.stash.setdefault(OUTCOMES, []).append(outcome)


def outcomes(config: pytest.Config) -> list[Outcome]:
    return list(config.stash.get(OUTCOMES, []))


def _claim_of(item: pytest.Item) -> Claim | None:
    """The claim a test item measures (its ``claim`` parameter), if it is a claim benchmark."""
    callspec = getattr(item, "callspec", None)
    claim = callspec.params.get("claim") if callspec is not None else None
    return claim if isinstance(claim, Claim) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Record a claim whose test raised before recording an outcome as an ``error`` outcome."""
    yield
    claim = _claim_of(item)
    if claim is None or call.excinfo is None or call.when == "teardown":
        return
    if call.excinfo.errisinstance((pytest.skip.Exception, pytest.fail.Exception,
                                   pytest.xfail.Exception)):
        return  # the claim test's own verdicts; it recorded its outcome before raising them
    if any(r.id == claim.id for r in outcomes(item.config)):
        return
    from harness.evaluate import error_outcome

    record(item.config, error_outcome(claim, call.excinfo.value, where=call.when))


def summary(records: list[Outcome]) -> dict[str, int]:
    """Counts per status (every status present, zeros included) and the total."""
    counts = {s: 0 for s in STATUSES}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    counts["total"] = len(records)
    return counts


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_hashes() -> dict[str, str]:
    """sha256 of the accuracy tables under TFNAS_DATA and of the score tables in use."""
    out: dict[str, str] = {}
    root = os.environ.get("TFNAS_DATA")
    if root and (Path(root) / "nats-tss").is_dir():
        for p in sorted((Path(root) / "nats-tss").glob("*.csv")):
            out[f"nats-tss/{p.name}"] = sha256_file(p)
    from tfnas.tables import DEFAULT_ROOT

    for p in sorted(Path(DEFAULT_ROOT).glob("*.csv.gz")):
        out[f"scores/{p.name}"] = sha256_file(p)
    return out


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    import torch

    machine_info["tfnas"] = {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "data_sha256": data_hashes(),
    }


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    records = sorted(outcomes(config), key=lambda r: r.id)
    if not records:
        return
    output_json["claims"] = {
        "format": FORMAT,
        "registry_sha256": sha256_file(DEFAULT_PATH),
        "options": config.stash.get(OPTIONS, {}),
        "summary": summary(records),
        "outcomes": [r.to_dict() for r in records],
    }


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    records = outcomes(config)
    if not records:
        return
    tr = terminalreporter
    tr.section("claims")
    counts = summary(records)
    tr.write_line(", ".join(f"{k}: {v}" for k, v in counts.items() if v or k == "total"))
    for r in sorted(records, key=lambda r: r.id):
        if r.status in UNMEASURED:
            tr.write_line(f"{r.status.upper()} {r.id}: {r.reason}")
