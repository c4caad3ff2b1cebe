"""The Whoosh schema of a searchkit index."""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", category=SyntaxWarning, module=r"whoosh\..*")

from whoosh import fields  # noqa: E402
from whoosh.analysis import IDTokenizer, LowercaseFilter  # noqa: E402

from .analysis import CharTokenizer, WordTokenizer  # noqa: E402

TITLE_BOOST = 3.0
SCHEMA_VERSION = "2"

# Field names, used by the indexer and the searcher alike.
ID, PATH, TITLE, CONTENT, CHARS, DATE, DATED, SOURCE, URL, ORIGINAL, META = (
    "id", "path", "title", "content", "chars", "date", "dated", "source", "url",
    "original", "meta",
)
# "<path>\t<checksum>" of the file a document came from: the lexicon of this
# field tells the indexer what it has seen without reading stored documents.
FILEKEY = "filekey"
# Day number of the date, 0 when unknown: sorting by date puts undated documents last.
DAYNUMBER = "daynumber"


def build_schema(profile: str = "default") -> fields.Schema:
    """The schema: words for ranking, characters for recall, metadata for filters.

    ``content`` stores the normalized text (snippets are cut from it);
    ``original`` stores the text in the document's own script only when it
    differs. ``chars`` holds the title's and the text's characters, with
    positions, and stores nothing.
    """
    words = WordTokenizer(profile)
    return fields.Schema(
        **{
            ID: fields.ID(stored=True, unique=True, sortable=True),
            PATH: fields.ID(stored=True),
            TITLE: fields.TEXT(analyzer=words, stored=True, field_boost=TITLE_BOOST),
            CONTENT: fields.TEXT(analyzer=words, stored=True),
            CHARS: fields.TEXT(analyzer=CharTokenizer()),
            DATE: fields.DATETIME(stored=True, sortable=True),
            DATED: fields.BOOLEAN(),
            DAYNUMBER: fields.NUMERIC(int, bits=32, signed=False, sortable=True),
            SOURCE: fields.ID(stored=True, analyzer=IDTokenizer() | LowercaseFilter()),
            FILEKEY: fields.ID(),
            URL: fields.STORED(),
            ORIGINAL: fields.STORED(),
            META: fields.STORED(),
        }
    )
