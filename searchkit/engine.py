"""SearchIndex: the one public entry point, and the only holder of a Whoosh index."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import query as wq

from . import analysis, compiler, duplicates, facets as overview, fingerprints, highlight, indexer, integrity
from . import ranking, schema
from . import query as q
from .errors import IndexNotFoundError, SearchkitError
from .models import (DEFAULT_LIMIT, DEFAULT_SNIPPET_CHARS, SORTS, Document, DuplicateCluster, DuplicateDocument,
                     Facets, Hit, IndexReport,
                     IndexStats, SearchResults)
from .normalize import normalize_query
from .internals.queries import LiveBM25F
from .sources import SourceTable


class SearchIndex:
    """A searchkit index on disk: search it, read documents, add documents.

    Open one with ``SearchIndex.open(path)`` (or build one with
    ``SearchIndex.build(path, corpus_paths)``). It is a context manager and
    may be shared between threads.
    """

    def __init__(self, path: str | os.PathLike, _ix, _manifest) -> None:
        self.path = Path(path)
        self._ix = _ix
        self._manifest = _manifest
        self._lock = threading.RLock()
        self._searcher = None
        self._order: ranking.TieBreak | None = None
        self._segmenter = analysis.segmenter_for(_ix.schema[schema.CONTENT].analyzer.profile)
        self._state = indexer.index_state(self.path, _ix)
        self._source_table_cache: tuple[Any, SourceTable] | None = None  # per searcher
        self._statistics = None  # collection statistics given by a sharded index (see shards.py)
        self._facet_columns: overview.FacetColumns | None = None  # per searcher
        self._fingerprint_column: tuple[Any, Any] | None = None  # (searcher, its column reader)

    # -- opening and building -------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        build_from: str | os.PathLike | None = None,
        notice: Callable[[str], None] | None = None,
        allow_partial: bool = False,
        cluster: Any = None,
    ) -> "SearchIndex":
        """Open the index at path (IndexNotFoundError, IndexMismatchError, IndexDamagedError).

        With ``build_from``, a missing index is first built from that corpus
        (``notice`` is told so, since it takes a few seconds); a damaged one
        is reported, not built over. Opening checks the index's files cheaply
        (see ``verify`` for a full check).

        A sharded index (see shards.py) opens as a ``ShardedIndex``, which
        answers like one index; ``allow_partial`` lets it answer from the
        shards it can read, naming the others in ``partial_shards``.
        ``cluster`` serves its shards by Dask actors, one per shard, on the
        workers of that cluster: a scheduler address ('tcp://host:8786'),
        'local' (a cluster started here for the life of the index) or a
        ``distributed.Client``; the index must then be sharded.
        """
        sharded = _sharded_index(path, allow_partial, cluster)
        if sharded is not None:
            return sharded
        if cluster is not None:
            raise SearchkitError(f"only a sharded index is served on a cluster, and {path} holds none: "
                                 "build one with --shards")
        try:
            ix, manifest = indexer.open_whoosh_index(path)
        except IndexNotFoundError:
            if build_from is None:
                raise
            if notice:
                notice(f"no index at {path} yet: building it from {build_from} (first use only)")
            indexer.update_index(path, [build_from], warn=notice)
            ix, manifest = indexer.open_whoosh_index(path)
        with integrity.guard(Path(path), manifest.files):
            return cls(path, ix, manifest)

    @classmethod
    def build(
        cls,
        path: str | os.PathLike,
        corpus: Iterable[str | os.PathLike],
        *,
        rebuild: bool = False,
        userdict: str | os.PathLike | None = None,
        progress: Callable[[int, int], None] | None = None,
        warn: Callable[[str], None] | None = None,
        workers: int | None = None,
        remove: Iterable[str | os.PathLike] = (),
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        shards: int | None = None,
        cluster: str | None = None,
        shards_by: str | None = None,
    ) -> IndexReport:
        """Index (or update the index of) the files under corpus into path.

        The index records its roots: an empty corpus re-scans them all, and
        naming some updates those only. ``remove`` forgets roots and removes
        their documents; ``include``/``exclude`` globs (recorded; None keeps
        the recorded ones) select the files. ``progress(done, total)`` hears
        the bytes indexed so far; ``warn`` hears one line per file skipped;
        ``workers`` processes share the work (default: one per core).

        ``shards`` builds a sharded index of that many shards (see shards.py),
        on the Dask cluster at ``cluster`` ('local': one started for the run;
        None: in this process); a sharded index is updated shard by shard.
        ``shards_by`` ('year' or 'month') instead builds a shard a period,
        documents routed by their dates, and one of the undated documents:
        a search with since/until then reads only the shards it can match.
        """
        if shards is not None or shards_by is not None or cluster is not None or _is_sharded(path):
            from . import shards as sharding
            return sharding.update(path, corpus, shards=shards, shards_by=shards_by, cluster=cluster,
                                   rebuild=rebuild,
                                   userdict=userdict, progress=progress, warn=warn, workers=workers,
                                   remove=remove, include=include, exclude=exclude)
        return indexer.update_index(path, corpus, rebuild=rebuild, userdict=userdict,
                                    progress=progress, warn=warn, workers=workers,
                                    remove=remove, include=include, exclude=exclude)

    def update(
        self,
        corpus: Iterable[str | os.PathLike],
        *,
        rebuild: bool = False,
        userdict: str | os.PathLike | None = None,
        progress: Callable[[int, int], None] | None = None,
        warn: Callable[[str], None] | None = None,
        workers: int | None = None,
        remove: Iterable[str | os.PathLike] = (),
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        shards: int | None = None,
        cluster: str | None = None,
        shards_by: str | None = None,
    ) -> IndexReport:
        """Bring this index up to date with the files under corpus (see ``build``)."""
        if shards is not None or shards_by is not None or cluster is not None:
            from . import shards as sharding
            # This index is not sharded: that is refused with one clear error.
            sharding.plan_jobs(self.path, corpus, shards, shards_by)
        report = indexer.update_index(self.path, corpus, rebuild=rebuild, userdict=userdict,
                                      progress=progress, warn=warn, workers=workers,
                                      remove=remove, include=include, exclude=exclude)
        self._reopen()
        return report

    def add_documents(self, documents: Iterable[Document]) -> int:
        """Add (or replace, by id) documents given from Python; returns how many."""
        count = indexer.add_documents(self.path, documents)
        self._reopen()
        return count

    def close(self) -> None:
        """Release the searcher and its open files."""
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
                self._order = None
                self._source_table_cache = None
                self._facet_columns = None
                self._fingerprint_column = None

    def __enter__(self) -> "SearchIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _reopen(self) -> None:
        with self._lock:
            self.close()
            self._ix, self._manifest = indexer.open_whoosh_index(self.path)
            self._segmenter = analysis.segmenter_for(self._ix.schema[schema.CONTENT].analyzer.profile)
            self._state = indexer.index_state(self.path, self._ix)

    def refresh(self) -> bool:
        """Pick up what other processes committed since this index was opened.

        Every search and lookup does this first (a stat and a directory
        listing, some microseconds), so a long-lived index (the shell, an
        application) never answers from a state that is gone. Returns True
        when there was something new.
        """
        with self._lock:
            if indexer.index_state(self.path, self._ix) == self._state:
                return False
            self._reopen()
            return True

    def _guard(self):
        """A context in which damaged index files raise IndexDamagedError (see integrity.guard)."""
        return integrity.guard(self.path, self._manifest.files)

    def verify(self) -> integrity.Verified:
        """Read every file of the index and compare it with the checksum recorded at commit.

        Raises IndexDamagedError naming the first damaged file (opening reads
        only the small files and those whose size or time changed, so this
        finds damage that kept both, such as bit rot). Returns how many files
        and bytes were verified.
        """
        return integrity.verify(self.path, self._manifest.files)  # no lock: searches go on meanwhile

    def warm_up(self) -> None:
        """Do now the one-time work of a first search (opening files, reading the
        query lexicon), e.g. while a person types their first query."""
        self.search("中文", limit=1)

    def document_count(self) -> int:
        """How many documents the index holds."""
        self.refresh()
        with self._lock, self._guard():
            return self._get_searcher().doc_count() - len(self._tie_break().tails)

    def score_with(self, statistics) -> None:
        """Score with these collection statistics from now on: those every shard of a
        sharded index gathers for a search (see shard_service.py)."""
        with self._lock:
            self.close()
            self._statistics = statistics

    @contextlib.contextmanager
    def shard_reader(self) -> Iterator["ShardReader"]:
        """This index read as one shard of a sharded index (see shard_service.py): locked,
        and damage found meanwhile raised as IndexDamagedError."""
        with self._lock, self._guard():
            searcher = self._get_searcher()
            yield ShardReader(searcher, self._tie_break(), self._state, self._manifest.config,
                              self._manifest.aliases, self._segmenter,
                              functools.partial(self._hit, searcher),
                              functools.partial(self._count_sources, searcher),
                              functools.partial(self._facet_tally, searcher),
                              functools.partial(self._fold_inputs, searcher))

    def _get_searcher(self):
        if self._searcher is None:
            self._searcher = self._ix.searcher(weighting=LiveBM25F(self._statistics))
            self._order = None
        return self._searcher

    def _tie_break(self) -> "ranking.TieBreak":
        """The order of hits for the current searcher (its column readers are reused)."""
        if self._order is None:
            self._order = ranking.TieBreak(self._get_searcher())
        return self._order

    # -- searching ----------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        sources: Iterable[str] | None = None,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        sort: str = "relevance",
        original: bool = False,
        snippet_chars: int = DEFAULT_SNIPPET_CHARS,
        facets: bool = True,
        fold: bool = False,
    ) -> SearchResults:
        """Ranked hits for query, with highlighted snippets.

        ``sources`` keeps hits from those sources (case-insensitive, aliases
        accepted); ``since``/``until`` take dates or 'YYYY', 'YYYY-MM',
        'YYYY-MM-DD' strings and are inclusive; documents with no known date
        are left out by them and counted in ``undated_excluded``. ``sort`` is
        'relevance' (ties broken by date, newest first) or 'date'.
        ``original`` cuts snippets from the document's own script and gives
        titles in it.
        ``snippet_chars`` bounds each hit's snippet: the best fragment for the
        query, at most that many characters of the document (see ``Hit.snippet``).
        ``facets`` counts every hit by source and by period (``results.facets``;
        see facets.py): a few percent of a search, but up to three times a
        search whose total is an estimate (its every match is then read).
        ``fold`` puts a hit whose matching passages repeat a better-ranked
        hit under that hit (``Hit.duplicates``) instead of in the list; the
        page is filled from the next hits (see duplicates.py). The CLI and
        the shell fold unless asked not to; the default here keeps every hit
        in its place, as before folding existed.
        """
        started = time.perf_counter()
        check_search_options(query, sort, limit, offset, snippet_chars)
        self.refresh()
        text = normalize_query(query)
        with self._guard():  # segmenting the query reads the index's lexicon
            compiled = self._compile(q.parse(text))
        filters = self._filters(sources, since, until)
        dated = compiled.dated or since is not None or until is not None
        with self._lock, self._guard():
            searcher = self._get_searcher()
            results = ranking.ranked_hits(searcher, compiled, filters, limit + offset, sort, self._tie_break())
            find_spans = highlight.span_finder(compiled.terms)
            folded = None
            if fold:
                hits, folded = self._folded_page(
                    searcher, results.ranked,
                    lambda top: ranking.ranked_hits(searcher, compiled, filters, top, sort,
                                                    self._tie_break()).ranked,
                    find_spans, limit, offset, original, snippet_chars)
            else:
                hits = [self._hit(searcher, docnum, score, find_spans, original, snippet_chars)
                        for docnum, score in results.ranked[offset : offset + limit]]
            undated = ranking.count_undated(searcher, compiled, filters, self._tie_break()) if dated else 0
            counted = self._facets(searcher, results, compiled, filters) if facets else None
        return SearchResults(
            query=query, total=results.total, hits=hits, partial=results.partial,
            elapsed=time.perf_counter() - started, undated_excluded=undated,
            terms=list(compiled.terms), total_exact=results.exact,
            complete=results.complete, facets=counted, folded=folded,
        )

    def _folded_page(self, searcher, ranked: list[tuple[int, float]],
                     rank_more: Callable[[int], list[tuple[int, float]]],
                     find_spans: Callable[[str], list[tuple[int, int]]],
                     limit: int, offset: int, original: bool,
                     snippet_chars: int) -> tuple[list[Hit], int]:
        """The page of hits left after folding copies, and how many were folded up to its end
        (see duplicates.fold_ranked: a sharded index folds its hits with it too)."""
        find_spans = duplicates.remembered_spans(find_spans)  # each text's spans are found once
        page = duplicates.fold_ranked(ranked, rank_more, functools.partial(self._fold_inputs, searcher),
                                      find_spans, limit, offset)
        hits = []
        for docnum, score, copies in page.leaders:
            hit = self._hit(searcher, docnum, score, find_spans, original, snippet_chars)
            hit.duplicates = [self._hit(searcher, d, s, find_spans, original, snippet_chars) for d, s in copies]
            hits.append(hit)
        return hits, page.folded

    def _fold_inputs(self, searcher, docnums: list[int]) -> list[duplicates.FoldInput]:
        """The stored text and encoded fingerprint of each docnum, as folding reads them."""
        column = self._fingerprints(searcher)
        return [(searcher.stored_fields(docnum).get(schema.CONTENT, ""),
                 column[docnum] if column is not None else b"") for docnum in docnums]

    def _fingerprints(self, searcher):
        """The fingerprint column of searcher's index (None if it has none), opened once a searcher:
        opening it takes 0.9 ms on 20,000 poems, most of what folding a page cost."""
        cached = self._fingerprint_column
        if cached is None or cached[0] is not searcher:
            reader = searcher.reader()
            column = reader.column_reader(schema.FINGERPRINT) if reader.has_column(schema.FINGERPRINT) else None
            cached = self._fingerprint_column = (searcher, column)
        return cached[1]

    def _facets(self, searcher, results: "ranking.Ranked", compiled, filters) -> Facets:
        """Every match of results counted by source and period, also where ranking read only the best."""
        return overview.facets_of(self._facet_tally(searcher, results, compiled, filters))

    def _facet_tally(self, searcher, results: "ranking.Ranked", compiled, filters) -> "overview.Tally":
        """The counts behind _facets (a sharded index adds its shards' up)."""
        columns = self._facet_columns
        if columns is None or columns.searcher is not searcher:
            columns = self._facet_columns = overview.FacetColumns(searcher)
        matches = results.matches
        if matches is None:
            matches = overview.matching_docnums(searcher, compiler.and_([compiled.query, *filters]))
        order = self._tie_break()
        return overview.tally(columns, matches, order.head if order.tails else None)


    def _hit(self, searcher, docnum: int, score: float,
             find_spans: Callable[[str], list[tuple[int, int]]], original: bool,
             snippet_chars: int) -> Hit:
        stored = searcher.stored_fields(docnum)
        text = stored.get(schema.CONTENT, "")
        spans = find_spans(text)
        snippet = highlight.best_fragment(text, spans, snippet_chars)
        snippet_text = snippet.text
        if original and stored.get(schema.ORIGINAL):
            snippet_text = highlight.cut_like(snippet, stored[schema.ORIGINAL])
        title = stored.get(schema.TITLE, "")
        if original:
            title = stored.get(schema.ORIGINAL_TITLE) or title
        date = stored.get(schema.DATE)
        return Hit(
            id=stored[schema.ID], path=stored.get(schema.PATH), title=title,
            date=date.date() if date else None, source=stored.get(schema.SOURCE),
            url=stored.get(schema.URL), score=float(score), snippet=snippet_text,
            highlights=list(snippet.highlights),
        )

    # -- compiling queries ------------------------------------------------------

    def _compile(self, node) -> compiler.Compiled:
        return compiler.Compiler(self._segmenter, self._source_query).compile(node)

    # -- filters -------------------------------------------------------------

    def _filters(self, sources, since, until) -> list[wq.Query]:
        return search_filters(sources, since, until, self._source_query)

    def _source_query(self, names: list[str]) -> wq.Query:
        """Documents from any of the sources names mean (UnknownSourceError, see resolve_source)."""
        with self._lock, self._guard():
            table = self._source_table()
            # The source field is lowercased when indexed (see schema.py).
            return compiler.or_([wq.Term(schema.SOURCE, table.resolve(name).lower()) for name in names])

    def resolve_source(self, name: str) -> str:
        """The source name (as the index spells it) that name means.

        The index's names ignoring case, width and script, then aliases (the
        built-in table and the sidecars' the index was built with), then a
        prefix of exactly one of the index's names. UnknownSourceError (which
        names the closest known sources) for anything else.
        """
        self.refresh()
        with self._lock, self._guard():
            return self._source_table().resolve(name)

    def _source_table(self) -> SourceTable:
        """The index's sources and their resolver, built once per searcher (hold the lock).

        Building reads every source's postings and a stored document (7 ms on
        5,000 documents of 25 sources): once, not on every filtered query.
        """
        searcher = self._get_searcher()
        cached = self._source_table_cache
        if cached is None or cached[0] is not searcher:
            table = SourceTable(self._count_sources(searcher), self._manifest.aliases)
            cached = self._source_table_cache = (searcher, table)
        return cached[1]

    @staticmethod
    def _count_sources(searcher) -> dict[str, int]:
        """Source names (as documents spell them) with their live document counts, most first."""
        reader = searcher.reader()
        tails = ranking.passage_tails(searcher)  # a long document counts once, not once a passage
        counts: dict[str, int] = {}
        if schema.SOURCE not in reader.indexed_field_names():
            return counts
        for term in reader.lexicon(schema.SOURCE):
            postings = reader.postings(schema.SOURCE, term)
            live = [d for d in postings.all_ids() if not reader.is_deleted(d) and d not in tails]
            if live:
                name = searcher.stored_fields(live[0]).get(schema.SOURCE)
                counts[name] = len(live)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    # -- near-duplicates ----------------------------------------------------------

    def duplicates(self, threshold: float = duplicates.DEFAULT_THRESHOLD) -> list[DuplicateCluster]:
        """Clusters of documents that are copies of one another, largest clusters first.

        Two documents are joined when the larger holds at least ``threshold``
        of the smaller's text (containment of sampled shingles: reprints,
        excerpts, copies with small edits, in either script); clusters are
        what these joins connect. Documents are compared only when they
        share a bucket (see duplicates.py): the cost grows about linearly
        with the index. SearchkitError for a threshold outside (0, 1].
        """
        duplicates.check_threshold(threshold)
        ids, found = self.document_fingerprints()
        groups = duplicates.clusters(found, threshold)
        return [DuplicateCluster(self.duplicate_documents([(ids[n], share) for n, share in group]))
                for group in groups]

    def document_fingerprints(self) -> tuple[list[str], list]:
        """Each live document's id and fingerprint (None if it has none), ordered by id.

        By id, not by the order the index holds them in: clusters (whose
        ties go to the first document) are then the same however the index
        was built, and the same over the shards of a sharded index.
        """
        self.refresh()
        with self._lock, self._guard():
            return self._document_fingerprints(self._get_searcher())

    def duplicate_documents(self, members: list[tuple[str, float]]) -> list[DuplicateDocument]:
        """The documents of (id, similarity) pairs, as a duplicate cluster lists them."""
        self.refresh()
        with self._lock, self._guard():
            searcher = self._get_searcher()
            return [self._duplicate_document(searcher, doc_id, share) for doc_id, share in members]

    def _document_fingerprints(self, searcher) -> tuple[list[str], list]:
        """Each live document's id and fingerprint (its passages' merged), ordered by id."""
        reader = searcher.reader()
        if not reader.doc_count() or not reader.has_column(schema.FINGERPRINT):
            return [], []
        column = reader.column_reader(schema.FINGERPRINT)
        id_column = reader.column_reader(schema.ID)
        by_id: dict[str, list] = {}
        for docnum in reader.all_doc_ids():
            by_id.setdefault(id_column[docnum], []).append(fingerprints.decode(column[docnum]))
        ids, found = [], []
        for doc_id, parts in sorted(by_id.items()):
            parts = [part for part in parts if part is not None]
            ids.append(doc_id)
            found.append(None if not parts else parts[0] if len(parts) == 1 else duplicates.merged(parts))
        return ids, found

    @staticmethod
    def _duplicate_document(searcher, doc_id: str, share: float) -> DuplicateDocument:
        stored = searcher.document(**{schema.ID: doc_id}) or {}
        date = stored.get(schema.DATE)
        return DuplicateDocument(id=doc_id, path=stored.get(schema.PATH), title=stored.get(schema.TITLE, ""),
                                 date=date.date() if date else None, source=stored.get(schema.SOURCE),
                                 similarity=share)

    # -- documents and statistics ------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The full stored document with this id (KeyError if there is none).

        A document indexed as passages is joined back together: its text is
        the text that was indexed, character for character.
        """
        self.refresh()
        with self._lock, self._guard():
            passages = sorted(self._get_searcher().documents(**{schema.ID: doc_id}),
                              key=lambda stored: stored.get(schema.PASSAGE) or 0)
        if not passages:
            raise KeyError(doc_id)
        stored = passages[0]
        date = stored.get(schema.DATE)
        texts = [p.get(schema.CONTENT, "") for p in passages]
        text = "".join(texts)
        original = "".join(p.get(schema.ORIGINAL) or t for p, t in zip(passages, texts))
        return Document(
            id=stored[schema.ID], text=text, original=original,
            path=stored.get(schema.PATH), title=stored.get(schema.TITLE, ""),
            date=date.date() if date else None, source=stored.get(schema.SOURCE),
            url=stored.get(schema.URL), metadata=stored.get(schema.META) or {},
            original_title=stored.get(schema.ORIGINAL_TITLE) or "",
        )

    def sources(self) -> dict[str, int]:
        """Source names (as documents spell them) with their document counts."""
        self.refresh()
        with self._lock, self._guard():
            return dict(self._source_table().counts)

    def stats(self) -> IndexStats:
        """Document count, sources, date range and size of the index."""
        self.refresh()
        with self._lock, self._guard():
            searcher = self._get_searcher()
            tails = self._tie_break().tails
            total = searcher.doc_count() - len(tails)
            reader = searcher.reader()
            days = []
            if reader.doc_count_all():  # an index of no documents has no columns
                day = reader.column_reader(schema.DAYNUMBER)
                days = [d for d in (day[docnum] for docnum in reader.all_doc_ids() if docnum not in tails) if d]
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        return IndexStats(
            path=str(self.path), documents=total, sources=self.sources(),
            earliest=dt.date.fromordinal(min(days)) if days else None,
            latest=dt.date.fromordinal(max(days)) if days else None,
            undated=total - len(days), size_bytes=size, analyzer=dict(self._manifest.config),
        )


@dataclass(frozen=True)
class ShardReader:
    """What a shard's service reads of its shard, while it is locked (see SearchIndex.shard_reader)."""

    searcher: Any
    order: ranking.TieBreak
    state: tuple
    config: dict[str, Any]
    aliases: dict[str, list[str]]
    segmenter: analysis.Segmenter
    hit: Callable[[int, float, Callable[[str], list[tuple[int, int]]], bool, int], Hit]
    """hit(docnum, score, find_spans, original, snippet_chars): the Hit of one of the shard's documents."""
    count_sources: Callable[[], dict[str, int]]
    facet_tally: Callable[..., Any]
    """facet_tally(ranked, compiled, filters): the shard's matches counted (see facets.Tally)."""
    fold_inputs: Callable[[list[int]], list[duplicates.FoldInput]]
    """fold_inputs(docnums): each one's stored text and encoded fingerprint, for folding copies."""


SHARD_LAYOUT = "searchkit-shards.json"
"""The file that makes a directory a sharded index (see shards.py, imported only for one)."""


def _is_sharded(path: str | os.PathLike) -> bool:
    """Whether path holds a sharded index."""
    return (Path(path) / SHARD_LAYOUT).is_file()


def _sharded_index(path: str | os.PathLike, allow_partial: bool, cluster: Any = None):
    """The sharded index at path (served on cluster, if given), or None if path holds none."""
    if not _is_sharded(path):
        return None
    from .shards import ShardedIndex
    return ShardedIndex.open(path, allow_partial=allow_partial, cluster=cluster)


def check_search_options(query: str, sort: str, limit: int, offset: int, snippet_chars: int) -> None:
    """Refuse (SearchkitError) options no search takes, and a query over the length limit.

    Before any work: refusing a huge query costs nothing, normalizing it would.
    """
    if sort not in SORTS:
        raise SearchkitError(f"unknown sort '{sort}': use {' or '.join(SORTS)}")
    if limit < 1 or offset < 0:
        raise SearchkitError("limit must be at least 1 and offset at least 0")
    if snippet_chars < 1:
        raise SearchkitError("snippet_chars must be at least 1")
    q.check_length(query)


def search_filters(sources, since, until, source_query: Callable[[list[str]], wq.Query]) -> list[wq.Query]:
    """The filters of a search: its sources (through source_query) and its dates."""
    filters = []
    if isinstance(sources, str):  # one name, not an iterable of its characters
        sources = [sources]
    if sources:
        filters.append(source_query(list(sources)))
    if since is not None or until is not None:
        filters.append(compiler.date_range(*q.date_span(since, until)))
    return filters
