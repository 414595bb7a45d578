"""Score every cell of the space through the score store: resumable, in chunks, on local
processes or a Dask distributed cluster.

Resumable because only cells missing from the store are computed and each finished chunk is
written in one transaction (``ScoreStore.put_many``): a killed sweep loses at most the chunks in
flight. Order-free because a cell's score depends only on ``(cell, proxy, dataset, seed,
batch_size)`` (the network's init seed is ``cell_seed(arch, seed)``), so any partition of the
work, on any number of workers, gives the same table.

``python -m tfnas.sweep ...`` and ``tfnas sweep ...`` run the same command line.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tfnas.space import SPACE_SIZE, Arch, all_cells, arch_at

DEFAULT_STORE = Path(".sweep") / "scores.sqlite"
DEFAULT_CHUNK = 100
EXIT_INCOMPLETE = 75  # EX_TEMPFAIL: stopped by --budget with cells left; run again to resume


@dataclass(frozen=True)
class Chunk:
    """One unit of work: some cells of one ``(proxy, dataset)`` under fixed settings."""

    proxy: str
    dataset: str
    seed: int
    batch_size: int
    settings: str
    archs: tuple[str, ...]


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


def _single_thread() -> None:
    """Workers score one cell at a time on one core; parallelism comes from the workers."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def score_chunk(chunk: Chunk) -> list[tuple[str, float, float]]:
    """Score the cells of a chunk: ``(arch, score, seconds)`` each. Runs in a worker."""
    from tfnas.scoring import score

    _single_thread()
    out = []
    for arch in chunk.archs:
        start = time.perf_counter()
        value = score(arch, chunk.proxy, chunk.dataset, seed=chunk.seed, batch_size=chunk.batch_size)
        out.append((arch, float(value), time.perf_counter() - start))
    return out


def parse_indices(text: str) -> list[int]:
    """``"0-99,200,300-310"`` → the listed official indices (ranges inclusive), in order."""
    if not isinstance(text, str):
        raise TypeError(f"indices must be a str like '0-99,200', got {type(text).__name__}")
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError as exc:
            raise ValueError(f"bad index range {part!r}; expected N or N-M, e.g. '0-99,200'") from exc
        if not 0 <= first <= last < SPACE_SIZE:
            raise ValueError(f"index range {part!r} must lie within 0..{SPACE_SIZE - 1}, low to high")
        out.extend(range(first, last + 1))
    if not out:
        raise ValueError(f"no indices in {text!r}; expected e.g. '0-99,200'")
    return out


def _cells(indices: Iterable[int] | None, limit: int | None) -> list[Arch]:
    cells = list(all_cells()) if indices is None else [arch_at(i) for i in dict.fromkeys(indices)]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        cells = cells[:limit]
    return cells


def plan(
    store: object,
    proxies: Sequence[str],
    datasets: Sequence[str],
    *,
    indices: Iterable[int] | None = None,
    limit: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    seed: int = 0,
    batch_size: int = 128,
) -> tuple[list[Chunk], list[JobStats]]:
    """The chunks still to compute (cells missing from ``store``), and per-job counts."""
    from tfnas.scoring import settings_key

    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    for what, names in (("proxies", proxies), ("datasets", datasets)):
        if isinstance(names, str) or not names:
            raise TypeError(f"{what} must be a non-empty list of names, got {names!r}")
    cells = _cells(indices, limit)
    chunks: list[Chunk] = []
    jobs: list[JobStats] = []
    for proxy in proxies:
        for dataset in datasets:
            settings = settings_key(proxy, dataset, seed, batch_size)
            done = store.scored(proxy, dataset, settings)  # type: ignore[attr-defined]
            missing = [str(a) for a in cells if a not in done]
            jobs.append(JobStats(proxy, dataset, len(cells), len(cells) - len(missing)))
            for start in range(0, len(missing), chunk_size):
                part = tuple(missing[start : start + chunk_size])
                chunks.append(Chunk(proxy, dataset, seed, batch_size, settings, part))
    return chunks, jobs


class _Serial:
    """The in-process executor (``workers=1``): the reference every parallel run must equal."""

    def submit(self, fn: Callable, *args: object) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: B036 - handed to the caller through the future
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _executor(workers: int, scheduler: object) -> tuple[object, int, Callable]:
    """``(executor, in-flight window, wait_first)`` for local processes or a Dask cluster."""
    if scheduler is not None:
        from dask.distributed import Client, wait

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        slots = sum(client.nthreads().values()) or 1

        def wait_dask(futures):
            return wait(futures, return_when="FIRST_COMPLETED").done

        return client, 2 * slots, wait_dask

    def wait_local(futures):
        return cf.wait(futures, return_when=cf.FIRST_COMPLETED).done

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if workers == 1:
        return _Serial(), 1, wait_local
    pool = cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),  # no fork of a process holding torch threads
        initializer=_single_thread,
    )
    return pool, 2 * workers, wait_local


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
    batch_size: int = 128,
    budget_seconds: float | None = None,
    progress: bool | None = None,
) -> SweepReport:
    """Score every requested cell that ``store`` lacks; write each finished chunk at once.

    ``store`` is a :class:`tfnas.store.ScoreStore` or a path to one. ``workers=1`` scores in this
    process (on one torch thread while it runs); more use a process pool; ``scheduler`` (a Dask scheduler address or ``Client``) runs
    the chunks on that cluster instead. ``budget_seconds`` stops submitting new chunks after that
    much wall time (those in flight are still stored). ``progress=None`` shows a tqdm bar only on a
    terminal.
    """
    from tfnas.store import ScoreStore

    start = time.perf_counter()
    own_store = not hasattr(store, "put_many")
    if own_store:
        path = Path(store)  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        store = ScoreStore(path)
    try:
        chunks, jobs = plan(store, proxies, datasets, indices=indices, limit=limit,
                            chunk_size=chunk_size, seed=seed, batch_size=batch_size)
        report = SweepReport(jobs)
        if chunks:
            deadline = None if budget_seconds is None else start + budget_seconds
            _drive(store, chunks, report, workers, scheduler, deadline, progress)
        report.wall_seconds = time.perf_counter() - start
        return report
    finally:
        if own_store:
            store.close()  # type: ignore[attr-defined]


def _drive(store: object, chunks: list[Chunk], report: SweepReport, workers: int,
           scheduler: object, deadline: float | None, progress: bool | None) -> None:
    """Keep a window of chunks in flight; store each as it completes."""
    import torch
    from tqdm import tqdm

    by_job = {(j.proxy, j.dataset): j for j in report.jobs}
    threads = torch.get_num_threads()  # the serial executor scores here on one thread
    executor, window, wait_first = _executor(workers, scheduler)
    bar = tqdm(total=sum(len(c.archs) for c in chunks), unit="cell", dynamic_ncols=True,
               disable=None if progress is None else not progress, smoothing=0.05)
    pending: dict[object, Chunk] = {}
    todo = iter(chunks)
    try:
        while True:
            while len(pending) < window and not report.stopped_early:
                if deadline is not None and time.perf_counter() > deadline:
                    report.stopped_early = True
                    break
                chunk = next(todo, None)
                if chunk is None:
                    break
                pending[executor.submit(score_chunk, chunk)] = chunk
            if not pending:
                break
            for future in wait_first(list(pending)):
                chunk = pending.pop(future)
                results = future.result()
                store.put_many(  # type: ignore[attr-defined]
                    (chunk.proxy, chunk.dataset, arch, chunk.settings, value, seconds)
                    for arch, value, seconds in results
                )
                job = by_job[(chunk.proxy, chunk.dataset)]
                job.computed += len(results)
                job.cpu_seconds += sum(seconds for _, _, seconds in results)
                bar.set_postfix_str(f"{chunk.proxy}/{chunk.dataset}", refresh=False)
                bar.update(len(results))
    finally:
        bar.close()
        for future in pending:
            future.cancel()
        if isinstance(executor, cf.ProcessPoolExecutor):
            executor.shutdown(wait=True, cancel_futures=True)
        elif executor is not scheduler and hasattr(executor, "close"):
            executor.close()  # a Client this sweep opened from an address
        torch.set_num_threads(threads)
    report.stopped_early = report.stopped_early and report.remaining > 0


# -- command line -------------------------------------------------------------------------------


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {text!r}")
    return names


def add_sweep_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``sweep`` to a CLI's subcommands (``tfnas sweep``); it runs :func:`sweep_command`."""
    parser = subparsers.add_parser(
        "sweep",
        help="score every cell through the score store (resumable; local processes or Dask)",
        description=__doc__.split("\n\n")[0],
    )
    _add_arguments(parser)
    parser.set_defaults(func=sweep_command)
    return parser


def _indices_arg(text: str) -> list[int]:
    try:
        return parse_indices(text)
    except ValueError as exc:  # argparse would hide the message behind "invalid value"
        raise argparse.ArgumentTypeError(str(exc)) from exc


def register_cli(register: Callable) -> None:
    """The ``tfnas`` CLI's plugin hook: adds ``tfnas sweep``."""
    register("sweep", "score every cell through the score store (resumable; local or Dask)",
             _add_arguments, sweep_command)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--proxy", type=_names, required=True,
                        help="comma-separated proxies, e.g. naswot,synflow,params,flops")
    parser.add_argument("--dataset", type=_names, required=True,
                        help="comma-separated datasets, e.g. cifar10,cifar100,ImageNet16-120")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=1,
                       help="local worker processes (1 = in this process; default 1)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler address, e.g. tcp://host:8786, instead of local workers")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE,
                        help=f"score store (SQLite) path; default {DEFAULT_STORE}")
    parser.add_argument("--indices", type=_indices_arg, default=None,
                        help="only these official indices, e.g. 0-99,200 (default: all)")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N of the selected cells")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK,
                        help=f"cells per task (default {DEFAULT_CHUNK})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help=f"stop submitting work after this wall time (exit {EXIT_INCOMPLETE} "
                        "if cells remain)")
    parser.add_argument("--export", nargs="?", const="", default=None, metavar="ROOT",
                        help="afterwards export the score tables (to ROOT, default benchmarks/scores)")


def sweep_command(args: argparse.Namespace) -> int:
    """Run a parsed ``sweep`` command line; exit status 0 when every requested cell is stored."""
    report = run_sweep(
        args.store, args.proxy, args.dataset, indices=args.indices, limit=args.limit,
        workers=args.workers, scheduler=args.scheduler, chunk_size=args.chunk_size,
        seed=args.seed, batch_size=args.batch_size, budget_seconds=args.budget,
    )
    for job in report.jobs:
        rate = f"{job.cells_per_second:.2f} cells/s/worker" if job.computed else "-"
        print(f"{job.proxy:>8} {job.dataset:<15} stored {job.stored_before + job.computed:>6}/"
              f"{job.requested}  computed {job.computed:>6} in {job.cpu_seconds:9.1f} cpu-s  {rate}")
    print(f"wall {report.wall_seconds:.1f} s, cpu {report.cpu_seconds:.1f} s, "
          f"remaining {report.remaining}")
    if args.export is not None:
        from tfnas.store import ScoreStore
        from tfnas.tables import export_table

        root = Path(args.export) if args.export else None
        with ScoreStore(args.store) as store:
            for job in report.jobs:
                result = export_table(store, job.proxy, job.dataset, args.seed, args.batch_size, root)
                print(f"{'wrote' if result.written else 'unchanged'} {result.path} "
                      f"({result.rows} rows)")
    return EXIT_INCOMPLETE if report.remaining else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tfnas.sweep``: the ``tfnas sweep`` command on its own."""
    parser = argparse.ArgumentParser(prog="python -m tfnas.sweep", description=__doc__)
    _add_arguments(parser)
    return sweep_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
