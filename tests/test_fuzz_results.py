"""Fuzz the harness readers: results JSON (load, report, compare) and claims TOML (registry).

The one contract, for any file: a valid value, or a ``ResultsError`` / ``ClaimError`` (both
``TfnasError``) whose message is one line of at most 500 characters — never another exception,
never a crash, and never more memory than :data:`MEMORY_FACTOR` times the file's size plus
:data:`MEMORY_SLACK` (tracemalloc peak, in-process).

Inputs are the shipped files mutated: a field replaced by an arbitrary JSON/TOML value, deleted,
or nested thousands of levels deep, and the serialised text itself cut or spliced.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import tempfile
import tomllib
import tracemalloc
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.compare import compare_outcomes
from harness.registry import SHIPPED_NAME, ClaimError, claim_files, load_claims
from harness.report import render_markdown, write_report
from harness.results import ResultsError, load_results, outcomes_by_id
from tfnas.errors import TfnasError

FIXTURE = Path(__file__).parent / "fixtures" / "claims_results.json"
DOC = json.loads(FIXTURE.read_text(encoding="utf-8"))
FIXTURE_V2 = Path(__file__).parent / "fixtures" / "claims_results_v2.json"
DOC_V2 = json.loads(FIXTURE_V2.read_text(encoding="utf-8"))
"""The three-way verdicts' fields (readings, diagnoses, deselected, sampling distributions)."""
ENTRIES = [e for p in claim_files(SHIPPED_NAME)
           for e in tomllib.loads(p.read_text(encoding="utf-8"))["claim"]]
load_claims()  # once: parsing imports the proxy and search registries (torch), not per input
MEMORY_FACTOR = 40
"""Peak memory allowed per byte of input (JSON objects cost tens of bytes per source byte)."""
MEMORY_SLACK = 24 * 2**20
"""Peak memory allowed on top, for the interpreter's own allocations while rendering."""
DEEP = "\u0000DEEP{}\u0000"
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _paths(node: Any, prefix: tuple = (), limit: int = 3) -> list[tuple]:
    """Every field path of a document (only the first ``limit`` items of each array)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k), limit)
    elif isinstance(node, list):
        for i, v in enumerate(node[:limit]):
            out += _paths(v, (*prefix, i), limit)
    return out


RESULT_PATHS = [p for p in _paths(DOC) if p[0] in ("claims", "machine_info", "commit_info",
                                                   "datetime", "benchmarks")]
RESULT_PATHS_V2 = [p for p in _paths(DOC_V2, limit=9) if p[0] == "claims"]


def scalars(toml: bool = False) -> st.SearchStrategy:
    base = [st.booleans(), st.integers(-2**63, 2**63 - 1) if toml else st.integers(),
            st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
            st.sampled_from(["not run", "reproduced", "error", "welch", "ratio", "fig3-corr-x",
                             "<script>", "a|b", "cifar10", "accuracy", "best", "search"])]
    return st.one_of(*base) if toml else st.one_of(st.none(), *base)


def values(toml: bool = False) -> st.SearchStrategy:
    keys = st.text(max_size=8) | st.sampled_from(["value", "std", "n", "ci", "label", "rule"])
    return st.recursive(scalars(toml), lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(keys, inner, max_size=4), max_leaves=12)


def mutations(paths: list[tuple], toml: bool = False) -> st.SearchStrategy:
    action = st.one_of(st.tuples(st.just("set"), values(toml)), st.just(("delete", None)),
                       st.tuples(st.just("deep"), st.sampled_from([40, 5_000, 200_000])))
    return st.lists(st.tuples(st.sampled_from(paths), action), min_size=1, max_size=4)


def apply(doc: Any, muts: list) -> Any:
    """Apply mutations to a copy; a path that no longer exists is skipped."""
    doc = copy.deepcopy(doc)
    for path, (kind, arg) in muts:
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            parent[last]  # noqa: B018 - the field must still exist
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, dict | list):  # an earlier mutation made it a string
            continue
        if kind == "delete":
            del parent[last]
        else:
            parent[last] = arg if kind == "set" else DEEP.format(arg)
    return doc


def deepen(text: str) -> str:
    """Replace the deep-nesting markers by that many nested arrays."""
    for depth in (40, 5_000, 200_000):
        marker = json.dumps(DEEP.format(depth))
        text = text.replace(marker, "[" * depth + "]" * depth)
    return text


def splice(text: str, cut: tuple[float, float, str] | None) -> str:
    if cut is None:
        return text
    a, b, insert = cut
    i, j = sorted((int(a * len(text)), int(b * len(text))))
    return text[:i] + insert + text[j:]


cuts = st.none() | st.tuples(st.floats(0, 1), st.floats(0, 1), st.text(max_size=8))


def assert_contract_error(exc: BaseException, kinds: tuple[type, ...]) -> None:
    assert isinstance(exc, kinds) and isinstance(exc, TfnasError), repr(exc)
    message = str(exc)
    assert "\n" not in message and 0 < len(message) <= 500, message


def within_memory(size: int, run) -> Any:
    tracemalloc.start()
    try:
        result = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= MEMORY_FACTOR * size + MEMORY_SLACK, (peak, size)
    return result


def _results_pipeline(path: Path) -> None:
    try:
        data = load_results(path)
    except ResultsError as exc:
        assert_contract_error(exc, (ResultsError,))
        return
    md = render_markdown(data, [])
    assert "<" not in md
    by_id = outcomes_by_id(data)
    assert compare_outcomes(by_id, copy.deepcopy(by_id)) == []  # itself: never a regression
    compare_outcomes(outcomes_by_id(DOC), by_id)


_SCRATCH = tempfile.TemporaryDirectory(prefix="tfnas-fuzz-")  # removed when the module goes
_written = itertools.count()


def _write(text: str | bytes, name: str) -> Path:
    """A fresh folder per example, all of them inside one scratch folder removed at exit
    (hypothesis examples cannot use the function-scoped ``tmp_path``)."""
    folder = Path(_SCRATCH.name) / str(next(_written))
    folder.mkdir()
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@FUZZ
@given(mutations(RESULT_PATHS), cuts)
def test_mutated_results_files_give_a_value_or_a_one_line_error(muts, cut):
    text = splice(deepen(json.dumps(apply(DOC, muts), allow_nan=True)), cut)
    path = _write(text.encode("utf-8", "surrogatepass"), "results.json")
    within_memory(path.stat().st_size, lambda: _results_pipeline(path))


@FUZZ
@given(mutations(RESULT_PATHS_V2), cuts)
def test_mutated_v2_results_files_give_a_value_or_a_one_line_error(muts, cut):
    text = splice(deepen(json.dumps(apply(DOC_V2, muts), allow_nan=True)), cut)
    path = _write(text.encode("utf-8", "surrogatepass"), "results.json")
    within_memory(path.stat().st_size, lambda: _results_pipeline(path))


PLOT_NAMES = {*(f"scatter_{i}.png" for i in range(3)), "top_cells.png",
              *(f"accuracy_{d}.png" for d in ("cifar10", "cifar100", "ImageNet16-120")),
              *(f"sampling_{i}.png" for i in range(16))}
"""Every file a report may write besides report.md (fixed names inside its folder)."""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(RESULT_PATHS + RESULT_PATHS_V2), st.booleans())
def test_mutated_results_files_render_a_report_with_plots_or_refuse(muts, v2):
    """The full report (plots included) for a sample of mutated files."""
    path = _write(deepen(json.dumps(apply(DOC_V2 if v2 else DOC, muts), allow_nan=True)),
                  "results.json")
    try:
        md = write_report(path, path.parent / "report")
    except ResultsError as exc:
        assert_contract_error(exc, (ResultsError,))
        return
    names = {p.name for p in md.parent.iterdir()}
    assert names <= {"report.md", *PLOT_NAMES}, names


# ---------------------------------------------------------------- claims TOML


def _key(k: str) -> str:
    return k if k and all(c.isascii() and (c.isalnum() or c in "-_") for c in k) else \
        json.dumps(k, ensure_ascii=False)


def toml_value(v: Any) -> str:
    """A TOML inline value (enough of TOML for the registry's shapes)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v[1:-1] if v.startswith("\u0000DEEP") else json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_claims(entries: list[dict]) -> str:
    out = []
    for e in entries:
        out.append("[[claim]]")
        out += [f"{_key(k)} = {toml_value(v)}" for k, v in e.items()]
        out.append("")
    text = "\n".join(out)
    for depth in (40, 5_000, 200_000):
        text = text.replace(f"DEEP{depth}", "[" * depth + "]" * depth)
    return text


ENTRY_PATHS = [p for p in _paths(ENTRIES[:60:7]) if p]


def test_the_toml_writer_round_trips_the_shipped_registry():
    assert tomllib.loads(toml_claims(ENTRIES)) == {"claim": ENTRIES}


def _registry_pipeline(path: Path) -> None:
    try:
        claims = load_claims(path)
    except ClaimError as exc:
        assert_contract_error(exc, (ClaimError,))
        return
    for claim in claims.values():
        claim.to_dict()
        for alt in claim.alternatives:
            claim.protocol_for(alt)


@FUZZ
@given(mutations(ENTRY_PATHS, toml=True), cuts)
def test_mutated_registry_files_give_claims_or_a_one_line_error(muts, cut):
    entries = apply(ENTRIES[:60:7], muts)
    text = splice(toml_claims([e for e in entries if isinstance(e, dict)]), cut)
    path = _write(text.encode("utf-8", "surrogatepass"), "claims.toml")
    within_memory(path.stat().st_size, lambda: _registry_pipeline(path))
