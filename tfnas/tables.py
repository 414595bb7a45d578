"""Precomputed full-space score tables: gzip CSV files, one row per cell, with provenance.

A table belongs to one search space. A topology-space table ``<proxy>-<dataset>.csv.gz`` (the
committed ``benchmarks/scores``) holds ``#``-comment provenance lines (``# key: value``),
then the header ``index,arch,score`` and one row per scored cell in official index order, the
score written with ``repr`` (exact round trip). The gzip stream has ``mtime=0`` and no file name,
so the same rows and provenance always give the same bytes. A table of another space ``S`` is
``<proxy>-<dataset>-S.csv.gz`` and its provenance says ``# space: S`` (a header without
``space`` is a topology table); it is read only as a table of that space. Loading checks everything a
corrupt, truncated, hostile or mismatched file could get wrong and refuses it with a
:class:`TableError` whose message is one line.

What a valid table is (the writer produces exactly this, the reader accepts nothing else):

* the file is one gzip member and nothing after it, at most :data:`MAX_FILE_BYTES` long, and
  inflates to at most :data:`MAX_TEXT_BYTES` of UTF-8 text (the largest text a full table can
  be, see there; for another space :func:`table_limits` says, and no file is inflated past the
  largest registered space's bound): a decompression bomb is refused after inflating that
  much, never more;
* each row is ``index,arch,score``: ``index`` in canonical decimal (no sign, no leading zeros,
  ASCII digits only) below the space's size, ``arch`` exactly the official string of the cell
  at ``index``, rows in strictly increasing index order;
* ``score`` is exactly ``repr`` of a float that is finite or ``-inf``. ``-inf`` is a legitimate
  score (NASWOT's singular kernel, SynFlow's log of a zero sum, as the proxies return it);
  ``nan`` (scoring maps every undefined value to ``-inf``, never to NaN: ``tfnas.scoring.ranked``) and ``+inf`` (only
  an overflowed SynFlow sum could give it, and it would outrank every cell) are never scores;
  text that merely parses to a float (``1e999``, ``1.0e0``, `` 1.5``) is not what the writer
  wrote. The writer refuses NaN and ``+inf`` too, so an export never writes an unreadable table;
* at least one score is finite: a table of only ``-inf`` (or of no rows) ranks nothing.
"""

from __future__ import annotations

import csv
import datetime
import functools
import gzip
import io
import math
import os
import platform
import stat
import subprocess
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tfnas.bounded import file_kind, read_file, write_atomic
from tfnas.checks import ArgumentTypeError
from tfnas.config import DEFAULT_TABLES, tables_root
from tfnas.errors import TfnasError, one_line, shown, shown_path
from tfnas.spaces import DEFAULT_SPACE, Arch, SearchSpace, get_space, space_names

FORMAT = "tfnas-score-table/1"
HEADER = ("index", "arch", "score")
SEED_RULE = (
    "network init from torch.Generator(cell_seed(arch, seed)), cell_seed = sha256(f'{seed}|{arch}'); "
    "one batch load_batch(dataset, seed, batch_size) for all cells; train mode"
)
DEFAULT_ROOT = DEFAULT_TABLES
"""The tables' folder when ``TFNAS_TABLES`` is unset (``benchmarks/scores``, relative to the current
directory); readers use :func:`tfnas.config.tables_root`, which reads the setting."""
EXPORT_ROOT = Path("tfnas-scores")
"""Where ``tfnas sweep --export`` writes when no folder is given: ``tfnas-scores/`` in the current
directory, never the tables read by default (:func:`tfnas.config.tables_root`), which an export
names explicitly."""

MAX_SCORE_CHARS = 24
"""The longest ``repr`` of a float: sign, 17 significant digits, the point and ``e-308``."""
MAX_PROVENANCE_BYTES = 64 * 1024
"""The most the provenance lines may take (the committed tables use about 1.3 KB)."""


@dataclass(frozen=True)
class TableLimits:
    """The most a table of one space can be: its longest row, its text and its gzip file."""

    space: str
    row_bytes: int
    text_bytes: int
    file_bytes: int


def table_limits(space: str | SearchSpace | None = None) -> TableLimits:
    """The bounds of a full table of ``space`` (default the topology space), from the format:
    the longest index, arch and score of a row, every cell, the full provenance."""
    found = get_space(space)
    row = len(str(found.size - 1)) + 1 + found.max_arch_chars + 1 + MAX_SCORE_CHARS + 1
    text = MAX_PROVENANCE_BYTES + len(",".join(HEADER)) + 1 + found.size * row
    # deflate's worst-case growth on incompressible text (well under 0.1 %) plus room for the
    # gzip header and trailer
    return TableLimits(found.name, row, text, text + (text >> 10) + 1024)


_TOPOLOGY_LIMITS = table_limits(DEFAULT_SPACE)
MAX_ROW_BYTES = _TOPOLOGY_LIMITS.row_bytes
"""The longest row ``index,arch,score\\n`` the writer can produce for a topology cell (127 bytes)."""
MAX_TEXT_BYTES = _TOPOLOGY_LIMITS.text_bytes
"""The largest text a topology table can inflate to: full provenance, the header, 15,625 longest
rows (about 2.05 MB; the committed full tables are 1.57 to 1.72 MB)."""
MAX_FILE_BYTES = _TOPOLOGY_LIMITS.file_bytes
"""The largest gzip file that can hold :data:`MAX_TEXT_BYTES`."""


def _read_limits() -> TableLimits:
    """What any file is read and inflated to at most: the largest registered space's bounds
    (so a table of another space is still read far enough to say which space it is)."""
    limits = [table_limits(name) for name in space_names()]
    return max(limits, key=lambda lim: (lim.file_bytes, lim.text_bytes))


class TableError(TfnasError, ValueError):
    """A score table cannot be used: corrupt, truncated, or not the table asked for."""


class CorruptTableError(TableError):
    """The file is damaged: bad gzip stream, malformed rows, or rows disagreeing with the header."""


class TableMismatchError(TableError):
    """The file is intact but is not the table asked for (proxy, dataset or settings differ)."""


class TableNotFoundError(TfnasError, FileNotFoundError):
    """No table file for the requested proxy and dataset.

    ``where``: the missing file as the caller named it (relative or absolute), when one was
    looked for, and ``remedy``: how to produce it; the message may add where a relative path was
    looked from (the current directory), which a record that must read the same on every host
    leaves out (it says ``where`` and ``remedy`` only)."""

    where: str | None = None
    remedy: str = "produce it with `tfnas sweep` and tfnas.tables.export_table"


@dataclass(frozen=True)
class ScoreTable:
    """A loaded table: scores by cell, the provenance header, and how much of the space it covers."""

    proxy: str
    dataset: str
    scores: dict[Arch, float]
    provenance: dict[str, str] = field(default_factory=dict)
    space: str = DEFAULT_SPACE
    """The name of the search space whose cells ``scores`` holds."""

    @property
    def complete(self) -> bool:
        """True when every cell of the space (15,625 for the topology space) has a score."""
        return len(self.scores) == get_space(self.space).size

    @property
    def missing(self) -> int:
        """How many cells have no score."""
        return get_space(self.space).size - len(self.scores)

    @property
    def settings(self) -> str:
        """The score store's settings key the table was computed under."""
        return self.provenance.get("settings", "")

    @property
    def precision(self) -> str:
        """The arithmetic the scores were computed in (the settings key's ``precision``; a key
        without one is float32, the default it leaves out)."""
        import json

        try:
            found = json.loads(self.settings)
        except ValueError:
            return "float32"
        value = found.get("precision", "float32") if isinstance(found, dict) else "float32"
        return value if isinstance(value, str) else "float32"

    @property
    def seconds_per_cell(self) -> float | None:
        """The provenance's ``seconds_per_cell`` (the sweep's median) as a finite float >= 0,
        else ``None``."""
        try:
            value = float(self.provenance.get("seconds_per_cell", ""))
        except ValueError:
            return None
        return value if math.isfinite(value) and value >= 0 else None

    @property
    def sample(self) -> TableSample:
        """The cells the table holds as a uniform random sample of the space (see
        :class:`TableSample`): every cell when complete, else the longest prefix of the
        table's sweep permutation (``order: permutation:<seed>``) that it holds."""
        order = self.provenance.get("order", "")
        space = get_space(self.space)
        if self.complete:
            return TableSample(tuple(self.scores), True, order)
        seed = _order_seed(order)
        if seed is None:
            return TableSample((), False, order)
        prefix = []
        for index in sweep_order(space, seed):
            arch = space.arch_at(index)
            if arch not in self.scores:
                break
            prefix.append(arch)
        return TableSample(tuple(prefix), False, order)


@dataclass(frozen=True)
class TableSample:
    """Cells of a table that are a uniform random sample of its space.

    A whole-space sweep scores cells in a seeded random permutation
    (:func:`sweep_order`), so the first ``n`` cells of it are a simple random sample of ``n``
    cells without replacement; an incomplete table is read as the longest such prefix it holds
    (cells scored out of turn beyond it are left out, so that which cells count never depends
    on which ones happened to finish first). ``cells`` is empty for an incomplete table with no
    permutation order (its cells are not a sample)."""

    cells: tuple[Arch, ...]
    complete: bool
    order: str

    @property
    def n(self) -> int:
        """How many cells the sample holds."""
        return len(self.cells)


ORDER_PREFIX = "permutation:"


def order_text(seed: int) -> str:
    """The provenance ``order`` value of a sweep in the permutation of ``seed``."""
    return f"{ORDER_PREFIX}{seed}"


def _order_seed(order: str) -> int | None:
    if not order.startswith(ORDER_PREFIX):
        return None
    text = order[len(ORDER_PREFIX):]
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None


@functools.lru_cache(maxsize=8)
def _permutation(space: str, seed: int) -> tuple[int, ...]:
    import numpy as np

    size = get_space(space).size
    return tuple(int(i) for i in np.random.default_rng(seed).permutation(size))


def sweep_order(space: str | SearchSpace | None = None, seed: int = 0) -> tuple[int, ...]:
    """The official indices of ``space`` in the order a whole-space sweep scores them:
    ``numpy.random.default_rng(seed).permutation(size)``, so every prefix is a uniform sample."""
    from tfnas.checks import check_seed

    return _permutation(get_space(space).name, check_seed(seed, "order_seed"))


def table_name(proxy: str, dataset: str, space: str | SearchSpace | None = None) -> str:
    """The file name of a table, e.g. ``naswot-cifar10.csv.gz`` (topology space) or
    ``naswot-cifar10-sss.csv.gz`` (any other space: its name ends the stem)."""
    found = get_space(space)
    for what, value in (("proxy", proxy), ("dataset", dataset)):
        if not isinstance(value, str):
            raise ArgumentTypeError(f"{what} must be a str, got {type(value).__name__}")
        if (not value or len(value) > 100 or "/" in value or os.sep in value
                or value.startswith(".") or not value.isprintable()):
            raise TableError(
                f"{what} must be a plain name (printable, at most 100 characters, no path "
                f"separators, not starting with '.'), got {shown(value)}"
            )
    suffix = "" if found.name == DEFAULT_SPACE else f"-{found.name}"
    return f"{proxy}-{dataset}{suffix}.csv.gz"


def table_path(proxy: str, dataset: str, root: str | Path | None = None,
               space: str | SearchSpace | None = None) -> Path:
    """Where the table for ``(proxy, dataset)`` of ``space`` lives (under ``root``, by default
    :func:`tfnas.config.tables_root`: ``$TFNAS_TABLES``, else ``benchmarks/scores``)."""
    return Path(tables_root() if root is None else root) / table_name(proxy, dataset, space)


VARIANTS_FOLDER = "variants"
"""The sub-folder of a tables root that holds named variants of some of its tables:
``<root>/variants/<name>/<proxy>-<dataset>.csv.gz`` (e.g. ``variants/float32/``: the AZ-NAS
components in the anchor's float32 arithmetic, where the root holds them in float64). A variant
overrides the root's table of each (proxy, dataset) it holds and no other."""


def variant_root(variant: str, root: str | Path | None = None) -> Path:
    """The folder of the tables variant ``variant`` under ``root`` (default
    :func:`tfnas.config.tables_root`)."""
    table_name(variant, "x")  # the same plain-name rule as a proxy's
    return Path(tables_root() if root is None else root) / VARIANTS_FOLDER / variant


def table_variants(root: str | Path | None = None) -> list[str]:
    """The names of the tables variants under ``root``, sorted."""
    folder = Path(tables_root() if root is None else root) / VARIANTS_FOLDER
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def load_variant_table(proxy: str, dataset: str, variant: str | None,
                       root: str | Path | None = None) -> ScoreTable:
    """The table of ``(proxy, dataset)`` under the tables variant ``variant``: the variant's own
    table where its folder holds one, else the root's (:data:`VARIANTS_FOLDER`); ``None`` is the
    root's. A variant without a folder is refused in one line."""
    if variant is None:
        return load_table(proxy, dataset, root)
    folder = variant_root(variant, root)
    if not folder.is_dir():
        known = table_variants(root)
        raise TableNotFoundError(
            f"no tables variant {variant!r}: {shown_path(folder)} is not a folder; expected one "
            f"of {known or 'none (no variants folder)'}")
    if table_path(proxy, dataset, folder).exists():
        return load_table(proxy, dataset, folder)
    return load_table(proxy, dataset, root)


def _score_problem(value: float) -> str | None:
    """Why ``value`` cannot be a table score (NaN, +inf), or None when it can."""
    if math.isnan(value):
        return "NaN is never a score"
    if value == math.inf:
        return "+inf is never a score (only -inf, a singular or zero proxy value, is)"
    return None


def _checked_scores(scores: Mapping[Arch | str, float],
                    space: SearchSpace) -> list[tuple[int, float]]:
    """Rows ``(index, score)`` in index order, refusing what :func:`read_table` would refuse."""
    try:
        rows = sorted((space.index_of(space.as_arch(a)), float(s)) for a, s in scores.items())
    except TfnasError as exc:  # a cell of another space, or no cell at all
        raise TableError(
            f"a table of the {space.name} space holds cells of that space only: {one_line(exc)}"
        ) from exc
    for index, value in rows:
        problem = _score_problem(value)
        if problem:
            raise TableError(f"cannot write the score of cell {index} ({value!r}): {problem}")
    if not any(math.isfinite(value) for _, value in rows):
        raise TableError(
            f"cannot write a table without a finite score ({len(rows)} rows, none finite): "
            "it would rank nothing"
        )
    return rows


def encode_table(
    proxy: str, dataset: str, scores: Mapping[Arch | str, float], provenance: Mapping[str, object],
    space: str | SearchSpace | None = None,
) -> bytes:
    """The exact bytes of a table file (gzip, mtime 0): provenance lines, header, sorted rows.

    ``scores`` are of cells of ``space`` (default the topology space); a table of another space
    records ``space: <name>`` in its provenance. Refuses (:class:`TableError`) what the reader
    would refuse: NaN or +inf scores, no finite score, provenance that is not one-line
    ``key: value`` or over :data:`MAX_PROVENANCE_BYTES`.
    """
    found = get_space(space)
    for key, value in provenance.items():
        text = str(value)
        if not key or ":" in key or "\n" in key or "\r" in key or "\n" in text or "\r" in text:
            raise TableError(
                f"provenance entries must be one-line 'key: value', got {shown(key)}: {shown(text)}"
            )
    rows = _checked_scores(scores, found)
    meta = {
        "format": FORMAT,
        **{k: str(v) for k, v in provenance.items()},
        "proxy": proxy,
        "dataset": dataset,
        "rows": str(len(rows)),
    }
    if found.name == DEFAULT_SPACE:
        meta.pop("space", None)  # topology tables say nothing: the committed bytes stay as they are
    else:
        meta["space"] = found.name
    meta["space_size"] = str(found.size)
    meta["complete"] = str(len(rows) == found.size).lower()
    text = io.StringIO(newline="")
    for key, value in meta.items():
        text.write(f"# {key}: {value}\n")
    size = len(text.getvalue().encode("utf-8"))
    if size > MAX_PROVENANCE_BYTES:
        raise TableError(
            f"provenance takes {size} bytes, more than the {MAX_PROVENANCE_BYTES} a table may hold"
        )
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    official = _official_strings(found.name)
    for index, value in rows:
        writer.writerow((index, official[index], repr(value)))
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
    space: str | SearchSpace | None = None,
) -> Path:
    """Write a table of ``space`` atomically (temporary file, then rename); return its path."""
    path = Path(path)
    data = encode_table(proxy, dataset, scores, provenance, space)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, data, TableError, "score table")


def _read_member(path: Path, limits: TableLimits) -> bytes:
    """The text of the file's one gzip member, inflating at most ``limits.text_bytes + 1`` bytes.

    Streaming with an output bound is what makes a bomb harmless: a small file that asks for
    gigabytes costs at most that bound before it is refused.
    """
    where = shown_path(path)
    data = read_file(path, limits.file_bytes, CorruptTableError, "score table",
                     "no score table compresses to more")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip wrapper: CRC-32 and size
    try:
        text = inflater.decompress(data, limits.text_bytes + 1)
    except zlib.error as exc:
        raise CorruptTableError(
            f"{where} is not a valid gzip stream (truncated or damaged): {one_line(exc)}"
        ) from exc
    if len(text) > limits.text_bytes:
        raise CorruptTableError(
            f"{where} inflates to more than {limits.text_bytes} bytes, the most a full table holds "
            "(a decompression bomb or not a score table)"
        )
    if not inflater.eof:
        raise CorruptTableError(
            f"{where} is not a valid gzip stream (truncated or damaged): it ends inside the stream"
        )
    if inflater.unused_data:
        raise CorruptTableError(
            f"{where} has {len(inflater.unused_data)} bytes after its gzip stream; "
            "a score table is exactly one gzip member"
        )
    return text


def _decode(where: str, data: bytes) -> str:
    """The table's text; a table is UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptTableError(
            f"{where} does not hold UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from exc


def _provenance(where: str, lines: list[str], space: SearchSpace) -> tuple[dict[str, str], int]:
    """The ``# key: value`` lines at the top and the position of the line after them."""
    provenance: dict[str, str] = {}
    pos = 0
    while pos < len(lines) and lines[pos].startswith("#"):
        key, sep, value = lines[pos][1:].strip().partition(": ")
        if not sep:
            key, value = key.rstrip(":"), ""
        if key in provenance:
            raise CorruptTableError(f"{where}:{pos + 1}: provenance key {shown(key)} repeated")
        provenance[key] = value
        pos += 1
    if provenance.get("format") != FORMAT:
        raise CorruptTableError(
            f"{where}: provenance header lacks '# format: {FORMAT}' "
            f"(got {shown(provenance.get('format'))})"
        )
    declared = provenance.get("space", DEFAULT_SPACE)
    if declared != space.name:
        hint = f"; read it with space={declared!r}" if declared in space_names() else ""
        raise TableMismatchError(
            f"{where} is a score table of the {shown(declared)} search space, expected one of "
            f"the {space.name!r} space{hint}"
        )
    for key in ("proxy", "dataset", "rows", "complete"):
        if key not in provenance:
            raise CorruptTableError(f"{where}: provenance header lacks '{key}'")
    if provenance.get("space_size", str(space.size)) != str(space.size):
        raise CorruptTableError(
            f"{where}: header 'space_size' is {shown(provenance['space_size'])}, "
            f"expected {space.size}"
        )
    return provenance, pos


@functools.cache
def _official_strings(space: str) -> tuple[str, ...]:
    """The official arch string of every index of the space named ``space``."""
    found = get_space(space)
    return tuple(found.format(cell) for cell in found.all_cells())


def _canonical_int(text: str, size: int) -> bool:
    """True for the decimal the writer writes for a number up to ``size``: ASCII digits, no
    sign, no leading zero."""
    return (0 < len(text) <= len(str(size)) and text.isascii() and text.isdigit()
            and (text == "0" or text[0] != "0"))


def _parse_score(where: str, text: str) -> float:
    """The score written as ``text``, refused unless it is the exact ``repr`` of a valid score."""
    expected = "expected the repr of a finite float or -inf"
    value = math.nan
    if len(text) <= MAX_SCORE_CHARS:
        try:
            value = float(text)
        except ValueError:
            pass
    if len(text) > MAX_SCORE_CHARS or repr(value) != text:
        raise CorruptTableError(f"{where}: score {shown(text)} is not a float as written; {expected}")
    problem = _score_problem(value)
    if problem:
        raise CorruptTableError(f"{where}: score {shown(text)}: {problem}; {expected}")
    return value


def _parse_row(where: str, line: str, last: int, space: SearchSpace) -> tuple[int, float]:
    """One body row ``index,arch,score`` after index ``last``: its index and score."""
    fields = line.split(",", 3)
    if len(fields) != 3:
        raise CorruptTableError(
            f"{where}: expected 3 fields index,arch,score, got {shown(line)}"
        )
    index_text, arch_text, score_text = fields
    if not _canonical_int(index_text, space.size):
        raise CorruptTableError(
            f"{where}: index {shown(index_text)} is not a plain decimal in 0..{space.size - 1}"
        )
    index = int(index_text)
    if index >= space.size:
        raise CorruptTableError(f"{where}: index {index} outside 0..{space.size - 1}")
    official = _official_strings(space.name)[index]
    if arch_text != official:
        raise CorruptTableError(
            f"{where}: arch {shown(arch_text)} is not the cell at index {index} ({official})"
        )
    if index <= last:
        raise CorruptTableError(
            f"{where}: index {index} out of order or repeated (previous {last})"
        )
    return index, _parse_score(where, score_text)


def _check_counts(where: str, provenance: dict[str, str], scores: dict[Arch, float],
                  space: SearchSpace) -> None:
    """The header's ``rows`` and ``complete`` agree with the rows; some score is finite."""
    declared = provenance["rows"]
    if not _canonical_int(declared, space.size):
        raise CorruptTableError(
            f"{where}: header 'rows' is {shown(declared)}, expected a plain decimal count"
        )
    if int(declared) != len(scores):
        raise CorruptTableError(
            f"{where}: header declares {declared} rows, file holds {len(scores)} (truncated or "
            "edited)"
        )
    if provenance["complete"] != str(len(scores) == space.size).lower():
        raise CorruptTableError(
            f"{where}: header says complete={shown(provenance['complete'])} but {len(scores)} of "
            f"{space.size} cells are present"
        )
    if not any(math.isfinite(value) for value in scores.values()):
        raise CorruptTableError(
            f"{where}: no finite score in {len(scores)} rows; a table that ranks nothing is "
            "refused (expected at least one finite score)"
        )


def read_table(path: str | Path, space: str | SearchSpace | None = None) -> ScoreTable:
    """Read and verify one table file of ``space`` (default the topology space); a
    :class:`TableError` says in one line what is wrong, a table of another space included.

    Memory is bounded by the file-size and inflation caps (:data:`MAX_FILE_BYTES`,
    :data:`MAX_TEXT_BYTES`, the largest registered space's), whatever the file holds.
    """
    found = get_space(space)
    path = Path(path)
    where = shown_path(path)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError as exc:  # a name too long, a folder that cannot be searched
        raise TableError(f"{where} cannot be examined: {exc.strerror or type(exc).__name__}") from exc
    if is_dir:
        raise TableError(f"{where} is a directory, not a score table file")
    if not is_file:
        flag = "" if found.name == DEFAULT_SPACE else f" --space {found.name}"
        relative = "" if path.is_absolute() else (
            f" (relative to the current directory {shown_path(Path.cwd())}: run from the "
            "repository's root, or set TFNAS_TABLES or the tables folder)")
        remedy = f"produce it with `tfnas sweep{flag}` and tfnas.tables.export_table"
        missing = TableNotFoundError(f"no score table at {where}{relative}; {remedy}")
        missing.where, missing.remedy = where, remedy
        raise missing
    raw = _read_member(path, _read_limits())
    lines = _decode(where, raw).split("\n")
    provenance, pos = _provenance(where, lines, found)
    limits = table_limits(found)
    if len(raw) > limits.text_bytes:
        raise CorruptTableError(
            f"{where} inflates to {len(raw)} bytes, more than the {limits.text_bytes} a full "
            f"{found.name} table holds (a decompression bomb or not a score table)"
        )
    if pos >= len(lines) or lines[pos] != ",".join(HEADER):
        raise CorruptTableError(
            f"{where}: expected the column header {','.join(HEADER)!r} after the provenance"
        )
    body = lines[pos + 1 :]
    if body and body[-1] == "":
        body.pop()
    scores: dict[Arch, float] = {}
    last = -1
    cells = found.all_cells()
    for lineno, line in enumerate(body, start=pos + 2):
        last, value = _parse_row(f"{where}:{lineno}", line, last, found)
        scores[cells[last]] = value
    _check_counts(where, provenance, scores, found)
    return ScoreTable(provenance["proxy"], provenance["dataset"], scores, provenance, found.name)


def check_settings(table: ScoreTable, settings: str, path: str | Path) -> ScoreTable:
    """``table`` if it was computed under ``settings`` (a ``tfnas.scoring.settings_key``), else
    a one-line :class:`TableMismatchError` naming its file ``path``."""
    if table.settings != settings:
        raise TableMismatchError(
            f"{shown_path(path)} was computed under settings {shown(table.settings)}, expected "
            f"{shown(settings)}; re-run the sweep for these settings"
        )
    return table


def load_table(
    proxy: str,
    dataset: str,
    root: str | Path | None = None,
    settings: str | None = None,
    require_complete: bool = False,
    space: str | SearchSpace | None = None,
) -> ScoreTable:
    """Load the table for ``(proxy, dataset)`` of ``space`` (default the topology space) from
    ``root`` (``benchmarks/scores/`` by default).

    ``settings`` (a ``tfnas.scoring.settings_key``) refuses a table computed under other settings;
    ``require_complete`` refuses a partial table.
    """
    path = table_path(proxy, dataset, root, space)
    table = read_table(path, space)
    if (table.proxy, table.dataset) != (proxy, dataset):
        raise TableMismatchError(
            f"{shown_path(path)} holds proxy={shown(table.proxy)} dataset={shown(table.dataset)}, "
            f"expected proxy={proxy!r} dataset={dataset!r}"
        )
    if settings is not None:
        check_settings(table, settings, path)
    if require_complete and not table.complete:
        raise TableMismatchError(
            f"{shown_path(path)} is partial: {table.missing} of {get_space(table.space).size} cells "
            "missing; finish the sweep"
        )
    return table


def available_tables(root: str | Path | None = None,
                     space: str | SearchSpace | None = None) -> list[tuple[str, str]]:
    """``(proxy, dataset)`` of every table file of ``space`` (by its name) under ``root``, sorted."""
    wanted = get_space(space).name
    others = [f"-{name}" for name in space_names() if name != wanted and name != DEFAULT_SPACE]
    folder = Path(tables_root() if root is None else root)
    found = []
    for path in sorted(folder.glob("*.csv.gz")):
        stem = path.name[: -len(".csv.gz")]
        if wanted != DEFAULT_SPACE:
            if not stem.endswith(f"-{wanted}"):
                continue
            stem = stem[: -len(wanted) - 1]
        elif any(stem.endswith(suffix) for suffix in others):
            continue
        proxy, sep, dataset = stem.partition("-")
        if sep and dataset:
            found.append((proxy, dataset))
    return found


def git_commit(repo: str | Path = ".") -> str:
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
    from tfnas.scoring import SCORING_VERSION

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


class ExportRefusedError(TableError):
    """An export would replace a table with one that holds fewer cells or other settings."""


def _existing(path: Path, space: SearchSpace) -> ScoreTable | None:
    """The table at ``path``, ``None`` if there is none; a corrupt one is refused (one line)."""
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        return read_table(path, space)
    except TableError as exc:
        raise ExportRefusedError(
            f"export target {shown_path(path)} is not a readable score table ({one_line(exc, 160)}); "
            "it is left as it is: move it away, or pass --force to replace it") from None


def check_replacement(path: Path, scores: Mapping[Arch, float], settings: str,
                      space: SearchSpace, force: bool = False) -> bool:
    """Whether writing ``scores`` to ``path`` changes anything (``False``: the same settings and
    scores are there already). Without ``force`` an existing table may only grow: an
    :class:`ExportRefusedError` refuses one scored under other settings, one holding a cell the new
    table lacks, and an unreadable file, so no export silently shrinks or replaces a table."""
    if force:
        try:
            old = read_table(path, space)
        except (TableError, OSError):
            return True
        return not (old.settings == settings and old.scores == dict(scores))
    old = _existing(path, space)
    if old is None:
        return True
    if old.settings != settings:
        raise ExportRefusedError(
            f"export target {shown_path(path)} holds scores under other settings ({shown(old.settings)}, "
            f"the new ones {shown(settings)}); it is left as it is: export to another folder, or "
            "pass --force to replace it")
    lost = [arch for arch in old.scores if arch not in scores]
    if lost:
        raise ExportRefusedError(
            f"export target {shown_path(path)} holds {len(old.scores):,} cells and the new table "
            f"{len(scores):,}, without {len(lost):,} of them (e.g. {shown(str(lost[0]))}); it is "
            "left as it is: export to another folder, or pass --force to replace it")
    return old.scores != dict(scores)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_table` did."""

    path: Path
    rows: int
    written: bool


def check_export(root: str | Path | None, jobs: Sequence[tuple[str, str]],
                 space: str | SearchSpace | None = None) -> Path:
    """The folder the tables of ``jobs`` (``(proxy, dataset)`` pairs) would be exported to
    (default :data:`EXPORT_ROOT`), checked before any scoring: a folder (or one that can be
    created in a writable folder), and every table path in it a regular file or absent. A
    :class:`TableError` says what is wrong.
    """
    folder = Path(EXPORT_ROOT if root is None else root)
    where = shown_path(folder)
    try:
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if existing == folder and not folder.is_dir():
            raise TableError(f"export folder {where} is not a folder; expected a folder (or a "
                             "path where one can be created) for the score tables")
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise TableError(f"export folder {where} cannot be created or written in "
                             f"({shown_path(existing)} is not a writable folder)")
        for proxy, dataset in jobs:
            path = table_path(proxy, dataset, folder, space)
            if path.exists() or path.is_symlink():
                mode = path.stat().st_mode
                if not stat.S_ISREG(mode):
                    raise TableError(f"export target {shown_path(path)} is {file_kind(mode)}; "
                                     "expected a regular score table file or none")
    except OSError as exc:
        raise TableError(f"export folder {where} cannot be used: "
                         f"{exc.strerror or type(exc).__name__}") from exc
    return folder


def export_table(
    store: object,
    proxy: str,
    dataset: str,
    seed: int = 0,
    batch_size: int | None = None,
    root: str | Path | None = None,
    order_seed: int = 0,
    force: bool = False,
    precision: str = "float32",
    device: str | None = None,
) -> ExportResult:
    """Write the table of everything the score store holds for these settings into ``root``
    (default :data:`EXPORT_ROOT`), in the store's space (``store.space``; the topology space for a
    store without one).

    The file is rewritten only when its scores changed, so re-exporting an unchanged store leaves
    the committed bytes (and their date line) alone; an existing table may only grow unless
    ``force`` (:func:`check_replacement`). ``precision`` and ``device`` select the scores of
    that arithmetic and device (:func:`tfnas.scoring.settings_key`).
    """
    import statistics

    from tfnas.proxies import get_proxy
    from tfnas.scoring import batch_for, settings_key

    space = get_space(getattr(store, "space", None))
    batch_size = batch_for(proxy, batch_size)
    settings = settings_key(proxy, dataset, seed, batch_size, precision, device)
    scores = store.scored(proxy, dataset, settings)  # type: ignore[attr-defined]
    path = table_path(proxy, dataset, EXPORT_ROOT if root is None else root, space)
    if not check_replacement(path, scores, settings, space, force):
        return ExportResult(path, len(scores), False)
    identity, description = _data_identity(settings, dataset, seed, batch_size)
    provenance = provenance_for(proxy, dataset, seed, batch_size, settings, identity, description)
    spec = get_proxy(proxy)
    seconds = store.seconds(proxy, dataset, settings) if hasattr(store, "seconds") else []
    provenance.update({
        "order": order_text(order_seed),
        "reference": _one_line(spec.reference) or "none given",
        "variant": _one_line(spec.variant) or "none given",
        "precision": precision,
        "seconds_per_cell": f"{statistics.median(seconds):.4g}" if seconds else "unknown",
        "seconds_rule": "median over the stored cells of the proxy's share of a cell's scoring "
                        "time (a pass shared by several proxies is divided among them), one "
                        "torch thread per worker",
    })
    write_table(path, proxy, dataset, scores, provenance, space)
    return ExportResult(path, len(scores), True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
