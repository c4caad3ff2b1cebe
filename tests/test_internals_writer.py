"""searchkit's segment writer and codec index what Whoosh's own would, faster and smaller."""

from __future__ import annotations

import pytest
from whoosh import fields as whoosh_fields
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from whoosh.writing import SegmentWriter

from searchkit import SearchIndex, analysis, indexer, schema
from searchkit.internals import codec as compact_codec
from searchkit.loaders import load_corpus
from searchkit.internals.writer import FastSegmentWriter, make_codec


@pytest.fixture(scope="module")
def seed_fields(seeds_dir) -> list[dict]:
    """The Whoosh fields of the seeds, 27 times over: some posting lists span two blocks."""
    segmenter = analysis.segmenter_for(analysis.register_segmenter(None))
    once = [indexer.document_fields(d, d.path, "c", segmenter) for d in load_corpus([seeds_dir])]
    return once * 27


def _indexed(directory, documents, codec=None, limitmb=128, writer_class=FastSegmentWriter) -> dict:
    """Index documents into a new directory; every term's statistics and postings, as Whoosh reads them."""
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), schema.build_schema(), indexname="t")
    writer = writer_class(ix, codec=codec or make_codec(), compound=False, limitmb=limitmb)
    for fields in documents:
        writer.add_document(**fields)
    writer.commit()
    return _postings(ix)


def _postings(ix) -> dict:
    found = {}
    with ix.reader() as reader:
        for fieldname in reader.indexed_field_names():
            for term in reader.lexicon(fieldname):
                info = reader.term_info(fieldname, term)
                matcher = reader.postings(fieldname, term)
                postings = []
                positional = matcher.supports("positions")
                while matcher.is_active():
                    value = list(matcher.value_as("positions")) if positional else matcher.value()
                    postings.append((matcher.id(), matcher.weight(), value))
                    matcher.next()
                found[fieldname, term] = (info.doc_frequency(), info.weight(), info.max_weight(),
                                          info.min_id(), info.max_id(), postings)
    return found


def _stock_codec() -> W3Codec:
    codec = W3Codec()
    codec.length_stats = False  # what searchkit's codec leaves out; scores do not use it
    return codec


def test_fast_writer_indexes_exactly_what_whoosh_would(tmp_path, seed_fields):
    fast = _indexed(tmp_path / "fast", seed_fields)
    with pytest.MonkeyPatch.context() as patch:
        # Whoosh's writer and format all the way: postings encoded by Whoosh.
        patch.setattr(schema.TokenText, "index", whoosh_fields.TEXT.index)
        stock = _indexed(tmp_path / "stock", seed_fields, codec=_stock_codec(), writer_class=SegmentWriter)
    assert len(fast) > 5000
    assert max(len(entry[-1]) for entry in fast.values()) > compact_codec.CHUNK  # some lists span chunks
    assert fast == stock


def test_compact_files_are_smaller_than_whoosh(tmp_path, seed_fields):
    _indexed(tmp_path / "fast", seed_fields)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schema.TokenText, "index", whoosh_fields.TEXT.index)
        _indexed(tmp_path / "stock", seed_fields, codec=_stock_codec(), writer_class=SegmentWriter)

    def size(directory, *extensions):
        return sum(f.stat().st_size for f in directory.iterdir() if f.suffix in extensions)

    assert size(tmp_path / "fast", ".trm", ".pst") * 3 < size(tmp_path / "stock", ".trm", ".pst")


def test_posting_list_layout_does_not_change_answers(tmp_path, seeds_dir):
    queries = ["韶关", '"数据中心集群"', "南岭国家公园", "陳少榮", "5G", "预制菜 OR 林长制",
               "韶关 NOT 民政", "title:改革", "高质量 发展 足球", "1554亿元", "示范区"]
    answers = []
    # Every list in its term's block; every list in the postings file in chunks
    # of two, with three terms a block: the file's layout must not show.
    layouts = (("inlined", 10**9, compact_codec.CHUNK, compact_codec.BLOCK_TERMS),
               ("default", compact_codec.INLINE_DOCS, compact_codec.CHUNK, compact_codec.BLOCK_TERMS),
               ("chunks", 1, 2, 3))
    for name, inline, chunk, block in layouts:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(compact_codec, "INLINE_DOCS", inline)
            patch.setattr(compact_codec, "CHUNK", chunk)
            patch.setattr(compact_codec, "BLOCK_TERMS", block)
            SearchIndex.build(tmp_path / name, [seeds_dir], workers=1)
        with SearchIndex.open(tmp_path / name) as index:
            answers.append([[(h.id, h.score, h.snippet) for h in index.search(q).hits]
                            for q in queries])
    assert answers[0] == answers[1] == answers[2]
    assert all(answers[0][:5])


def test_spilled_runs_read_back_in_order(tmp_path, seed_fields):
    # A tiny memory limit makes the pool spill many chunked runs and merge them.
    documents = seed_fields[:5]
    spilled = _indexed(tmp_path / "spilled", documents, limitmb=0.05)
    assert spilled == _indexed(tmp_path / "memory", documents)


def test_merged_segments_index_like_one_segment(tmp_path, seed_fields):
    # Merging adds another segment's postings to the pool term by term, after
    # the writer's own documents; with a tiny limit they spill mid-term.
    documents = seed_fields[:10]
    directory = tmp_path / "merged"
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), schema.build_schema(), indexname="t")
    for batch in (documents[:5], documents[5:]):
        writer = FastSegmentWriter(ix, compound=False, limitmb=0.05)
        for fields in batch:
            writer.add_document(**fields)
        writer.commit(merge=False)
    assert len(ix.reader().leaf_readers()) == 2
    FastSegmentWriter(ix, compound=False, limitmb=0.05).commit(optimize=True)
    assert len(ix.reader().leaf_readers()) == 1
    assert _postings(ix) == _indexed(tmp_path / "once", documents)


def test_segments_are_separate_files_read_in_place(tmp_path, seeds_dir):
    # Writers skip Whoosh's copy of every segment into one compound file;
    # index files are read in place through memory maps.
    SearchIndex.build(tmp_path / "index", [seeds_dir], workers=1)
    names = [path.name for path in (tmp_path / "index").iterdir()]
    assert any(name.endswith(".trm") for name in names)
    assert not any(name.endswith(".seg") for name in names)
