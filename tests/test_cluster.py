"""Shards built on a Dask cluster of worker processes (searchkit.cluster): the same index, and
a worker killed mid-build loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

distributed = pytest.importorskip("dask.distributed")

from searchkit import SearchIndex  # noqa: E402

from shard_corpus import queries, write_corpus  # noqa: E402
from test_shards import assert_same_answers  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A local Dask cluster of two worker processes, for the whole module."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        yield local


@pytest.fixture(scope="module")
def corpus_and_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    corpus = write_corpus(root / "corpus", documents=500, seed=11)
    SearchIndex.build(root / "one", [corpus], workers=1)
    return corpus, root / "one"


@pytest.mark.parametrize("count", [2, 3, 5])
def test_shards_built_on_the_cluster_answer_as_one_index(cluster, corpus_and_index, tmp_path, count):
    corpus, one_dir = corpus_and_index
    report = SearchIndex.build(tmp_path / "sharded", [corpus], shards=count, cluster=cluster.scheduler_address)
    assert report.added == 500
    with SearchIndex.open(one_dir) as one, SearchIndex.open(tmp_path / "sharded") as sharded:
        assert_same_answers(one, sharded, queries(60, seed=8))


def _die_while_indexing(marks: str) -> None:
    """Make this worker process kill itself at its first unit indexed (nothing committed yet)."""
    import signal

    from searchkit import indexer

    def hold_point(step: str, detail: str = "") -> None:
        if step == "indexing":
            with open(os.path.join(marks, f"killed-{os.getpid()}"), "w"):
                pass
            os.kill(os.getpid(), signal.SIGKILL)
    indexer.hold_point = hold_point


def test_a_worker_killed_mid_build_loses_nothing(cluster, corpus_and_index, tmp_path):
    """Both workers die in the middle of their first shard; the restarted ones build every shard."""
    corpus, one_dir = corpus_and_index
    marks = tmp_path / "marks"
    marks.mkdir()
    with distributed.Client(cluster) as client:
        client.run(_die_while_indexing, str(marks))  # the nanny restarts a dead worker unpatched
    report = SearchIndex.build(tmp_path / "sharded", [corpus], shards=2, cluster=cluster.scheduler_address)
    assert len(list(marks.iterdir())) >= 1  # at least one worker really died mid-shard
    assert report.added == 500
    with SearchIndex.open(one_dir) as one, SearchIndex.open(tmp_path / "sharded") as sharded:
        assert sharded.document_count() == 500
        assert_same_answers(one, sharded, queries(40, seed=9))


def test_the_command_line_builds_shards_on_a_named_cluster(cluster, corpus_and_index, tmp_path):
    corpus, one_dir = corpus_and_index
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    built = subprocess.run([sys.executable, "-m", "searchkit", "index", str(corpus), "--index",
                            str(tmp_path / "sharded"), "--shards", "2", "--cluster", cluster.scheduler_address],
                           capture_output=True, text=True, env=env)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("500 added")
    found = subprocess.run([sys.executable, "-m", "searchkit", "search", "--index", str(tmp_path / "sharded"),
                            "--json", "城市"], capture_output=True, text=True, env=env)
    with SearchIndex.open(one_dir) as one:
        assert json.loads(found.stdout)["total"] == one.search("城市").total
