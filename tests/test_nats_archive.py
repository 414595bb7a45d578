"""NATS-Bench archives through the real ``nats_bench`` API: no archive file runs code (issue 12, 1).

Hostile archives are real files (bz2-compressed pickles in a copy of the official fake archive);
the proof that their payload is live runs the unpatched ``nats_bench`` in a subprocess.
"""

from __future__ import annotations

import bz2
import json
import math
import os
import pickle
import resource
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tfnas import nats_archive
from tfnas.errors import TfnasError
from tfnas.nats_archive import MAX_FILE_BYTES, ArchiveError
from tfnas.oracles import NatsBenchOracle
from tfnas.safe_pickle import UnsafePickleError

REPO = Path(__file__).resolve().parents[1]
CELLS = (0, 11, 284)  # the cells the official fake archives hold
ARCHIVES = {"tss": "nats-tss/NATS-tss-v1_0-3ffb9-simple", "sss": "nats-sss/NATS-sss-v1_0-50262-simple"}
HPS = {"tss": ("12", "200"), "sss": ("01", "12", "90")}
DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")


class _Reducer:
    """Pickles as ``func(*args)``: what an attacker's file does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _copy(data_root: Path, tmp_path: Path, space: str) -> Path:
    target = tmp_path / space
    shutil.copytree(data_root / ARCHIVES[space], target)
    for path in target.iterdir():
        path.chmod(0o644)  # the shared copy is read-only; the tests overwrite files in theirs
    return target


def _hostile(marker: Path) -> bytes:
    """A compressed pickle that creates ``marker`` through os.system when plain pickle loads it."""
    payload = {"meta_archs": _Reducer(os.system, f"touch {marker}"), "arch2infos": {}}
    return bz2.compress(pickle.dumps(payload, protocol=4))


def _plain_nats_bench(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with the unpatched nats_bench, outside the repository (no tfnas imported)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd="/",
        timeout=300, env={**os.environ, "PYTHONPATH": ""},
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) <= 500, text
    return text


@pytest.mark.integration
@pytest.mark.parametrize("space", ["tss", "sss"])
def test_hostile_meta_is_refused_and_never_runs(data_root: Path, tmp_path: Path, space: str) -> None:
    archive = _copy(data_root, tmp_path, space)
    marker = tmp_path / "marker"
    (archive / "meta.pickle.pbz2").write_bytes(_hostile(marker))
    if space == "tss":
        with pytest.raises(UnsafePickleError, match=r"refused global (posix|os)\.system") as info:
            NatsBenchOracle(archive)
    else:
        import nats_bench

        nats_archive.install()
        with pytest.raises(UnsafePickleError, match=r"refused global (posix|os)\.system") as info:
            nats_bench.create(str(archive), space, fast_mode=True, verbose=False)
    assert "meta.pickle.pbz2" in _one_line(info.value)
    assert not marker.exists()
    # the payload is live: the unpatched API runs it (so this test can fail)
    run = _plain_nats_bench(f"""
        import nats_bench
        try:
            nats_bench.create({str(archive)!r}, {space!r}, fast_mode=True, verbose=False)
        except Exception:
            pass
    """)
    assert marker.exists(), run.stderr[-500:]


@pytest.mark.integration
@pytest.mark.parametrize("space", ["tss", "sss"])
def test_hostile_cell_file_is_refused_and_never_runs(data_root: Path, tmp_path: Path, space: str) -> None:
    import nats_bench

    archive = _copy(data_root, tmp_path, space)
    marker = tmp_path / "marker"
    (archive / "000011.pickle.pbz2").write_bytes(_hostile(marker))
    if space == "tss":
        oracle = NatsBenchOracle(archive)
        assert oracle.accuracy(0, "cifar100", 12, "valid") > 0  # the intact cells still answer
        with pytest.raises(UnsafePickleError, match=r"000011\.pickle\.pbz2: refused global") as info:
            oracle.accuracy(11, "cifar100", 12, "valid")
    else:
        nats_archive.install()
        api = nats_bench.create(str(archive), space, fast_mode=True, verbose=False)
        with pytest.raises(UnsafePickleError, match=r"000011\.pickle\.pbz2: refused global") as info:
            api.get_more_info(11, "cifar10", hp="90")
    _one_line(info.value)
    # the other way the API reads a file: ArchResults.create_from_state_dict(path)
    with pytest.raises(UnsafePickleError):
        nats_bench.api_utils.ArchResults.create_from_state_dict(str(archive / "000011.pickle.pbz2"))
    assert not marker.exists()
    run = _plain_nats_bench(f"""
        import nats_bench
        try:
            nats_bench.api_utils.pickle_load({str(archive / "000011.pickle.pbz2")!r})
        except Exception:
            pass
    """)
    assert marker.exists(), run.stderr[-500:]


def test_install_routes_every_name_and_is_idempotent() -> None:
    import nats_bench
    import nats_bench.api_size
    import nats_bench.api_topology
    import nats_bench.api_utils

    nats_archive.install()
    nats_archive.install()
    assert nats_archive.installed()
    for module in (nats_bench, nats_bench.api_utils, nats_bench.api_topology, nats_bench.api_size):
        assert module.pickle_load is nats_archive.pickle_load


_REFERENCE = """
    import json, nats_bench
    out = {}
    for space, path, hps in SPECS:
        api = nats_bench.create(path, space, fast_mode=True, verbose=False)
        out[space] = [[api.get_more_info(i, d, iepoch=None, hp=hp, is_random=False) for hp in hps
                       for d in DATASETS] for i in CELLS]
        out[space + "-archs"] = api.meta_archs[:50] + api.meta_archs[-50:]
    print(json.dumps(out))
"""


@pytest.mark.integration
def test_official_fake_archives_answer_as_the_plain_api(data_root: Path) -> None:
    import nats_bench

    specs = [(space, str((data_root / ARCHIVES[space]).resolve()), HPS[space]) for space in ARCHIVES]
    head = f"SPECS = {specs!r}\nDATASETS = {DATASETS!r}\nCELLS = {CELLS!r}\n"
    run = _plain_nats_bench(head + textwrap.dedent(_REFERENCE))
    assert run.returncode == 0, run.stderr[-800:]
    reference = json.loads(run.stdout)
    nats_archive.install()
    for space, path, hps in specs:
        api = nats_bench.create(path, space, fast_mode=True, verbose=False)
        got = [[api.get_more_info(i, d, iepoch=None, hp=hp, is_random=False) for hp in hps for d in DATASETS]
               for i in CELLS]
        assert json.loads(json.dumps(got)) == reference[space]
        assert api.meta_archs[:50] + api.meta_archs[-50:] == reference[space + "-archs"]
    oracle = NatsBenchOracle(data_root / ARCHIVES["tss"])
    for k, cell in enumerate(CELLS):
        assert oracle.accuracy(cell, "cifar100", 200, "test") == reference["tss"][k][6]["test-accuracy"]
        assert oracle.accuracy(cell, "cifar10-valid", 12, "valid") == reference["tss"][k][0]["valid-accuracy"]


# -- bounded decompression -------------------------------------------------------------------


def _zeros_stream(mib: int) -> bytes:
    compressor = bz2.BZ2Compressor(9)
    chunk = b"\0" * (1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(mib)) + compressor.flush()


def test_decompression_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pbz2"
    path.write_bytes(_zeros_stream(3))
    assert nats_archive.decompress(path, limit=3 << 20) == b"\0" * (3 << 20)  # the cap itself is fine
    with pytest.raises(ArchiveError, match="decompresses to more than 2 MiB") as info:
        nats_archive.decompress(path, limit=2 << 20)
    _one_line(info.value)
    path.write_bytes(_zeros_stream(1) * 3)  # three streams, as bz2 allows
    assert len(nats_archive.decompress(path, limit=3 << 20)) == 3 << 20
    with pytest.raises(ArchiveError, match="more than 2 MiB"):
        nats_archive.decompress(path, limit=2 << 20)


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"", r"truncated bz2 data"),
        (b"not bz2 at all", r"not a readable bz2 file"),
        (bz2.compress(b"x" * 1000)[:-10], r"truncated bz2 data"),
        (bz2.compress(pickle.dumps({})) + b"garbage", r"not a readable bz2 file"),
        (bz2.compress(b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"."), r"truncated"),
        (bz2.compress(pickle.dumps(_Reducer(eval, "1"))), r"refused global builtins\.eval"),
    ],
    ids=["empty", "not-bz2", "cut", "trailing", "binbytes8-past-end", "eval"],
)
def test_bad_archive_files_are_one_line_errors(tmp_path: Path, raw: bytes, match: str) -> None:
    path = tmp_path / "meta.pickle.pbz2"
    path.write_bytes(raw)
    with pytest.raises(TfnasError, match=match) as info:
        nats_archive.load_file(path)
    _one_line(info.value)


_DRIVER = """
import sys
from tfnas.errors import TfnasError
from tfnas.oracles import NatsBenchOracle
try:
    NatsBenchOracle(sys.argv[1])
except TfnasError as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
print("accepted")
"""


@pytest.mark.integration
def test_meta_bomb_ends_in_one_line_under_rlimit(data_root: Path, tmp_path: Path) -> None:
    """A 2 KB meta file that inflates to 1.5 GB (a BINBYTES8 header, then 22 streams of zeros):
    plain pickle read it all; now the 64 MiB cap stops it, under an address-space limit."""
    archive = _copy(data_root, tmp_path, "tss")
    header = bz2.compress(b"\x80\x04\x8e" + (1_500_000_000).to_bytes(8, "little"))
    (archive / "meta.pickle.pbz2").write_bytes(header + _zeros_stream(70) * 22)
    assert (archive / "meta.pickle.pbz2").stat().st_size < 4096
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    probe = subprocess.run(
        [sys.executable, "-c", "import nats_bench, tfnas.oracles, tfnas.nats_archive\n"
         "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmPeak')))"],
        capture_output=True, text=True, env=env, check=True, cwd=REPO,
    )
    limit = int(probe.stdout) * 1024 + MAX_FILE_BYTES + (300 << 20)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    run = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(archive)], capture_output=True, text=True, env=env,
        preexec_fn=cap, timeout=300, cwd=REPO,
    )
    message = run.stderr.strip()
    assert run.returncode == 3, (run.returncode, message[-800:])
    assert "\n" not in message and "Traceback" not in message
    assert "ArchiveError" in message and "decompresses to more than 64 MiB" in message


# -- archives that load but are not usable ---------------------------------------------------


def _nan_everywhere(value):
    if isinstance(value, dict):
        return type(value)((k, _nan_everywhere(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_nan_everywhere(v) for v in value]
    if isinstance(value, float):
        return math.nan
    return value


def test_unusable_archives_are_archive_errors(data_root: Path, tmp_path: Path) -> None:
    archive = _copy(data_root, tmp_path, "tss")
    meta = archive / "meta.pickle.pbz2"
    real_meta = meta.read_bytes()
    for content, match in [
        ({"meta_archs": ["a", "b", "c"]}, "does not list the 15625 cells"),
        ({"nothing": 1}, r"not a usable NATS-Bench topology archive \(KeyError"),
        ([1, 2], r"not a usable NATS-Bench topology archive"),
    ]:
        meta.write_bytes(bz2.compress(pickle.dumps(content, protocol=4)))
        with pytest.raises(ArchiveError, match=match) as info:
            NatsBenchOracle(archive)
        _one_line(info.value)
    meta.write_bytes(real_meta)
    cell = archive / "000284.pickle.pbz2"
    trusted = pickle.loads(bz2.decompress(cell.read_bytes()))  # the shared fake archive: trusted
    cell.write_bytes(bz2.compress(pickle.dumps(_nan_everywhere(trusted), protocol=4)))
    (archive / "000011.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps([1, 2], protocol=4)))
    oracle = NatsBenchOracle(archive)
    with pytest.raises(ArchiveError, match=r"cell 284 of this archive is not usable: valid-accuracy is nan"):
        oracle.accuracy(284, "cifar100", 12, "valid")
    with pytest.raises(ArchiveError, match=r"not a usable NATS-Bench topology archive \(AssertionError"):
        oracle.accuracy(11, "cifar100", 12, "valid")
    assert 0 < oracle.accuracy(0, "cifar100", 12, "valid") <= 100


def test_size_space_oracle_reads_through_the_safe_loader(data_root: Path, tmp_path: Path) -> None:
    archive = _copy(data_root, tmp_path, "sss")
    marker = tmp_path / "marker"
    (archive / "000011.pickle.pbz2").write_bytes(_hostile(marker))
    oracle = NatsBenchOracle(archive)  # the folder is named "sss"
    assert oracle.space.name == "sss"
    assert 0 < oracle.accuracy(0, "cifar100", 90, "valid") <= 100  # the intact cells answer
    with pytest.raises(UnsafePickleError, match=r"000011\.pickle\.pbz2: refused global") as info:
        oracle.accuracy("8:8:8:16:32", "cifar100", 12, "valid")
    _one_line(info.value)
    assert not marker.exists()
