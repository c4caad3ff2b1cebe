"""Queries, matchers and a scoring model built on Whoosh's private parts.

What searchkit's search needs that Whoosh's public classes do not give: a
term query that looks its term up once per segment, a phrase built on it, an
AndNot whose matcher always excludes, BM25F statistics over live documents
only, and the scoring of every match without Whoosh's collector. Each gives
exactly the matches and floats of the stock class it replaces (see the
identity tests in tests/test_engine.py and tests/test_updates.py).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

from whoosh import matching, scoring
from whoosh import query as wq
from whoosh.reading import TermNotFound

from . import writer


class LiveBM25F(scoring.BM25F):
    """Whoosh's BM25F, with collection statistics over the live documents only.

    Whoosh counts a deleted document in the document count, the field-length
    totals and the document frequencies until its segment is merged away,
    so an updated index ranked unlike a clean build of the same files. This
    model takes those figures over the live documents: the same integers, so
    the very same floats, as a clean build (see ``_LiveStatistics``).
    """

    def __init__(self) -> None:
        super().__init__()
        self._statistics: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def statistics(self, searcher) -> "_LiveStatistics":
        """The live statistics of searcher's top-level searcher, computed once."""
        parent = searcher.get_parent()
        found = self._statistics.get(parent)
        if found is None:
            found = self._statistics[parent] = _LiveStatistics(parent.reader())
        return found

    def idf(self, searcher, fieldname: str, text) -> float:
        """Whoosh's idf, log(N / (n + 1)) + 1, over the live documents."""
        statistics = self.statistics(searcher)
        return math.log(statistics.count / (statistics.doc_frequency(fieldname, text) + 1)) + 1

    def scorer(self, searcher, fieldname: str, text, qf: int = 1):
        """Whoosh's BM25F scorer, given the live average field length."""
        if not searcher.schema[fieldname].scorable:
            return super().scorer(searcher, fieldname, text, qf)
        return _LiveBM25FScorer(searcher, fieldname, text, self._field_B.get(fieldname, self.B),
                                self.K1, qf, self.statistics(searcher))


class _LiveBM25FScorer(scoring.BM25FScorer):
    """BM25FScorer.__init__ with the average field length of the live documents."""

    def __init__(self, searcher, fieldname, text, B, K1, qf, statistics) -> None:
        self.idf = searcher.get_parent().idf(fieldname, text)  # cached per searcher
        self.avgfl = statistics.field_length(fieldname) / (statistics.count or 1) or 1
        self.B, self.K1, self.qf = B, K1, qf
        self.setup(searcher, fieldname, text)


class _LiveStatistics:
    """Document count, field-length totals and document frequencies of the live documents.

    Whoosh's figures less those of the deleted documents, segment by segment:
    their exact lengths are recorded in a column, and a term's deleted
    documents are counted in the posting blocks that span a deleted document
    (segments keep at most writer.MAX_DELETED of theirs), once per searcher
    and term. Without deletions these are Whoosh's own figures.
    """

    def __init__(self, reader) -> None:
        self._reader = reader
        self.count = reader.doc_count()
        leaves = [leaf for leaf, _ in reader.leaf_readers()] if not reader.is_atomic() else [reader]
        self._deleted = [(leaf, docs, frozenset(docs)) for leaf, docs
                         in ((leaf, writer.deleted_docs(leaf)) for leaf in leaves if leaf.has_deletions())]
        self._lengths: dict[str, int] = {}
        self._frequencies: dict[tuple[str, bytes], int] = {}

    def field_length(self, fieldname: str) -> int:
        """The summed lengths in fieldname of the live documents."""
        total = self._lengths.get(fieldname)
        if total is None:
            total = self._reader.field_length(fieldname)
            for leaf, _, _ in self._deleted:
                # None: a segment from before exact lengths were recorded,
                # left as Whoosh counts it until its first merge.
                total -= writer.deleted_length(leaf, fieldname) or 0
            self._lengths[fieldname] = total
        return total

    def doc_frequency(self, fieldname: str, text) -> int:
        """How many live documents have the term."""
        key = (fieldname, text)
        frequency = self._frequencies.get(key)
        if frequency is None:
            frequency = self._reader.doc_frequency(fieldname, text)
            if self._deleted:
                btext = self._reader.schema[fieldname].to_bytes(text) if isinstance(text, str) else text
                for leaf, deleted, gone in self._deleted:
                    frequency -= writer.deleted_postings(leaf, fieldname, btext, deleted, gone)
            self._frequencies[key] = frequency
        return frequency


def scored_matches(searcher, query: wq.Query, allow: set[int] | None = None) -> list[tuple[int, float]]:
    """(docnum, score) of every document matching query (and in allow, if given).

    The scores are those of ``searcher.search(query, limit=None)``: the same
    matchers, built with the same context, each document scored by the same
    additions (see ``match_scores``), without the collector and Results
    objects around them. (The matches too, but that a NOT here always
    excludes what it names, see ``match_scores``.)
    """
    context = searcher.context()
    found = []
    for subsearcher, offset in searcher.leaf_searchers():
        scores = match_scores(query.matcher(subsearcher, context))
        found.extend((offset + docnum, score) for docnum, score in scores.items()
                     if allow is None or offset + docnum in allow)
    return found


def match_scores(matcher) -> dict[int, float]:
    """Docnum -> score of every match of a Whoosh matcher tree.

    Stepping a union (Or) matcher document by document costs more than the
    scoring itself. So each side of a union is scored on its own and the
    scores of a document found on both sides are added ``a + b``, as
    ``UnionMatcher.score`` adds them; a boost multiplies as
    ``WrappingMatcher.score`` does. The floats are therefore the very same.
    Any other matcher (intersections, phrases, filters) is stepped as
    Whoosh's collector steps it.
    """
    kind = type(matcher)
    if kind is matching.UnionMatcher:
        scores = match_scores(matcher.a)
        for docnum, score in match_scores(matcher.b).items():
            found = scores.get(docnum)
            scores[docnum] = score if found is None else found + score
        return scores
    if kind is matching.WrappingMatcher:
        boost = matcher.boost
        return {docnum: score * boost for docnum, score in match_scores(matcher.child).items()}
    scores = {}
    while matcher.is_active():
        scores[matcher.id()] = matcher.score()
        matcher.next()
    return scores


class Term(wq.Term):
    """A Whoosh term query that looks its term up once per segment.

    Whoosh's own Term looks the term up in a segment's term table each time a
    matcher tree is weighed (once for every And or Or around it), once more
    before opening the postings and again to set up the scorer: a query of a
    few words makes dozens of such lookups. This one keeps the TermInfo it read
    per segment (for the life of the query, which is built anew for every
    search) and hands it to the scorer. Matching and scoring are Whoosh's.
    """

    def __init__(self, fieldname: str, text: str, boost: float = 1.0) -> None:
        super().__init__(fieldname, text, boost=boost)
        self._infos: dict[Any, Any] = {}  # reader -> its TermInfo, None if the term is absent

    def _term_info(self, ixreader):
        if ixreader not in self._infos:
            try:
                text = ixreader.schema[self.fieldname].to_bytes(self.text)
                self._infos[ixreader] = ixreader.term_info(self.fieldname, text)
            except (TermNotFound, KeyError, ValueError):  # no such term, field or value
                self._infos[ixreader] = None
        return self._infos[ixreader]

    def estimate_size(self, ixreader) -> int:
        """The term's document frequency in ixreader (0 if absent), read once."""
        info = self._term_info(ixreader)
        return info.doc_frequency() if info is not None else 0

    def matcher(self, searcher, context=None):
        """Whoosh's Term.matcher for one segment, with the TermInfo read once."""
        if not searcher.is_atomic():  # searches run segment by segment; this is never hot
            return super().matcher(searcher, context)
        info = self._term_info(searcher.reader())
        if info is None:
            return matching.NullMatcher()
        weighting = (searcher.weighting if context is None else context.weighting) or searcher.weighting
        text = searcher.schema[self.fieldname].to_bytes(self.text)
        scorer = weighting.scorer(_KnownTerm(searcher, info), self.fieldname, text)
        postings = searcher.reader().postings(self.fieldname, text, scorer=scorer)
        return matching.WrappingMatcher(postings, boost=self.boost) if self.boost != 1.0 else postings


class _KnownTerm:
    """A searcher as BM25F's scorer uses it (schema, parent, lengths, term_info),
    answering term_info with the TermInfo already read instead of a look-up."""

    def __init__(self, searcher, info) -> None:
        self.schema = searcher.schema
        self.get_parent = searcher.get_parent
        self.doc_field_length = searcher.doc_field_length
        self._info = info

    def term_info(self, fieldname: str, text: bytes):
        """The TermInfo of the one term being scored."""
        return self._info


class Phrase(wq.Phrase):
    """A Whoosh phrase query whose words are looked up once per segment (see Term).

    Whoosh's Phrase checks that every word is in the segment, then opens each
    with a new Term query that checks again, and estimates its size with yet
    other Term queries; this one asks its own Term queries every time.
    """

    def __init__(self, fieldname: str, words: list[str], boost: float = 1.0) -> None:
        super().__init__(fieldname, words, boost=boost)
        self._terms = [Term(fieldname, word) for word in words]

    def estimate_size(self, ixreader) -> int:
        """The smallest document frequency of the words, as Whoosh's Phrase estimates it."""
        return min(term.estimate_size(ixreader) for term in self._terms)

    def matcher(self, searcher, context=None):
        """Whoosh's Phrase.matcher (words in order, next to each other), over Term queries."""
        reader = searcher.reader()
        if not all(term.estimate_size(reader) for term in self._terms):
            return matching.NullMatcher()
        near = wq.SpanNear2(self._terms, slop=self.slop, ordered=True, mindist=1)
        found = near.matcher(searcher, context)
        return matching.WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


class AndNot(wq.AndNot):
    """Whoosh's AndNot query, with a matcher that moves correctly (_AndNotMatcher)."""

    def matcher(self, searcher, context=None):
        """Whoosh's AndNot.matcher, with _AndNotMatcher."""
        scored = self.a.matcher(searcher, context)
        excluded = self.b.matcher(searcher, searcher.boolean_context())
        return _AndNotMatcher(scored, excluded)


class _AndNotMatcher(matching.AndNotMatcher):
    """Whoosh's AndNotMatcher, with two mistakes in how it moves corrected.

    - Whoosh's checks its first document against the excluded side only when
      both sides start on the same document: when the excluded side started
      earlier, the first document of the kept side was kept even if excluded
      (``林长制 -山`` found the one document about 林长制, which mentions 山).
    - Skipped past the last document of its kept side (by an And around it),
      Whoosh's reads the id of that exhausted side: an IndexError
      (``(民政 -预制菜) 林长制``).
    """

    def _find_first(self) -> None:
        if self.a.is_active() and self.b.is_active():
            self._find_next()  # skips the excluded side to the first document, then past it

    def _find_next(self) -> bool:
        if not self.a.is_active():  # nothing left to exclude from
            return False
        return super()._find_next()
