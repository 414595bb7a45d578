"""pytest plugin: the claim options, the ``claim`` parametrisation and fixture, the claims record.

Registered as the ``pytest11`` entry point ``harness.plugin`` (see ``pyproject.toml``), so every
pytest run of an environment with tfnas installed has it; ``pytest_plugins = ["harness.plugin"]``
and ``-p harness.plugin`` name the same plugin, and load it once. In a run with no test that takes
a ``claim`` argument it does nothing: it imports nothing of the harness (nor torch), writes
nothing and parametrises nothing.

- ``--claims FILE`` (repeatable; a folder means its ``*.toml``; the word ``shipped`` the shipped
  registry, which is the default) chooses the claims; every test taking a ``claim`` argument is
  parametrised with them (:func:`pytest_generate_tests`).
- Every claim option and path is checked once, in :func:`pytest_configure`, before anything is
  collected (the ``--claims`` files loaded, the numbers range-checked, the folders looked at;
  with ``--benchmark-json`` the data files hashed once collected, bounded, never blocking on
  a FIFO): a bad one ends the session with one ``ERROR:`` line naming the option (exit 4). A
  run that gives no claim option imports nothing of this.
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
import os
import platform
from collections.abc import Iterator
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
HASHES = pytest.StashKey[dict]()
DEFAULT_SCORE_SOURCE = "tables"
OPTION_NAMES = ("score_source", "score_tables", "score_store", "repetitions", "bootstrap",
                "live_protocol", "claims_seed", "scoring_noise")
"""The run settings recorded in the claims record's ``options``."""


LIVE_PROTOCOLS = ("reduced", "full")
"""How timing claims are measured (``--live-protocol``)."""
DEFAULT_BOOTSTRAP = 200
"""Bootstrap resamples of a correlation interval unless ``--bootstrap`` says otherwise."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims", "reproduction claims (harness.plugin)")
    group.addoption("--claims", action="append", default=None, metavar="FILE",
                    help="claims file to run (repeatable; a folder means its *.toml; 'shipped' "
                         "the shipped registry, the default)")
    group.addoption("--score-source", default=None, metavar="tables|live",
                    help="proxy scores from the full-space tables (default) or scored live")
    group.addoption("--score-tables", type=Path, default=None,
                    help="folder of score tables (default: benchmarks/scores/)")
    group.addoption("--score-store", type=Path, default=None,
                    help="SQLite score store for live scoring (memoises across runs)")
    group.addoption("--repetitions", default=None, metavar="N",
                    help="override every claim's number of repetitions (timing claims excepted)")
    group.addoption("--bootstrap", default=DEFAULT_BOOTSTRAP, metavar="N",
                    help="bootstrap resamples for correlation confidence intervals")
    group.addoption("--live-protocol", default="reduced", metavar="reduced|full",
                    help="timing claims: 'reduced' (default) measures the per-cell scoring cost "
                         "on a fixed sample of cells and counts each search's distinct cells; "
                         "'full' runs the searches live as the paper did (tens of minutes or more)")
    group.addoption("--claims-seed", default=None, metavar="N",
                    help="replace the master seed of every claim (search runs, correlation "
                         "samples); the verdicts must not change")
    group.addoption("--scoring-noise", action=argparse.BooleanOptionalAction, default=True,
                    help="carry the spread between scoring realisations (benchmarks/noise) "
                         "into table-based search estimates (default on)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers, then check every claim option and path once, before anything is
    collected: a bad one ends the session with one ``ERROR:`` line (exit status 4)."""
    config.addinivalue_line("markers", "fast: a quick subset of the claim benchmarks (CI runs every non-live claim)")
    config.addinivalue_line(
        "markers", "live: benchmarks that score networks live instead of reading the score tables")
    check_options(config)


def _given(config: pytest.Config) -> bool:
    """True when any claim option differs from its default (the checks then import the harness;
    a plain run imports nothing)."""
    defaults = {"bootstrap": DEFAULT_BOOTSTRAP, "live_protocol": "reduced", "scoring_noise": True}
    return (config.getoption("claims") is not None
            or any(config.getoption(k) != defaults.get(k) for k in OPTION_NAMES))


def check_options(config: pytest.Config) -> None:
    """Parse and range-check the numeric options, the choices and the paths (storing the parsed
    values back), and load the ``--claims`` files; any refusal is one usage line."""
    if not _given(config):
        return
    from tfnas.errors import TfnasError

    try:
        _check_options(config)
    except TfnasError as exc:
        problem = _one_line(exc)
    else:
        return
    raise pytest.UsageError(problem)  # outside the except block: no chained traceback


def _one_line(exc: BaseException) -> str:
    from tfnas.errors import one_line

    return one_line(exc, 500)


def _check_options(config: pytest.Config) -> None:
    from harness.context import (
        MAX_BOOTSTRAP,
        MAX_REPETITIONS,
        SCORE_SOURCES,
        OptionError,
    )
    from tfnas.checks import MAX_SEED, WHY_SEED

    opt = config.option
    opt.repetitions = _int_option("--repetitions", opt.repetitions, 1, MAX_REPETITIONS,
                                  "the registry's largest protocol uses 500")
    opt.bootstrap = _int_option("--bootstrap", opt.bootstrap, 1, MAX_BOOTSTRAP,
                                "beyond that the interval no longer moves")
    opt.claims_seed = _int_option("--claims-seed", opt.claims_seed, 0, MAX_SEED, WHY_SEED)
    _choice_option("--score-source", opt.score_source, SCORE_SOURCES)
    _choice_option("--live-protocol", opt.live_protocol, LIVE_PROTOCOLS)
    if opt.score_tables is not None:
        _check_folder("--score-tables", opt.score_tables, OptionError)
    if opt.score_store is not None:
        _check_store(opt.score_store, OptionError)
    if opt.claims is not None:
        config.stash[REGISTRY] = _load(opt.claims)
    if opt.repetitions is not None:
        _check_work(config.stash[REGISTRY] if opt.claims is not None else _load(None),
                    opt.repetitions, opt.score_source or DEFAULT_SCORE_SOURCE)


def _check_work(registry: Registry, repetitions: int, source: str) -> None:
    """``--repetitions`` must keep the runs of every claim it changes within the library's
    evaluation bound (a claim computed seed-free from the tables runs no repetitions)."""
    from harness.context import OptionError
    from harness.kinds.search import SEED_FREE_QUANTITIES, search_protocols
    from tfnas.checks import ArgumentError

    for claim in registry.claims.values():
        for protocol in search_protocols(claim.protocol):
            if protocol.quantity == "time":  # timing claims keep their own repetitions
                continue
            if source == "tables" and protocol.quantity in SEED_FREE_QUANTITIES:
                continue
            try:
                protocol.check_work(repetitions)
            except ArgumentError as exc:
                raise OptionError(f"--repetitions {repetitions} is too many for claim "
                                  f"{claim.id}: {_one_line(exc)}") from None


def _int_option(flag: str, value: Any, low: int, high: int, why: str) -> int | None:
    """``value`` (text, or an int already parsed) as an int in ``low..high``; None stays None."""
    from harness.context import OptionError
    from tfnas.checks import int_arg
    from tfnas.errors import shown

    if value is None or isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        try:
            number = int_arg(str(value))
        except argparse.ArgumentTypeError as exc:
            raise OptionError(f"{flag}: {exc}") from None
    if number is not None and not low <= number <= high:
        raise OptionError(f"{flag} must be an integer in {low}..{high} ({why}), "
                          f"got {shown(number)}")
    return number


def _choice_option(flag: str, value: Any, choices: tuple[str, ...]) -> None:
    from harness.context import OptionError
    from tfnas.errors import shown

    if value is not None and value not in choices:
        raise OptionError(f"{flag} must be one of {', '.join(choices)}, got {shown(value)}")


def _mode(flag: str, path: Path, error: type[Exception]) -> int | None:
    """``path``'s ``st_mode``, None when nothing is there; a path that cannot be examined (a link
    loop, too long a name, a NUL) is ``error`` naming ``flag``."""
    from tfnas.errors import shown_path

    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "not a valid path"
        raise error(f"{flag} {shown_path(path)} cannot be used: {reason}") from None


def _check_folder(flag: str, path: Path, error: type[Exception]) -> None:
    """``path`` must be a folder that can be listed (a link loop, too long a name: refused)."""
    import stat

    from tfnas.errors import shown_path

    mode = _mode(flag, path, error)
    if mode is None:
        raise error(f"{flag} {shown_path(path)} cannot be used: No such file or directory")
    if not stat.S_ISDIR(mode):
        raise error(f"{flag} {shown_path(path)} is not a folder; expected the folder of the "
                    "score tables")


def _check_store(path: Path, error: type[Exception]) -> None:
    """The score store: a regular file if it exists (SQLite would block on a FIFO), in a folder
    that exists."""
    import stat

    from tfnas.bounded import file_kind
    from tfnas.errors import shown_path

    mode = _mode("--score-store", path, error)
    if mode is None:
        _check_folder("--score-store's folder", path.parent if str(path.parent) else Path("."),
                      error)
    elif not stat.S_ISREG(mode):
        raise error(f"--score-store {shown_path(path)} is {file_kind(mode)}; expected a regular "
                    "file (an SQLite database) or a new path")


def _load(specs: list[str] | None) -> Registry:
    """The claims files ``specs`` name (None: the shipped ones), loaded; a refusal names
    ``--claims``."""
    from harness.context import OptionError
    from harness.registry import ClaimError, load_registry

    try:
        return load_registry() if specs is None else load_registry(specs)
    except ClaimError as exc:
        raise OptionError(f"--claims: {_one_line(exc)}") from None


def options(config: pytest.Config) -> dict[str, Any]:
    """The run settings as recorded (paths as text, the score source's default filled in)."""
    opts = {k: config.getoption(k) for k in OPTION_NAMES}
    opts["score_source"] = opts["score_source"] or DEFAULT_SCORE_SOURCE
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.items()}


def registry(config: pytest.Config) -> Registry:
    """The claims files chosen by ``--claims`` (loaded when the session starts) or the shipped
    registry (loaded when first asked), once."""
    if REGISTRY not in config.stash:
        from harness.registry import SHIPPED_NAME, load_registry

        config.stash[REGISTRY] = load_registry(config.getoption("claims") or [SHIPPED_NAME])
    return config.stash[REGISTRY]


def _claims_or_fail(config: pytest.Config) -> dict[str, Claim]:
    """The claims in use; a registry that does not load fails collection with its one line."""
    from harness.registry import ClaimError

    try:
        return registry(config).claims
    except ClaimError as exc:
        problem = str(exc)
    pytest.fail(f"claims: {problem}", pytrace=False)  # outside except: no chained traceback


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
    claims = _claims_or_fail(metafunc.config)
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
    claims = _claims_or_fail(metafunc.config).values()
    metafunc.parametrize("paper_table", [pytest.param(t, id=t.replace(" ", "-"))
                                         for t in paper_tables(claims)])


@pytest.fixture(scope="session")
def claims_context(pytestconfig: pytest.Config) -> Iterator[Context]:
    """Run settings and data loaded once per session; what it opens is closed at the end."""
    from harness.evaluate import Context

    opts = {k: pytestconfig.getoption(k) for k in OPTION_NAMES}
    with Context(score_source=opts["score_source"] or DEFAULT_SCORE_SOURCE,
                 tables_root=opts["score_tables"], repetitions=opts["repetitions"],
                 bootstrap=opts["bootstrap"], store_path=opts["score_store"],
                 claims_seed=pytestconfig.getoption("claims_seed"),
                 scoring_noise=pytestconfig.getoption("scoring_noise"),
                 live_protocol=opts["live_protocol"]) as ctx:
        yield ctx


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


def _score_table_limit() -> int:
    """The largest score table file of any registered space (what ``tfnas.tables`` reads)."""
    from tfnas.spaces import space_names
    from tfnas.tables import table_limits

    return max(table_limits(name).file_bytes for name in space_names())


def _hash_all(paths: list[Path], limit: int, what: str, prefix: str) -> dict[str, str]:
    """sha256 of each file, read through :func:`tfnas.bounded.sha256_file`: a regular file of at
    most ``limit`` bytes, opened without blocking (a FIFO or a device there is refused, not
    waited on); a refusal is a :class:`harness.context.DataFileError`."""
    from harness.context import DataFileError
    from tfnas.bounded import sha256_file

    return {f"{prefix}/{p.name}": sha256_file(p, limit, DataFileError, what) for p in paths}


def _listed(folder: Path, pattern: str) -> list[Path]:
    """The sorted entries of ``folder`` matching ``pattern``; a folder that cannot be listed is a
    :class:`harness.context.DataFileError`."""
    from harness.context import DataFileError
    from tfnas.errors import shown_path

    try:
        return sorted(folder.glob(pattern))
    except OSError as exc:
        raise DataFileError(f"{shown_path(folder)} cannot be listed: "
                            f"{exc.strerror or type(exc).__name__}") from None


def data_hashes(tables: Path | None = None) -> dict[str, str]:
    """sha256 of the accuracy tables under TFNAS_DATA and of the score tables in ``tables``
    (the folder in use; default :func:`tfnas.config.tables_root`), each bounded by its reader's limit."""
    from tfnas.oracles import MAX_NATS_CSV_BYTES

    out: dict[str, str] = {}
    root = os.environ.get("TFNAS_DATA")
    if root and os.path.isdir(Path(root) / "nats-tss"):
        out.update(_hash_all(_listed(Path(root) / "nats-tss", "*.csv"), MAX_NATS_CSV_BYTES,
                             "NATS-Bench table", "nats-tss"))
    if tables is None:
        from tfnas.config import tables_root

        tables = tables_root()
    out.update(_hash_all(_listed(Path(tables), "*.csv.gz"), _score_table_limit(),
                         "score table", "scores"))
    return out


def _writes_benchmark_record(config: pytest.Config) -> bool:
    """True when pytest-benchmark will write a record (the machine info holds the data hashes)."""
    return any(config.getoption(k, None) for k in ("benchmark_json", "benchmark_save",
                                                    "benchmark_autosave"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Hash the data files before any claim runs when a benchmark record will be written, so a
    file there that cannot be hashed (a FIFO, a device, an oversize file) is one usage line now,
    not a hang or a traceback at the end."""
    config = session.config
    if not _writes_benchmark_record(config) or REGISTRY not in config.stash:
        return  # no claims file was loaded: no claim test, nothing of the harness imported
    config.stash[HASHES] = _hashes_or_usage_error(config)


def _hashes_or_usage_error(config: pytest.Config) -> dict[str, str]:
    from tfnas.errors import TfnasError

    try:
        return data_hashes(config.getoption("score_tables"))
    except TfnasError as exc:
        problem = _one_line(exc)
    raise pytest.UsageError(f"data hashes for --benchmark-json: {problem}")


def _data_hashes_now(config: pytest.Config) -> dict[str, str]:
    """The hashes computed at session start, else now; a refusal is recorded, not raised (the
    session is over: the record is still written)."""
    if HASHES in config.stash:
        return config.stash[HASHES]
    from tfnas.errors import TfnasError

    try:
        return data_hashes(config.getoption("score_tables"))
    except TfnasError as exc:
        return {"error": _one_line(exc)}


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    import torch

    machine_info["tfnas"] = {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "data_sha256": _data_hashes_now(config),
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
