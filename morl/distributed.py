"""Executors for independent jobs (C-MORL policies, benchmark cells): local processes or Ray.

A job is a picklable module-level function plus picklable arguments; results come back in
submission order. The local executor uses the ``spawn`` start method because forking a process
that has already started torch threads can deadlock.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal

ExecutorName = Literal["local", "ray", "serial"]


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def default_workers() -> int:
    """One worker per available core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def stream_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[tuple[Any, ...]],
    executor: ExecutorName = "local",
    workers: int | None = None,
    ray_address: str | None = None,
) -> Iterator[Any]:
    """Yield ``fn(*args)`` for every ``args`` in ``jobs``, in submission order, as soon as each is ready.

    ``serial`` runs in this process (debugging, one core); ``local`` uses a spawn process pool
    with one torch thread per worker; ``ray`` submits tasks to a Ray cluster (``ray_address``,
    or a local one), which needs the ``ray`` extra. Submission order (not completion order)
    keeps results identical across executors; the caller can still log each one as it lands.
    """
    workers = workers or default_workers()
    if executor == "serial" or (executor == "local" and (workers == 1 or len(jobs) == 1)):
        for args in jobs:
            yield fn(*args)
    elif executor == "local":
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_init_worker,
                                 initargs=(1,)) as pool:  # fmt: skip
            futures = [pool.submit(fn, *args) for args in jobs]
            for future in futures:
                yield future.result()
    elif executor == "ray":
        yield from _stream_ray(fn, jobs, ray_address)
    else:
        raise ValueError(f"unknown executor {executor!r}; valid choices: local, ray, serial")


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
