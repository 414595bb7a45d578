"""Scoring-noise realisations of a score table, and the noise they measure.

``scripts/rescore-noise`` re-scored, for each proxy and dataset, the top cells of the committed
table and a uniform sample of cells under further score seeds (other network inits and another
batch). Realisation 0 is the committed table ``benchmarks/scores/<proxy>-<dataset>.csv.gz``;
realisation ``s`` is that table with the re-scored cells replaced by their seed-``s`` scores
(``benchmarks/noise/seed<s>/<proxy>-<dataset>.csv.gz``, a partial table). **Cells that were not
re-scored keep their seed-0 score in every realisation**: the realisations differ only on the
re-scored cells (the top of the ranking, where near-ties decide what a search finds, and a
uniform sample). Seeds whose file is not there yet are skipped and listed (:attr:`Noise.missing`).

``python -m harness.noise [--root DIR]`` prints the measured noise per proxy and dataset.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from tfnas.bounded import read_text
from tfnas.config import noise_root
from tfnas.errors import TfnasError, shown, shown_path

NOISE_PROXIES = ("synflow", "naswot")
"""The proxies whose top cells were re-scored too (scripts/rescore-noise); every other suite
proxy has uniform cells only (scripts/rescore-suite-noise): :func:`noise_proxies` lists all."""
NOISE_SEEDS = (1, 2, 3, 4, 5)
"""The further score seeds ``scripts/rescore-noise`` computes."""


class NoiseError(TfnasError, ValueError):
    """A noise file that cannot be read as expected; the message names it."""


@dataclass(frozen=True)
class Realisation:
    """One scoring realisation of a full score column (cell index order)."""

    seed: int
    scores: np.ndarray


@dataclass(frozen=True)
class Noise:
    """The realisations of one table, the re-scored cells (``top`` and ``uniform``, cell
    indices) and the seeds asked for but not found."""

    proxy: str
    dataset: str
    realisations: tuple[Realisation, ...]
    top: np.ndarray
    uniform: np.ndarray
    missing: tuple[int, ...]

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.realisations)

    def describe(self) -> dict[str, object]:
        """What an outcome records of the realisations it used."""
        return {"seeds": list(self.seeds), "missing_seeds": list(self.missing),
                "rescored_cells": int(self.top.size + self.uniform.size),
                "note": "seed 0 = the committed table; seed s = it with the re-scored cells "
                        "replaced by their seed-s scores (other cells keep their seed-0 score)"}


MAX_CELLS_BYTES = 256 << 10
"""The largest cells file read: every cell of the space once (six digits and a newline each) and
a header line, with room to spare (256 KiB)."""

_INDEX = re.compile(r"0|[1-9][0-9]{0,8}", re.ASCII)
_TOP = re.compile(r"# top (0|[1-9][0-9]{0,8})(?: .*)?", re.ASCII)


def read_cells(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The re-scored cells file: (top cells, uniform cells), by the header's ``top K``.

    Strict: a regular UTF-8 file of at most :data:`MAX_CELLS_BYTES`; comment lines start with
    ``#`` and exactly one of them is ``# top K ...``; every other non-empty line is one cell index
    in plain ASCII decimal (no sign, spaces or leading zeros), inside the space, written once;
    ``K`` is at most the number of cells.
    """
    from tfnas.spaces import get_space

    where = shown_path(path)
    text = read_text(path, MAX_CELLS_BYTES, NoiseError, "noise cells file",
                     "expected a '# top K' header and one cell index a line")
    size = get_space(None).size
    tops: list[int] = []
    cells: list[int] = []
    seen: set[int] = set()
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.startswith("#"):
            match = _TOP.fullmatch(line)
            if match:
                tops.append(int(match.group(1)))
            continue
        if not line:
            continue
        if not _INDEX.fullmatch(line):
            raise NoiseError(f"{where}:{lineno}: {shown(line)} is not a cell index; expected "
                             "one plain decimal index a line")
        index = int(line)
        if index >= size:
            raise NoiseError(f"{where}:{lineno}: cell index {index} is outside the space; "
                             f"expected 0 to {size - 1}")
        if index in seen:
            raise NoiseError(f"{where}:{lineno}: cell index {index} is listed twice; expected "
                             "each cell once")
        seen.add(index)
        cells.append(index)
    if len(tops) != 1:
        raise NoiseError(f"{where}: found {len(tops)} '# top K' header lines; expected exactly "
                         "one")
    k = tops[0]
    if k > len(cells):
        raise NoiseError(f"{where}: the header says top {k} but the file lists {len(cells)} "
                         "cells; expected K at most the number of cells")
    found = np.array(cells, dtype=np.int64)
    return found[:k], found[k:]


def score_column(table: object) -> np.ndarray:
    """A loaded table's scores in cell index order (NaN where a cell has none)."""
    from tfnas.spaces import get_space

    space = get_space(table.space)  # type: ignore[attr-defined]
    col = np.full(space.size, np.nan)
    for arch, s in table.scores.items():  # type: ignore[attr-defined]
        col[space.index_of(arch)] = s
    return col


SAME_SCORING = ("scoring_version", "batch_size", "precision", "origin")
"""Settings a realisation must share with the table it perturbs (the seed and the batch's
identity are what differ between realisations)."""


def _settings(table: object) -> dict[str, object] | None:
    import json

    text = table.provenance.get("settings", "")  # type: ignore[attr-defined]
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def load_noise(proxy: str, dataset: str, base: np.ndarray, root: Path | None = None,
               seeds: Sequence[int] = NOISE_SEEDS, table: object = None) -> Noise | None:
    """The realisations of ``base`` (the committed column, seed 0), or None when ``proxy`` has
    no re-scored cells for ``dataset`` (no cells file) or, given the ``table`` that ``base``
    comes from, when a realisation was scored under other settings than it
    (:data:`SAME_SCORING`: another scoring version, batch or arithmetic, or a table without
    recorded settings; such realisations measure another table's noise, not this one's)."""
    from tfnas.tables import TableNotFoundError, load_table

    root = noise_root() if root is None else Path(root)
    cells_path = root / f"cells-{proxy}-{dataset}.txt"
    if not os.path.lexists(cells_path):
        return None
    wanted = None if table is None else _settings(table)
    if table is not None and wanted is None:
        return None
    top, uniform = read_cells(cells_path)
    found, missing = [Realisation(0, base)], []
    for s in seeds:
        try:
            part = load_table(proxy, dataset, root=root / f"seed{s}")
        except TableNotFoundError:
            missing.append(s)
            continue
        if wanted is not None:
            other = _settings(part)
            if other is None or any(other.get(k) != wanted.get(k) for k in SAME_SCORING):
                return None
        found.append(Realisation(s, _replaced(base, part)))
    return Noise(proxy, dataset, tuple(found), top, uniform, tuple(missing))


def _replaced(base: np.ndarray, part: object) -> np.ndarray:
    col = score_column(part)
    return np.where(np.isnan(col), base, col)


@dataclass(frozen=True)
class NoiseSummary:
    """The measured noise of one table (see :func:`summarise_noise`)."""

    proxy: str
    dataset: str
    seeds: tuple[int, ...]
    missing: tuple[int, ...]
    space_std: float
    within_uniform: float
    within_top: float
    within_top_abs: float
    """Within-cell std on the top cells, in score units."""
    top5_range: float
    """Range of the committed (seed-0) scores of the five best cells: the near-ties."""
    top_changes: float
    rank_corr_uniform: float
    rank_corr_top: float


def _within_std(cols: np.ndarray, cells: np.ndarray) -> float:
    """Root-mean within-cell variance (ddof=1) over ``cells`` with finite scores in every seed."""
    x = cols[:, cells]
    x = x[:, np.all(np.isfinite(x), axis=0)]
    if x.shape[0] < 2 or x.shape[1] == 0:
        return float("nan")
    return float(np.sqrt(np.mean(np.var(x, axis=0, ddof=1))))


def _mean_rank_corr(cols: np.ndarray, cells: np.ndarray) -> float:
    if cells.size < 3:
        return float("nan")
    x = cols[:, cells]
    x = np.where(np.isfinite(x), x, np.nanmin(np.where(np.isfinite(x), x, np.nan)) - 1)
    flat = [bool(np.all(row == row[0])) for row in x]  # a constant realisation has no ranking
    pairs = [float("nan") if flat[i] or flat[j] else spearmanr(x[i], x[j]).statistic
             for i in range(len(x)) for j in range(i + 1, len(x))]
    return float(np.mean(pairs)) if pairs else float("nan")


def summarise_noise(noise: Noise) -> NoiseSummary:
    """Within-cell std across seeds relative to the std of scores over the space (on the uniform
    sample and on the top cells), how often the top cell differs from seed 0's, and the mean
    Spearman correlation between seeds (uniform sample; top cells)."""
    cols = np.stack([r.scores for r in noise.realisations])
    base = cols[0][np.isfinite(cols[0])]
    space_std = float(base.std())
    keys = np.where(np.isfinite(cols), cols, -np.inf)
    tops = keys.argmax(axis=1)
    # Only re-scored top cells can change which cell is on top between realisations.
    changes = (float(np.mean(tops[1:] != tops[0])) if len(tops) > 1 and noise.top.size
               else float("nan"))
    scale = space_std if space_std > 0 else float("nan")  # a constant table has no spread to compare
    return NoiseSummary(
        noise.proxy, noise.dataset, noise.seeds, noise.missing, space_std,
        _within_std(cols, noise.uniform) / scale, _within_std(cols, noise.top) / scale,
        _within_std(cols, noise.top), float(np.ptp(np.sort(base)[-5:])), changes, _mean_rank_corr(cols, noise.uniform), _mean_rank_corr(cols, noise.top))


def noise_for(proxy: str, dataset: str, root: Path | None = None) -> Noise | None:
    """Load the committed table of ``proxy``/``dataset`` and its realisations; None when the
    pair has no re-scored cells (no cells file: a proxy re-scored on some datasets only need not
    have a table on the others)."""
    from tfnas.tables import load_table

    if not os.path.lexists((noise_root() if root is None else Path(root))
                           / f"cells-{proxy}-{dataset}.txt"):
        return None
    table = load_table(proxy, dataset)
    return load_noise(proxy, dataset, score_column(table), root, table=table)


@functools.cache
def seed_free(proxy: str) -> bool:
    """Whether ``proxy``'s score does not depend on the score seed (no data, no draws, and the
    same value under two seeds on two cells: the counts): it has no scoring noise, and its
    noise ceiling is 1."""
    from tfnas.proxies import get_proxy
    from tfnas.scoring import score
    from tfnas.spaces import get_space

    spec = get_proxy(proxy)
    if spec.needs.data or spec.needs.random or spec.ensemble:
        return False
    tss = get_space("tss")
    return all(score(tss.arch_at(i), proxy, "cifar10", seed=0)
               == score(tss.arch_at(i), proxy, "cifar10", seed=1) for i in (0, tss.size - 1))


def noise_proxies(root: Path | None = None) -> tuple[str, ...]:
    """The registered proxies with a cells file under ``root`` (default
    :func:`tfnas.config.noise_root`: ``$TFNAS_NOISE``, else ``benchmarks/noise``),
    :data:`NOISE_PROXIES` first."""
    from tfnas.datasets import TARGET_DATASETS
    from tfnas.proxies import proxy_names

    root = noise_root() if root is None else Path(root)
    found = {p for p in proxy_names() for d in TARGET_DATASETS
             if os.path.lexists(root / f"cells-{p}-{d}.txt")}
    return tuple(p for p in NOISE_PROXIES if p in found) + tuple(
        sorted(found - set(NOISE_PROXIES)))


def _shown(x: float, fmt: str) -> str:
    return format(x, fmt) if np.isfinite(x) else "—"


def render(rows: Sequence[NoiseSummary]) -> str:
    """A Markdown table of the measured noise."""
    head = ("| proxy | dataset | seeds (missing) | score std over space | within-cell std / "
            "space std: uniform | : top 100 | within-cell std, top 100 (score units) | seed-0 "
            "range of the top 5 | top cell differs from seed 0 | Spearman between seeds: "
            "uniform | : top 100 |\n|---|---|---|---|---|---|---|---|---|---|---|")
    out = [head]
    for r in rows:
        miss = f" ({','.join(map(str, r.missing))})" if r.missing else ""
        out.append(f"| {r.proxy} | {r.dataset} | {','.join(map(str, r.seeds))}{miss} | "
                   f"{_shown(r.space_std, '.4g')} | {_shown(r.within_uniform, '.4f')} | "
                   f"{_shown(r.within_top, '.4f')} | {_shown(r.within_top_abs, '.4g')} | "
                   f"{_shown(r.top5_range, '.4g')} | {_shown(r.top_changes, '.2f')} | "
                   f"{_shown(r.rank_corr_uniform, '.4f')} | {_shown(r.rank_corr_top, '.4f')} |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the measured noise of every re-scored table found under ``--root``."""
    from tfnas.datasets import TARGET_DATASETS

    parser = argparse.ArgumentParser(prog="python -m harness.noise", description=__doc__)
    parser.add_argument("--root", type=Path, default=None,
                        help="the noise folder (default: $TFNAS_NOISE, else benchmarks/noise "
                             "under the current directory)")
    args = parser.parse_args(argv)
    rows = []
    for proxy in noise_proxies(args.root):
        for dataset in TARGET_DATASETS:
            noise = noise_for(proxy, dataset, args.root)
            if noise is None:
                print(f"{proxy}/{dataset}: not re-scored yet (no cells file)")
                continue
            rows.append(summarise_noise(noise))
    print(render(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
