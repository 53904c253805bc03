"""Resumable sweeps: a function of a config dict, mapped over many configs, one JSON file per run.

* Run functions are top-level functions decorated with ``@run_fn(version=N)``. A config is hashed with the
  function's qualified name and version to a run id: bump the version whenever the function, or code it calls,
  changes what it computes, and old records stop being served. The record is written to
  ``<out_dir>/<run_id>.json`` through a temp file and ``os.replace`` (atomic on POSIX), so a file either holds
  a finished run or does not exist. A rerun skips every config whose file holds a finished run; failed,
  unreadable or foreign records are redone. A run that raises is recorded with its error and traceback and
  does not stop the others.
* The parent process writes every file (workers only compute), so the same code serves local processes and
  a Dask cluster whose workers may not share our disk. A run killed before its file is written is simply
  run again next time; a written run is never redone.
* Executors: ``"local"`` (a spawn process pool kept for the life of the process, so a ``reproduce`` of many
  claims starts its workers once; ``workers=1`` or ``in_process=True`` runs in this process) and ``"dask"``
  (any ``distributed`` scheduler address). Functions must be importable top-level functions so they pickle.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from netoptima.conventions import check_choice, check_int, progress, torch_threads

Config = dict[str, Any]
RunFn = Callable[[Config], dict[str, Any]]
F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Runner", "SchedulerUnreachable", "atomic_write_json", "config_hash", "connect", "read_progress", "run",
           "run_fn", "runs_done"]


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler address given by the user could not be reached."""


def fn_name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def run_fn(*, version: int) -> Callable[[F], F]:
    """Mark a top-level function ``config -> dict`` as a run function with an explicit ``version``.

    The version is part of every run id: bump it when the function (or code it calls) changes its results.
    """
    version = check_int("version", version, low=1)

    def wrap(fn: F) -> F:
        fn.__netoptima_version__ = version  # type: ignore[attr-defined]
        return fn

    return wrap


def fn_version(fn: Callable[..., Any]) -> int:
    """The version given by :func:`run_fn`; a function without one is refused (it would serve stale runs)."""
    version = getattr(fn, "__netoptima_version__", None)
    if version is None:
        raise ValueError(f"{fn_name(fn)} is not a run function: decorate it with @netoptima.sweep.run_fn(version=1) "
                         "(the version keys its run records)")
    return int(version)


def config_hash(fn: Callable[..., Any], config: Config) -> str:
    """Run id: a short SHA-256 of the function's qualified name, its version and the canonical JSON config."""
    try:
        blob = json.dumps({"fn": fn_name(fn), "version": fn_version(fn), "config": config}, sort_keys=True,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        if "run function" in str(exc):
            raise
        raise ValueError(f"config must be JSON-serialisable (plain numbers, strings, lists, dicts); "
                         f"got {config!r}: {exc}") from None
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` via a temp file in the same directory and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True, default=jsonable)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def jsonable(x: Any) -> Any:
    """``json.dump``'s ``default``: numpy / torch scalars and arrays as lists, paths as strings."""
    if hasattr(x, "tolist"):  # numpy / torch scalars and arrays
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def _call(fn: RunFn, config: Config, threads: int | None) -> dict[str, Any]:
    """Execute one run and capture its outcome (runs inside the worker)."""
    t0 = time.perf_counter()
    try:
        with torch_threads(threads):
            result = fn(dict(config))
        if not isinstance(result, dict):
            raise TypeError(f"{fn_name(fn)} must return a dict, got {type(result).__name__}")
        json.dumps(result, default=jsonable)  # fail here, in the run, if the result cannot be stored
        return {"status": "ok", "result": result, "seconds": time.perf_counter() - t0}
    except Exception as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "seconds": time.perf_counter() - t0}


def _load_ok(path: Path) -> dict[str, Any] | None:
    """A finished run's record, or ``None`` when the file is missing, unreadable, corrupt or not a finished run
    (those are redone and overwritten)."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, a directory, not UTF-8, not JSON
        return None
    ok = (isinstance(rec, dict) and rec.get("status") == "ok" and isinstance(rec.get("result"), dict)
          and isinstance(rec.get("config"), dict))
    return rec if ok else None


def _load_ok_json(path: Path) -> dict[str, Any]:
    """A JSON object stored at ``path``, or ``{}`` when the file is missing, unreadable or not an object."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def read_progress(path: str | Path) -> dict[str, Any] | None:
    """A sweep's progress as :meth:`Runner.write_progress` stored it, with ``runs_done`` ("k of N" or "k of N+"
    when later sweeps were not counted); ``None`` for a missing, unreadable or foreign file."""
    p = _load_ok_json(Path(path))
    if not isinstance(p.get("id"), str) or not isinstance(p.get("total"), int):
        return None
    return {**p, "runs_done": runs_done(p.get("finished", 0), p["total"], p.get("counted", "all"))}


def runs_done(finished: int, total: int, counted: str = "all") -> str:
    """"k of N runs done", with "N+" when later sweeps were not counted (they need earlier results)."""
    return f"{finished} of {total}{'' if counted == 'all' else '+'} runs done"


def connect(scheduler: str, *, timeout: float = 5.0) -> Any:
    """Connect a ``distributed.Client`` to ``scheduler`` or raise :class:`SchedulerUnreachable`."""
    from distributed import Client

    # created before __init__ runs so that a failed connect can still close what it started (its IO-loop thread)
    client = Client.__new__(Client)
    try:
        client.__init__(scheduler, timeout=timeout, set_as_default=False)
        return client
    except (OSError, TimeoutError, ValueError) as exc:
        _close_quietly(client)
        raise SchedulerUnreachable(f"cannot reach Dask scheduler {scheduler!r} within {timeout:g} s "
                                   f"({type(exc).__name__}); give a running scheduler's address, "
                                   "e.g. tcp://host:8786") from None


def _close_quietly(client: Any) -> None:
    """Close a client whose construction failed: stop its IO loop even when ``close`` itself fails."""
    with contextlib.suppress(Exception):
        client.close(timeout=1)
    runner = getattr(client, "_loop_runner", None)
    if runner is not None:
        with contextlib.suppress(Exception):
            runner.stop()


def run(fn: RunFn, configs: Sequence[Config], out_dir: str | os.PathLike[str], *,
        executor: str = "local", workers: int = 1, scheduler: Any = None, desc: str = "",
        quiet: bool | None = None, in_process: bool = False, plan: bool = False,
        on_progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Map ``fn`` over ``configs``, one atomically written JSON record per run, skipping finished ones.

    Arguments:
        fn: top-level function ``config -> JSON-able dict`` (must pickle for processes / Dask).
        configs: JSON-able dicts; identical configs share one run.
        out_dir: directory of run records ``<run_id>.json``.
        executor: ``"local"`` (process pool, or this process when ``workers == 1``) or ``"dask"``.
        workers: local processes (ignored for Dask).
        scheduler: for ``"dask"``, a scheduler address string or an existing ``distributed.Client``.
        desc: progress bar label.
        quiet: silence the progress bar (default: quiet unless stderr is a terminal).
        in_process: run every config in this process (for runs too cheap to pay a worker's start-up).
        plan: run nothing; return the finished records only (to count what a sweep still needs).
        on_progress: called with ``(finished, total)`` distinct runs, once before and after every finished run.

    Returns:
        The records, aligned with ``configs``: ``{"run_id", "fn", "config", "status": "ok"|"failed",
        "result" | "error", "seconds", "finished_at", "resumed"}``.
    """
    check_choice("executor", executor, ["local", "dask"])
    workers = check_int("workers", workers, low=1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clean_stale_temps(out)
    ids = [config_hash(fn, c) for c in configs]
    records: dict[str, dict[str, Any]] = {}
    todo: dict[str, Config] = {}
    for rid, cfg in zip(ids, configs, strict=True):
        done = _load_ok(out / f"{rid}.json")
        if done is not None:
            records[rid] = {**done, "resumed": True}
        else:
            todo.setdefault(rid, cfg)

    def finish(rid: str, outcome: dict[str, Any]) -> None:
        rec = {"run_id": rid, "fn": fn_name(fn), "config": todo[rid], **outcome,
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        path = out / f"{rid}.json"
        if path.is_dir():  # a stray directory where a record belongs: the run replaces it
            shutil.rmtree(path)
        atomic_write_json(path, rec)
        records[rid] = {**rec, "resumed": False}

    total = len(set(ids))
    if on_progress is not None:
        on_progress(len(records), total)
    if plan:
        return [records[rid] for rid in ids if rid in records]
    label = f"{desc or fn.__name__} ({len(records)} done)" if records else (desc or fn.__name__)
    for rid, outcome in progress(_execute(fn, todo, executor, workers, scheduler, in_process), desc=label,
                                 total=len(todo), quiet=quiet):
        finish(rid, outcome)
        if on_progress is not None:  # a failed run is redone by the next call: not finished
            on_progress(sum(r["status"] == "ok" for r in records.values()), total)
    return [records[rid] for rid in ids]


STALE_TEMP_SECONDS = 600.0  # a record's temp file is written in milliseconds: one this old was left by a kill


def _clean_stale_temps(out: Path) -> None:
    """Remove temp files that a killed writer left behind (never a finished record)."""
    now = time.time()
    for tmp in out.glob(".*.json.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TEMP_SECONDS:
                tmp.unlink()
        except OSError:
            pass


def _execute(fn: RunFn, todo: dict[str, Config], executor: str, workers: int, scheduler: Any,
             in_process: bool) -> Iterable[tuple[str, dict[str, Any]]]:
    """Yield ``(run_id, outcome)`` as runs complete."""
    if not todo:
        return
    if in_process or (executor == "local" and workers == 1):
        # the same thread share as a pool worker: cheap in-process runs must not oversubscribe the cores
        threads = max(1, (os.cpu_count() or 1) // workers) if executor == "local" else None
        for rid, cfg in todo.items():
            yield rid, _call(fn, cfg, threads)
    elif executor == "dask":
        yield from _execute_dask(fn, todo, scheduler)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        pool = _pool(workers)
        pending = {pool.submit(_call, fn, cfg, threads): rid for rid, cfg in todo.items()}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                rid = pending.pop(fut)
                try:
                    yield rid, fut.result()
                except BrokenProcessPool as exc:  # a worker died (OOM kill, segfault): record, retry next time
                    _POOLS.pop(workers, None)
                    yield rid, {"status": "failed", "error": f"worker process died: {exc}", "traceback": "",
                                "seconds": 0.0}


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _worker_init(parent: int) -> None:
    """Pool worker start-up: die with the parent, leave Ctrl-C to it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the workers
    try:  # Linux: the kernel kills this worker when the parent dies, even by SIGKILL
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _pool(workers: int) -> ProcessPoolExecutor:
    """A process pool kept for the life of this process, so consecutive sweeps pay the start-up once."""
    pool = _POOLS.get(workers)
    if pool is None:
        import multiprocessing as mp

        # spawn, not fork: forking a process that already runs torch's thread pools can deadlock
        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                                     initializer=_worker_init, initargs=(os.getpid(),))
    return pool


@atexit.register
def shutdown_pools(*, terminate: bool = False) -> None:
    """Shut the kept pools down; ``terminate=True`` kills running workers at once (on SIGINT / SIGTERM)."""
    for pool in list(_POOLS.values()):
        procs = list((getattr(pool, "_processes", None) or {}).values())
        if terminate:
            for proc in procs:
                proc.terminate()
        pool.shutdown(wait=not terminate, cancel_futures=True)
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    _POOLS.clear()


def _execute_dask(fn: RunFn, todo: dict[str, Config], scheduler: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    from distributed import Client, as_completed

    if scheduler is None:
        raise ValueError("executor 'dask' needs scheduler (an address like tcp://host:8786 or a Client)")
    client = scheduler if isinstance(scheduler, Client) else connect(str(scheduler))
    try:
        futures = {client.submit(_call, fn, cfg, None, key=f"netoptima-{rid}", pure=False): rid
                   for rid, cfg in todo.items()}
        with client.as_current():  # as_completed needs a current client; connect() made it non-default
            for fut in as_completed(futures):
                try:
                    outcome = fut.result()
                except Exception as exc:  # the worker died (KilledWorker) or the task could not run there
                    outcome = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": "",
                               "seconds": 0.0}
                yield futures[fut], outcome
    finally:
        if client is not scheduler:
            client.close()


@dataclass
class Runner:
    """What a claim gets to run its sweeps: executor settings plus where its files go.

    ``runner.map(fn, configs)`` runs a resumable sweep in ``<runs_dir>/<module.function>/`` and returns the
    successful results, each merged with its config (``{**config, **result}``); failures are kept in
    ``runner.failures`` and reported in the claim's detail. Every config gets the runner's ``device`` (unless it
    names one), so ``--device`` reaches every run and is part of its record key. The CLI gives every claim the
    same ``runs_dir`` (``<out>/runs``), so claims that need an identical run share it.
    """

    claim_dir: Path
    executor: str = "local"
    workers: int = 1
    scheduler: Any = None
    seed: int = 0
    device: str = "cpu"
    quiet: bool | None = None
    runs_dir: Path | None = None  # default: <claim_dir>/runs
    # plan=True runs nothing: every map returns its finished runs only and counts the rest in ``sweeps``
    plan: bool = False
    # while a claim runs, ``sweeps`` (one ``[label, finished, total]`` per map) is written here after every run:
    # an interrupted sweep is reported as "k of N runs done" (the file's other keys are kept)
    progress_file: Path | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0
    ran: int = 0
    sweeps: list[list[Any]] = field(default_factory=list)
    _written: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.claim_dir = Path(self.claim_dir)
        self.claim_dir.mkdir(parents=True, exist_ok=True)
        self.runs_dir = Path(self.runs_dir) if self.runs_dir is not None else self.claim_dir / "runs"

    def map(self, fn: RunFn, configs: Sequence[Config], *, desc: str = "",
            in_process: bool = False) -> list[dict[str, Any]]:
        """Run ``fn`` over ``configs`` (resumably); ``in_process=True`` for runs too cheap for a worker."""
        configs = [{"device": self.device, **c} for c in configs]
        sweep: list[Any] = [desc or fn.__name__, 0, 0]
        self.sweeps.append(sweep)

        def on_progress(finished: int, total: int) -> None:
            sweep[1:] = [finished, total]
            # at most one write a second (a sweep of cheap runs would otherwise fsync after each)
            if self.progress_file is not None and (not self._written or time.monotonic() - self._written > 1):
                self.write_progress()
                self._written = time.monotonic()

        recs = run(fn, configs, self.runs_dir / fn_name(fn), executor=self.executor, workers=self.workers,
                   scheduler=self.scheduler, desc=desc or fn.__name__, quiet=self.quiet, in_process=in_process,
                   plan=self.plan, on_progress=on_progress)
        if self.progress_file is not None and not self.plan:  # the last count, whatever the throttle skipped
            self.write_progress()
        self.failures += [r for r in recs if r["status"] != "ok"]
        self.resumed += sum(r["resumed"] for r in recs)
        self.ran += sum(not r["resumed"] for r in recs)
        return [{**r["config"], **r["result"]} for r in recs if r["status"] == "ok"]

    @property
    def counts(self) -> tuple[int, int]:
        """``(finished, total)`` runs over every sweep this runner has mapped so far."""
        return sum(s[1] for s in self.sweeps), sum(s[2] for s in self.sweeps)

    def write_progress(self, **meta: Any) -> None:
        """Store the sweeps' counts (plus ``meta``) in :attr:`progress_file`, keeping the keys stored before."""
        if self.progress_file is None:
            raise ValueError("progress_file is not set")
        old = _load_ok_json(self.progress_file)
        finished, total = self.counts
        atomic_write_json(self.progress_file, {**old, **meta, "sweeps": self.sweeps, "finished": finished,
                                               "total": total, "updated": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def path(self, name: str) -> Path:
        """Path for an artifact (plot, table) of this claim."""
        return self.claim_dir / name
