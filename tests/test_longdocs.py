"""Long documents: indexed as passages, found and shown as one document; huge files refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from searchkit import Document, SearchIndex, analysis, indexer, schema
from searchkit.indexer import MAX_FILE_BYTES, PASSAGE_CHARS, document_entries, passage_bounds
from searchkit.loaders import load_file

LONG = "长篇.txt"
SHORT = "短文.txt"


def sentence(i: int) -> str:
    """A sentence findable by its number; some in Traditional, so original and text differ."""
    if i % 3 == 0:
        return f"第{i}句：冰川考察隊記錄了數據。"
    return f"第{i}句：冰川考察队在高原上记录温度与降水，" + "风雪" * (i % 7) + "。"


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory):
    """A one-line document of about 330,000 characters (several passages) and a short one."""
    corpus = tmp_path_factory.mktemp("long-corpus")
    (corpus / LONG).write_text("".join(sentence(i) for i in range(12_000)) + "\n", encoding="utf-8")
    (corpus / SHORT).write_text("冰川简报\n\n冰川考察队今天出发。\n", encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def long_index(long_corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("long-index")
    SearchIndex.build(path, [long_corpus], workers=1)
    with SearchIndex.open(path) as index:
        yield index


@pytest.fixture(scope="module")
def loaded(long_corpus) -> Document:
    """The long document as the loader gives it (what the index must give back)."""
    (document,) = load_file(long_corpus / LONG)
    return document


def test_the_long_document_is_indexed_as_passages(loaded):
    bounds = passage_bounds(loaded.text)
    assert len(loaded.text) > 300_000 and len(bounds) >= 6


def test_passages_handed_to_the_writer_are_bounded(loaded):
    """What bounds indexing memory: no Whoosh document holds more than PASSAGE_CHARS of text."""
    segmenter = analysis.segmenter_for("default")
    entries = list(document_entries(loaded, "key", "sum", segmenter))
    assert len(entries) == len(passage_bounds(loaded.text))
    assert max(len(fields["_stored_" + schema.CONTENT]) for fields in entries) <= PASSAGE_CHARS
    assert [fields[schema.PASSAGE] for fields in entries] == list(range(len(entries)))
    assert "".join(fields["_stored_" + schema.CONTENT] for fields in entries) == loaded.text
    assert {fields[schema.ID] for fields in entries} == {LONG}


def test_phrases_next_to_every_passage_boundary_are_found(long_index, loaded):
    """The sentences on both sides of each cut, and the first and last, are one hit each."""
    bounds = passage_bounds(loaded.text)
    numbers = {0, 11_999}
    for _, end in bounds[:-1]:
        before = loaded.text[:end].rsplit("第", 1)[1].split("句")[0]
        numbers.update({int(before), int(before) + 1})
    for number in sorted(numbers):
        phrase = f"第{number}句"
        results = long_index.search(f'"{phrase}"')
        assert results.total == 1, phrase
        (hit,) = results.hits
        assert hit.id == LONG
        assert [hit.snippet[s:e] for s, e in hit.highlights] == [phrase], (phrase, hit.snippet)


def test_one_hit_per_document_and_totals_count_documents(long_index):
    results = long_index.search("冰川考察", limit=10)
    assert results.total == 2
    assert sorted(hit.id for hit in results.hits) == sorted([LONG, SHORT])
    assert long_index.document_count() == 2
    assert long_index.stats().documents == 2
    partial = long_index.search("冰川 降水 不存在的词语", limit=10)
    # 长篇 has two of the words, 短文 one: each once, in that order.
    assert [hit.id for hit in partial.hits] == [LONG, SHORT] and partial.total == 2


def test_snippets_in_the_original_script(long_index):
    hit = long_index.search('"第2997句"', original=True).hits[0]  # 2997 % 3 == 0: Traditional
    assert "第2997句：冰川考察隊記錄了數據" in hit.snippet


def test_document_and_show_give_back_the_whole_text(long_index, loaded):
    document = long_index.document(LONG)
    assert document.text == loaded.text
    assert document.original == loaded.original
    assert document.title == loaded.title
    shown = subprocess.run([sys.executable, "-m", "searchkit", "show", LONG, "--json",
                            "--index", str(long_index.path)], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["text"] == loaded.text


def test_adding_a_long_document_twice_replaces_every_passage(tmp_path, seeds_dir):
    SearchIndex.build(tmp_path / "ix", [seeds_dir])
    text = "".join(sentence(i) for i in range(6_000))
    with SearchIndex.open(tmp_path / "ix") as index:
        index.add_documents([Document(id="长", text=text, title="长文")])
        index.add_documents([Document(id="长", text=text.replace("第5999句", "第五九九九句"), title="长文")])
        assert index.search('"第5999句"').total == 0
        assert index.search('"第五九九九句"').total == 1
        assert index.search('"第10句"').total == 1
        assert index.document_count() == 6
        assert index.document("长").original == text.replace("第5999句", "第五九九九句")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["冰川", "考察", "。", "！", "\n", "」", "ab ", "风"]), max_size=400),
       st.integers(min_value=4, max_value=40))
def test_passage_bounds_cover_the_text_at_sentence_ends(pieces, size):
    text = "".join(pieces)
    bounds = passage_bounds(text, size)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(0 < end - start <= size for start, end in bounds) or text == ""
    for _, end in bounds[:-1]:
        # A cut never falls between two Chinese characters of one sentence.
        assert not (analysis.is_cjk(text[end - 1]) and analysis.is_cjk(text[end]))


@pytest.mark.slow
def test_a_file_above_the_limit_is_one_warning_and_the_rest_is_indexed(tmp_path):
    """A 50 MB one-line file is refused before it is read; the other files are indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    big = corpus / "巨大.txt"
    line = "冰川考察队记录温度与降水。".encode() * 1000
    with big.open("wb") as out:
        while out.tell() < 50_000_000:
            out.write(line)
    assert big.stat().st_size > MAX_FILE_BYTES
    (corpus / SHORT).write_text("冰川简报\n\n冰川考察队今天出发。\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "searchkit", "index", str(corpus),
                             "--index", str(tmp_path / "ix"), "--workers", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"searchkit: {big}: skipped, too large (50.0 MB; the limit is "
        f"{MAX_FILE_BYTES // 1_000_000} MB)"]
    with SearchIndex.open(tmp_path / "ix") as index:
        assert [hit.id for hit in index.search("冰川").hits] == [SHORT]


def test_passages_stay_one_document_through_updates(tmp_path, long_corpus):
    """Replacing the long file (its old passages deleted, segments merged) keeps hits and text whole."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (SHORT, LONG):
        (corpus / name).write_bytes((long_corpus / name).read_bytes())
    SearchIndex.build(tmp_path / "ix", [corpus], workers=1)
    for round_number in range(3):
        text = "".join(sentence(i) for i in range(round_number, 12_000, 1 + round_number))
        (corpus / LONG).write_text(f"第{round_number}版。" + text + "\n", encoding="utf-8")
        (corpus / f"加{round_number}.txt").write_text("冰川考察队又出发。\n", encoding="utf-8")
        SearchIndex.build(tmp_path / "ix", [corpus], workers=1)
    (document,) = load_file(corpus / LONG)
    with SearchIndex.open(tmp_path / "ix") as index:
        assert index.document(LONG).text == document.text
        assert index.document_count() == 5
        assert index.search("冰川考察", limit=10).total == 5
        for number in (2, 5000, 11_999):
            (hit,) = index.search(f'"第{number}句"').hits
            assert hit.id == LONG and f"第{number}句" in hit.snippet
