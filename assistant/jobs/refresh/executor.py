"""Where the partitioned steps run: in this process, or as tasks on a Dask distributed cluster.

Both run the same functions on the same arguments (``partitions.gather`` and ``partitions.score``),
so a cluster run writes exactly the snapshot an in-process run writes.  On Dask, fitted models are
scattered to every worker once (``broadcast``) and each task is retried when its worker dies
(Dask reschedules the tasks of a lost worker; a task that raises is retried ``TASK_RETRIES`` times,
and since every score task first deletes its own rows of the run, a retry never writes twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from assistant.errors import UserFacingError

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[str, int, int, float | None], None]
"""``(step, done, total, seconds left or None)`` after each finished partition."""

TASK_RETRIES = 2


class ClusterUnavailable(UserFacingError):
    """The Dask scheduler named by ``CRM_DASK_SCHEDULER`` cannot be reached."""


class Executor(Protocol):
    """Runs one function over many partitions."""

    description: str

    def map(self, step: str, function: Callable[..., R], tasks: Sequence[Any], progress: Progress,
            shared: Any = None) -> list[R]:
        """``function(task)`` (or ``function(task, shared)``) for every task, results in task order."""
        ...

    def close(self) -> None:
        """Release the executor's resources."""
        ...


def _eta(started: float, done: int, total: int) -> float | None:
    if done == 0:
        return None
    return (time.perf_counter() - started) / done * (total - done)


class InProcess:
    """Partitions one after the other in this process: memory is one partition's at a time."""

    description = "in this process"

    def map(self, step: str, function: Callable[..., R], tasks: Sequence[Any], progress: Progress,
            shared: Any = None) -> list[R]:
        started, results = time.perf_counter(), []
        for done, task in enumerate(tasks, start=1):
            results.append(function(task) if shared is None else function(task, shared))
            progress(step, done, len(tasks), _eta(started, done, len(tasks)))
        return results

    def close(self) -> None:
        return None


class OnDask:
    """Partitions as tasks on a Dask distributed cluster (``CRM_DASK_SCHEDULER=tcp://host:8786``)."""

    def __init__(self, address: str, connect_timeout: float = 30.0) -> None:
        from distributed import Client  # only deployments with a cluster (or local workers) load Dask

        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnavailable(f"the Dask scheduler at {address} does not answer ({exc}); start it, or unset "
                                     "CRM_DASK_SCHEDULER to refresh in this process") from exc
        self.description = f"on the Dask cluster at {address}"

    def map(self, step: str, function: Callable[..., R], tasks: Sequence[Any], progress: Progress,
            shared: Any = None) -> list[R]:
        from distributed import as_completed

        extra = {} if shared is None else {"shared": self.client.scatter(shared, broadcast=True)}
        started = time.perf_counter()
        futures = [self.client.submit(_call, function, task, pure=False, retries=TASK_RETRIES, **extra)
                   for task in tasks]
        try:
            for done, finished in enumerate(as_completed(futures, loop=self.client.loop), start=1):
                if finished.status == "error":
                    finished.result()  # raises the task's error after its retries
                progress(step, done, len(futures), _eta(started, done, len(futures)))
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.release()

    def close(self) -> None:
        self.client.close()


class OnLocalWorkers(OnDask):
    """Partitions on ``workers`` processes of this machine (``CRM_REFRESH_WORKERS``): a Dask LocalCluster,
    so the cores a single process leaves idle score partitions too."""

    def __init__(self, workers: int) -> None:
        from distributed import LocalCluster

        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=None, silence_logs=logging.WARNING)
        super().__init__(self.cluster.scheduler_address)
        self.description = f"on {workers} worker processes of this machine"

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.cluster.close()


def _call(function: Callable[..., R], task: Any, shared: Any = None) -> R:
    return function(task) if shared is None else function(task, shared)


def executor_for(scheduler: str | None, dialect: str, local_workers: int = 1) -> Executor:
    """Dask when a scheduler is configured, local worker processes when asked for, otherwise this process."""
    if not scheduler and local_workers <= 1:
        return InProcess()
    if dialect != "postgresql":
        setting = "CRM_DASK_SCHEDULER" if scheduler else "CRM_REFRESH_WORKERS"
        raise UserFacingError(f"{setting} needs the store on PostgreSQL: the workers read and write it over their "
                              "own connections, and SQLite takes one writer at a time; unset it or move the store")
    return OnDask(scheduler) if scheduler else OnLocalWorkers(local_workers)
