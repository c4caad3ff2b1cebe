"""benchmarks/peers.py compares like with like: every peer finds the same documents.

The peers the test environment always has (SQLite FTS5 from the standard library,
the naive Whoosh stack from searchkit's own dependencies) index three poems (one in
Traditional script) and are asked in the other script. tantivy-py and bm25s are not
dependencies: the script checks them where they are installed, by its count of
queries without a hit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import peers  # noqa: E402

POEMS = [
    {"id": "a", "title": "靜夜思", "text": "床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。"},
    {"id": "b", "title": "春晓", "text": "春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。"},
    {"id": "c", "title": "登鹳雀楼", "text": "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"},
]
PEERS = ["fts5", "whoosh"]


@pytest.fixture(scope="module")
def poems_jsonl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("peers") / "poems.jsonl"
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in POEMS), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=PEERS)
def search(request, poems_jsonl, tmp_path_factory):
    """One peer's searcher over the three poems."""
    system = peers.SYSTEMS[request.param]
    index_dir = tmp_path_factory.mktemp(system.key)
    system.build(poems_jsonl, index_dir)
    return system.open(index_dir)


def test_a_simplified_line_finds_the_traditional_poem(search):
    assert search("举头望明月") == 1


def test_a_traditional_query_finds_the_simplified_poem(search):
    assert search("處處聞啼鳥") == 1


def test_words_in_no_poem_find_nothing(search):
    assert search("黄鹤楼") == 0


def test_fts5_finds_a_two_character_word_that_trigrams_cannot():
    sql, params = peers.fts5_statement("啼鳥")
    assert "MATCH" not in sql and params == ["啼鸟", "啼鸟", "啼鸟"]


def test_fts5_matches_long_terms_and_filters_short_ones():
    sql, params = peers.fts5_statement('"床前明月" 思故鄉 霜')
    assert params == ['"床前明月" AND "思故乡"', "霜", "霜"]
    assert "ORDER BY rank" in sql
