"""The schema's fast path for computed tokens gives exactly Whoosh's postings."""

from __future__ import annotations

from whoosh import fields

from searchkit import analysis, schema
from searchkit.loaders import load_corpus


def test_computed_tokens_index_like_whoosh(seeds_dir):
    built = schema.build_schema(analysis.register_segmenter(None))
    segmenter = analysis.segmenter_for("default")
    for document in load_corpus([seeds_dir]):
        for name, tokens in [
            (schema.CONTENT, segmenter.index_words(document.text)),
            (schema.TITLE, segmenter.index_words(document.title)),
            (schema.CHARS, analysis.char_tokens(document.text)),
        ]:
            field = built[name]
            value = analysis.Pretokenized(document.text, tokens)
            fast = sorted(field.index(value))
            # Whoosh's own path: Token objects from the tokenizer, grouped by its format.
            stock = sorted((term, freq, weight, tuple(field.format.decode_positions(encoded)))
                           for term, freq, weight, encoded in fields.TEXT.index(field, value))
            assert fast and fast == stock, (document.id, name)
