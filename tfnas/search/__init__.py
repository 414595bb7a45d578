"""Searches over the NATS-Bench topology space driven by a scorer (proxy, table or oracle)."""

from tfnas.search._run import CostError
from tfnas.search.random_search import random_search
from tfnas.search.rea import BudgetNotReachedError, Cycle, Member, rea
from tfnas.search.repeat import repeat, run_seeds
from tfnas.search.scorers import (
    DATASETS,
    MissingScoreError,
    OracleScorer,
    ProxyScorer,
    Scorer,
    TableScorer,
)
from tfnas.search.trace import (
    Evaluation,
    Trace,
    TraceError,
    summarize,
    traces_from_json,
    traces_to_json,
    write_search_json,
)

__all__ = [
    "DATASETS", "BudgetNotReachedError", "CostError", "Cycle", "Evaluation", "TraceError", "Member", "MissingScoreError", "OracleScorer",
    "ProxyScorer", "Scorer", "TableScorer", "Trace", "random_search", "rea", "repeat",
    "run_seeds", "summarize", "traces_from_json", "traces_to_json",
    "write_search_json",
]
