"""The ``tfnas`` command line: ``tfnas score`` and ``tfnas search random|rea``.

Subcommands live in a small registry (:func:`register_subcommand`); modules named in
:data:`PLUGINS` (``tfnas.sweep``) may add theirs by defining ``register_cli(register)``, which the
parser builder calls with :func:`register_subcommand`. Keep such modules cheap to import.

Errors a user can cause (unknown proxy or dataset, bad sizes, missing data, bad files) end with one
line on stderr and exit status 1 (2 for command-line usage errors), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from tfnas.errors import TfnasError

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
ORACLE = "oracle"
PLUGINS: tuple[str, ...] = ("tfnas.sweep",)


class UsageError(TfnasError):
    """A command-line usage error (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + error
        raise UsageError(f"{self.prog}: {message}")


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


_SUBCOMMANDS: dict[str, Subcommand] = {}


def register_subcommand(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None],
                        run: Callable[[argparse.Namespace], int]) -> None:
    """Add ``tfnas <name>``: ``configure`` adds its arguments, ``run(args)`` returns the exit code."""
    if name in _SUBCOMMANDS and _SUBCOMMANDS[name].run is not run:
        raise ValueError(f"a tfnas subcommand {name!r} is already registered")
    _SUBCOMMANDS[name] = Subcommand(name, help, configure, run)


# -- shared arguments ---------------------------------------------------------------------------

def _add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--proxy", required=True,
                        help=f"proxy name (naswot, synflow, params, ...) or '{ORACLE}'")
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--batch-size", type=int, default=128, help="proxy batch (default 128)")
    parser.add_argument("--store", metavar="PATH", help="SQLite score store to read and write")


def _check_proxy(name: str) -> None:
    if name == ORACLE:
        return
    from tfnas.proxies import get_proxy

    get_proxy(name)  # a clear ValueError naming the known proxies


def _open_store(path: str | None) -> Any:
    if path is None:
        return None
    from tfnas.store import ScoreStore

    return ScoreStore(path)


# -- tfnas score --------------------------------------------------------------------------------

def _configure_score(parser: argparse.ArgumentParser) -> None:
    _add_scoring_arguments(parser)
    parser.add_argument("--arch", required=True, help="cell string |op~0|+|op~0|op~1|+|...|")
    parser.add_argument("--seed", type=int, default=0, help="scoring seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _run_score(args: argparse.Namespace) -> int:
    from tfnas.search import OracleScorer, ProxyScorer
    from tfnas.space import Arch

    arch = Arch.parse(args.arch)
    _check_proxy(args.proxy)
    store = _open_store(args.store)
    try:
        if args.proxy == ORACLE:
            from tfnas.oracles import default_oracle

            scorer: Any = OracleScorer(default_oracle(), args.dataset)
        else:
            scorer = ProxyScorer(args.proxy, args.dataset, seed=args.seed,
                                 batch_size=args.batch_size, store=store)
        start = time.perf_counter()
        value = scorer(arch)
        seconds = time.perf_counter() - start
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps({"arch": str(arch), "proxy": args.proxy, "dataset": args.dataset,
                          "score": _json_float(value), "seconds": seconds}))
    else:
        print(f"{args.proxy} on {args.dataset}: {value:.6g}  ({seconds:.3f} s)  {arch}")
    return 0


# -- tfnas search -------------------------------------------------------------------------------

def _configure_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("algorithm", choices=("random", "rea"))
    _add_scoring_arguments(parser)
    parser.add_argument("--n", type=int, default=100, help="random: cells drawn (default 100)")
    parser.add_argument("--population", type=int, default=64, help="rea: P (default 64)")
    parser.add_argument("--sample", type=int, default=20, help="rea: tournament S (default 20)")
    parser.add_argument("--cycles", type=int, default=None,
                        help="rea: evaluations incl. the initial population (default 1000, "
                             "or unlimited with --time-budget)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="rea: stop when search time passes this (simulated for the oracle)")
    parser.add_argument("--repeats", type=int, default=1, help="independent runs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument("--score-seed", type=int, default=0,
                        help="proxy scoring seed: network init and batch (default 0)")
    parser.add_argument("--table", action="store_true",
                        help="score from the precomputed table (tfnas sweep) instead of live")
    parser.add_argument("--json", metavar="OUT", help="write the traces and summary here ('-': stdout)")


def _make_scorer(args: argparse.Namespace, store: Any) -> Any:
    from tfnas.search import OracleScorer, ProxyScorer, TableScorer

    if args.proxy == ORACLE:
        from tfnas.oracles import default_oracle

        return OracleScorer(default_oracle(), args.dataset)
    if args.table:
        from tfnas.scoring import settings_key
        from tfnas.tables import load_table

        # The table must have been scored under this run's settings (seed, batch, images).
        settings = settings_key(args.proxy, args.dataset, args.score_seed, args.batch_size)
        table = load_table(args.proxy, args.dataset, settings=settings)
        return TableScorer(table.scores, f"{args.proxy}-table")
    return ProxyScorer(args.proxy, args.dataset, seed=args.score_seed,
                       batch_size=args.batch_size, store=store)


def _run_search(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tfnas.oracles import default_oracle
    from tfnas.search import random_search, rea, repeat, summarize

    _check_proxy(args.proxy)
    if args.table and args.store:
        raise UsageError("tfnas search: --table and --store exclude each other")
    if args.algorithm == "random":
        search: Callable[..., Any] = random_search
        kwargs: dict[str, Any] = {"n": args.n}
        per_run: int | None = args.n
    else:
        search = rea
        cycles = args.cycles if args.cycles is not None or args.time_budget else 1000
        kwargs = {"population": args.population, "sample": args.sample, "cycles": cycles,
                  "time_budget": args.time_budget}
        per_run = cycles if args.time_budget is None else None
    oracle = default_oracle()
    store = _open_store(args.store)
    try:
        scorer = _make_scorer(args, store)
        total = None if per_run is None else per_run * args.repeats
        with tqdm(total=total, disable=not sys.stderr.isatty(), file=sys.stderr,
                  desc=f"{args.algorithm} {args.proxy}", unit="eval") as bar:
            traces = repeat(search, args.repeats, args.seed, scorer=scorer, oracle=oracle,
                            dataset=args.dataset, on_evaluation=lambda _: bar.update(1), **kwargs)
    finally:
        if store is not None:
            store.close()
    summary = summarize(traces)
    if args.json:
        finite = {k: [_json_float(x) for x in v] for k, v in summary.items()}
        text = json.dumps({"summary": finite, "traces": [t.to_dict() for t in traces]},
                          indent=1, allow_nan=False)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as handle:
                handle.write(text + "\n")
    out = sys.stderr if args.json == "-" else sys.stdout
    print(_summary_table(args, traces, summary), file=out)
    return 0


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


register_subcommand("score", "score one cell with a proxy (or the accuracy oracle)",
                    _configure_score, _run_score)
register_subcommand("search", "random search or REA driven by a proxy, a table or the oracle",
                    _configure_search, _run_search)


# -- entry point ------------------------------------------------------------------------------

def _load_plugins() -> None:
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        register = getattr(module, "register_cli", None)
        if callable(register):
            register(register_subcommand)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: built-in subcommands plus those registered by plugins."""
    _load_plugins()
    parser = _Parser(prog="tfnas", description="Training-free NAS on the NATS-Bench topology space")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in _SUBCOMMANDS.values():
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(child)
        child.set_defaults(_run=command.run)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 error, 2 usage error)."""
    try:
        args = build_parser().parse_args(argv)
        return int(args._run(args))
    except UsageError as exc:
        print(f"{_one_line(exc)} (see tfnas --help)", file=sys.stderr)
        return 2
    except (ValueError, TypeError, LookupError, OSError) as exc:
        print(f"tfnas: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tfnas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
