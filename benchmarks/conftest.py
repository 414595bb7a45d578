"""The project's choices for its benchmarks; options, fixtures and recording are the plugin's.

    pytest benchmarks/ --benchmark-json results.json         # the main job: every shipped claim
    pytest benchmarks/ -m perf                                # the library's throughput benchmarks
    pytest benchmarks/ -m "not live" ...                     # what CI runs (every non-live claim)
    pytest benchmarks/ -m live                                # timing claims, scored live (slow on CPU)
    pytest benchmarks/ --claims shipped --claims my.toml      # the shipped claims and a user's own

``harness.plugin`` is also the ``pytest11`` entry point of the installed package; naming it here
too keeps a checkout whose environment predates the entry point (or runs with
PYTEST_DISABLE_PLUGIN_AUTOLOAD) working. Both name the plugin ``harness.plugin``, so it loads once.
"""

pytest_plugins = ["harness.plugin"]


import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture
def two_threads(request: pytest.FixtureRequest):
    """torch's intra-op threads set to the module's ``THREADS`` (default 2) for one test, then
    restored: the throughput benchmarks measure on the threads they state."""
    saved = torch.get_num_threads()
    torch.set_num_threads(getattr(request.module, "THREADS", 2))
    yield
    torch.set_num_threads(saved)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The library's throughput benchmarks (marker ``perf``) are their own job: the main job
    ``pytest benchmarks/`` deselects them unless the ``-m`` expression names ``perf``
    (``pytest benchmarks/ -m perf``)."""
    if "perf" in (config.getoption("markexpr") or ""):
        return
    perf = [item for item in items if item.get_closest_marker("perf") is not None]
    if perf:
        config.hook.pytest_deselected(items=perf)
        items[:] = [item for item in items if item.get_closest_marker("perf") is None]
