"""Executors for independent jobs (C-MORL policies, benchmark cells): local processes or Ray.

A job is a picklable module-level function plus picklable arguments; results come back in
submission order. The local executor uses the ``spawn`` start method because forking a process
that has already started torch threads can deadlock.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Literal

ExecutorName = Literal["local", "ray", "serial"]


def _init_worker(threads: int, parent_pid: int) -> None:
    import torch

    torch.set_num_threads(threads)
    # Ctrl-C reaches the whole process group: the parent alone handles it (and ends its workers),
    # so that one line, not a traceback per worker, reaches the terminal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True, name="morl-orphan-watch").start()


def _exit_with_parent(parent_pid: int, period: float = 1.0) -> None:
    """End this worker once its parent is gone (killed with -9, by the OOM killer, preempted).

    Without it a pool worker lives on as an orphan of init, holding its memory and possibly
    still writing into the run directory that a resumed run is using.
    """
    while os.getppid() == parent_pid:
        time.sleep(period)
    os._exit(1)


def default_workers() -> int:
    """One worker per available core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class JobPool:
    """An executor kept for many batches of jobs: a ``local`` pool is spawned once, on first use.

    Starting a spawn pool costs every worker its imports (torch, gymnasium: seconds), so an
    algorithm that submits several rounds of jobs (C-MORL's stages and extension rounds) keeps
    one ``JobPool`` open for its whole run. Use it as a context manager; it shuts the pool down.
    """

    def __init__(self, executor: ExecutorName = "local", workers: int | None = None,
                 ray_address: str | None = None, isolate: bool = False) -> None:  # fmt: skip
        if executor not in ("local", "ray", "serial"):
            raise ValueError(f"unknown executor {executor!r}; valid choices: local, ray, serial")
        self.executor = executor
        self.workers = workers or default_workers()
        self.ray_address = ray_address
        self.isolate = isolate  # local: a worker process even for one job (a crash cannot take the caller down)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> JobPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=exc_type is not None)

    def close(self, abort: bool = False) -> None:
        """Shut the pool down; ``abort`` (an error or Ctrl-C in the caller) ends running jobs at once."""
        if self._pool is None:
            return
        if abort:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=not abort, cancel_futures=True)
        self._pool = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Start ``fn(*args)`` beside the caller and return its future at once (non-blocking).

        ``serial`` runs it here, now, and returns a finished future (deterministic: tests and
        debugging); ``local`` runs it in the spawn pool; ``ray`` on the cluster. A loop polls
        ``future.done()`` and never waits for it.
        """
        if self.executor == "serial":
            future: Future = Future()
            try:
                future.set_result(fn(*args))
            except Exception as err:  # delivered through the future, as a worker's error would be
                future.set_exception(err)
            return future
        if self.executor == "ray":
            try:
                import ray
            except ImportError:
                raise ValueError("executor 'ray' needs Ray: pip install 'morl[ray]'") from None
            if not ray.is_initialized():
                ray.init(address=self.ray_address, ignore_reinit_error=True, log_to_driver=False)
            return ray.remote(num_cpus=1)(fn).remote(*args).future()
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                             initargs=(1, os.getpid()))  # fmt: skip
        return self._pool.submit(fn, *args)

    def stream(self, fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]]) -> Iterator[Any]:
        """Yield ``fn(*args)`` for every ``args`` in ``jobs``, in submission order, as each is ready.

        ``serial`` runs in this process (debugging, one core); ``local`` uses a spawn process
        pool with one torch thread per worker; ``ray`` submits tasks to a Ray cluster
        (``ray_address``, or a local one), which needs the ``ray`` extra. Submission order (not
        completion order) keeps results identical across executors; the caller can still log
        each one as it lands. A worker that dies (crash, out of memory) raises
        ``BrokenProcessPool`` here; the pool is then discarded, and the next call starts a new one.
        """
        in_process = self.workers == 1 or len(jobs) == 1
        if self.executor == "local" and not (in_process and not self.isolate) and self._pool is None:
            in_process = _cannot_spawn(fn, jobs)
        if self.executor == "serial" or (self.executor == "local" and in_process):
            for args in jobs:
                yield fn(*args)
        elif self.executor == "local":
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                                 initargs=(1, os.getpid()))  # fmt: skip
            futures = [self._pool.submit(fn, *args) for args in jobs]
            try:
                for future in futures:
                    yield future.result()
            except BrokenProcessPool:
                self.close()
                raise
        else:
            yield from _stream_ray(fn, jobs, self.ray_address)


def _cannot_spawn(fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]]) -> bool:
    """Whether worker processes cannot run these jobs; if so, say why once, and run them here instead.

    Two mistakes of a user's own script break a spawn pool: jobs that cannot be pickled (a
    lambda or a local function as env), and a script that trains at import time (no
    ``if __name__ == "__main__":``), which every spawned worker re-runs.
    """
    reason = None
    try:
        pickle.dumps((fn, jobs[0]) if jobs else fn)
    except (pickle.PicklingError, AttributeError, TypeError) as err:
        reason = (
            f"its jobs cannot be sent to worker processes ({err}); define the env at module level "
            "or pass it as 'module:Class'"
        )
    if reason is None and _main_trains_at_import():
        reason = (
            f"{sys.modules['__main__'].__file__} runs training at import time, which each worker process would "
            'repeat; put it under `if __name__ == "__main__":`'
        )
    if reason is not None:
        warnings.warn(f"running jobs in this process, not in worker processes: {reason}", stacklevel=3)
    return reason is not None


def _main_trains_at_import() -> bool:
    """True when this call comes from the top level of the ``__main__`` script, outside a main guard."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not str(path).endswith(".py") or not os.path.isfile(path):
        return False
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return False
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    line = frame.f_lineno
    return not any(
        isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) and node.lineno <= line <= node.end_lineno
        for node in tree.body
    )


def stream_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[tuple[Any, ...]],
    executor: ExecutorName = "local",
    workers: int | None = None,
    ray_address: str | None = None,
) -> Iterator[Any]:
    """:meth:`JobPool.stream` on a pool that lives for this one call."""
    with JobPool(executor, min(workers or default_workers(), max(len(jobs), 1)), ray_address) as pool:
        yield from pool.stream(fn, jobs)


def run_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[tuple[Any, ...]],
    executor: ExecutorName = "local",
    workers: int | None = None,
    ray_address: str | None = None,
) -> list[Any]:
    """All results of :func:`stream_jobs`, in submission order."""
    return list(stream_jobs(fn, jobs, executor, workers, ray_address))


def _stream_ray(fn: Callable[..., Any], jobs: Iterable[tuple[Any, ...]], address: str | None) -> Iterator[Any]:
    try:
        import ray
    except ImportError:
        raise ValueError("executor 'ray' needs Ray: pip install 'morl[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(fn)
    for ref in [remote.remote(*args) for args in jobs]:
        yield ray.get(ref)
