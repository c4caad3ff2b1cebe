"""The compact codec reads back exactly the terms and postings it was given."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh import fields
from whoosh.filedb.filestore import RamStorage
from whoosh.reading import TermNotFound

from searchkit.internals import codec

SCHEMA = fields.Schema(words=fields.TEXT(field_boost=3.0), tags=fields.ID())


class _Segment:
    """What the codec asks of a Whoosh segment: file names."""

    def make_filename(self, ext: str) -> str:
        return "seg" + ext


def _written(terms: dict[tuple[str, bytes], list], storage=None):
    """Write terms (sorted) with the codec and open a reader on them."""
    storage = storage or RamStorage()
    writer = codec.CompactFieldWriter(storage, _Segment())
    writer.add_terms(SCHEMA, ((f, t, p) for (f, t), p in sorted(terms.items())))
    writer.close()
    return codec.CompactTermsReader(storage, _Segment())


def _postings(draw_ids, positional: bool) -> list:
    """The pool's flat list: one position as an int, several as a list."""
    flat = []
    for docnum, positions in draw_ids:
        if not positional:
            flat += [docnum, b""]
        else:
            flat += [docnum, positions[0] if len(positions) == 1 else list(positions)]
    return flat


posting_lists = st.lists(
    st.tuples(st.integers(0, 3), st.lists(st.integers(0, 70_000), min_size=1, max_size=4, unique=True)),
    min_size=1, max_size=300,
).map(lambda gaps: [(sum(g for g, _ in gaps[: i + 1]) + i, sorted(p)) for i, (_, p) in enumerate(gaps)])
term_sets = st.dictionaries(st.binary(min_size=1, max_size=9), posting_lists, min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(words=term_sets, tags=term_sets, small=st.booleans())
def test_every_term_reads_back_exactly(words, tags, small):
    terms = {("words", t): _postings(p, True) for t, p in words.items()}
    terms |= {("tags", t): _postings(p, False) for t, p in tags.items()}
    with pytest.MonkeyPatch.context() as patch:
        if small:  # many blocks, every list chunked in twos
            patch.setattr(codec, "BLOCK_TERMS", 3)
            patch.setattr(codec, "INLINE_DOCS", 1)
            patch.setattr(codec, "CHUNK", 2)
        reader = _written(terms)
    assert list(reader.terms()) == sorted(terms)
    for (fieldname, btext), flat in terms.items():
        positional = fieldname == "words"
        ids, values = flat[0::2], flat[1::2]
        boost = SCHEMA[fieldname].format.field_boost
        values = [((v,) if type(v) is int else tuple(v)) if positional else b"" for v in values]
        weights = [len(v) * boost for v in values] if positional else [boost] * len(ids)
        info = reader.term_info(fieldname, btext)
        assert (info.doc_frequency(), info.weight(), info.max_weight(), info.min_id(), info.max_id()) == (
            len(ids), sum(weights), max(weights), ids[0], ids[-1])
        matcher = reader.matcher(fieldname, btext, SCHEMA[fieldname].format)
        read = []
        while matcher.is_active():
            positions = tuple(matcher.value_as("positions")) if positional else b""
            read.append((matcher.id(), matcher.weight(), positions))
            matcher.next()
        assert read == list(zip(ids, weights, values))
        assert reader.postings(fieldname, btext, positional)[0] == ids


@settings(max_examples=60, deadline=None, derandomize=True)
@given(lists=posting_lists, targets=st.lists(st.integers(0, 1300), max_size=20))
def test_skipping_lands_where_stepping_would(lists, targets):
    ids = [docnum for docnum, _ in lists]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codec, "INLINE_DOCS", 4)
        patch.setattr(codec, "CHUNK", 3)
        reader = _written({("words", b"w"): _postings(lists, True)})
    matcher = reader.matcher("words", b"w", SCHEMA["words"].format)
    for target in sorted(targets):
        if not matcher.is_active():
            break
        matcher.skip_to(target)
        expected = [docnum for docnum in ids if docnum >= target]
        assert matcher.is_active() == bool(expected)
        if expected:
            assert matcher.id() == expected[0]
            assert matcher.block_max_weight() >= matcher.weight()


def test_missing_terms_and_prefixes():
    reader = _written({("words", b"ab"): [1, 0], ("words", b"b"): [2, [5, 7]], ("tags", b"x"): [0, b""]})
    assert ("words", b"ab") in reader and ("words", b"a") not in reader and ("nope", b"ab") not in reader
    assert reader.doc_frequency("words", b"zz") == 0
    with pytest.raises(TermNotFound):
        reader.term_info("words", b"a")
    assert list(reader.terms_from("words", b"b")) == [("words", b"b")]
    assert list(reader.terms_from("words", b"a")) == [("words", b"ab"), ("words", b"b")]
    assert sorted(reader.indexed_field_names()) == ["tags", "words"]


def test_text_terms_are_written_as_utf8():
    reader = _written({("words", "山水"): [3, 1], ("words", "A"): [1, 2], ("words", "Ā"): [2, 0]})
    assert list(reader.terms()) == [("words", b"A"), ("words", "Ā".encode()), ("words", "山水".encode())]
    assert reader.postings("words", "山水".encode(), True) == ([3], [1], [(1,)])


def test_integers_round_trip_in_every_width():
    for values in ([], [0], [255], [256, 1], [70_000, 3], [2**40, 0], list(range(0, 10**6, 997))):
        assert codec.unpack_ints(codec.pack_ints(values)).tolist() == values
