"""The restricted unpickler: real dataset files load, crafted code-running pickles are refused."""

from __future__ import annotations

import os
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tfnas import safe_pickle
from tfnas.safe_pickle import UnsafePickleError

REAL_FILES = [
    "images/cifar-10-batches-py/test_batch",
    "images/cifar-100-python/test",
    "images/ImageNet16/val_data",
]


class _Reducer:
    """Pickles as ``func(*args)``: what an attacker's file does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("relpath", REAL_FILES)
def test_real_files_load_like_pickle(data_root: Path, relpath: str) -> None:
    raw = (data_root / relpath).read_bytes()
    safe = safe_pickle.loads(raw)
    plain = pickle.loads(raw, encoding="bytes")  # trusted shared data: the reference decode
    assert safe.keys() == plain.keys()
    for key, value in plain.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(safe[key], value)
            assert safe[key].dtype == value.dtype
        else:
            assert safe[key] == value


@pytest.mark.parametrize("relpath", REAL_FILES)
def test_allowed_globals_cover_what_real_files_use(data_root: Path, relpath: str) -> None:
    used: set[tuple[str, str]] = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            used.add((module, name))
            return super().find_class(module, name)

    with open(data_root / relpath, "rb") as handle:
        Recording(handle, encoding="bytes").load()
    assert used and used <= set(safe_pickle.ALLOWED_GLOBALS)


@pytest.mark.parametrize(
    "func, args",
    [
        (os.system, "touch {marker}"),
        (eval, "open({marker!r}, 'w').write('x')"),
        (exec, "open({marker!r}, 'w').write('x')"),
    ],
    ids=["os.system", "builtins.eval", "builtins.exec"],
)
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_is_refused_without_running(tmp_path: Path, func, args, protocol) -> None:
    marker = tmp_path / "marker"
    payload = pickle.dumps(
        {b"data": _Reducer(func, args.format(marker=str(marker)))}, protocol=protocol
    )
    with pytest.raises(UnsafePickleError, match=r"refused global (posix|os|nt|builtins|__builtin__)\.(system|eval|exec)"):
        safe_pickle.loads(payload)
    assert not marker.exists()
    # the same bytes really do run code under the plain unpickler: the test can fail
    if func is os.system:
        pickle.loads(payload)
        assert marker.exists()


def test_refusal_is_an_unpickling_error() -> None:
    payload = pickle.dumps(_Reducer(len, "abc"))
    with pytest.raises(pickle.UnpicklingError, match="refused global builtins.len"):
        safe_pickle.loads(payload)


def test_codecs_encode_only_latin1() -> None:
    import codecs

    payload = pickle.dumps(_Reducer(codecs.encode, "eJw=", "base64"), protocol=2)
    with pytest.raises(UnsafePickleError, match="only latin-1"):
        safe_pickle.loads(payload)


def test_load_path_and_bad_argument(tmp_path: Path) -> None:
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"a": [1, 2.5, "s", b"b"]}))
    assert safe_pickle.load_path(path) == {"a": [1, 2.5, "s", b"b"]}
    with pytest.raises(TypeError, match="needs bytes"):
        safe_pickle.loads("not bytes")  # type: ignore[arg-type]


@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int64, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    ),
    labels=st.lists(st.integers(-(2**40), 2**40), max_size=10),
    protocol=st.integers(0, pickle.HIGHEST_PROTOCOL),
)
def test_round_trip_of_plain_data_and_arrays(array: np.ndarray, labels: list[int], protocol: int) -> None:
    obj = {b"data": array, "labels": labels, "name": "x", "scalar": np.float32(1.5)}
    out = safe_pickle.loads(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(out[b"data"], array)
    assert out[b"data"].dtype == array.dtype
    assert out["labels"] == labels and out["name"] == "x" and out["scalar"] == np.float32(1.5)


# ---------------------------------------------------------------------------------------------
# memory safety (issue 12, root cause 2): dtypes, nesting, allocations bounded by the file

import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

from tfnas.errors import TfnasError  # noqa: E402
from tfnas.safe_pickle import MAX_DEPTH, CorruptPickleError  # noqa: E402

try:  # what numpy itself names in its pickles
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct
    from numpy.core.numeric import _frombuffer

REPO = Path(__file__).resolve().parents[1]


class _Built(_Reducer):
    """Pickles as ``func(*args)`` followed by ``BUILD state`` (how numpy writes dtypes and arrays)."""

    def __init__(self, func, args, state):
        super().__init__(func, *args)
        self.state = state

    def __reduce__(self):
        return self.func, self.args, self.state


def _dtype(code: str, state: tuple) -> _Built:
    return _Built(np.dtype, (code, False, True), state)


def _array(shape: tuple, dtype, data: bytes) -> _Built:
    return _Built(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, False, data))


def _batch(labels, n: int = 1) -> bytes:
    return pickle.dumps({b"data": np.zeros((n, 3072), np.uint8), b"labels": labels}, protocol=2)


_PLAIN_STATE = (3, "<", None, None, None, -1, -1, 0)
# a structured dtype with one int64 field lying 1 GiB past the 8-byte item
_FIELD_PAST_ITEM = (3, "|", None, ("f",), {"f": (np.dtype("<i8"), 1 << 30)}, 8, 1, 16)


@pytest.mark.parametrize(
    "dtype",
    [
        _dtype("V8", _FIELD_PAST_ITEM),
        _dtype("i8", _FIELD_PAST_ITEM),
        _dtype("i8", (3, "|", (np.dtype("i1"), (8,)), None, None, 8, 1, 0)),  # a subarray
        _dtype("O", (3, "|", None, None, None, -1, -1, 63)),
        _dtype("U4", (3, "<", None, None, None, -1, -1, 8)),
        _dtype("i8", (3, "!", None, None, None, -1, -1, 0)),  # no such byte order
        _dtype("i8", (4, "<", None, None, None, -1, -1, 0, {"m": 1})),
    ],
    ids=["void-with-field", "int-with-field", "subarray", "object", "unicode", "byteorder", "metadata"],
)
def test_only_plain_dtypes_are_admitted(dtype) -> None:
    payload = pickle.dumps({b"labels": _array((1,), dtype, b"\0" * 8)}, protocol=4)
    with pytest.raises(UnsafePickleError, match=r"refused (numpy\.)?dtype"):
        safe_pickle.loads(payload)


@pytest.mark.parametrize("code", sorted(safe_pickle.PLAIN_DTYPES))
@pytest.mark.parametrize("order", ["<", ">"])
def test_every_plain_dtype_loads_like_pickle(code: str, order: str) -> None:
    dtype = np.dtype(code) if code[1] == "1" else np.dtype(code).newbyteorder(order)
    array = np.arange(6).astype(dtype)
    for protocol in (2, 4, 5):
        raw = pickle.dumps({"a": array, "s": array[2]}, protocol=protocol)
        out, reference = safe_pickle.loads(raw), pickle.loads(raw)  # trusted: we just wrote it
        assert out["a"].dtype == reference["a"].dtype and out["s"].dtype == reference["s"].dtype
        np.testing.assert_array_equal(out["a"], reference["a"])
        assert out["s"] == reference["s"]


def _ops(obj: object) -> bytes:
    """The opcodes that push ``obj`` (protocol 2, no memo writes, no PROTO/STOP)."""
    return pickletools.optimize(pickle.dumps(obj, protocol=2))[2:-1]


def test_build_only_once_on_a_fresh_dtype_or_array() -> None:
    state = _ops((3, "<", None, None, None, -1, -1, 0))
    dtype = b"\x8c\x05numpy\x8c\x05dtype\x93\x8c\x02i8\x89\x88\x87R\x94"
    again = b"\x80\x04" + dtype + state + b"b0h\x00" + state + b"b."  # BUILD the memoised dtype twice
    assert safe_pickle.loads(again.replace(b"0h\x00" + state + b"b", b"")) == np.dtype("i8")
    with pytest.raises(UnsafePickleError, match="refused BUILD of a dtype"):
        safe_pickle.loads(again)
    array = pickletools.optimize(pickle.dumps(np.arange(2), protocol=2))[:-1]
    rebuilt = array + b"2" + _ops((1, (4,), np.dtype("i8"), False, b"\0" * 32)) + b"b."  # DUP, BUILD
    with pytest.raises(UnsafePickleError, match="refused BUILD of an array"):
        safe_pickle.loads(rebuilt)


@pytest.mark.parametrize(
    "shape, nbytes",
    [((10,), 8), ((1,), 16), ((0,), 8), ((2, 2), 24), ((3000000, 3072), 0)],
)
def test_array_bytes_must_come_from_the_file(shape: tuple, nbytes: int) -> None:
    payload = pickle.dumps(_array(shape, np.dtype("i8") if nbytes else np.dtype("u1"), b"\1" * nbytes))
    with pytest.raises(UnsafePickleError, match="shape × itemsize must equal"):
        safe_pickle.loads(payload)
    buffered = pickle.dumps(_Reducer(_frombuffer, b"\1" * nbytes, np.dtype("i8"), shape, "C"), protocol=5)
    with pytest.raises(UnsafePickleError, match="shape × itemsize must equal"):
        safe_pickle.loads(buffered)


@pytest.mark.parametrize(
    "args",
    [(np.ndarray, (3000000, 3072), b"B"), (np.ndarray, (0,), b"O"), (np.dtype, (0,), b"b")],
    ids=["huge-shape", "object-typecode", "not-ndarray"],
)
def test_reconstruct_only_as_numpy_writes_it(args: tuple) -> None:
    with pytest.raises(UnsafePickleError, match=r"refused _reconstruct"):
        safe_pickle.loads(pickle.dumps(_Reducer(_reconstruct, *args), protocol=2))


def test_arrays_may_not_hold_more_bytes_than_the_file() -> None:
    # one 64 KiB buffer, memoised once, referenced by 100 arrays: 6.4 MB from a 64 KiB file
    chunk = b"\7" * 65536
    payload = pickle.dumps([_array((65536,), np.dtype("u1"), chunk) for _ in range(100)], protocol=4)
    assert len(payload) < 2 * len(chunk)
    with pytest.raises(UnsafePickleError, match="more than the pickle's own"):
        safe_pickle.loads(payload)


@pytest.mark.parametrize("opcode", [pickle.NEWOBJ, pickle.NEWOBJ_EX, pickle.INST, pickle.OBJ, pickle.EXT1])
def test_opcodes_that_call_classes_are_refused(opcode: bytes) -> None:
    heads = {
        pickle.NEWOBJ: b"\x80\x04\x8c\x05numpy\x8c\x07ndarray\x93K\x10\x85\x81.",
        pickle.NEWOBJ_EX: b"\x80\x04\x8c\x05numpy\x8c\x07ndarray\x93K\x10\x85}\x92.",
        pickle.INST: b"(K\x10inumpy\nndarray\n.",
        pickle.OBJ: b"(cnumpy\nndarray\nK\x10o.",
        pickle.EXT1: b"\x80\x02\x82\x01.",
    }
    with pytest.raises(UnsafePickleError, match="refused opcode"):
        safe_pickle.loads(heads[opcode])


def _nested(kind: str, depth: int) -> bytes:
    """A pickle nesting ``depth`` containers, written opcode by opcode (pickle.dumps would recurse)."""
    inner = {
        "tuple": b"(" * depth + b"t" * depth,  # MARK ... TUPLE
        "tuple1": b")" + b"\x85" * (depth - 1),  # () then TUPLE1 around it
        "list": b"]" * depth + b"a" * (depth - 1),  # [[[...]]] appended inside-out
        "frozenset": b"(" * depth + b"\x91" * depth,  # MARK ... FROZENSET
        "dict": b"}K\x00" * (depth - 1) + b"}" + b"s" * (depth - 1),  # {0: {0: {...}}}
    }[kind]
    return b"\x80\x04" + inner + b"."


@pytest.mark.parametrize("kind", ["tuple", "tuple1", "list", "frozenset", "dict"])
def test_nesting_depth_is_bounded(kind: str) -> None:
    assert safe_pickle.loads(_nested(kind, MAX_DEPTH)) is not None  # the bound itself is admitted
    with pytest.raises(UnsafePickleError, match=f"deeper than {MAX_DEPTH} levels"):
        safe_pickle.loads(_nested(kind, MAX_DEPTH + 1))


def test_containers_may_not_change_once_nested() -> None:
    # a = []; b = [a]; then a.append([]) through the memo: depth would no longer be known
    late = b"\x80\x04]\x94]\x94h\x00a\x94h\x00]a."
    with pytest.raises(UnsafePickleError, match="already inside another container"):
        safe_pickle.loads(late)
    cyclic = b"\x80\x04]\x94h\x00a."  # a = []; a.append(a)
    with pytest.raises(UnsafePickleError, match="contains itself"):
        safe_pickle.loads(cyclic)


def test_python2_cifar_layout_loads(tmp_path: Path) -> None:
    """The official CIFAR downloads are Python 2 protocol-2 pickles: BINSTRING data, dtype
    arguments as ints, byte order as a str (bytes under encoding="bytes")."""
    data = bytes(range(256)) * 24  # 2 x 3072
    raw = (
        b"\x80\x02}q\x01(U\x04dataq\x02cnumpy.core.multiarray\n_reconstruct\nq\x03cnumpy\nndarray\n"
        b"q\x04K\x00\x85U\x01b\x87Rq\x05(K\x01K\x02M\x00\x0c\x86cnumpy\ndtype\nq\x06U\x02u1K\x00K\x01"
        b"\x87Rq\x07(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"
        + len(data).to_bytes(4, "little") + data
        + b"tbU\x06labelsq\x08]q\t(K\x00K\x01eu."
    )
    reference = pickle.loads(raw, encoding="bytes")  # trusted: we just wrote it
    out = safe_pickle.loads(raw)
    np.testing.assert_array_equal(out[b"data"], reference[b"data"])
    assert out[b"data"].dtype == np.uint8 and out[b"labels"] == [0, 1]


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x80\x04", b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00K", b"\x80\x04\x8e" + b"\xff" * 8,
     b"\x80\x04\x96" + (1 << 40).to_bytes(8, "little") + b".", b"\x80\x04a.", b"\x80\x04u.", b"\xff",
     b"\x80\x04h\x07.", b"(" * 10, b"I99999999999999999999999999" + b"9" * 5000 + b"\n."],
    ids=["empty", "no-stop", "frame-past-end", "binbytes8-past-end", "bytearray8-huge", "append-empty",
         "setitems-no-mark", "bad-opcode", "memo-missing", "marks-only", "5000-digit-int"],
)
def test_corrupt_streams_are_one_line_errors(raw: bytes) -> None:
    with pytest.raises(TfnasError) as info:
        safe_pickle.loads(raw)
    assert isinstance(info.value, CorruptPickleError | UnsafePickleError)
    assert "\n" not in str(info.value) and len(str(info.value)) <= 500


# -- in a subprocess under RLIMIT_AS: crashes and memory bombs end as one line -------------------
# All crafted files go to one limited subprocess (importing tfnas costs seconds); it reads each in
# turn and writes one line per file to stderr: "<n> <ErrorClass>: <message>" for a TfnasError,
# "<n> accepted ..." for a value. Anything else (a traceback, a segfault) fails every case.

_DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tfnas.errors import TfnasError
    from tfnas import safe_pickle
    from tfnas.images import read_image_file
    refused = 0
    for n, (mode, path) in enumerate(zip(sys.argv[1::2], sys.argv[2::2])):
        try:
            if mode == "loads":
                value = safe_pickle.loads(Path(path).read_bytes())
                print(n, "accepted", type(value).__name__, file=sys.stderr, flush=True)
            else:
                arrays = read_image_file(path, mode)
                print(n, "accepted", arrays.images.shape, file=sys.stderr, flush=True)
        except TfnasError as exc:
            print(n, f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            refused += 1
    sys.exit(3 if refused == len(sys.argv[1::2]) else 1)
    """
)
HEADROOM = 400 << 20
"""Address space the subprocess may use beyond what the interpreter takes after its imports."""


def _run_limited(cases: list[tuple[str, Path]], headroom: int = HEADROOM) -> subprocess.CompletedProcess:
    """Run the driver on ``cases`` with address space limited to the interpreter's own + headroom."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    probe = subprocess.run(
        [sys.executable, "-c", "import numpy, tfnas.images, tfnas.safe_pickle\n"
         "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmPeak')))"],
        capture_output=True, text=True, env=env, check=True, cwd=REPO,
    )
    limit = int(probe.stdout) * 1024 + headroom

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    args = [str(part) for case in cases for part in case]
    return subprocess.run(
        [sys.executable, "-c", _DRIVER, *args],
        capture_output=True, text=True, env=env, preexec_fn=cap, timeout=300, cwd=REPO,
    )


def _dtype_bomb() -> bytes:
    """Labels: one structured item whose only field lies 1 GiB past it (the int64 cast read there)."""
    return _batch(_array((1,), _dtype("V8", _FIELD_PAST_ITEM), b"\0" * 8))


def _deep_key(kind: str) -> bytes:
    """``{deep: 1}`` with a 200,000-deep key: hashing it recursed in C until the stack overflowed."""
    return b"\x80\x04}(" + _nested(kind, 200_000)[2:-1] + b"K\x01u."


def _reconstruct_bomb(rows: int) -> bytes:
    """A few hundred bytes asking numpy for an uninitialised rows x 3072 uint8 array."""
    bomb = _Reducer(_reconstruct, np.ndarray, (rows, 3072), b"B")
    return pickle.dumps({b"data": bomb, b"labels": [0] * 4}, protocol=2)


def _memo_bomb() -> bytes:
    """LONG_BINPUT at index 2**31 - 1: the C unpickler sized its memo table by the index (16 GB)."""
    return b"\x80\x04N" + b"r" + (2**31 - 1).to_bytes(4, "little") + b"0}."


def _set_flood(count: int) -> bytes:
    """``count`` empty sets (216 bytes each) from one byte each."""
    return b"\x80\x04(" + b"\x8f" * count + b"l."


BOMBS = {  # name: (how to read it, the file, words its one-line refusal must hold)
    "structured-label-cast": ("cifar10", _dtype_bomb, ("UnsafePickleError", "refused", "dtype")),
    "deep-tuple-key": ("loads", lambda: _deep_key("tuple"), ("UnsafePickleError", f"deeper than {MAX_DEPTH}")),
    "deep-frozenset-key": ("cifar10", lambda: _deep_key("frozenset"), (f"deeper than {MAX_DEPTH}",)),
    "reconstruct-1GB": ("cifar10", lambda: _reconstruct_bomb(350_000), ("refused _reconstruct",)),
    "reconstruct-9GB": ("cifar10", lambda: _reconstruct_bomb(3_000_000), ("refused _reconstruct",)),
    "memo-index": ("cifar10", _memo_bomb, ("ImageFileError", "no 'data' entry")),  # {}: harmless here
    "set-flood": ("cifar10", lambda: _set_flood(4 << 20), ("bytes of objects per byte",)),
}


@pytest.fixture(scope="module")
def limited_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    folder = tmp_path_factory.mktemp("bombs")
    cases = []
    for name, (mode, make, _) in BOMBS.items():
        path = folder / name / "test_batch"
        path.parent.mkdir()
        path.write_bytes(make())
        assert path.stat().st_size < 8 << 20  # small files, all of them
        cases.append((mode, path))
    result = _run_limited(cases)
    lines = dict(line.split(" ", 1) for line in result.stderr.splitlines() if line[:1].isdigit())
    return result, {name: lines.get(str(n), "") for n, name in enumerate(BOMBS)}


@pytest.mark.integration
@pytest.mark.parametrize("name", list(BOMBS))
def test_crashes_and_memory_bombs_end_in_one_line_under_rlimit(limited_run, name: str) -> None:
    result, lines = limited_run
    assert result.returncode == 3, (result.returncode, result.stderr[-1500:])  # every case refused
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    message = lines[name]
    assert message and len(message) <= 600, message
    for word in BOMBS[name][2]:
        assert word in message, message
