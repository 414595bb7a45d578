"""Reproducibility harness: the paper's claims as data, measured as pytest-benchmark benchmarks.

- ``harness/claims.toml``: every claim (paper Tables I-V, Fig. 3, text; published anchors) with
  its protocol, interpretation, alternatives, published value and tolerance rule.
- ``pytest benchmarks/test_claims.py --benchmark-json results.json``: one benchmark per claim;
  outcomes (not-run ones included) go to the JSON's top-level ``claims`` entry.
  Options: ``--score-source tables|live``, ``--score-tables DIR``, ``--score-store DB``,
  ``--repetitions N``, ``--bootstrap N``. Markers: ``fast`` (CI subset), ``live`` (timing
  claims: they always score live, minutes to hours on CPU; CI deselects them with
  ``-m "fast and not live"``).
- ``python -m harness report results.json --out DIR``: Markdown report with PNG plots.
- ``python -m harness compare old.json new.json``: exit 1 on verdict change or drift.
- ``python -m harness baseline results.json``: deliberately replace ``benchmarks/baseline.json``.
"""
