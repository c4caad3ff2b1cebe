"""Shards served by Dask actors (searchkit.cluster.ActorShards): the same answers as one index, and
a shard whose worker stops during a search is named, or left out with allow_partial, never hidden."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys

import pytest

distributed = pytest.importorskip("dask.distributed")

import dask  # noqa: E402

from searchkit import SearchIndex, shards  # noqa: E402
from searchkit.errors import SearchkitError, ShardUnavailableError  # noqa: E402
from searchkit.internals.queries import MissingStatisticError, StatisticsTable  # noqa: E402
from searchkit.shard_service import Search, ShardService  # noqa: E402

from shard_corpus import queries, write_corpus  # noqa: E402
from test_shards import answer, assert_same_answers  # noqa: E402


def _cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")


@pytest.fixture(scope="module")
def cluster():
    """A local Dask cluster of two worker processes, for the answers that need no worker stopped."""
    with _cluster() as local:
        yield local


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The generated corpus as one index and as 3 shards."""
    root = tmp_path_factory.mktemp("serving")
    corpus = write_corpus(root / "corpus", documents=600, seed=23)
    SearchIndex.build(root / "one", [corpus], workers=1)
    SearchIndex.build(root / "shards-3", [corpus], shards=3, workers=1)
    return root


def test_actor_served_shards_answer_exactly_as_one_index(cluster, built):
    with SearchIndex.open(built / "one") as one, \
            SearchIndex.open(built / "shards-3", cluster=cluster.scheduler_address) as served:
        placement = served.placement()
        assert sorted(placement) == ["shard-000", "shard-001", "shard-002"]
        assert set(placement.values()) == set(cluster.scheduler_info["workers"])  # spread over both
        assert_same_answers(one, served, queries(160, seed=31))  # filters, date order, pages
        assert served.document_count() == one.document_count()
        assert served.sources() == one.sources()
        assert served.document("doc-00042") == one.document("doc-00042")
        with pytest.raises(KeyError):
            served.document("doc-99999")
        assert [s["worker"] for s in served.stats().shards] == [placement[f"shard-00{n}"] for n in range(3)]


@pytest.mark.parametrize("count", [2, 5])
def test_two_or_five_actor_served_shards_answer_as_one_index(cluster, built, count):
    """Also with fewer and more shards than workers."""
    SearchIndex.build(built / f"shards-{count}", [built / "corpus"], shards=count, workers=1)
    cases = queries(80, seed=37 + count)
    with SearchIndex.open(built / "one") as one, \
            SearchIndex.open(built / f"shards-{count}", cluster=cluster.scheduler_address) as served:
        assert len(served.placement()) == count
        assert_same_answers(one, served, cases)


def test_a_client_given_is_used_and_left_open(cluster, built):
    with distributed.Client(cluster) as client:
        with SearchIndex.open(built / "shards-3", cluster=client) as served:
            assert served.search("城市").total > 0
        assert client.status == "running"
        assert client.submit(sum, [1, 2]).result() == 3


def _pid_of_worker(local, index, shard: str) -> int:
    """The process id of the Dask worker of cluster local serving shard of the actor-served index."""
    address = index.placement()[shard]
    with distributed.Client(local, set_as_default=False) as client:
        return client.run(os.getpid, workers=[address])[address]


def _stop_worker_after_statistics(monkeypatch, pid: int, stopped: list) -> None:
    """Kill the worker process pid in the search's next pause between its statistics and ranking phases."""
    def stop(index, names):
        if not stopped:
            os.kill(pid, signal.SIGKILL)
            stopped.append(pid)
    monkeypatch.setattr(shards, "after_statistics", stop)


def test_a_shard_whose_worker_stops_during_a_search_is_named(built, monkeypatch):
    with _cluster() as local, SearchIndex.open(built / "shards-3", cluster=local.scheduler_address) as served:
        served.search("城市")  # every actor has answered once: the worker is stopped mid-search, not before
        stopped: list[int] = []
        _stop_worker_after_statistics(monkeypatch, _pid_of_worker(local, served, "shard-001"), stopped)
        # A connection to the killed worker is retried for Dask's connect timeout, 30 s by
        # default like the shards' own: shorter here, the failed connection is what ends the wait.
        with dask.config.set({"distributed.comm.timeouts.connect": "5s"}), \
                pytest.raises(ShardUnavailableError, match=r"shard shard-001 of .* is gone") as raised:
            served.search("城市 发展")
        assert stopped and raised.value.shard.startswith("shard-001 of ")


def test_with_allow_partial_the_other_shards_answer_and_the_stopped_one_is_named(built, tmp_path,
                                                                              monkeypatch):
    # What one index of the other shards' documents answers: the shards in this process, shard-001 gone.
    shutil.copytree(built / "shards-3", tmp_path / "without")
    shutil.rmtree(tmp_path / "without" / "shard-001")
    cases = [("城市 发展", {"limit": 50}), ("韶关", {"sort": "date", "limit": 20}), ("发展", {"offset": 10})]
    with SearchIndex.open(tmp_path / "without", allow_partial=True) as rest:
        expected = [answer(rest, query, options) for query, options in cases]
    with _cluster() as local, SearchIndex.open(built / "shards-3", cluster=local.scheduler_address,
                                               allow_partial=True) as served:
        served.search("城市")
        stopped: list[int] = []
        _stop_worker_after_statistics(monkeypatch, _pid_of_worker(local, served, "shard-001"), stopped)
        query, options = cases[0]
        results = served.search(query, **options)
        assert stopped
        assert results.partial_shards == ["shard-001"]
        assert results.to_json()["partial_shards"] == ["shard-001"]
        assert all(shards.shard_of(hit.id, 3) != 1 for hit in results.hits)
        assert_same_answers(None, served, cases, expected)
        assert served.search("城市").partial_shards == ["shard-001"]  # left out for the index's life


def test_a_shard_whose_worker_hangs_fails_the_search_at_the_timeout(built, monkeypatch):
    """A stopped (not killed) worker keeps its connections open: the wait is bounded, the shard named."""
    from searchkit import cluster as dask_cluster
    monkeypatch.setattr(dask_cluster, "SHARD_TIMEOUT", 3.0)
    with _cluster() as local, SearchIndex.open(built / "shards-3", cluster=local.scheduler_address) as served:
        served.search("城市")
        pid = _pid_of_worker(local, served, "shard-001")
        assert list(served.placement().values()).count(served.placement()["shard-001"]) == 1  # alone there
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(ShardUnavailableError, match=r"shard shard-001 of .* did not answer within 3 s"):
                served.search("城市 发展")
        finally:
            os.kill(pid, signal.SIGCONT)


def test_every_figure_a_shard_reads_was_gathered(built):
    """The statistics phase names every term ranking reads: a table without one is refused loudly."""
    service = ShardService(str(built / "shards-3" / "shard-000"))
    with SearchIndex.open(built / "one") as one:
        compiled = one._compile(shards.q.parse("城市 发展 \"数据中心\""))
    search = Search(compiled, [], top=10)
    figures = service.figures(search)
    ranked = service.rank(search, figures.statistics)
    assert ranked.total > 0
    pickle.loads(pickle.dumps(search)), pickle.loads(pickle.dumps(ranked))  # what actors send and return
    lacking = StatisticsTable(figures.statistics.count, figures.statistics.lengths, {})
    with pytest.raises(MissingStatisticError, match="was not gathered"):
        service.rank(search, lacking)
    service.close()


def test_a_plain_index_is_not_served_on_a_cluster(built):
    with pytest.raises(SearchkitError, match="only a sharded index is served on a cluster"):
        SearchIndex.open(built / "one", cluster="local")


def test_the_command_line_searches_actor_served_shards(cluster, built):
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    one = subprocess.run([sys.executable, "-m", "searchkit", "search", "--index", str(built / "one"),
                          "--json", "城市", "发展"], capture_output=True, text=True, env=env)
    served = subprocess.run([sys.executable, "-m", "searchkit", "search", "--index", str(built / "shards-3"),
                             "--cluster", cluster.scheduler_address, "--json", "城市", "发展"],
                            capture_output=True, text=True, env=env)
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout) == json.loads(one.stdout)
    refused = subprocess.run([sys.executable, "-m", "searchkit", "search", "--index", str(built / "one"),
                              "--cluster", cluster.scheduler_address, "城市"], capture_output=True, text=True,
                             env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("searchkit: error: only a sharded index is served on a cluster")
    assert "Traceback" not in refused.stderr


def test_actor_served_shards_fold_copies_and_list_duplicates_as_one_index(cluster, tmp_path):
    from test_shards_fold import assert_same_folding, folded_answer
    corpus = write_corpus(tmp_path / "corpus", documents=400, copies=0.3, seed=29)
    SearchIndex.build(tmp_path / "one", [corpus], workers=1)
    SearchIndex.build(tmp_path / "shards-3", [corpus], shards=3, workers=1)
    cases = queries(60, seed=37)
    with SearchIndex.open(tmp_path / "one") as one, \
            SearchIndex.open(tmp_path / "shards-3", cluster=cluster.scheduler_address) as served:
        expected = [folded_answer(one, query, options) for query, options in cases]
        assert sum(bool(a.get("folded")) for a in expected) >= 5  # copies are folded
        assert_same_folding(one, served, cases, expected)
        assert served.duplicates() == one.duplicates()
