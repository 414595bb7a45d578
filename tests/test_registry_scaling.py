"""Loading a folder of claims files is linear in the number of files: no step compares every file
with every other (the old duplicate-path check resolved every earlier path once per file, so 4,000
files took minutes). The work is counted, not timed: calls that touch the file system (``stat``,
``lstat``, ``Path.resolve``) and claim parses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import harness.registry as registry

CLAIM = '''[[claim]]
id = "c{i}"
title = "t"
source = "s"
kind = "correlation"
protocol = {{ proxy = "synflow", dataset = "cifar10", metric = "test200", coefficient = "spearman" }}
published = {{ value = 0.5 }}
tolerance = {{ rule = "equivalence", margin = 0.05, justification = "j" }}
interpretation = "i"
'''


def _folder(root: Path, n: int) -> Path:
    folder = root / f"claims{n}"
    folder.mkdir()
    for i in range(n):
        (folder / f"f{i:05d}.toml").write_text(CLAIM.format(i=i), encoding="utf-8")
    return folder


def _counted_load(monkeypatch: pytest.MonkeyPatch, folder: Path) -> int:
    """The number of file-system look-ups and claim parses one load of ``folder`` makes."""
    count = 0

    def counting(fn):
        def wrapped(*args, **kwargs):
            nonlocal count
            count += 1
            return fn(*args, **kwargs)
        return wrapped

    with monkeypatch.context() as m:
        m.setattr(os, "stat", counting(os.stat))
        m.setattr(os, "lstat", counting(os.lstat))
        m.setattr(Path, "resolve", counting(Path.resolve))
        m.setattr(registry, "parse_claim", counting(registry.parse_claim))
        reg = registry.load_registry([folder])
    assert len(reg.claims) == len(reg.files)
    return count


def test_loading_twice_the_files_is_at_most_twice_the_work(tmp_path, monkeypatch):
    registry.load_registry()  # imports and caches, so both counts see only the loading
    small = _counted_load(monkeypatch, _folder(tmp_path, 150))
    large = _counted_load(monkeypatch, _folder(tmp_path, 300))
    assert small >= 150  # the count sees the work: at least one parse a file
    assert large <= 2 * small + 20, (small, large)


def test_file_of_answers_every_claim(tmp_path):
    reg = registry.load_registry([_folder(tmp_path, 30)])
    assert all(reg.file_of(f"c{i}") == str(tmp_path / "claims30" / f"f{i:05d}.toml")
               for i in range(30))
    assert reg.file_of("nope") is None
