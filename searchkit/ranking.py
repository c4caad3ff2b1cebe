"""Ranking the matches of a compiled query: every match scored, the first few ordered.

Scores are BM25F over the live documents (internals.queries); ties are
broken by date and id, never by where a document sits in the index, so an
updated index and a clean build of the same files rank alike.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter

from whoosh import query as wq

from . import schema
from .compiler import AndNot, Compiled, and_, or_, strip_dates
from .internals.queries import Term, Undated, live_doc_frequency, matching_docs, score_bound, scored_matches


FILL_BELOW = 100
"""Documents with every word under which those with most words follow (see ``ranked_hits``)."""


PRUNE_ABOVE = 1000
"""Matches (as the terms' document frequencies add up) from which a query of
alternatives only is ranked by bounds (``best_bounded``) and its total estimated."""


def best(searcher, compiled: Compiled, filters, top: int, sort: str, order: "TieBreak",
         prune: bool = True) -> "Ranked":
    """The first top matches of the query under filters, and how many there are.

    The total is exact, but for a query of alternatives only (one word, its
    characters, ...) with more than PRUNE_ABOVE matches: see ``best_bounded``.
    ``prune=False`` ranks every match (a shard of an index with passages in
    other shards: see shards.py).
    """
    combined = and_([compiled.query, *filters])
    if prune and sort == "relevance" and not order.tails:
        bounded = best_bounded(searcher, combined, top, order)
        if bounded is not None:
            return bounded
    # Every match is scored in one pass: that also gives the exact total
    # and lets ties at the cut be decided by date and id, not by where
    # documents sit in the index. (A top-N search skips blocks but then
    # runs the query a second time to count; on 100,000 poems the one pass
    # halved the median latency.)
    found = fold(scored_matches(searcher, combined), order)
    if sort == "date":
        # Newest first, undated (day 0) last, then as by relevance. Whoosh's
        # sorted search would break the remaining ties by docnum, which an
        # incremental update changes.
        return Ranked(len(found), first(found, top, order.date_rank, order.date_key),
                      matches=map(itemgetter(0), found))
    return Ranked(len(found), first(found, top, order.rank, order.key), matches=map(itemgetter(0), found))


def best_bounded(searcher, query, top: int, order: "TieBreak") -> "Ranked | None":
    """The first top matches of an OR of parts by their score bounds, or None where not fit.

    Exact top-k pruning (MaxScore): the parts are taken from the highest
    score bound down; the documents of those taken are scored in full (so
    with the very floats of an exhaustive search), and once the parts left
    could not together lift a document they alone match to the top-th
    score, the rest are never read. (The word 人 alone: the top ten all have
    it in the title, which no document without it can outscore.) The total
    is then the count of the documents read, or the largest part's live
    document frequency if more: an estimate, flagged as such.

    None (rank every match) for a query that is not an OR of bounded parts,
    or whose parts' frequencies add up to at most PRUNE_ABOVE.
    Needs no passages (a long document's passages would have to be
    folded before comparing).
    """
    parts = _alternatives(query)
    if len(parts) < 2:
        return None
    sizes = [_part_size(searcher, part) for part in parts]
    if sum(sizes) <= PRUNE_ABOVE:
        return None
    bounds = [score_bound(searcher, part) for part in parts]
    if any(bound is None for bound in bounds):
        return None
    ranked_parts = sorted(zip(bounds, sizes, parts), key=lambda item: -item[0])
    scored: dict[int, float] = {}
    for taken, (_, _, part) in enumerate(ranked_parts, 1):
        new = set(matching_docs(searcher, part)).difference(scored)
        if new:
            scored.update(scored_matches(searcher, query, allow=new))
        rest = sum(bound for bound, _, _ in ranked_parts[taken:])
        if taken < len(ranked_parts) and len(scored) >= top:
            cut = heapq.nlargest(top, scored.values())[-1]
            # 1e-6: ranks compare scores rounded to six places; a document
            # scoring at most rest must round strictly below the cut.
            if rest + 1e-6 < cut:
                pairs = list(scored.items())
                estimate = max([len(pairs), *(size for _, size, part in ranked_parts if type(part) is Term)])
                return Ranked(estimate, first(pairs, top, order.rank, order.key), exact=False)
    pairs = list(scored.items())
    return Ranked(len(pairs), first(pairs, top, order.rank, order.key), matches=scored.keys())


def _alternatives(query) -> list:
    """The parts of a query's outermost OR (ORs inside it flattened), [] if it is no OR.

    Boosted ORs are not flattened (their boost applies to the sum).
    """
    if type(query) is not wq.Or:
        return []
    parts, stack = [], [query]
    while stack:
        node = stack.pop()
        if type(node) is wq.Or and node.boost == 1.0:
            stack.extend(reversed(node.subqueries))
        else:
            parts.append(node)
    return parts


def _part_size(searcher, part) -> int:
    """A part's live document frequency (a term's) or Whoosh's estimate of its size."""
    if type(part) is Term:
        return live_doc_frequency(searcher, part)
    return part.estimate_size(searcher.reader())


def best_partial(searcher, compiled: Compiled, filters, top: int, sort: str,
                 order: "TieBreak", exclude: frozenset[int] = frozenset()) -> "Ranked":
    """Best partial matches: documents with most of the query's words.

    Each document is ranked first by how many of the query's words it
    contains, then by score (with sort='date', by date first); one is
    enough to be a candidate. Documents whose first passage is in
    exclude (those with every word, already ranked) are left out.
    Single characters never count on their own, so partial matching never
    degrades into character noise.
    """
    required = and_([*compiled.required, *filters])
    coverage: dict[int, int] = {}  # by document: a passage's docnum counts for its first one's
    passages: dict[int, list[int]] = {}
    for clause in compiled.clauses:
        heads = set()
        for docnum in matching_docs(searcher, and_([clause, required])):
            head = order.head(docnum)
            if head in exclude:
                continue
            heads.add(head)
            passages.setdefault(head, []).append(docnum)
        for head in heads:
            coverage[head] = coverage.get(head, 0) + 1
    # Any one word makes a candidate: the candidates of most words rank first
    # anyway, and the page about the subject may have few of a long query's
    # words (debian-handbook titles across scripts: with at least half of
    # them, Recall@100 0.925; with one, 0.959 and nDCG@10 0.779 -> 0.792).
    candidates = {d for head in coverage for d in passages[head]}
    if not candidates:
        return Ranked(0, [], matches=())
    every = candidates
    total = len({order.head(docnum) for docnum in candidates})  # each matches a clause
    if top <= 0:  # the count is all that is needed
        return Ranked(total, [], matches=every)
    if sort != "date":
        # Coverage ranks first: only the best-covered documents, enough to
        # fill the page, can be on it, and only those need scores. (三十四首
        # 易靜 had thousands of candidates to score for ten hits.)
        candidates = _best_covered(candidates, coverage, order, top)
    found = fold(scored_matches(searcher, or_(compiled.clauses), allow=candidates), order)
    coverage = {docnum: coverage[order.head(docnum)] for docnum, _ in found}
    if sort == "date":  # stable: same-day documents keep their coverage order
        ranked = sorted(found, key=lambda pair: (-coverage[pair[0]], *order.key(pair)))
        ranked.sort(key=lambda pair: -order.day(pair[0]))
        return Ranked(total, ranked[:top], matches=every, coverage=coverage)
    ranked = first(found, top, lambda pair: (-coverage[pair[0]], order.rank(pair)),
                    lambda pair: (-coverage[pair[0]], *order.key(pair)))
    return Ranked(total, ranked, matches=every, coverage=coverage)


def ranked_hits(searcher, compiled: Compiled, filters, top: int, sort: str,
                order: "TieBreak") -> "Ranked":
    """The first top hits of a query: those with every word, then, recall first, the best partial ones.

    When fewer than FILL_BELOW documents have every word of a query of
    several words, the documents with most of the words follow them (ranked
    by how many they have, see ``best_partial``): the page about the subject
    is not lost for lacking one word that a few others happen to have. The
    threshold does not depend on the page, so every page of a query agrees
    on its total. When no document has every word, ``partial`` is set.
    """
    if len(compiled.clauses) < 2:
        return best(searcher, compiled, filters, top, sort, order)
    # Ranked as far as FILL_BELOW in the one pass that scores them: all of
    # them are needed, to be left out of the rest, when they are fewer.
    complete = best(searcher, compiled, filters, max(top, FILL_BELOW), sort, order)
    if complete.total >= FILL_BELOW:
        return Ranked(complete.total, complete.ranked[:top], exact=complete.exact, matches=complete.matches)
    if complete.total == 0:
        found = best_partial(searcher, compiled, filters, top, sort, order)
        found.partial = found.total > 0
        return found
    heads = frozenset(order.head(docnum) for docnum, _ in complete.ranked)
    more = best_partial(searcher, compiled, filters, max(0, top - complete.total), sort, order, exclude=heads)
    return Ranked(complete.total + more.total, (complete.ranked + more.ranked)[:top],
                  complete=complete.total if more.total else None,
                  matches=None if complete.matches is None else itertools.chain(complete.matches, more.matches))


def _best_covered(candidates: set[int], coverage: dict[int, int], order: "TieBreak", top: int) -> set[int]:
    """The candidates of the highest coverages that together hold at least top documents.

    Documents are ranked by coverage before score, so no document of a
    lower coverage can rank above these.
    """
    by_coverage: dict[int, set[int]] = {}
    for docnum in candidates:
        by_coverage.setdefault(coverage[order.head(docnum)], set()).add(docnum)
    kept: set[int] = set()
    heads = 0
    for level in sorted(by_coverage, reverse=True):
        kept |= by_coverage[level]
        heads += len({order.head(docnum) for docnum in by_coverage[level]})
        if heads >= top:
            break
    return kept


def count_undated(searcher, compiled: Compiled, filters, order: "TieBreak") -> int:
    """How many documents match the query but were dropped for having no date."""
    without_dates = [f for f in filters if not isinstance(f, wq.DateRange)]
    # The undated documents, listed from the day-number column: Whoosh's
    # Not(Term(DATED)) stepped through every document (35% of a search
    # with a date filter on 20,000 poems).
    undated = Undated(schema.DAYNUMBER)
    relaxed = strip_dates(compiled.query) if compiled.dated else compiled.query
    if compiled.undated_may_match:  # an undated document the query matches was not dropped
        relaxed = AndNot(relaxed, compiled.query)
    query = and_([relaxed, *without_dates, undated])
    return len({order.head(docnum) for docnum in matching_docs(searcher, query)})


class TieBreak:
    """Order of hits: by score, then (equal scores) newest first, then by id.

    It also knows, per searcher, which docnums are later passages of a long
    document (``tails``) and the first passage each belongs to (``head``).
    """

    def __init__(self, searcher) -> None:
        reader = searcher.reader()
        self.tails: set[int] | frozenset[int] = frozenset()
        self.passage = None
        if not reader.doc_count_all():  # an index of no documents has no columns (and no hits)
            self.day = self.id = lambda docnum: 0
            return
        self.day = reader.column_reader(schema.DAYNUMBER).__getitem__
        self.id = reader.column_reader(schema.ID).__getitem__
        self.tails = passage_tails(searcher)
        self.passage = reader.column_reader(schema.PASSAGE).__getitem__ if self.tails else None

    def head(self, docnum: int) -> int:
        """The docnum of the first passage of the document docnum belongs to.

        A document's passages are added one after the other by one writer,
        and deleted together, so they keep consecutive docnums through merges.
        """
        return docnum - self.passage(docnum) if docnum in self.tails else docnum

    @staticmethod
    def rank(pair: tuple[int, float]) -> float:
        """The first part of key, which needs no column read."""
        return -round(pair[1], 6)

    def key(self, pair: tuple[int, float]) -> tuple:
        """Sort key of a (docnum, score) pair."""
        docnum, score = pair
        return (-round(score, 6), -self.day(docnum), self.id(docnum))

    def date_rank(self, pair: tuple[int, float]) -> int:
        """The first part of date_key: newest first, undated (day 0) last."""
        return -self.day(pair[0])

    def date_key(self, pair: tuple[int, float]) -> tuple:
        """Sort key of a (docnum, score) pair in date order, then as key."""
        docnum, score = pair
        return (-self.day(docnum), -round(score, 6), self.id(docnum))


def passage_tails(searcher) -> frozenset[int]:
    """The docnums of the passages after the first of long documents (see indexer.document_entries)."""
    query = wq.NumericRange(schema.PASSAGE, 1, None)
    return frozenset(searcher.docs_for_query(query))


def fold(pairs: list[tuple[int, float]], order: TieBreak) -> list[tuple[int, float]]:
    """(docnum, score) matches with one pair per document: its best-scoring passage's.

    The pair keeps that passage's docnum, so the hit's snippet comes from it;
    equal scores go to the earlier passage. Without passages among pairs,
    pairs is returned as it is.
    """
    tails = order.tails
    if not tails or tails.isdisjoint(docnum for docnum, _ in pairs):
        return pairs
    best: dict[int, tuple[int, float]] = {}
    for docnum, score in sorted(pairs):
        head = order.head(docnum)
        kept = best.get(head)
        if kept is None or score > kept[1]:
            best[head] = (docnum, score)
    return list(best.values())


def first(pairs: list, top: int, rank: Callable, key: Callable) -> list:
    """The first top of pairs sorted by key, computing key only for the contenders.

    ``key(pair)`` must start with ``rank(pair)``, which should be cheap: a pair
    whose rank is beaten by top others cannot be among the first top, so its
    (column-reading) key is never needed.
    """
    if len(pairs) > top:
        ranks = [rank(pair) for pair in pairs]
        cut = heapq.nsmallest(top, ranks)[-1]
        pairs = [pair for pair, pair_rank in zip(pairs, ranks) if pair_rank <= cut]
    return sorted(pairs, key=key)[:top]


@dataclass
class Ranked:
    total: int
    ranked: list[tuple[int, float]]
    exact: bool = True  # False: total is an estimate (see best_bounded)
    complete: int | None = None  # how many of total have every word, when partial ones follow
    partial: bool = False  # no match has every word
    matches: Iterable[int] | None = None
    """The docnums of every match (a passage's for a long document), to be read once;
    None when ranking did not read them all (best_bounded's estimate)."""
    coverage: dict[int, int] | None = None
    """Of best_partial's ranked hits: how many of the query's clauses each matches (by docnum)."""
