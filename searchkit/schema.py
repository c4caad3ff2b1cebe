"""The Whoosh schema of a searchkit index."""

from __future__ import annotations

import zlib

from whoosh import columns, fields
from whoosh.analysis import IDTokenizer, LowercaseFilter
from whoosh.columns import VarBytesColumn

from .analysis import (
    BigramTokenizer,
    CharTokenizer,
    Pretokenized,
    TokenTuple,
    WordTokenizer,
)

TITLE_BOOST = 3.0
# HTML <meta name="keywords"> and "description": searchable, never shown. Weighted
# as the body text, below the title: see the commit that added the field.
KEYWORDS_BOOST = 1.0
SCHEMA_VERSION = "8"  # 6: the sourcekey column; 7: original_title; 8: the fingerprint column (duplicates.py)

# Field names, used by the indexer and the searcher alike.
# The title in the document's own script, stored only when it differs from the
# (normalized) title: titles follow --original as snippets do.
ORIGINAL_TITLE = "original_title"
ID, PATH, TITLE, CONTENT, CHARS, DATE, DATED, SOURCE, URL, ORIGINAL, META = (
    "id", "path", "title", "content", "chars", "date", "dated", "source", "url",
    "original", "meta",
)
# "<path>\t<checksum>" of the file a document came from: the lexicon of this
# field tells the indexer what it has seen without reading stored documents.
FILEKEY = "filekey"
# Pairs of adjacent Chinese characters: literal matching of Chinese strings
# of two or more characters by term lookups instead of character phrases.
BIGRAMS = "bigrams"
# The words of a page's meta keywords and description (indexed, not stored).
KEYWORDS = "keywords"
# Day number of the date, 0 when unknown: sorting by date puts undated documents last.
DAYNUMBER = "daynumber"
# A long document is indexed as passages (see indexer.document_entries): the
# passage's number (0 for the first passage and for a whole document) and its
# start offset in the document's text.
PASSAGE, OFFSET = "passage", "offset"
# A document's source as a number (source_key of its name; 0: no source), in a column
# only: the overview of a result set counts its documents by source from this column,
# read whole in well under a millisecond (the source postings of 100,000 poems took 18 ms).
SOURCEKEY = "sourcekey"


def source_key(name: str) -> int:
    """The number a source name is counted by: the same for any case of the name, never 0.

    A hash, so that segments written apart agree without a table of names;
    facets.py checks that the index's names do not collide.
    """
    return zlib.crc32(name.lower().encode("utf-8")) % 0xFFFFFFFF + 1


# The document's (or passage's) sampled shingle hashes, for folding copies of
# one text (see fingerprints.py): a column, read without the stored documents.
FINGERPRINT = "fingerprint"


class TokenText(fields.TEXT):
    """A TEXT field whose postings carry their positions as a tuple.

    The codec (internals/codec.py) stores positions itself, so they are not
    encoded Whoosh's way per posting. Tokens already computed (a Pretokenized
    value, from a worker process) are grouped by word in one loop, without
    Whoosh's Token objects; other values go through Whoosh's analysis and
    have their positions decoded.
    """

    def index(self, value, **kwargs):
        if isinstance(value, Pretokenized):
            return positions_postings(value.tokens, self.format.field_boost)
        decode = self.format.decode_positions
        return [(btext, freq, weight, tuple(decode(encoded)))
                for btext, freq, weight, encoded in super().index(value, **kwargs)]


def positions_postings(tokens: list[TokenTuple], boost: float) -> list[tuple]:
    """(term bytes, frequency, weight, positions tuple) for each distinct token text."""
    positions: dict[str, list[int]] = {}
    for text, pos, _, _ in tokens:
        found = positions.get(text)
        if found is None:
            positions[text] = [pos]
        else:
            found.append(pos)
    return [(text.encode("utf-8"), len(poses), len(poses) * boost, tuple(poses))
            for text, poses in positions.items()]


def build_schema(profile: str = "default") -> fields.Schema:
    """The schema: words for ranking, characters for recall, metadata for filters.

    ``content`` stores the normalized text (snippets are cut from it);
    ``original`` stores the text in the document's own script only when it
    differs, ``original_title`` likewise for the title. ``chars`` holds the title's and the text's characters and
    ``bigrams`` their pairs of adjacent Chinese characters, with positions;
    they store nothing.
    """
    words = WordTokenizer(profile)
    return fields.Schema(
        **{
            ID: fields.ID(stored=True, unique=True, sortable=True),
            PATH: fields.ID(stored=True),
            TITLE: TokenText(analyzer=words, stored=True, field_boost=TITLE_BOOST),
            CONTENT: TokenText(analyzer=words, stored=True),
            KEYWORDS: TokenText(analyzer=words, field_boost=KEYWORDS_BOOST),
            CHARS: TokenText(analyzer=CharTokenizer()),
            BIGRAMS: TokenText(analyzer=BigramTokenizer()),
            DATE: fields.DATETIME(stored=True, sortable=True),
            DATED: fields.BOOLEAN(),
            DAYNUMBER: fields.NUMERIC(int, bits=32, signed=False, sortable=True),
            SOURCE: fields.ID(stored=True, analyzer=IDTokenizer() | LowercaseFilter()),
            FILEKEY: fields.ID(),
            URL: fields.STORED(),
            ORIGINAL: fields.STORED(),
            ORIGINAL_TITLE: fields.STORED(),
            META: fields.STORED(),
            PASSAGE: fields.NUMERIC(int, bits=32, signed=False, stored=True, sortable=True, default=0),
            OFFSET: fields.STORED(),
            SOURCEKEY: fields.COLUMN(columns.NumericColumn("I", default=0)),
            FINGERPRINT: fields.COLUMN(VarBytesColumn()),
        }
    )
