"""Fuzzing the pickle readers (issue 12): one contract for every input.

``tfnas.safe_pickle.loads`` and ``tfnas.images.read_image_file`` return a value or raise a
``TfnasError`` whose message is one line of at most 500 characters: never another exception,
never a crash, and never more memory (tracemalloc peak) than :func:`memory_bound` of the input:
the loader's own budget (``MEMORY_FACTOR`` × size + ``MEMORY_SLACK``) plus two copies of the
input and 1 MiB of interpreter noise.

Inputs: random opcode streams from a small grammar of real opcodes and globals, mutations of a
real small image pickle, and random nested containers and arrays pickled at protocols 0-5
(these must also load back equal).
"""

from __future__ import annotations

import itertools
import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tfnas import safe_pickle
from tfnas.errors import TfnasError
from tfnas.images import ImageArrays, read_image_file

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def memory_bound(size: int) -> int:
    """The most a reader may allocate for an input of ``size`` bytes."""
    return safe_pickle.MEMORY_FACTOR * size + safe_pickle.MEMORY_SLACK + 2 * size + (1 << 20)


REFUSED = object()
"""What :func:`_contract` returns for an input that was refused with a TfnasError."""


def _contract(call, size: int):
    """Run ``call()`` under tracemalloc; check the contract; the value, or REFUSED."""
    tracemalloc.start()
    try:
        value = call()
    except TfnasError as exc:
        text = str(exc)
        assert "\n" not in text and len(text) <= 500, text
        value = REFUSED
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= memory_bound(size), (peak, size)
    return value


# -- random opcode streams ---------------------------------------------------------------------

_GLOBALS = [
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy._core.numeric", "_frombuffer"), ("collections", "OrderedDict"), ("builtins", "eval"),
    ("os", "system"), ("numpy", "frombuffer"), ("builtins", "getattr"),
]


def _ints(op: bytes, width: int, signed: bool = False):
    low, high = (-(2 ** (8 * width - 1)), 2 ** (8 * width - 1) - 1) if signed else (0, 2 ** (8 * width) - 1)
    return st.integers(low, high).map(lambda n: op + n.to_bytes(width, "little", signed=signed))


_OPCODE = st.one_of(
    st.sampled_from([
        b"(", b")", b"]", b"}", b"\x8f", b"N", b"\x88", b"\x89", b"\x94", b"2", b"0", b"1",
        b"t", b"\x85", b"\x86", b"\x87", b"l", b"d", b"a", b"e", b"s", b"u", b"\x90", b"\x91",
        b"R", b"b", b"\x93", b"\x81", b"\x92", b".", b"I01\n", b"L123L\n", b"S'ab'\n", b"Vx\n",
        b"F1.5\n", b"g0\n", b"p3\n", b"\x95\x08\x00\x00\x00\x00\x00\x00\x00",
    ]),
    _ints(b"K", 1), _ints(b"M", 2), _ints(b"J", 4, signed=True), _ints(b"h", 1),
    _ints(b"r", 4), _ints(b"j", 4), _ints(b"q", 1),
    st.binary(max_size=40).map(lambda b: b"C" + bytes([len(b)]) + b),
    st.binary(max_size=300).map(lambda b: b"B" + len(b).to_bytes(4, "little") + b),
    st.text(max_size=20).map(lambda t: t.encode()).map(lambda b: b"\x8c" + bytes([min(len(b), 255)]) + b[:255]),
    st.sampled_from([b"u1", b"f8", b"V8", b"O", b"i8", b"b", b"<", b"|"]).map(lambda c: b"C" + bytes([len(c)]) + c),
    st.sampled_from(_GLOBALS).map(lambda g: b"c" + g[0].encode() + b"\n" + g[1].encode() + b"\n"),
    st.floats(allow_nan=True).map(lambda f: b"G" + np.array(f, ">f8").tobytes()),
    st.integers(0, 2**64 - 1).map(lambda n: b"\x8e" + n.to_bytes(8, "little")),
    st.integers(0, 2**64 - 1).map(lambda n: b"\x96" + n.to_bytes(8, "little")),
)

opcode_streams = st.builds(
    lambda proto, ops, stop: proto + b"".join(ops) + stop,
    st.sampled_from([b"", b"\x80\x02", b"\x80\x04", b"\x80\x05"]),
    st.lists(_OPCODE, max_size=60),
    st.sampled_from([b".", b""]),
)


@EXAMPLES
@given(data=opcode_streams)
def test_opcode_streams_keep_the_contract(data: bytes) -> None:
    _contract(lambda: safe_pickle.loads(data), len(data))


# -- mutations of a real small image pickle ----------------------------------------------------


def _small_batch(protocol: int) -> bytes:
    rng = np.random.default_rng(protocol)
    content = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [int(x) for x in rng.integers(0, 10, 3)],
        b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8),
    }
    return pickle.dumps(content, protocol=protocol)


SEEDS = {protocol: _small_batch(protocol) for protocol in (0, 2, 4, 5)}
_names = itertools.count()


@st.composite
def mutated_batches(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":  # repeat a slice: memo references, nested marks, doubled buffers
            end = draw(st.integers(at, min(len(data), at + 200)))
            data[at:at] = data[at:end] * draw(st.integers(1, 5))
    return bytes(data)


@EXAMPLES
@given(data=mutated_batches())
def test_mutated_image_pickles_keep_the_contract(tmp_path_factory, data: bytes) -> None:
    _contract(lambda: safe_pickle.loads(data), len(data))
    path = tmp_path_factory.getbasetemp() / f"mutated-{next(_names)}"
    path.write_bytes(data)
    value = _contract(lambda: read_image_file(path, "cifar10"), len(data))
    assert value is REFUSED or isinstance(value, ImageArrays)
    path.unlink()


def test_unmutated_seeds_decode(tmp_path: Path) -> None:
    for protocol, data in SEEDS.items():
        path = tmp_path / f"seed-{protocol}"
        path.write_bytes(data)
        assert read_image_file(path, "cifar10").images.shape == (3, 3, 32, 32)


# -- random nested containers and arrays: a value equal to what was pickled ----------------------

_arrays = hnp.arrays(
    dtype=st.sampled_from(sorted(safe_pickle.PLAIN_DTYPES)).map(np.dtype),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
)
_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.text(max_size=30), st.binary(max_size=30), _arrays,
    _arrays.filter(lambda a: a.ndim == 0).map(lambda a: a[()]),  # numpy scalars
)
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.binary(max_size=8)), inner, max_size=5),
        st.frozensets(st.integers(-100, 100) | st.text(max_size=5), max_size=5),
    ),
    max_leaves=20,
)


def _equal(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return type(a) is type(b) and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    return type(a) is type(b) and a == b


@EXAMPLES
@given(value=_values, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_random_values_load_back_equal(value: object, protocol: int) -> None:
    data = pickle.dumps(value, protocol=protocol)
    out = _contract(lambda: safe_pickle.loads(data, encoding="ASCII"), len(data))
    if out is REFUSED:  # protocols 0-3 write (frozen)sets as REDUCE of builtins: refused, by design
        assert protocol < 4 and _has_set(value), value
        return
    assert _equal(value, out), (value, out)


def _has_set(value: object) -> bool:
    if isinstance(value, frozenset):
        return True
    if isinstance(value, dict):
        return any(map(_has_set, value.values()))
    return isinstance(value, list | tuple) and any(map(_has_set, value))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_empty_and_large_arrays_load_back(protocol: int) -> None:
    for array in (np.zeros((0, 3072), np.uint8), np.arange(100_000, dtype=np.int64)):
        data = pickle.dumps(array, protocol=protocol)
        assert _equal(array, _contract(lambda data=data: safe_pickle.loads(data), len(data)))


# -- mutations of a real NATS-Bench archive file (the sss fake archive's smallest cell) ----------


@pytest.fixture(scope="module")
def archive_cell(data_root: Path) -> bytes:
    import bz2

    return bz2.decompress((data_root / "nats-sss/NATS-sss-v1_0-50262-simple/000011.pickle.pbz2").read_bytes())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255), st.sampled_from("sdt")),
                      min_size=1, max_size=6))
def test_mutated_archive_cells_keep_the_contract(archive_cell: bytes, edits: list) -> None:
    data = bytearray(archive_cell)
    for at, byte, kind in edits:
        if not data:
            break
        at %= len(data)
        if kind == "s":
            data[at] = byte
        elif kind == "d":
            del data[at : at + byte]
        else:
            del data[at + byte :]
    raw = bytes(data)
    _contract(
        lambda: safe_pickle.loads(raw, encoding="ASCII", allowed=safe_pickle.ARCHIVE_GLOBALS), len(raw)
    )
