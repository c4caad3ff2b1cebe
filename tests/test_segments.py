"""searchkit's segment writer writes what Whoosh's own would, faster."""

from __future__ import annotations

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from whoosh.writing import SegmentWriter

from searchkit import SearchIndex, analysis, indexer, schema, segments
from searchkit.loaders import load_corpus
from searchkit.segments import FastCodec, FastFieldWriter, FastSegmentWriter, make_codec


@pytest.fixture(scope="module")
def seed_fields(seeds_dir) -> list[dict]:
    """The Whoosh fields of the seeds, 27 times over: some posting lists span two blocks."""
    segmenter = analysis.segmenter_for(analysis.register_segmenter(None))
    once = [indexer.document_fields(d, d.path, "c", segmenter) for d in load_corpus([seeds_dir])]
    return once * 27


def _segment_files(directory, codec, documents, limitmb=128, writer_class=FastSegmentWriter) -> dict[str, bytes]:
    """Index documents into directory with codec; the bytes of its terms and postings files."""
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), schema.build_schema(), indexname="t")
    writer = writer_class(ix, codec=codec, compound=False, limitmb=limitmb)
    for fields in documents:
        writer.add_document(**fields)
    writer.commit()
    return {path.suffix: path.read_bytes() for path in directory.iterdir()
            if path.suffix in (".trm", ".pst")}


class InliningW3Codec(W3Codec):
    """Whoosh's own codec and field writer, with only the term info fix that lets it inline."""

    length_stats = False

    def field_writer(self, storage, segment):
        writer = super().field_writer(storage, segment)
        writer.start_term = lambda btext: FastFieldWriter.start_term(writer, btext)
        return writer


def test_fast_writer_writes_the_same_bytes_as_whoosh(tmp_path, seed_fields):
    # Whoosh's own writer cannot inline posting lists (see segments._TermInfo),
    # so the comparison is made with inlining off on both sides.
    stock = W3Codec()
    stock.length_stats = False
    fast = _segment_files(tmp_path / "fast", FastCodec(), seed_fields)
    assert set(fast) == {".trm", ".pst"}
    assert fast == _segment_files(tmp_path / "stock", stock, seed_fields, writer_class=SegmentWriter)


def test_inlined_terms_are_written_as_whoosh_would_inline_them(tmp_path, seed_fields):
    # The fast writer encodes short posting lists itself.
    codec = InliningW3Codec(inlinelimit=segments.INLINE_LIMIT)
    fast = _segment_files(tmp_path / "fast", make_codec(), seed_fields)
    assert fast == _segment_files(tmp_path / "stock", codec, seed_fields, writer_class=SegmentWriter)


def test_inlined_posting_lists_answer_like_blocks(tmp_path, seeds_dir):
    queries = ["韶关", '"数据中心集群"', "南岭国家公园", "陳少榮", "5G", "预制菜 OR 林长制",
               "韶关 NOT 民政", "title:改革", "高质量 发展 足球", "1554亿元", "示范区"]
    answers = []
    for name, limit in (("inlined", segments.INLINE_LIMIT), ("blocks", 1)):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(segments, "INLINE_LIMIT", limit)
            SearchIndex.build(tmp_path / name, [seeds_dir], workers=1)
        with SearchIndex.open(tmp_path / name) as index:
            answers.append([[(h.id, round(h.score, 6), h.snippet) for h in index.search(q).hits]
                            for q in queries])
    assert segments.INLINE_LIMIT > 1
    assert answers[0] == answers[1]
    assert all(answers[0][:5])


def test_spilled_runs_read_back_in_order(tmp_path, seed_fields):
    # A tiny memory limit makes the pool spill many chunked runs and merge them.
    documents = seed_fields[:5]
    spilled = _segment_files(tmp_path / "spilled", make_codec(), documents, limitmb=0.05)
    assert spilled == _segment_files(tmp_path / "memory", make_codec(), documents)


def test_merged_segments_answer_like_one_segment(tmp_path, seed_fields):
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
    writer = FastSegmentWriter(ix, compound=False, limitmb=0.05)
    writer.commit(optimize=True)
    merged = {path.suffix: path.read_bytes() for path in directory.iterdir()
              if path.suffix in (".trm", ".pst")}
    assert merged == _segment_files(tmp_path / "once", make_codec(), documents)
