"""SearchIndex: the one public entry point, and the only holder of a Whoosh index."""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import analysis, highlight, indexer, integrity, schema, segments
from . import query as q
from .errors import IndexNotFoundError, SearchkitError
from .models import DEFAULT_LIMIT, SORTS, Document, Hit, IndexReport, IndexStats, SearchResults
from .normalize import normalize_query
from .sources import SourceTable

from whoosh import query as wq
from whoosh import matching, scoring
from whoosh.reading import TermNotFound

CHAR_WEIGHT = 0.3  # a character-level match counts, but ranks below a word match
LITERAL_BONUS = 0.5  # the query's own characters in a row, when it was segmented


@dataclass
class _Compiled:
    """A query ready to run: the Whoosh query and what to highlight."""

    query: wq.Query
    terms: list[str] = field(default_factory=list)
    clauses: list[wq.Query] = field(default_factory=list)  # coverage units for partial matching
    required: list[wq.Query] = field(default_factory=list)  # filters and exclusions
    dated: bool = False
    undated_may_match: bool = False  # a date: under OR or NOT: undated documents can match


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
        self._order: _TieBreak | None = None
        self._segmenter = analysis.segmenter_for(_ix.schema[schema.CONTENT].analyzer.profile)
        self._state = indexer.index_state(self.path, _ix)
        self._source_table_cache: tuple[Any, SourceTable] | None = None  # per searcher

    # -- opening and building -------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        build_from: str | os.PathLike | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> "SearchIndex":
        """Open the index at path (IndexNotFoundError, IndexMismatchError, IndexDamagedError).

        With ``build_from``, a missing index is first built from that corpus
        (``notice`` is told so, since it takes a few seconds); a damaged one
        is reported, not built over. Opening checks the index's files cheaply
        (see ``verify`` for a full check).
        """
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
    ) -> IndexReport:
        """Index (or update the index of) the files under corpus into path.

        ``progress(done, total)`` hears the bytes indexed so far; ``warn`` hears
        one line per file skipped; ``workers`` processes share the work
        (default: one per core).
        """
        return indexer.update_index(path, corpus, rebuild=rebuild, userdict=userdict,
                                    progress=progress, warn=warn, workers=workers)

    def update(
        self,
        corpus: Iterable[str | os.PathLike],
        *,
        rebuild: bool = False,
        userdict: str | os.PathLike | None = None,
        progress: Callable[[int, int], None] | None = None,
        warn: Callable[[str], None] | None = None,
        workers: int | None = None,
    ) -> IndexReport:
        """Bring this index up to date with the files under corpus (see ``build``)."""
        report = indexer.update_index(self.path, corpus, rebuild=rebuild, userdict=userdict,
                                      progress=progress, warn=warn, workers=workers)
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
            return self._get_searcher().doc_count()

    def _get_searcher(self):
        if self._searcher is None:
            self._searcher = self._ix.searcher(weighting=_LiveBM25F())
            self._order = None
        return self._searcher

    def _tie_break(self) -> "_TieBreak":
        """The order of hits for the current searcher (its column readers are reused)."""
        if self._order is None:
            self._order = _TieBreak(self._get_searcher())
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
    ) -> SearchResults:
        """Ranked hits for query, with highlighted snippets.

        ``sources`` keeps hits from those sources (case-insensitive, aliases
        accepted); ``since``/``until`` take dates or 'YYYY', 'YYYY-MM',
        'YYYY-MM-DD' strings and are inclusive; documents with no known date
        are left out by them and counted in ``undated_excluded``. ``sort`` is
        'relevance' (ties broken by date, newest first) or 'date'.
        ``original`` cuts snippets from the document's own script.
        """
        started = time.perf_counter()
        if sort not in SORTS:
            raise SearchkitError(f"unknown sort '{sort}': use {' or '.join(SORTS)}")
        if limit < 1 or offset < 0:
            raise SearchkitError("limit must be at least 1 and offset at least 0")
        q.check_length(query)  # before normalizing: refusing a huge query costs nothing
        self.refresh()
        text = normalize_query(query)
        with self._guard():  # segmenting the query reads the index's lexicon
            compiled = self._compile(q.parse(text))
        filters = self._filters(sources, since, until)
        dated = compiled.dated or since is not None or until is not None
        with self._lock, self._guard():
            searcher = self._get_searcher()
            results = self._run(searcher, compiled, filters, limit + offset, sort)
            partial = False
            if results.total == 0 and len(compiled.clauses) > 1:
                partial_results = self._run_partial(searcher, compiled, filters, limit + offset, sort)
                if partial_results.total:
                    results, partial = partial_results, True
            find_spans = highlight.span_finder(compiled.terms)
            hits = [self._hit(searcher, docnum, score, find_spans, original)
                    for docnum, score in results.ranked[offset : offset + limit]]
            undated = self._count_undated(searcher, compiled, filters) if dated else 0
        return SearchResults(
            query=query, total=results.total, hits=hits, partial=partial,
            elapsed=time.perf_counter() - started, undated_excluded=undated,
            terms=list(compiled.terms),
        )

    def _run(self, searcher, compiled: _Compiled, filters, top: int, sort: str) -> "_Ranked":
        combined = _and([compiled.query, *filters])
        # Every match is scored in one pass: that also gives the exact total
        # and lets ties at the cut be decided by date and id, not by where
        # documents sit in the index. (A top-N search skips blocks but then
        # runs the query a second time to count; on 100,000 poems the one pass
        # halved the median latency.)
        found = _scored_matches(searcher, combined)
        order = self._tie_break()
        if sort == "date":
            # Newest first, undated (day 0) last, then as by relevance. Whoosh's
            # sorted search would break the remaining ties by docnum, which an
            # incremental update changes.
            return _Ranked(len(found), _first(found, top, order.date_rank, order.date_key))
        return _Ranked(len(found), _first(found, top, order.rank, order.key))

    def _run_partial(self, searcher, compiled: _Compiled, filters, top: int,
                     sort: str = "relevance") -> "_Ranked":
        """Best partial matches when no document has every word of the query.

        Each document is ranked first by how many of the query's words it
        contains, then by score (with sort='date', by date first); at least
        half of the words must be there.
        Single characters never count on their own, so partial matching never
        degrades into character noise.
        """
        required = _and([*compiled.required, *filters])
        coverage: dict[int, int] = {}
        for clause in compiled.clauses:
            for docnum in searcher.docs_for_query(_and([clause, required])):
                coverage[docnum] = coverage.get(docnum, 0) + 1
        needed = max(1, math.ceil(len(compiled.clauses) / 2))
        candidates = {d for d, n in coverage.items() if n >= needed}
        if not candidates:
            return _Ranked(0, [])
        found = _scored_matches(searcher, _or(compiled.clauses), allow=candidates)
        order = self._tie_break()
        if sort == "date":  # stable: same-day documents keep their coverage order
            ranked = sorted(found, key=lambda pair: (-coverage[pair[0]], *order.key(pair)))
            ranked.sort(key=lambda pair: -order.day(pair[0]))
            return _Ranked(len(ranked), ranked[:top])
        ranked = _first(found, top, lambda pair: (-coverage[pair[0]], order.rank(pair)),
                        lambda pair: (-coverage[pair[0]], *order.key(pair)))
        return _Ranked(len(found), ranked)

    def _count_undated(self, searcher, compiled: _Compiled, filters) -> int:
        """How many documents match the query but were dropped for having no date."""
        without_dates = [f for f in filters if not isinstance(f, wq.DateRange)]
        undated = wq.Not(wq.Term(schema.DATED, True))
        relaxed = _strip_dates(compiled.query) if compiled.dated else compiled.query
        if compiled.undated_may_match:  # an undated document the query matches was not dropped
            relaxed = _AndNot(relaxed, compiled.query)
        query = _and([relaxed, *without_dates, undated])
        return sum(1 for _ in searcher.docs_for_query(query))


    def _hit(self, searcher, docnum: int, score: float,
             find_spans: Callable[[str], list[tuple[int, int]]], original: bool) -> Hit:
        stored = searcher.stored_fields(docnum)
        text = stored.get(schema.CONTENT, "")
        spans = find_spans(text)
        snippet = highlight.make_snippet(text, spans)
        snippet_text = snippet.text
        if original and stored.get(schema.ORIGINAL):
            snippet_text = highlight.cut_like(snippet, stored[schema.ORIGINAL])
        date = stored.get(schema.DATE)
        return Hit(
            id=stored[schema.ID], path=stored.get(schema.PATH), title=stored.get(schema.TITLE, ""),
            date=date.date() if date else None, source=stored.get(schema.SOURCE),
            url=stored.get(schema.URL), score=float(score), snippet=snippet_text,
            highlights=list(snippet.highlights),
        )

    # -- compiling queries ------------------------------------------------------

    def _compile(self, node) -> _Compiled:
        return _Compiler(self._segmenter, self._source_query).compile(node)

    # -- filters -------------------------------------------------------------

    def _filters(self, sources, since, until) -> list[wq.Query]:
        filters = []
        if isinstance(sources, str):  # one name, not an iterable of its characters
            sources = [sources]
        if sources:
            filters.append(self._source_query(list(sources)))
        if since is not None or until is not None:
            filters.append(_date_range(*q.date_span(since, until)))
        return filters

    def _source_query(self, names: list[str]) -> wq.Query:
        """Documents from any of the sources names mean (UnknownSourceError, see resolve_source)."""
        with self._lock, self._guard():
            table = self._source_table()
            # The source field is lowercased when indexed (see schema.py).
            return _or([wq.Term(schema.SOURCE, table.resolve(name).lower()) for name in names])

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
        counts: dict[str, int] = {}
        if schema.SOURCE not in reader.indexed_field_names():
            return counts
        for term in reader.lexicon(schema.SOURCE):
            postings = reader.postings(schema.SOURCE, term)
            live = [d for d in postings.all_ids() if not reader.is_deleted(d)]
            if live:
                name = searcher.stored_fields(live[0]).get(schema.SOURCE)
                counts[name] = len(live)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    # -- documents and statistics ------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The full stored document with this id (KeyError if there is none)."""
        self.refresh()
        with self._lock, self._guard():
            stored = self._get_searcher().document(**{schema.ID: doc_id})
        if stored is None:
            raise KeyError(doc_id)
        date = stored.get(schema.DATE)
        text = stored.get(schema.CONTENT, "")
        return Document(
            id=stored[schema.ID], text=text, original=stored.get(schema.ORIGINAL) or text,
            path=stored.get(schema.PATH), title=stored.get(schema.TITLE, ""),
            date=date.date() if date else None, source=stored.get(schema.SOURCE),
            url=stored.get(schema.URL), metadata=stored.get(schema.META) or {},
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
            total = searcher.doc_count()
            reader = searcher.reader()
            day = reader.column_reader(schema.DAYNUMBER)
            days = [d for d in (day[docnum] for docnum in reader.all_doc_ids()) if d]
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        return IndexStats(
            path=str(self.path), documents=total, sources=self.sources(),
            earliest=dt.date.fromordinal(min(days)) if days else None,
            latest=dt.date.fromordinal(max(days)) if days else None,
            undated=total - len(days), size_bytes=size, analyzer=dict(self._manifest.config),
        )


class _Compiler:
    """Turns one parsed query into Whoosh queries.

    A text of the query is needed several times (for matching, for partial
    matching, for highlighting): the compiler segments it once. Make one per query.
    """

    def __init__(self, segmenter: analysis.Segmenter, source_query: Callable[[list[str]], wq.Query]) -> None:
        self._segmenter = segmenter
        self._source_query = source_query
        self._segmented: dict[str, list[str]] = {}
        self._word_queries: dict[tuple[str, str | None], wq.Query] = {}

    def compile(self, node) -> _Compiled:
        """The Whoosh query for node, with what to highlight and the partial-match units.

        Raises QueryTooLongError for a query of more than MAX_QUERY_WORDS words.
        """
        self._segment_together(list(_texts(node)))
        q.check_words(self._word_count(node))
        compiled = _Compiled(self.node(node))
        compiled.terms = sorted(set(self._highlight_terms(node)), key=len, reverse=True)
        items = node.items if isinstance(node, q.And) else (node,)
        for item in items:
            if isinstance(item, q.Term):
                compiled.clauses.extend(
                    self._word_query(w, item.field) for w in self._query_words(item.text)
                    if not (len(w) == 1 and analysis.is_cjk(w))
                )
            elif isinstance(item, q.Phrase):
                compiled.clauses.append(self.node(item))
            else:
                compiled.required.append(self.node(item))
        compiled.dated = _mentions_dates(node)
        compiled.undated_may_match = _dates_optional(node)
        if len(compiled.clauses) <= 1:
            compiled.clauses = []
        return compiled

    def node(self, node) -> wq.Query:
        """The Whoosh query for one node of the syntax tree."""
        if isinstance(node, q.And):
            positives = [self.node(n) for n in node.items if not isinstance(n, q.Not)]
            negatives = [self.node(n.item) for n in node.items if isinstance(n, q.Not)]
            query = _and(positives) if positives else wq.Every()
            # One AndNot for all the negatives, not one inside another: the same
            # documents and scores (AndNot scores its kept side only), and a
            # tree as shallow for a thousand negatives as for one.
            return _AndNot(query, _or(negatives)) if negatives else query
        if isinstance(node, q.Or):
            return _or([self.node(n) for n in node.items])
        if isinstance(node, q.Not):
            return _AndNot(wq.Every(), self.node(node.item))
        if isinstance(node, q.Term):
            return self._term_query(node.text, node.field)
        if isinstance(node, q.Phrase):
            return self._phrase_query(node.text, node.field)
        if isinstance(node, q.Source):
            return self._source_query([node.name])
        if isinstance(node, q.DateSpan):
            return _date_range(node.start, node.end)
        raise TypeError(node)

    def _word_count(self, node) -> int:
        """How many words the query has, as MAX_QUERY_WORDS counts them.

        Those of its bare words and phrases as they are segmented (stop words
        too: a text is also looked up literally, whole), a code such as
        ``1-2-3`` counting as its pieces (each is looked up), and one for each
        source: or date: term.
        """
        count = 0
        for item in _nodes(node):
            if isinstance(item, (q.Term, q.Phrase)):
                count += sum(1 if analysis.is_cjk(word) else max(1, len(analysis.char_tokens(word)))
                             for word in self._words(item.text))
            elif isinstance(item, (q.Source, q.DateSpan)):
                count += 1
        return count

    def _segment_together(self, texts: list[str]) -> None:
        """Segment several texts of the query in one call to the segmenter.

        The segmenter cuts each run of Chinese characters (or of letters and
        digits) on its own, so the texts joined by spaces give each text the
        words it gives alone; one call reads the query lexicon once, not once
        per text.
        """
        texts = [text for text in dict.fromkeys(texts) if text not in self._segmented]
        if len(texts) < 2:
            return
        starts = list(itertools.accumulate((len(text) + 1 for text in texts[:-1]), initial=0))
        words: dict[str, list[str]] = {text: [] for text in texts}
        for word, _, start, _ in self._segmenter.words(" ".join(texts)):
            words[texts[bisect.bisect_right(starts, start) - 1]].append(word)
        self._segmented.update(words)

    def _words(self, text: str) -> list[str]:
        """The query segmentation of text, computed once per text of the query."""
        words = self._segmented.get(text)
        if words is None:
            words = self._segmented[text] = [t[0] for t in self._segmenter.words(text)]
        return list(words)  # a fresh list: Whoosh phrases keep the one they are given

    def _query_words(self, text: str) -> list[str]:
        words = self._words(text)
        content = [w for w in words if w not in analysis.STOP_WORDS]
        return content or words

    def _term_query(self, text: str, field_name: str | None) -> wq.Query:
        words = self._query_words(text)
        if not words:
            return wq.NullQuery
        query = _and([self._word_query(w, field_name) for w in words])
        if len(words) > 1 and field_name is None:
            literal = _char_phrase(text, boost=LITERAL_BONUS)
            if literal is not None:
                query = wq.AndMaybe(query, literal)
        return query

    def _word_query(self, word: str, field_name: str | None) -> wq.Query:
        # The same object in the query and in the partial-match units, so that
        # its terms' look-ups serve both.
        key = (word, field_name)
        if key not in self._word_queries:
            self._word_queries[key] = self._new_word_query(word, field_name)
        return self._word_queries[key]

    def _new_word_query(self, word: str, field_name: str | None) -> wq.Query:
        if field_name == "title":
            return _Term(schema.TITLE, word)
        whole = wq.Or([_Term(schema.CONTENT, word), _Term(schema.TITLE, word)])
        chars = _char_phrase(word, boost=CHAR_WEIGHT)
        return wq.Or([whole, chars]) if chars is not None else whole

    def _phrase_query(self, text: str, field_name: str | None) -> wq.Query:
        words = self._words(text)
        if not words:
            return wq.NullQuery
        if field_name == "title":
            return _phrase(schema.TITLE, words)
        exact = _char_phrase(text)
        return wq.Or([_phrase(schema.CONTENT, words), exact]) if exact is not None else wq.NullQuery

    def _highlight_terms(self, node) -> list[str]:
        """The texts to highlight: words and phrases of the query, not negated ones."""
        terms = []
        for item in _nodes(node, negated=False):
            if isinstance(item, q.Phrase):
                terms.append(item.text)
            elif isinstance(item, q.Term):
                words = self._query_words(item.text)
                keep = [w for w in words if not (len(w) == 1 and analysis.is_cjk(w))] or words
                terms.extend([item.text, *keep])
        return terms


class _TieBreak:
    """Order of hits: by score, then (equal scores) newest first, then by id."""

    def __init__(self, searcher) -> None:
        reader = searcher.reader()
        self.day = reader.column_reader(schema.DAYNUMBER).__getitem__
        self.id = reader.column_reader(schema.ID).__getitem__

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


class _LiveBM25F(scoring.BM25F):
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
    (segments keep at most segments.MAX_DELETED of theirs), once per searcher
    and term. Without deletions these are Whoosh's own figures.
    """

    def __init__(self, reader) -> None:
        self._reader = reader
        self.count = reader.doc_count()
        leaves = [leaf for leaf, _ in reader.leaf_readers()] if not reader.is_atomic() else [reader]
        self._deleted = [(leaf, docs, frozenset(docs)) for leaf, docs
                         in ((leaf, segments.deleted_docs(leaf)) for leaf in leaves if leaf.has_deletions())]
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
                total -= segments.deleted_length(leaf, fieldname) or 0
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
                    frequency -= segments.deleted_postings(leaf, fieldname, btext, deleted, gone)
            self._frequencies[key] = frequency
        return frequency


def _scored_matches(searcher, query: wq.Query, allow: set[int] | None = None) -> list[tuple[int, float]]:
    """(docnum, score) of every document matching query (and in allow, if given).

    The scores are those of ``searcher.search(query, limit=None)``: the same
    matchers, built with the same context, each document scored by the same
    additions (see ``_match_scores``), without the collector and Results
    objects around them. (The matches too, but that a NOT here always
    excludes what it names, see ``_match_scores``.)
    """
    context = searcher.context()
    found = []
    for subsearcher, offset in searcher.leaf_searchers():
        scores = _match_scores(query.matcher(subsearcher, context))
        found.extend((offset + docnum, score) for docnum, score in scores.items()
                     if allow is None or offset + docnum in allow)
    return found


def _match_scores(matcher) -> dict[int, float]:
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
        scores = _match_scores(matcher.a)
        for docnum, score in _match_scores(matcher.b).items():
            found = scores.get(docnum)
            scores[docnum] = score if found is None else found + score
        return scores
    if kind is matching.WrappingMatcher:
        boost = matcher.boost
        return {docnum: score * boost for docnum, score in _match_scores(matcher.child).items()}
    scores = {}
    while matcher.is_active():
        scores[matcher.id()] = matcher.score()
        matcher.next()
    return scores


def _first(pairs: list, top: int, rank: Callable, key: Callable) -> list:
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
class _Ranked:
    total: int
    ranked: list[tuple[int, float]]


def canonical_source_name(name: str) -> str:
    """The canonical outlet name for name (aliases from the built-in table)."""
    from .loaders import canonical_source

    return canonical_source(name) or name


class _Term(wq.Term):
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


class _Phrase(wq.Phrase):
    """A Whoosh phrase query whose words are looked up once per segment (see _Term).

    Whoosh's Phrase checks that every word is in the segment, then opens each
    with a new Term query that checks again, and estimates its size with yet
    other Term queries; this one asks its own _Term queries every time.
    """

    def __init__(self, fieldname: str, words: list[str], boost: float = 1.0) -> None:
        super().__init__(fieldname, words, boost=boost)
        self._terms = [_Term(fieldname, word) for word in words]

    def estimate_size(self, ixreader) -> int:
        """The smallest document frequency of the words, as Whoosh's Phrase estimates it."""
        return min(term.estimate_size(ixreader) for term in self._terms)

    def matcher(self, searcher, context=None):
        """Whoosh's Phrase.matcher (words in order, next to each other), over _Term queries."""
        reader = searcher.reader()
        if not all(term.estimate_size(reader) for term in self._terms):
            return matching.NullMatcher()
        near = wq.SpanNear2(self._terms, slop=self.slop, ordered=True, mindist=1)
        found = near.matcher(searcher, context)
        return matching.WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


class _AndNot(wq.AndNot):
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


def _and(queries: list[wq.Query]) -> wq.Query:
    queries = [x for x in queries if x is not None]
    if not queries:
        return wq.Every()
    return queries[0] if len(queries) == 1 else wq.And(queries)


def _or(queries: list[wq.Query]) -> wq.Query:
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def _phrase(field_name: str, words: list[str], boost: float = 1.0) -> wq.Query:
    if len(words) == 1:
        return _Term(field_name, words[0], boost=boost)
    return _Phrase(field_name, words, boost=boost)


def _char_phrase(text: str, boost: float = 1.0) -> wq.Query | None:
    """An exact-substring query, or None if text has no characters.

    Chinese strings of two or more characters are looked up as bigrams;
    anything else (one character, Latin, digits, punctuation) as a phrase
    over the character field.
    """
    if analysis.is_cjk(text) and len(text) > 1:
        return _phrase(schema.BIGRAMS, [t[0] for t in analysis.bigram_tokens(text)], boost)
    chars = [t[0] for t in analysis.char_tokens(text)]
    if not chars:
        return None
    if len(chars) == 1:
        return _Term(schema.CHARS, chars[0], boost=boost)
    return _Phrase(schema.CHARS, chars, boost=boost)


def _date_range(start: dt.date | None, end: dt.date | None) -> wq.Query:
    low = dt.datetime.combine(start, dt.time()) if start else None
    high = dt.datetime.combine(end, dt.time.max) if end else None
    return wq.DateRange(schema.DATE, low, high)


def _nodes(node, *, negated: bool = True) -> Iterator:
    """Every node of a query tree, in order (without Not subtrees unless negated).

    A loop over a stack, not recursion: a walk costs no stack, however the
    tree was built (the parser also keeps trees within MAX_NESTING).
    """
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, (q.And, q.Or)):
            stack.extend(reversed(item.items))
        elif isinstance(item, q.Not) and negated:
            stack.append(item.item)


def _texts(node) -> Iterator[str]:
    """The texts of the words and phrases of a query tree."""
    return (item.text for item in _nodes(node) if isinstance(item, (q.Term, q.Phrase)))


def _mentions_dates(node) -> bool:
    return any(isinstance(item, q.DateSpan) for item in _nodes(node))


def _dates_optional(node) -> bool:
    """Whether a date: of the query is under OR or NOT (not required of every match).

    Only then can a document without a date match the query.
    """
    stack = [(node, True)]
    while stack:
        item, required = stack.pop()
        if isinstance(item, q.DateSpan) and not required:
            return True
        if isinstance(item, q.And):
            stack.extend((child, required) for child in item.items)
        elif isinstance(item, q.Or):
            stack.extend((child, False) for child in item.items)
        elif isinstance(item, q.Not):
            stack.append((item.item, False))
    return False


def _strip_dates(query: wq.Query, positive: bool = True) -> wq.Query:
    """The query relaxed for documents without a date, to count those left out.

    Such a document never matches a date range. A range it must match (under
    an even number of negations: positive) becomes Every, so the relaxed query
    finds the documents that could match if their dates were known; a range
    under a negation stays, since not matching it already lets them through.

    Every query shape is rebuilt by Whoosh's own ``apply``, which knows each
    node's constructor; only negations (the right side of AndNot, Not) are
    handled here. (Rebuilding every CompoundQuery from a list of subqueries
    was a TypeError for AndNot and the other BinaryQuery kinds, which take
    two.) The result is for counting, not scoring: an And drops its Every
    children and an Or with an Every child is Every (an And of 60 Every
    matchers took seconds).
    """
    if isinstance(query, wq.DateRange):
        return wq.Every() if positive else query
    if isinstance(query, wq.AndNot):
        return type(query)(_strip_dates(query.a, positive), _strip_dates(query.b, not positive))
    if isinstance(query, wq.Not):
        return wq.Not(_strip_dates(query.query, not positive), boost=query.boost)
    relaxed = query.apply(lambda child: _strip_dates(child, positive))
    if type(relaxed) is wq.And:
        return _and([s for s in relaxed.subqueries if not _is_every(s)])
    if type(relaxed) is wq.Or and any(_is_every(s) for s in relaxed.subqueries):
        return wq.Every()
    return relaxed


def _is_every(query: wq.Query) -> bool:
    """Whether query is an Every() of no particular field (every document)."""
    return type(query) is wq.Every and query.fieldname is None
