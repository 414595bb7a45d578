"""A persistent score store: one SQLite file that several processes may write at once.

Rows are keyed by ``(proxy, dataset, arch string, settings)`` where ``settings`` is the text
from :func:`tfnas.scoring.settings_key`, so scores computed under different seeds, batches or
scoring versions never mix. Every :meth:`ScoreStore.put` commits on its own (a killed process
loses at most the score in flight); inserts are idempotent (first write wins, a different
value for an existing key is refused). The file runs in WAL mode with a busy timeout so
concurrent writers wait instead of failing.

SQLite ``REAL`` holds ``±inf`` exactly; ``NaN`` would silently become ``NULL``, so it is stored
as ``NULL`` on purpose and read back as ``nan``. (SQLite drops the sign of ``-0.0``; it reads back
as the equal ``0.0``.)
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from tfnas.errors import TfnasError
from tfnas.space import Arch, as_arch

APPLICATION_ID = 0x7446_4E53  # "tFNS": marks a SQLite file as a tfnas score store
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

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


class StoreError(TfnasError, ValueError):
    """A file cannot be used as a tfnas score store."""


class NotAStoreError(StoreError):
    """The file is a valid SQLite database, but not a tfnas score store (or a newer schema)."""


class CorruptStoreError(StoreError):
    """The file is not a readable SQLite database."""


class StoreConflictError(TfnasError, ValueError):
    """A different score was put under a key that already holds one (scores must be deterministic)."""


Row = tuple[str, str, Arch | str, str, float, float]
"""``(proxy, dataset, arch, settings, score, seconds)`` for :meth:`ScoreStore.put_many`."""


def _encode(score: float) -> float | None:
    return None if math.isnan(score) else score


def _decode(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK")


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str, got {value!r}")
    return value


def _check_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    return float(value)


class ScoreStore:
    """Proxy scores on disk, keyed by ``(proxy, dataset, arch, settings)``; a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"score store path {self.path} is a directory, expected a file")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"cannot create score store {self.path}: folder {self.path.parent} does not exist"
            )
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open score store {self.path}: {exc}") from exc
        try:
            self._init()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CorruptStoreError(
                f"{self.path} is not a readable tfnas score store (SQLite says: {exc}); "
                "move it aside or pass another path"
            ) from exc
        except BaseException:
            self._db.close()
            raise

    def _init(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
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
                    f"{self.path} is an SQLite database but not a tfnas score store "
                    f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x})"
                )
            elif version != SCHEMA_VERSION:
                raise NotAStoreError(
                    f"{self.path} is a tfnas score store of schema version {version}; "
                    f"this tfnas reads version {SCHEMA_VERSION}"
                )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"cannot put score store {self.path} in WAL mode (got {mode!r})")
        db.execute("PRAGMA synchronous = NORMAL")  # durable across process kills in WAL mode

    # -- reading -------------------------------------------------------------------------------

    def get(self, proxy: str, dataset: str, arch: Arch | str, settings: str) -> float | None:
        """The stored score, or ``None`` when this key has not been scored."""
        key = (_check_text("proxy", proxy), _check_text("dataset", dataset),
               str(as_arch(arch)), _check_text("settings", settings))
        with self._lock:
            row = self._db.execute(
                "SELECT score FROM scores WHERE proxy=? AND dataset=? AND arch=? AND settings=?", key
            ).fetchone()
        return None if row is None else _decode(row[0])

    def scored(self, proxy: str, dataset: str, settings: str) -> dict[Arch, float]:
        """Every stored score for one ``(proxy, dataset, settings)``."""
        key = (_check_text("proxy", proxy), _check_text("dataset", dataset),
               _check_text("settings", settings))
        with self._lock:
            rows = self._db.execute(
                "SELECT arch, score FROM scores WHERE proxy=? AND dataset=? AND settings=?", key
            ).fetchall()
        return {Arch.parse(arch): _decode(score) for arch, score in rows}

    def count(self, proxy: str | None = None, dataset: str | None = None,
              settings: str | None = None) -> int:
        """Number of rows, optionally restricted to a proxy, a dataset and/or settings."""
        where, args = [], []
        for column, value in (("proxy", proxy), ("dataset", dataset), ("settings", settings)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(_check_text(column, value))
        sql = "SELECT count(*) FROM scores" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            return int(self._db.execute(sql, args).fetchone()[0])

    # -- writing -------------------------------------------------------------------------------

    def put(self, proxy: str, dataset: str, arch: Arch | str, settings: str, score: float,
            seconds: float) -> None:
        """Store one score and commit; a repeat of the same value is a no-op."""
        self.put_many([(proxy, dataset, arch, settings, score, seconds)])

    def put_many(self, rows: Iterable[Row]) -> int:
        """Store many scores in one transaction (all or none); returns how many were new."""
        checked = [self._check_row(row) for row in rows]
        new = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row in checked:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO scores VALUES (?, ?, ?, ?, ?, ?)", row
                    )
                    if cur.rowcount == 1:
                        new += 1
                        continue
                    old = _decode(self._db.execute(
                        "SELECT score FROM scores WHERE proxy=? AND dataset=? AND arch=? "
                        "AND settings=?", row[:4]).fetchone()[0])
                    if not _same(old, _decode(row[4])):
                        raise StoreConflictError(
                            f"score store {self.path} already holds {old!r} for proxy={row[0]} "
                            f"dataset={row[1]} arch={row[2]}; refusing the different score "
                            f"{_decode(row[4])!r} (scores must be deterministic)"
                        )
                self._db.execute("COMMIT")
            except BaseException:
                _rollback(self._db)
                raise
        return new

    @staticmethod
    def _check_row(row: Row) -> tuple[str, str, str, str, float | None, float]:
        if not isinstance(row, tuple | list) or len(row) != 6:
            raise TypeError(
                f"a store row is (proxy, dataset, arch, settings, score, seconds), got {row!r}"
            )
        proxy, dataset, arch, settings, score, seconds = row
        return (
            _check_text("proxy", proxy), _check_text("dataset", dataset), str(as_arch(arch)),
            _check_text("settings", settings), _encode(_check_number("score", score)),
            _check_number("seconds", seconds),
        )

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScoreStore({str(self.path)!r})"
