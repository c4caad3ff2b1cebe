"""Folding copies on a sharded index: the leaders, copies and counts of one index of the same documents.

The generated corpus reprints some documents under other ids, so a copy
usually sits in another shard than the hit it is folded under.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from searchkit import SearchIndex, SearchkitError, indexer
from searchkit.shards import shard_of

from shard_corpus import queries, write_corpus

SHARD_COUNTS = (2, 3, 5)
QUERIES = queries(250, seed=11)


def hit_fields(hit) -> tuple:
    """Everything a user sees of a hit and of the copies folded under it (None: a copy itself)."""
    return (hit.id, hit.score, hit.title, hit.source, hit.date, hit.path, hit.url, hit.snippet,
            hit.highlights, None if hit.duplicates is None else [hit_fields(copy) for copy in hit.duplicates])


def folded_answer(index, query: str, options: dict) -> dict:
    """One folded search as a user sees it (an error's message instead)."""
    try:
        results = index.search(query, fold=True, **options)
    except SearchkitError as exc:
        return {"error": str(exc)}
    return {"total": results.total, "exact": results.total_exact, "partial": results.partial,
            "complete": results.complete, "folded": results.folded,
            "hits": [hit_fields(hit) for hit in results.hits]}


def assert_same_hits(got: list[tuple], expected: list[tuple], context: str) -> None:
    """The same hits in the same order, scores equal to float precision, copies alike."""
    assert [hit[0] for hit in got] == [hit[0] for hit in expected], context
    for mine, theirs in zip(got, expected):
        assert math.isclose(mine[1], theirs[1], rel_tol=1e-9), context
        assert mine[2:-1] == theirs[2:-1], context
        assert (mine[-1] is None) == (theirs[-1] is None), context
        if mine[-1] is not None:
            assert_same_hits(mine[-1], theirs[-1], f"{context}, copies of {mine[0]}")


def assert_same_folding(one, sharded, cases, expected_answers: list[dict]) -> None:
    """sharded folds each case as one did: leaders, copies, folded count and totals."""
    for (query, options), expected in zip(cases, expected_answers):
        got = folded_answer(sharded, query, options)
        context = f"{query!r} {options}"
        if "error" in expected:
            assert got == expected, context
            continue
        assert_same_hits(got["hits"], expected["hits"], context)
        assert got["folded"] == expected["folded"], context
        assert (got["partial"], got["complete"]) == (expected["partial"], expected["complete"]), context
        if got["exact"] and expected["exact"]:
            assert got["total"] == expected["total"], context


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A corpus with reprints, as one index and as 2, 3 and 5 shards."""
    root = tmp_path_factory.mktemp("shards-fold")
    corpus = write_corpus(root / "corpus", documents=600, copies=0.3)
    SearchIndex.build(root / "one", [corpus], workers=1)
    for count in SHARD_COUNTS:
        SearchIndex.build(root / f"shards-{count}", [corpus], shards=count, workers=1)
    return root


@pytest.fixture(scope="module")
def one_answers(built) -> list[dict]:
    """The one index's folded answers to QUERIES, computed once for every comparison."""
    with SearchIndex.open(built / "one") as one:
        return [folded_answer(one, query, options) for query, options in QUERIES]


@pytest.mark.parametrize("count", SHARD_COUNTS)
def test_shards_fold_copies_exactly_as_one_index(built, one_answers, count):
    with SearchIndex.open(built / "one") as one, SearchIndex.open(built / f"shards-{count}") as sharded:
        assert sharded.document_count() == one.document_count()
        assert_same_folding(one, sharded, QUERIES, one_answers)


@pytest.mark.parametrize("count", SHARD_COUNTS)
def test_the_comparison_folds_copies_held_by_other_shards(one_answers, count):
    """The comparison is worth something: copies in another shard than their leader are folded,
    pages short of leaders are refilled, and date sorting, offsets and filters fold too."""
    answered = [(options, a) for (_, options), a in zip(QUERIES, one_answers) if "error" not in a]
    across = sum(shard_of(copy[0], count) != shard_of(hit[0], count)
                 for _, a in answered for hit in a["hits"] for copy in hit[-1])
    assert across >= 30
    refilled = [options for options, a in answered
                if a["folded"] and len(a["hits"]) + a["folded"] > options["limit"]]
    assert len(refilled) >= 10
    assert any(options.get("sort") == "date" for options in refilled)
    assert any(options.get("offset") for options in refilled)
    folding = [options for options, a in answered if a["folded"]]
    assert any("sources" in options or "since" in options for options in folding)
    assert any(a["partial"] or a["complete"] is not None for _, a in answered if a["folded"])


def test_unfolded_search_keeps_every_copy_in_place(built):
    with SearchIndex.open(built / "one") as one, SearchIndex.open(built / "shards-3") as sharded:
        for query, options in QUERIES[:40]:
            try:
                expected = one.search(query, **options)
            except SearchkitError:
                continue
            got = sharded.search(query, **options)
            assert [h.id for h in got.hits] == [h.id for h in expected.hits]
            assert got.folded is None and all(h.duplicates is None for h in got.hits)


def test_shards_with_passages_fold_as_one_index(tmp_path_factory):
    """Long documents indexed as passages: a hit is its best passage, folded by that passage's text."""
    root = tmp_path_factory.mktemp("shards-fold-passages")
    corpus = write_corpus(root / "corpus", documents=300, seed=3, copies=0.3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexer, "PASSAGE_CHARS", 300)
        SearchIndex.build(root / "one", [corpus], workers=1)
        SearchIndex.build(root / "shards-3", [corpus], shards=3, workers=1)
    cases = QUERIES[:80]
    with SearchIndex.open(root / "one") as one, SearchIndex.open(root / "shards-3") as sharded:
        assert one._tie_break().tails  # some documents are passages
        expected = [folded_answer(one, query, options) for query, options in cases]
        assert sum(a.get("folded") or 0 for a in expected) >= 10
        assert_same_folding(one, sharded, cases, expected)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchkit", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})


def test_the_command_line_folds_a_sharded_index_as_one_index(built, one_answers):
    query, options = next((q, o) for (q, o), a in zip(QUERIES, one_answers)
                          if a.get("folded") and o.get("offset", 0) % o["limit"] == 0
                          and not o.get("sources") and " " not in q and ":" not in q)
    extra = ["--limit", str(options["limit"]), "--page", str(options.get("offset", 0) // options["limit"] + 1),
             "--sort", options.get("sort", "relevance")]
    if "since" in options:
        extra += ["--since", options["since"], "--until", options["until"]]
    one = run_cli("search", "--index", str(built / "one"), "--json", query, *extra)
    sharded = run_cli("search", "--index", str(built / "shards-5"), "--json", query, *extra)
    assert sharded.returncode == 0, sharded.stderr
    folded = json.loads(sharded.stdout)
    assert folded["folded"] > 0 and any("duplicates" in hit for hit in folded["hits"])
    assert folded == json.loads(one.stdout)
    every = json.loads(run_cli("search", "--index", str(built / "shards-5"), "--json", "--all", query,
                               *extra).stdout)
    assert "folded" not in every and all("duplicates" not in hit for hit in every["hits"])
