"""``python -m harness report|compare|baseline`` — the reproduction report and the CI check.

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
from tfnas.errors import TfnasError, one_line, shown

BASELINE = Path(__file__).resolve().parents[1] / "benchmarks" / "baseline.json"


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(ValueError(message))} (see --help)\n")


def _report(args: argparse.Namespace) -> int:
    from harness.report import write_report

    path = write_report(args.results, args.out)
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


def _without_points(details: dict | None) -> dict | None:
    if details is None:
        return None
    out = {k: v for k, v in details.items() if k not in POINTS}
    for side, sub in out.items():  # the two sides of a comparison or scaling claim
        if isinstance(sub, dict):
            out[side] = {k: v for k, v in sub.items() if k not in POINTS}
    return out


def _strip_points(data: dict) -> dict:
    """The document without the plots' raw points (not needed to compare) or benchmark extras."""
    data["claims"]["outcomes"] = [
        dataclasses.replace(o, details=_without_points(o.details)).to_dict()
        for o in outcomes(data)]
    data["benchmarks"] = [{k: v for k, v in b.items() if k != "extra_info"}
                          for b in data.get("benchmarks", [])]
    return data


def _baseline(args: argparse.Namespace) -> int:
    data = _strip_points(load_results(args.results))
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    try:
        args.to.parent.mkdir(parents=True, exist_ok=True)
        args.to.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the baseline to {shown(str(args.to), 200)}: "
                          f"{one_line(exc, 200)}") from exc
    print(f"baseline written to {args.to}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("report", help="write a Markdown report with plots from a results JSON")
    p.add_argument("results", type=Path)
    p.add_argument("--out", type=Path, default=Path("report"))
    p.set_defaults(func=_report)
    p = sub.add_parser("compare", help="exit 1 on verdict changes or drift beyond tolerance")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.set_defaults(func=_compare)
    p = sub.add_parser("baseline", help="deliberately replace the committed CI baseline")
    p.add_argument("results", type=Path)
    p.add_argument("--to", type=Path, default=BASELINE)
    p.set_defaults(func=_baseline)
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
