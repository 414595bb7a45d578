"""A restricted, memory-bounded unpickler for the dataset files (CIFAR, ImageNet16, NATS-Bench).

Loading a pickle runs whatever callables it names, and even a pickle that names only numpy can
ask numpy to allocate gigabytes, to read past a buffer (a structured dtype whose field lies
beyond its item size) or to recurse until the C stack overflows (hashing a 200,000-deep tuple).
This module interprets pickles with the pure-Python ``pickle._Unpickler`` and replaces every
opcode that builds, calls or allocates, so that its arguments are checked *before* anything acts
on them:

* **Globals.** Only those in :data:`ALLOWED_GLOBALS` (image files: numpy's ``_reconstruct``,
  ``ndarray``, ``dtype``, ``scalar``, ``_frombuffer``, ``_codecs.encode`` restricted to
  latin-1 and ``bytes()`` without arguments, how protocols 0-2 write ``bytes``) or :data:`ARCHIVE_GLOBALS` (NATS-Bench archives: ``collections.OrderedDict``,
  ``dtype``, ``scalar``) are resolved; nothing is ever imported. ``INST``/``OBJ``/``NEWOBJ``,
  persistent ids, extensions and out-of-band buffers are refused.
* **Calls.** ``REDUCE`` may only call an admitted global, through a validator that checks its
  arguments (e.g. ``_reconstruct`` only as ``(ndarray, (0,), b'b')``, the way numpy writes it).
  ``BUILD`` may only set the state of a dtype or of an array that ``_reconstruct`` just made.
* **Dtypes.** Only plain booleans, integers and floats of 1–8 bytes (:data:`PLAIN_DTYPES`, a
  superset of what the official files hold: ``uint8`` images, ``float64`` scalars), in any byte
  order; no fields, no subarrays, no objects.
* **Sizes.** Every array's bytes come from the file: ``prod(shape) * itemsize == len(buffer)``
  and all arrays together hold at most as many bytes as the pickle has. Every other allocation
  is charged against a budget of :data:`MEMORY_FACTOR` × the pickle's size + :data:`MEMORY_SLACK`.
* **Nesting.** Containers (and MARKs) nest at most :data:`MAX_DEPTH` deep (the official files:
  5), checked before a container is built or hashed, and a container may not change once it is
  inside another one (so its depth is known when it is built, and no cycle can form).

Anything refused raises :class:`UnsafePickleError`; a truncated or malformed stream raises
:class:`CorruptPickleError`. Both are :class:`~tfnas.errors.TfnasError` and
``pickle.UnpicklingError``, with a one-line message.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from tfnas.checks import ArgumentTypeError
from tfnas.errors import TfnasError, one_line, shown

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]

MAX_DEPTH = 64
"""How deep containers may nest (the official image files nest 2 deep, the NATS archives 5)."""

MEMORY_FACTOR = 48
"""Objects built may take this many bytes per byte of pickle (as charged, the official image
files need about 1, the NATS-Bench archive files 3–13)."""

MEMORY_SLACK = 1 << 20
"""Bytes every pickle may use on top of :data:`MEMORY_FACTOR` × its size."""

PLAIN_DTYPES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})
"""The dtype codes an array or scalar may have (numpy writes ``np.dtype(code, False, True)``)."""

_BYTE_ORDERS = frozenset({"<", ">", "=", "|"})
_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")


class SafePickleError(TfnasError, pickle.UnpicklingError):
    """A pickle the safe loader did not turn into a value; nothing of it was executed."""


class UnsafePickleError(SafePickleError):
    """A pickle asked for something outside what the safe loader admits (a global, a call, a
    dtype, more memory or deeper nesting than allowed); it was refused before it happened."""


class CorruptPickleError(SafePickleError):
    """A pickle stream that is truncated or malformed."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it for ``bytes``; any other codec is refused."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(
            f"refused _codecs.encode(..., {shown(encoding)}): only latin-1 text → bytes is admitted"
        )
    try:
        return text.encode("latin1")
    except UnicodeEncodeError:
        raise CorruptPickleError("_codecs.encode(..., 'latin1') of text that is not latin-1") from None


def _empty_bytes(*args: object) -> bytes:
    """``bytes()``: how protocols 0-2 write ``b""`` (an empty array's data); nothing else."""
    if args:
        raise UnsafePickleError(f"refused bytes(...) with {len(args)} arguments: only bytes() is admitted")
    return b""


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): _reconstruct for module in _MULTIARRAY},
    **{(module, "scalar"): scalar for module in _MULTIARRAY},
    **{(module, "_frombuffer"): _frombuffer for module in _NUMERIC},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
    **{(module, "bytes"): _empty_bytes for module in ("__builtin__", "builtins")},
}
"""Globals of the image files: ``(module, name)`` → the object; nothing else is ever imported."""

ARCHIVE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{(module, "scalar"): scalar for module in _MULTIARRAY},
    ("numpy", "dtype"): np.dtype,
}
"""Globals of the NATS-Bench archive files (found with ``pickletools`` in the official files)."""


# ---------------------------------------------------------------------------------------------
# validators of what REDUCE and BUILD may do


def plain_dtype(value: object) -> np.dtype:
    """``value`` if it is a dtype of :data:`PLAIN_DTYPES` (no fields, subarrays or objects)."""
    if not isinstance(value, np.dtype):
        raise UnsafePickleError(f"expected a numpy dtype, got {type(value).__name__}")
    plain = (
        value.fields is None
        and value.subdtype is None
        and not value.hasobject
        and value.kind in "biuf"
        and value.itemsize in (1, 2, 4, 8)
        and f"{value.kind}{value.itemsize}" in PLAIN_DTYPES
    )
    if not plain:
        raise UnsafePickleError(
            f"refused dtype {shown(str(value))}: only plain {', '.join(sorted(PLAIN_DTYPES))} "
            f"dtypes are admitted (no fields, subarrays or objects)"
        )
    return value


def _text(value: object) -> str | None:
    """``value`` as text when it is ``str`` or ASCII ``bytes`` (Python 2 pickles), else None."""
    if isinstance(value, bytes) and value.isascii():
        return value.decode("ascii")
    return value if isinstance(value, str) else None


def _make_dtype(code: object, align: object = False, copy: object = True) -> np.dtype:
    """``np.dtype(code, False, True)`` for a code of :data:`PLAIN_DTYPES` (always a fresh copy,
    so a later BUILD cannot alter numpy's own dtype singletons)."""
    text = _text(code)
    if text not in PLAIN_DTYPES or align not in (0, 1) or copy not in (0, 1):
        raise UnsafePickleError(
            f"refused numpy.dtype({shown(code)}, {shown(align)}, {shown(copy)}): only plain "
            f"{', '.join(sorted(PLAIN_DTYPES))} dtypes are admitted"
        )
    return np.dtype(text, False, True)


def _dtype_state(dtype: np.dtype, state: object) -> None:
    """Apply a dtype's BUILD state if it is the plain one numpy writes:
    ``(3, byteorder, None, None, None, -1, -1, 0)``."""
    if not (isinstance(state, tuple) and len(state) == 8):
        raise UnsafePickleError(f"refused dtype state {shown(state)}: expected numpy's 8-tuple")
    version, order, subarray, names, fields, elsize, alignment, flags = state
    order = _text(order)
    if (version, subarray, names, fields, elsize, alignment, flags) != (3, None, None, None, -1, -1, 0) or (
        order not in _BYTE_ORDERS
    ):
        raise UnsafePickleError(
            f"refused dtype state {shown(state)}: only a plain dtype's state "
            f"(3, '<'|'>'|'='|'|', None, None, None, -1, -1, 0) is admitted (no fields or subarrays)"
        )
    dtype.__setstate__((3, order, None, None, None, -1, -1, 0))
    plain_dtype(dtype)


def _shape(value: object, what: str) -> tuple[int, ...]:
    """``value`` if it is a tuple of at most 32 non-negative ints."""
    ok = isinstance(value, tuple) and len(value) <= 32 and all(
        type(n) is int and n >= 0 for n in value
    )
    if not ok:
        raise UnsafePickleError(f"refused {what} shape {shown(value)}: expected a tuple of counts")
    return value  # type: ignore[return-value]


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    count = 1
    for n in shape:
        count *= n
    return count * dtype.itemsize


def _buffer_length(buffer: object, what: str) -> int:
    if isinstance(buffer, bytes | bytearray):
        return len(buffer)
    if isinstance(buffer, str):  # a Python 2 str read with encoding="latin1"
        return len(buffer)
    raise UnsafePickleError(f"refused {what} data of type {type(buffer).__name__}: expected bytes")


# ---------------------------------------------------------------------------------------------
# the unpickler

_PUSHING = [  # opcodes that push one new object: charged by the size of what they push
    pickle.INT, pickle.BININT, pickle.BININT1, pickle.BININT2, pickle.LONG, pickle.LONG1,
    pickle.LONG4, pickle.FLOAT, pickle.BINFLOAT, pickle.STRING, pickle.BINSTRING,
    pickle.SHORT_BINSTRING, pickle.BINBYTES, pickle.SHORT_BINBYTES, pickle.BINBYTES8,
    pickle.UNICODE, pickle.BINUNICODE, pickle.SHORT_BINUNICODE, pickle.BINUNICODE8, pickle.NONE,
    pickle.NEWTRUE, pickle.NEWFALSE, pickle.GLOBAL, pickle.STACK_GLOBAL,
]
_FIXED_COST = {  # opcodes that add a reference, a memo entry or a mark
    **{op[0]: 16 for op in (pickle.DUP, pickle.GET, pickle.BINGET, pickle.LONG_BINGET)},
    **{op[0]: 128 for op in (pickle.PUT, pickle.BINPUT, pickle.LONG_BINPUT, pickle.MEMOIZE)},
}
_PASSING = [pickle.PROTO, pickle.FRAME, pickle.POP, pickle.POP_MARK, pickle.STOP]
_REFUSED = {
    pickle.INST: "INST (calls a class)", pickle.OBJ: "OBJ (calls a class)",
    pickle.NEWOBJ: "NEWOBJ (calls cls.__new__)", pickle.NEWOBJ_EX: "NEWOBJ_EX (calls cls.__new__)",
    pickle.PERSID: "PERSID (persistent ids)", pickle.BINPERSID: "BINPERSID (persistent ids)",
    pickle.EXT1: "EXT1 (extension registry)", pickle.EXT2: "EXT2 (extension registry)",
    pickle.EXT4: "EXT4 (extension registry)", pickle.NEXT_BUFFER: "NEXT_BUFFER (out-of-band data)",
    pickle.READONLY_BUFFER: "READONLY_BUFFER (out-of-band data)",
}
_CONTAINER_COST = 96  # the depth registry's entry for one container


class _ExactReader(io.BytesIO):
    """A BytesIO whose ``read(n)`` fails instead of returning fewer than ``n`` bytes."""

    def read(self, n: int | None = -1) -> bytes:
        data = super().read(n)
        if n is not None and n > 0 and len(data) < n:
            raise CorruptPickleError(
                f"pickle data was truncated (wanted {shown(n)} bytes at offset "
                f"{self.tell() - len(data)}, {len(data)} left)"
            )
        return data


class _Node:
    """What the loader knows of one container it built: its depth, and whether it is sealed
    (inside another container, so it may no longer change)."""

    __slots__ = ("obj", "depth", "sealed")

    def __init__(self, obj: object, depth: int) -> None:
        self.obj, self.depth, self.sealed = obj, depth, False


class SafeUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """The pure-Python unpickler with every building, calling and allocating opcode checked."""

    def __init__(
        self,
        data: bytes,
        *,
        encoding: str = "bytes",
        allowed: dict[tuple[str, str], Any] | None = None,
    ) -> None:
        self._size = len(data)
        super().__init__(_ExactReader(data), encoding=encoding)
        self.allowed = ALLOWED_GLOBALS if allowed is None else allowed
        self._budget = MEMORY_FACTOR * self._size + MEMORY_SLACK
        self._array_bytes = 0
        self._nodes: dict[int, _Node] = {}
        self._fresh_arrays: dict[int, np.ndarray] = {}
        self._fresh_dtypes: dict[int, np.dtype] = {}
        self._calls: dict[int, tuple[object, Callable[..., object]]] = {
            id(obj): (obj, check) for obj, check in self._validators().items()
            if any(obj is admitted for admitted in self.allowed.values())
        }

    # -- accounting --------------------------------------------------------------------------

    def _charge(self, nbytes: int) -> None:
        self._budget -= nbytes
        if self._budget < 0:
            raise UnsafePickleError(
                f"refused: the pickle builds more than {MEMORY_FACTOR} bytes of objects per byte "
                f"of its {self._size} bytes (+{MEMORY_SLACK >> 20} MiB); the dataset files need "
                f"at most 13"
            )

    def _contain(self, build: Callable[[list], object], items: list) -> object:
        """Build a new container of ``items`` (depth checked first: building may hash them),
        seal the items and record the container."""
        depth = 1 + max((self._seal(item) for item in items), default=0)
        self._check_depth(depth)
        obj = build(items)
        self._nodes[id(obj)] = _Node(obj, depth)
        self._charge(_CONTAINER_COST + 8 + sys.getsizeof(obj))
        return obj

    def _seal(self, item: object) -> int:
        node = self._nodes.get(id(item))
        if node is None or node.obj is not item:
            return 0
        node.sealed = True
        return node.depth

    def _check_depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise UnsafePickleError(
                f"refused: containers nest deeper than {MAX_DEPTH} levels (the dataset files nest "
                f"at most 5)"
            )

    def _mutable(self, target: object, kinds: tuple[type, ...], op: str) -> _Node:
        """The node of ``target`` if it is an unsealed container of ``kinds`` built here."""
        node = self._nodes.get(id(target))
        if type(target) not in kinds or node is None or node.obj is not target:
            raise UnsafePickleError(f"refused {op} on a {type(target).__name__}")
        if node.sealed:
            raise UnsafePickleError(
                f"refused {op} on a {type(target).__name__} already inside another container "
                f"(pickle.dump never writes that; it could build cycles or hide depth)"
            )
        return node

    def _grow(self, target: object, node: _Node, items: list, add: Callable[[], None]) -> None:
        if any(item is target for item in items):
            raise UnsafePickleError(f"refused: a {type(target).__name__} that contains itself")
        before = sys.getsizeof(target)
        depth = 1 + max((self._seal(item) for item in items), default=0)
        self._check_depth(depth)
        node.depth = max(node.depth, depth)
        add()
        self._charge(8 * len(items) + max(0, sys.getsizeof(target) - before))

    # -- globals and calls ------------------------------------------------------------------

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except (KeyError, TypeError):
            allowed = ", ".join(f"{m}.{n}" for m, n in self.allowed)
            raise UnsafePickleError(
                f"refused global {shown(module)[1:-1]}.{shown(name)[1:-1]}: the safe loader admits "
                f"only plain data and numpy arrays ({allowed})"
            ) from None

    def _validators(self) -> dict[object, Callable[..., object]]:
        return {
            _reconstruct: self._reconstruct,
            scalar: self._scalar,
            _frombuffer: self._frombuffer,
            np.dtype: self._dtype,
            _latin1_encode: _latin1_encode,
            _empty_bytes: _empty_bytes,
            collections.OrderedDict: self._ordered_dict,
        }

    def _dtype(self, *args: object) -> np.dtype:
        dtype = _make_dtype(*args)
        self._fresh_dtypes[id(dtype)] = dtype
        return dtype

    def _reconstruct(self, subtype: object, shape: object, typecode: object) -> np.ndarray:
        if subtype is not np.ndarray or shape != (0,) or type(shape) is not tuple or (
            typecode not in (b"b", "b")
        ):
            raise UnsafePickleError(
                f"refused _reconstruct({shown(subtype)}, {shown(shape)}, {shown(typecode)}): numpy "
                f"writes only _reconstruct(ndarray, (0,), b'b') and sets the shape from the file"
            )
        array = _reconstruct(np.ndarray, (0,), b"b")
        self._fresh_arrays[id(array)] = array
        return array

    def _take_array_bytes(self, nbytes: int, what: str) -> None:
        self._array_bytes += nbytes
        if self._array_bytes > self._size:
            raise UnsafePickleError(
                f"refused {what}: its arrays would hold {self._array_bytes} bytes, more than the "
                f"pickle's own {self._size} (every array's bytes must come from the file)"
            )

    def _scalar(self, dtype: object, data: object = None) -> object:
        dtype = plain_dtype(dtype)
        if _buffer_length(data, "scalar") != dtype.itemsize:
            raise UnsafePickleError(
                f"refused numpy scalar of {dtype}: {shown(data)} is not {dtype.itemsize} bytes"
            )
        return scalar(dtype, data)

    def _frombuffer(self, buffer: object, dtype: object, shape: object, order: object) -> object:
        dtype = plain_dtype(dtype)
        shape = _shape(shape, "array")
        size = _buffer_length(buffer, "array")
        if isinstance(buffer, str) or order not in ("C", "F") or size != _nbytes(shape, dtype):
            raise UnsafePickleError(
                f"refused _frombuffer of a {type(buffer).__name__} of {size} bytes as {dtype} "
                f"{shown(shape)} order {shown(order)}: shape × itemsize must equal the bytes given"
            )
        self._take_array_bytes(size, "_frombuffer")
        return _frombuffer(buffer, dtype, shape, order)

    def _ordered_dict(self, *args: object) -> collections.OrderedDict:
        if args:
            raise UnsafePickleError("refused OrderedDict(...) with arguments: pickle writes OrderedDict()")
        return collections.OrderedDict()

    def _array_state(self, array: np.ndarray, state: object) -> None:
        if self._fresh_arrays.pop(id(array), None) is not array:
            raise UnsafePickleError("refused BUILD of an array that _reconstruct did not just make")
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickleError(f"refused array state {shown(state)}: expected numpy's tuple")
        shape, dtype, fortran, data = state[-4:]
        if len(state) == 5 and state[0] != 1:
            raise UnsafePickleError(f"refused array state version {shown(state[0])}: expected 1")
        shape, dtype = _shape(shape, "array"), plain_dtype(dtype)
        size = _buffer_length(data, "array")
        if fortran not in (0, 1) or size != _nbytes(shape, dtype):
            raise UnsafePickleError(
                f"refused array {dtype} {shown(shape)} from {size} bytes: shape × itemsize must "
                f"equal the bytes in the file"
            )
        self._take_array_bytes(size, "the array")
        array.__setstate__(state)

    # -- the opcodes --------------------------------------------------------------------------

    def _load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        entry = self._calls.get(id(func))
        if entry is None or entry[0] is not func:
            raise UnsafePickleError(f"refused call of {shown(func)}: it is not an admitted callable")
        if type(args) is not tuple:
            raise UnsafePickleError(f"refused call with {type(args).__name__} arguments")
        result = entry[1](*args)
        stack[-1] = result
        if isinstance(result, collections.OrderedDict):
            self._contain(lambda _: result, [])
        else:
            self._charge(sys.getsizeof(result))

    def _load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, np.dtype):
            if self._fresh_dtypes.pop(id(target), None) is not target:
                raise UnsafePickleError("refused BUILD of a dtype that numpy.dtype() did not just make")
            _dtype_state(target, state)
        elif type(target) is np.ndarray:
            self._array_state(target, state)
        else:
            raise UnsafePickleError(f"refused BUILD of a {type(target).__name__}")
        self._charge(sys.getsizeof(target))

    def _push_container(self, build: Callable[[list], object], items: list) -> None:
        self.append(self._contain(build, items))

    def _load_tuple_n(self, n: int) -> None:
        if len(self.stack) < n:
            raise CorruptPickleError(f"TUPLE{n} with fewer than {n} items on the stack")
        items = self.stack[len(self.stack) - n :]
        del self.stack[len(self.stack) - n :]
        self._push_container(tuple, items)

    def _load_marked(self, build: Callable[[list], object]) -> None:
        items = self._pop_mark()
        self._push_container(build, items)

    def _pop_mark(self) -> list:
        if not self.metastack:
            raise CorruptPickleError("an opcode that needs a MARK found none")
        return self.pop_mark()

    def _load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._set_items(self.stack[-1], [key, value], "SETITEM")

    def _load_setitems(self) -> None:
        items = self._pop_mark()
        if len(items) % 2:
            raise CorruptPickleError("SETITEMS with an odd number of items")
        self._set_items(self.stack[-1], items, "SETITEMS")

    def _set_items(self, target: object, items: list, op: str) -> None:
        node = self._mutable(target, (dict, collections.OrderedDict), op)

        def add() -> None:
            for i in range(0, len(items), 2):
                target[items[i]] = items[i + 1]  # type: ignore[index]

        self._grow(target, node, items, add)

    def _load_append(self) -> None:
        value = self.stack.pop()
        target = self.stack[-1]
        self._grow(target, self._mutable(target, (list,), "APPEND"), [value], lambda: target.append(value))

    def _load_appends(self) -> None:
        items = self._pop_mark()
        target = self.stack[-1]
        self._grow(target, self._mutable(target, (list,), "APPENDS"), items, lambda: target.extend(items))

    def _load_additems(self) -> None:
        items = self._pop_mark()
        target = self.stack[-1]
        self._grow(target, self._mutable(target, (set,), "ADDITEMS"), items, lambda: target.update(items))

    def _load_mark(self) -> None:
        """MARK opens a container's items; marks nest no deeper than containers may."""
        if len(self.metastack) >= MAX_DEPTH:
            self._check_depth(MAX_DEPTH + 1)
        self.metastack.append(self.stack)
        self.stack = []
        self.append = self.stack.append
        self._charge(128)

    def _load_bytearray8(self) -> None:
        (length,) = struct.unpack("<Q", self.read(8))
        if length > self._size:
            raise CorruptPickleError(f"BYTEARRAY8 of {length} bytes in a pickle of {self._size}")
        self.append(bytearray(self.read(length)))
        self._charge(8 + length)

    def _build_dispatch(self) -> dict[int, Callable[[], None]]:
        base = pickle._Unpickler.dispatch  # type: ignore[attr-defined]
        table: dict[int, Callable[[], None]] = {}
        for op in _PUSHING:
            table[op[0]] = self._pushing(base[op[0]])
        for code, cost in _FIXED_COST.items():
            table[code] = self._costing(base[code], cost)
        for op in _PASSING:
            table[op[0]] = base[op[0]].__get__(self)
        table.update({
            pickle.EMPTY_TUPLE[0]: lambda: self._push_container(tuple, []),
            pickle.TUPLE1[0]: lambda: self._load_tuple_n(1),
            pickle.TUPLE2[0]: lambda: self._load_tuple_n(2),
            pickle.TUPLE3[0]: lambda: self._load_tuple_n(3),
            pickle.TUPLE[0]: lambda: self._load_marked(tuple),
            pickle.EMPTY_LIST[0]: lambda: self._push_container(list, []),
            pickle.LIST[0]: lambda: self._load_marked(list),
            pickle.EMPTY_DICT[0]: lambda: self._push_container(_pairs_to_dict, []),
            pickle.DICT[0]: lambda: self._load_marked(_pairs_to_dict),
            pickle.EMPTY_SET[0]: lambda: self._push_container(set, []),
            pickle.FROZENSET[0]: lambda: self._load_marked(frozenset),
            pickle.APPEND[0]: self._load_append,
            pickle.APPENDS[0]: self._load_appends,
            pickle.SETITEM[0]: self._load_setitem,
            pickle.SETITEMS[0]: self._load_setitems,
            pickle.ADDITEMS[0]: self._load_additems,
            pickle.REDUCE[0]: self._load_reduce,
            pickle.BUILD[0]: self._load_build,
            pickle.BYTEARRAY8[0]: self._load_bytearray8,
            pickle.MARK[0]: self._load_mark,
        })
        for op, what in _REFUSED.items():
            table[op[0]] = _refuser(what)
        return table

    def _pushing(self, func: Callable[..., None]) -> Callable[[], None]:
        def run() -> None:
            func(self)
            self._charge(8 + sys.getsizeof(self.stack[-1]))

        return run

    def _costing(self, func: Callable[..., None], cost: int) -> Callable[[], None]:
        def run() -> None:
            func(self)
            self._charge(cost)

        return run

    def load(self) -> Any:
        """Interpret the pickle; the one result, or a :class:`SafePickleError`."""
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)  # type: ignore[attr-defined]
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack, self.stack = [], []
        self.append = self.stack.append
        self.proto = 0
        dispatch = self._build_dispatch()
        read = self.read
        try:
            while True:
                key = read(1)
                handler = dispatch.get(key[0])
                if handler is None:
                    raise CorruptPickleError(f"invalid pickle opcode {key!r}")
                handler()
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            return stop.value


def _pairs_to_dict(items: list) -> dict:
    if len(items) % 2:
        raise CorruptPickleError("DICT with an odd number of items")
    return {items[i]: items[i + 1] for i in range(0, len(items), 2)}


def _refuser(what: str) -> Callable[[], None]:
    def refuse() -> None:
        raise UnsafePickleError(f"refused opcode {what}: the dataset files never use it")

    return refuse


_CORRUPT = (
    EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError, AttributeError,
    struct.error, UnicodeError, OverflowError, LookupError,
)


def loads(
    data: bytes | bytearray | memoryview,
    encoding: str = "bytes",
    *,
    allowed: dict[tuple[str, str], Any] | None = None,
) -> Any:
    """Unpickle ``data`` with :class:`SafeUnpickler` (globals from ``allowed``, by default
    :data:`ALLOWED_GLOBALS`).

    ``encoding="bytes"`` keeps Python 2 ``str`` objects (the CIFAR files) as ``bytes``, as the
    official loading recipe ``pickle.load(f, encoding="bytes")`` does.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ArgumentTypeError(f"loads() needs bytes, got {type(data).__name__}")
    try:
        return SafeUnpickler(bytes(data), encoding=encoding, allowed=allowed).load()
    except SafePickleError as exc:
        raise type(exc)(one_line(exc, 400)) from None
    except MemoryError:
        raise UnsafePickleError(
            f"refused: a pickle of {len(data)} bytes needs more memory than this process may use"
        ) from None
    except RecursionError:
        raise UnsafePickleError("refused: the pickle nests too deeply to interpret") from None
    except _CORRUPT as exc:
        raise CorruptPickleError(
            f"truncated or corrupt pickle ({type(exc).__name__}: {one_line(exc, 200)})"
        ) from None


def load(file: IO[bytes], encoding: str = "bytes") -> Any:
    """Unpickle the rest of a binary file object with :class:`SafeUnpickler`."""
    return loads(file.read(), encoding=encoding)


def load_path(path: str | Path, encoding: str = "bytes", limit: int = 1 << 30) -> Any:
    """Unpickle the regular file at ``path`` (at most ``limit`` bytes) with :class:`SafeUnpickler`."""
    from tfnas.bounded import read_file

    return loads(read_file(path, limit, SafePickleError, "pickle file",
                           f"expected at most {limit} bytes"), encoding=encoding)
