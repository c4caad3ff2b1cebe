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
import uuid
from collections.abc import Iterator

from . import indexer
from .errors import SearchkitError
from .models import IndexReport
from .shards import ShardJob

LOCAL = "local"
"""The cluster address that starts a Dask cluster on this machine for the run."""


def run_jobs(jobs: list[ShardJob], address: str) -> list[tuple[IndexReport, list[str]]]:
    """Run the shard jobs on the Dask cluster at address ('local': one started here); their outcomes.

    A task runs one shard on one process: Dask's worker processes may not
    start processes of their own, and segmenting (most of the work) holds
    the GIL, so workers should have one thread each and the shards should
    be at least as many as the workers' processes.
    """
    single = [dataclasses.replace(job, options=_one_process(job.options)) for job in jobs]
    run = uuid.uuid4().hex[:8]  # a fresh key per run: Dask would reuse a finished task's result
    with _client(address, len(jobs)) as client:
        from distributed import KilledWorker
        futures = [client.submit(ShardJob.run, job, key=f"searchkit-shard-{job.shard:03d}-{run}",
                                 pure=False) for job in single]
        try:
            return client.gather(futures)
        except KilledWorker as exc:  # the shards built so far are kept: a new run finishes the rest
            raise SearchkitError(f"workers kept dying while building a shard ({exc}); "
                                 "the shards built so far are kept: run the same command again") from None


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
