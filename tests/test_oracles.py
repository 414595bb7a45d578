"""Accuracy oracles: the CSV tables against the real nats_bench API on the official fake archive."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.config import DataNotFoundError
from tfnas.oracles import (
    Accuracies,
    NatsBenchOracle,
    OracleQueryError,
    TableFormatError,
    TableOracle,
    default_oracle,
)
from tfnas.space import SPACE_SIZE, arch_at

ARCHIVE_CELLS = (0, 11, 284)
PROXY = ("cifar10", "cifar100", "ImageNet16-120")


@pytest.fixture(scope="module")
def tables() -> TableOracle:
    return default_oracle()


@pytest.fixture(scope="module")
def archive() -> NatsBenchOracle:
    from tfnas.config import data_root

    return NatsBenchOracle(data_root() / "nats-tss" / "NATS-tss-v1_0-3ffb9-simple")


def _real_api(path: Path):
    import nats_bench

    return nats_bench.create(str(path), "tss", fast_mode=True, verbose=False)


@pytest.mark.parametrize("cell", ARCHIVE_CELLS)
@pytest.mark.parametrize("dataset", ["cifar100", "ImageNet16-120"])
@pytest.mark.parametrize("split", ["valid", "test"])
def test_12_epoch_tables_equal_the_seed_mean(tables, archive, cell: int, dataset: str, split: str) -> None:
    assert tables.accuracy(cell, dataset, 12, split) == archive.accuracy(cell, dataset, 12, split)


@pytest.mark.parametrize("cell", ARCHIVE_CELLS)
@pytest.mark.parametrize("dataset", PROXY)
def test_200_epoch_test_equals_the_seed_mean(tables, archive, cell: int, dataset: str) -> None:
    assert tables.accuracy(cell, dataset, 200, "test") == archive.accuracy(cell, dataset, 200, "test")


@pytest.mark.parametrize("cell", ARCHIVE_CELLS)
def test_cifar10_valid_table_is_one_recorded_trial(tables, fake_archive: Path, cell: int) -> None:
    api = _real_api(fake_archive)
    api._prepare_info(cell)
    seeds = api.arch2infos_dict[cell]["12"].get_dataset_seeds("cifar10-valid")
    table = (tables.accuracy(cell, "cifar10-valid", 12, "valid"), tables.accuracy(cell, "cifar10-valid", 12, "test"))
    matches = [s for s in seeds if table == (
        NatsBenchOracle(fake_archive, trial=s).accuracy(cell, "cifar10-valid", 12, "valid"),
        NatsBenchOracle(fake_archive, trial=s).accuracy(cell, "cifar10-valid", 12, "test"),
    )]
    assert len(matches) == 1
    mean = NatsBenchOracle(fake_archive).accuracy(cell, "cifar10-valid", 12, "valid")
    assert table[0] != mean  # it really is one trial, not the mean


@pytest.mark.parametrize("cell", ARCHIVE_CELLS)
@pytest.mark.parametrize("dataset", PROXY)
def test_train_time_is_simulate_train_eval_cost(
    tables, archive, fake_archive: Path, cell: int, dataset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nats_bench.api_topology

    # simulate_train_eval picks a trial with the module's `random`: give it an explicit generator
    monkeypatch.setattr(nats_bench.api_topology, "random", random.Random(cell))
    api = _real_api(fake_archive)
    _, _, cost, _ = api.simulate_train_eval(cell, dataset, hp="12")
    assert tables.train_time(cell, dataset) == pytest.approx(cost, rel=1e-12)
    assert archive.train_time(cell, dataset) == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize("cell", ARCHIVE_CELLS)
def test_accuracies_mapping(tables, archive, cell: int) -> None:
    for oracle in (tables, archive):
        got = oracle.accuracies(arch_at(cell), "cifar10")
        assert isinstance(got, Accuracies)
        assert got.valid12 == oracle.accuracy(cell, "cifar10-valid", 12, "valid")
        assert got.test200 == oracle.accuracy(cell, "cifar10", 200, "test")
        assert oracle.accuracies(str(arch_at(cell)), "cifar10-valid") == got
        for dataset in ("cifar100", "ImageNet16-120"):
            acc = oracle.accuracies(cell, dataset)
            assert acc.valid12 == oracle.accuracy(cell, dataset, 12, "valid")
            assert acc.test200 == oracle.accuracy(cell, dataset, 200, "test")
            assert acc.train_time12 == oracle.train_time(cell, dataset, 12)
    assert tables.accuracies(cell, "cifar100") == archive.accuracies(cell, "cifar100")


def test_archive_trials(fake_archive: Path) -> None:
    seeds = {NatsBenchOracle(fake_archive, trial=random.Random(k)).accuracy(0, "cifar10-valid", 12, "valid") for k in range(8)}
    assert seeds == {NatsBenchOracle(fake_archive, trial=s).accuracy(0, "cifar10-valid", 12, "valid") for s in (111, 777)}
    with pytest.raises(OracleQueryError, match=r"no trial with seed 5 .* seeds are \[111, 777\]"):
        NatsBenchOracle(fake_archive, trial=5).accuracy(0, "cifar10-valid", 12, "valid")
    with pytest.raises(TypeError, match="global random state"):
        NatsBenchOracle(fake_archive, trial=True)
    with pytest.raises(TypeError, match="trial must be"):
        NatsBenchOracle(fake_archive, trial="777")  # type: ignore[arg-type]


def test_cell_not_in_archive(archive) -> None:
    with pytest.raises(OracleQueryError, match=r"cell 5 is not in this archive .* holds 3 cells: 0, 11, 284"):
        archive.accuracy(5, "cifar100", 12, "valid")


def test_archive_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataNotFoundError, match=r"no NATS-Bench topology archive at .*NATS-tss-v1_0-3ffb9-simple.tar"):
        NatsBenchOracle(tmp_path / "nowhere")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(DataNotFoundError, match=str(tmp_path / "NATS-tss-v1_0-3ffb9-simple")):
        NatsBenchOracle()


def test_all_cells_answer_from_tables(tables) -> None:
    for key in tables.available():
        column = tables.column(*key)
        assert column.shape == (SPACE_SIZE,) and np.isfinite(column).all()
        assert ((0 <= column) & (column <= 100)).all()
        assert not column.flags.writeable
    times = tables.time_column("cifar10")
    assert times.shape == (SPACE_SIZE,) and (times > 0).all()
    assert tables.time_column("cifar10") is tables.time_column("cifar10-valid")


@given(index=st.integers(0, SPACE_SIZE - 1), dataset=st.sampled_from(PROXY))
def test_point_queries_match_columns(tables, index: int, dataset: str) -> None:
    arch = arch_at(index)
    acc = tables.accuracies(arch, dataset)
    valid = "cifar10-valid" if dataset == "cifar10" else dataset
    assert acc.valid12 == tables.column(valid, 12, "valid")[index]
    assert acc.test200 == tables.column(dataset, 200, "test")[index]
    assert acc.train_time12 == tables.time_column(dataset)[index]
    assert tables.accuracy(str(arch), dataset, 200, "test") == tables.accuracy(index, dataset, 200, "test")


@pytest.mark.parametrize(
    "dataset, mean, std",
    [("cifar10-valid", 68.85, 12.80), ("cifar100", 40.46, 11.08), ("ImageNet16-120", 22.54, 6.60)],
)
def test_space_wide_figures_match_published(tables, dataset: str, mean: float, std: float) -> None:
    column = tables.column(dataset, 12, "valid")
    assert abs(column.mean() - mean) <= 0.005
    assert abs(column.std() - std) <= 0.005


@pytest.mark.parametrize(
    "args, match, archive_has_it",
    [
        ((0, "cifar10", 12, "valid"), "cifar10 has no validation split.*'cifar10-valid'", False),
        ((0, "cifar10", 12, "test"), r"no 12-epoch test accuracy for cifar10; available .*\('cifar10', 200, 'test'\)", True),
        ((0, "cifar100", 200, "valid"), r"no 200-epoch valid accuracy for cifar100; available", True),
        ((0, "mnist", 12, "valid"), "unknown dataset 'mnist'; available: cifar10, cifar10-valid, cifar100, ImageNet16-120", False),
        ((0, "cifar100", 50, "valid"), "12 or 200 epochs, not 50", False),
        ((0, "cifar100", 12, "train"), "unknown split 'train'; available: valid, test", False),
    ],
)
def test_bad_queries(tables, archive, args: tuple, match: str, archive_has_it: bool) -> None:
    with pytest.raises(OracleQueryError, match=match):
        tables.accuracy(*args)
    if archive_has_it:  # the tables lack it, the full record has it
        assert 0 < archive.accuracy(*args) < 100
    else:
        with pytest.raises(OracleQueryError, match=match):
            archive.accuracy(*args)


def test_query_error_kinds(tables) -> None:
    with pytest.raises(KeyError):
        tables.accuracy(0, "mnist", 12, "valid")
    with pytest.raises(ValueError):
        tables.accuracy(0, "mnist", 12, "valid")
    with pytest.raises(TypeError, match="epochs must be an int"):
        tables.accuracy(0, "cifar100", "12", "valid")
    with pytest.raises(IndexError, match="index must be in 0..15624"):
        tables.accuracy(SPACE_SIZE, "cifar100", 12, "valid")
    with pytest.raises(ValueError, match="malformed arch string"):
        tables.accuracy("|conv~0|", "cifar100", 12, "valid")
    with pytest.raises(OracleQueryError, match="unknown proxy dataset 'mnist'"):
        tables.accuracies(0, "mnist")
    assert tables.train_time(0, "cifar100", 200) is None


def test_missing_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataNotFoundError, match="tss-12epoch-cifar10-valid.csv does not exist"):
        TableOracle(tmp_path)
    monkeypatch.delenv("TFNAS_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="TFNAS_DATA is not set"):
        default_oracle()


def _copy_tables(data_root: Path, dest: Path) -> Path:
    """Tables for a mutation test, built in tmp_path (never written into the repository)."""
    for path in (data_root / "nats-tss").glob("tss-*.csv"):
        shutil.copyfile(path, dest / path.name)
    return dest


def test_refuses_table_whose_archs_disagree(data_root: Path, tmp_path: Path) -> None:
    root = _copy_tables(data_root, tmp_path)
    path = root / "tss-12epoch-cifar100.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[5], lines[6] = lines[6], lines[5]  # two rows swapped: indices and archs out of order
    path.write_text("".join(lines))
    with pytest.raises(TableFormatError, match="row 6 is index '5' .* official NATS-Bench index 4 is"):
        TableOracle(root)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda lines: lines[:-1], "expected 15625 rows"),
        (lambda lines: ["idx,arch,x\n", *lines[1:]], "header must start with 'index,arch'"),
        (lambda lines: [lines[0], lines[1].replace(",", ";", 3), *lines[2:]], "row 2 has"),
        (lambda lines: [lines[0], lines[1].rsplit(",", 1)[0] + ",abc\n", *lines[2:]], "non-numeric value"),
    ],
)
def test_refuses_malformed_table(data_root: Path, tmp_path: Path, edit, match: str) -> None:
    root = _copy_tables(data_root, tmp_path)
    path = root / "tss-200epoch-test.csv"
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    with pytest.raises(TableFormatError, match=match):
        TableOracle(root)


# -- hardening (issue 12): nonsense values, missing columns, oversize fields, non-UTF-8, size --

EXPECTED = [str(arch_at(i)) for i in range(SPACE_SIZE)]
FILE_12 = "tss-12epoch-cifar100.csv"
FILE_200 = "tss-200epoch-test.csv"


@pytest.fixture(scope="module")
def official_lines(data_root: Path) -> dict[str, list[str]]:
    """The official CSVs' lines, read at test time from TFNAS_DATA (never stored in the repo)."""
    return {name: (data_root / "nats-tss" / name).read_text().splitlines(keepends=True)
            for name in (FILE_12, FILE_200)}


def _with_cell(lines: list[str], row: int, column: str, value: str) -> str:
    """The CSV text with one cell (data row ``row``, 0-based) replaced by ``value``."""
    header = lines[0].rstrip("\n").split(",")
    fields = lines[row + 1].rstrip("\n").split(",")
    fields[header.index(column)] = value
    return "".join([*lines[: row + 1], ",".join(fields) + "\n", *lines[row + 2 :]])


def _refused(path: Path, required: tuple[str, ...] = ()) -> str:
    """The one-line message of the refusal of ``path``."""
    from tfnas.oracles import _read_table

    with pytest.raises(TableFormatError) as caught:
        _read_table(path, EXPECTED, required)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= 500, message
    return message


nonsense = st.one_of(
    st.tuples(st.sampled_from(["test-accuracy", "valid-accuracy"]), st.one_of(
        st.floats(max_value=-1e-9, allow_nan=False).map(repr),
        st.floats(min_value=100.000001, allow_nan=False).map(repr),
        st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "١٢", "٥٠.٠", "1_0", " 5", ""]),
    )),
    st.tuples(st.sampled_from(["train-all-time", "valid-per-time", "test-all-time"]), st.one_of(
        st.floats(max_value=-1e-300, allow_nan=False).map(repr),
        st.floats(min_value=1.01e7, allow_nan=False).map(repr),
        st.sampled_from(["nan", "inf", "-5e12", "1e999", "-0.5"]),
    )),
    st.tuples(st.sampled_from(["train-loss", "test-loss"]),
              st.sampled_from(["nan", "-1.0", "1e999", "inf"])),
)


@settings(max_examples=20, deadline=None)  # each example writes and parses a 15,625-row table
@given(case=nonsense, row=st.integers(0, SPACE_SIZE - 1))
def test_nonsense_values_refused(tmp_path_factory, official_lines, case, row: int) -> None:
    """NaN or out-of-[0, 100] accuracies, negative, huge or infinite times, NaN or negative
    losses, nan/inf text and Unicode digits: refused in one line naming file, row and column."""
    column, value = case
    path = tmp_path_factory.mktemp("nonsense") / FILE_12
    path.write_text(_with_cell(official_lines[FILE_12], row, column, value))
    message = _refused(path)
    assert str(path) in message and f"row {row + 2}" in message
    assert column in message or "non-numeric value" in message


@pytest.mark.parametrize("column, value", [("cifar10", "100.5"), ("ImageNet16-120", "nan"),
                                           ("cifar100", "-3")])
def test_200_epoch_accuracy_out_of_range_refused(tmp_path, official_lines, column, value) -> None:
    path = tmp_path / FILE_200
    path.write_text(_with_cell(official_lines[FILE_200], 7, column, value))
    assert "row 9" in _refused(path)


def test_zero_or_negative_training_time_refused_by_the_oracle(data_root: Path, tmp_path: Path) -> None:
    """A cell whose simulated training costs nothing would stall a time-budgeted search."""
    root = _copy_tables(data_root, tmp_path)
    path = root / FILE_12
    lines = path.read_text().splitlines(keepends=True)
    text = _with_cell(lines, 3, "train-all-time", "0")
    path.write_text(_with_cell(text.splitlines(keepends=True), 3, "valid-per-time", "0.0"))
    with pytest.raises(TableFormatError, match=r"row 5: train-all-time \+ valid-per-time is 0.0"):
        TableOracle(root)


def test_negative_time_never_reaches_a_search(data_root: Path, tmp_path: Path) -> None:
    root = _copy_tables(data_root, tmp_path)
    path = root / "tss-12epoch-cifar10-valid.csv"
    path.write_text(_with_cell(path.read_text().splitlines(keepends=True), 0, "train-all-time",
                               "-5000000000000.0"))
    with pytest.raises(TableFormatError, match="row 2 column 'train-all-time' is -5000000000000.0"):
        TableOracle(root)


@pytest.mark.parametrize("drop", ["train-all-time", "valid-per-time", "valid-accuracy"])
def test_missing_column_names_file_column_and_expected(data_root: Path, tmp_path: Path, drop) -> None:
    root = _copy_tables(data_root, tmp_path)
    path = root / FILE_12
    rows = [line.rstrip("\n").split(",") for line in path.read_text().splitlines()]
    k = rows[0].index(drop)
    path.write_text("".join(",".join(r[:k] + r[k + 1 :]) + "\n" for r in rows))
    with pytest.raises(TableFormatError) as caught:
        TableOracle(root)
    message = str(caught.value)
    assert str(path) in message and f"lacks column {drop}" in message
    assert "expected index, arch, valid-accuracy, test-accuracy, train-all-time" in message
    assert "\n" not in message


@pytest.mark.parametrize("size", [200_000, 5_000])
def test_oversize_field_refused_in_one_line(tmp_path, official_lines, size: int) -> None:
    path = tmp_path / FILE_200
    path.write_text(_with_cell(official_lines[FILE_200], 2, "cifar10", "9" * size))
    assert "over 4096 characters" in _refused(path)


def test_quoted_field_running_to_the_end_refused(tmp_path, official_lines) -> None:
    path = tmp_path / FILE_200
    path.write_text(_with_cell(official_lines[FILE_200], 2, "cifar10", '"' + "1" * 50))
    _refused(path)


def test_non_utf8_refused_in_one_line(tmp_path, official_lines) -> None:
    path = tmp_path / FILE_200
    text = "".join(official_lines[FILE_200])
    path.write_bytes(text.encode().replace(b"avg_pool_3x3~0", b"avg_pool_3x3~\xff", 1))
    assert "is not UTF-8 text" in _refused(path)
    assert "cannot be examined" in _refused(tmp_path / ("x" * 5000))


def test_file_size_is_bounded(tmp_path, official_lines) -> None:
    from tfnas.oracles import MAX_NATS_CSV_BYTES

    path = tmp_path / FILE_200
    with open(path, "w") as handle:
        handle.write("".join(official_lines[FILE_200]))
        handle.write(("," * 1000 + "\n") * (MAX_NATS_CSV_BYTES // 1000))
    assert f"over {MAX_NATS_CSV_BYTES} bytes" in _refused(path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda lines: [lines[0].rstrip("\n") + ",cifar10\n", *lines[1:]], "repeats a column"),
        (lambda lines: [",".join(["index", "arch", *map(str, range(100))]) + "\n", *lines[1:]],
         "more than 64"),
        (lambda lines: [*lines, lines[-1]], "got more"),
        (lambda lines: [], "header must start"),
        (lambda lines: [lines[0], "\x00" * 10 + "\n", *lines[2:]], "row 2"),
    ],
)
def test_malformed_structure_refused_in_one_line(tmp_path, official_lines, edit, match) -> None:
    path = tmp_path / FILE_200
    path.write_text("".join(edit(official_lines[FILE_200])))
    assert match in _refused(path)
