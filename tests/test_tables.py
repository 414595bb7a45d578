"""Score tables: exact round trip, reproducible bytes, and refusal of damaged or wrong files."""

from __future__ import annotations

import gzip
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfnas.space import SPACE_SIZE, all_cells, arch_at
from tfnas.tables import (
    CorruptTableError,
    TableError,
    TableMismatchError,
    TableNotFoundError,
    available_tables,
    encode_table,
    load_table,
    read_table,
    table_name,
    table_path,
    write_table,
)

PROV = {"settings": '{"seed": 0}', "date": "2024-01-01T00:00:00Z"}

scores_strategy = st.dictionaries(
    st.integers(0, SPACE_SIZE - 1).map(arch_at),
    st.floats(allow_nan=False),
    max_size=40,
)


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
        (lambda t: t.replace("0.5\n", "zero\n", 1), "malformed row"),
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
