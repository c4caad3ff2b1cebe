"""One shard of a sharded index, served to the coordinator that searches them all.

The coordinator (shards.ShardedIndex) talks to each shard only through a
``ShardService``: a few coarse calls whose arguments and results are plain,
picklable data, one call per shard per phase of a search, as Elasticsearch's
``dfs_query_then_fetch`` makes them:

1. ``figures``: the shard's state and its collection statistics for the
   query (document count, field-length totals, the document frequency of
   every term the query's matchers read: see internals.queries.asked_terms);
2. ``rank`` (and ``rank_partial``, the fill of partial matches, or within
   ``rank`` when asked: ``Search.fill_top``): the shard's first matches,
   scored with the figures of all shards summed, each with the key one
   index would sort it by, the total and the overview counts;
3. ``hits``: the hits of the final page that this shard holds, snippets cut.

In this process (the default) the calls are direct; on a Dask cluster each
service is an actor that keeps its shard's searcher open (cluster.py), and
the same calls travel pickled. Between ``figures`` and the later phases the
searcher is not refreshed, so docnums stay valid for the search; a service
serves one coordinator, which makes one search at a time.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import compiler, highlight, integrity, ranking
from . import facets as overview
from .engine import SearchIndex
from .internals.queries import (GatheredStatistics, StatisticsTable, live_statistics,
                                query_statistics)
from .models import Document, Hit, IndexStats


@dataclass(frozen=True)
class ShardDescription:
    """What a coordinator keeps of a shard between searches."""

    state: tuple
    config: dict[str, Any]
    aliases: dict[str, list[str]]
    sources: dict[str, int]
    """Source names with their document counts (most first, as SearchIndex.sources gives them)."""


@dataclass(frozen=True)
class Search:
    """A compiled query with what ranking needs to know, as sent to every shard."""

    compiled: compiler.Compiled
    filters: list
    sort: str = "relevance"
    top: int = 10
    prune: bool = True
    facets: bool = True
    dated: bool = False
    fill_top: int = 0
    """When more than 0: a shard with fewer than ranking.FILL_BELOW documents with every word
    also ranks its best fill_top partial matches in the same call (ShardRanking.fill), where a
    round trip to the shard costs more than that work (an actor's)."""

    def queries(self) -> list:
        """Every query ranking, counting and the overview build matchers for."""
        return [self.compiled.query, *self.compiled.clauses, *self.compiled.required, *self.filters]


@dataclass(frozen=True)
class ShardFigures:
    """A shard's answer to the statistics phase."""

    state: tuple
    passages: bool
    """Whether the shard holds documents indexed as passages (see ShardedIndex: no pruning then)."""
    statistics: StatisticsTable
    undated: int = 0
    """How many documents match but were left out for having no date (search.dated)."""


@dataclass
class ShardRanking:
    """A shard's answer to a ranking phase: its best matches, keyed for the merge."""

    candidates: list[tuple[tuple, int, float]]
    """(merge key, docnum, score), the key the one-index sort key (see shards.py)."""
    total: int
    exact: bool = True
    tally: overview.Tally | None = None
    fill: "ShardRanking | None" = None
    """The partial matches to fill a short list with, when the search asked for them (Search.fill_top)."""


class ShardService:
    """One shard, opened from its directory, answering the coordinator's calls.

    Its scoring model reads the statistics each search brings (``rank``),
    never the shard's own.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._index = SearchIndex.open(self.path)
        self._statistics = GatheredStatistics()
        self._index.score_with(self._statistics)
        self._live: tuple[Any, Any] | None = None  # (searcher, its live statistics)
        self._sources: tuple[tuple, dict[str, int]] | None = None  # (state, counts)

    # -- between searches ----------------------------------------------------------------

    def describe(self) -> ShardDescription:
        """The shard's state, configuration, aliases and source counts, once refreshed."""
        self._index.refresh()
        with self._index.shard_reader() as reader:
            if self._sources is None or self._sources[0] != reader.state:
                self._sources = (reader.state, reader.count_sources())
            return ShardDescription(reader.state, reader.config, reader.aliases, self._sources[1])

    def document(self, doc_id: str) -> Document:
        """The stored document with this id (KeyError if the shard has none)."""
        return self._index.document(doc_id)

    def document_count(self) -> int:
        return self._index.document_count()

    def stats(self) -> IndexStats:
        return self._index.stats()

    def verify(self) -> integrity.Verified:
        return self._index.verify()

    def document_fingerprints(self) -> tuple[list[str], list]:
        """Each live document's id and fingerprint, ordered by id (see SearchIndex.document_fingerprints)."""
        return self._index.document_fingerprints()

    def duplicate_documents(self, members: list[tuple[str, float]]) -> list:
        """The DuplicateDocument of each (id, similarity) (see SearchIndex.duplicate_documents)."""
        return self._index.duplicate_documents(members)

    def add_documents(self, documents: list[Document]) -> int:
        return self._index.add_documents(documents)

    def close(self) -> None:
        """Release the shard's searcher and open files."""
        self._index.close()
        self._live = None

    def call(self, method: str, payload: bytes) -> bytes:
        """method(*pickle.loads(payload)), its result pickled: how a Dask actor is called (cluster.py).

        Dask serializes a list or dict element by element: a call whose
        arguments travelled as they are took 50-120 ms for a list of 1,000
        numbers, as one pickled blob 1.3 ms (one call about 1.1 ms).
        """
        if method not in _CALLS:
            raise ValueError(f"no call {method!r} of a shard service")
        return pickle.dumps(getattr(self, method)(*pickle.loads(payload)), protocol=pickle.HIGHEST_PROTOCOL)

    # -- the phases of a search ------------------------------------------------------------

    def figures(self, search: Search) -> ShardFigures:
        """Phase 1: the shard refreshed, its state and its figures for search's terms (live documents)."""
        self._index.refresh()
        with self._index.shard_reader() as reader:
            searcher = reader.searcher
            if self._live is None or self._live[0] is not searcher:
                self._live = (searcher, live_statistics(searcher.reader()))
            table = query_statistics(self._live[1], searcher.schema, search.queries())
            # Counted here, where every shard is asked, not where they rank: a
            # search routed by date does not rank the undated shard.
            undated = 0
            if search.dated:  # a count: any figures do, the shard's own are at hand
                self._statistics.use(table)
                undated = ranking.count_undated(searcher, search.compiled, search.filters, reader.order)
            return ShardFigures(reader.state, bool(reader.order.tails), table, undated)

    def rank(self, search: Search, statistics: StatisticsTable) -> ShardRanking:
        """Phase 2: the first search.top matches scored with every shard's statistics.

        With the overview counts of every match (search.facets).
        """
        with self._index.shard_reader() as reader:
            self._statistics.use(statistics)
            compiled, filters, order = search.compiled, search.filters, reader.order
            ranked = ranking.best(reader.searcher, compiled, filters, search.top, search.sort, order,
                                  search.prune)
            tally = reader.facet_tally(ranked, compiled, filters) if search.facets else None
            key = date_key(order) if search.sort == "date" else relevance_key(order)
            fill = None
            if search.fill_top and len(compiled.clauses) > 1 and ranked.exact and ranked.total < ranking.FILL_BELOW:
                # Fewer here means perhaps fewer over all shards: the fill, ranked now
                # (all this shard's documents with every word are in ranked, left out).
                fill = _partial(reader, search, search.fill_top, [docnum for docnum, _ in ranked.ranked])
            return ShardRanking([(key(docnum, score), docnum, score) for docnum, score in ranked.ranked],
                                ranked.total, ranked.exact, tally, fill)

    def rank_partial(self, search: Search, statistics: StatisticsTable, top: int,
                     found: list[int]) -> ShardRanking:
        """Phase 2 of partial matching: the best top documents with some of the query's words.

        found: docnums of this shard's documents with every word, left out.
        Keyed by coverage first (see ranking.best_partial).
        """
        with self._index.shard_reader() as reader:
            self._statistics.use(statistics)
            return _partial(reader, search, top, found)

    def fold_inputs(self, docnums: list[int]) -> list:
        """The stored text and encoded fingerprint of each docnum, as folding copies reads them."""
        with self._index.shard_reader() as reader:
            return reader.fold_inputs(docnums)

    def hits(self, picks: list[tuple[int, float]], terms: list[str], original: bool,
             snippet_chars: int) -> list[Hit]:
        """Phase 3: the hits of these (docnum, score) of the final page, snippets cut."""
        find_spans = highlight.span_finder(terms)
        with self._index.shard_reader() as reader:
            return [reader.hit(docnum, score, find_spans, original, snippet_chars) for docnum, score in picks]


_CALLS = frozenset({"describe", "document", "document_count", "stats", "verify", "add_documents", "close",
                    "document_fingerprints", "duplicate_documents",
                    "figures", "rank", "rank_partial", "fold_inputs", "hits"})


def _partial(reader, search: Search, top: int, found: list[int]) -> ShardRanking:
    """What rank_partial answers, of a shard locked and scoring with the search's statistics."""
    searcher, order, compiled, filters = reader.searcher, reader.order, search.compiled, search.filters
    exclude = frozenset(order.head(docnum) for docnum in found)
    ranked = ranking.best_partial(searcher, compiled, filters, top, search.sort, order, exclude=exclude)
    tally = reader.facet_tally(ranked, compiled, filters) if search.facets else None
    candidates = []
    if ranked.ranked:
        key = relevance_key(order)
        for docnum, score in ranked.ranked:
            covered = -ranked.coverage[docnum]  # what one index ranks partial matches by first
            if search.sort == "date":  # newest first, then as by coverage and relevance
                full = (-order.day(docnum), covered, *key(docnum, score))
            else:
                full = (covered, *key(docnum, score))
            candidates.append((full, docnum, score))
    return ShardRanking(candidates, ranked.total, True, tally)


def relevance_key(order: ranking.TieBreak):
    """The key one index sorts hits by (ranking.TieBreak.key), with values comparable across shards."""
    return lambda docnum, score: (-round(score, 6), -order.day(docnum), order.id(docnum))


def date_key(order: ranking.TieBreak):
    """The key of sort='date' (ranking.TieBreak.date_key), comparable across shards."""
    return lambda docnum, score: (-order.day(docnum), -round(score, 6), order.id(docnum))

