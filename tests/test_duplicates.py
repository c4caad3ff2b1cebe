"""Copies of one text: folded under the best-ranked one in search, clustered by `searchkit duplicates`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import opencc
import pytest

from searchkit import Document, SearchIndex
from searchkit import duplicates

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import duplicates_variants  # noqa: E402

S000 = "000_150bae6b94f5f664.txt"
S001 = "001_cbd37f1b4b68be5e.txt"
S002 = "002_3a19d138acb7fb5e.txt"
S004 = "004_adbd3bb83504ea18.txt"
QUERIES = ["韶关", "数据中心", "改革", "长者饭堂", "发展", "算力 OR 养老", "治理", "广州", "韶关 数据中心 足球"]


def run(*args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "searchkit", *map(str, args)],
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


# -- folding in search ---------------------------------------------------------------


def test_the_print_page_is_folded_under_the_web_edition(seed_index_dir):
    result = run("search", "数据中心", "--index", seed_index_dir)
    assert result.returncode == 0, result.stderr
    assert "1 hit repeating a better one is folded under it" in result.stdout
    assert f"+1 similar: {S001} 羊城晚报" in result.stdout
    assert f"· {S001}" not in result.stdout  # not a hit of its own
    obj = json.loads(run("search", "数据中心", "--index", seed_index_dir, "--json").stdout)
    assert [hit["id"] for hit in obj["hits"]] == [S000, S002]
    assert obj["total"] == 3 and obj["folded"] == 1
    copy = obj["hits"][0]["duplicates"][0]
    assert copy["id"] == S001 and "数据中心" in copy["snippet"] and copy["highlights"]
    assert "duplicates" not in obj["hits"][1]


def test_a_query_only_the_print_page_answers_is_not_folded(seed_index):
    results = seed_index.search("长者饭堂", fold=True)
    assert [hit.id for hit in results.hits] == [S001]
    assert results.hits[0].duplicates == [] and results.folded == 0


def test_all_shows_every_hit_as_before(seed_index_dir, seed_index):
    result = run("search", "数据中心", "--index", seed_index_dir, "--all", "--json")
    obj = json.loads(result.stdout)
    assert [hit["id"] for hit in obj["hits"]] == [h.id for h in seed_index.search("数据中心").hits]
    assert S001 in [hit["id"] for hit in obj["hits"]]
    assert "folded" not in obj and all("duplicates" not in hit for hit in obj["hits"])
    text = run("search", "数据中心", "--index", seed_index_dir, "--all").stdout
    assert "similar" not in text and "folded" not in text


@pytest.mark.parametrize("query", QUERIES)
def test_folding_only_removes_hits_and_pages_leave_no_hole(seed_index, query):
    """The folded list is the unfolded one minus the copies, in order, on every page size."""
    every = [hit.id for hit in seed_index.search(query, limit=20).hits]
    folded = seed_index.search(query, limit=20, fold=True)
    leaders = [hit.id for hit in folded.hits]
    copies = {copy.id for hit in folded.hits for copy in hit.duplicates}
    assert leaders == [doc for doc in every if doc not in copies]
    assert len(leaders) + folded.folded == len(every)
    for limit in (1, 2, 3):
        paged, offset = [], 0
        while True:
            page = seed_index.search(query, limit=limit, offset=offset, fold=True)
            if not page.hits:
                break
            assert len(page.hits) == limit or offset + len(page.hits) == len(leaders)
            paged += [hit.id for hit in page.hits]
            offset += limit
        assert paged == leaders


def test_a_traditional_copy_added_from_python_is_folded(tmp_path, seed_index):
    original = seed_index.document(S002)
    path = tmp_path / "index"
    SearchIndex.build(path, [Path(__file__).resolve().parent.parent / "seeds"])
    with SearchIndex.open(path) as index:
        index.add_documents([Document(id="copy-tw", text=opencc.OpenCC("s2t").convert(original.original),
                                      title="韶關:打開改革新局面")])
        results = index.search("东莞", fold=True)
    ids = [hit.id for hit in results.hits]
    assert "copy-tw" in ids or S002 in ids
    assert not {"copy-tw", S002} <= set(ids)  # one of them is folded under the other
    assert {copy.id for hit in results.hits for copy in hit.duplicates} & {"copy-tw", S002}


def test_shell_all_toggles_folding(seed_index):
    from searchkit.shell import Shell

    chunks = []
    shell = Shell(seed_index, write=chunks.append)
    shell.handle("数据中心")
    assert f"+1 similar: {S001}" in chunks[-1]
    shell.handle(":all")
    assert "every hit shown" in chunks[-2] and f"· {S001}" in chunks[-1]
    assert "all hits" in shell.toolbar_text()
    shell.handle(":all")
    assert f"+1 similar: {S001}" in chunks[-1]


# -- searchkit duplicates ---------------------------------------------------------------


def test_duplicates_lists_the_seed_pair(seed_index_dir):
    result = run("duplicates", "--index", seed_index_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 cluster of near-duplicates (2 documents):")
    assert f"  1. {S001}" in result.stdout and f"% {S000}" in result.stdout
    obj = json.loads(run("duplicates", "--index", seed_index_dir, "--json").stdout)
    [cluster] = obj["clusters"]
    assert [d["id"] for d in cluster["documents"]] == [S001, S000]  # the larger first
    assert cluster["documents"][1]["similarity"] >= 0.9 and cluster["size"] == 2
    assert obj["threshold"] == duplicates.DEFAULT_THRESHOLD


def test_duplicates_rejects_a_bad_threshold(seed_index_dir, seed_index):
    result = run("duplicates", "--index", seed_index_dir, "--threshold", "1.5")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == ("searchkit duplicates: error: argument --threshold: "
                                              "a number above 0 and at most 1, not '1.5'")
    with pytest.raises(Exception, match="threshold must be above 0"):
        seed_index.duplicates(0)


def test_updates_change_the_clusters(corpus_copy, tmp_path):
    """Fingerprints follow the documents: a changed file gets a new one, a removed file loses its."""
    path = tmp_path / "index"
    SearchIndex.build(path, [corpus_copy])
    with SearchIndex.open(path) as index:
        assert [[d.id for d in c.documents] for c in index.duplicates()] == [[S001, S000]]
        shared = index.document(S000).text
        (corpus_copy / S004).write_text(shared + "\n本报记者补充报道。", encoding="utf-8")
        index.update([corpus_copy])
        assert [sorted(d.id for d in c.documents) for c in index.duplicates()] == [[S000, S001, S004]]
        (corpus_copy / S000).unlink()
        index.update([corpus_copy])
        assert [sorted(d.id for d in c.documents) for c in index.duplicates()] == [[S001, S004]]
        assert index.search("数据中心", fold=True).folded == 1


# -- precision and recall on generated variants ---------------------------------------------


def test_pair_detection_on_generated_variants(seed_index):
    """Variants (edits, reordering, excerpts, script, a page around it) of articles on one topic.

    Measured at the default threshold (benchmarks/duplicates_cost.py variants prints
    the figures): precision 1.000, recall 0.984 over every two documents of a family
    (an excerpt and a copy missing one of its lines are less alike) and 1.000 over a
    base and its variants; documents of different families score at most 0.19.
    """
    texts = [seed_index.document(doc).text for doc in (S000, S002)]
    filler = [line for line in seed_index.document(S004).text.split("\n") if len(line) >= 20]
    documents = duplicates_variants.variants(duplicates_variants.base_articles(texts), filler)
    figures = duplicates_variants.measure(documents)
    assert figures.true_pairs > 200
    assert figures.precision >= 0.98
    assert figures.base_recall >= 0.98
    assert figures.recall >= 0.95
    assert figures.worst_negative < 0.5
