"""Regional wording: a mainland word finds the Taiwan wording, and the other way round."""

from __future__ import annotations

import pytest

from searchkit import SearchIndex, regional


@pytest.mark.parametrize(("mainland", "taiwan"), [
    ("软件", "软体"), ("服务器", "伺服器"), ("打印机", "印表机"), ("函数", "函式"), ("网络", "网路"),
])
def test_each_wording_knows_the_other(mainland, taiwan):
    # In Simplified script, as the index holds every document.
    assert taiwan in regional.variants(mainland)
    assert mainland in regional.variants(taiwan)


def test_a_word_with_one_wording_has_no_variants():
    assert regional.variants("韶关") == ()


@pytest.fixture(scope="module")
def two_regions(index_of_pages) -> SearchIndex:
    pages = {
        "cn.md": ("安装软件", "在服务器上安装软件，再连接打印机。"),
        "tw.md": ("安裝軟體", "在伺服器上安裝軟體，再連接印表機。"),
        "other.md": ("天气", "今天的天气很好。"),
    }
    with SearchIndex.open(index_of_pages(pages)) as index:
        yield index


@pytest.mark.parametrize("query", ["软件", "軟體", "伺服器 印表機", "服务器 打印机"])
def test_either_wording_finds_both_pages(two_regions, query):
    assert {hit.id for hit in two_regions.search(query).hits} == {"cn.md", "tw.md"}


@pytest.mark.parametrize(("query", "first"), [("服务器 打印机", "cn.md"), ("伺服器 印表機", "tw.md")])
def test_the_page_in_the_query_s_own_wording_ranks_first(two_regions, query, first):
    assert two_regions.search(query).hits[0].id == first


def test_the_other_wording_is_highlighted_in_the_document_s_own_script(two_regions):
    hit = next(h for h in two_regions.search("软件", original=True).hits if h.id == "tw.md")
    assert "軟體" in [hit.snippet[start:end] for start, end in hit.highlights]
