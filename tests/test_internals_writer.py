"""searchkit's segment writer writes what Whoosh's own would, faster."""

from __future__ import annotations

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from whoosh.writing import SegmentWriter

from searchkit import SearchIndex, analysis, indexer, schema
from searchkit.internals import writer as whoosh_writer
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
                while matcher.is_active():
                    postings.append((matcher.id(), matcher.weight(), matcher.value()))
                    matcher.next()
                found[fieldname, term] = (info.doc_frequency(), info.weight(), info.max_weight(),
                                          info.min_id(), info.max_id(), postings)
    return found


def _stock_codec() -> W3Codec:
    codec = W3Codec()
    codec.length_stats = False  # what FastCodec leaves out; scores do not use it
    return codec


def test_fast_writer_indexes_exactly_what_whoosh_would(tmp_path, seed_fields):
    fast = _indexed(tmp_path / "fast", seed_fields)
    stock = _indexed(tmp_path / "stock", seed_fields, codec=_stock_codec(), writer_class=SegmentWriter)
    assert len(fast) > 5000
    assert max(len(entry[-1]) for entry in fast.values()) > 128  # some lists span blocks
    assert fast == stock


def test_inlined_posting_lists_answer_like_blocks(tmp_path, seeds_dir):
    queries = ["韶关", '"数据中心集群"', "南岭国家公园", "陳少榮", "5G", "预制菜 OR 林长制",
               "韶关 NOT 民政", "title:改革", "高质量 发展 足球", "1554亿元", "示范区"]
    answers = []
    for name, limit in (("inlined", whoosh_writer.INLINE_LIMIT), ("blocks", 1)):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(whoosh_writer, "INLINE_LIMIT", limit)
            SearchIndex.build(tmp_path / name, [seeds_dir], workers=1)
        with SearchIndex.open(tmp_path / name) as index:
            answers.append([[(h.id, round(h.score, 6), h.snippet) for h in index.search(q).hits]
                            for q in queries])
    assert whoosh_writer.INLINE_LIMIT > 1
    assert answers[0] == answers[1]
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
