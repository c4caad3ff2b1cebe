"""Building and serving the shards of a sharded index on a Dask cluster (the extra ``searchkit[cluster]``).

Each shard is one Dask task (``shards.ShardJob.run``): it walks the whole
corpus and indexes the documents routed to its shard, straight into the
shard's directory on storage every worker shares. Its commit is atomic (see
indexer._commit), so a worker that dies mid-build leaves the shard as it
was; the scheduler then gives the task to another worker, which builds the
shard from where the last commit left it. Dask counts such a death against
the task (``distributed.scheduler.allowed-failures``, 3 by default) before
giving up on it.

Serving: ``SearchIndex.open(path, cluster=...)`` places one actor per shard
(a ``shard_service.ShardService``) on the workers, round robin, each opening
its shard from the shared path and keeping its searcher open; the
coordinator (shards.ShardedIndex) runs in the caller's process and calls
them, every shard of a phase at once (``ActorShards``).

Dask is imported here only, when shards are built or served by actors:
``import searchkit`` and a search of the shards in this process never load it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import indexer
from .errors import SearchkitError
from .models import IndexReport
from .shard_service import ShardService
from .shards import SHARD_FAULTS, ShardFailed, ShardJob, ShardProgress

LOCAL = "local"
"""The cluster address that starts a Dask cluster on this machine for the run."""


# A worker tells how far its shard is at most this often (seconds): each
# report is a message through the scheduler.
REPORT_EVERY = 0.5


def run_jobs(jobs: list[ShardJob], address: str,
             progress: ShardProgress | None = None) -> list[tuple[IndexReport, list[str]]]:
    """Run the shard jobs on the Dask cluster at address ('local': one started here); their outcomes.

    A task runs one shard on one process: Dask's worker processes may not
    start processes of their own, and segmenting (most of the work) holds
    the GIL, so workers should have one thread each and the shards should
    be at least as many as the workers' processes. ``progress`` hears each
    shard's bytes read, sent by its worker as a Dask event, and each shard
    finished, as its task completes.
    """
    single = [dataclasses.replace(job, options=_one_process(job.options)) for job in jobs]
    run = uuid.uuid4().hex[:8]  # a fresh key per run: Dask would reuse a finished task's result
    topic = f"searchkit-progress-{run}"
    with _client(address, len(jobs)) as client:
        from distributed import KilledWorker, as_completed
        if progress is not None:
            client.subscribe_topic(topic, lambda event: progress.report(*event[1]))
        futures = [client.submit(_run_reporting, job, topic if progress else None,
                                 key=f"searchkit-{job.name}-{run}", pure=False) for job in single]
        names = {future.key: job.name for future, job in zip(futures, jobs)}
        try:
            for future in as_completed(futures):
                _, _, last = future.result()  # a failed shard fails the run now, not after the others
                if progress is not None:  # its last figures, whether or not the events came first
                    progress.report(names[future.key], *last)
            return [(report, warnings) for report, warnings, _ in client.gather(futures)]
        except KilledWorker as exc:  # the shards built so far are kept: a new run finishes the rest
            raise SearchkitError(f"workers kept dying while building a shard ({exc}); "
                                 "the shards built so far are kept: run the same command again") from None
        finally:
            if progress is not None:
                client.unsubscribe_topic(topic)


def _run_reporting(job: ShardJob, topic: str | None) -> tuple[IndexReport, list[str], tuple[int, int]]:
    """job.run on a worker, telling topic (if any) how far it is: (shard, bytes done, bytes in all).

    Returns the job's outcome and its last (done, total) figures.
    """
    reporter = _WorkerReport(topic, job.name)
    report, warnings = job.run(reporter)
    return report, warnings, reporter.figures


class _WorkerReport:
    """A shard job's progress callback on a Dask worker: events to the client, one per REPORT_EVERY."""

    def __init__(self, topic: str | None, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        from distributed import get_worker
        self.worker = get_worker() if topic is not None else None
        self.topic, self.name, self.clock = topic, name, clock
        self.last = float("-inf")
        self.figures = (0, 0)  # a shard with nothing to read reports nothing

    def __call__(self, done: int, total: int) -> None:
        self.figures = (done, total)
        now = self.clock()
        if self.worker is not None and (now - self.last >= REPORT_EVERY or done >= total):
            self.last = now
            self.worker.log_event(self.topic, (self.name, done, total))


def _one_process(options: tuple) -> tuple:
    return tuple(sorted({**dict(options), "workers": 1}.items()))


@contextlib.contextmanager
def _client(address: str, shards: int) -> Iterator:
    """A Dask client of the cluster at address, or of a local cluster started (and stopped) for the run."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SearchkitError("building shards needs Dask: pip install 'searchkit[cluster]'") from None
    if address == LOCAL:
        workers = max(1, min(shards, indexer.default_workers()))
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SearchkitError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield client


SHARD_TIMEOUT = 30.0
"""Seconds a phase of a search waits for a shard's actor before the shard counts as unreachable.

A whole search takes milliseconds (20,000 poems in 2 shards served by
actors: 38 ms at p95 of natural queries); 30 s leaves room for a large
shard on a loaded worker, yet a hung worker (stopped, or its machine gone
without closing its connections) fails a search instead of holding it forever."""


class ActorShards:
    """Shards served by Dask actors: each call of a phase goes to every shard's actor at once.

    address: a scheduler address ('tcp://host:8786'), 'local' (a LocalCluster
    of worker processes started for the life of the index: one per shard,
    at most one per core) or a ``distributed.Client`` (not closed here).
    A worker that dies, cannot be reached or does not answer within
    ``timeout`` seconds makes its shard's call a fault naming the shard.
    """

    remote = True
    """A call costs a round trip (about 1-3 ms here): the partial fill is ranked within the ranking
    call, by the shards with fewer than FILL_BELOW documents with every word (4 round trips -> 3)."""

    def __init__(self, path: Path, address: Any, shards: int, timeout: float | None = None) -> None:
        self.path = Path(path).resolve()  # the workers may run in another directory
        self.timeout = SHARD_TIMEOUT if timeout is None else timeout
        self._run = uuid.uuid4().hex[:8]
        self._futures: dict[str, Any] = {}
        self._actors: dict[str, Any] = {}
        self._workers: dict[str, str] = {}
        self._lost: set[str] = set()  # shards whose worker was lost: placed again when next asked
        self._placed = 0
        self._closing = contextlib.ExitStack()
        try:
            self._client = self._closing.enter_context(_serving_client(address, shards))
            self._addresses = sorted(self._client.scheduler_info()["workers"])
        except BaseException:
            self._closing.close()
            raise
        if not self._addresses:
            self.close()
            raise SearchkitError(f"the Dask cluster at {address} has no workers to serve the shards")

    def open(self, name: str) -> None:
        """Place shard name's actor on the next worker (round robin) and wait for it to open the shard.

        The worker named is a preference: gone meanwhile, another takes the shard.
        """
        worker = self._addresses[len(self._workers) % len(self._addresses)]
        self._place(name, worker)

    def _place(self, name: str, worker: str) -> None:
        self._placed += 1
        future = self._client.submit(ShardService, str(self.path / name), actor=True, workers=[worker],
                                     allow_other_workers=True,
                                     key=f"searchkit-serve-{name}-{self._run}-{self._placed}")
        self._futures[name] = future
        self._workers[name] = worker
        try:
            self._actors[name] = future.result(timeout=self.timeout)
        except TimeoutError:
            raise OSError(f"its actor was not placed on {worker} within {self.timeout:g} s") from None
        except SHARD_FAULTS:  # the shard's own (not found, damaged), raised on the worker
            raise
        except Exception as exc:  # Dask's: the task of the actor was lost or cancelled
            raise OSError(f"its actor could not be placed on {worker} ({_said(exc)})") from None
        self._workers[name] = next(iter(self._client.who_has(future).get(future.key, ())), worker)
        self._lost.discard(name)

    def ask(self, method: str, calls: dict[str, tuple]) -> dict[str, Any]:
        """method(*args) of each named shard's actor, all sent before any is awaited.

        The first shard whose worker is gone, or that does not answer by the
        deadline, is a ShardFailed naming it. A shard whose worker was lost
        is placed anew on the next call that needs it (a restarted worker
        serves it again).
        """
        for name in calls:
            if name in self._lost:
                try:
                    self._place(name, self._workers[name])
                except SHARD_FAULTS as exc:
                    raise ShardFailed(name, exc) from None
        pending = {}
        for name, args in calls.items():
            try:
                payload = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
                pending[name] = self._actors[name].call(method, payload)
            except RuntimeError as exc:  # Dask knows the worker holding the actor is lost
                self._lost.add(name)
                raise ShardFailed(name, OSError(f"its worker {self._workers[name]} is gone ({exc})")) from None
        deadline = time.monotonic() + self.timeout
        found = {}
        for name, future in pending.items():
            worker = self._workers[name]
            try:
                found[name] = pickle.loads(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except TimeoutError:
                self._lost.add(name)
                raise ShardFailed(name, OSError(f"its worker {worker} did not answer within "
                                                f"{self.timeout:g} s")) from None
            except SHARD_FAULTS as exc:
                if type(exc) is OSError or _is_comm(exc):  # Dask's, not the shard's own
                    self._lost.add(name)
                    exc = OSError(f"its worker {worker} is gone ({_said(exc)})")
                raise ShardFailed(name, exc) from None
        return found

    def placement(self) -> dict[str, str]:
        """The address of the worker serving each shard."""
        return dict(self._workers)

    def drop(self, name: str) -> None:
        """Release shard name's actor."""
        actor = self._actors.pop(name, None)
        reachable = name not in self._lost
        self._workers.pop(name, None)
        self._lost.discard(name)
        future = self._futures.pop(name, None)
        if actor is not None and reachable:
            with contextlib.suppress(Exception):  # closing is a courtesy: releasing the actor is what counts
                actor.call("close", pickle.dumps(())).result(timeout=self.timeout)
        if future is not None:
            with contextlib.suppress(Exception):
                future.release()

    def close(self) -> None:
        """Close and release every actor, and the client or cluster started here."""
        for name in list(self._futures):
            self.drop(name)
        self._closing.close()


def _said(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _is_comm(exc: BaseException) -> bool:
    """Whether exc is Dask's failure to talk to a worker (not an error the shard itself raised)."""
    from distributed.comm.core import CommClosedError
    return isinstance(exc, CommClosedError)


@contextlib.contextmanager
def _serving_client(address: Any, shards: int) -> Iterator:
    """A Dask client for serving shards: of address, of a LocalCluster started here, or the client given."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise SearchkitError("serving shards on a cluster needs Dask: "
                             "pip install 'searchkit[cluster]'") from None
    if isinstance(address, Client):
        yield address
        return
    with _client(str(address), shards) as client:
        yield client
