"""Render a results JSON as a Markdown reproduction report with PNG plots (matplotlib, Agg)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.results import load_results, outcomes_by_id
from harness.verdicts import STATUSES

TABLE_ORDER = ("Fig. 3", "Table I", "Table II", "Table III", "Table IV", "Table V",
               "Text claims", "Anchors")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "nan" if x != x else f"{x:.{digits}g}"
    return str(x)


def _estimate(e: dict | None) -> str:
    if not e:
        return "–"
    text = _fmt(e.get("value"))
    if e.get("std") is not None:
        text += f" ± {_fmt(e['std'], 3)}"
    if e.get("ci") is not None:
        lo, hi = e["ci"]
        text += f" [{_fmt(lo, 3)}, {_fmt(hi, 3)}]"
    if e.get("n") is not None:
        text += f" (n={e['n']})"
    return text


def _matching(rec: dict) -> str:
    hits = [a["label"] for a in rec.get("alternatives_run", []) if a.get("passed")]
    return "; ".join(hits) if hits else "none"


def _row(rec: dict) -> str:
    pub = rec.get("published")
    if rec.get("reference") is not None:
        pub_text = f"B = {_estimate(rec['reference'])}"
    else:
        pub_text = _estimate(pub) if pub and pub.get("value") == pub.get("value") else "–"
    j = rec.get("judgement") or {}
    if not j:
        margin = rec.get("reason", "")
    elif "ratio" in (j.get("statistic") or {}):  # the ratio rule allows a factor, not a difference
        margin = f"×{_fmt(j['statistic']['ratio'], 3)} (allowed ×{_fmt(j.get('allowed'), 3)})"
    else:
        margin = f"{_fmt(j.get('difference'), 3)} (allowed {_fmt(j.get('allowed'), 3)})"
    return (f"| `{rec['id']}` | {rec.get('title', '')} | {pub_text} | "
            f"{_estimate(rec.get('reproduced'))} | {margin} | **{rec['status']}** | "
            f"{_matching(rec) if rec['status'] != 'not run' else '–'} |")


def render_markdown(data: dict[str, Any], plots: list[str]) -> str:
    """The report text: summary first, then one table per paper table, then per-claim detail."""
    claims = data["claims"]
    recs = sorted(claims["outcomes"], key=lambda r: r["id"])
    counts = {s: sum(r["status"] == s for r in recs) for s in STATUSES}
    lines = ["# Reproduction report: Training Free Neural Architecture Search", ""]
    lines.append("**Summary:** " + ", ".join(f"{v} {k}" for k, v in counts.items())
                 + f" — {len(recs)} claims.")
    lines.append("")
    for status in ("not reproduced", "unexpectedly reproduced", "known divergence", "not run"):
        ids = [r["id"] for r in recs if r["status"] == status]
        if ids:
            lines.append(f"- *{status}*: " + ", ".join(f"`{i}`" for i in ids))
    lines += ["", "## Run", ""]
    mi = data.get("machine_info", {})
    tf = mi.get("tfnas", {})
    lines.append(f"- machine: {mi.get('node', '?')}, {mi.get('cpu', {}).get('brand_raw', '?')}, "
                 f"{tf.get('cpu_count', '?')} CPUs, torch {tf.get('torch', '?')} "
                 f"({tf.get('torch_threads', '?')} threads), Python {mi.get('python_version', '?')}")
    ci = data.get("commit_info", {})
    lines.append(f"- commit: {ci.get('id', '?')} (dirty: {ci.get('dirty', '?')}); "
                 f"date {data.get('datetime', '?')}")
    lines.append(f"- options: {claims.get('options', {})}")
    for name, digest in sorted(tf.get("data_sha256", {}).items()):
        lines.append(f"- data `{name}`: sha256 {digest[:16]}…")
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        groups[r.get("table") or "Other"].append(r)
    order = [t for t in TABLE_ORDER if t in groups] + sorted(set(groups) - set(TABLE_ORDER))
    for table in order:
        lines += ["", f"## {table}", "",
                  "| claim | what | published | reproduced | difference | verdict | "
                  "alternatives that match |",
                  "|---|---|---|---|---|---|---|"]
        lines += [_row(r) for r in groups[table]]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p}]({p})" for p in plots]
    lines += ["", "## Claim details", ""]
    for r in recs:
        lines += _details(r)
    return "\n".join(lines) + "\n"


def _details(r: dict) -> list[str]:
    out = [f"### `{r['id']}` — {r['status']}", "", f"- source: {r.get('source', '')}",
           f"- interpretation: {r.get('interpretation', '')}"]
    tol = r.get("tolerance") or {}
    out.append(f"- tolerance: {tol.get('rule')} "
               + ", ".join(f"{k}={tol[k]}" for k in ("alpha", "margin", "factor")
                           if tol.get(k) is not None)
               + f" — {tol.get('justification', '')}")
    if r.get("judgement"):
        out.append(f"- test: {r['judgement']['explanation']}")
    if r.get("reason"):
        out.append(f"- not run because: {r['reason']}")
    if r.get("known_divergence"):
        out.append(f"- diagnosis (known divergence): {r['known_divergence']}")
    if r.get("notes"):
        out.append(f"- notes: {r['notes']}")
    details = r.get("details") or {}
    if "methods" in details:
        for m in details["methods"]:
            means = ", ".join(f"{d} {_fmt(v)}" for d, v in m["means"].items())
            out.append(f"  - {m['method']}: {means} → best {m['best']}")
    for a in r.get("alternatives_run", []):
        if a.get("status") == "not run":
            out.append(f"  - alternative *{a['label']}*: not run ({a['reason']})")
        else:
            out.append(f"  - alternative *{a['label']}*: {_estimate(a['reproduced'])} → "
                       f"{'matches' if a['passed'] else 'does not match'} ({a['explanation']})")
    out.append("")
    return out


def _plot_scatter(by_id: dict[str, dict], out: Path) -> str | None:
    import matplotlib.pyplot as plt

    recs = [by_id.get(f"fig3-corr-{d}") for d in DATASETS]
    if not any(r and (r.get("details") or {}).get("scatter") for r in recs):
        return None
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, d, r in zip(axes, DATASETS, recs, strict=True):
        sc = (r or {}).get("details", {}).get("scatter")
        ax.set_title(d)
        if not sc:
            ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
            continue
        ax.scatter(sc["score"], sc["accuracy"], s=3, alpha=0.4)
        rv = r["reproduced"]["value"]
        ax.set_xlabel("NASWOT score")
        ax.set_ylabel("12-epoch validation accuracy (%)")
        ax.text(0.03, 0.95, f"r = {rv:.3f} (paper {r['published']['value']})",
                transform=ax.transAxes, va="top")
    fig.tight_layout()
    name = "fig3_scatter.png"
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name


def _plot_distributions(recs: list[dict], out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    names = []
    for d in DATASETS:
        rows = [r for r in recs if r["status"] != "not run" and r.get("kind") == "search"
                and (r.get("protocol") or {}).get("dataset") == d
                and r["protocol"].get("quantity") == "accuracy"
                and r["protocol"].get("selection") == "best"
                and (r.get("details") or {}).get("values")]
        if not rows:
            continue
        fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows)), 4))
        ax.boxplot([r["details"]["values"] for r in rows])
        ax.set_xticks(range(1, len(rows) + 1), [f"{r['id'].replace(f'-{d}', '')} ({r['protocol']['metric']})" for r in rows],
                      rotation=60, ha="right", fontsize=7)
        for i, r in enumerate(rows, start=1):
            pub = (r.get("published") or {}).get("value")
            if pub is not None:
                ax.plot(i, pub, "r_", markersize=18)
        ax.set_ylabel("accuracy of the selected cell (%)")
        ax.set_title(f"{d}: selected-cell accuracy per method (red: published mean)")
        fig.tight_layout()
        name = f"accuracy_{d}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        names.append(name)
    return names


def write_report(results: str | Path, out_dir: str | Path = "report") -> Path:
    """Write ``report.md`` and its PNGs into ``out_dir``; return the Markdown path."""
    import matplotlib

    matplotlib.use("Agg")
    data = load_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_id = outcomes_by_id(data)
    plots = [p for p in [_plot_scatter(by_id, out)] if p]
    plots += _plot_distributions(list(by_id.values()), out)
    path = out / "report.md"
    path.write_text(render_markdown(data, plots), encoding="utf-8")
    return path
