"""Shared test set-up: hypothesis profiles and the data location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE (default: "ci" under CI, else "dev"):
#   "ci": derandomised, so a CI run is reproducible;
#   "dev": the developer's default: random exploration (each run tries other examples), but no
#          more examples than CI runs, so the unit tier stays fast;
#   "thorough": opt-in, 10x CI's examples for tests that do not fix their own count
#          (HYPOTHESIS_PROFILE=thorough pytest tests/test_x.py).
CI_EXAMPLES = 50
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=CI_EXAMPLES,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Every setting a profile depends on is named: under a CI variable hypothesis loads a "ci" profile
# of its own (derandomised) before this file runs, and a new profile inherits the loaded one.
settings.register_profile("dev", deadline=None, derandomize=False, max_examples=CI_EXAMPLES)
settings.register_profile("thorough", deadline=None, derandomize=False,
                          max_examples=10 * CI_EXAMPLES,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# A live search keeps a default score store in the user's cache (tfnas.config.cache_dir): tests
# (and the subprocesses they start, which inherit the environment) keep theirs in a temporary folder.
if "TFNAS_CACHE" not in os.environ:
    import tempfile

    os.environ["TFNAS_CACHE"] = tempfile.mkdtemp(prefix="tfnas-test-cache-")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """``TFNAS_DATA``; a test that needs data fails with the setting's own clear message."""
    from tfnas.config import data_root as _data_root

    root = _data_root()
    assert root is not None
    return root


@pytest.fixture(scope="session")
def fake_archive(data_root: Path) -> Path:
    """The official fake NATS-Bench archive (cells 0, 11, 284 evaluated)."""
    return data_root / "nats-tss" / "NATS-tss-v1_0-3ffb9-simple"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_session():
    """Every test runs on one torch thread unless it sets another count itself (and restores it).

    The same reason as :func:`one_torch_thread`, for the whole run: on a shared 2-core machine
    tests/test_naswot.py and tests/test_network.py took 137 s on torch's default two threads and
    46 s on one. What a test checks does not change: a test of thread counts sets its own
    (tests/test_scoring_settings.py); subprocesses keep torch's default.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Score on one torch thread for a module, as the sweep's workers do, then restore the count.

    On a busy 2-core machine two torch threads spin against each other (measured ~30x slower).
    Scores do not depend on it: ``tfnas.scoring`` scores every proxy on one thread whatever the
    caller's count (tests/test_scoring_settings.py checks the bits); a proxy function called
    directly runs on the count set here.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
