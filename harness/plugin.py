"""pytest plugin: the claim options, the ``claim`` parametrisation and fixture, the claims record.

Registered as the ``pytest11`` entry point ``harness.plugin`` (see ``pyproject.toml``), so every
pytest run of an environment with tfnas installed has it; ``pytest_plugins = ["harness.plugin"]``
and ``-p harness.plugin`` name the same plugin, and load it once. In a run with no test that takes
a ``claim`` argument it does nothing: it imports nothing of the harness (nor torch), writes
nothing and parametrises nothing.

- ``--claims FILE`` (repeatable; a folder means its ``*.toml``; the word ``shipped`` the shipped
  registry, which is the default) chooses the claims; every test taking a ``claim`` argument is
  parametrised with them (:func:`pytest_generate_tests`); a malformed file stops collection
  with one line naming the file, the claim and the field.
- ``claims_context`` is the run's :class:`harness.evaluate.Context`, made once per session from
  ``--score-source``, ``--score-tables``, ``--score-store``, ``--repetitions``, ``--bootstrap``,
  ``--live-protocol`` (how timing claims are measured: ``reduced``, the default, or ``full``).
- Outcomes of every claim, including those not run, are kept on the session and written as the
  top-level ``claims`` entry of ``--benchmark-json`` through pytest-benchmark's own hook, so the
  JSON is the complete record and ``--benchmark-compare`` / ``--benchmark-histogram`` keep
  working. A claim test that raises something unexpected before recording its outcome is
  recorded as an ``error`` outcome with the one-line reason.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the harness loads torch-free but not for free: imported when a claim runs
    from harness.evaluate import Context
    from harness.outcome import Outcome
    from harness.registry import Claim, Registry

OUTCOMES = pytest.StashKey[list]()
TABLES = pytest.StashKey[list]()
DESELECTED = pytest.StashKey[list]()
REGISTRY = pytest.StashKey["Registry"]()
DEFAULT_SCORE_SOURCE = "tables"
OPTION_NAMES = ("score_source", "score_tables", "score_store", "repetitions", "bootstrap",
                "live_protocol", "claims_seed", "scoring_noise")
"""The run settings recorded in the claims record's ``options``."""


def _score_source(value: str) -> str:
    """Check ``--score-source`` against the sources the harness knows (imported only when given)."""
    from harness.evaluate import SCORE_SOURCES

    if value not in SCORE_SOURCES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(SCORE_SOURCES)}, "
                                         f"got {value!r}")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims", "reproduction claims (harness.plugin)")
    group.addoption("--claims", action="append", default=None, metavar="FILE",
                    help="claims file to run (repeatable; a folder means its *.toml; 'shipped' "
                         "the shipped registry, the default)")
    group.addoption("--score-source", type=_score_source, default=None,
                    help="proxy scores from the full-space tables (default) or scored live")
    group.addoption("--score-tables", type=Path, default=None,
                    help="folder of score tables (default: benchmarks/scores/)")
    group.addoption("--score-store", type=Path, default=None,
                    help="SQLite score store for live scoring (memoises across runs)")
    group.addoption("--repetitions", type=int, default=None,
                    help="override every claim's number of repetitions (timing claims excepted)")
    group.addoption("--bootstrap", type=int, default=200,
                    help="bootstrap resamples for correlation confidence intervals")
    group.addoption("--live-protocol", choices=("reduced", "full"), default="reduced",
                    help="timing claims: 'reduced' (default) measures the per-cell scoring cost "
                         "on a fixed sample of cells and counts each search's distinct cells; "
                         "'full' runs the searches live as the paper did (tens of minutes or more)")
    group.addoption("--claims-seed", type=int, default=None, metavar="N",
                    help="replace the master seed of every claim (search runs, correlation "
                         "samples); the verdicts must not change")
    group.addoption("--scoring-noise", action=argparse.BooleanOptionalAction, default=True,
                    help="carry the spread between scoring realisations (benchmarks/noise) "
                         "into table-based search estimates (default on)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fast: the CI subset of the claim benchmarks")
    config.addinivalue_line(
        "markers", "live: benchmarks that score networks live instead of reading the score tables")


def options(config: pytest.Config) -> dict[str, Any]:
    """The run settings as recorded (paths as text, the score source's default filled in)."""
    opts = {k: config.getoption(k) for k in OPTION_NAMES}
    opts["score_source"] = opts["score_source"] or DEFAULT_SCORE_SOURCE
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.items()}


def registry(config: pytest.Config) -> Registry:
    """The claims files chosen by ``--claims`` (the shipped registry by default), loaded once."""
    if REGISTRY not in config.stash:
        from harness.registry import SHIPPED_NAME, load_registry

        config.stash[REGISTRY] = load_registry(config.getoption("claims") or [SHIPPED_NAME])
    return config.stash[REGISTRY]


def _parametrised_elsewhere(metafunc: pytest.Metafunc) -> bool:
    """True when ``claim`` is already a fixture, or parametrised by the test's own marks."""
    if "claim" in getattr(metafunc, "_arg2fixturedefs", {}):  # pytest has no public name for it
        return True
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "claim" in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test taking a ``claim`` argument with the claims in use, by id; claims
    marked ``fast`` or ``live`` in their file carry those marks."""
    if "paper_table" in metafunc.fixturenames:
        _generate_tables(metafunc)
    if "claim" not in metafunc.fixturenames or _parametrised_elsewhere(metafunc):
        return
    from harness.registry import ClaimError

    try:
        claims = registry(metafunc.config).claims
    except ClaimError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:  # failed outside the except block, so pytest shows the one line and no chain
        pytest.fail(f"claims: {problem}", pytrace=False)
    params = []
    for claim in claims.values():
        marks = [pytest.mark.fast] if claim.fast else []
        if claim.live:
            marks.append(pytest.mark.live)
        params.append(pytest.param(claim, id=claim.id, marks=marks))
    metafunc.parametrize("claim", params)


def paper_tables(claims: Any) -> list[str]:
    """The tables whose rows name their reading and have alternatives: one ``paper_table`` test
    each (the claims of the text and the anchors' rows are separate questions, not a table)."""
    from harness.registry import DEFAULT_READING

    return list(dict.fromkeys(c.table for c in claims
                              if c.table and c.alternatives and c.reading != DEFAULT_READING))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Run the paper-table tests last: they read the outcomes the claim tests recorded."""
    items.sort(key=lambda item: "paper_table" in getattr(item, "fixturenames", ()))


def _generate_tables(metafunc: pytest.Metafunc) -> None:
    claims = registry(metafunc.config).claims.values()
    metafunc.parametrize("paper_table", [pytest.param(t, id=t.replace(" ", "-"))
                                         for t in paper_tables(claims)])


@pytest.fixture(scope="session")
def claims_context(pytestconfig: pytest.Config) -> Context:
    """Run settings and data loaded once per session."""
    from harness.evaluate import Context

    opts = {k: pytestconfig.getoption(k) for k in OPTION_NAMES}
    return Context(score_source=opts["score_source"] or DEFAULT_SCORE_SOURCE,
                   tables_root=opts["score_tables"], repetitions=opts["repetitions"],
                   bootstrap=opts["bootstrap"], store_path=opts["score_store"],
                   claims_seed=pytestconfig.getoption("claims_seed"),
                   scoring_noise=pytestconfig.getoption("scoring_noise"),
                   live_protocol=opts["live_protocol"])


def record(config: pytest.Config, outcome: Outcome) -> None:
    """Keep a claim's outcome for the JSON summary and the terminal summary."""
    config.stash.setdefault(OUTCOMES, []).append(outcome)


def outcomes(config: pytest.Config) -> list[Outcome]:
    return list(config.stash.get(OUTCOMES, []))


def record_table(config: pytest.Config, fit: Any) -> None:
    """Keep a table's reading fit (:class:`harness.readings.TableFit`) for the JSON summary."""
    config.stash.setdefault(TABLES, []).append(fit)


def _matches_marks(item: pytest.Item, expression: str) -> bool | None:
    """Whether ``item`` matches a ``-m`` expression; None when it cannot be told."""
    try:
        from _pytest.mark.expression import Expression  # pytest's own evaluator

        names = {m.name for m in item.iter_markers()}
        try:
            return bool(Expression.compile(expression).evaluate(
                lambda name, **kwargs: name in names))
        except TypeError:  # older pytest: the matcher takes the name only
            return bool(Expression.compile(expression).evaluate(lambda name: name in names))
    except Exception:  # a private API: if it moved, say both options instead
        return None


def deselection_reason(config: pytest.Config, item: pytest.Item) -> str:
    """Why a claim was deselected: the ``--deselect``, ``-m`` or ``-k`` option (as given) that
    left it out; ``-m`` is checked against the item's marks, ``-k`` is what remains."""
    for prefix in config.getoption("deselect", None) or []:
        if item.nodeid.startswith(prefix):
            return f"--deselect {prefix}"
    marks = config.getoption("markexpr", "") or ""
    keyword = config.getoption("keyword", "") or ""
    by_marks = bool(marks) and _matches_marks(item, marks) is not True
    if by_marks and (not keyword or _matches_marks(item, marks) is False):
        return f"-m {marks!r}"
    if keyword:
        return f"-k {keyword!r}"
    return "deselected by a plugin or option (not -m, -k or --deselect)"


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Keep every deselected claim with the reason, for the JSON and the terminal summary."""
    for item in items:
        claim = _claim_of(item)
        if claim is not None:
            item.config.stash.setdefault(DESELECTED, []).append(
                {"id": claim.id, "reason": deselection_reason(item.config, item)})


def deselected(config: pytest.Config) -> list[dict[str, str]]:
    """The deselected claims, each once (by id, first reason), sorted by id."""
    seen: dict[str, dict[str, str]] = {}
    for d in config.stash.get(DESELECTED, []):
        seen.setdefault(d["id"], d)
    return [seen[k] for k in sorted(seen)]


def _claim_of(item: pytest.Item) -> Claim | None:
    """The claim a test item measures (its ``claim`` parameter), if it is a claim benchmark."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "claim" not in callspec.params:
        return None
    from harness.registry import Claim

    claim = callspec.params["claim"]
    return claim if isinstance(claim, Claim) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Record a claim whose test raised before recording an outcome as an ``error`` outcome."""
    yield
    if call.excinfo is None or call.when == "teardown":
        return
    claim = _claim_of(item)
    if claim is None:
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
    from harness.verdicts import STATUSES

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


def data_hashes(tables: Path | None = None) -> dict[str, str]:
    """sha256 of the accuracy tables under TFNAS_DATA and of the score tables in ``tables``
    (the folder in use; default ``benchmarks/scores/``)."""
    out: dict[str, str] = {}
    root = os.environ.get("TFNAS_DATA")
    if root and (Path(root) / "nats-tss").is_dir():
        for p in sorted((Path(root) / "nats-tss").glob("*.csv")):
            out[f"nats-tss/{p.name}"] = sha256_file(p)
    if tables is None:
        from tfnas.tables import DEFAULT_ROOT as tables
    for p in sorted(Path(tables).glob("*.csv.gz")):
        out[f"scores/{p.name}"] = sha256_file(p)
    return out


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    import torch

    machine_info["tfnas"] = {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "data_sha256": data_hashes(config.getoption("score_tables")),
    }


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    records = sorted(outcomes(config), key=lambda r: r.id)
    if not records and not deselected(config):
        return
    from harness.ledger import ledger
    from harness.results import FORMAT

    reg = registry(config)
    book = ledger(records, deselected(config))
    counts: dict[str, Any] = summary(records)
    counts["independent"] = {**book.measurements, "total": book.total_measurements}
    counts["deselected"] = len(book.deselected)
    output_json["claims"] = {
        "format": FORMAT,
        "registry_sha256": reg.sha256,
        "registries": [f.to_dict() for f in reg.files],
        "options": options(config),
        "summary": counts,
        "outcomes": [r.to_dict() for r in records],
        "tables": [t.to_dict() for t in config.stash.get(TABLES, [])],
        "deselected": deselected(config),
    }


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    records = outcomes(config)
    left = deselected(config)
    if not records and not left:
        return
    from harness.ledger import ledger, summary_line

    tr = terminalreporter
    tr.section("claims")
    book = ledger(records, left)
    tr.write_line(summary_line(book))
    for key, statuses in book.split.items():
        tr.write_line(f"SPLIT measurement {key}: its claims got {', '.join(statuses)}")
    for x in book.left_out:
        tr.write_line(f"{x.how.upper()} {x.id}: {x.reason}")
