"""Options of the claim benchmarks; the harness plugin does the recording.

    pytest benchmarks/ --benchmark-json results.json         # every claim, score tables
    pytest benchmarks/ -m "fast and not live" ...            # the CI subset
    pytest benchmarks/ -m live                                # timing claims, scored live (slow on CPU)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.evaluate import SCORE_SOURCES, Context

pytest_plugins = ["harness.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims", "reproduction claims")
    group.addoption("--score-source", choices=SCORE_SOURCES, default="tables",
                    help="proxy scores from the full-space tables (default) or scored live")
    group.addoption("--score-tables", type=Path, default=None,
                    help="folder of score tables (default: benchmarks/scores/)")
    group.addoption("--score-store", type=Path, default=None,
                    help="SQLite score store for live scoring (memoises across runs)")
    group.addoption("--repetitions", type=int, default=None,
                    help="override every claim's number of repetitions (timing claims excepted)")
    group.addoption("--bootstrap", type=int, default=200,
                    help="bootstrap resamples for correlation confidence intervals")


@pytest.fixture(scope="session")
def claims_context(pytestconfig: pytest.Config) -> Context:
    """Run settings and data loaded once per session."""
    from harness.plugin import OPTIONS  # imported late: pytest registers the plugin first

    opts = {k: pytestconfig.getoption(k) for k in
            ("score_source", "score_tables", "score_store", "repetitions", "bootstrap")}
    pytestconfig.stash[OPTIONS] = {k: (str(v) if isinstance(v, Path) else v)
                                   for k, v in opts.items()}
    return Context(score_source=opts["score_source"], tables_root=opts["score_tables"],
                   repetitions=opts["repetitions"], bootstrap=opts["bootstrap"],
                   store_path=opts["score_store"])
