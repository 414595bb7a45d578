"""Score tables: exact round trip, reproducible bytes, and refusal of damaged or wrong files."""

from __future__ import annotations

import gzip
import math
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.space import MAX_ARCH_CHARS, SPACE_SIZE, all_cells, arch_at
from tfnas.spaces import SIZE
from tfnas.spaces.size import SizeArch
from tfnas.tables import (
    MAX_FILE_BYTES,
    MAX_ROW_BYTES,
    MAX_TEXT_BYTES,
    CorruptTableError,
    TableError,
    TableMismatchError,
    TableNotFoundError,
    available_tables,
    encode_table,
    load_table,
    read_table,
    table_limits,
    table_name,
    table_path,
    write_table,
)

PROV = {"settings": '{"seed": 0}', "date": "2024-01-01T00:00:00Z"}

# What a table may hold: finite floats and -inf (NaN and +inf are never scores), at least one finite.
scores_strategy = st.dictionaries(
    st.integers(0, SPACE_SIZE - 1).map(arch_at),
    st.floats(allow_nan=False, allow_infinity=False) | st.just(-math.inf),
    min_size=1,
    max_size=40,
).filter(lambda d: any(math.isfinite(v) for v in d.values()))


def _rewrite(path, transform):
    """Decompress, edit the text, recompress: a well-formed gzip with edited content."""
    text = gzip.decompress(path.read_bytes()).decode()
    path.write_bytes(gzip.compress(transform(text).encode(), mtime=0))


@given(scores=scores_strategy)
def test_round_trip_is_exact(tmp_path_factory, scores):
    root = tmp_path_factory.mktemp("t")
    write_table(table_path("synflow", "cifar10", root), "synflow", "cifar10", scores, PROV)
    table = load_table("synflow", "cifar10", root)
    assert table.scores == scores
    for arch, value in scores.items():  # bit-exact, including the sign of zero
        assert math.copysign(1.0, table.scores[arch]) == math.copysign(1.0, value)
    assert table.missing == SPACE_SIZE - len(scores)
    assert table.complete is False
    assert table.provenance["rows"] == str(len(scores))
    assert table.settings == PROV["settings"]


@given(scores=scores_strategy)
def test_same_content_same_bytes(scores):
    a = encode_table("params", "cifar100", scores, PROV)
    b = encode_table("params", "cifar100", dict(reversed(list(scores.items()))), PROV)
    assert a == b
    assert a[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME field


def test_rows_in_index_order_with_repr_floats(tmp_path):
    rng = random.Random(7)
    scores = {arch_at(i): rng.random() * 1e3 for i in rng.sample(range(SPACE_SIZE), 25)}
    path = write_table(tmp_path / table_name("naswot", "cifar10"), "naswot", "cifar10", scores, PROV)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    body = lines[lines.index("index,arch,score") + 1 :]
    indices = [int(line.split(",")[0]) for line in body]
    assert indices == sorted(i for i in (a.index for a in scores))
    for line in body:
        index, arch, value = line.split(",")
        assert arch == str(arch_at(int(index)))
        assert value == repr(scores[arch_at(int(index))])


def test_complete_table(tmp_path):
    scores = {arch: float(i % 97) for i, arch in enumerate(all_cells())}
    write_table(table_path("flops", "cifar10", tmp_path), "flops", "cifar10", scores, PROV)
    table = load_table("flops", "cifar10", tmp_path, require_complete=True)
    assert table.complete and table.missing == 0
    assert table.provenance["complete"] == "true"
    assert available_tables(tmp_path) == [("flops", "cifar10")]


def _small(tmp_path, n=10):
    scores = {arch_at(i): float(i) + 0.5 for i in range(n)}
    return write_table(table_path("naswot", "cifar10", tmp_path), "naswot", "cifar10", scores, PROV)


def test_truncated_gzip_refused(tmp_path):
    path = _small(tmp_path)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(CorruptTableError, match="gzip"):
        load_table("naswot", "cifar10", tmp_path)


def test_crc_mismatch_refused(tmp_path):
    path = _small(tmp_path)
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # inside the CRC32 trailer
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptTableError):
        load_table("naswot", "cifar10", tmp_path)


def test_missing_row_refused(tmp_path):
    path = _small(tmp_path)
    _rewrite(path, lambda t: "\n".join(t.splitlines()[:-1]) + "\n")
    with pytest.raises(CorruptTableError, match="declares 10 rows"):
        load_table("naswot", "cifar10", tmp_path)


def test_arch_index_disagreement_refused(tmp_path):
    path = _small(tmp_path)
    _rewrite(path, lambda t: t.replace(f"\n3,{arch_at(3)},", f"\n3,{arch_at(4)},"))
    with pytest.raises(CorruptTableError, match="not the cell at index 3"):
        load_table("naswot", "cifar10", tmp_path)


def test_repeated_row_refused(tmp_path):
    path = _small(tmp_path)

    def dup(text):
        lines = text.splitlines()
        return "\n".join(lines[:-1] + [lines[-2], lines[-1]]) + "\n"

    _rewrite(path, dup)
    with pytest.raises(CorruptTableError, match="out of order or repeated"):
        load_table("naswot", "cifar10", tmp_path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("# format:", "# formt:"), "format"),
        (lambda t: t.replace("index,arch,score", "i,a,s"), "column header"),
        (lambda t: t.replace("0.5\n", "zero\n", 1), "score 'zero' is not a float as written"),
        (lambda t: t.replace("# complete: false", "# complete: true"), "complete"),
    ],
)
def test_malformed_content_refused(tmp_path, edit, message):
    path = _small(tmp_path)
    _rewrite(path, edit)
    with pytest.raises(CorruptTableError, match=message):
        load_table("naswot", "cifar10", tmp_path)


def test_wrong_table_refused(tmp_path):
    path = _small(tmp_path)
    path.rename(table_path("naswot", "cifar100", tmp_path))
    with pytest.raises(TableMismatchError, match="dataset='cifar10'"):
        load_table("naswot", "cifar100", tmp_path)


def test_settings_and_completeness_checks(tmp_path):
    _small(tmp_path)
    assert load_table("naswot", "cifar10", tmp_path, settings=PROV["settings"]).scores
    with pytest.raises(TableMismatchError, match="settings"):
        load_table("naswot", "cifar10", tmp_path, settings='{"seed": 1}')
    with pytest.raises(TableMismatchError, match="partial"):
        load_table("naswot", "cifar10", tmp_path, require_complete=True)


def test_missing_file_and_bad_names(tmp_path):
    with pytest.raises(TableNotFoundError):
        load_table("naswot", "cifar10", tmp_path)
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "nothing.csv.gz")
    with pytest.raises(ValueError, match="plain name"):
        table_name("../x", "cifar10")
    with pytest.raises(TypeError):
        table_name("naswot", 10)
    with pytest.raises(ValueError, match="one-line"):
        encode_table("naswot", "cifar10", {}, {"note": "two\nlines"})
    assert issubclass(CorruptTableError, TableError) and issubclass(TableError, ValueError)


@pytest.mark.data
def test_committed_tables_are_valid():
    """Every table in benchmarks/scores/ loads and verifies (gzip CRC, rows, arch strings)."""
    for proxy, dataset in available_tables():
        table = load_table(proxy, dataset)
        assert table.scores, f"{proxy}-{dataset} is empty"
        assert table.provenance["scoring_version"] != "unknown"


@pytest.mark.parametrize("proxy, dataset", [("naswot", "ImageNet16-120"), ("params", "cifar10")])
def test_export_from_store_records_provenance(tmp_path, proxy, dataset):
    import torch

    import tfnas
    from tfnas.datasets import load_batch
    from tfnas.scoring import SCORING_VERSION, settings_key
    from tfnas.store import ScoreStore
    from tfnas.tables import export_table

    settings = settings_key(proxy, dataset, 0, 128)
    with ScoreStore(tmp_path / "s.sqlite") as store:
        store.put_many([(proxy, dataset, arch_at(i), settings, i / 3, 0.0) for i in range(5)])
        first = export_table(store, proxy, dataset, root=tmp_path)
        again = export_table(store, proxy, dataset, root=tmp_path)
    assert (first.written, again.written, first.rows) == (True, False, 5)
    table = load_table(proxy, dataset, tmp_path, settings=settings)
    assert table.scores == {arch_at(i): i / 3 for i in range(5)}
    prov = table.provenance
    assert prov["tfnas_version"] == tfnas.__version__
    assert prov["scoring_version"] == SCORING_VERSION
    assert prov["torch_version"] == torch.__version__
    assert (prov["seed"], prov["batch_size"]) == ("0", "128")
    assert prov["git_commit"] and prov["date"] and prov["machine"] and prov["seed_rule"]
    if proxy == "naswot":
        batch = load_batch(dataset, 0, 128)
        assert prov["data_identity"] == batch.identity
        assert "reconstructed ImageNet16-120" in prov["data"]
    else:
        assert prov["data_identity"].startswith("none")


@given(position=st.integers(0, 10_000), mask=st.integers(1, 255))
def test_any_flipped_byte_is_refused_or_harmless(tmp_path_factory, position, mask):
    """No silent corruption: a damaged file either fails to load or loads the same scores."""
    root = tmp_path_factory.mktemp("flip")
    scores = {arch_at(i): i * 0.1 for i in range(0, SPACE_SIZE, 500)}
    path = write_table(table_path("synflow", "cifar10", root), "synflow", "cifar10", scores, PROV)
    data = bytearray(path.read_bytes())
    data[position % len(data)] ^= mask
    path.write_bytes(bytes(data))
    try:
        table = load_table("synflow", "cifar10", root)
    except TableError:
        return
    assert table.scores == scores


# -- hardening (issue 12): bounded inflation, one gzip member, the score rule, one-line refusals --

REPO = Path(__file__).resolve().parents[1]
HEAD = b"# format: tfnas-score-table/1\n# proxy: naswot\n# dataset: cifar10\n# rows: 1\n" \
       b"# complete: false\nindex,arch,score\n"

# The reader in a child process: print its peak address space (--baseline) or the outcome.
_CHILD = r"""
import sys
from tfnas.tables import TableError, read_table

def vm_peak_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("no VmPeak")

if sys.argv[1] == "--baseline":
    print(vm_peak_bytes())
    raise SystemExit(0)
try:
    table = read_table(sys.argv[1])
except TableError as exc:
    print("refused:", exc)
else:
    print("loaded", len(table.scores))
"""

HEADROOM = 300 * 1024 * 1024
"""Address space the reader may use beyond the interpreter's own baseline (torch included)."""


def _gzip_bomb(path: Path, inflated_mib: int) -> Path:
    """A valid one-member gzip file: a table header, then ``inflated_mib`` MiB of '0' digits.

    Raw deflate blocks after a full flush are independent, so one compressed MiB is repeated;
    the CRC-32 and size trailer are computed, so the file is well formed, just enormous inside.
    """
    chunk = b"0" * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = deflate.compress(HEAD) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(HEAD)
    for _ in range(inflated_mib):
        crc = zlib.crc32(chunk, crc)
    size = (len(HEAD) + inflated_mib * len(chunk)) & 0xFFFFFFFF
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    path.write_bytes(gzip_header + head + block * inflated_mib + deflate.flush()
                     + struct.pack("<II", crc, size))
    return path


def _run_reader(arg: str, limit: int | None = None) -> subprocess.CompletedProcess:
    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-c", _CHILD, arg], cwd=REPO, capture_output=True, text=True,
        timeout=300, preexec_fn=cap if limit else None,
    )


@pytest.fixture(scope="module")
def address_limit() -> int:
    """The child's own peak address space plus :data:`HEADROOM`, measured, not guessed."""
    baseline = _run_reader("--baseline")
    assert baseline.returncode == 0, baseline.stderr
    return int(baseline.stdout) + HEADROOM


@pytest.mark.integration
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc/self/status are Linux's")
@pytest.mark.parametrize("inflated_mib", [1024, 4096])
def test_gzip_bomb_refused_within_a_small_address_space(tmp_path, address_limit, inflated_mib):
    """A ~1 MB file inflating to 1 GiB (and a ~4 MB one to 4 GiB) is refused, not inflated.

    The reader runs under RLIMIT_AS = its baseline + 300 MB: inflating the whole stream (what
    gzip.open().read() did) dies with MemoryError there; the streaming cap refuses in one line.
    """
    bomb = _gzip_bomb(tmp_path / "naswot-cifar10.csv.gz", inflated_mib)
    assert bomb.stat().st_size < 8 * 1024 * 1024
    done = _run_reader(str(bomb), address_limit)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("refused:") and done.stdout.count("\n") == 1, done.stdout
    assert str(MAX_TEXT_BYTES) in done.stdout or str(MAX_FILE_BYTES) in done.stdout
    # the same limit is ample for a real, full table
    real = _run_reader(str(table_path("naswot", "cifar10")), address_limit)
    assert real.stdout == f"loaded {SPACE_SIZE}\n", real.stderr[-2000:]


def test_bounds_are_what_a_full_table_can_be():
    """The caps follow from the format: the longest arch, the longest repr, all 15,625 rows."""
    assert MAX_ARCH_CHARS == max(len(str(a)) for a in all_cells())
    longest = max(len(repr(x)) for x in (-2.2250738585072014e-308, -1.7976931348623157e308,
                                          -1.2345678901234567e-100, -5e-324, -math.inf))
    scores = {a: -1.2345678901234567e-100 for a in all_cells()}
    text = gzip.decompress(encode_table("synflow", "ImageNet16-120", scores, PROV))
    assert longest == 24 and len(text) <= MAX_TEXT_BYTES
    for proxy, dataset in available_tables():
        path = table_path(proxy, dataset)
        assert len(gzip.decompress(path.read_bytes())) <= MAX_TEXT_BYTES
        assert path.stat().st_size <= MAX_FILE_BYTES


@pytest.mark.data
def test_committed_tables_reencode_byte_identically():
    """Reading loses nothing: every committed table re-encodes to its exact bytes."""
    derived = {"format", "proxy", "dataset", "rows", "space_size", "complete"}
    for proxy, dataset in available_tables():
        path = table_path(proxy, dataset)
        table = read_table(path)
        prov = {k: v for k, v in table.provenance.items() if k not in derived}
        assert encode_table(proxy, dataset, table.scores, prov) == path.read_bytes()


def _refused(path: Path) -> str:
    """The one-line message a refused table gives."""
    with pytest.raises(TableError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= 500, message
    return message


@pytest.mark.parametrize(
    "extra, match",
    [
        (lambda data: data + gzip.compress(b"1,x,2\n", mtime=0), "after its gzip stream"),
        (lambda data: data + b"\x00" * 8, "after its gzip stream"),
        (lambda data: data + b"garbage", "after its gzip stream"),
        (lambda data: b"", "ends inside the stream"),
        (lambda data: b"\x00" * (MAX_FILE_BYTES + 1), f"over {MAX_FILE_BYTES} bytes"),
    ],
)
def test_one_gzip_member_and_nothing_else(tmp_path, extra, match):
    path = _small(tmp_path)
    path.write_bytes(extra(path.read_bytes()))
    assert match in _refused(path)


def _is_repr(text: str) -> bool:
    """True when ``text`` is exactly what ``repr`` writes for some float."""
    try:
        return repr(float(text)) == text
    except ValueError:
        return False


bad_score_text = st.one_of(
    st.sampled_from(["nan", "NaN", "-nan", "inf", "+inf", "Infinity", "-Infinity", "1e999",
                     "-1e999", "1e309", "", " ", "0x10", "1_0", "١", "１", "+1.0", "1.", ".5"]),
    st.floats(allow_nan=False, allow_infinity=False).flatmap(
        lambda x: st.sampled_from([f"{x:.3e}", f" {x!r}", f"{x!r} ", f"{x!r}\r", f"{x!r}0",
                                   f"+{x!r}", f"{x!r}e0", f"{x!r}" * 3000])
    ).filter(lambda t: not _is_repr(t)),
)


@settings(max_examples=100, deadline=None)
@given(text=bad_score_text, row=st.integers(0, 9))
def test_score_rule_refuses_anything_but_a_valid_repr(tmp_path_factory, text, row):
    """NaN, +inf, overflow to inf and any text that is not the writer's repr are refused."""
    path = _small(tmp_path_factory.mktemp("score"))
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    at = lines.index("index,arch,score") + 1 + row
    index, arch, _ = lines[at].split(",")
    lines[at] = f"{index},{arch},{text}"
    path.write_bytes(gzip.compress("\n".join(lines).encode(), mtime=0))
    message = _refused(path)
    assert f":{at + 1}: score " in message


@settings(max_examples=50, deadline=None)
@given(index_text=st.sampled_from(["00", "01", "007", "+1", "-0", " 1", "1 ", "١", "１", "1_0",
                                   "99999", "15625", "1" * 5000]))
def test_index_has_one_spelling(tmp_path_factory, index_text):
    """Leading zeros, signs, Unicode digits or out-of-range indices are refused, not parsed."""
    root = tmp_path_factory.mktemp("index")
    scores = {arch_at(1): 1.5}
    path = write_table(table_path("naswot", "cifar10", root), "naswot", "cifar10", scores, PROV)
    _rewrite(path, lambda t: t.replace(f"\n1,{arch_at(1)},", f"\n{index_text},{arch_at(1)},"))
    assert "index " in _refused(path)


@pytest.mark.parametrize("values", [[-math.inf] * 3, []])
def test_table_without_a_finite_score_refused(tmp_path, values):
    """An all -inf (or empty) table ranks nothing: the reader and the writer refuse it."""
    scores = {arch_at(i): v for i, v in enumerate(values)}
    with pytest.raises(TableError, match="finite score"):
        encode_table("naswot", "cifar10", scores, PROV)
    path = _small(tmp_path, 3)
    _rewrite(path, lambda t: "\n".join(
        line.rsplit(",", 1)[0] + ",-inf" if line[:1].isdigit() else line
        for line in t.split("\n")
    ) if values else t.replace("# rows: 3", "# rows: 0").split("index,arch,score")[0]
        + "index,arch,score\n")
    assert "no finite score" in _refused(path)


def test_minus_inf_is_a_score_nan_and_plus_inf_are_not(tmp_path):
    scores = {arch_at(0): -math.inf, arch_at(1): 2.5}
    write_table(table_path("naswot", "cifar10", tmp_path), "naswot", "cifar10", scores, PROV)
    assert load_table("naswot", "cifar10", tmp_path).scores == scores
    for bad in (math.nan, math.inf):
        with pytest.raises(TableError, match=r"cell 1 .*never a score"):
            encode_table("naswot", "cifar10", {arch_at(0): 1.0, arch_at(1): bad}, PROV)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t.replace("# format: tfnas-score-table/1", "# format: " + "x" * 100_000),
         "lacks '# format"),
        (lambda t: t.replace("# rows: 10", "# rows: " + "9" * 5000), "header 'rows'"),
        (lambda t: t.replace("# rows: 10", "# rows: ١٠"), "header 'rows'"),
        (lambda t: t.replace("# dataset: cifar10", "# dataset: cifar10\n# dataset: cifar100"),
         "repeated"),
        (lambda t: t.replace("# space_size: 15625", "# space_size: 16"), "space_size"),
        (lambda t: t.replace(f"\n3,{arch_at(3)},", f"\n3,{'|' * 100_000},"), "not the cell"),
        (lambda t: t.replace(f"\n3,{arch_at(3)},", "\n3," + "," * 100_000), "3 fields"),
        (lambda t: t.replace("\n", "\r\n"), "score"),
    ],
)
def test_refusals_are_one_bounded_line(tmp_path, edit, match):
    path = _small(tmp_path)
    _rewrite(path, edit)
    assert match in _refused(path)


def test_non_utf8_and_directory_and_unreadable(tmp_path):
    path = _small(tmp_path)
    raw = gzip.decompress(path.read_bytes()).replace(b"# proxy: naswot", b"# proxy: \xff\xfe")
    path.write_bytes(gzip.compress(raw, mtime=0))
    assert "does not hold UTF-8 text" in _refused(path)
    folder = tmp_path / "dir.csv.gz"
    folder.mkdir()
    assert "is a directory" in _refused(folder)
    assert "cannot be examined: File name too long" in _refused(tmp_path / ("x" * 5000))


def test_bad_names_are_table_errors_with_bounded_messages():
    for name in ("../x", "a/b", ".hidden", "", "x" * 100_000, "tab\there"):
        with pytest.raises(TableError) as caught:
            table_name(name, "cifar10")
        assert len(str(caught.value)) <= 500 and "\n" not in str(caught.value)


# -- tables of another search space (issue 13): the size space ----------------------------------

SSS_SCORES = st.dictionaries(
    st.integers(0, SIZE.size - 1).map(SIZE.arch_at),
    st.floats(allow_nan=False, allow_infinity=False) | st.just(-math.inf),
    min_size=1, max_size=40,
).filter(lambda d: any(math.isfinite(v) for v in d.values()))


@given(scores=SSS_SCORES)
def test_a_size_space_table_round_trips_under_its_own_name(tmp_path_factory, scores):
    root = tmp_path_factory.mktemp("sss")
    path = table_path("synflow", "cifar10", root, space="sss")
    assert path.name == "synflow-cifar10-sss.csv.gz" != table_name("synflow", "cifar10")
    write_table(path, "synflow", "cifar10", scores, PROV, space="sss")
    table = load_table("synflow", "cifar10", root, space=SIZE)
    assert table.scores == scores and table.space == "sss"
    assert all(isinstance(a, SizeArch) for a in table.scores)
    assert table.missing == SIZE.size - len(scores) and not table.complete
    assert table.provenance["space"] == "sss" and table.provenance["space_size"] == "32768"
    assert available_tables(root, space="sss") == [("synflow", "cifar10")]
    assert available_tables(root) == []  # not a topology table
    prov = {k: v for k, v in table.provenance.items()
            if k not in {"format", "proxy", "dataset", "rows", "space", "space_size", "complete"}}
    assert encode_table("synflow", "cifar10", table.scores, prov, "sss") == path.read_bytes()


def test_a_committed_topology_table_rewrites_byte_identically(tmp_path):
    """Through read_table and write_table (what an export does): the same bytes, no space line."""
    proxy, dataset = available_tables()[0]
    original = table_path(proxy, dataset)
    table = read_table(original)
    assert table.space == "tss" and "space" not in table.provenance
    copy = write_table(table_path(proxy, dataset, tmp_path), proxy, dataset, table.scores,
                       table.provenance)
    assert copy.read_bytes() == original.read_bytes()
    assert table_path(proxy, dataset, space="tss") == original


def test_a_table_of_one_space_is_not_read_as_the_other(tmp_path):
    sss = write_table(table_path("params", "cifar10", tmp_path, space="sss"), "params", "cifar10",
                      {SIZE.arch_at(i): float(i) for i in range(5)}, PROV, space="sss")
    tss = table_path(*available_tables()[0])
    for path, space, declared in ((sss, None, "sss"), (sss, "tss", "sss"), (tss, "sss", "tss")):
        with pytest.raises(TableMismatchError) as caught:
            read_table(path, space)
        message = str(caught.value)
        assert "\n" not in message and len(message) <= 500
        assert f"of the '{declared}' search space" in message and f"space={declared!r}" in message
    # a topology table renamed as a size-space one is refused the same way
    (tmp_path / "params-cifar10-sss.csv.gz").write_bytes(tss.read_bytes())
    with pytest.raises(TableMismatchError, match="of the 'tss' search space"):
        load_table("params", "cifar10", tmp_path, space="sss")
    with pytest.raises(TableNotFoundError, match="tfnas sweep --space sss") as missing:
        load_table("params", "cifar100", tmp_path, space="sss")
    assert "--space sss" in missing.value.remedy  # what a claim's not-run reason quotes
    with pytest.raises(TableError):  # cells of the wrong space are never written
        encode_table("params", "cifar10", {SIZE.arch_at(0): 1.0}, PROV)
    with pytest.raises(TableError):
        encode_table("params", "cifar10", {arch_at(0): 1.0}, PROV, space="sss")


def test_size_space_bounds_follow_the_space(tmp_path):
    tss, sss = table_limits(), table_limits("sss")
    assert (tss.row_bytes, tss.text_bytes, tss.file_bytes) == (MAX_ROW_BYTES, MAX_TEXT_BYTES,
                                                               MAX_FILE_BYTES)
    assert sss.row_bytes == len("32767,") + len("64:64:64:64:64") + 1 + 24 + 1 < tss.row_bytes
    scores = {a: -1.2345678901234567e-100 for a in SIZE.all_cells()}
    full = gzip.decompress(encode_table("synflow", "ImageNet16-120", scores, PROV, "sss"))
    assert len(full) <= sss.text_bytes < tss.text_bytes
    # rows follow the space: index 20000 is a size-space cell, outside the topology space
    path = write_table(tmp_path / "a-cifar10-sss.csv.gz", "a", "cifar10",
                       {SIZE.arch_at(20000): 1.0, SIZE.arch_at(32767): 2.0}, PROV, "sss")
    assert read_table(path, "sss").scores[SizeArch((64,) * 5)] == 2.0
    _rewrite(path, lambda t: t.replace("\n32767,64:64:64:64:64,", "\n32768,64:64:64:64:64,"))
    with pytest.raises(CorruptTableError, match=r"outside 0\.\.32767"):
        read_table(path, "sss")
    _rewrite(path, lambda t: t.replace("\n32768,64:64:64:64:64,", "\n32767,|none~0|+|,"))
    with pytest.raises(CorruptTableError, match="not the cell at index 32767"):
        read_table(path, "sss")
    # text within the topology bound but over the size space's is refused for the size space
    _rewrite(path, lambda t: t + "0" * (sss.text_bytes + 1))
    with pytest.raises(CorruptTableError, match=f"more than the {sss.text_bytes} a full sss"):
        read_table(path, "sss")


def test_a_variant_replaces_only_the_tables_it_holds_and_says_its_precision(tmp_path):
    from tfnas.tables import load_variant_table, table_variants, variant_root

    cells = all_cells()[:3]
    write_table(table_path("p", "cifar10", tmp_path), "p", "cifar10",
                {c: 1.0 for c in cells}, {"settings": '{"seed":0}'})
    write_table(table_path("q", "cifar10", tmp_path), "q", "cifar10", {c: 2.0 for c in cells}, {})
    folder = variant_root("low", tmp_path)
    write_table(table_path("p", "cifar10", folder), "p", "cifar10", {c: 3.0 for c in cells},
                {"settings": '{"precision":"float64","seed":0}'})
    assert table_variants(tmp_path) == ["low"]
    assert load_variant_table("p", "cifar10", None, tmp_path).precision == "float32"
    own = load_variant_table("p", "cifar10", "low", tmp_path)
    assert set(own.scores.values()) == {3.0} and own.precision == "float64"
    assert set(load_variant_table("q", "cifar10", "low", tmp_path).scores.values()) == {2.0}
    with pytest.raises(TableNotFoundError, match="no tables variant 'high'.*expected one of"):
        load_variant_table("p", "cifar10", "high", tmp_path)
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(TableError, match="plain name"):
            variant_root(bad, tmp_path)
