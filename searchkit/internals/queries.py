"""Queries, matchers and a scoring model built on Whoosh's private parts.

What searchkit's search needs that Whoosh's public classes do not give: a
term query that looks its term up once per segment, a phrase built on it, an
AndNot whose matcher always excludes, BM25F statistics over live documents
only, and the scoring of every match without Whoosh's collector. Each gives
exactly the matches and floats of the stock class it replaces (see the
identity tests in tests/test_engine.py and tests/test_updates.py).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import threading
import weakref
from array import array
from typing import Any

import numpy as np
from whoosh import matching, scoring
from whoosh import query as wq
from whoosh.reading import TermNotFound
from whoosh.matching import ReadTooFar
from whoosh.util import make_binary_tree

from . import writer
from .columns import unsigned_column


class LiveBM25F(scoring.BM25F):
    """Whoosh's BM25F, with collection statistics over the live documents only.

    Whoosh counts a deleted document in the document count, the field-length
    totals and the document frequencies until its segment is merged away,
    so an updated index ranked unlike a clean build of the same files. This
    model takes those figures over the live documents: the same integers, so
    the very same floats, as a clean build (see ``_LiveStatistics``).
    """

    def __init__(self, statistics: "_LiveStatistics | GatheredStatistics | None" = None) -> None:
        super().__init__()
        self._statistics: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.shared = statistics

    def statistics(self, searcher) -> "_LiveStatistics | GatheredStatistics":
        """The live statistics of searcher's top-level searcher, computed once.

        Or the statistics given when the model was made: those of every shard
        of a sharded index (see shards.py), so that each shard scores its
        documents as one index of all of them would.
        """
        if self.shared is not None:
            return self.shared
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
        # Given statistics change from search to search (another shard
        # changed): their idf is not kept in the searcher's cache.
        idf = self.idf(searcher, fieldname, text) if self.shared is not None \
            else searcher.get_parent().idf(fieldname, text)
        return _LiveBM25FScorer(searcher, fieldname, text, self._field_B.get(fieldname, self.B),
                                self.K1, qf, self.statistics(searcher), idf)


class _LiveBM25FScorer(scoring.BM25FScorer):
    """BM25FScorer.__init__ with the average field length of the live documents."""

    def __init__(self, searcher, fieldname, text, B, K1, qf, statistics, idf: float) -> None:
        self.idf = idf
        self.avgfl = statistics.field_length(fieldname) / (statistics.count or 1) or 1
        self.B, self.K1, self.qf = B, K1, qf
        self._max_weight = searcher.term_info(fieldname, text).max_weight()
        self.setup(searcher, fieldname, text)

    def max_quality(self) -> float:
        """The highest score the term can give a document: its highest weight
        (a term statistic every codec keeps) at the shortest length a field
        holding it can have, one token. (Whoosh's own bound also reads the
        term's shortest field length, which not every codec records.)"""
        return self._score(self._max_weight, 1)


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


def live_statistics(reader) -> _LiveStatistics:
    """The collection statistics of one index's live documents (reader: its top-level reader)."""
    return _LiveStatistics(reader)


class GatheredStatistics:
    """Collection statistics given as figures: a sharded index's, gathered from every shard.

    The document count, field-length totals and document frequencies are
    integers summed over the shards, so BM25F computes from them the very
    floats one index of all the documents gives. A shard scores with the
    table of the search at hand (``use``); a figure the table lacks is a
    ``MissingStatisticError``, never the shard's own figure in silence.
    """

    def __init__(self) -> None:
        self._table: "StatisticsTable | None" = None

    def use(self, table: "StatisticsTable") -> None:
        """Score with this table from now on (the coordinator's, for one search)."""
        self._table = table

    @property
    def count(self) -> int:
        return self._current().count

    def field_length(self, fieldname: str) -> int:
        """The summed lengths in fieldname of every shard's live documents."""
        try:
            return self._current().lengths[fieldname]
        except KeyError:
            raise MissingStatisticError(f"the length of field {fieldname!r} was not gathered") from None

    def doc_frequency(self, fieldname: str, text) -> int:
        """How many live documents of all shards have the term."""
        try:
            return self._current().frequencies[(fieldname, text)]
        except KeyError:
            raise MissingStatisticError(f"the frequency of {fieldname}:{text!r} was not gathered") from None

    def _current(self) -> "StatisticsTable":
        if self._table is None:
            raise MissingStatisticError("no statistics were gathered for this search")
        return self._table


class MissingStatisticError(LookupError):
    """A shard asked for a collection statistic the coordinator did not gather (a bug, said loudly)."""


class StatisticsTable:
    """The figures BM25F reads: document count, field-length totals, document frequencies.

    Plain data (picklable): one shard's figures for a query's terms, or
    the sum of every shard's (``summed``). Frequencies are keyed by
    (field, term bytes).
    """

    __slots__ = ("count", "lengths", "frequencies")

    def __init__(self, count: int, lengths: dict[str, int], frequencies: dict[tuple[str, bytes], int]) -> None:
        self.count, self.lengths, self.frequencies = count, lengths, frequencies

    def __getstate__(self):
        return self.count, self.lengths, self.frequencies

    def __setstate__(self, state) -> None:
        self.count, self.lengths, self.frequencies = state

    def __eq__(self, other) -> bool:
        return isinstance(other, StatisticsTable) and self.__getstate__() == other.__getstate__()

    @classmethod
    def summed(cls, tables: "list[StatisticsTable]") -> "StatisticsTable":
        """The figures of all these shards taken as one index.

        A term one shard lacks (a term a query expands to elsewhere) counts
        as none of its documents; every shard gives every scorable field's length.
        """
        lengths: dict[str, int] = {}
        frequencies: dict[tuple[str, bytes], int] = {}
        for table in tables:
            for fieldname, length in table.lengths.items():
                lengths[fieldname] = lengths.get(fieldname, 0) + length
            for key, frequency in table.frequencies.items():
                frequencies[key] = frequencies.get(key, 0) + frequency
        return cls(sum(table.count for table in tables), lengths, frequencies)


def query_statistics(statistics: _LiveStatistics, schema, queries) -> StatisticsTable:
    """One index's figures for everything scoring queries may ask of it (see ``asked_terms``)."""
    lengths = {name: statistics.field_length(name) for name, field in schema.items() if field.scorable}
    frequencies = {key: statistics.doc_frequency(*key) for query in queries for key in asked_terms(query, schema)}
    return StatisticsTable(statistics.count, lengths, frequencies)


def asked_terms(query: wq.Query, schema) -> set[tuple[str, bytes]]:
    """(field, term bytes) of every term whose statistics matching or scoring query reads.

    Its terms, a phrase's words (each a Term, see Phrase), whatever field,
    whether or not an index holds them (ranking reads the frequency of an
    absent word too, see ``live_doc_frequency``). A query that expands
    into terms per index (prefix, wildcard: Whoosh's MultiTerm) is refused:
    the compiler makes none, and its terms would have to be gathered per shard.
    """
    keys: set[tuple[str, bytes]] = set()
    stack = [query]
    while stack:
        node = stack.pop()
        if isinstance(node, wq.MultiTerm):
            raise MissingStatisticError(f"statistics of {type(node).__name__} queries are not gathered")
        if isinstance(node, wq.Phrase):
            words = [(node.fieldname, word) for word in node.words]
        elif isinstance(node, wq.Term):
            words = [(node.fieldname, node.text)]
        else:
            stack.extend(node.children())
            continue
        for fieldname, text in words:
            if fieldname in schema:
                try:
                    keys.add((fieldname, schema[fieldname].to_bytes(text) if isinstance(text, str) else text))
                except ValueError:  # no such value in this field: no matcher asks for it
                    pass
    return keys


def scored_matches(searcher, query: wq.Query, allow: set[int] | None = None) -> list[tuple[int, float]]:
    """(docnum, score) of every document matching query (and in allow, if given).

    The scores are those of ``searcher.search(query, limit=None)``: the same
    matchers, built with the same context, each document scored by the same
    additions (see ``match_scores``), without the collector and Results
    objects around them. (The matches too, but that a NOT here always
    excludes what it names, see ``match_scores``.)

    The matches are found first, without scores (``matching_ids``: an AND
    leaps from one document of its rarest part to the next); then the
    scoring matchers are opened at the first of them (``FIRST_DOC``) and
    scored there only. (Whoosh's AND of a pasted line of verse walked the
    frequent characters' postings pairwise: 30 ms of a 33 ms search.)
    ``allow`` skips the finding: the documents it names are scored where
    the query matches them.
    """
    context = searcher.context()
    found = []
    find = allow is None and _has_conjunction(query)
    for subsearcher, offset in searcher.leaf_searchers():
        if allow is None and not find:  # the matches are the union of the leaves': step them
            scores = match_scores(query.matcher(subsearcher, context))
            found.extend((offset + docnum, score) for docnum, score in scores.items())
            continue
        if find:
            docs = list(matching_ids(subsearcher, query))
        else:
            end = offset + subsearcher.reader().doc_count_all()
            docs = sorted(docnum - offset for docnum in allow if offset <= docnum < end)
        if not docs:
            continue
        matcher = query.matcher(subsearcher, context.set(**{FIRST_DOC: docs[0]}))
        scores = match_scores(matcher, docs)
        found.extend((offset + docnum, score) for docnum, score in scores.items())
    return found


FIRST_DOC = "searchkit_first_doc"
"""A SearchContext attribute: no document before this one is wanted.

Term matchers opened in such a context start there (see ``Term.matcher``),
so that Whoosh's AND, whose matcher looks for its first match as it is
built, starts from a match already known instead of searching for it."""


def match_scores(matcher, docs: list[int] | None = None) -> dict[int, float]:
    """Docnum -> score of every match of a Whoosh matcher tree (among docs, if given).

    Stepping a union (Or) matcher document by document costs more than the
    scoring itself. So each side of a union is scored on its own and the
    scores of a document found on both sides are added ``a + b``, as
    ``UnionMatcher.score`` adds them; a boost multiplies as
    ``WrappingMatcher.score`` does. The floats are therefore the very same.
    Any other matcher (intersections, phrases, filters) is stepped as
    Whoosh's collector steps it, or, given docs (ascending), skipped to each.
    """
    kind = type(matcher)
    if kind is matching.UnionMatcher:
        scores = match_scores(matcher.a, docs)
        for docnum, score in match_scores(matcher.b, docs).items():
            found = scores.get(docnum)
            scores[docnum] = score if found is None else found + score
        return scores
    if kind is matching.WrappingMatcher:
        boost = matcher.boost
        return {docnum: score * boost for docnum, score in match_scores(matcher.child, docs).items()}
    scores = {}
    if docs is None:
        while matcher.is_active():
            scores[matcher.id()] = matcher.score()
            matcher.next()
        return scores
    for docnum in docs:
        if not matcher.is_active():
            break
        if matcher.id() < docnum:
            matcher.skip_to(docnum)
            if not matcher.is_active():
                break
        if matcher.id() == docnum:
            scores[docnum] = matcher.score()
    return scores


def matching_docs(searcher, query: wq.Query) -> list[int]:
    """The docnums of the documents matching query, ascending, unscored (see ``finding_matcher``).

    What ``searcher.docs_for_query(query)`` gives, found the way
    ``scored_matches`` finds its matches.
    """
    return [offset + docnum for subsearcher, offset in searcher.leaf_searchers()
            for docnum in matching_ids(subsearcher, query)]


def matching_ids(searcher, query: wq.Query):
    """The docnums (ascending) of the documents matching query in one segment, unscored.

    An OR's are its parts' ids in one set: stepping Whoosh's tree of unions
    document by document cost twice as much.
    """
    if type(query) is wq.And:
        parts = [part for part in _and_parts(query) if not _matches_all(part)]
        if len(parts) == 1:  # an AND of a query and Every(): the query's
            return matching_ids(searcher, parts[0])
    if type(query) is wq.Or:
        found: set[int] = set()
        for part in query.subqueries:
            found.update(matching_ids(searcher, part))
        return sorted(found)
    matcher = finding_matcher(searcher, query)
    if isinstance(matcher, _Conjunction):
        return matcher.ids()
    return matcher.all_ids()


def finding_matcher(searcher, query: wq.Query):
    """A matcher of the documents query matches, for finding them, not scoring them.

    An AND (nested ANDs flattened) is a ``_Conjunction`` over its parts,
    rarest first; an AND-MAYBE is its required side; an AND-NOT excludes
    from its kept side. Whatever else is Whoosh's own matcher. An Every()
    beside other parts of an AND adds nothing (posting matchers already
    leave deleted documents out) and is dropped: stepping it read every
    document of the index.
    """
    kind = type(query)
    if kind is wq.And:
        parts = _and_parts(query)
        everything = [part for part in parts if _matches_all(part)]
        if everything and len(everything) < len(parts):
            parts = [part for part in parts if not _matches_all(part)]
        if len(parts) == 1:
            return finding_matcher(searcher, parts[0])
        reader = searcher.reader()
        sized = sorted(((part.estimate_size(reader), i, part) for i, part in enumerate(parts)))
        matchers = []
        for _, _, part in sized:
            matcher = finding_matcher(searcher, part)
            if not matcher.is_active():
                return matching.NullMatcher()
            matchers.append(matcher)
        return _Conjunction(matchers)
    if kind is AndMaybe:
        return finding_matcher(searcher, query.a)
    if kind is AndNot:
        kept = finding_matcher(searcher, query.a)
        return _AndNotMatcher(kept, query.b.matcher(searcher, searcher.boolean_context()))
    if kind is wq.Or and any(type(sub) in (wq.And, AndMaybe, AndNot) for sub in query.subqueries):
        subs = [finding_matcher(searcher, sub) for sub in query.subqueries]
        subs = [sub for sub in subs if sub.is_active()]
        if not subs:
            return matching.NullMatcher()
        return make_binary_tree(matching.UnionMatcher, subs)
    return query.matcher(searcher, searcher.boolean_context())


def _has_conjunction(query: wq.Query) -> bool:
    """Whether query has an AND, AND-MAYBE or AND-NOT: documents to find before scoring."""
    stack = [query]
    while stack:
        node = stack.pop()
        if type(node) in (wq.And, AndMaybe, AndNot):
            return True
        if type(node) is wq.Or:
            stack.extend(node.subqueries)
    return False


def _and_parts(query: wq.And) -> list[wq.Query]:
    """What a document must match to match an AND: its parts, ANDs inside it
    flattened and an AND-MAYBE replaced by its required side (boosts and the
    optional side do not change what matches)."""
    parts, stack = [], list(reversed(query.subqueries))
    while stack:
        part = stack.pop()
        if type(part) is wq.And:
            stack.extend(reversed(part.subqueries))
        elif type(part) is AndMaybe:
            stack.append(part.a)
        else:
            parts.append(part)
    return parts


def _matches_all(query: wq.Query) -> bool:
    return type(query) is wq.Every and query.fieldname is None


class _Conjunction(matching.Matcher):
    """The documents all of several matchers match, for finding, not scoring.

    Leapfrog: each matcher in turn (rarest first) skips to the candidate,
    and any that lands past it gives the next candidate; a document where
    none moves past is a match. The rarest part sets the pace, whatever the
    others' sizes. (Whoosh's AND is a tree of pairs, the frequent parts
    paired first: a pair of two frequent characters' postings was walked
    to its own next common document at every step.) No scores: see
    ``scored_matches``.
    """

    def __init__(self, matchers: list) -> None:
        self._matchers = matchers
        self._id = -1
        self._active = True
        self._settle(matchers[0].id())

    def _settle(self, target: int) -> None:
        """Move to the first document from target on that every matcher has."""
        matchers = self._matchers
        while True:
            for matcher in matchers:
                if matcher.id() < target:
                    matcher.skip_to(target)
                    if not matcher.is_active():
                        self._active = False
                        return
                if matcher.id() > target:
                    target = matcher.id()
                    break
            else:
                self._id = target
                return

    def is_active(self) -> bool:
        return self._active

    def id(self) -> int:
        return self._id

    def next(self) -> None:
        if not self._active:
            raise matching.ReadTooFar
        lead = self._matchers[0]
        lead.next()
        if not lead.is_active():
            self._active = False
            return
        self._settle(lead.id())

    def skip_to(self, target: int) -> None:
        if not self._active:
            raise matching.ReadTooFar
        if target > self._id:
            self._settle(target)

    def ids(self):
        """The docnums of the remaining matches, ascending."""
        while self._active:
            yield self._id
            self.next()

    def all_ids(self):
        return self.ids()

    def copy(self):
        raise NotImplementedError  # a finding matcher is used once

    def supports_block_quality(self) -> bool:
        return False

    def score(self) -> float:
        raise NotImplementedError("a _Conjunction finds documents; scored_matches scores them")


def live_doc_frequency(searcher, term: "Term") -> int:
    """How many live documents of searcher have term (see LiveBM25F)."""
    weighting = searcher.weighting
    if isinstance(weighting, LiveBM25F):
        text = searcher.schema[term.fieldname].to_bytes(term.text)
        # A shard without the term still answers for all shards (see GatheredStatistics).
        if weighting.shared is None and term.estimate_size(searcher.reader()) == 0:
            return 0
        return weighting.statistics(searcher).doc_frequency(term.fieldname, text)
    return term.estimate_size(searcher.reader())


def score_bound(searcher, query: wq.Query) -> float | None:
    """The highest score query can give a document of searcher, or None if not known.

    Of a term, its scorer's ``max_quality`` (the highest in any segment);
    of a phrase, the sum of its words' (a phrase match scores as the AND
    of its words); of an AND, OR or AND-MAYBE, the sum of its parts'; any
    boost multiplies. Whatever else (ranges, filters) is not bounded here.
    """
    kind = type(query)
    if kind is Term:
        bound = 0.0
        for subsearcher, _ in searcher.leaf_searchers():
            bound = max(bound, query.score_bound(subsearcher, searcher.weighting))
        return bound * query.boost
    if kind is Phrase:
        parts = [score_bound(searcher, term) for term in query._terms]
    elif kind in (wq.And, wq.Or):
        parts = [score_bound(searcher, sub) for sub in query.subqueries]
    elif kind is AndMaybe:
        parts = [score_bound(searcher, query.a), score_bound(searcher, query.b)]
    else:
        return None
    if any(part is None for part in parts):
        return None
    return sum(parts) * query.boost


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

    def __getstate__(self):  # sent to another process (a shard's, see shard_service.py) without its readers
        return {**self.__dict__, "_infos": {}}

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

    def score_bound(self, searcher, weighting) -> float:
        """The highest score (before boost) the term gives a document of one segment's searcher."""
        info = self._term_info(searcher.reader())
        if info is None:
            return 0.0
        text = searcher.schema[self.fieldname].to_bytes(self.text)
        return weighting.scorer(_KnownTerm(searcher, info), self.fieldname, text).max_quality()

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
        first = getattr(context, FIRST_DOC, 0)
        if first and postings.is_active() and postings.id() < first:
            postings.skip_to(first)  # see scored_matches
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

    ordered = True  # the words in the query's order (Near: in any)

    def __init__(self, fieldname: str, words: list[str], boost: float = 1.0) -> None:
        super().__init__(fieldname, words, boost=boost)
        self._terms = [Term(fieldname, word) for word in words]

    def estimate_size(self, ixreader) -> int:
        """The smallest document frequency of the words, as Whoosh's Phrase estimates it."""
        return min(term.estimate_size(ixreader) for term in self._terms)

    def matcher(self, searcher, context=None):
        """Whoosh's Phrase.matcher (words in order, within slop), over Term queries."""
        reader = searcher.reader()
        if not all(term.estimate_size(reader) for term in self._terms):
            return matching.NullMatcher()
        near = wq.SpanNear2(self._terms, slop=self.slop, ordered=self.ordered, mindist=1)
        found = near.matcher(searcher, context)
        return matching.WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


class Near(Phrase):
    """Words within slop positions of each other, in any order (a proximity bonus).

    Matching is Whoosh's SpanNear2, unordered (Phrase.matcher); a match scores
    as its words do (times boost), like a Phrase.
    """

    ordered = False

    def __init__(self, fieldname: str, words: list[str], slop: int, boost: float = 1.0) -> None:
        super().__init__(fieldname, words, boost=boost)
        self.slop = slop


class _AndMaybeMatcher(matching.AndMaybeMatcher):
    """Whoosh's AndMaybeMatcher, its optional side brought to the required side's document.

    Whoosh's ``skip_to(id)`` moves the optional side to id, not to where the
    required side landed (past id, when it lacks id), and
    ``skip_to_quality`` moves one side only. The optional side, left behind
    the required side's document, was then not added to its score, so a
    document's score depended on which documents a search skipped through:
    ``如山 无休 人若`` scored a poem 10.2029 among the matches of one index
    and 12.1889 (Whoosh's own collector's figure) searched alone, and a
    sharded index, whose shards skip through other documents, ranked 6 of
    500 queries on 20,000 poems unlike one index.
    """

    def skip_to(self, id):
        moved = super().skip_to(id)
        self._first_b()  # the optional side to the required side's document, as next() does
        return moved

    def skip_to_quality(self, minquality):
        skipped = super().skip_to_quality(minquality)
        self._first_b()
        return skipped


class AndMaybe(wq.AndMaybe):
    """Whoosh's AndMaybe query, with a matcher that keeps its optional side in step (_AndMaybeMatcher)."""

    matcherclass = _AndMaybeMatcher


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


class DayRange(wq.DateRange):
    """Whoosh's DateRange over a field of midnights, matched through a column of day numbers.

    Whoosh's matcher gathers, on every search, the documents of every trie
    term the range spans (a range of a year over 20,000 dated poems: 60% of
    a 19 ms search). This one finds them in the segment's documents sorted
    by day (``_DaySorted``, built once per segment reader) by two binary
    searches. It answers as Whoosh's does wherever every document's date
    field holds the midnight of the day its ``days`` column numbers
    (``date.toordinal()``, 0 for none; see indexer.document_fields): the
    same documents in a ListMatcher of the same constant score (the
    query's boost, as ConstantScoreQuery gives it). Anything else (a scored
    or exclusive range, a context that needs the terms, a reader of several
    segments or without the column) is left to Whoosh's matcher.
    """

    def __init__(self, fieldname: str, start: dt.datetime | None, end: dt.datetime | None,
                 days: str, boost: float = 1.0) -> None:
        super().__init__(fieldname, start, end, boost=boost)
        self.days = days

    def day_bounds(self) -> tuple[int, int]:
        """The first and last day (ordinals) whose midnight falls within the range."""
        first = 1  # day 0: no date, never in a range
        if self.startdate is not None:
            first = self.startdate.toordinal() + (self.startdate.time() != dt.time())
        last = self.enddate.toordinal() if self.enddate is not None else dt.date.max.toordinal()
        return first, last

    def _by_days(self, reader) -> "_DaySorted | None":
        """The segment's documents sorted by day, or None where Whoosh's matcher must answer."""
        if (self.startexcl or self.endexcl or not self.constantscore or not reader.is_atomic()
                or not reader.has_column(self.days)):
            return None
        return day_sorted(reader, self.days)

    def estimate_size(self, ixreader) -> int:
        """How many documents of the segment (live or not) the range holds."""
        found = self._by_days(ixreader)
        if found is None:
            return super().estimate_size(ixreader)
        return found.count(*self.day_bounds())

    def estimate_min_size(self, ixreader) -> int:
        return self.estimate_size(ixreader)

    def docs(self, searcher):
        return self.matcher(searcher, searcher.boolean_context()).all_ids()

    def matcher(self, searcher, context=None):
        """The live documents of the range in a ListMatcher scoring the boost, as Whoosh's."""
        found = self._by_days(searcher.reader())
        if found is None or (context is not None and context.needs_current):
            return super().matcher(searcher, context)
        return _constant_list(found.between(*self.day_bounds()), searcher.reader(), self.boost)


class Undated(wq.Query):
    """The documents whose day number (column ``days``) is 0: those without a date.

    The complement of the dated documents, found in the segment's documents
    sorted by day instead of by Whoosh's inverse matcher, which steps
    through every document of the index. Unscored (a constant 1.0): it
    counts, it does not rank.
    """

    def __init__(self, days: str) -> None:
        self.days = days
        self.boost = 1.0

    def __eq__(self, other) -> bool:
        return type(other) is Undated and other.days == self.days

    def __hash__(self) -> int:
        return hash((Undated, self.days))

    def __repr__(self) -> str:
        return f"Undated({self.days!r})"

    def estimate_size(self, ixreader) -> int:
        if not ixreader.is_atomic():
            return sum(self.estimate_size(leaf) for leaf, _ in ixreader.leaf_readers())
        if not ixreader.doc_count_all():
            return 0
        return day_sorted(ixreader, self.days).count(0, 0)

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        if not reader.is_atomic():  # searches run segment by segment; this is never hot
            docnums = [offset + docnum for sub, offset in searcher.leaf_searchers()
                       for docnum in self.matcher(sub, context).all_ids()]
            return _ListMatcher(array("I", docnums), all_weights=1.0) if docnums else matching.NullMatcher()
        if not reader.doc_count_all():  # a segment of no documents has no columns
            return matching.NullMatcher()
        return _constant_list(day_sorted(reader, self.days).between(0, 0), reader, 1.0)


def _constant_list(docnums: np.ndarray, reader, score: float):
    """A ListMatcher of the live documents of docnums (ascending), each scoring score.

    What ConstantScoreQuery makes of the range's documents: an array of
    unsigned ints (so ids are Python ints), the score as ``all_weights``.
    """
    if reader.has_deletions() and len(docnums):
        docnums = docnums[~np.isin(docnums, np.array(writer.deleted_docs(reader), dtype=docnums.dtype))]
    if not len(docnums):
        return matching.NullMatcher()
    ids = array("I")
    ids.frombytes(docnums.astype(np.uint32).tobytes())
    return _ListMatcher(ids, all_weights=score)


class _ListMatcher(matching.ListMatcher):
    """Whoosh's ListMatcher, skipping by binary search.

    Whoosh's steps id by id to the target: an AND leaping through a list of
    thousands of documents (a year's, the undated ones) spent most of its time there.
    """

    def skip_to(self, id):
        if not self.is_active():
            raise ReadTooFar
        if id > self._ids[self._i]:
            self._i = bisect.bisect_left(self._ids, id, self._i)


class _DaySorted:
    """One segment's docnums ordered by day number (then docnum), for finding a range of days."""

    def __init__(self, days: np.ndarray) -> None:
        self.docnums = np.argsort(days, kind="stable")
        self.days = days[self.docnums]

    def _slice(self, first: int, last: int) -> slice:
        return slice(int(np.searchsorted(self.days, first, "left")), int(np.searchsorted(self.days, last, "right")))

    def count(self, first: int, last: int) -> int:
        """How many documents (deleted ones too) have a day from first to last."""
        span = self._slice(first, last)
        return span.stop - span.start

    def between(self, first: int, last: int) -> np.ndarray:
        """The docnums (ascending) of the documents with a day from first to last, deleted ones too."""
        return np.sort(self.docnums[self._slice(first, last)])


_DAY_SORTED: "weakref.WeakKeyDictionary[Any, dict[str, _DaySorted]]" = weakref.WeakKeyDictionary()
_DAY_SORTED_LOCK = threading.Lock()  # shards of one process search in threads


def day_sorted(reader, days: str) -> _DaySorted:
    """The documents of one segment reader sorted by their days column, built once per reader.

    A segment's column never changes (deletions are read per search), so
    the order lives as long as the reader (20,000 documents: 1.2 ms to load
    and sort).
    """
    with _DAY_SORTED_LOCK:
        kept = _DAY_SORTED.setdefault(reader, {})
        found = kept.get(days)
        if found is None:
            found = kept[days] = _DaySorted(np.array(unsigned_column(reader, days), dtype=np.int64))
        return found
