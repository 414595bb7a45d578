"""The ``tfnas`` command line, the one CLI of the library: ``tfnas proxies``, ``tfnas score``,
``tfnas search <algorithm>`` and ``tfnas sweep``, on any space (``--space``).

The subcommands are the fixed table :data:`COMMANDS` (no plugin registry); each parses its own
arguments here and calls the library (``tfnas.sweep``, ``tfnas.search`` ...), which parses none.

Errors a user can cause (unknown proxy or dataset, bad sizes, missing data, bad or hostile files,
a locked store) are :class:`~tfnas.errors.TfnasError` instances: they end with one line on stderr and
exit status 1 (2 for command-line usage errors). Any other exception is a bug and raises with its
traceback. Every argument is validated, against the bounds of :mod:`tfnas.search.limits`,
before any file is created or any data is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from tfnas.bounded import atomic_writer, file_kind
from tfnas.checks import ArgumentError, check_batch_size, check_seed, float_arg, int_arg
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import MAX_SHOWN, TfnasError, one_line, shown
from tfnas.spaces import DEFAULT_SPACE, get_space, space_names

ORACLE = "oracle"


class UsageError(TfnasError):
    """A command-line usage error (exit status 2)."""


_QUOTED_RE = re.compile(rf"(['\"])((?:(?!\1)[^\\]|\\.){{{MAX_SHOWN + 1},}})\1")
_LONG_RE = re.compile(rf"\S{{{MAX_SHOWN + 1},}}")


def _bounded_usage(message: str) -> str:
    """argparse's message with every long (quoted or bare) piece of input shown bounded."""
    message = _QUOTED_RE.sub(lambda m: shown(m.group(2)), message)
    return one_line(_LONG_RE.sub(lambda m: shown(m.group(0)), message))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + error
        raise UsageError(f"{self.prog}: {_bounded_usage(message)}")


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# -- shared arguments ---------------------------------------------------------------------------

def _add_scoring_arguments(parser: argparse.ArgumentParser, several: bool = False) -> None:
    parser.add_argument("--proxy", required=True,
                        help=("proxy names, comma-separated (one shared pass)" if several else
                              "proxy name") + f" (list them: tfnas proxies) or '{ORACLE}' "
                        "(NATS-Bench's trained accuracy)")
    parser.add_argument("--dataset", required=True, choices=TARGET_DATASETS,
                        help="the dataset whose classes, resolution and images the networks get")
    parser.add_argument("--batch-size", type=int_arg, default=None,
                        help="proxy batch (default: the proxy's reference batch, else 128)")
    parser.add_argument("--store", metavar="PATH",
                        help="SQLite score store to read and write (a live tfnas search keeps one "
                             "by default: see --no-store)")
    parser.add_argument("--precision", choices=("float32", "float64"), default="float32",
                        help="arithmetic of a live proxy (default float32, the tables' and the "
                             "anchors'; float64: the definition's value, the same on every host, "
                             "~2-4x slower)")
    parser.add_argument("--space", choices=space_names(), default=DEFAULT_SPACE,
                        help=f"search space (default {DEFAULT_SPACE}: the topology space; sss: the "
                             "size space)")
    parser.add_argument("--device", default="cpu",
                        help="where networks are scored: cpu (default), cuda, cuda:N or mps")


def _check_proxy(name: str) -> None:
    from tfnas.checks import ArgumentError
    from tfnas.proxies import PROXY_NAMES

    if name != ORACLE and name not in PROXY_NAMES:
        raise ArgumentError(f"unknown proxy {shown(name)}; known proxies: "
                            f"{', '.join(PROXY_NAMES)} (or '{ORACLE}')")


def _check_scoring(args: argparse.Namespace, seed: int) -> None:
    """The scoring flags' values (the proxy, its seed and batch), before anything is opened."""
    _check_proxy(args.proxy)
    check_seed(seed, "--seed" if args.command == "score" else "--score-seed")
    if args.batch_size is not None:
        check_batch_size(args.batch_size, "--batch-size")
    if args.precision != "float32" and args.proxy == ORACLE:
        raise UsageError(f"tfnas {args.command}: --precision sets a live proxy's arithmetic; the "
                         f"'{ORACLE}' reads its accuracies from the NATS-Bench tables")


def _check_store_use(args: argparse.Namespace) -> None:
    """``--store`` keeps live proxy scores: with the oracle it would only leave an empty file.
    The store and the score tables serve every space (opened for ``--space``); the accuracy
    tables the oracle reads hold topology-space cells."""
    if args.store is not None and args.proxy == ORACLE:
        raise UsageError(f"tfnas {args.command}: --store keeps live proxy scores; the "
                         f"'{ORACLE}' reads its accuracies from the NATS-Bench tables")
    if args.space != DEFAULT_SPACE and args.proxy == ORACLE:
        raise UsageError(f"tfnas {args.command}: --proxy {ORACLE} reads topology-space accuracy "
                         f"tables; with --space {args.space} score with a proxy (live, --store "
                         "or --table)")


def _live_settings(args: argparse.Namespace, seed: int) -> str:
    """The store key's settings of a live proxy; loads (and so checks) the data batch."""
    from tfnas.scoring import settings_key

    return settings_key(args.proxy, args.dataset, seed, args.batch_size, args.precision,
                        args.device)


def _open_store(path: str | None, space: str) -> Any:
    if path is None:
        return None
    from tfnas.store import ScoreStore

    return ScoreStore(path, space=space)


# -- tfnas score --------------------------------------------------------------------------------

def _configure_score(parser: argparse.ArgumentParser) -> None:
    _add_scoring_arguments(parser, several=True)
    parser.add_argument("--arch", required=True, action="append",
                        help="cell string |op~0|+|op~0|op~1|+|...|; an ensemble proxy (vote, "
                             "az_nas) ranks a population: repeat --arch for each of its cells")
    parser.add_argument("--seed", type=int_arg, default=0, help="scoring seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _run_score(args: argparse.Namespace) -> int:
    from tfnas.proxies import get_proxy
    from tfnas.search import OracleScorer, ProxyScorer

    _check_store_use(args)
    archs = [get_space(args.space).parse(text) for text in args.arch]
    names = _proxy_list(args.proxy)
    if len(names) > 1:
        return _run_score_many(args, names, archs)
    args.proxy = names[0]  # "synflow,synflow" is synflow
    if args.proxy != ORACLE and get_proxy(args.proxy).ensemble:
        return _run_ensemble(args, archs)
    if len(archs) != 1:
        raise UsageError(f"tfnas score: --proxy {args.proxy} scores one cell; give one --arch "
                         f"(got {len(archs)}); only an ensemble proxy takes several")
    arch = archs[0]
    _check_scoring(args, args.seed)
    device = _device(args)
    if args.proxy == ORACLE:
        from tfnas.oracles import default_oracle

        oracle = default_oracle()
    else:
        settings = _live_settings(args, args.seed)
    store = _open_store(args.store, args.space)  # last: a refused command leaves no store file
    try:
        if args.proxy == ORACLE:
            scorer: Any = OracleScorer(oracle, args.dataset)
        else:
            scorer = ProxyScorer(args.proxy, args.dataset, seed=args.seed,
                                 batch_size=args.batch_size, store=store, settings=settings,
                                 space=args.space, precision=args.precision, device=device)
        start = time.perf_counter()
        value = scorer(arch)
        seconds = time.perf_counter() - start
    finally:
        if store is not None:
            store.close()
    if args.json:
        record = {"arch": str(arch), "proxy": args.proxy, "dataset": args.dataset,
                  "score": _json_float(value), "seconds": seconds}
        if args.proxy == ORACLE:
            record["accuracy"] = ORACLE_MEASURE
        print(json.dumps(record))
    elif args.proxy == ORACLE:
        print(f"{args.proxy} on {args.dataset}: {value:.6g} % ({ORACLE_LABEL})  {arch}")
    else:
        print(f"{args.proxy} on {args.dataset}: {value:.6g}  ({seconds:.3f} s)  {arch}")
    return 0


ORACLE_MEASURE = "valid12"
ORACLE_LABEL = ("valid12: NATS-Bench's validation accuracy after 12 epochs of training, the "
                "searches' fitness; cifar10 reads cifar10-valid")
"""What ``tfnas score --proxy oracle`` prints: which accuracy it is (epochs, split)."""


def _proxy_list(text: str) -> list[str]:
    """The names of a comma-separated ``--proxy`` (each checked; no repeats)."""
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise UsageError(f"tfnas: argument --proxy: expected comma-separated proxy names, got "
                         f"{shown(text)}")
    for name in names:
        _check_proxy(name)
    return list(dict.fromkeys(names))


def _device(args: argparse.Namespace) -> Any:
    """``--device`` as a ``torch.device`` this machine has (one line otherwise); refused with
    the oracle and with ``--table``, which score nothing."""
    from tfnas.devices import check_device

    if args.device != "cpu" and (args.proxy == ORACLE or getattr(args, "table", False)):
        raise UsageError(f"tfnas {args.command}: --device sets where a live proxy scores; "
                         f"{'the oracle' if args.proxy == ORACLE else '--table'} scores nothing")
    return check_device(args.device)


def _run_score_many(args: argparse.Namespace, names: list[str], archs: list) -> int:
    """``tfnas score --proxy a,b,c``: every proxy's score of one cell, sharing one pass
    (:class:`tfnas.members.LiveMembers`); through ``--store`` when given."""
    from tfnas.members import LiveMembers
    from tfnas.proxies import get_proxy
    from tfnas.scoring import batch_for

    for name in names:
        if name == ORACLE or get_proxy(name).ensemble:
            raise UsageError(f"tfnas score: --proxy {shown(args.proxy)}: a list takes proxies of "
                             f"one network; score {name!r} on its own")
    if len(archs) != 1:
        raise UsageError(f"tfnas score: a list of proxies scores one cell; give one --arch "
                         f"(got {len(archs)})")
    arch = archs[0]
    check_seed(args.seed, "--seed")
    if args.batch_size is not None:
        check_batch_size(args.batch_size, "--batch-size")
    device = _device(args)
    store = _open_store(args.store, args.space)
    try:
        source = LiveMembers(tuple(names), args.dataset, args.seed, batch_size=args.batch_size,
                             store=store, space=args.space, precision=args.precision,
                             device=device)
        values = dict(zip(names, source(arch), strict=True))
        seconds = source.seconds[arch]
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps({"arch": str(arch), "dataset": args.dataset,
                          "scores": {n: _json_float(values[n]) for n in names},
                          "seconds": {n: seconds[n] for n in names},
                          "batch_size": {n: batch_for(n, args.batch_size) for n in names}}))
        return 0
    for name in names:
        print(f"{name} on {args.dataset}: {values[name]:.6g}  ({seconds[name]:.3f} s)  {arch}")
    return 0


def _run_ensemble(args: argparse.Namespace, archs: list) -> int:
    """``tfnas score`` with an ensemble: its members' scores of each cell (live, one shared pass
    per cell, through ``--store`` when given), and the ensemble's score of each within the
    population of the given cells."""
    import numpy as np

    from tfnas.members import LiveMembers
    from tfnas.proxies import get_proxy

    spec = get_proxy(args.proxy)
    if len(archs) < 2:
        raise UsageError(f"tfnas score: --proxy {args.proxy} ranks cells within a population; "
                         f"give at least 2 --arch (got {len(archs)}), or score its members "
                         f"({','.join(spec.members)}) on one cell")
    check_seed(args.seed)
    device = _device(args)
    store = _open_store(args.store, args.space)
    try:
        source = LiveMembers(spec.members, args.dataset, args.seed, batch_size=args.batch_size,
                             store=store, space=args.space, precision=args.precision,
                             device=device)
        start = time.perf_counter()
        members = [dict(zip(spec.members, source(arch), strict=True)) for arch in archs]
        seconds = time.perf_counter() - start
    finally:
        if store is not None:
            store.close()
    combined = spec.function({m: np.asarray([row[m] for row in members], dtype=float)
                              for m in spec.members})
    rows = [{"arch": str(arch), "proxy": args.proxy, "dataset": args.dataset,
             "score": _json_float(float(value)),
             "members": {m: _json_float(row[m]) for m in spec.members}}
            for arch, row, value in zip(archs, members, np.asarray(combined, dtype=float),
                                        strict=True)]
    if args.json:
        print(json.dumps({"population": len(archs), "seconds": seconds, "cells": rows}))
        return 0
    print(f"{args.proxy} on {args.dataset} within a population of {len(archs)} cell(s) "
          f"({seconds:.3f} s); members {', '.join(spec.members)}:")
    for row in rows:
        parts = "  ".join(f"{m}={row['members'][m]}" for m in spec.members)
        print(f"  {row['score']}  {parts}  {row['arch']}")
    return 0


# -- tfnas search -------------------------------------------------------------------------------

def _configure_search(parser: argparse.ArgumentParser) -> None:
    from tfnas.search.registry import algorithm_names, get_algorithm

    parser.add_argument("algorithm", choices=algorithm_names())
    _add_scoring_arguments(parser)
    seen: dict[str, str] = {}
    for name in algorithm_names():
        for param in get_algorithm(name).params:
            if param.name in seen:
                continue  # one flag serves every algorithm that takes the parameter
            seen[param.name] = name
            default = ("" if param.default is None or "default" in param.help
                       else f" (default {param.default})")
            parser.add_argument(param.flag, dest=param.name, default=None,
                                type=int_arg if param.type is int else float_arg,
                                metavar="SECONDS" if param.type is float else None,
                                help=f"{name}: {param.help}{default}")
    parser.add_argument("--repeats", type=int_arg, default=1, help="independent runs (default 1)")
    parser.add_argument("--seed", type=int_arg, default=0, help="master seed (default 0)")
    parser.add_argument("--score-seed", type=int_arg, default=0,
                        help="proxy scoring seed: network init and batch (default 0)")
    parser.add_argument("--table", action="store_true",
                        help="score from the precomputed table of --space (tfnas sweep --export) "
                             "instead of live")
    parser.add_argument("--table-root", metavar="DIR", default=None,
                        help="the folder --table reads (default: $TFNAS_TABLES, else "
                             "benchmarks/scores under the current directory)")
    parser.add_argument("--json", metavar="OUT", help="write the traces and summary here ('-': stdout)")
    parser.add_argument("--trace", metavar="OUT",
                        help="append each evaluation to this file as it happens (JSON lines: run, "
                             "seed, arch, score, seconds), so an interrupted search keeps its trace")
    parser.add_argument("--no-store", action="store_true",
                        help="keep no score store (by default a live search stores every score in "
                             "$TFNAS_CACHE, else ~/.cache/tfnas, and a rerun reads them back)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress (by default a bar on a terminal, a line every 30 s "
                             "elsewhere)")


def _search_plan(args: argparse.Namespace, space: Any = None
                 ) -> tuple[Callable[..., Any], dict[str, Any], int | None]:
    """The search function, its keyword arguments and its evaluations per run (None: a time
    budget decides), all validated; flags of another algorithm are refused. ``space``: the space
    searched (default ``args.space``; a sampled table's held cells, :func:`_table_space`)."""
    from tfnas.search.registry import algorithm_names, get_algorithm

    algorithm = get_algorithm(args.algorithm)
    own = set(algorithm.param_names())
    for other in algorithm_names():
        for param in get_algorithm(other).params:
            if param.name not in own and getattr(args, param.name, None) is not None:
                takers = [n for n in algorithm_names() if param.name in get_algorithm(n).param_names()]
                raise UsageError(f"tfnas search: {param.flag} applies to {', '.join(map(repr, takers))} "
                                 f"only, not {args.algorithm!r}")
    given = {name: getattr(args, name) for name in own if getattr(args, name) is not None}
    space = args.space if space is None else space
    kwargs = algorithm.prepare(**given, space=space)
    return algorithm.run, {**kwargs, "space": space}, algorithm.evaluations(kwargs)


def _search_table(args: argparse.Namespace) -> Any:
    """With ``--table``, the table (read once; its settings are checked in :func:`_make_scorer`),
    else ``None``. An ensemble's table is computed from its members' tables, over the cells
    they all hold (:func:`tfnas.search.ensemble.ensemble_table`)."""
    if not args.table or args.proxy == ORACLE:
        return None
    from tfnas.tables import load_table

    if _is_ensemble(args):
        from tfnas.search.ensemble import ensemble_table

        return ensemble_table(args.proxy, args.dataset, root=args.table_root, space=args.space)
    return load_table(args.proxy, args.dataset, root=args.table_root, space=args.space)


def _table_space(args: argparse.Namespace, table: Any) -> Any:
    """The space to search: the held cells of a ``--table`` that covers part of the space (a
    :class:`~tfnas.spaces.sampled.SampledSpace`, said on stderr), else ``None``."""
    if table is None or table.complete:
        return None
    from tfnas.spaces.sampled import SampledSpace

    sample = table.sample
    cells = sample.cells or tuple(table.scores)
    what = "a uniform sample of the space" if sample.cells else "not a uniform sample"
    held = SampledSpace(args.space, cells)
    ranks = (f", {args.proxy} ranking within them, not within the whole space"
             if _is_ensemble(args) else "")
    print(f"tfnas search: the {args.proxy}-{args.dataset} table holds {held.size:,} of "
          f"{held.base.size:,} cells ({what}); searching those cells{ranks}", file=sys.stderr)
    return held


def _check_output(path: str | None, flag: str = "--json", stdout: bool = True) -> None:
    """``--json`` (or ``flag``): '-' (when ``stdout``) or a file that can be written, checked
    before the search runs."""
    from tfnas.checks import ArgumentError

    if path is None or (path == "-" and stdout):
        return
    if path in ("", "-"):
        expected = "a file path or '-'" if stdout else "a file path"
        raise UsageError(f"tfnas search: argument {flag}: expected {expected}, got {path!r}")
    target = Path(path)
    try:
        mode = target.stat().st_mode if target.exists() else None
        parent_ok = target.parent.is_dir()
        writable = os.access(target if mode is not None else target.parent, os.W_OK)
    except ValueError:  # an embedded NUL
        raise ArgumentError(f"{flag} {shown(path)} is not a valid file path") from None
    except OSError as exc:  # a name too long, a symlink loop
        raise ArgumentError(f"{flag} {shown(path)} cannot be used: "
                            f"{exc.strerror or type(exc).__name__}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise ArgumentError(f"{flag} {shown(path)} is {file_kind(mode)}; expected a file path")
    if not parent_ok:
        raise ArgumentError(f"{flag} {shown(path)}: its folder does not exist")
    if not writable:
        raise ArgumentError(f"{flag} {shown(path)} cannot be written (permission denied)")


def _make_scorer(args: argparse.Namespace, oracle: Any, store: Any,
                 settings: str | None, table: Any = None) -> Any:
    """The run's scorer; ``table``: the ``--table`` already loaded (:func:`_search_table`)."""
    from tfnas.search import OracleScorer, ProxyScorer, TableScorer

    if args.proxy == ORACLE:
        return OracleScorer(oracle, args.dataset)
    if args.table and _is_ensemble(args):
        from tfnas.search.ensemble import check_member_settings

        # Every member's table must have been scored under this run's settings.
        check_member_settings(table, _member_settings(args, table), args.table_root)
        return TableScorer(table.scores, f"{args.proxy}-table")
    if args.table:
        from tfnas.scoring import settings_key
        from tfnas.tables import check_settings, table_path

        # The table must have been scored under this run's settings (seed, batch, images), in
        # its own recorded arithmetic (--precision is a live proxy's).
        path = table_path(args.proxy, args.dataset, args.table_root, args.space)
        check_settings(table, settings_key(args.proxy, args.dataset, args.score_seed,
                                           args.batch_size, table.precision, args.device), path)
        return TableScorer(table.scores, f"{args.proxy}-table")
    if _is_ensemble(args):
        return _ensemble_scorer(args, store)
    return ProxyScorer(args.proxy, args.dataset, seed=args.score_seed,
                       batch_size=args.batch_size, store=store, settings=settings,
                       space=args.space, precision=args.precision, device=args.device)


def _is_ensemble(args: argparse.Namespace) -> bool:
    """True when ``--proxy`` names an ensemble (vote, az_nas): it ranks a population of cells."""
    from tfnas.proxies import get_proxy

    return args.proxy != ORACLE and get_proxy(args.proxy).ensemble


def _member_settings(args: argparse.Namespace, table: Any) -> dict[str, str]:
    """Each member's store-key settings under this run's flags (the ensemble has none itself),
    in the arithmetic its table records: ``--precision`` is a live proxy's; a table's precision
    is its own (the AZ-NAS components are committed in float64)."""
    import json

    from tfnas.proxies import get_proxy
    from tfnas.scoring import settings_key
    from tfnas.tables import ScoreTable

    recorded = json.loads(table.settings or "{}")
    return {member: settings_key(member, args.dataset, args.score_seed, args.batch_size,
                                 ScoreTable(member, args.dataset, {},
                                            {"settings": recorded.get(member, "")}).precision,
                                 args.device)
            for member in get_proxy(args.proxy).members}


def _ensemble_scorer(args: argparse.Namespace, store: Any) -> Any:
    """A live ensemble's scorer: its members scored per cell (through ``--store``), the
    ensemble ranking within the cells the run has seen (:mod:`tfnas.search.ensemble`)."""
    from tfnas.members import LiveMembers
    from tfnas.proxies import get_proxy
    from tfnas.search.ensemble import EnsembleScorer

    members = LiveMembers(get_proxy(args.proxy).members, args.dataset, seed=args.score_seed,
                          batch_size=args.batch_size, store=store, space=args.space,
                          precision=args.precision, device=args.device)
    return EnsembleScorer(args.proxy, members)


def _run_search(args: argparse.Namespace) -> int:
    from tfnas.oracles import default_oracle
    from tfnas.search.repeat import check_repeats

    if args.table and args.store:
        raise UsageError("tfnas search: --table and --store exclude each other")
    if args.no_store and args.store:
        raise UsageError("tfnas search: --store and --no-store exclude each other")
    if args.table_root is not None and not args.table:
        raise UsageError("tfnas search: --table-root goes with --table")
    _check_store_use(args)
    _check_scoring(args, args.score_seed)
    _device(args)
    table = _search_table(args)
    search, kwargs, per_run = _search_plan(args, _table_space(args, table))
    check_seed(args.seed, "--seed")
    check_repeats(args.repeats, per_run)
    _check_output(args.json)
    _check_output(args.trace, "--trace", stdout=False)
    # the accuracy tables are topology-space: other spaces' traces carry no accuracies
    oracle = default_oracle() if args.space == DEFAULT_SPACE else None
    live = args.proxy != ORACLE and not args.table
    settings = (_live_settings(args, args.score_seed)  # live scoring (a --table: its own arithmetic)
                if args.proxy != ORACLE and not _is_ensemble(args) else None)
    store_path = _search_store(args, live)
    store = _open_store(store_path, args.space)  # last: a refused command leaves no store file
    trace = None
    try:
        if args.trace is not None:
            trace = open(args.trace, "w", encoding="utf-8")  # noqa: SIM115
        scorer = _make_scorer(args, oracle, store, settings, table)
        with _stops_as_interrupts():
            try:
                traces = _search_with_progress(args, search, kwargs, per_run, scorer, oracle,
                                               trace)
            except Exception as exc:
                if interrupted_by(exc):  # the stop landed inside a context manager's cleanup
                    raise KeyboardInterrupt from exc
                raise
    except KeyboardInterrupt:
        kept = [f"the scores computed are in the store {shown(str(store_path))}: run the same "
                "command to resume (they are read back, not recomputed)"] if store else []
        if trace is not None:
            kept.append(f"the evaluations so far are in {shown(args.trace)}")
        _report("tfnas search: interrupted" + ("; " + "; ".join(kept) if kept else ""))
        return 130
    finally:
        if store is not None:
            store.close()
        if trace is not None:
            trace.close()
    hits = getattr(scorer, "store_hits", 0)
    if hits and _is_ensemble(args):  # the store holds the members' scores, not the ensemble's
        _report(f"tfnas search: {hits:,} member scores read from the store "
                f"{shown(str(store_path))}, {getattr(scorer, 'scorings', 0):,} scored live")
    elif hits:
        _report(f"tfnas search: {hits:,} of {sum(len(t.evaluations) for t in traces):,} "
                f"evaluations read from the store {shown(str(store_path))}")
    _write_search(args, traces)
    return 0


def interrupted_by(exc: BaseException) -> bool:
    """Whether a stop (KeyboardInterrupt) is in ``exc``'s chain of causes and contexts: a stop
    raised inside torch's mode stack (``with torch.device("meta")``) makes its cleanup raise a
    RuntimeError whose context is the stop, and that is still a stop, not an internal error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@contextlib.contextmanager
def _stops_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP (a job scheduler, a closed terminal) stop a search as Ctrl-C does, so
    it says where its work is; on the main thread only (where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    saved = {number: signal.signal(number, stop)
             for number in (getattr(signal, name, None) for name in ("SIGTERM", "SIGHUP"))
             if number is not None}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def _search_store(args: argparse.Namespace, live: bool) -> str | None:
    """The store a live search keeps: ``--store``, else the default one in the user's cache
    (:func:`tfnas.config.default_store`) unless ``--no-store``; ``None`` when nothing is scored."""
    if not live or args.no_store:
        return None
    if args.store is not None:
        return args.store
    from tfnas.config import default_store

    path = default_store(args.space)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArgumentError(f"the default score store's folder {shown(str(path.parent))} cannot be "
                            f"created ({exc.strerror or type(exc).__name__}); set TFNAS_CACHE, "
                            "pass --store PATH or --no-store") from None
    return str(path)


def _search_with_progress(args: argparse.Namespace, search: Callable[..., Any],
                          kwargs: dict[str, Any], per_run: int | None, scorer: Any, oracle: Any,
                          trace: Any) -> list[Any]:
    """Run the repeats with progress on stderr, appending each evaluation to ``--trace`` (one
    JSON line, flushed) as it happens."""
    from tfnas.progress import Progress
    from tfnas.search import repeat

    current = {"run": -1, "seed": 0}

    def tracked(seed: int, **rest: Any) -> Any:
        current["run"] += 1
        current["seed"] = seed
        return search(seed=seed, **rest)

    total = None if per_run is None else per_run * args.repeats
    with Progress(total, f"tfnas search {args.algorithm} {args.proxy}", "eval",
                  quiet=args.quiet) as bar:
        def on_evaluation(evaluation: Any) -> None:
            bar.update(1)
            if trace is not None:
                trace.write(json.dumps({"run": current["run"], "seed": current["seed"],
                                        "arch": evaluation.arch,
                                        "score": _json_float(evaluation.score),
                                        "seconds": evaluation.seconds,
                                        "cumulative_seconds": evaluation.cumulative_seconds}) + "\n")
                trace.flush()

        return repeat(tracked, args.repeats, args.seed, progress=False, scorer=scorer, oracle=oracle,
                      dataset=args.dataset, on_evaluation=on_evaluation, **kwargs)


def _write_search(args: argparse.Namespace, traces: list[Any]) -> None:
    """``--json`` (the traces and summary) and the summary table."""
    from tfnas.search import summarize, write_search_json

    summary = summarize(traces)
    if args.json:
        finite = {k: [_json_float(x) for x in v] for k, v in summary.items()}
        if args.json == "-":
            write_search_json(sys.stdout.write, finite, traces)
            sys.stdout.write("\n")
        else:
            with atomic_writer(args.json, ArgumentError, "--json") as handle:
                write_search_json(lambda text: handle.write(text.encode("utf-8")), finite, traces)
                handle.write(b"\n")
    out = sys.stderr if args.json == "-" else sys.stdout
    print(_summary_table(args, traces, summary), file=out)


def _json_float(x: float) -> float | str:
    """Strict JSON has no inf/nan: write them as the strings Python's float() reads back."""
    return x if math.isfinite(x) else repr(x)


def _summary_table(args: argparse.Namespace, traces: Sequence[Any],
                   summary: dict[str, tuple[float, float]]) -> str:
    clock = traces[0].clock
    rows = [("valid12 acc (%)", "valid12"), ("test200 acc (%)", "test200"), ("score", "score"),
            (f"search time (s, {clock})", "search_seconds"), ("wall time (s)", "wall_seconds")]
    lines = [f"{args.algorithm} search, {traces[0].scorer} on {args.dataset}: "
             f"{len(traces)} run(s), master seed {args.seed}",
             f"{'':26}{'mean':>12}{'std':>12}"]
    for label, key in rows:
        if key in summary:
            mean, std = summary[key]
            lines.append(f"{label:26}{mean:12.4f}{std:12.4f}")
    if len(traces) == 1:
        lines.append(f"selected: {traces[0].best}")
    return "\n".join(lines)


# -- tfnas sweep (the library: tfnas.sweep) ---------------------------------------------------


_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of names, got {shown(text)}"
        )
    for name in names:
        if not _NAME_RE.fullmatch(name):
            raise argparse.ArgumentTypeError(f"{shown(name)} is not a proxy or dataset name")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class _IndexText:
    """``--indices`` as given: read against the space (``--space``) once every flag is parsed."""

    text: str


def _indices_of(given: _IndexText | None, space: str) -> list[int] | None:
    """The ``--indices`` of ``space``; bad text is a usage error (exit 2), as argparse's are."""
    if given is None:
        return None
    from tfnas.sweep import parse_indices

    try:
        return parse_indices(given.text, space)
    except ValueError as exc:
        raise UsageError(f"tfnas sweep: argument --indices: {exc}") from exc


def _configure_sweep(parser: argparse.ArgumentParser) -> None:
    from tfnas.sweep import DEFAULT_CHUNK, DEFAULT_STORE, EXIT_INCOMPLETE

    parser.add_argument("--proxy", type=_names, required=True,
                        help="comma-separated proxies, e.g. naswot,synflow,params,flops")
    parser.add_argument("--dataset", type=_names, required=True,
                        help="comma-separated datasets, e.g. cifar10,cifar100,ImageNet16-120")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_arg, default=1,
                       help="local worker processes (1 = in this process; default 1; at most the "
                       "usable CPUs)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler address, e.g. tcp://host:8786, instead of local workers")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE,
                        help=f"score store (SQLite) path; default {DEFAULT_STORE}")
    parser.add_argument("--space", choices=space_names(), default=DEFAULT_SPACE,
                        help=f"search space (default {DEFAULT_SPACE}: the topology space; sss: the "
                             "size space)")
    parser.add_argument("--indices", type=_IndexText, default=None,
                        help="only these official indices of the space, e.g. 0-99,200 (default: "
                             "all)")
    parser.add_argument("--limit", type=int_arg, default=None,
                        help="only the first N of the selected cells")
    parser.add_argument("--chunk-size", type=int_arg, default=DEFAULT_CHUNK,
                        help=f"cells per task (default {DEFAULT_CHUNK})")
    parser.add_argument("--seed", type=int_arg, default=0,
                        help="scoring seed: network init and data batch (default 0)")
    parser.add_argument("--batch-size", type=int_arg, default=None,
                        help="one batch for every proxy (default: each proxy's reference batch)")
    parser.add_argument("--order-seed", type=int_arg, default=0,
                        help="a whole-space sweep goes in the random permutation of this seed "
                             "(default 0), so that any stopped sweep leaves a uniform sample")
    parser.add_argument("--budget", type=float_arg, default=None, metavar="SECONDS",
                        help=f"stop submitting work after this wall time (exit {EXIT_INCOMPLETE} "
                        "if cells remain)")
    parser.add_argument("--lock-timeout", type=float_arg, default=None, metavar="SECONDS",
                        help="how long to wait for another process's lock on the store "
                        "(default 60)")
    parser.add_argument("--precision", choices=("float32", "float64"), default="float32",
                        help="arithmetic of the scores (default float32, the committed tables')")
    parser.add_argument("--device", default="cpu",
                        help="where networks are scored: cpu (default), cuda, cuda:N or mps")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress (by default a bar on a terminal, a line every 30 s "
                             "elsewhere)")
    parser.add_argument("--export", nargs="?", const="", default=None, metavar="ROOT",
                        help="afterwards export the score tables to the folder ROOT (default "
                             "./tfnas-scores); a table there may only grow: one with other "
                             "settings or fewer cells is refused unless --force")
    parser.add_argument("--force", action="store_true",
                        help="with --export: replace tables even with fewer cells or other settings")
    parser.add_argument("--resume-from", type=Path, default=None, metavar="ROOT",
                        help="first put into the store the rows of ROOT's tables (e.g. "
                             "benchmarks/scores) computed under this sweep's settings, so a "
                             "committed table grows without re-scoring its cells")


def _run_sweep(args: argparse.Namespace) -> int:
    """Run a parsed ``sweep`` command line; exit status 0 when every requested cell is stored."""
    from tfnas.sweep import EXIT_INCOMPLETE, EXIT_REFUSED, SweepInterrupted, run_sweep

    indices = _indices_of(args.indices, args.space)
    root = None
    if args.force and args.export is None:
        raise UsageError("tfnas sweep: --force goes with --export")
    if args.export is not None:  # checked before any scoring, not after the whole sweep
        from tfnas.tables import check_export

        root = check_export(args.export or None,
                            [(p, d) for p in args.proxy for d in args.dataset], args.space)
    try:
        report = run_sweep(
            args.store, args.proxy, args.dataset, indices=indices, limit=args.limit,
            workers=args.workers, scheduler=args.scheduler, chunk_size=args.chunk_size,
            seed=args.seed, batch_size=args.batch_size, budget_seconds=args.budget,
            lock_timeout=args.lock_timeout, space=args.space, order_seed=args.order_seed,
            precision=args.precision, device=args.device,
            progress=False if args.quiet else None, resume_from=args.resume_from,
        )
    except SweepInterrupted as exc:
        print(f"tfnas sweep: {exc}; no worker is left and every finished chunk is in "
              f"{shown(str(args.store))}: run the same command to resume", file=sys.stderr)
        return exc.exit_status
    for job in report.jobs:
        rate = f"{job.cells_per_second:.2f} cells/s/worker" if job.computed else "-"
        print(f"{job.proxy:>8} {job.dataset:<15} stored {job.stored_before + job.computed:>6}/"
              f"{job.requested}  computed {job.computed:>6} in {job.cpu_seconds:9.1f} cpu-s  {rate}")
    print(f"wall {report.wall_seconds:.1f} s, cpu {report.cpu_seconds:.1f} s, "
          f"remaining {report.remaining}")
    if args.export is not None:
        from tfnas.store import ScoreStore
        from tfnas.tables import ExportRefusedError, export_table

        refused = 0
        with ScoreStore(args.store, space=args.space) as store:
            for job in report.jobs:
                try:
                    result = export_table(store, job.proxy, job.dataset, args.seed,
                                          args.batch_size, root, order_seed=args.order_seed,
                                          force=args.force, precision=args.precision,
                                          device=args.device)
                except ExportRefusedError as exc:  # the other tables are still exported
                    print(f"tfnas sweep: refused: {exc}", file=sys.stderr)
                    refused += 1
                    continue
                print(f"{'wrote' if result.written else 'unchanged'} {result.path} "
                      f"({result.rows} rows)")
        if refused:
            return EXIT_REFUSED
    return EXIT_INCOMPLETE if report.remaining else 0


# -- tfnas proxies ------------------------------------------------------------------------------

def _configure_proxies(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=TARGET_DATASETS, default="cifar10",
                        help="the dataset of the s/cell and rho columns (default cifar10)")
    parser.add_argument("--table-root", metavar="DIR", default=None,
                        help="read a proxy's table from this folder first (e.g. your own "
                             "proxy's export), else from $TFNAS_TABLES (default benchmarks/scores "
                             "under the current directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per proxy")


def _run_proxies(args: argparse.Namespace) -> int:
    """Every registered proxy: what it needs, its batch, its cost and Spearman rho from the
    score table of ``--dataset`` (when there is one), and its reference."""
    from tfnas.proxies import proxies
    from tfnas.scoring import batch_for

    rows = []
    for proxy in proxies():
        needs = proxy.needs
        kind = (f"ensemble of {len(proxy.members)}" if proxy.ensemble else
                "+".join(w for w, on in (("images", needs.data), ("labels", needs.labels),
                                         ("random", needs.random)) if on) or "data-free")
        seconds, rho, n = _table_facts(proxy, args.dataset, args.table_root)
        rows.append({"proxy": proxy.name, "needs": kind,
                     "batch": None if proxy.ensemble or not proxy.takes_batch
                     else batch_for(proxy.name),
                     "seconds_per_cell": seconds, "rho": rho, "cells": n,
                     "reference": proxy.reference or proxy.origin})
    if args.json:
        for row in rows:
            print(json.dumps({k: (_json_float(v) if isinstance(v, float) else v)
                              for k, v in row.items()}))
        return 0
    print(f"{'proxy':18}{'needs':26}{'batch':>6}{'s/cell':>9}{'rho':>8}{'cells':>7}  reference "
          f"(s/cell, rho: the {args.dataset} score table; rho: Spearman vs 200-epoch test "
          "accuracy over the cells it holds)")
    for row in rows:
        seconds = "-" if row["seconds_per_cell"] is None else f"{row['seconds_per_cell']:.3g}"
        rho = "-" if row["rho"] is None else f"{row['rho']:+.3f}"
        cells = "-" if row["cells"] is None else f"{row['cells']:,}"
        batch = "-" if row["batch"] is None else str(row["batch"])
        print(f"{row['proxy']:18}{row['needs']:26}{batch:>6}{seconds:>9}{rho:>8}{cells:>7}  "
              f"{row['reference'][:70]}")
    return 0


def _table_facts(proxy: Any, dataset: str, root: str | None
                 ) -> tuple[float | None, float | None, int | None]:
    """``(seconds per cell, Spearman rho, cells)`` from the proxy's score table, ``None`` each
    where there is no table (or, for rho, no accuracy table under ``TFNAS_DATA``)."""
    import numpy as np
    import scipy.stats

    from tfnas.config import DataNotFoundError
    from tfnas.tables import TableError, load_table

    if proxy.ensemble:
        return None, None, None
    table = None
    for folder in ([root] if root is not None else []) + [None]:
        try:
            table = load_table(proxy.name, dataset, root=folder)
            break
        except (TableError, FileNotFoundError):
            continue
    if table is None:
        return None, None, None
    try:
        from tfnas.oracles import default_oracle

        accuracy = default_oracle().column(dataset, 200, "test")
    except DataNotFoundError:
        return table.seconds_per_cell, None, len(table.scores)
    space = get_space(DEFAULT_SPACE)
    cells = list(table.scores)
    scores = np.array([table.scores[c] for c in cells], dtype=float)  # -inf ranks last
    if np.unique(scores[np.isfinite(scores)]).size < 2:
        return table.seconds_per_cell, None, len(cells)  # degenerate: no ranking to report
    truth = accuracy[[space.index_of(c) for c in cells]]
    return table.seconds_per_cell, float(scipy.stats.spearmanr(scores, truth)[0]), len(cells)


COMMANDS: tuple[Subcommand, ...] = (
    Subcommand("proxies", "list every proxy: needs, batch, cost and rho from the score tables, "
               "reference", _configure_proxies, _run_proxies),
    Subcommand("score", "score one cell with a proxy (or the accuracy oracle)",
               _configure_score, _run_score),
    Subcommand("search", "random search or REA driven by a proxy, a table or the oracle",
               _configure_search, _run_search),
    Subcommand("sweep", "score every cell through the score store (resumable; local or Dask)",
               _configure_sweep, _run_sweep),
)
"""Every ``tfnas`` subcommand: its name, help, argument builder and runner (exit status)."""


# -- entry point ------------------------------------------------------------------------------

def _version() -> str:
    """tfnas's version and the torch and Python it runs on (read without importing torch)."""
    import importlib.metadata
    import platform

    from tfnas import __version__

    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    return f"tfnas {__version__} (torch {torch_version}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every subcommand of :data:`COMMANDS`."""
    parser = _Parser(prog="tfnas", description="Training-free NAS: zero-cost proxies and searches "
                     "on the NATS-Bench spaces (tfnas.measure scores any PyTorch model)")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(child)
        child.set_defaults(_run=command.run)
    return parser


def _describe(exc: MemoryError) -> str:
    """One line for running out of memory (the process contract: never a traceback for it)."""
    return "out of memory: the input asks for more memory than this machine has"


def _report(message: str) -> None:
    try:
        print(message, file=sys.stderr)
    except (OSError, ValueError):  # stderr closed too: nothing left to tell
        pass


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 error, 2 usage error, 130 interrupted).

    A :class:`~tfnas.errors.TfnasError` (what bad input, data or files cause) is one line on
    stderr; so are a closed output pipe and running out of memory. Any other exception is a bug
    in tfnas or what it calls and propagates with its traceback."""
    try:
        args = build_parser().parse_args(argv)
        return int(args._run(args))
    except SystemExit as exc:  # --help (argparse exits after printing it)
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        _report(f"{one_line(exc)} (see tfnas --help)")
        return 2
    except TfnasError as exc:
        _report(f"tfnas: error: {one_line(exc)}")
        return 1
    except BrokenPipeError:
        _silence_stdout()
        _report("tfnas: error: the output was closed before it was written (broken pipe)")
        return 1
    except MemoryError as exc:
        _report(f"tfnas: error: {_describe(exc)}")
        return 1
    except KeyboardInterrupt:
        _report("tfnas: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
