"""Sharded indexes: a directory of ordinary indexes that answers like one index.

A sharded index is a directory holding a layout file (``LAYOUT``) and one
searchkit index per shard (``shard-000``, ``shard-001``, ...). Each document
goes to the shard ``shard_of(id, count)`` names: a stable hash of its id, so
an update sends a changed document to the shard that already holds it, and
``document(id)`` reads one shard only. Or, chosen when the index is built,
by date (``shards_by``): a shard a year or month of the documents' dates and
one of the undated, each shard's period in the layout, so that a search with
since/until ranks only the shards it can match (``_ranking_shards``). Every
shard is built from the whole corpus and keeps its own documents (see
``indexer.index_unit``): shards are built independently, in this process or
on a Dask cluster (cluster.py).

Searching is Elasticsearch's ``dfs_query_then_fetch`` in one process: the
shards' collection statistics are summed (``SummedStatistics``: document
count, field lengths, document frequencies, the integers BM25F reads), every
shard scores its matches with those sums, so with the floats one index of all
the documents gives, and the first hits of all shards are merged by the very
key one index sorts by (score to six places, then date, then id; coverage
first for partial matches). Snippets are cut for the final page only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import query as wq

from . import compiler, highlight, indexer, integrity, ranking, schema
from . import facets as overview
from . import query as q
from .engine import SHARD_LAYOUT, SearchIndex, ShardReader, check_search_options, search_filters
from .errors import (IndexDamagedError, IndexMismatchError, IndexNotFoundError, SearchkitError,
                     ShardUnavailableError)
from .internals.queries import SummedStatistics, live_statistics, matching_docs
from .loaders import load_file
from .models import DEFAULT_LIMIT, DEFAULT_SNIPPET_CHARS, Document, IndexReport, IndexStats, SearchResults
from .normalize import normalize_query
from .roots import Corpus
from .sources import SourceTable, combine_aliases

LAYOUT = SHARD_LAYOUT
"""The file that makes a directory a sharded index: its shards and how documents are routed."""
LAYOUT_FORMAT = 1
ROUTING = "id-blake2b64"
"""Routing by the first 8 bytes of the BLAKE2b digest of the UTF-8 id, modulo the shard count."""
DATE_ROUTINGS = {"year": "date-year", "month": "date-month"}
"""Routing by the period a document's date falls in, one shard a period (see DateRoute)."""
UNDATED = "shard-undated"
"""The shard of the documents without a date, in an index routed by date."""
CENSUS = "searchkit-census.json"
"""Beside the layout of an index routed by date: the periods each corpus file's documents fall in."""

# What makes a shard unreadable at query time: its directory gone, its files
# damaged or not what its manifest says, or the storage under it failing.
_SHARD_FAULTS = (IndexNotFoundError, IndexMismatchError, OSError)


def shard_of(doc_id: str, count: int) -> int:
    """The shard (0 .. count-1) that holds the document with this id.

    Stable across runs, processes and machines (unlike ``hash``), and spread
    evenly whatever the ids look like.
    """
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def shard_name(number: int) -> str:
    """The directory name of shard number (within the sharded index)."""
    return f"shard-{number:03d}"


def period_of(date: dt.date | None, granularity: str) -> str | None:
    """The period ('2021' by year, '2021-03' by month) a date falls in; None for no date."""
    if date is None:
        return None
    return f"{date.year:04d}" if granularity == "year" else f"{date.year:04d}-{date.month:02d}"


def period_range(period: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a period ('2021' or '2021-03')."""
    year, _, month = period.partition("-")
    if not month:
        return dt.date(int(year), 1, 1), dt.date(int(year), 12, 31)
    first = dt.date(int(year), int(month), 1)
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def period_shard(period: str | None) -> str:
    """The directory name of the shard of a period (UNDATED for None)."""
    return UNDATED if period is None else f"shard-{period}"


@dataclass(frozen=True)
class Route:
    """Keeps the documents of one shard: ``Route(2, 5)(doc_id)`` (picklable, for workers)."""

    shard: int
    count: int

    def __call__(self, doc_id: str) -> bool:
        return shard_of(doc_id, self.count) == self.shard


@dataclass(frozen=True)
class DateRoute:
    """Keeps the loaded documents of one period: ``DateRoute("year", "2021")(document)``.

    ``period`` None keeps the undated documents. A date is known only once a
    document is loaded (a sidecar, the record, or the text's own date line may
    give it), so this route is applied to loaded documents, before they are
    segmented (see indexer.index_unit); the id route is applied earlier, to ids.
    """

    granularity: str
    period: str | None

    def __call__(self, document: Document) -> bool:
        return period_of(document.date, self.granularity) == self.period


@dataclass
class Layout:
    """What a sharded index's layout file records.

    An index routed by date (``routing`` one of DATE_ROUTINGS) records each
    shard's period as ``ranges``: name -> (first day, last day), None for
    the undated shard.
    """

    shards: list[str]
    config: dict[str, Any]
    routing: str = ROUTING
    ranges: dict[str, tuple[dt.date, dt.date] | None] | None = None

    @property
    def granularity(self) -> str | None:
        """'year' or 'month' for an index routed by date, else None."""
        return next((key for key, value in DATE_ROUTINGS.items() if value == self.routing), None)

    def holders(self, doc_id: str) -> list[str]:
        """The shards that may hold the document with this id: one by id; by date, any."""
        if self.granularity is None:
            return [self.shards[shard_of(doc_id, len(self.shards))]]
        return list(self.shards)

    def shard_for(self, document: Document) -> str | None:
        """The shard document goes to (None: routed by date, to a period without a shard)."""
        if self.granularity is None:
            return self.shards[shard_of(document.id, len(self.shards))]
        name = period_shard(period_of(document.date, self.granularity))
        return name if name in self.shards else None

    @classmethod
    def read(cls, path: Path) -> "Layout":
        """The layout of the sharded index at path (IndexNotFoundError, IndexDamagedError)."""
        try:
            data = json.loads((path / LAYOUT).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexNotFoundError(path, f"no sharded index at {path}") from None
        except (OSError, ValueError) as exc:
            raise IndexDamagedError(path, f"{LAYOUT}: {exc}") from None
        if (not isinstance(data, dict) or data.get("format") != LAYOUT_FORMAT
                or not isinstance(data.get("shards"), list) or not data["shards"]
                or not isinstance(data.get("config"), dict)):
            raise IndexDamagedError(path, f"{LAYOUT}: not a layout of format {LAYOUT_FORMAT}")
        routing = data.get("routing")
        if routing != ROUTING and routing not in DATE_ROUTINGS.values():
            raise IndexMismatchError(path, f"sharded index at {path} routes documents by "
                                     f"{routing!r}, which this version does not know")
        ranges = None
        if routing != ROUTING:
            try:
                ranges = {name: None if span is None else (dt.date.fromisoformat(span[0]),
                                                           dt.date.fromisoformat(span[1]))
                          for name, span in data["ranges"].items()}
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                raise IndexDamagedError(path, f"{LAYOUT}: the shards' date ranges: {exc}") from None
            if set(ranges) != set(data["shards"]):
                raise IndexDamagedError(path, f"{LAYOUT}: the date ranges do not name the shards")
        return cls(list(data["shards"]), data["config"], routing, ranges)

    def write(self, path: Path) -> None:
        """Write the layout file atomically (the last step of a build)."""
        data: dict[str, Any] = {"format": LAYOUT_FORMAT, "routing": self.routing, "shards": self.shards,
                                "config": self.config}
        if self.ranges is not None:
            data["ranges"] = {name: None if span is None else [span[0].isoformat(), span[1].isoformat()]
                              for name, span in self.ranges.items()}
        tmp = path / (LAYOUT + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, path / LAYOUT)


# -- building -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardJob:
    """Building (or updating) one shard: a picklable unit of work for any process.

    ``run`` is atomic, as every index update is (see indexer._commit): a
    process killed in the middle leaves the shard as it was, and running
    the job again finishes it.
    """

    index_dir: str
    name: str
    route: Route | DateRoute
    corpus: tuple[str, ...]
    options: tuple[tuple[str, Any], ...]

    @property
    def shard_dir(self) -> Path:
        return Path(self.index_dir) / self.name

    def run(self, progress: Callable[[int, int], None] | None = None) -> tuple[IndexReport, list[str]]:
        """Index this shard's documents of the corpus; the report and the warnings.

        ``progress(done, total)`` hears the bytes this shard has read, as
        SearchIndex.build's does.
        """
        warnings: list[str] = []
        routing = {"route": self.route} if isinstance(self.route, Route) else {"keep": self.route}
        report = indexer.update_index(self.shard_dir, list(self.corpus), warn=warnings.append,
                                      progress=progress, **routing, **dict(self.options))
        return report, warnings


def is_sharded(path: str | os.PathLike) -> bool:
    """Whether path holds a sharded index."""
    return (Path(path) / LAYOUT).is_file()


def plan_jobs(path: str | os.PathLike, corpus: Iterable[str | os.PathLike], shards: int | None,
              shards_by: str | None = None, **options) -> list[ShardJob]:
    """The jobs that build or update the sharded index at path (one per shard).

    A new sharded index needs ``shards`` (that many shards, routed by id) or
    ``shards_by`` ('year' or 'month': a shard a period, see plan_by_date); an
    existing one keeps its routing and, routed by id, its count (another is
    an error: documents would land in other shards).
    """
    return _plan(Path(path), corpus, shards, shards_by, options)[0]


def _plan(path: Path, corpus: Iterable[str | os.PathLike], shards: int | None, shards_by: str | None,
          options: dict[str, Any]) -> tuple[list[ShardJob], dict[str, list] | None]:
    """plan_jobs's jobs, and the census to record after them when routed by date."""
    paths = [os.path.abspath(p) for p in corpus]  # workers may run elsewhere: no relative paths
    for given in paths:
        if not Path(given).exists():
            raise SearchkitError(f"no such file or directory: {given}")
    if shards is not None and shards_by is not None:
        raise SearchkitError("give a number of shards or a period to shard by, not both")
    if shards_by is not None and shards_by not in DATE_ROUTINGS:
        raise SearchkitError(f"cannot shard by {shards_by!r}: by 'year' or 'month'")
    if is_sharded(path):
        layout = Layout.read(path)
        _check_same_routing(path, layout, shards, shards_by)
        shards_by = layout.granularity
        count = len(layout.shards)
    else:
        if (path / indexer.MANIFEST).exists():
            raise SearchkitError(f"{path} holds an index that is not sharded: "
                                 "build the shards into a new directory")
        if shards is None and shards_by is None:
            raise IndexNotFoundError(path, f"no sharded index at {path} yet: give the number of shards")
        if shards is not None and shards < 1:
            raise SearchkitError("the number of shards must be at least 1")
        if not paths:
            raise IndexNotFoundError(path, f"no index at {path} yet: name the files "
                                     "or directories to build it from")
        count = shards
    fixed = tuple(sorted((key, value) for key, value in options.items()))
    location = str(path.resolve())
    if shards_by is not None:
        planned = plan_by_date(path, paths, shards_by, options)
        # A new period's shard of an existing index starts from every root the
        # others have, with their globs and user dictionary.
        whole = tuple(root.path for root in planned.corpus.roots)
        userdict = options.get("userdict")
        if userdict is None and is_sharded(path):
            userdict = indexer.index_userdict(path / Layout.read(path).shards[0])
        start = tuple(sorted({**options, "remove": (), "include": planned.corpus.include,
                              "exclude": planned.corpus.exclude, "userdict": userdict}.items()))
        jobs = []
        for period in planned.periods:
            new = is_sharded(path) and not (path / period_shard(period) / indexer.MANIFEST).exists()
            jobs.append(ShardJob(location, period_shard(period), DateRoute(shards_by, period),
                                 whole if new else tuple(paths), start if new else fixed))
        return jobs, planned.census
    return [ShardJob(location, shard_name(number), Route(number, count), tuple(paths), fixed)
            for number in range(count)], None


def _check_same_routing(path: Path, layout: Layout, shards: int | None, shards_by: str | None) -> None:
    """Refuse a run asking for another routing than the sharded index at path has."""
    granularity = layout.granularity
    if granularity is None and shards_by is not None:
        raise SearchkitError(f"the index at {path} routes documents by id, not by {shards_by}: "
                             "build the shards by date into a new directory")
    if granularity is not None and shards is not None:
        raise SearchkitError(f"the index at {path} routes documents by {granularity}, not into {shards} "
                             "shards by id: build those into a new directory")
    if granularity is not None and shards_by is not None and shards_by != granularity:
        raise SearchkitError(f"the index at {path} has a shard a {granularity}, not a {shards_by}: "
                             "build the new periods into a new directory")
    if granularity is None and shards is not None and shards != len(layout.shards):
        raise SearchkitError(f"the index at {path} has {len(layout.shards)} shards, not {shards}: "
                             "build the new count into a new directory")


@dataclass
class DatePlan:
    """The periods a run routed by date builds shards for (None: the undated shard), its census,
    and the roots and globs the shards record after it."""

    periods: list[str | None]
    census: dict[str, list]
    corpus: Corpus


def plan_by_date(path: Path, paths: list[str], granularity: str, options: dict[str, Any]) -> DatePlan:
    """The shards of a run routed by date: one for every period a document falls in, and the undated one.

    The periods must be known before the shard jobs start, each keeping its
    own, so a census reads the dates first: of the files that changed since
    the census the last run recorded (CENSUS, by checksum), so that an
    update reads only what changed, as the shards do. A new period gets a
    new shard, built from the whole corpus; a period no document falls in
    any more keeps its (then empty) shard. Loading without segmenting costs
    about a tenth of indexing (20,000 generated documents: 1.1 s against
    11.1 s on one core).
    """
    previous = _read_census(path)
    existing = Layout.read(path) if is_sharded(path) else None
    first = path / (existing.shards[0] if existing else UNDATED)
    picked = {key: options[key] for key in ("rebuild", "remove", "include", "exclude") if key in options}
    corpus = indexer.run_corpus(first, paths, **picked)
    census: dict[str, list] = {}
    for corpus_file in indexer.corpus_files(corpus):
        checksum = corpus_file.checksum()
        known = previous.get(corpus_file.key)
        if known and known[0] == checksum:
            census[corpus_file.key] = known
            continue
        found = {period_of(document.date, granularity)
                 for document in load_file(corpus_file, warn=lambda message: None)}
        census[corpus_file.key] = [checksum, sorted(period for period in found if period)]
    periods = {period for _, found in census.values() for period in found}
    if existing and existing.ranges:
        periods |= {name.removeprefix("shard-") for name in existing.ranges if name != UNDATED}
    return DatePlan([*sorted(periods), None], census, corpus)


def _read_census(path: Path) -> dict[str, list]:
    """The census the last run recorded ({file key: [checksum, periods]}), empty if none or unreadable."""
    try:
        data = json.loads((path / CENSUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a census is a cache: without one, every file is read again
    return data if isinstance(data, dict) else {}


def _write_census(path: Path, census: dict[str, list]) -> None:
    tmp = path / (CENSUS + ".tmp")
    tmp.write_text(json.dumps(census, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path / CENSUS)


def finish_build(path: str | os.PathLike, jobs: list[ShardJob],
                 outcomes: list[tuple[IndexReport, list[str]]],
                 warn: Callable[[str], None] | None, started: float) -> IndexReport:
    """Check the built shards agree, write the layout, and sum up the run."""
    path = Path(path)
    configs = [indexer.read_manifest(job.shard_dir).config for job in jobs]
    for job, config in zip(jobs, configs):
        if config != configs[0]:
            raise IndexMismatchError(path, f"shard {job.name} was built with another "
                                     f"analyzer configuration than {jobs[0].name}: rebuild every shard")
    names = [job.name for job in jobs]
    routes = [job.route for job in jobs]
    if isinstance(routes[0], DateRoute):
        ranges = {job.name: None if job.route.period is None else period_range(job.route.period)
                  for job in jobs}
        Layout(names, configs[0], DATE_ROUTINGS[routes[0].granularity], ranges).write(path)
    else:
        Layout(names, configs[0]).write(path)
    seen: set[str] = set()
    for _, warnings in outcomes:  # every shard walks the same files: say each thing once
        for message in warnings:
            if message not in seen:
                seen.add(message)
                if warn:
                    warn(message)
    return combined_report([report for report, _ in outcomes], time.perf_counter() - started)


def combined_report(reports: list[IndexReport], seconds: float) -> IndexReport:
    """The report of a run over all shards.

    Documents are counted in one shard each, so their counts add up; files
    are walked by every shard, so file counts and sizes are the largest any
    shard gave.
    """
    return IndexReport(
        added=sum(r.added for r in reports), updated=sum(r.updated for r in reports),
        removed=sum(r.removed for r in reports),
        unchanged=max(r.unchanged for r in reports), skipped=max(r.skipped for r in reports),
        megabytes=max(r.megabytes for r in reports), seconds=seconds,
        not_text=max((r.not_text for r in reports), key=lambda kinds: sum(kinds.values())),
    )


class ShardProgress:
    """The shards' progress added up into one ``progress(done, total)`` of bytes read.

    Each shard reads the files that changed for it, so the total is the sum
    of theirs; a shard not started yet counts as much as the largest one
    started (on a first build every shard reads the whole corpus). Reports
    may come from another thread (Dask's, see cluster.py).
    """

    def __init__(self, names: list[str], progress: Callable[[int, int], None]) -> None:
        self.progress = progress
        self.work: dict[str, tuple[int, int] | None] = dict.fromkeys(names)
        self.lock = threading.Lock()

    def report(self, name: str, done: int, total: int) -> None:
        """Shard name has read done of its total bytes (a report older than one heard is ignored)."""
        with self.lock:
            heard = self.work.get(name)
            if heard is not None and heard[0] > done:
                return
            self.work[name] = (done, total)
            started = [work for work in self.work.values() if work is not None]
            guess = max(total for _, total in started)
            waiting = sum(work is None for work in self.work.values())
            self.progress(sum(done for done, _ in started),
                          sum(total for _, total in started) + waiting * guess)

    def finished(self, name: str) -> None:
        """Shard name is built: all it had to read is read (nothing, if it never reported)."""
        with self.lock:
            total = (self.work.get(name) or (0, 0))[1]
        self.report(name, total, total)

    def for_shard(self, name: str) -> Callable[[int, int], None]:
        """The progress callback of shard name's job."""
        return lambda done, total: self.report(name, done, total)


def update(path: str | os.PathLike, corpus: Iterable[str | os.PathLike], *, shards: int | None = None,
           shards_by: str | None = None, cluster: str | None = None,
           progress: Callable[[int, int], None] | None = None,
           warn: Callable[[str], None] | None = None, **options) -> IndexReport:
    """Build or update the sharded index at path from corpus (see SearchIndex.build).

    ``cluster``: None runs the shards one after the other in this process
    (each with its own worker processes); 'local' starts a Dask cluster on
    this machine for the run; a 'tcp://host:port' address uses that Dask
    scheduler (see cluster.py). ``progress(done, total)`` hears the bytes
    the shards have read, added up (see ShardProgress). A run that fails
    before any shard is built leaves no directory it created behind.
    """
    started = time.perf_counter()
    path = Path(path)
    created = not path.exists()
    try:
        jobs, census = _plan(path, corpus, shards, shards_by, options)
        path.mkdir(parents=True, exist_ok=True)
        tracker = ShardProgress([job.name for job in jobs], progress) if progress else None
        if cluster is None:
            outcomes = []
            for job in jobs:
                outcomes.append(job.run(tracker.for_shard(job.name) if tracker else None))
                if tracker:
                    tracker.finished(job.name)
        else:
            from . import cluster as dask_cluster  # Dask is an optional extra, imported only here
            outcomes = dask_cluster.run_jobs(jobs, cluster, tracker)
        if census is not None:
            _write_census(path, census)
        return finish_build(path, jobs, outcomes, warn, started)
    except BaseException:
        if created:
            _remove_unbuilt(path)
        raise


def _remove_unbuilt(path: Path) -> None:
    """Remove the directory a failed first run created, unless a shard was built in it.

    The shards built are kept: the same command run again builds the others.
    """
    if not path.is_dir():
        return
    if any((shard / indexer.MANIFEST).exists() for shard in path.iterdir() if shard.is_dir()):
        return
    shutil.rmtree(path, ignore_errors=True)


# -- searching ------------------------------------------------------------------------


class _ShardFailed(Exception):
    """A shard could not be read during an operation (internal: becomes ShardUnavailableError)."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(name, cause)
        self.name, self.cause = name, cause


def _reason(cause: BaseException) -> str:
    if isinstance(cause, OSError) and cause.strerror:
        return f"{cause.strerror}: {cause.filename}" if cause.filename else cause.strerror
    return str(cause)


@dataclass
class _Candidate:
    """One shard's hit before the merge: the sort key one index would give it, and where it is."""

    key: tuple
    shard: str
    docnum: int
    score: float


class ShardedIndex:
    """A sharded index, searched as one: ``SearchIndex.open`` returns one for such a directory.

    It has SearchIndex's methods for searching and reading (search,
    document, sources, resolve_source, stats, document_count, refresh,
    verify, warm_up, update, add_documents, close) and answers as one index
    of all the shards' documents would: the same hits, order and scores.
    """

    def __init__(self, path: Path, layout: Layout, allow_partial: bool) -> None:
        self.path = path
        self.layout = layout
        self.allow_partial = allow_partial
        self._lock = threading.RLock()
        self._shards: dict[str, SearchIndex] = {}
        self._failed: dict[str, str] = {}  # name -> why it cannot be read
        self._states: dict[str, tuple] = {}
        self._bound = False
        self._source_table_cache: SourceTable | None = None
        for name in layout.shards:
            try:
                self._shards[name] = SearchIndex.open(path / name)
                config = self._config(name)
            except _ShardFailed as failed:
                self._fail(name, failed.cause)
                continue
            except _SHARD_FAULTS as exc:
                self._fail(name, exc)
                continue
            if config != layout.config:  # refused even with allow_partial: no fault to skip
                raise IndexMismatchError(path, f"shard {name} of {path} was built with another "
                                         "analyzer configuration than the sharded index records; "
                                         "rebuild it")

    @classmethod
    def open(cls, path: str | os.PathLike, *, allow_partial: bool = False) -> "ShardedIndex":
        """Open the sharded index at path (see SearchIndex.open).

        A shard that cannot be opened is a ShardUnavailableError naming it,
        or with ``allow_partial`` left out of every answer (and named in
        ``partial_shards``). Shards built with another analyzer
        configuration than the layout records are an IndexMismatchError.
        """
        path = Path(path)
        return cls(path, Layout.read(path), allow_partial)

    def _fail(self, name: str, cause: BaseException) -> None:
        """Take shard name out of service, or raise ShardUnavailableError without allow_partial."""
        if not self.allow_partial:
            raise ShardUnavailableError(f"{name} of {self.path}", _reason(cause)) from None
        shard = self._shards.pop(name, None)
        if shard is not None:
            with contextlib.suppress(Exception):
                shard.close()
        self._failed[name] = _reason(cause)
        self._bound = False

    def _config(self, name: str) -> dict[str, Any]:
        """The analyzer configuration shard name was built with."""
        with self._reading(name) as reader:
            return reader.config

    # -- context, refresh and statistics ----------------------------------------------

    def __enter__(self) -> "ShardedIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release every shard's searcher and open files."""
        with self._lock:
            for shard in self._shards.values():
                shard.close()
            self._bound = False

    @contextlib.contextmanager
    def _reading(self, name: str) -> Iterator[ShardReader]:
        """Shard name, locked and guarded; its failure to read is a _ShardFailed."""
        try:
            with self._shards[name].shard_reader() as reader:
                yield reader
        except _SHARD_FAULTS as exc:
            raise _ShardFailed(name, exc) from exc

    def _retrying(self, step: Callable[[], Any]) -> Any:
        """step() with every shard's statistics bound; a shard failing takes it out and step runs again.

        Without allow_partial, the failure is a ShardUnavailableError naming the shard.
        """
        with self._lock:
            while True:
                try:
                    self._refresh_shards()
                    return step()
                except _ShardFailed as failed:
                    self._fail(failed.name, failed.cause)

    def refresh(self) -> bool:
        """Pick up what was committed to any shard since (see SearchIndex.refresh)."""
        with self._lock:
            before = dict(self._states)
            self._retrying(lambda: None)
            return self._states != before

    def _refresh_shards(self) -> None:
        """Reopen the shards that changed; after any change, bind every shard to the new sums."""
        for name, shard in list(self._shards.items()):
            try:
                shard.refresh()
            except _SHARD_FAULTS as exc:
                raise _ShardFailed(name, exc) from exc
        states = {}
        for name in self._shards:
            with self._reading(name) as reader:
                states[name] = reader.state
        if self._bound and states == self._states:
            return
        statistics = SummedStatistics()
        for shard in self._shards.values():
            shard.score_with(statistics)
        parts = []
        for name in self._shards:
            with self._reading(name) as reader:
                parts.append(live_statistics(reader.searcher.reader()))
        statistics.bind(parts)
        self._states, self._bound = states, True
        self._source_table_cache = None

    def _partial_shards(self) -> list[str]:
        return sorted(self._failed)

    # -- searching ----------------------------------------------------------------------

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
        """Ranked hits for query over every shard, as one index would give them (see SearchIndex.search).

        The overview (``facets``) adds up every shard's counts. Not yet over
        shards: folding copies (``fold`` is accepted, and every hit is listed).
        """
        started = time.perf_counter()
        check_search_options(query, sort, limit, offset, snippet_chars)
        text = normalize_query(query)
        results = self._retrying(lambda: self._search(query, text, sources, since, until, limit,
                                                      offset, sort, original, snippet_chars, facets))
        results.elapsed = time.perf_counter() - started
        return results

    def _search(self, query, text, sources, since, until, limit, offset, sort, original,
                snippet_chars, facets) -> SearchResults:
        names = list(self._shards)
        if not names:
            raise SearchkitError(f"no shard of {self.path} can be read: " + "; ".join(
                f"{name}: {reason}" for name, reason in sorted(self._failed.items())))
        with self._reading(names[0]) as first:  # segmenting reads the (shared) query lexicon
            compiled = compiler.Compiler(first.segmenter, self._source_query).compile(q.parse(text))
        filters = self._filters(sources, since, until)
        top = limit + offset
        several = len(compiled.clauses) > 1
        # As ranking.ranked_hits does on one index: those with every word
        # first, then, under FILL_BELOW of them, those with some of the words.
        tallies = [] if facets else None  # each shard counts its matches for the overview
        ranking_names = self._ranking_shards(since, until)
        candidates, total, exact = self._best(ranking_names, compiled, filters,
                                              max(top, ranking.FILL_BELOW) if several else top, sort, tallies)
        candidates.sort(key=lambda candidate: candidate.key)
        partial, complete = False, None
        if several and total == 0:
            candidates, total = self._best_partial(ranking_names, compiled, filters, top, sort, tallies=tallies)
            candidates.sort(key=lambda candidate: candidate.key)
            partial = total > 0
        elif several and total < ranking.FILL_BELOW:
            found = {(c.shard, c.docnum) for c in candidates}
            more, more_total = self._best_partial(ranking_names, compiled, filters, max(0, top - total), sort,
                                                  found, tallies)
            more.sort(key=lambda candidate: candidate.key)
            candidates, complete = candidates + more, (total if more_total else None)
            total += more_total
        find_spans = highlight.span_finder(compiled.terms)
        hits = []
        for candidate in candidates[offset:top]:
            with self._reading(candidate.shard) as reader:
                hits.append(reader.hit(candidate.docnum, candidate.score, find_spans, original, snippet_chars))
        undated = 0
        if compiled.dated or since is not None or until is not None:
            for name in names:
                with self._reading(name) as reader:
                    undated += ranking.count_undated(reader.searcher, compiled, filters, reader.order)
        return SearchResults(
            query=query, total=total, hits=hits, partial=partial, elapsed=0.0,
            undated_excluded=undated, terms=list(compiled.terms), total_exact=exact,
            partial_shards=self._partial_shards(), complete=complete,
            facets=overview.facets_of(sum(tallies, overview.Tally())) if facets else None,
        )

    def _ranking_shards(self, since, until) -> list[str]:
        """The shards (of those open) that can hold a match of a search from since to until.

        In an index routed by date, a shard whose period ends before since or
        starts after until holds no match, nor does the undated shard once
        either is given (a date filter leaves undated documents out): those
        are not searched. Every shard still counts in the statistics every
        score is computed from, and in ``undated_excluded``.
        """
        ranges = self.layout.ranges
        if ranges is None or (since is None and until is None):
            return list(self._shards)
        start, end = q.date_span(since, until)
        return [name for name in self._shards if ranges.get(name) is not None
                and (start is None or ranges[name][1] >= start) and (end is None or ranges[name][0] <= end)]

    def _best(self, names: list[str], compiled, filters, top: int, sort: str,
              tallies: list | None = None) -> tuple[list[_Candidate], int, bool]:
        """Every shard's first top matches with their merge keys, the total, and whether it is exact.

        An estimated total (a shard ranked by bounds, see ranking.best_bounded)
        is the largest of the shards' totals and the sum of the exact ones: at
        least that many, as one index's estimate is. Each shard's matches are
        counted into tallies, when given.
        """
        candidates: list[_Candidate] = []
        totals, exact_sum, exact = [], 0, True
        prune = not self._has_passages(names)
        for name in names:
            with self._reading(name) as reader:
                order = reader.order
                ranked = ranking.best(reader.searcher, compiled, filters, top, sort, order, prune)
                if tallies is not None:
                    tallies.append(reader.facet_tally(ranked, compiled, filters))
                key = _date_key(order) if sort == "date" else _relevance_key(order)
                candidates.extend(_Candidate(key(docnum, score), name, docnum, score)
                                  for docnum, score in ranked.ranked)
            totals.append(ranked.total)
            if ranked.exact:
                exact_sum += ranked.total
            exact = exact and ranked.exact
        total = sum(totals) if exact else max(max(totals), exact_sum)
        return candidates, total, exact

    def _has_passages(self, names: list[str]) -> bool:
        """Whether any shard holds a document indexed as passages.

        One index of them all would then rank every match (ranking.best
        prunes only without passages), so every shard does: its total is
        then exact, as that index's is.
        """
        found = False
        for name in names:
            with self._reading(name) as reader:
                found = found or bool(reader.order.tails)
        return found

    def _best_partial(self, names: list[str], compiled, filters, top: int, sort: str,
                      found: set[tuple[str, int]] = frozenset(),
                      tallies: list | None = None) -> tuple[list[_Candidate], int]:
        """Every shard's best partial matches (see ranking.best_partial), keyed by coverage first.

        found: (shard, docnum) of the documents with every word, left out.
        Each shard's candidates are counted into tallies, when given.
        """
        candidates: list[_Candidate] = []
        total = 0
        for name in names:
            with self._reading(name) as reader:
                searcher, order = reader.searcher, reader.order
                exclude = frozenset(order.head(docnum) for shard, docnum in found if shard == name)
                ranked = ranking.best_partial(searcher, compiled, filters, top, sort, order, exclude=exclude)
                if tallies is not None:
                    tallies.append(reader.facet_tally(ranked, compiled, filters))
                if ranked.ranked:
                    coverage = _coverage(searcher, compiled, filters, order)
                    key = _relevance_key(order)
                    for docnum, score in ranked.ranked:
                        covered = -coverage[order.head(docnum)]
                        if sort == "date":  # newest first, then as by coverage and relevance
                            full = (-order.day(docnum), covered, *key(docnum, score))
                        else:
                            full = (covered, *key(docnum, score))
                        candidates.append(_Candidate(full, name, docnum, score))
            total += ranked.total
        return candidates, total

    def _filters(self, sources, since, until) -> list:
        return search_filters(sources, since, until, self._source_query)

    # -- sources ----------------------------------------------------------------------

    def _source_query(self, names: list[str]):
        """Documents from any of the sources names mean, resolved against every shard's sources."""
        table = self._source_table()
        return compiler.or_([wq.Term(schema.SOURCE, table.resolve(name).lower()) for name in names])

    def _source_table(self) -> SourceTable:
        """Every shard's sources and counts, summed (spelled as the first shard holding one does)."""
        if self._source_table_cache is None:
            counts: dict[str, int] = {}
            spelling: dict[str, str] = {}
            aliases = []
            for name in self._shards:
                with self._reading(name) as reader:
                    aliases.append(reader.aliases)
                    for source, count in reader.count_sources().items():
                        spelled = spelling.setdefault(source.lower(), source)
                        counts[spelled] = counts.get(spelled, 0) + count
            ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            self._source_table_cache = SourceTable(ordered, combine_aliases(*aliases))
        return self._source_table_cache

    def resolve_source(self, name: str) -> str:
        """The source name that name means (see SearchIndex.resolve_source)."""
        return self._retrying(lambda: self._source_table().resolve(name))

    def sources(self) -> dict[str, int]:
        """Source names with their document counts, over every shard."""
        return self._retrying(lambda: dict(self._source_table().counts))

    # -- documents and statistics -------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The full stored document with this id (KeyError if none).

        Routed by id, it is read from the one shard its id names; routed by
        date, the id does not tell the period, so every shard is asked in
        turn (a lookup of the id term in each: well under a millisecond each).
        """
        def read() -> Document:
            for name in self.layout.holders(doc_id):
                if name not in self._shards:
                    raise ShardUnavailableError(f"{name} of {self.path}", self._failed.get(name, "not open"))
                try:
                    return self._shards[name].document(doc_id)
                except KeyError:
                    continue
                except _SHARD_FAULTS as exc:
                    raise _ShardFailed(name, exc) from exc
            raise KeyError(doc_id)
        return self._retrying(read)

    def document_count(self) -> int:
        """How many documents the shards hold together."""
        return self._retrying(lambda: sum(self._each(lambda shard: shard.document_count())))

    def _each(self, read: Callable[[SearchIndex], Any]) -> list:
        """read(shard) for every shard that can be read, in layout order."""
        found = []
        for name in list(self._shards):
            try:
                found.append(read(self._shards[name]))
            except _SHARD_FAULTS as exc:
                raise _ShardFailed(name, exc) from exc
        return found

    def stats(self) -> IndexStats:
        """Document count, sources, date range and size of all shards, and each shard's."""
        def gather() -> IndexStats:
            each = dict(zip(self._shards, self._each(lambda shard: shard.stats())))
            earliest = [s.earliest for s in each.values() if s.earliest]
            latest = [s.latest for s in each.values() if s.latest]
            layout_size = (self.path / LAYOUT).stat().st_size
            first = next(iter(each.values()), None)
            return IndexStats(
                path=str(self.path), documents=sum(s.documents for s in each.values()),
                sources=dict(self._source_table().counts),
                earliest=min(earliest) if earliest else None, latest=max(latest) if latest else None,
                undated=sum(s.undated for s in each.values()),
                size_bytes=layout_size + sum(s.size_bytes for s in each.values()),
                analyzer=dict(first.analyzer) if first else dict(self.layout.config),
                shards=[{"name": name, "documents": s.documents, "size_bytes": s.size_bytes}
                        for name, s in each.items()]
                + [{"name": name, "error": reason} for name, reason in sorted(self._failed.items())],
            )
        return self._retrying(gather)

    def verify(self) -> integrity.Verified:
        """Verify every shard's files (see SearchIndex.verify); the first damage found is raised."""
        verified = [shard.verify() for shard in self._shards.values()]
        return integrity.Verified(sum(v.files for v in verified), sum(v.bytes for v in verified))

    def warm_up(self) -> None:
        """Do the one-time work of a first search now (see SearchIndex.warm_up)."""
        self.search("中文", limit=1)

    # -- changing -------------------------------------------------------------------------

    def update(self, corpus: Iterable[str | os.PathLike], *, shards: int | None = None,
               shards_by: str | None = None, cluster: str | None = None, **options) -> IndexReport:
        """Bring every shard up to date with the files under corpus (see SearchIndex.update)."""
        report = update(self.path, corpus, shards=shards, shards_by=shards_by, cluster=cluster, **options)
        self.refresh()
        return report

    def add_documents(self, documents: Iterable[Document]) -> int:
        """Add (or replace, by id) documents, each in the shard it routes to.

        Routed by date, a document of a period without a shard, or replacing
        one held in another period's shard, is refused: indexing from files
        makes new periods' shards and moves documents between them.
        """
        grouped: dict[str, list[Document]] = {}
        for document in documents:
            name = self.layout.shard_for(document)
            if name is None:
                raise SearchkitError(f"{self.path} has no shard for the date {document.date} of "
                                     f"{document.id}: index it from files to make its period's shard")
            if self.layout.granularity is not None:
                self._check_not_elsewhere(document.id, name)
            grouped.setdefault(name, []).append(document)
        added = 0
        for name, group in grouped.items():
            if name not in self._shards:
                raise ShardUnavailableError(f"{name} of {self.path}", self._failed.get(name, "not open"))
            added += self._shards[name].add_documents(group)
        self.refresh()
        return added


    def _check_not_elsewhere(self, doc_id: str, name: str) -> None:
        """Refuse adding doc_id to shard name while another shard holds a document of that id."""
        for other in self.layout.shards:
            if other == name or other not in self._shards:
                continue
            try:
                self._shards[other].document(doc_id)
            except KeyError:
                continue
            raise SearchkitError(f"{doc_id} is held in {other}, its new date belongs to {name}: "
                                 "update it from its file, which moves it")


def _relevance_key(order: ranking.TieBreak) -> Callable[[int, float], tuple]:
    """The key one index sorts hits by (ranking.TieBreak.key), with values comparable across shards."""
    return lambda docnum, score: (-round(score, 6), -order.day(docnum), order.id(docnum))


def _date_key(order: ranking.TieBreak) -> Callable[[int, float], tuple]:
    """The key of sort='date' (ranking.TieBreak.date_key), comparable across shards."""
    return lambda docnum, score: (-order.day(docnum), -round(score, 6), order.id(docnum))


def _coverage(searcher, compiled, filters, order: ranking.TieBreak) -> dict[int, int]:
    """How many of the query's clauses each document matches (by its first passage's docnum).

    What ranking.best_partial ranks by first; documents never span shards,
    so one shard's figure is the one index's.
    """
    required = compiler.and_([*compiled.required, *filters])
    coverage: dict[int, int] = {}
    for clause in compiled.clauses:
        for head in {order.head(docnum) for docnum in matching_docs(searcher, compiler.and_([clause, required]))}:
            coverage[head] = coverage.get(head, 0) + 1
    return coverage
