"""Ranking: exact top-k pruning gives the hits an exhaustive ranking gives, and says when a total is estimated."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import SearchIndex, ranking, render
from searchkit import shell as sh
from searchkit.models import SearchResults

LINES = ["江上清风起", "明月照江流", "山中人不见", "白云生处有人家", "春风又绿江南岸", "孤帆远影碧空尽",
         "千里江陵一日还", "两岸猿声啼不住", "人闲桂花落", "夜静春山空", "大江东去浪淘尽", "不知江月待何人"]
TITLES = ["江行", "江南春", "山居", "送人", "月夜", "江上", "春晓", "秋思"]
WORDS = ["江", "人", "春风", "江南", "白云", "千里", "明月", "不知", "山", "江月", "春", "孤帆",
         '"江上清风"', '"明月照江"', '"春风" OR "江流"', "春风 OR 江 OR 明月"]


@pytest.fixture(scope="module")
def poems_index(tmp_path_factory) -> SearchIndex:
    """An index of 150 short generated poems: 江 in many texts, in some titles."""
    rng = random.Random(13)
    root = tmp_path_factory.mktemp("poems")
    records = [{"id": f"p{n:03d}", "title": f"{rng.choice(TITLES)}{n}",
                "text": "，".join(rng.sample(LINES, rng.randint(1, 6))) + "。", "source": "诗"}
               for n in range(150)]
    corpus = root / "poems.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    SearchIndex.build(root / "index", [corpus], workers=1)
    with SearchIndex.open(root / "index") as index:
        yield index


def search(index: SearchIndex, query: str, prune_above: int, monkeypatch, **options) -> SearchResults:
    """index.search(query) with best_bounded used from prune_above matches on."""
    with monkeypatch.context() as patch:
        patch.setattr(ranking, "PRUNE_ABOVE", prune_above)
        return index.search(query, **options)


def shown(results: SearchResults) -> list:
    return [(hit.id, hit.score, hit.snippet, hit.highlights) for hit in results.hits]


def test_pruned_ranking_is_the_exhaustive_one(poems_index, monkeypatch):
    estimated = 0
    for query in WORDS:
        for limit, offset in [(1, 0), (3, 0), (10, 0), (5, 5)]:
            exact = search(poems_index, query, 10**9, monkeypatch, limit=limit, offset=offset)
            pruned = search(poems_index, query, 0, monkeypatch, limit=limit, offset=offset)
            assert shown(pruned) == shown(exact), (query, limit, offset)
            assert exact.total_exact
            if not pruned.total_exact:
                estimated += 1
                # An estimate never promises more than there are, nor fewer than are shown.
                assert len(pruned.hits) + offset <= pruned.total <= exact.total
            else:
                assert pruned.total == exact.total
    assert estimated  # the bounds did cut some searches short


@settings(max_examples=40, deadline=None, derandomize=True)
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
       joiner=st.sampled_from([" ", " OR "]), limit=st.integers(1, 12))
def test_pruning_never_changes_hits(poems_index, words, joiner, limit):
    query = joiner.join(words)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranking, "PRUNE_ABOVE", 10**9)
        exact = poems_index.search(query, limit=limit)
        patch.setattr(ranking, "PRUNE_ABOVE", 0)
        pruned = poems_index.search(query, limit=limit)
    assert shown(pruned) == shown(exact)
    assert pruned.partial == exact.partial


def test_small_results_keep_exact_totals(poems_index):
    results = poems_index.search("江")  # fewer matches than PRUNE_ABOVE
    assert results.total_exact
    assert "total_exact" not in results.to_json()


def estimated_results() -> SearchResults:
    return SearchResults(query="人", total=37499, hits=[], elapsed=0.01, total_exact=False)


def test_estimated_total_in_json_and_text():
    results = estimated_results()
    data = results.to_json()
    assert list(data) == ["query", "total", "total_exact", "partial", "hits"]
    assert data["total"] == 37499 and data["total_exact"] is False
    assert render.results_text(results, color=False).startswith("about 37,499 results for 人")


def test_exact_total_text_unchanged():
    results = SearchResults(query="人", total=1234, hits=[], elapsed=0.01)
    assert render.results_text(results, color=False).startswith("1234 results for 人")
    assert list(results.to_json()) == ["query", "total", "partial", "hits"]


def test_shell_says_about(poems_index, monkeypatch):
    monkeypatch.setattr(ranking, "PRUNE_ABOVE", 0)
    written: list[str] = []
    shell = sh.Shell(poems_index, write=written.append)
    shell.limit = 1
    shell.search("江")
    assert shell.results is not None and not shell.results.total_exact
    text = "\n".join(written)
    assert f"about {shell.results.total:,} results for 江" in text
    assert f"— about {shell.results.total - 1:,} more" in text
    assert f"of about {shell.results.total:,}" in shell.toolbar_text()


@pytest.mark.parametrize("query", ["江南 孤帆 千里 桃花潭", "白云 明月 春风 汪伦 黄鹤楼"])
def test_partial_matches_rank_alike_on_every_page_size(poems_index, query):
    # Only the best-covered documents are scored for a short page: a short
    # page is the start of a long one, and the total is the same.
    whole = poems_index.search(query, limit=150)
    assert whole.partial and whole.total == len(whole.hits) > 3
    for limit in (1, 2, 3):
        page = poems_index.search(query, limit=limit)
        assert page.partial and page.total == whole.total and page.total_exact
        assert shown(page) == shown(whole)[:limit]
    second = poems_index.search(query, limit=2, offset=2)
    assert shown(second) == shown(whole)[2:4]


# -- recall first: documents with most of the words follow those with all ---------------


@pytest.fixture(scope="module")
def handbook_like(index_of_pages) -> SearchIndex:
    """Pages of a manual: one about the subject lacks a query word two others have by chance."""
    pages = {
        "mail.md": ("邮件服务器", "邮件服务器的配置。" * 6 + "Postfix 是常用的邮件服务器。"),
        "toc.md": ("目录", "安装 邮件 服务器 配置 网络 防火墙"),
        "misc.md": ("杂项", "配置好网络以后，可以安装邮件客户端，也可以安装服务器软件。"),
        "time.md": ("时间", "设置时区和时间同步。时区决定了本地时间。"),
        "noise.md": ("社区", "同时，社区里的人区分了不同的时间。"),
    }
    with SearchIndex.open(index_of_pages(pages)) as index:
        yield index


def test_a_page_lacking_one_word_follows_the_pages_with_every_word(handbook_like):
    results = handbook_like.search("安装 邮件服务器")
    hit_ids = [hit.id for hit in results.hits]
    assert results.complete == 2 and set(hit_ids[:2]) == {"toc.md", "misc.md"}
    assert "mail.md" in hit_ids[2:]  # it lacks 安装, and is still found
    assert not results.partial and results.to_json()["complete"] == 2


def test_every_page_of_a_query_agrees_on_its_total_and_order(handbook_like):
    whole = handbook_like.search("安装 邮件服务器", limit=10)
    pages = [handbook_like.search("安装 邮件服务器", limit=1, offset=n) for n in range(whole.total)]
    assert {page.total for page in pages} == {whole.total}
    assert [page.hits[0].id for page in pages] == [hit.id for hit in whole.hits]
    assert {page.complete for page in pages} == {2}


def test_the_header_says_where_the_pages_with_every_word_end(handbook_like):
    text = render.results_text(handbook_like.search("安装 邮件服务器"), color=False)
    assert "2 documents have every word; from 3 on, some of them." in text


def test_a_word_cut_into_characters_is_found_as_typed(handbook_like):
    # jieba cuts 时区 into 时/区, which 同时 and 社区 hold apart.
    (hit,) = handbook_like.search("时区").hits
    assert hit.id == "time.md"
    assert {hit.snippet[start:end] for start, end in hit.highlights} == {"时区"}  # not 时 in 时间
    assert [hit.id for hit in handbook_like.search("设置 时区").hits][:1] == ["time.md"]
