"""Stored documents in compact blocks read back exactly as Whoosh's pickles did."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import fields as whoosh_fields
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import SegmentWriter

from searchkit import analysis, indexer, schema
from searchkit.internals import stored
from searchkit.internals.writer import FastSegmentWriter, make_codec
from searchkit.loaders import load_corpus
from searchkit.normalize import normalize_text

# Traditional characters with Simplified forms, Simplified ones, characters both
# scripts share, full-width digits, an astral ideograph, punctuation and Latin.
ALPHABET = "韓關生態區位豐圖謝錦樹攝黨報質設會韩关生态区位丰图谢锦树摄党报质设会山水日月人之不" \
           "０１２ＡＢ𠀋𪚥，。、\n 　abcXYZ019-_."

texts = st.text(alphabet=ALPHABET, max_size=300)
short_texts = st.text(alphabet=ALPHABET, max_size=20)


@st.composite
def documents(draw) -> dict:
    """Stored fields as the indexer writes them, and values of other types besides."""
    original = draw(texts)
    fields = {"content": normalize_text(original), "id": draw(short_texts), "path": draw(short_texts)}
    if fields["content"] != original or draw(st.booleans()):
        fields["original"] = original
    optional = {
        "title": short_texts,
        "source": short_texts,
        "url": short_texts,
        "passage": st.integers(min_value=0, max_value=2**32 - 1),
        "offset": st.integers(min_value=-5, max_value=10**9),
        "date": st.datetimes(min_value=dt.datetime(1, 1, 2), timezones=st.none()
                             | st.just(dt.timezone.utc)),
        "meta": st.dictionaries(short_texts, short_texts | st.integers() | st.lists(short_texts),
                                max_size=3),
        "extra": st.none() | st.integers() | short_texts,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:  # an original of another length than content
        fields["original"] = draw(texts)
    if isinstance(fields.get("title"), str) and draw(st.booleans()):
        # the title in its own script: its Simplified form's length, or any other
        fields["original_title"] = draw(st.sampled_from([fields["title"] + "丰", "韓" * len(fields["title"])])
                                        | short_texts)
    if draw(st.integers(0, 9)) == 0:  # a text field holding another type
        fields["title"] = draw(st.integers() | st.none())
    return dict(sorted(fields.items()))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(documents())
def test_a_record_decodes_to_exactly_the_fields_encoded(fields):
    decoded = stored.decode(stored.encode(fields))
    assert decoded == fields
    assert list(decoded) == list(fields)
    assert [type(value) for value in decoded.values()] == [type(value) for value in fields.values()]


@st.composite
def indexed_documents(draw) -> dict:
    """Whoosh fields the schema accepts (stored values as the indexer writes them, and others)."""
    original = draw(texts)
    fields = {"content": normalize_text(original), "path": draw(short_texts),
              "title": draw(short_texts), "original": original,
              "passage": draw(st.integers(min_value=0, max_value=2**32 - 1)),
              "offset": draw(st.integers(min_value=-5, max_value=10**9) | st.none()),
              "meta": draw(st.none() | st.dictionaries(short_texts, short_texts | st.integers())),
              "date": draw(st.none() | st.datetimes(min_value=dt.datetime(1900, 1, 1),
                                                    max_value=dt.datetime(2100, 1, 1)))}
    return {name: value for name, value in fields.items() if draw(st.booleans())}


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(indexed_documents(), min_size=1, max_size=120), st.randoms(use_true_random=False))
def test_stored_fields_read_back_in_any_order(tmp_path_factory, docs, rng):
    docs = [{"id": str(i), **fields} for i, fields in enumerate(docs)]
    reader = _stored_reader(tmp_path_factory.mktemp("stored"), docs)
    order = list(range(len(docs)))
    rng.shuffle(order)
    for docnum in order:
        expected = {k: v for k, v in sorted(docs[docnum].items()) if v is not None}
        assert reader.stored_fields(docnum) == expected
        assert list(reader.stored_fields(docnum)) == list(expected)
    reader.close()


def _stored_reader(directory, documents: list[dict]):
    """A reader of a one-segment index of documents written with searchkit's codec."""
    ix = whoosh_index.create_in(str(directory), schema.build_schema(), indexname="t")
    writer = FastSegmentWriter(ix, codec=make_codec(), compound=False)
    for fields in documents:
        writer.add_document(**fields)
    writer.commit()
    return ix.reader()


@pytest.fixture(scope="module")
def seed_fields(seeds_dir) -> list[dict]:
    """The Whoosh fields of the seeds, 30 times over: several blocks, a block cut by its count."""
    segmenter = analysis.segmenter_for(analysis.register_segmenter(None))
    once = [indexer.document_fields(d, d.path, "c", segmenter) for d in load_corpus([seeds_dir])]
    return once * 30


def _index(directory, documents, codec, writer_class):
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), schema.build_schema(), indexname="t")
    writer = writer_class(ix, codec=codec, compound=False)
    for fields in documents:
        writer.add_document(**fields)
    writer.commit()
    return ix


def test_seed_documents_read_back_as_whoosh_stored_them(tmp_path, seed_fields):
    compact = _index(tmp_path / "compact", seed_fields, make_codec(), FastSegmentWriter)
    with pytest.MonkeyPatch.context() as patch:  # Whoosh's writer, format and codec all the way
        patch.setattr(schema.TokenText, "index", whoosh_fields.TEXT.index)
        stock = _index(tmp_path / "stock", seed_fields, W3Codec(), SegmentWriter)
    with compact.reader() as mine, stock.reader() as theirs:
        expected = [theirs.stored_fields(docnum) for docnum in range(theirs.doc_count_all())]
        assert [mine.stored_fields(docnum) for docnum in range(mine.doc_count_all())] == expected
        assert [mine.stored_fields(docnum) for docnum in reversed(range(len(expected)))] == expected[::-1]
        assert any("original" in fields for fields in expected)
    assert _stored_bytes(tmp_path / "compact") < _stored_bytes(tmp_path / "stock")


def _stored_bytes(directory) -> int:
    return sum(path.stat().st_size for path in directory.glob("*._stored.col"))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from("山水月明"), st.integers(1, 3000)), min_size=1, max_size=6),
       st.randoms(use_true_random=False))
def test_every_record_of_a_block_reads_back_whole(pieces, rng):
    """Records of long repeats (deflate's long matches) read back whole, in any order.

    The inflater may hold output it had no room for after consuming all its
    input: such a block was read as truncated (a manual page, for some
    lengths of its path).
    """
    bodies = [(char * count).encode() for char, count in pieces]
    value = stored.pack_block(bodies)
    order = list(range(len(bodies)))
    rng.shuffle(order)
    for first in (list(range(len(bodies))), order):
        block = stored._Block(value)
        assert [block.record(index) for index in first] == [bodies[index] for index in first]
