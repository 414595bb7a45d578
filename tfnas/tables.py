"""Precomputed full-space score tables: gzip CSV files, one row per cell, with provenance.

A table ``<proxy>-<dataset>.csv.gz`` holds ``#``-comment provenance lines (``# key: value``),
then the header ``index,arch,score`` and one row per scored cell in official index order, the
score written with ``repr`` (exact round trip). The gzip stream has ``mtime=0`` and no file name,
so the same rows and provenance always give the same bytes. Loading checks everything a
corrupt, truncated or mismatched file could get wrong and refuses it with a :class:`TableError`.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import os
import platform
import subprocess
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tfnas.errors import TfnasError
from tfnas.space import SPACE_SIZE, Arch, arch_at, as_arch, index_of

FORMAT = "tfnas-score-table/1"
HEADER = ("index", "arch", "score")
SEED_RULE = (
    "network init from torch.Generator(cell_seed(arch, seed)), cell_seed = sha256(f'{seed}|{arch}'); "
    "one batch load_batch(dataset, seed, batch_size) for all cells; train mode"
)
_REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = _REPO_ROOT / "benchmarks" / "scores"


class TableError(TfnasError, ValueError):
    """A score table cannot be used: corrupt, truncated, or not the table asked for."""


class CorruptTableError(TableError):
    """The file is damaged: bad gzip stream, malformed rows, or rows disagreeing with the header."""


class TableMismatchError(TableError):
    """The file is intact but is not the table asked for (proxy, dataset or settings differ)."""


class TableNotFoundError(TfnasError, FileNotFoundError):
    """No table file for the requested proxy and dataset."""


@dataclass(frozen=True)
class ScoreTable:
    """A loaded table: scores by cell, the provenance header, and how much of the space it covers."""

    proxy: str
    dataset: str
    scores: dict[Arch, float]
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every one of the 15,625 cells has a score."""
        return len(self.scores) == SPACE_SIZE

    @property
    def missing(self) -> int:
        """How many cells have no score."""
        return SPACE_SIZE - len(self.scores)

    @property
    def settings(self) -> str:
        """The score store's settings key the table was computed under."""
        return self.provenance.get("settings", "")


def table_name(proxy: str, dataset: str) -> str:
    """The file name of a table, e.g. ``naswot-cifar10.csv.gz``."""
    for what, value in (("proxy", proxy), ("dataset", dataset)):
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a str, got {type(value).__name__}")
        if not value or "/" in value or os.sep in value or value.startswith("."):
            raise ValueError(f"{what} must be a plain name (no path separators), got {value!r}")
    return f"{proxy}-{dataset}.csv.gz"


def table_path(proxy: str, dataset: str, root: str | Path | None = None) -> Path:
    """Where the table for ``(proxy, dataset)`` lives (``benchmarks/scores/`` by default)."""
    return Path(DEFAULT_ROOT if root is None else root) / table_name(proxy, dataset)


def encode_table(
    proxy: str, dataset: str, scores: Mapping[Arch | str, float], provenance: Mapping[str, object]
) -> bytes:
    """The exact bytes of a table file (gzip, mtime 0): provenance lines, header, sorted rows."""
    rows = sorted((index_of(as_arch(a)), float(s)) for a, s in scores.items())
    for key, value in provenance.items():
        text = str(value)
        if not key or ":" in key or "\n" in key or "\n" in text or "\r" in text:
            raise ValueError(f"provenance entries must be one-line 'key: value', got {key!r}")
    meta = {
        "format": FORMAT,
        **{k: str(v) for k, v in provenance.items()},
        "proxy": proxy,
        "dataset": dataset,
        "rows": str(len(rows)),
        "space_size": str(SPACE_SIZE),
        "complete": str(len(rows) == SPACE_SIZE).lower(),
    }
    text = io.StringIO(newline="")
    for key, value in meta.items():
        text.write(f"# {key}: {value}\n")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    for index, value in rows:
        writer.writerow((index, str(arch_at(index)), repr(value)))
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    return raw.getvalue()


def write_table(
    path: str | Path,
    proxy: str,
    dataset: str,
    scores: Mapping[Arch | str, float],
    provenance: Mapping[str, object],
) -> Path:
    """Write a table atomically (temporary file, then rename) and return its path."""
    path = Path(path)
    data = encode_table(proxy, dataset, scores, provenance)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def read_table(path: str | Path) -> ScoreTable:
    """Read and verify one table file; a :class:`TableError` says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise TableNotFoundError(
            f"no score table at {path}; produce it with `tfnas sweep` and tfnas.tables.export_table"
        )
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            text = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptTableError(f"{path} is not a valid gzip stream (truncated or damaged): {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CorruptTableError(f"{path} does not hold UTF-8 text: {exc}") from exc

    lines = text.split("\n")
    provenance: dict[str, str] = {}
    pos = 0
    while pos < len(lines) and lines[pos].startswith("#"):
        key, sep, value = lines[pos][1:].strip().partition(": ")
        if not sep:
            key, value = key.rstrip(":"), ""
        provenance[key] = value
        pos += 1
    if provenance.get("format") != FORMAT:
        raise CorruptTableError(
            f"{path}: provenance header lacks '# format: {FORMAT}' (got {provenance.get('format')!r})"
        )
    for key in ("proxy", "dataset", "rows", "complete"):
        if key not in provenance:
            raise CorruptTableError(f"{path}: provenance header lacks '{key}'")
    if pos >= len(lines) or lines[pos] != ",".join(HEADER):
        raise CorruptTableError(f"{path}: expected the column header {','.join(HEADER)!r} after the provenance")
    body = [line for line in lines[pos + 1 :]]
    if body and body[-1] == "":
        body.pop()

    scores: dict[Arch, float] = {}
    last = -1
    for lineno, row in enumerate(csv.reader(body), start=pos + 2):
        if len(row) != 3:
            raise CorruptTableError(f"{path}:{lineno}: expected 3 fields index,arch,score, got {row!r}")
        index_text, arch_text, score_text = row
        try:
            index = int(index_text)
            arch = Arch.parse(arch_text)
            value = float(score_text)
        except (ValueError, TypeError) as exc:
            raise CorruptTableError(f"{path}:{lineno}: malformed row {row!r}: {exc}") from exc
        if not 0 <= index < SPACE_SIZE:
            raise CorruptTableError(f"{path}:{lineno}: index {index} outside 0..{SPACE_SIZE - 1}")
        if arch_at(index) != arch:
            raise CorruptTableError(
                f"{path}:{lineno}: arch {arch_text} is not the cell at index {index} "
                f"({arch_at(index)})"
            )
        if index <= last:
            raise CorruptTableError(
                f"{path}:{lineno}: index {index} out of order or repeated (previous {last})"
            )
        last = index
        scores[arch] = value

    try:
        declared = int(provenance["rows"])
    except ValueError as exc:
        raise CorruptTableError(f"{path}: header 'rows' is not an integer: {provenance['rows']!r}") from exc
    if declared != len(scores):
        raise CorruptTableError(
            f"{path}: header declares {declared} rows, file holds {len(scores)} (truncated or edited)"
        )
    if provenance["complete"] != str(len(scores) == SPACE_SIZE).lower():
        raise CorruptTableError(
            f"{path}: header says complete={provenance['complete']} but {len(scores)} of "
            f"{SPACE_SIZE} cells are present"
        )
    return ScoreTable(provenance["proxy"], provenance["dataset"], scores, provenance)


def load_table(
    proxy: str,
    dataset: str,
    root: str | Path | None = None,
    settings: str | None = None,
    require_complete: bool = False,
) -> ScoreTable:
    """Load the table for ``(proxy, dataset)`` from ``root`` (``benchmarks/scores/`` by default).

    ``settings`` (a ``tfnas.scoring.settings_key``) refuses a table computed under other settings;
    ``require_complete`` refuses a partial table.
    """
    path = table_path(proxy, dataset, root)
    table = read_table(path)
    if (table.proxy, table.dataset) != (proxy, dataset):
        raise TableMismatchError(
            f"{path} holds proxy={table.proxy!r} dataset={table.dataset!r}, "
            f"expected proxy={proxy!r} dataset={dataset!r}"
        )
    if settings is not None and table.settings != settings:
        raise TableMismatchError(
            f"{path} was computed under settings {table.settings!r}, expected {settings!r}; "
            "re-run the sweep for these settings"
        )
    if require_complete and not table.complete:
        raise TableMismatchError(
            f"{path} is partial: {table.missing} of {SPACE_SIZE} cells missing; finish the sweep"
        )
    return table


def available_tables(root: str | Path | None = None) -> list[tuple[str, str]]:
    """``(proxy, dataset)`` of every table file under ``root``, sorted."""
    folder = Path(DEFAULT_ROOT if root is None else root)
    found = []
    for path in sorted(folder.glob("*.csv.gz")):
        proxy, sep, dataset = path.name[: -len(".csv.gz")].partition("-")
        if sep:
            found.append((proxy, dataset))
    return found


def git_commit(repo: str | Path = _REPO_ROOT) -> str:
    """The checkout's HEAD commit, or ``unknown`` outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head or "unknown"


def machine() -> str:
    """A one-line description of the machine (architecture, OS, CPU count; no host name)."""
    return f"{platform.machine()} {platform.system()} {platform.release()}, {os.cpu_count()} CPUs"


def provenance_for(
    proxy: str,
    dataset: str,
    seed: int,
    batch_size: int,
    settings: str,
    data_identity: str = "",
    data_description: str = "",
) -> dict[str, str]:
    """The provenance header of a table computed now by this checkout."""
    import torch

    import tfnas

    try:
        from tfnas.scoring import SCORING_VERSION
    except ImportError:  # scoring not installed: a table can still be written and read
        SCORING_VERSION = "unknown"
    return {
        "tfnas_version": tfnas.__version__,
        "scoring_version": str(SCORING_VERSION),
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "seed": str(seed),
        "batch_size": str(batch_size),
        "seed_rule": SEED_RULE,
        "data_identity": data_identity or "none (data-free proxy)",
        "data": data_description or "none",
        "settings": settings,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
    }


def _scores_unchanged(path: Path, scores: Mapping[Arch, float], settings: str) -> bool:
    try:
        old = read_table(path)
    except (TableError, FileNotFoundError):
        return False
    return old.settings == settings and old.scores == dict(scores)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_table` did."""

    path: Path
    rows: int
    written: bool


def export_table(
    store: object,
    proxy: str,
    dataset: str,
    seed: int = 0,
    batch_size: int = 128,
    root: str | Path | None = None,
) -> ExportResult:
    """Write the table of everything the score store holds for these settings.

    The file is rewritten only when its scores or settings changed, so re-exporting an unchanged
    store leaves the committed bytes (and their date line) alone.
    """
    from tfnas.scoring import settings_key

    settings = settings_key(proxy, dataset, seed, batch_size)
    scores = store.scored(proxy, dataset, settings)  # type: ignore[attr-defined]
    path = table_path(proxy, dataset, root)
    if _scores_unchanged(path, scores, settings):
        return ExportResult(path, len(scores), False)
    identity, description = _data_identity(settings, dataset, seed, batch_size)
    provenance = provenance_for(proxy, dataset, seed, batch_size, settings, identity, description)
    write_table(path, proxy, dataset, scores, provenance)
    return ExportResult(path, len(scores), True)


def _data_identity(settings: str, dataset: str, seed: int, batch_size: int) -> tuple[str, str]:
    """The batch identity and description when the settings key names the batch, else empty.

    The key of a data-free proxy holds no batch identity, so the proxy's table records none.
    """
    from tfnas.datasets import load_batch

    try:
        batch = load_batch(dataset, seed=seed, batch_size=batch_size)
    except FileNotFoundError:
        return "", ""
    if batch.identity not in settings:
        return "", ""
    description = " ".join(batch.description.split())
    return batch.identity, f"{description}; files {', '.join(batch.files)}"
