"""Scoring-noise realisations: seed 0 is the committed table, seed s replaces the re-scored cells."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness.noise import (
    NoiseError,
    load_noise,
    main,
    noise_for,
    read_cells,
    render,
    summarise_noise,
)
from tfnas.space import SPACE_SIZE, arch_at
from tfnas.tables import table_path, write_table

TOP, UNIFORM = [5, 3, 9], [100, 200, 300, 400]


def fake_root(tmp_path: Path, seeds: dict[int, dict[int, float]]) -> Path:
    """A noise folder: the cells file and, per seed, a partial table of the given cells."""
    root = tmp_path / "noise"
    root.mkdir()
    (root / "cells-naswot-cifar10.txt").write_text(
        f"# top {len(TOP)} of the table, then {len(UNIFORM)} uniform cells\n"
        + "".join(f"{c}\n" for c in TOP + UNIFORM))
    for s, cells in seeds.items():
        write_table(table_path("naswot", "cifar10", root / f"seed{s}"), "naswot", "cifar10",
                    {arch_at(i): v for i, v in cells.items()}, {"seed": s})
    return root


def base_column() -> np.ndarray:
    col = np.linspace(0.0, 1.0, SPACE_SIZE)
    col[[5, 3, 9]] = [10.0, 9.9, 9.8]
    col[7] = -math.inf
    return col


def test_seed_zero_is_the_base_and_others_replace_only_rescored_cells(tmp_path: Path) -> None:
    rescored = {c: 5.0 + c for c in TOP + UNIFORM}
    root = fake_root(tmp_path, {1: rescored, 3: {c: -1.0 for c in TOP + UNIFORM}})
    base = base_column()
    noise = load_noise("naswot", "cifar10", base, root)
    assert noise is not None and noise.seeds == (0, 1, 3) and noise.missing == (2, 4, 5)
    assert noise.realisations[0].scores is base
    one = noise.realisations[1].scores
    assert [one[c] for c in TOP + UNIFORM] == [5.0 + c for c in TOP + UNIFORM]
    untouched = np.setdiff1d(np.arange(SPACE_SIZE), TOP + UNIFORM)
    assert np.array_equal(one[untouched], base[untouched])  # not re-scored: seed-0 score kept
    assert noise.top.tolist() == TOP and noise.uniform.tolist() == UNIFORM
    assert noise.describe()["missing_seeds"] == [2, 4, 5]


def test_no_cells_file_means_no_realisations(tmp_path: Path) -> None:
    assert load_noise("synflow", "cifar10", base_column(), tmp_path) is None
    # a proxy re-scored on one dataset only: the others need no table (the command lists them)
    (tmp_path / "cells-vkdnw-cifar10.txt").write_text("# top 0\n" + f"{UNIFORM[0]}\n")
    assert noise_for("vkdnw", "ImageNet16-120", tmp_path) is None


def test_a_bad_cells_file_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "cells.txt"
    path.write_text("1\nabc\n")
    with pytest.raises(NoiseError, match="cells.txt"):
        read_cells(path)


def test_summary_measures_within_cell_noise_and_top_changes(tmp_path: Path) -> None:
    base = base_column()
    swapped = {5: 9.0, 3: 10.5, 9: 9.8, **{c: float(base[c]) for c in UNIFORM}}
    root = fake_root(tmp_path, {1: swapped, 2: {c: float(base[c]) for c in TOP + UNIFORM}})
    s = summarise_noise(load_noise("naswot", "cifar10", base, root))
    assert s.top_changes == 0.5  # seed 1's best cell is 3, seed 2's is 5 (= seed 0's)
    assert s.within_uniform == 0.0 and s.within_top > 0
    assert s.rank_corr_uniform == pytest.approx(1.0)
    assert "| naswot | cifar10 | 0,1,2 (3,4,5) |" in render([s])


def test_the_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "| proxy | dataset |" in out


def test_uniform_only_realisations_leave_the_top_statistics_undefined(tmp_path: Path) -> None:
    """A proxy re-scored on uniform cells only (scripts/rescore-suite-noise): no top-cell
    statistic is claimed ("—"), the uniform ones are measured."""
    root = tmp_path / "noise"
    root.mkdir()
    (root / "cells-grasp-cifar10.txt").write_text("# top 0 (none), then uniform\n"
                                                   + "".join(f"{c}\n" for c in UNIFORM))
    base = base_column()
    flipped = {c: float(-base[c]) for c in UNIFORM}
    write_table(table_path("grasp", "cifar10", root / "seed1"), "grasp", "cifar10",
                {arch_at(i): v for i, v in flipped.items()}, {"seed": 1})
    s = summarise_noise(load_noise("grasp", "cifar10", base, root))
    assert math.isnan(s.top_changes) and math.isnan(s.within_top) and math.isnan(s.rank_corr_top)
    assert s.rank_corr_uniform == pytest.approx(-1.0)
    assert "| — | 0.0000 |" not in render([s]) and "| -1.0000 | — |" in render([s])


def test_a_constant_table_has_no_relative_noise(tmp_path: Path) -> None:
    root = fake_root(tmp_path, {1: {c: 0.0 for c in TOP + UNIFORM}})
    s = summarise_noise(load_noise("naswot", "cifar10", np.zeros(SPACE_SIZE), root))
    assert s.space_std == 0 and math.isnan(s.within_uniform) and math.isnan(s.within_top)
