"""A persistent score store: one SQLite file that several processes may write at once.

Rows are keyed by ``(proxy, dataset, arch string, settings)`` where ``settings`` is the text
from :func:`tfnas.scoring.settings_key`, so scores computed under different seeds, batches or
scoring versions never mix. Every :meth:`ScoreStore.put` commits on its own (a killed process
loses at most the score in flight); inserts are idempotent (first write wins, a different
value for an existing key is refused). The file runs in WAL mode with a busy timeout so
concurrent writers wait instead of failing.

Every SQLite failure becomes a one-line :class:`StoreError` naming the file and the operation:
:class:`StoreLockedError` when another connection holds the lock past the (bounded) busy
timeout — the store is healthy, the message names the processes that have it open —,
:class:`CorruptStoreError` when the file is not a readable database, :class:`NotAStoreError` when
it is some other SQLite database.

A store is opened for one search space (``space=``, the topology space by default): keys are
read and written as that space's cells, and :meth:`ScoreStore.scored` returns that space's rows
only. One file may hold rows of several spaces (their spellings are disjoint, and the schema is
the same for all): a row of another registered space is skipped, a row of no space refused.

SQLite ``REAL`` holds ``±inf`` exactly; ``NaN`` would silently become ``NULL``, so it is stored
as ``NULL`` on purpose and read back as ``nan``. (SQLite drops the sign of ``-0.0``; it reads back
as the equal ``0.0``.)
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

from tfnas.errors import TfnasError, shown
from tfnas.spaces import Arch, SearchSpace, get_space, space_names, space_of

APPLICATION_ID = 0x7446_4E53  # "tFNS": marks a SQLite file as a tfnas score store
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000
"""How long an operation waits for another connection's lock by default."""
MAX_BUSY_TIMEOUT_S = 3600.0
"""The longest wait a caller may ask for: a bound, so that nothing waits forever on a lock."""
MAX_HOLDERS_SHOWN = 3
"""How many processes holding a locked store its error names."""
_HOLDER_SCAN_SECONDS = 2.0  # the /proc scan for holders gives up after this long

_SCHEMA = """
CREATE TABLE scores (
    proxy    TEXT NOT NULL,
    dataset  TEXT NOT NULL,
    arch     TEXT NOT NULL,
    settings TEXT NOT NULL,
    score    REAL,            -- NULL encodes NaN
    seconds  REAL NOT NULL,
    PRIMARY KEY (proxy, dataset, arch, settings)
) WITHOUT ROWID
"""


Schema = tuple[list, list, list]
"""A store file's schema as ``(sqlite_master rows, PRAGMA table_info, PRAGMA index_list's
(unique, origin, partial))``: everything :meth:`ScoreStore._check_schema` compares."""


def _schema_of(db: sqlite3.Connection) -> Schema:
    objects = db.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall()
    columns = db.execute("PRAGMA table_info(scores)").fetchall()
    indexes = [tuple(row[2:5]) for row in db.execute("PRAGMA index_list(scores)")]
    return sorted(map(tuple, objects)), [tuple(c) for c in columns], indexes


@functools.cache
def _expected_schema() -> Schema:
    """What :data:`_SCHEMA` creates, read back from an in-memory database: the comparison cannot
    drift from the definition."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(_SCHEMA)
        return _schema_of(db)
    finally:
        db.close()


def _schema_difference(found: Schema) -> str:
    """Which part of a store's schema differs from the expected one, in words."""
    objects, columns, indexes = found
    expected = _expected_schema()
    if objects != expected[0]:
        extra = sorted({f"{t} {n}" for t, n, _ in objects} - {"table scores"})
        return ("no scores table" if ("table", "scores", "scores") not in objects
                else f"extra objects: {shown(extra)}")
    if columns != expected[1]:
        return (f"columns {shown([c[1:4] for c in columns])}, expected "
                f"{shown([c[1:4] for c in expected[1]])} with the key "
                "(proxy, dataset, arch, settings)")
    return f"indexes {shown(indexes)}; expected only the primary key over the four key columns"


class StoreError(TfnasError, ValueError):
    """A file cannot be used as a tfnas score store."""


class StoreFolderError(StoreError, FileNotFoundError):
    """The folder a new store would go in does not exist."""


class NotAStoreError(StoreError):
    """The file is a valid SQLite database, but not a tfnas score store (or a newer schema)."""


class CorruptStoreError(StoreError):
    """The file is not a readable SQLite database, or its rows are not a store's."""


class StoreLockedError(StoreError):
    """A healthy store that another connection held locked for longer than the busy timeout."""


class StoreConflictError(TfnasError, ValueError):
    """A different score was put under a key that already holds one (scores must be deterministic)."""


class StoreRowError(TfnasError, TypeError):
    """A row or key given to the store has the wrong shape or type."""


class StoreSpaceError(TfnasError, ValueError):
    """A cell of another search space than the one the store was opened for."""


Row = tuple[str, str, Arch | str, str, float, float]
"""``(proxy, dataset, arch, settings, score, seconds)`` for :meth:`ScoreStore.put_many`."""


def _encode(score: float) -> float | None:
    return None if math.isnan(score) else score


def _decode(value: object, path: Path) -> float:
    """A stored score back as a float; anything but NULL or a number means a tampered file."""
    if value is None:
        return math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise CorruptStoreError(
        f"score store {shown(str(path))} holds a score that is not a number "
        f"({type(value).__name__} {shown(value)}); it was not written by tfnas"
    )


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _rollback(db: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):  # the original error is the one worth reporting
        if db.in_transaction:
            db.execute("ROLLBACK")


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise StoreRowError(f"{name} must be a non-empty str, got {shown(value)}")
    return value


def _check_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StoreRowError(f"{name} must be a float, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise StoreRowError(f"{name} must be a float, got the int {shown(value)}") from None


def check_busy_timeout(seconds: object) -> float:
    """``seconds`` if it is a finite wait in ``0..MAX_BUSY_TIMEOUT_S``; else a one-line error."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise StoreRowError(f"the busy timeout must be a number of seconds, got {shown(seconds)}")
    value = float(seconds) if isinstance(seconds, float) or abs(seconds) < 2**53 else math.inf
    if not 0 <= value <= MAX_BUSY_TIMEOUT_S:
        raise StoreError(
            f"the busy timeout must be 0..{MAX_BUSY_TIMEOUT_S:g} seconds (a bound, so that no "
            f"operation waits forever on another process's lock), got {shown(seconds)}"
        )
    return value


# -- who holds a file ---------------------------------------------------------------------------


def _command_line(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return "?"
    text = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    return shown(text or "?", 60)


def _opens(pid: str, targets: set[str]) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone, or another user's process
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                return True
        except OSError:
            continue
    return False


def holders(path: Path, limit: int = MAX_HOLDERS_SHOWN) -> list[str] | None:
    """``"pid N (command line)"`` of other processes that have ``path`` (or its WAL) open.

    Linux only (``/proc``): ``None`` where that cannot be known. Bounded: at most ``limit``
    entries, and the scan gives up after a couple of seconds.
    """
    if not os.path.isdir("/proc/self/fd"):
        return None
    base = os.path.realpath(path)
    targets = {base, base + "-wal", base + "-shm", base + "-journal"}
    found: list[str] = []
    stop = time.monotonic() + _HOLDER_SCAN_SECONDS
    me = str(os.getpid())
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and p != me]
    except OSError:
        return None
    for pid in pids:
        if len(found) >= limit or time.monotonic() > stop:
            break
        if _opens(pid, targets):
            found.append(f"pid {pid} ({_command_line(pid)})")
    return found


def _holders_text(path: Path) -> str:
    found = holders(path)
    if found is None:
        return "which process holds it cannot be seen on this platform"
    if not found:
        return "no other process of this user has it open now (another connection of this one?)"
    return "held open by " + ", ".join(found)


# -- errors -------------------------------------------------------------------------------------

_LOCK_NAMES = ("SQLITE_BUSY", "SQLITE_LOCKED")
_CORRUPT_NAMES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def _is_lock(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_LOCK_NAMES) or "database is locked" in str(exc)


_DAMAGE_HINTS = ("could not decode", "no such table", "no such column", "malformed")


def _is_corrupt(exc: sqlite3.Error | UnicodeError) -> bool:
    """Damage or a schema that is not ours (SQLite's codes, or text that is not UTF-8)."""
    if isinstance(exc, UnicodeError):
        return True
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    return name.startswith(_CORRUPT_NAMES) or any(hint in text for hint in _DAMAGE_HINTS)


def _sqlite_says(exc: BaseException) -> str:
    """SQLite's message, printable and bounded: it may quote bytes from the file."""
    text = "".join(c if c.isprintable() else "?" for c in str(exc)[:300])
    text = " ".join(text.split())
    return (text[:150] + "…" if len(text) > 150 else text) or type(exc).__name__


def store_error(path: Path, operation: str, exc: sqlite3.Error | UnicodeError,
                timeout: float) -> StoreError:
    """The one-line :class:`StoreError` for an SQLite failure while doing ``operation``."""
    where = shown(str(path))
    if isinstance(exc, sqlite3.Error) and _is_lock(exc):
        return StoreLockedError(
            f"score store {where} is locked by another connection: waited {timeout:g} s to "
            f"{operation}; {_holders_text(path)}. The store is not damaged: let that process "
            "finish (or stop it), then run again"
        )
    if _is_corrupt(exc):
        return CorruptStoreError(
            f"{where} is not a readable tfnas score store (SQLite says: {_sqlite_says(exc)} "
            f"while trying to {operation}); move it aside or pass another path"
        )
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
        return StoreError(f"score store {where} is closed; cannot {operation}")
    return StoreError(f"cannot {operation} score store {where}: SQLite says: {_sqlite_says(exc)}")


# -- the store ----------------------------------------------------------------------------------


class ScoreStore:
    """Proxy scores on disk, keyed by ``(proxy, dataset, arch, settings)``; a context manager.

    ``timeout`` (seconds, at most :data:`MAX_BUSY_TIMEOUT_S`) is how long any operation waits
    for another connection's lock before it raises :class:`StoreLockedError`. ``space`` (a name
    or a :class:`~tfnas.spaces.SearchSpace`; default the topology space) is the space whose
    cells this connection reads and writes.
    """

    def __init__(self, path: str | Path, *, timeout: float = BUSY_TIMEOUT_MS / 1000,
                 space: str | SearchSpace | None = None) -> None:
        self.space = get_space(space)
        self.path = _check_path(path)
        self.timeout = check_busy_timeout(timeout)
        self._lock = threading.Lock()
        created = not self.path.exists()
        try:
            self._db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise store_error(self.path, "open", exc, self.timeout) from exc
        try:
            self._init()
        except (sqlite3.Error, UnicodeError) as exc:
            self._abandon(created and not (isinstance(exc, sqlite3.Error) and _is_lock(exc)))
            raise store_error(self.path, "open", exc, self.timeout) from exc
        except BaseException:
            self._abandon(created)
            raise

    def _abandon(self, remove: bool) -> None:
        """Close after a failed open; a file this call created (and its WAL) is removed."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if remove:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(str(self.path) + suffix)

    def _init(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        db.execute("BEGIN IMMEDIATE")
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id == 0 and version == 0 and tables == 0:
                db.execute(_SCHEMA)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif app_id != APPLICATION_ID:
                raise NotAStoreError(
                    f"{shown(str(self.path))} is an SQLite database but not a tfnas score store "
                    f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x}); "
                    "pass another path"
                )
            elif version != SCHEMA_VERSION:
                raise NotAStoreError(
                    f"{shown(str(self.path))} is a tfnas score store of schema version "
                    f"{shown(version)}; this tfnas reads version {SCHEMA_VERSION}"
                )
            else:
                self._check_schema()
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"cannot put score store {shown(str(self.path))} in WAL mode (got {shown(mode)})"
            )
        db.execute("PRAGMA synchronous = NORMAL")  # durable across process kills in WAL mode

    def _check_schema(self) -> None:
        """Refuse a file whose application id and version are ours but whose schema is not.

        Everything the store relies on is checked: one object in the file, the ``scores`` table
        (no trigger, view or extra index that could act on a write), its columns with their
        types and NOT NULL, and the primary key over exactly the four key columns (without it one
        key could hold several rows, and :meth:`get` and :meth:`scored` would disagree).
        """
        found = _schema_of(self._db)
        if found != _expected_schema():
            raise CorruptStoreError(
                f"{shown(str(self.path))} carries the tfnas score store's id and version but not "
                f"its schema ({_schema_difference(found)}); it was not written by tfnas, or was "
                "altered: move it aside or pass another path"
            )

    @contextlib.contextmanager
    def _guard(self, operation: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the store's lock; an SQLite failure becomes a StoreError."""
        with self._lock:
            try:
                yield self._db
            except (sqlite3.Error, UnicodeError) as exc:
                _rollback(self._db)
                raise store_error(self.path, operation, exc, self.timeout) from exc
            except BaseException:
                _rollback(self._db)
                raise

    # -- reading -------------------------------------------------------------------------------

    def get(self, proxy: str, dataset: str, arch: Arch | str, settings: str) -> float | None:
        """The stored score, or ``None`` when this key has not been scored."""
        key = (_check_text("proxy", proxy), _check_text("dataset", dataset),
               self._text(arch), _check_text("settings", settings))
        with self._guard("read a score from") as db:
            row = db.execute(
                "SELECT score FROM scores WHERE proxy=? AND dataset=? AND arch=? AND settings=?", key
            ).fetchone()
        return None if row is None else _decode(row[0], self.path)

    def scored(self, proxy: str, dataset: str, settings: str) -> dict[Arch, float]:
        """Every stored score of this store's space for one ``(proxy, dataset, settings)``."""
        found = {}
        for text, score in self._select("arch, score", "read scores from", proxy, dataset, settings):
            arch = self._arch(text)
            if arch is not None:
                found[arch] = _decode(score, self.path)
        return found

    def seconds(self, proxy: str, dataset: str, settings: str) -> list[float]:
        """The scoring seconds stored with each score of one ``(proxy, dataset, settings)``."""
        rows = self._select("seconds", "read scoring times from", proxy, dataset, settings)
        return [float(t) for (t,) in rows if isinstance(t, int | float) and math.isfinite(t)]

    def _select(self, columns: str, operation: str, proxy: str, dataset: str,
                settings: str) -> list[tuple]:
        key = (_check_text("proxy", proxy), _check_text("dataset", dataset),
               _check_text("settings", settings))
        with self._guard(operation) as db:
            return db.execute(
                f"SELECT {columns} FROM scores WHERE proxy=? AND dataset=? AND settings=?", key
            ).fetchall()

    def _arch(self, text: object) -> Arch | None:
        """A stored arch string back as a cell of this store's space; ``None`` for a cell of
        another registered space; anything else means a tampered file."""
        try:
            return self.space.parse(text)  # type: ignore[arg-type]
        except (TfnasError, ValueError, TypeError) as exc:
            error = exc
        for name in space_names():
            other = get_space(name)
            if other is self.space:
                continue
            try:
                other.parse(text)  # type: ignore[arg-type]
            except (TfnasError, ValueError, TypeError):
                continue
            return None
        raise CorruptStoreError(
            f"score store {shown(str(self.path))} holds a row whose arch {shown(text)} is "
            f"not a cell string of any search space ({', '.join(space_names())}); it was not "
            "written by tfnas"
        ) from error

    def _text(self, arch: object) -> str:
        """The official spelling of ``arch``, a cell (or the string of one) of this store's space."""
        if not isinstance(arch, str | self.space.arch_type):
            try:
                other = space_of(arch)
            except TfnasError:
                other = None
            if other is not None:
                raise StoreSpaceError(
                    f"score store {shown(str(self.path))} is open for the {self.space.name} "
                    f"space, got a cell of the {other.name} space ({shown(str(arch))}); open it "
                    f"with space={other.name!r}"
                )
        return self.space.format(arch)

    def count(self, proxy: str | None = None, dataset: str | None = None,
              settings: str | None = None) -> int:
        """Number of rows (of every space in the file), optionally restricted to a proxy, a
        dataset and/or settings."""
        where, args = [], []
        for column, value in (("proxy", proxy), ("dataset", dataset), ("settings", settings)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(_check_text(column, value))
        sql = "SELECT count(*) FROM scores" + (" WHERE " + " AND ".join(where) if where else "")
        with self._guard("count the rows of") as db:
            return int(db.execute(sql, args).fetchone()[0])

    # -- writing -------------------------------------------------------------------------------

    def put(self, proxy: str, dataset: str, arch: Arch | str, settings: str, score: float,
            seconds: float) -> None:
        """Store one score and commit; a repeat of the same value is a no-op."""
        self.put_many([(proxy, dataset, arch, settings, score, seconds)])

    def put_many(self, rows: Iterable[Row]) -> int:
        """Store many scores in one transaction (all or none); returns how many were new."""
        checked = [self._check_row(row) for row in rows]
        new = 0
        with self._guard("write scores to") as db:
            db.execute("BEGIN IMMEDIATE")
            for row in checked:
                cur = db.execute("INSERT OR IGNORE INTO scores VALUES (?, ?, ?, ?, ?, ?)", row)
                if cur.rowcount == 1:
                    new += 1
                    continue
                old = _decode(db.execute(
                    "SELECT score FROM scores WHERE proxy=? AND dataset=? AND arch=? "
                    "AND settings=?", row[:4]).fetchone()[0], self.path)
                if not _same(old, _decode(row[4], self.path)):
                    raise StoreConflictError(
                        f"score store {shown(str(self.path))} already holds {old!r} for "
                        f"proxy={shown(row[0])} dataset={shown(row[1])} arch={row[2]}; refusing "
                        f"the different score {_decode(row[4], self.path)!r} (scores must be "
                        "deterministic)"
                    )
            db.execute("COMMIT")
        return new

    def _check_row(self, row: Row) -> tuple[str, str, str, str, float | None, float]:
        if not isinstance(row, tuple | list) or len(row) != 6:
            raise StoreRowError(
                f"a store row is (proxy, dataset, arch, settings, score, seconds), got {shown(row)}"
            )
        proxy, dataset, arch, settings, score, seconds = row
        return (
            _check_text("proxy", proxy), _check_text("dataset", dataset), self._text(arch),
            _check_text("settings", settings), _encode(_check_number("score", score)),
            _check_number("seconds", seconds),
        )

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        space = "" if self.space is get_space(None) else f", space={self.space.name!r}"
        return f"ScoreStore({str(self.path)!r}{space})"


def _check_path(path: object) -> Path:
    """``path`` as a Path a store can live at: a regular file, or a new one in an existing folder."""
    if not isinstance(path, str | os.PathLike) or not str(path) or "\0" in str(path):
        raise StoreError(f"a score store path must be a non-empty file path, got {shown(path)}")
    path = Path(path)
    where = shown(str(path))
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise StoreError(f"cannot use score store path {where}: {exc.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise StoreError(f"score store path {where} is a directory, expected a file")
    if mode is not None and not stat.S_ISREG(mode):
        raise StoreError(f"score store path {where} is not a regular file (a device or a pipe?)")
    if mode is None and not path.parent.is_dir():
        raise StoreFolderError(
            f"cannot create score store {where}: folder {shown(str(path.parent))} does not exist"
        )
    return path
