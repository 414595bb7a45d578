"""``python -m harness report|compare|baseline`` — the reproduction report and the CI check."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.results import ResultsError, load_results

BASELINE = Path(__file__).resolve().parents[1] / "benchmarks" / "baseline.json"


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


def _baseline(args: argparse.Namespace) -> int:
    data = load_results(args.results)
    for rec in data["claims"]["outcomes"]:  # plots' raw points are not needed to compare
        for side in (rec.get("details") or {}, *(rec.get("details") or {}).values()):
            if isinstance(side, dict):
                side.pop("scatter", None)
                side.pop("values", None)
    data["benchmarks"] = [{k: v for k, v in b.items() if k != "extra_info"}
                          for b in data.get("benchmarks", [])]
    args.to.parent.mkdir(parents=True, exist_ok=True)
    args.to.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"baseline written to {args.to}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
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
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ResultsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
