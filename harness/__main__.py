"""``python -m harness report|compare|baseline|proxies|findings`` — the reproduction report, the CI
check, the README's proxy table and its counts of findings.

Every failure is one line on stderr and exit status 2 (3 for a bug in the harness itself);
no input file can make it print a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import NoReturn

from harness.results import OutputError, load_results, outcomes
from tfnas.bounded import write_atomic
from tfnas.errors import TfnasError, one_line, shown


class OptionError(TfnasError, ValueError):
    """Command-line options that contradict each other."""


BASELINE = Path("benchmarks") / "baseline.json"
"""The committed CI baseline, relative to the current directory (the repository's root)."""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(ValueError(message))} (see --help)\n")


def _report(args: argparse.Namespace) -> int:
    from harness.report import write_report
    from tfnas.config import tables_root

    tables = None if args.no_proxies else (args.tables or tables_root())
    path = write_report(args.results, args.out, proxies=tables)
    print(path)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from harness.compare import compare_files

    diffs = compare_files(args.old, args.new)
    for d in diffs:
        print(("REGRESSION " if d.regression else "note ") + d.message)
    bad = [d for d in diffs if d.regression]
    print(f"{len(bad)} regression(s), {len(diffs) - len(bad)} note(s)")
    return 1 if bad else 0


POINTS = ("scatter", "values", "top_cells")
"""Detail fields holding the plots' raw points: the baseline leaves them out."""


def _strip_points(data: dict) -> dict:
    """The document without the plots' raw points (not needed to compare) or benchmark extras."""
    data["claims"]["outcomes"] = [
        dataclasses.replace(o, details=o.details and o.details.without(POINTS)).to_dict()
        for o in outcomes(data)]
    data["benchmarks"] = [{k: v for k, v in b.items() if k != "extra_info"}
                          for b in data.get("benchmarks", [])]
    return data


def _baseline(args: argparse.Namespace) -> int:
    data = _strip_points(load_results(args.results))
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    try:
        args.to.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write the baseline to {shown(str(args.to), 200)}: "
                          f"{one_line(exc, 200)}") from exc
    write_atomic(args.to, text.encode("utf-8"), OutputError, "baseline")
    print(f"baseline written to {args.to}")
    return 0


def _proxies(args: argparse.Namespace) -> int:
    """Print the proxy table, or rewrite (``--check``: only test) the README and docs blocks."""
    from harness.proxy_table import (
        docs_block,
        proxy_table,
        read_target,
        readme_block,
        render_table,
        rewrite,
    )

    if args.check and args.readme is None and args.docs is None:
        raise OptionError("--check needs --readme FILE or --docs FILE: the files whose "
                          "generated block it compares")
    for path in (args.readme, args.docs):
        if path is not None:
            read_target(path)  # a file that cannot take the block is refused before any work
    from tfnas.config import tables_root

    table = proxy_table(args.tables or tables_root())
    targets = [(path, block(table)) for path, block in ((args.readme, readme_block),
                                                       (args.docs, docs_block)) if path is not None]
    if not targets:
        print(render_table(table))
        return 0
    stale = []
    for path, text in targets:
        done = rewrite(path, text, check=args.check)
        if done.stale:
            stale.append(path)
        verb = ("is stale" if args.check else "rewritten") if done.stale else "is up to date"
        print(f"{shown(str(path), 200)} {verb}")
    if args.check and stale:
        print("run `python -m harness proxies --readme README.md --docs docs/proxies.md` and "
              "commit the result", file=sys.stderr)
        return 1
    return 0


def _findings(args: argparse.Namespace) -> int:
    """Print the counts of a results file, or rewrite (``--check``: only test) the README block."""
    from harness.ledger import FINDINGS_MARKERS, findings_block, ledger
    from harness.proxy_table import read_target, rewrite

    if args.check and args.readme is None:
        raise OptionError("--check needs --readme FILE: the file whose generated block it "
                          "compares")
    if args.readme is not None:
        read_target(args.readme, FINDINGS_MARKERS)  # refused before the results are read
    data = load_results(args.results)
    book = ledger(outcomes(data), data["claims"].get("deselected"))
    block = findings_block(book)
    if args.readme is None:
        print(block)
        return 0
    done = rewrite(args.readme, block, check=args.check, markers=FINDINGS_MARKERS)
    verb = ("is stale" if args.check else "rewritten") if done.stale else "is up to date"
    print(f"{shown(str(args.readme), 200)} {verb}")
    if args.check and done.stale:
        print(f"run `python -m harness findings {shown(str(args.results), 200)} --readme "
              f"{shown(str(args.readme), 200)}` and commit the result", file=sys.stderr)
        return 1
    return 0


def _crosscheck(args: argparse.Namespace) -> int:
    from harness.crosscheck import CrosscheckError, crosscheck, read_foreign, render

    foreign = read_foreign(args.file, args.proxy, args.dataset)
    if args.per_cell_batch:
        from harness.crosscheck import per_cell_ceiling, render_per_cell

        rows = []
        for pair in args.per_cell_batch:
            proxy, sep, dataset = pair.partition("/")
            if not sep:
                raise CrosscheckError(f"--per-cell-batch takes PROXY/DATASET, got {shown(pair)}")
            rows.append(per_cell_ceiling(foreign, proxy, dataset, args.realisations, args.tables))
        print(render_per_cell(rows))
        return 0
    print(render(crosscheck(foreign, args.tables, args.noise), foreign))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("report", help="write a Markdown report with plots from a results JSON")
    p.add_argument("results", type=Path)
    p.add_argument("--out", type=Path, default=Path("report"))
    p.add_argument("--tables", type=Path, default=None,
                   help="score tables of the proxy-by-dataset section (default: $TFNAS_TABLES, "
                        "else benchmarks/scores)")
    p.add_argument("--no-proxies", action="store_true",
                   help="leave the proxy-by-dataset section out (it reads the tables and oracle)")
    p.set_defaults(func=_report)
    p = sub.add_parser("compare", help="exit 1 on verdict changes or drift beyond tolerance")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.set_defaults(func=_compare)
    p = sub.add_parser("baseline", help="deliberately replace the committed CI baseline")
    p.add_argument("results", type=Path)
    p.add_argument("--to", type=Path, default=BASELINE,
                   help="where to write it (default benchmarks/baseline.json, under the current "
                        "directory)")
    p.set_defaults(func=_baseline)
    p = sub.add_parser("proxies", help="the table of every proxy: print it, or rewrite the "
                       "generated block of README.md / docs/proxies.md (--check: exit 1 if stale)")
    p.add_argument("--readme", type=Path, default=None, help="rewrite this README's block")
    p.add_argument("--docs", type=Path, default=None, help="rewrite this docs/proxies.md's block")
    p.add_argument("--tables", type=Path, default=None,
                   help="the folder of score tables (default: $TFNAS_TABLES, else "
                        "benchmarks/scores)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a block differs from what would be rendered")
    p.set_defaults(func=_proxies)
    p = sub.add_parser("findings", help="claims and independent measurements per status of a "
                       "results JSON: print them, or rewrite the README's generated block "
                       "(--check: exit 1 if stale)")
    p.add_argument("results", type=Path)
    p.add_argument("--readme", type=Path, default=None,
                   help="rewrite this file's <!-- findings:begin/end --> block")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the block differs from what would be rendered")
    p.set_defaults(func=_findings)
    p = sub.add_parser("crosscheck", help="per-cell agreement of our score tables with another "
                       "tool's published scores, next to our own noise ceiling")
    p.add_argument("file", type=Path, help="NAS-Bench-Suite-Zero's JSON (zc_nasbench201.json) or "
                   "a CSV arch,score (with --proxy and --dataset)")
    p.add_argument("--proxy", default=None, help="the proxy a CSV holds")
    p.add_argument("--dataset", default=None, help="the dataset a CSV holds")
    p.add_argument("--tables", type=Path, default=None,
                   help="the folder of our score tables (default benchmarks/scores)")
    p.add_argument("--noise", type=Path, default=None,
                   help="the folder of our scoring-noise realisations (default benchmarks/noise)")
    p.add_argument("--per-cell-batch", action="append", metavar="PROXY/DATASET", default=[],
                   help="instead: re-score the common cells with a batch per cell (as NASLib "
                        "draws one) --realisations times and report that protocol's noise "
                        "ceiling next to the agreement (repeatable; live scoring, minutes)")
    p.add_argument("--realisations", type=int, default=5,
                   help="per-cell-batch runs (2-20, default 5)")
    p.set_defaults(func=_crosscheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except TfnasError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout went away: nothing left to tell
        return 2
    except Exception as exc:  # a bug, not bad input; still one line, never a traceback
        print(f"error: internal {type(exc).__name__} in the harness (please report it): "
              f"{one_line(exc, 300)}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
