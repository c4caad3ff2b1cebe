"""Building the shards of a sharded index on a Dask cluster (the extra ``searchkit[cluster]``).

Each shard is one Dask task (``shards.ShardJob.run``): it walks the whole
corpus and indexes the documents routed to its shard, straight into the
shard's directory on storage every worker shares. Its commit is atomic (see
indexer._commit), so a worker that dies mid-build leaves the shard as it
was; the scheduler then gives the task to another worker, which builds the
shard from where the last commit left it. Dask counts such a death against
the task (``distributed.scheduler.allowed-failures``, 3 by default) before
giving up on it.

Dask is imported here only, when shards are built: ``import searchkit`` and
a search never load it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator

from . import indexer
from .errors import SearchkitError
from .models import IndexReport
from .shards import ShardJob, ShardProgress

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
