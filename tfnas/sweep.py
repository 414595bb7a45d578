"""Score every cell of a search space through the score store: resumable, in chunks, on local
processes or a Dask distributed cluster.

Any registered space (``space=``, ``--space``; the topology space by default): the cells, the
index ranges and the bounds are that space's, the store is opened for it and the exported tables
are its tables.

Resumable because only cells missing from the store are computed and each finished chunk is
written in one transaction (``ScoreStore.put_many``): a killed sweep loses at most the chunks in
flight. Order-free because a cell's score depends only on ``(cell, proxy, dataset, seed,
batch_size)`` (the network's init seed is ``cell_seed(arch, seed)``), so any partition of the
work, on any number of workers, gives the same table.

Every argument is checked, and bounded with a reason, before the store file is created. Local
workers die with the sweep on every path: SIGKILL of the sweep (Linux ``PR_SET_PDEATHSIG``, and
everywhere a watchdog thread in each worker that notices its parent is gone), SIGTERM, SIGINT and
SIGHUP (the sweep stops submitting, terminates its workers and exits ``128 + signal`` with one
line), an error, or a normal end.

The command line is ``tfnas sweep ...`` (:mod:`tfnas.cli`; ``python -m tfnas sweep ...``); this
module parses no arguments and imports nothing of the CLI.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import operator
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from tfnas.checks import (
    ArgumentError,
    ArgumentTypeError,
    check_batch_size,
    check_int,
    check_seed,
)
from tfnas.errors import TfnasError, one_line, shown
from tfnas.spaces import DEFAULT_SPACE, Arch, SearchSpace, get_space

DEFAULT_STORE = Path(".sweep") / "scores.sqlite"
DEFAULT_CHUNK = 100
EXIT_REFUSED = 1  # an export refused to replace a table; the scores stay in the store
EXIT_INCOMPLETE = 75  # EX_TEMPFAIL: stopped by --budget with cells left; run again to resume

MAX_BUDGET_S = 30 * 24 * 3600.0
WHY_BUDGET = "30 days; leave the budget out to run until every cell is stored"
MAX_INDEX_ENTRIES = 1_000_000


def _why_cells(space: SearchSpace) -> str:
    """The reason for a bound on cells: the size of the space."""
    name = "the space" if space.name == DEFAULT_SPACE else f"the {space.name} space"
    return f"{name} has {space.size:,} cells"
MAX_SCHEDULER_CHARS = 1000
PARENT_POLL_S = 0.5
"""How often a worker's watchdog checks that the sweep that started it is still alive."""
EXIT_ORPHANED = 70
"""The status a worker exits with when it finds its sweep gone."""
_WAIT_S = 0.25  # the driver wakes this often to notice a stop signal
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


class SweepError(TfnasError, RuntimeError):
    """A sweep could not finish: a worker died or failed. Finished chunks stay in the store."""


class SweepInterrupted(KeyboardInterrupt):
    """The sweep was stopped by a signal; every finished chunk is in the store."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_status(self) -> int:
        """``128 + signal``, the shell's status for a command that a signal stopped."""
        return 128 + self.signum


@dataclass(frozen=True)
class Chunk:
    """One unit of work: some cells of one dataset, each scored with every proxy of the chunk
    (together, so that proxies sharing a forward/backward pass get it once per cell)."""

    proxies: tuple[str, ...]
    dataset: str
    seed: int
    batch_size: int | None
    """The batch override (``None``: each proxy's reference batch)."""
    settings: tuple[str, ...]
    """The store key's settings of each proxy, aligned with :attr:`proxies`."""
    archs: tuple[str, ...]
    space: str = DEFAULT_SPACE
    """The name of the search space ``archs`` are spelled in."""
    precision: str = "float32"
    device: str = "cpu"
    """The arithmetic and the device of the scores (:mod:`tfnas.scoring`)."""

    @property
    def proxy(self) -> str:
        """The proxies as one comma-separated name (for messages)."""
        return ",".join(self.proxies)


@dataclass
class JobStats:
    """Progress of one ``(proxy, dataset)``: cells requested, already stored, computed now."""

    proxy: str
    dataset: str
    requested: int = 0
    stored_before: int = 0
    computed: int = 0
    cpu_seconds: float = 0.0

    @property
    def remaining(self) -> int:
        return self.requested - self.stored_before - self.computed

    @property
    def cells_per_second(self) -> float:
        """Throughput of one worker (cells per second of scoring time)."""
        return self.computed / self.cpu_seconds if self.cpu_seconds > 0 else float("nan")


@dataclass
class SweepReport:
    """What a sweep did, per ``(proxy, dataset)``, and how long it took."""

    jobs: list[JobStats] = field(default_factory=list)
    wall_seconds: float = 0.0
    stopped_early: bool = False

    @property
    def computed(self) -> int:
        return sum(j.computed for j in self.jobs)

    @property
    def remaining(self) -> int:
        return sum(j.remaining for j in self.jobs)

    @property
    def cpu_seconds(self) -> float:
        return sum(j.cpu_seconds for j in self.jobs)


# -- workers ------------------------------------------------------------------------------------


def score_chunk(chunk: Chunk) -> list[tuple[str, str, float, float]]:
    """Score the cells of a chunk with its proxies: ``(arch, proxy, score, seconds)`` each, the
    seconds being the proxy's share of the cell's scoring time. Runs in a worker, on one torch
    thread as every score is (the scoring rule pins it: :func:`tfnas.scoring.one_thread`)."""
    from tfnas.scoring import score_many

    out = []
    for arch in chunk.archs:
        scores = score_many(arch, chunk.proxies, chunk.dataset, seed=chunk.seed,
                            batch_size=chunk.batch_size, space=chunk.space,
                            precision=chunk.precision, device=chunk.device)
        out.extend((arch, s.proxy, s.score, s.seconds) for s in scores.values())
    return out


def _set_pdeathsig() -> bool:
    """Linux: have the kernel SIGKILL this process when its parent dies. False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _windows_parent_handle(parent_pid: int) -> int:
    import ctypes

    synchronize = 0x0010_0000
    return int(ctypes.windll.kernel32.OpenProcess(synchronize, False, parent_pid) or 0)  # type: ignore[attr-defined]


def parent_alive(parent_pid: int) -> bool:
    """Whether the process that started this one (``parent_pid``) still runs."""
    if os.name == "nt":
        import ctypes

        handle = _windows_parent_handle(parent_pid)
        wait_timeout = 0x102
        return bool(handle) and ctypes.windll.kernel32.WaitForSingleObject(handle, 0) == wait_timeout  # type: ignore[attr-defined]
    return os.getppid() == parent_pid  # an orphan is adopted by init or a subreaper


def _watch_parent(parent_pid: int, poll_seconds: float) -> None:
    """The portable fallback: exit as soon as the parent is gone (runs on a daemon thread)."""
    if os.name == "nt":
        import ctypes

        handle = _windows_parent_handle(parent_pid)
        if handle:
            ctypes.windll.kernel32.WaitForSingleObject(handle, 0xFFFF_FFFF)  # type: ignore[attr-defined]
        os._exit(EXIT_ORPHANED)
    while parent_alive(parent_pid):
        time.sleep(poll_seconds)
    os._exit(EXIT_ORPHANED)


def die_with_parent(parent_pid: int, *, pdeathsig: bool = True,
                    poll_seconds: float = PARENT_POLL_S) -> None:
    """Make this process end when ``parent_pid`` ends, however it ends (SIGKILL included).

    Linux: ``PR_SET_PDEATHSIG`` (unless ``pdeathsig=False``); everywhere: a daemon watchdog
    thread polling the parent. Exits at once if the parent is already gone.
    """
    if pdeathsig:
        _set_pdeathsig()
    threading.Thread(target=_watch_parent, args=(parent_pid, poll_seconds), daemon=True,
                     name="tfnas-parent-watchdog").start()
    if not parent_alive(parent_pid):  # it died before the watch began
        os._exit(EXIT_ORPHANED)


def _worker_init(parent_pid: int) -> None:
    """Initializer of every local worker: dies with the sweep, leaves Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the sweep handles it and stops the workers
    die_with_parent(parent_pid)


# -- arguments ----------------------------------------------------------------------------------


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def max_workers() -> int:
    """The most local workers a sweep starts: the usable CPUs (at least 2)."""
    return max(2, usable_cpus())


def check_workers(workers: object) -> int:
    """``workers`` if it is an int in ``1..max_workers()``; else a one-line error with the reason."""
    limit = max_workers()
    why = (f"this process may use {usable_cpus()} CPUs; each worker is a process of ~230 MB "
           "scoring on one core, so more workers than CPUs only contend")
    return check_int("workers", workers, 1, limit, why)


def _check_budget(budget: object) -> float | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise ArgumentTypeError(f"budget must be a number of seconds, got {shown(budget)}")
    value = float(budget) if isinstance(budget, float) or abs(budget) < 2**53 else float("inf")
    if not 0 <= value <= MAX_BUDGET_S:
        raise ArgumentError(
            f"budget must be 0..{MAX_BUDGET_S:,.0f} seconds ({WHY_BUDGET}), got {shown(budget)}"
        )
    return value


def _check_scheduler(scheduler: object) -> object:
    from_dask = type(scheduler).__module__.startswith(("distributed", "dask"))
    if from_dask:
        return scheduler
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ArgumentTypeError(
            f"scheduler must be a Dask address like 'tcp://host:8786' or a Client, got "
            f"{shown(scheduler)}"
        )
    if len(scheduler) > MAX_SCHEDULER_CHARS or not scheduler.isprintable() or " " in scheduler:
        raise ArgumentError(f"scheduler {shown(scheduler)} is not an address like tcp://host:8786")
    return scheduler


def _check_names(what: str, singular: str, names: object, known: Sequence[str]) -> list[str]:
    """The distinct names, each one of ``known``; one line for anything else."""
    if isinstance(names, str | bytes) or not isinstance(names, Sequence) or not names:
        raise ArgumentTypeError(f"{what} must be a non-empty list of names, got {shown(names)}")
    for name in names:
        if name not in known:
            raise ArgumentError(f"unknown {singular} {shown(name)}; known {what}: {', '.join(known)}")
    return list(dict.fromkeys(names))


def _check_indices(indices: Iterable[int], space: SearchSpace) -> list[int]:
    """Distinct official indices of ``space`` in first-seen order; a bounded walk of any iterable."""
    if isinstance(indices, str | bytes):
        raise ArgumentTypeError(
            f"indices must be ints (use parse_indices for text like '0-99'), got {shown(indices)}"
        )
    try:
        iterator = iter(indices)
    except TypeError:
        raise ArgumentTypeError(f"indices must be an iterable of ints, got {shown(indices)}") from None
    seen: dict[int, None] = {}
    for count, index in enumerate(iterator):
        if count >= MAX_INDEX_ENTRIES:
            raise ArgumentError(
                f"indices must have at most {MAX_INDEX_ENTRIES:,} entries ({_why_cells(space)}; "
                "more entries only repeat them)"
            )
        if isinstance(index, bool):
            raise ArgumentTypeError(f"an index must be an int, got {shown(index)}")
        try:
            value = operator.index(index)
        except TypeError:
            raise ArgumentTypeError(f"an index must be an int, got {shown(index)}") from None
        seen[check_int("index", value, 0, space.size - 1, _why_cells(space))] = None
    return list(seen)


def _cells(indices: Iterable[int] | None, limit: int | None, space: SearchSpace,
           order_seed: int) -> list[Arch]:
    from tfnas.tables import sweep_order

    cells = ([space.arch_at(i) for i in sweep_order(space, order_seed)] if indices is None
             else [space.arch_at(i) for i in _check_indices(indices, space)])
    if limit is not None:
        cells = cells[: check_int("limit", limit, 0, space.size, _why_cells(space))]
    return cells


@dataclass(frozen=True)
class _Request:
    """Checked arguments of a sweep and the settings key of each ``(proxy, dataset)``."""

    cells: list[Arch]
    chunk_size: int
    seed: int
    batch_size: int | None
    settings: dict[tuple[str, str], str]
    space: SearchSpace
    order_seed: int = 0
    precision: str = "float32"
    device: str = "cpu"


def _request(proxies: object, datasets: object, indices: Iterable[int] | None, limit: int | None,
             chunk_size: object, seed: object, batch_size: object,
             space: str | SearchSpace | None, order_seed: object = 0,
             precision: object = "float32", device: object = None) -> _Request:
    """Check every planning argument (and load each data batch once) before any file is made."""
    from tfnas.datasets import dataset_names
    from tfnas.devices import check_device
    from tfnas.proxies import proxy_names
    from tfnas.scoring import check_precision, settings_key

    space = get_space(space)
    chunk = check_int("chunk_size", chunk_size, 1, space.size, _why_cells(space))
    proxy_list = _check_names("proxies", "proxy", proxies, proxy_names())
    dataset_list = _check_names("datasets", "dataset", datasets, dataset_names())
    seed = check_seed(seed)
    if batch_size is not None:
        batch_size = check_batch_size(batch_size)
    order_seed = check_seed(order_seed, "order_seed")
    cells = _cells(indices, limit, space, order_seed)
    precision = check_precision(precision)
    device = str(check_device(device))
    settings = {(p, d): settings_key(p, d, seed, batch_size, precision, device)
                for p in proxy_list for d in dataset_list}
    return _Request(cells, chunk, seed, batch_size, settings, space, order_seed, precision, device)


def _check_store_space(store: object, space: SearchSpace) -> None:
    """A store object must be open for the sweep's space (a store without ``space``: topology)."""
    opened = get_space(getattr(store, "space", None))
    if opened is not space:
        raise ArgumentError(
            f"the score store is open for the {opened.name} space, the sweep is of the "
            f"{space.name} space; open it with ScoreStore(path, space={space.name!r})"
        )


def store_table_rows(store: object, settings: Mapping[tuple[str, str], str], root: str | Path,
                     space: str | SearchSpace | None = None) -> dict[tuple[str, str], int]:
    """Put into ``store`` the rows of each ``(proxy, dataset)`` table under ``root`` whose
    settings are ``settings[(proxy, dataset)]`` (a missing table is skipped); each row with the
    table's recorded median seconds per cell, so the store's median stays the table's. A table
    computed under other settings is refused in one line: its scores are not this sweep's.
    Returns how many rows each table added (rows the store held are left as they are)."""
    from tfnas.tables import TableMismatchError, load_table, table_path

    space = get_space(space)
    added = {}
    for (proxy, dataset), wanted in settings.items():
        if not table_path(proxy, dataset, root, space).exists():
            continue
        table = load_table(proxy, dataset, root, space=space)
        if table.settings != wanted:
            raise TableMismatchError(
                f"cannot resume from {table_path(proxy, dataset, root, space)}: computed under "
                f"settings {shown(table.settings)}, this sweep scores under {shown(wanted)}")
        seconds = table.seconds_per_cell or 0.0
        added[(proxy, dataset)] = store.put_many(  # type: ignore[attr-defined]
            (proxy, dataset, arch, wanted, score, seconds) for arch, score in table.scores.items())
    return added


def _plan(store: object, request: _Request) -> tuple[list[Chunk], list[JobStats]]:
    _check_store_space(store, request.space)
    chunks: list[Chunk] = []
    jobs: list[JobStats] = []
    cells = request.cells
    space = request.space
    datasets = list(dict.fromkeys(d for _, d in request.settings))
    for dataset in datasets:
        keys = [(p, s) for (p, d), s in request.settings.items() if d == dataset]
        lacking: dict[tuple[str, ...], list[str]] = {}  # proxies missing a cell -> those cells
        done = {p: store.scored(p, dataset, s) for p, s in keys}  # type: ignore[attr-defined]
        for proxy, _ in keys:
            missing = sum(1 for a in cells if a not in done[proxy])
            jobs.append(JobStats(proxy, dataset, len(cells), len(cells) - missing))
        for position, arch in enumerate(cells):
            need = tuple(p for p, _ in keys if arch not in done[p])
            if need:
                lacking.setdefault(need, []).append((position, space.format(arch)))
        parts = []
        for need, found in lacking.items():
            settings = tuple(dict(keys)[p] for p in need)
            for start in range(0, len(found), request.chunk_size):
                part = found[start : start + request.chunk_size]
                parts.append((part[0][0], Chunk(need, dataset, request.seed, request.batch_size,
                                                settings, tuple(a for _, a in part), space.name,
                                                request.precision, request.device)))
        # Chunks go in the order of their first cell: a whole-space sweep follows its seeded
        # permutation, so every stopped sweep leaves (about) a prefix of it, a uniform sample.
        chunks.extend(chunk for _, chunk in sorted(parts, key=lambda item: item[0]))
    return chunks, jobs


def plan(
    store: object,
    proxies: Sequence[str],
    datasets: Sequence[str],
    *,
    indices: Iterable[int] | None = None,
    limit: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    seed: int = 0,
    batch_size: int | None = None,
    space: str | SearchSpace | None = None,
    order_seed: int = 0,
) -> tuple[list[Chunk], list[JobStats]]:
    """The chunks still to compute (cells of ``space`` missing from ``store``), and per-job
    counts. ``store`` must be open for ``space`` (default the topology space)."""
    request = _request(proxies, datasets, indices, limit, chunk_size, seed, batch_size, space,
                       order_seed)
    return _plan(store, request)


# -- stop signals -------------------------------------------------------------------------------


class _Interrupts:
    """SIGINT/SIGTERM/SIGHUP during a sweep: raise :class:`SweepInterrupted` at a safe point.

    Inside :meth:`deferred` (a pool call that holds the pool's locks) the signal is only noted and
    raised when the call returns; elsewhere it is raised at once. Later signals are ignored while
    the sweep stops, so the cleanup itself is never interrupted.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raised = False
        self._depth = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.check()

    @contextlib.contextmanager
    def deferred(self, defer: bool = True) -> Iterator[None]:
        self._depth += defer
        try:
            yield
        finally:
            self._depth -= defer
        self.check()

    def check(self) -> None:
        """Raise the noted signal once, unless inside :meth:`deferred`."""
        if self.signum is not None and not self.raised and not self._depth:
            self.raised = True
            raise SweepInterrupted(self.signum)


@contextlib.contextmanager
def _stop_signals() -> Iterator[_Interrupts]:
    """Route the stop signals to an :class:`_Interrupts` (main thread only), then restore them."""
    interrupts = _Interrupts()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in _STOP_SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                previous[signum] = signal.signal(signum, interrupts.handle)
    try:
        yield interrupts
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


# -- executors ----------------------------------------------------------------------------------


class _Serial:
    """The in-process executor (``workers=1``): the reference every parallel run must equal."""

    defer = False  # scoring runs here: a stop signal may interrupt it at once
    window = 1

    def submit(self, fn: Callable, *args: object) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future

    def wait_first(self, futures: list, timeout: float) -> set:
        return set(futures)

    def close(self, graceful: bool) -> None:
        pass


class _Local:
    """A spawn process pool whose workers die with this process (see :func:`die_with_parent`)."""

    defer = True

    def __init__(self, workers: int) -> None:
        self.window = 2 * workers
        self.pool = cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a process with torch
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )

    def submit(self, fn: Callable, *args: object) -> cf.Future:
        return self.pool.submit(fn, *args)

    def wait_first(self, futures: list, timeout: float) -> set:
        return cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED).done

    def close(self, graceful: bool) -> None:
        """Graceful: wait for the (idle) workers to exit. Else terminate them now, then kill."""
        if graceful:
            self.pool.shutdown(wait=True)
            return
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + 5
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(max(0.0, deadline - time.monotonic()))
                if process.is_alive():
                    process.kill()
                    process.join(1)


class _Dask:
    """Chunks on a Dask cluster; a Client opened here from an address is closed here."""

    defer = True

    def __init__(self, scheduler: object) -> None:
        from dask.distributed import Client

        self.own = not isinstance(scheduler, Client)
        self.client = _connect(Client, scheduler) if self.own else scheduler
        self.window = 2 * (sum(self.client.nthreads().values()) or 1)
        self.futures: list = []

    def submit(self, fn: Callable, *args: object) -> object:
        future = self.client.submit(fn, *args)
        self.futures.append(future)
        return future

    def wait_first(self, futures: list, timeout: float) -> set:
        from dask.distributed import wait

        try:
            return set(wait(futures, timeout=timeout, return_when="FIRST_COMPLETED").done)
        except TimeoutError:
            return set()

    def close(self, graceful: bool) -> None:
        if not graceful:
            with contextlib.suppress(Exception):
                self.client.cancel([f for f in self.futures if not f.done()])
        if self.own:
            self.client.close()


CONNECT_TIMEOUT_S = 30
"""How long a sweep waits for a Dask scheduler to answer before it gives up."""


def _connect(client: Callable, address: object) -> object:
    """A Dask client connected to ``address``; a scheduler that does not answer is one line."""
    try:
        return client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler {shown(address)} within "
                         f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}: {one_line(exc, 160)}); "
                         "expected a running scheduler, e.g. `dask scheduler` then "
                         "`dask worker <address>`") from exc


def _executor(workers: int, scheduler: object) -> _Serial | _Local | _Dask:
    if scheduler is not None:
        return _Dask(scheduler)
    return _Serial() if workers == 1 else _Local(workers)


def _result(future: object, chunk: Chunk) -> list[tuple[str, str, float, float]]:
    """A chunk's results; a dead worker or a failure in one becomes a one-line SweepError."""
    try:
        return future.result()  # type: ignore[attr-defined]
    except TfnasError:
        raise
    except cf.BrokenExecutor as exc:
        raise SweepError(
            "a worker process died while scoring (killed, or out of memory?); every finished "
            "chunk is in the store: run the same command to resume"
        ) from exc
    except Exception as exc:
        raise SweepError(
            f"scoring {chunk.proxy} on {chunk.dataset} failed in a worker: "
            f"{type(exc).__name__}: {one_line(exc, 300)}"
        ) from exc


# -- the sweep ----------------------------------------------------------------------------------


def _new_dirs(folder: Path) -> list[Path]:
    """The folders ``folder.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def _open_store(path: object, lock_timeout: float | None, space: SearchSpace) -> object:
    """Open (creating it and its folder if need be) the store at ``path`` for ``space``; undo
    that on failure."""
    from tfnas.store import BUSY_TIMEOUT_MS, ScoreStore, StoreError, check_busy_timeout

    timeout = check_busy_timeout(BUSY_TIMEOUT_MS / 1000 if lock_timeout is None else lock_timeout)
    if not isinstance(path, str | os.PathLike) or not str(path) or "\0" in str(path):
        raise StoreError(f"a score store path must be a non-empty file path, got {shown(path)}")
    path = Path(path)
    created = _new_dirs(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return ScoreStore(path, timeout=timeout, space=space)
    except OSError as exc:
        _remove_dirs(created)
        raise StoreError(
            f"cannot create the folder of score store {shown(str(path))}: {exc.strerror or exc}"
        ) from exc
    except BaseException:
        _remove_dirs(created)
        raise


def _remove_dirs(created: list[Path]) -> None:
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if still empty


def run_sweep(
    store: object,
    proxies: Sequence[str],
    datasets: Sequence[str],
    *,
    indices: Iterable[int] | None = None,
    limit: int | None = None,
    workers: int = 1,
    scheduler: object = None,
    chunk_size: int = DEFAULT_CHUNK,
    seed: int = 0,
    batch_size: int | None = None,
    budget_seconds: float | None = None,
    progress: bool | None = None,
    lock_timeout: float | None = None,
    space: str | SearchSpace | None = None,
    order_seed: int = 0,
    precision: str = "float32",
    device: str | None = None,
    resume_from: str | Path | None = None,
) -> SweepReport:
    """Score every requested cell of ``space`` that ``store`` lacks; write each finished chunk
    at once.

    ``space`` is a registered search space (default the topology space); ``indices`` are its
    official indices, scored in the order given; without ``indices`` the whole space is scored in
    the seeded random permutation ``tfnas.tables.sweep_order(space, order_seed)`` (``limit``
    takes its first cells), so a stopped sweep leaves a uniform random sample. Proxies are scored
    together cell by cell (shared passes, :func:`tfnas.scoring.score_many`), each at its reference
    batch unless ``batch_size`` overrides it. ``store`` is a :class:`tfnas.store.ScoreStore` open for that space or a
    path to one (opened with ``lock_timeout`` seconds of patience for another process's lock).
    ``workers=1`` scores in
    this process (on one torch thread while it runs); more use a process pool whose workers die
    with this process; ``scheduler`` (a Dask scheduler address or ``Client``) runs the chunks on
    that cluster instead. ``budget_seconds`` stops submitting new chunks after that much wall time
    (those in flight are still stored). ``precision`` and ``device`` are the scoring rule's
    (:func:`tfnas.scoring.score`; each has its own settings key). ``progress=None`` shows a bar on a terminal or in a notebook
    and a line every 30 s elsewhere (:mod:`tfnas.progress`); ``False`` shows nothing.
    ``resume_from`` (a tables folder, e.g. the committed ``benchmarks/scores``) first puts into
    the store every row of its tables computed under this sweep's settings
    (:func:`store_table_rows`), so growing a committed table scores only the cells it lacks.
    Every argument is checked before a store file is created. SIGINT, SIGTERM or SIGHUP (when run
    on the main thread) stop the workers and raise :class:`SweepInterrupted`.
    """
    start = time.perf_counter()
    request = _request(proxies, datasets, indices, limit, chunk_size, seed, batch_size, space,
                       order_seed, precision, device)
    if scheduler is None:
        workers = check_workers(workers)
    else:
        scheduler = _check_scheduler(scheduler)
    budget = _check_budget(budget_seconds)
    if progress not in (None, True, False):
        raise ArgumentTypeError(f"progress must be True, False or None, got {shown(progress)}")
    # A cluster is reached before a store file is created: an unreachable scheduler leaves none.
    executor = _Dask(scheduler) if scheduler is not None else None
    try:
        with _stop_signals() as interrupts:
            own_store = not hasattr(store, "put_many")
            if own_store:
                store = _open_store(store, lock_timeout, request.space)
            try:
                if resume_from is not None:
                    store_table_rows(store, request.settings, resume_from, request.space)
                chunks, jobs = _plan(store, request)
                report = SweepReport(jobs)
                if chunks:
                    deadline = None if budget is None else start + budget
                    chosen, executor = executor or _executor(workers, None), None
                    _drive(store, chunks, report, chosen, deadline, progress, interrupts)
                report.wall_seconds = time.perf_counter() - start
                return report
            finally:
                if own_store:
                    store.close()  # type: ignore[attr-defined]
    finally:
        if executor is not None:  # connected, but nothing was driven through it
            executor.close(graceful=True)


def _drive(store: object, chunks: list[Chunk], report: SweepReport,
           executor: _Serial | _Local | _Dask, deadline: float | None, progress: bool | None,
           interrupts: _Interrupts) -> None:
    """Keep a window of chunks in flight; store each as it completes; stop the workers after."""
    from tfnas.progress import Progress

    by_job = {(j.proxy, j.dataset): j for j in report.jobs}
    bar = Progress(sum(len(c.archs) for c in chunks), "tfnas sweep", "cell", show=progress)
    pending: dict[object, Chunk] = {}
    todo = iter(chunks)
    try:
        while True:
            while len(pending) < executor.window and not report.stopped_early:
                if deadline is not None and time.perf_counter() > deadline:
                    report.stopped_early = True
                    break
                chunk = next(todo, None)
                if chunk is None:
                    break
                with interrupts.deferred(executor.defer):
                    pending[executor.submit(score_chunk, chunk)] = chunk
            if not pending:
                break
            with interrupts.deferred(executor.defer):
                done = executor.wait_first(list(pending), _WAIT_S)
            for future in done:
                chunk = pending.pop(future)
                results = _result(future, chunk)
                settings = dict(zip(chunk.proxies, chunk.settings, strict=True))
                store.put_many(  # type: ignore[attr-defined]
                    (proxy, chunk.dataset, arch, settings[proxy], value, seconds)
                    for arch, proxy, value, seconds in results
                )
                for _, proxy, _, seconds in results:
                    job = by_job[(proxy, chunk.dataset)]
                    job.computed += 1
                    job.cpu_seconds += seconds
                bar.update(len(chunk.archs), f"{chunk.proxy}/{chunk.dataset}")
        with interrupts.deferred(executor.defer):  # a signal now waits for the workers' exit
            executor.close(graceful=True)
    except BaseException:
        executor.close(graceful=False)  # stop the workers now: nothing more will be stored
        raise
    finally:
        bar.close(interrupted=report.remaining > 0 and not report.stopped_early)
    report.stopped_early = report.stopped_early and report.remaining > 0


# -- index ranges (``tfnas sweep --indices``) ---------------------------------------------------

_RANGE_RE = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9}))?", re.ASCII)


_ASCII_SPACE = " \t\n\r\f\v"  # str.strip() alone would also drop U+00A0 and other Unicode spaces


def parse_indices(text: str, space: str | SearchSpace | None = None) -> list[int]:
    """``"0-99,200,300-310"`` → the listed official indices (ranges inclusive), each once, in the
    order first listed. ASCII digits only; every index within ``0..size-1`` of ``space`` (default
    the topology space)."""
    size = get_space(space).size
    if not isinstance(text, str):
        raise ArgumentTypeError(f"indices must be a str like '0-99,200', got {type(text).__name__}")
    out: dict[int, None] = {}
    for part in filter(None, (p.strip(_ASCII_SPACE) for p in text.split(","))):
        match = _RANGE_RE.fullmatch(part)
        if match is None:
            raise ArgumentError(f"bad index range {shown(part)}; expected N or N-M, e.g. '0-99,200'")
        first = int(match[1])
        last = first if match[2] is None else int(match[2])
        if not 0 <= first <= last < size:
            raise ArgumentError(
                f"index range {shown(part)} must lie within 0..{size - 1}, low to high"
            )
        out.update(dict.fromkeys(range(first, last + 1)))
    if not out:
        raise ArgumentError(f"no indices in {shown(text)}; expected e.g. '0-99,200'")
    return list(out)


if __name__ == "__main__":  # the command line is tfnas.cli's; say so rather than do nothing
    sys.exit("python -m tfnas.sweep is not a command: run 'tfnas sweep ...' "
             "(or 'python -m tfnas sweep ...')")
