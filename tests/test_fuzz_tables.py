"""Fuzz the table readers against their one contract (issue 12).

``tfnas.tables.read_table`` (score tables) and ``tfnas.oracles._read_table`` (NATS-Bench CSVs)
either return a valid value or raise their ``TfnasError`` (``TableError``, ``TableFormatError``)
whose message is one line of at most 500 characters: never another exception, never a crash,
and never more memory (tracemalloc peak) than the stated bound of each reader.
"""

from __future__ import annotations

import gzip
import math
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfnas.errors import TfnasError
from tfnas.oracles import PROXY_DATASETS, TableFormatError, _read_table
from tfnas.space import SPACE_SIZE, arch_at
from tfnas.tables import MAX_TEXT_BYTES, ScoreTable, TableError, encode_table, read_table

MiB = 1 << 20
FILE_200 = "tss-200epoch-test.csv"
EXPECTED = [str(arch_at(i)) for i in range(SPACE_SIZE)]
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def table_memory_bound(data: bytes) -> int:
    """What reading a score table of these bytes may cost: the inflation cap twice (inflated
    bytes, then the decoded text), 40 bytes per file byte (lines and rows), and 2 MiB."""
    return 2 * MAX_TEXT_BYTES + 40 * len(data) + 2 * MiB


def csv_memory_bound(data: bytes) -> int:
    """What reading a NATS CSV of these bytes may cost: the bytes and their text (2x the file,
    4x if the text is not ASCII), the value array of 15,625 rows x 64 columns, and 2 MiB."""
    return 5 * len(data) + 8 * SPACE_SIZE * 64 + 2 * MiB


def _peak(call: Callable[[], object]) -> tuple[object, int]:
    """``call()``'s result (or the exception it raised) and its tracemalloc peak in bytes."""
    tracemalloc.start()
    try:
        try:
            result: object = call()
        except Exception as exc:  # the contract is checked by the caller, whatever it was
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _check_error(result: object, kind: type[TfnasError]) -> None:
    """A refusal must be ``kind`` with a one-line, bounded message; anything else fails."""
    if not isinstance(result, kind):
        raise AssertionError(f"expected a value or {kind.__name__}, got {result!r}") from (
            result if isinstance(result, BaseException) else None)
    message = str(result)
    assert message and "\n" not in message and "\r" not in message, message
    assert len(message) <= 500, len(message)


# -- score tables ---------------------------------------------------------------------------

score_values = st.floats(allow_nan=False, allow_infinity=False) | st.just(-math.inf)
valid_scores = st.dictionaries(
    st.integers(0, SPACE_SIZE - 1).map(arch_at), score_values, min_size=1, max_size=30
).filter(lambda d: any(math.isfinite(v) for v in d.values()))
provenance = st.dictionaries(
    st.text(st.characters(blacklist_characters=":\n\r", blacklist_categories=["Cs"]),
            min_size=1, max_size=12),
    st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=["Cs"]), max_size=40),
    max_size=4,
)


def _regzip(text: bytes) -> bytes:
    return gzip.compress(text, mtime=0)


def _on_text(edit: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """``edit`` applied to the inflated text and re-gzipped; bytes that do not inflate stay."""
    def apply(data: bytes) -> bytes:
        try:
            text = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return data
        return _regzip(edit(text))
    return apply


def _text_mutation() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    """Edits of the inflated text, re-gzipped: a well-formed stream with altered content."""
    line = st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass"))
    value = st.sampled_from([b"nan", b"inf", b"-inf", b"1e999", b"0x1", b"\xd9\xa1", b"-0.0",
                             b"1.0e0", b" 2.5", b"9" * 400, b""])

    def insert_line(at: int, new: bytes) -> Callable[[bytes], bytes]:
        def edit(text: bytes) -> bytes:
            lines = text.split(b"\n")
            lines.insert(at % (len(lines) + 1), new)
            return b"\n".join(lines)
        return edit

    def set_value(at: int, new: bytes) -> Callable[[bytes], bytes]:
        def edit(text: bytes) -> bytes:
            lines = text.split(b"\n")
            rows = [i for i, ln in enumerate(lines) if ln[:1].isdigit()]
            if rows:
                k = rows[at % len(rows)]
                lines[k] = lines[k].rsplit(b",", 1)[0] + b"," + new
            return b"\n".join(lines)
        return edit

    def replace(at: int, width: int, new: bytes) -> Callable[[bytes], bytes]:
        return lambda text: text[: at % (len(text) + 1)] + new + text[at % (len(text) + 1) + width:]

    return st.one_of(
        st.builds(insert_line, st.integers(0, 100), line),
        st.builds(insert_line, st.integers(0, 100), line.map(lambda b: b"# " + b)),
        st.builds(set_value, st.integers(0, 100), value),
        st.builds(replace, st.integers(0, 3000), st.integers(0, 8), st.binary(max_size=8)),
        st.just(lambda text: text + b"0" * (MAX_TEXT_BYTES + 1)),  # a small bomb
        st.just(lambda text: text.replace(b"\n", b"\r\n")),
        st.just(lambda text: text.split(b"index,arch,score")[0]),
    ).map(_on_text)


def _as_zlib(data: bytes) -> bytes:
    """The same text in a zlib stream instead of gzip (bytes that do not inflate stay)."""
    try:
        return zlib.compress(gzip.decompress(data))
    except (OSError, EOFError, zlib.error):
        return data


def flip(at: int, mask: int) -> Callable[[bytes], bytes]:
    """An edit that XORs one byte (position taken modulo the length) with ``mask``."""
    def edit(data: bytes) -> bytes:
        if not data:
            return data
        out = bytearray(data)
        out[at % len(out)] ^= mask
        return bytes(out)
    return edit


def _byte_mutation() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    """Edits of the gzip bytes themselves: flips, truncation, trailing data, other members."""
    return st.one_of(
        st.builds(flip, st.integers(0, 10_000), st.integers(1, 255)),
        st.integers(0, 10_000).map(lambda n: lambda data: data[: n % (len(data) + 1)]),
        st.binary(min_size=1, max_size=30).map(lambda tail: lambda data: data + tail),
        st.just(lambda data: data + data),
        st.just(_as_zlib),
    )


@FUZZ
@given(scores=valid_scores, prov=provenance,
       edits=st.lists(_text_mutation() | _byte_mutation(), max_size=3),
       name=st.sampled_from([("naswot", "cifar10"), ("synflow", "ImageNet16-120")]))
def test_score_table_reader_contract(tmp_path_factory, scores, prov, edits, name) -> None:
    data = encode_table(*name, scores, prov)
    for edit in edits:
        data = edit(data)
    path = tmp_path_factory.mktemp("fuzz") / "table.csv.gz"
    path.write_bytes(data)
    result, peak = _peak(lambda: read_table(path))
    assert peak <= table_memory_bound(data), (peak, len(data))
    if not isinstance(result, ScoreTable):
        _check_error(result, TableError)
        return
    values = list(result.scores.values())
    assert all(not math.isnan(v) and v != math.inf for v in values)
    assert any(math.isfinite(v) for v in values)
    assert int(result.provenance["rows"]) == len(values)
    if not edits:  # untouched: the exact round trip
        assert result.scores == scores


@FUZZ
@given(data=st.binary(max_size=400) | st.binary(max_size=400).map(_regzip))
def test_score_table_reader_contract_on_arbitrary_bytes(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "table.csv.gz"
    path.write_bytes(data)
    result, peak = _peak(lambda: read_table(path))
    assert peak <= table_memory_bound(data)
    _check_error(result, TableError)  # nothing this short is a valid table


# -- NATS-Bench CSVs ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def official_200(data_root: Path) -> bytes:
    """The official 200-epoch CSV, read at test time from TFNAS_DATA (never kept in the repo)."""
    return (data_root / "nats-tss" / FILE_200).read_bytes()


def _csv_mutation() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    """Edits of the CSV bytes: a cell, a line, a byte, the header, truncation, padding."""
    cell = st.one_of(
        st.sampled_from([b"nan", b"inf", b"-1", b"100.0000001", b"1e999", b"\xd9\xa1", b"",
                         b'"1', b'"5"', b"1,2", b"\xff", b"\x00", b"9" * 5000]),
        st.floats().map(lambda x: repr(x).encode()),
        st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )

    def set_cell(row: int, column: int, new: bytes) -> Callable[[bytes], bytes]:
        def edit(data: bytes) -> bytes:
            lines = data.split(b"\n")
            k = row % len(lines)
            fields = lines[k].split(b",")
            fields[column % len(fields)] = new
            lines[k] = b",".join(fields)
            return b"\n".join(lines)
        return edit

    def line_edit(row: int, kind: int, new: bytes) -> Callable[[bytes], bytes]:
        def edit(data: bytes) -> bytes:
            lines = data.split(b"\n")
            k = row % len(lines)
            if kind == 0:
                del lines[k]
            elif kind == 1:
                lines.insert(k, lines[k])
            else:
                lines.insert(k, new)
            return b"\n".join(lines)
        return edit

    rows = st.integers(0, SPACE_SIZE + 1) | st.integers(0, 3)
    return st.one_of(
        st.builds(set_cell, rows, st.integers(0, 4), cell),
        st.builds(line_edit, rows, st.integers(0, 2), st.binary(max_size=40)),
        st.builds(flip, st.integers(0, 3_000_000), st.integers(1, 255)),
        st.integers(0, 3_000_000).map(lambda n: lambda data: data[:n]),
        st.just(lambda data: data.replace(b"\n", b"\r\n")),
        st.just(lambda data: data.replace(b"\n", b"\r")),
        st.just(lambda data: data + b"," * 20_000),
        st.just(lambda data: b"\xef\xbb\xbf" + data),  # a byte-order mark
    )


def _check_columns(result: dict[str, np.ndarray]) -> None:
    """A returned table holds every cell, finite, with accuracies within [0, 100]."""
    assert set(PROXY_DATASETS) <= set(result)
    for name, column in result.items():
        assert column.shape == (SPACE_SIZE,) and np.isfinite(column).all()
        if name in PROXY_DATASETS:
            assert ((column >= 0) & (column <= 100)).all()


@settings(max_examples=30, deadline=None,  # each example reads a 15,625-row table (~0.1 s)
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(edits=st.lists(_csv_mutation(), min_size=1, max_size=3))
def test_nats_csv_reader_contract(tmp_path_factory, official_200: bytes, edits) -> None:
    data = official_200
    for edit in edits:
        data = edit(data)
    path = tmp_path_factory.mktemp("csv") / FILE_200
    path.write_bytes(data)
    result, peak = _peak(lambda: _read_table(path, EXPECTED, PROXY_DATASETS))
    assert peak <= csv_memory_bound(data), (peak, len(data))
    if isinstance(result, dict):
        _check_columns(result)
    else:
        _check_error(result, TableFormatError)


@FUZZ
@given(text=st.text(max_size=600) | st.binary(max_size=600).map(
    lambda b: b.decode("latin-1")))
def test_nats_csv_reader_contract_on_arbitrary_text(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("text") / FILE_200
    data = ("index,arch,cifar10,cifar100,ImageNet16-120\n" + text).encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    result, peak = _peak(lambda: _read_table(path, EXPECTED, PROXY_DATASETS))
    assert peak <= csv_memory_bound(data)
    _check_error(result, TableFormatError)  # 600 characters never hold 15,625 rows
