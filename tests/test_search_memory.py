"""The search bounds hold in measured memory: ``--json`` streams the traces, so a search at
``MAX_TOTAL_EVALUATIONS`` stays within what ``WHY_TOTAL`` states, ``--json`` or not.

Peak resident memory is measured in child processes (``ru_maxrss``) at two numbers of
evaluations; the slope is the memory one evaluation costs, and the small run's peak plus slope ×
bound (the whole process at the bound, interpreter and torch included) must fit the stated
figure. The JSON written piece by piece is byte for byte what one ``json.dumps`` would write.
"""

from __future__ import annotations

import json
import math
import random
import resource
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.search import TableScorer, random_search, rea, write_search_json
from tfnas.search.limits import MAX_TOTAL_EVALUATIONS, STATED_TRACE_BYTES
from tfnas.space import all_cells

SCORES = {a: float(i % 97) for i, a in enumerate(all_cells())}


@settings(max_examples=25, deadline=None)
@given(repeats=st.integers(0, 4), seed=st.integers(0, 2**32 - 1), minus_inf=st.booleans(),
       keys=st.lists(st.sampled_from(["valid12", "test200", "score", "wall_seconds"]),
                     unique=True))
def test_streamed_json_is_exactly_json_dumps(repeats: int, seed: int, minus_inf: bool,
                                             keys: list[str]) -> None:
    scores = dict(SCORES)
    if minus_inf:
        for arch in random.Random(seed).sample(all_cells(), 5000):
            scores[arch] = -math.inf
    traces = [(rea(TableScorer(scores, "t"), 6, 3, 20, seed + i) if i % 2 else
               random_search(TableScorer(scores, "t"), 7, seed + i)) for i in range(repeats)]
    summary = {k: [1.5, "inf" if minus_inf else 0.25] for k in keys}
    parts: list[str] = []
    write_search_json(parts.append, summary, traces)
    whole = json.dumps({"summary": summary, "traces": [t.to_dict() for t in traces]}, indent=1,
                       allow_nan=False)
    assert "".join(parts) == whole
    assert len(parts) == repeats + 2  # one piece per trace: never the whole document at once


def _peak_rss_bytes(repeats: int, json_path: str) -> int:
    """Peak RSS of ``tfnas search random`` over a table, ``repeats`` runs of 1,000 cells.

    Linux keeps ``ru_maxrss`` across ``execve``, so a child of a large pytest process would
    report the parent's size; ``VmHWM`` belongs to the child's own address space, so it is read
    where there is one (``ru_maxrss`` elsewhere)."""
    code = ("import resource, sys; from tfnas.cli import main; rc = main(sys.argv[1:]); "
            "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')] "
            "if sys.platform.startswith('linux') else []; "
            "print(hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "file=sys.stderr); sys.exit(rc)")
    done = subprocess.run(
        [sys.executable, "-c", code, "search", "random", "--proxy", "params", "--dataset",
         "cifar10", "--n", "1000", "--repeats", str(repeats), "--table", "--json", json_path],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    kib = int(done.stderr.strip().splitlines()[-1])
    return kib * 1024 if sys.platform != "darwin" else kib


@pytest.mark.integration
@pytest.mark.skipif(not hasattr(resource, "getrusage"), reason="needs getrusage")
def test_a_search_at_the_evaluation_bound_fits_the_stated_memory(tmp_path) -> None:
    small, large = 10, 160  # 10,000 and 160,000 evaluations
    low = _peak_rss_bytes(small, str(tmp_path / "small.json"))
    high = _peak_rss_bytes(large, str(tmp_path / "large.json"))
    per_evaluation = (high - low) / ((large - small) * 1000)
    assert len(json.loads((tmp_path / "large.json").read_text())["traces"]) == large
    traces = per_evaluation * MAX_TOTAL_EVALUATIONS  # above the process's baseline (torch's build)
    assert traces <= STATED_TRACE_BYTES, (
        f"{per_evaluation:.0f} bytes per evaluation: {traces / 2**20:.0f} MiB of traces at the "
        f"bound, beside a {low / 2**20:.0f} MiB process")
