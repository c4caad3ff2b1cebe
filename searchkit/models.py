"""Typed objects that flow through searchkit: documents in, hits out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any


DEFAULT_LIMIT = 10
"""Hits per page when none is asked for (the library, the CLI and the shell alike)."""
DEFAULT_SNIPPET_CHARS = 160
"""Characters of a document a hit's snippet shows at most when none are asked for: about
two lines of a wide terminal, room for a sentence or two around the matches. The
terminal display cuts it to its width; ``--snippet N`` and the shell's ``:snippet N``
ask for another length."""
SORTS = ("relevance", "date")
"""The orders of hits: best match first, or newest first."""


@dataclass
class Document:
    """One document of a corpus, cleaned and normalized.

    ``text`` is the normalized text that is indexed (Simplified script,
    half-width letters and digits). ``original`` is the same text in the
    document's own script; the two always have the same length and
    ``original[i]`` is the character that ``text[i]`` was normalized from,
    so any span of ``text`` maps back to ``original`` unchanged.
    ``title`` is normalized like ``text``; ``original_title`` is the title in
    the document's own script (the same as ``title`` when not given).
    """

    id: str
    text: str
    original: str = ""
    path: str | None = None
    title: str = ""
    date: dt.date | None = None
    source: str | None = None
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    original_title: str = ""

    def __post_init__(self) -> None:
        if not self.original:
            self.original = self.text
        if not self.original_title:
            self.original_title = self.title
        if len(self.original) != len(self.text):
            raise ValueError("original and normalized text must have the same length")


@dataclass
class Hit:
    """One ranked search result.

    ``snippet`` is the fragment of the document that shows the query best (the
    most distinct query terms, then the most matches, then the earliest), cut at
    sentence or clause ends: at most ``snippet_chars`` characters of the document
    (160 unless the search asked for another number), one line, with ``…`` where
    text before or after it is left out. ``highlights`` are ``[start, end)``
    offsets of the matches in ``snippet``. A search with ``original=True`` cuts the
    same fragment from the document's own script (same length, same offsets).
    """

    id: str
    path: str | None
    title: str
    date: dt.date | None
    source: str | None
    url: str | None
    score: float
    snippet: str
    highlights: list[tuple[int, int]] = field(default_factory=list)
    duplicates: list["Hit"] | None = None
    """Lower-ranked hits folded under this one as copies of it, best first (each a
    Hit of its own); None when the search did not fold (``fold=False``)."""

    def to_json(self) -> dict[str, Any]:
        """The hit as the JSON object of the ``--json`` output contract.

        ``"duplicates"`` (hits folded under this one) is added when there are some.
        """
        data = {
            "id": self.id,
            "path": self.path,
            "title": self.title,
            "date": self.date.isoformat() if self.date else None,
            "source": self.source,
            "url": self.url,
            "score": round(self.score, 4),
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
        }
        if self.duplicates:
            data["duplicates"] = [hit.to_json() for hit in self.duplicates]
        return data


@dataclass
class Facets:
    """How a whole result set (every hit, not only a page) spreads over sources and time.

    A document counts once, however many of its passages match.
    """

    sources: dict[str, int]
    """Source name (as documents spell it) -> hits, most first. Hits without a source
    are not counted here."""
    periods: dict[str, int]
    """Period -> hits, in time order, only periods with hits: ``"2021"`` by year,
    ``"2021-03"`` by month."""
    by: str = "year"
    """``"month"`` when the dated hits all fall within facets.MONTHS_WITHIN calendar
    months, else ``"year"``."""
    undated: int = 0
    """Hits without a known date (not counted in periods)."""

    def to_json(self) -> dict[str, Any]:
        """``{"sources": {...}, "years" or "months": {...}, "undated": n}``."""
        return {"sources": dict(self.sources), f"{self.by}s": dict(self.periods),
                "undated": self.undated}


@dataclass
class SearchResults:
    """A page of hits for one query, with what the user needs to read it."""

    query: str
    total: int
    hits: list[Hit]
    elapsed: float
    partial: bool = False
    undated_excluded: int = 0
    terms: list[str] = field(default_factory=list)
    """The query's words and phrases as the engine highlights them (normalized), e.g. to
    mark them in a whole document."""
    total_exact: bool = True
    """False when ``total`` is an estimate (at least that many): a query matching
    thousands of documents is ranked without reading them all."""
    complete: int | None = None
    """How many of ``total`` have every word of the query: they rank first, and
    documents with most of the words follow them when they are fewer than the
    page (None: all of them, as when no partial matches were added)."""
    facets: Facets | None = None
    """The whole result set by source and by period (None when not asked for)."""
    partial_shards: list[str] = field(default_factory=list)
    """The shards of a sharded index that could not be read, so whose documents are
    missing from these results (only when the index was opened with allow_partial)."""
    folded: int | None = None
    """How many hits, ranked up to the end of this page, were folded under a
    better-ranked copy (see ``Hit.duplicates``); None when the search did not fold."""

    def to_json(self) -> dict[str, Any]:
        """The results as the JSON object of the ``--json`` output contract.

        ``"total_exact": false`` is added when the total is an estimate, and
        ``"complete": N`` when only the first N of the total have every word
        (documents with most of the words follow them); otherwise the object
        is as it always was.
        """
        data: dict[str, Any] = {"query": self.query, "total": self.total}
        if not self.total_exact:
            data["total_exact"] = False
        data["partial"] = self.partial
        if self.partial_from and not self.partial:
            data["complete"] = self.partial_from
        data["hits"] = [hit.to_json() for hit in self.hits]
        if self.facets is not None and self.total:  # no hits: the object stays as it was
            data["facets"] = self.facets.to_json()
        if self.partial_shards:
            data["partial_shards"] = list(self.partial_shards)
        if self.folded:
            data["folded"] = self.folded
        return data

    @property
    def partial_from(self) -> int | None:
        """The rank (0-based, over all pages) of the first hit lacking a word, None if none does."""
        if self.partial:
            return 0
        if self.complete is not None and self.complete < self.total:
            return self.complete
        return None

    def total_text(self) -> str:
        """The total for people: '123', or 'about 12,345' when it is an estimate."""
        return str(self.total) if self.total_exact else f"about {self.total:,}"


@dataclass
class DuplicateDocument:
    """One document of a cluster of near-duplicates."""

    id: str
    path: str | None
    title: str
    date: dt.date | None
    source: str | None
    similarity: float
    """How much of the smaller of this document and the cluster's first one the
    other holds (1.0 for the first, the cluster's largest document)."""

    def to_json(self) -> dict[str, Any]:
        """The document as an object of ``searchkit duplicates --json``."""
        return {"id": self.id, "path": self.path, "title": self.title,
                "date": self.date.isoformat() if self.date else None,
                "source": self.source, "similarity": round(self.similarity, 3)}


@dataclass
class DuplicateCluster:
    """Documents of an index that are copies of one another (reprints, excerpts, edits)."""

    documents: list[DuplicateDocument]
    """The largest document first, then the others, most similar first."""

    def to_json(self) -> dict[str, Any]:
        """The cluster as an object of ``searchkit duplicates --json``."""
        return {"size": len(self.documents), "documents": [d.to_json() for d in self.documents]}


@dataclass
class IndexStats:
    """Size and make-up of an index."""

    path: str
    documents: int
    sources: dict[str, int]
    earliest: dt.date | None
    latest: dt.date | None
    undated: int
    size_bytes: int
    analyzer: dict[str, Any]
    shards: list[dict[str, Any]] = field(default_factory=list)
    """Of a sharded index, each shard's name, documents and size_bytes (in routing order)."""


@dataclass
class IndexReport:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    megabytes: float = 0.0
    """Size of the files (or JSON Lines parts) that gave documents: text actually indexed."""
    seconds: float = 0.0
    not_text: dict[str, int] = field(default_factory=dict)
    """Files left out as not text (images, style sheets, fonts...), by kind: ``{"png": 201}``."""

    def summary(self) -> str:
        """A one-line summary for people."""
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.skipped} skipped; "
            f"{self.megabytes:.2f} MB in {self.seconds:.2f} s"
        )


_SHOWN_KINDS = 8


def not_text_line(counts: Mapping[str, int]) -> str | None:
    """One line counting the files that were not text, biggest kinds first."""
    total = sum(counts.values())
    if not total:
        return None
    kinds = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = [f"{kind} {count}" for kind, count in kinds[:_SHOWN_KINDS]]
    if len(kinds) > _SHOWN_KINDS:
        shown.append("…")
    return f"{total} file{'s' if total != 1 else ''} not text ({', '.join(shown)})"
