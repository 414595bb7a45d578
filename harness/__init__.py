"""Reproducibility harness: the paper's claims as data, measured as pytest-benchmark benchmarks.

- ``harness/claims/*.toml``: every claim (paper Tables I-V, Fig. 3, text; published anchors), one
  file per source paper, with its protocol, interpretation, alternatives, published value and
  tolerance rule (schema: ``docs/claims.md``).
- ``pytest benchmarks/test_claims.py --benchmark-json results.json``: one benchmark per claim;
  outcomes (not-run ones included) go to the JSON's top-level ``claims`` entry. The plugin
  (``harness.plugin``, a ``pytest11`` entry point) owns the options: ``--claims FILE`` (repeatable;
  ``shipped`` = the shipped folder), ``--score-source tables|live``, ``--score-tables DIR``,
  ``--score-store DB``, ``--repetitions N``, ``--bootstrap N``. Markers: ``fast`` (a quick subset), ``live`` (timing
  claims: they always score live, minutes to hours on CPU; CI runs every other claim with
  ``-m "not live"``).
- ``python -m harness report results.json --out DIR``: Markdown report with PNG plots.
- ``python -m harness compare old.json new.json``: exit 1 on verdict change or drift.
- ``python -m harness baseline results.json``: deliberately replace ``benchmarks/baseline.json``.

Results files and the registry are untrusted input: ``harness.results.load_results`` validates a
results JSON once against the schema the plugin writes (size, depth, types, claim-id charset,
statuses), ``harness.registry`` refuses malformed or non-finite entries, and the report escapes
everything taken from data. Every refusal is a ``TfnasError`` with a one-line message; the CLI
prints it on stderr and exits 2, never with a traceback. A claim whose inputs are refused is
*not run* with the reason; one whose test crashes is recorded with status ``error``.
"""
