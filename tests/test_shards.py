"""Sharded indexes (searchkit.shards): built in this process, they answer exactly as one index."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from searchkit import SearchIndex, SearchkitError, indexer
from searchkit.errors import IndexMismatchError, ShardUnavailableError
from searchkit.shards import LAYOUT, ShardedIndex, shard_of

from shard_corpus import queries, write_corpus

SHARD_COUNTS = (2, 3, 5)
QUERIES = queries(200)


def answer(index, query: str, options: dict) -> dict:
    """What a user sees of one search, scores as floats (an error's message instead)."""
    try:
        results = index.search(query, **options)
    except SearchkitError as exc:
        return {"error": str(exc)}
    return {
        "total": results.total, "exact": results.total_exact,
        "partial": results.partial, "undated": results.undated_excluded,
        "complete": results.complete, "facets": results.facets,
        "hits": [(hit.id, hit.score, hit.snippet, hit.highlights, hit.date, hit.source)
                 for hit in results.hits],
    }


def assert_same_answers(one, sharded, cases, expected_answers: list[dict] | None = None) -> None:
    """sharded gives one's hits, in one's order, with one's scores (to float precision)."""
    if expected_answers is None:
        expected_answers = [answer(one, query, options) for query, options in cases]
    for (query, options), expected in zip(cases, expected_answers):
        got = answer(sharded, query, options)
        context = f"{query!r} {options}"
        assert got.keys() == expected.keys(), context
        if "error" in expected:
            assert got == expected, context
            continue
        assert [h[0] for h in got["hits"]] == [h[0] for h in expected["hits"]], context
        for mine, theirs in zip(got["hits"], expected["hits"]):
            assert math.isclose(mine[1], theirs[1], rel_tol=1e-9), context
            assert mine[2:] == theirs[2:], context
        assert (got["partial"], got["undated"]) == (expected["partial"], expected["undated"]), context
        assert (got["complete"], got["facets"]) == (expected["complete"], expected["facets"]), context
        if got["exact"] and expected["exact"]:
            assert got["total"] == expected["total"], context
        else:  # an estimate ("at least that many") on either side, never above the other's count
            assert min(got["total"], expected["total"]) >= len(expected["hits"]), context


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The generated corpus as one index and as 2, 3 and 5 shards."""
    root = tmp_path_factory.mktemp("shards")
    corpus = write_corpus(root / "corpus", documents=800)
    SearchIndex.build(root / "one", [corpus], workers=1)
    for count in SHARD_COUNTS:
        SearchIndex.build(root / f"shards-{count}", [corpus], shards=count, workers=1)
    return root


@pytest.fixture(scope="module")
def with_passages(tmp_path_factory):
    """A smaller corpus as one index and as 3 shards, its long documents indexed as passages."""
    root = tmp_path_factory.mktemp("passages")
    corpus = write_corpus(root / "corpus", documents=400, seed=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexer, "PASSAGE_CHARS", 300)
        SearchIndex.build(root / "one", [corpus], workers=1)
        SearchIndex.build(root / "shards-3", [corpus], shards=3, workers=1)
    return root


@pytest.fixture(scope="module")
def one_answers(built) -> list[dict]:
    """The one index's answers to QUERIES, computed once for every comparison."""
    with SearchIndex.open(built / "one") as one:
        return [answer(one, query, options) for query, options in QUERIES]


def test_the_generated_queries_reach_every_path_of_ranking(built):
    """The comparison is worth something: ranked by bounds, partial matches, dates and pages occur."""
    with SearchIndex.open(built / "one") as one:
        seen = [one.search(query, **options) for query, options in QUERIES]
    assert sum(not r.total_exact for r in seen) >= 5  # ranked by bounds (ranking.best_bounded)
    assert sum(r.partial for r in seen) >= 5
    assert sum(r.undated_excluded > 0 for r in seen) >= 5
    assert sum(len(r.hits) >= 5 for r in seen) >= 60


@pytest.mark.parametrize("count", SHARD_COUNTS)
def test_shards_answer_exactly_as_one_index(built, one_answers, count):
    with SearchIndex.open(built / "one") as one, SearchIndex.open(built / f"shards-{count}") as sharded:
        assert isinstance(sharded, ShardedIndex)
        assert sharded.document_count() == one.document_count()
        assert sharded.sources() == one.sources()
        assert_same_answers(one, sharded, QUERIES, one_answers)


def test_shards_with_passages_answer_exactly_as_one_index(with_passages):
    with SearchIndex.open(with_passages / "one") as one, \
            SearchIndex.open(with_passages / "shards-3") as sharded:
        assert one._tie_break().tails  # some documents are passages
        assert_same_answers(one, sharded, QUERIES[:80])
        long = next(d for d in (one.document(f"doc-{n:05d}") for n in range(400)) if len(d.text) > 600)
        assert sharded.document(long.id) == long  # its passages joined back, from one shard


def test_documents_are_spread_over_the_shards_by_id(built):
    with SearchIndex.open(built / "shards-5") as sharded, SearchIndex.open(built / "one") as one:
        stats = sharded.stats()
        assert [s["name"] for s in stats.shards] == [f"shard-00{n}" for n in range(5)]
        assert all(100 < s["documents"] < 220 for s in stats.shards)  # 800 documents
        assert stats.documents == one.document_count()
        assert (stats.earliest, stats.latest, stats.undated) == \
            (one.stats().earliest, one.stats().latest, one.stats().undated)
        for doc_id in ("doc-00000", "doc-00007", "doc-00799"):
            assert sharded.document(doc_id) == one.document(doc_id)
            with SearchIndex.open(built / "shards-5" / f"shard-00{shard_of(doc_id, 5)}") as holder:
                assert holder.document(doc_id).id == doc_id
        with pytest.raises(KeyError):
            sharded.document("doc-99999")


def test_an_update_sends_changed_documents_to_their_shards(built, tmp_path):
    """Changed, added and removed documents: statistics with deletions still sum to one index's."""
    corpus = tmp_path / "corpus"
    shutil.copytree(built / "corpus", corpus)
    shutil.copytree(built / "one", tmp_path / "one")
    shutil.copytree(built / "shards-3", tmp_path / "sharded")
    lines = (corpus / "part-0.jsonl").read_text(encoding="utf-8").splitlines()
    for number in range(0, len(lines), 7):
        record = json.loads(lines[number])
        record["text"] += "韶关民政发展报告。"
        lines[number] = json.dumps(record, ensure_ascii=False)
    (corpus / "part-0.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (corpus / "part-1.jsonl").unlink()
    single = SearchIndex.build(tmp_path / "one", [corpus], workers=1)
    sharded_report = SearchIndex.build(tmp_path / "sharded", [corpus], workers=1)
    assert (sharded_report.added, sharded_report.updated, sharded_report.removed) == \
        (single.added, single.updated, single.removed)
    with SearchIndex.open(tmp_path / "one") as one, SearchIndex.open(tmp_path / "sharded") as sharded:
        assert_same_answers(one, sharded, QUERIES[:60])


def test_routing_is_stable_across_processes_and_versions():
    """Indexes on disk depend on it: a changed hash would look for documents in the wrong shards."""
    assert [shard_of(f"doc-{n}", 5) for n in range(10)] == [3, 4, 3, 1, 2, 2, 2, 4, 3, 0]
    assert shard_of("韶关", 7) == 6


def test_a_shard_of_another_analyzer_configuration_is_refused(built, tmp_path):
    shutil.copytree(built / "shards-2", tmp_path / "sharded")
    layout = json.loads((tmp_path / "sharded" / LAYOUT).read_text(encoding="utf-8"))
    layout["config"]["segmenter"] = "jieba 0.0"
    (tmp_path / "sharded" / LAYOUT).write_text(json.dumps(layout), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="shard shard-000 .* another analyzer configuration"):
        SearchIndex.open(tmp_path / "sharded")


def test_a_sharded_index_keeps_its_shard_count(built, tmp_path):
    shutil.copytree(built / "shards-2", tmp_path / "sharded")
    with pytest.raises(SearchkitError, match="has 2 shards, not 3"):
        SearchIndex.build(tmp_path / "sharded", [built / "corpus"], shards=3)
    with pytest.raises(SearchkitError, match="not sharded"):
        SearchIndex.build(built / "one", [built / "corpus"], shards=3)


def test_a_missing_shard_is_an_error_naming_it_or_a_partial_answer(built, tmp_path):
    shutil.copytree(built / "shards-3", tmp_path / "sharded")
    with SearchIndex.open(tmp_path / "sharded") as whole:
        everything = whole.search("发展 城市", limit=50)
    shutil.rmtree(tmp_path / "sharded" / "shard-001")
    with pytest.raises(ShardUnavailableError, match="shard shard-001 of .* --allow-partial"):
        SearchIndex.open(tmp_path / "sharded")
    with SearchIndex.open(tmp_path / "sharded", allow_partial=True) as partial:
        results = partial.search("发展 城市", limit=50)
    assert results.partial_shards == ["shard-001"]
    assert results.to_json()["partial_shards"] == ["shard-001"]
    kept = {hit.id for hit in everything.hits if shard_of(hit.id, 3) != 1}
    assert {hit.id for hit in results.hits} >= kept
    assert all(shard_of(hit.id, 3) != 1 for hit in results.hits)


def test_a_shard_lost_while_open_is_named_when_searched(built, tmp_path):
    shutil.copytree(built / "shards-3", tmp_path / "sharded")
    strict = SearchIndex.open(tmp_path / "sharded")
    lenient = SearchIndex.open(tmp_path / "sharded", allow_partial=True)
    strict.search("发展"), lenient.search("发展")
    shutil.rmtree(tmp_path / "sharded" / "shard-002")
    with pytest.raises(ShardUnavailableError, match="shard shard-002"):
        strict.search("城市")
    assert lenient.search("城市").partial_shards == ["shard-002"]
    strict.close(), lenient.close()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchkit", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})


def test_the_command_line_searches_a_sharded_index_unchanged(built, tmp_path):
    one = run_cli("search", "--index", str(built / "one"), "--json", "城市", "发展", "--sort", "date")
    sharded = run_cli("search", "--index", str(built / "shards-3"), "--json", "城市", "发展", "--sort", "date")
    assert sharded.returncode == 0, sharded.stderr
    assert json.loads(sharded.stdout) == json.loads(one.stdout)  # the overview included
    stats = run_cli("stats", "--index", str(built / "shards-3"), "--json")
    assert [s["name"] for s in json.loads(stats.stdout)["shards"]] == ["shard-000", "shard-001", "shard-002"]
    text = run_cli("stats", "--index", str(built / "shards-3")).stdout
    assert "shards:     3" in text


def test_the_command_line_names_a_missing_shard(built, tmp_path):
    shutil.copytree(built / "shards-3", tmp_path / "sharded")
    shutil.rmtree(tmp_path / "sharded" / "shard-000")
    failed = run_cli("search", "--index", str(tmp_path / "sharded"), "城市")
    assert failed.returncode == 1
    assert failed.stderr.startswith("searchkit: error: shard shard-000 of ")
    assert "Traceback" not in failed.stderr
    partial = run_cli("search", "--index", str(tmp_path / "sharded"), "--json", "--allow-partial", "城市")
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["partial_shards"] == ["shard-000"]


def test_duplicates_over_shards_are_one_index_clusters(tmp_path, seeds_dir):
    """searchkit duplicates lists the same clusters on 1 index and on 2, 3 shards (copies across shards)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(seeds_dir, corpus)
    for name in ("000", "002"):  # reprints under other names: their ids route to other shards
        source = next(corpus.glob(f"{name}_*.txt"))
        for copy in range(3):
            (corpus / f"reprint-{copy}-{source.name}").write_bytes(source.read_bytes())
    SearchIndex.build(tmp_path / "one", [corpus], workers=1)
    with SearchIndex.open(tmp_path / "one") as one:
        expected = [cluster.to_json() for cluster in one.duplicates()]
    assert len(expected) == 2 and sum(len(cluster["documents"]) for cluster in expected) == 9
    for count in (2, 3):
        SearchIndex.build(tmp_path / f"shards-{count}", [corpus], shards=count, workers=1)
        with SearchIndex.open(tmp_path / f"shards-{count}") as sharded:
            spread = {shard_of(document["id"], count) for cluster in expected for document in cluster["documents"]}
            assert len(spread) == count
            assert [cluster.to_json() for cluster in sharded.duplicates()] == expected
    listed = subprocess.run([sys.executable, "-m", "searchkit", "duplicates", "--index",
                             str(tmp_path / "shards-3"), "--json"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["clusters"] == expected
