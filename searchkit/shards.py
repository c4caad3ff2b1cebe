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

Searching is Elasticsearch's ``dfs_query_then_fetch``: a coordinator
(``ShardedIndex``) gathers every shard's collection statistics for the query
(document count, field lengths, document frequencies: the integers BM25F
reads) and sums them, every shard scores its matches with those sums, so
with the floats one index of all the documents gives, and the first hits of
all shards are merged by the very key one index sorts by (score to six
places, then date, then id; coverage first for partial matches). Snippets
are cut for the final page only. The coordinator reaches each shard through
its service (shard_service.py): in this process, or a Dask actor that keeps
the shard open on a worker (cluster.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import query as wq

from . import analysis, compiler, duplicates, highlight, indexer, integrity, ranking, schema
from . import facets as overview
from . import query as q
from .engine import SHARD_LAYOUT, check_search_options, search_filters
from .errors import (IndexDamagedError, IndexMismatchError, IndexNotFoundError, SearchkitError,
                     ShardUnavailableError)
from .internals.queries import StatisticsTable
from .loaders import load_file
from .models import (DEFAULT_LIMIT, DEFAULT_SNIPPET_CHARS, Document, DuplicateCluster, DuplicateDocument, Hit,
                     IndexReport, IndexStats, SearchResults)
from .shard_service import Search, ShardDescription, ShardFigures, ShardRanking, ShardService
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
SHARD_FAULTS = (IndexNotFoundError, IndexMismatchError, OSError)


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


class ShardFailed(Exception):
    """A shard could not be read during an operation (internal: becomes ShardUnavailableError)."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(name, cause)
        self.name, self.cause = name, cause


def _reason(cause: BaseException) -> str:
    if isinstance(cause, OSError) and cause.strerror:
        return f"{cause.strerror}: {cause.filename}" if cause.filename else cause.strerror
    return str(cause)


def after_statistics(index: "ShardedIndex", names: list[str]) -> None:
    """Called between a search's statistics phase and its ranking phase (a no-op).

    Tests replace it to stop a shard's worker at that very point.
    """


class LocalShards:
    """Shard services in this process: each call is a direct call (see shard_service.py)."""

    remote = False  # a call costs nothing: the partial fill is its own phase, run only when needed

    def __init__(self, path: Path) -> None:
        self.path = path
        self._services: dict[str, ShardService] = {}

    def open(self, name: str) -> None:
        """Open shard name's service (IndexNotFoundError, IndexMismatchError, OSError)."""
        self._services[name] = ShardService(str(self.path / name))

    def ask(self, method: str, calls: dict[str, tuple]) -> dict[str, Any]:
        """method(*args) of each named shard's service; a shard's fault is a ShardFailed naming it."""
        found = {}
        for name, args in calls.items():
            try:
                found[name] = getattr(self._services[name], method)(*args)
            except SHARD_FAULTS as exc:
                raise ShardFailed(name, exc) from exc
        return found

    def placement(self) -> dict[str, str]:
        """Where each shard is served: here."""
        return {name: "this process" for name in self._services}

    def drop(self, name: str) -> None:
        service = self._services.pop(name, None)
        if service is not None:
            with contextlib.suppress(Exception):
                service.close()

    def close(self) -> None:
        for service in self._services.values():
            service.close()


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
    It coordinates: every shard is reached through its service
    (shard_service.py), in this process or as a Dask actor (cluster.py).
    """

    def __init__(self, path: Path, layout: Layout, allow_partial: bool, pool=None) -> None:
        self.path = path
        self.layout = layout
        self.allow_partial = allow_partial
        self._lock = threading.RLock()
        self._pool = pool if pool is not None else LocalShards(path)  # or cluster.ActorShards
        self._live: list[str] = []  # the shards in service, in layout order
        self._failed: dict[str, str] = {}  # name -> why it cannot be read
        self._described: dict[str, ShardDescription] = {}
        self._source_table_cache: SourceTable | None = None
        self._segmenter_cache = None
        try:
            for name in layout.shards:
                try:
                    self._pool.open(name)
                except SHARD_FAULTS as exc:
                    self._fail(name, exc)
                    continue
                self._live.append(name)
            self._retrying(self._describe)
        except BaseException:
            self._pool.close()
            raise
        for name, described in self._described.items():
            if described.config != layout.config:  # refused even with allow_partial: no fault to skip
                self._pool.close()
                raise IndexMismatchError(path, f"shard {name} of {path} was built with another "
                                         "analyzer configuration than the sharded index records; "
                                         "rebuild it")

    @classmethod
    def open(cls, path: str | os.PathLike, *, allow_partial: bool = False, cluster=None) -> "ShardedIndex":
        """Open the sharded index at path (see SearchIndex.open).

        A shard that cannot be opened is a ShardUnavailableError naming it,
        or with ``allow_partial`` left out of every answer (and named in
        ``partial_shards``). Shards built with another analyzer
        configuration than the layout records are an IndexMismatchError.
        ``cluster`` serves the shards by Dask actors (see cluster.py).
        """
        path = Path(path)
        layout = Layout.read(path)
        if cluster is None:
            return cls(path, layout, allow_partial)
        from . import cluster as dask_cluster  # Dask is an optional extra, imported only here
        return cls(path, layout, allow_partial, dask_cluster.ActorShards(path, cluster, len(layout.shards)))

    def _fail(self, name: str, cause: BaseException) -> None:
        """Take shard name out of service, or raise ShardUnavailableError without allow_partial."""
        if not self.allow_partial:
            raise ShardUnavailableError(f"{name} of {self.path}", _reason(cause)) from None
        self._pool.drop(name)
        if name in self._live:
            self._live.remove(name)
        self._described.pop(name, None)
        self._failed[name] = _reason(cause)
        self._source_table_cache = None

    # -- context, refresh and the shards' states ----------------------------------------

    def __enter__(self) -> "ShardedIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release every shard's searcher and open files (and the actors serving them)."""
        with self._lock:
            self._pool.close()

    def placement(self) -> dict[str, str]:
        """Where each shard in service is served: 'this process' or a Dask worker's address."""
        return self._pool.placement()

    def _ask(self, method: str, calls: dict[str, tuple]) -> dict[str, Any]:
        return self._pool.ask(method, calls)

    def _retrying(self, step: Callable[[], Any]) -> Any:
        """step(); a shard failing takes it out and step runs again.

        Without allow_partial, the failure is a ShardUnavailableError naming the shard.
        """
        with self._lock:
            while True:
                try:
                    return step()
                except ShardFailed as failed:
                    self._fail(failed.name, failed.cause)

    def _describe(self, names: Iterable[str] | None = None) -> None:
        """Ask shards (all in service by default) for their states, configurations and sources."""
        names = list(self._live if names is None else names)
        described = self._ask("describe", {name: () for name in names})
        changed = any(self._described.get(name) != found for name, found in described.items())
        self._described.update(described)
        if changed:
            self._source_table_cache = None

    def refresh(self) -> bool:
        """Pick up what was committed to any shard since (see SearchIndex.refresh)."""
        with self._lock:
            before = {name: described.state for name, described in self._described.items()}
            self._retrying(self._describe)
            return {name: described.state for name, described in self._described.items()} != before

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

        The overview (``facets``) adds up every shard's counts. ``fold`` folds
        copies as one index does, whichever shards they are in (see _folded_hits).
        """
        started = time.perf_counter()
        check_search_options(query, sort, limit, offset, snippet_chars)
        text = normalize_query(query)
        results = self._retrying(lambda: self._search(query, text, sources, since, until, limit,
                                                      offset, sort, original, snippet_chars, facets, fold))
        results.elapsed = time.perf_counter() - started
        return results

    def _search(self, query, text, sources, since, until, limit, offset, sort, original,
                snippet_chars, facets, fold=False) -> SearchResults:
        names = list(self._live)
        if not names:
            raise SearchkitError(f"no shard of {self.path} can be read: " + "; ".join(
                f"{name}: {reason}" for name, reason in sorted(self._failed.items())))
        top = limit + offset
        search, figures = self._gather(names, text, sources, since, until, sort, facets)
        compiled = search.compiled
        statistics = StatisticsTable.summed([found.statistics for found in figures.values()])
        after_statistics(self, names)
        search = dataclasses.replace(search, prune=not any(found.passages for found in figures.values()))
        ranking_names = self._ranking_shards(since, until)  # every shard counted in the statistics
        ranked = self._ranked(ranking_names, search, statistics, top)
        folded = None
        if fold:
            unscored = dataclasses.replace(search, facets=False, dated=False)  # more hits, for folding only
            hits, folded = self._folded_hits(
                ranked.candidates[:top], lambda more: self._ranked(ranking_names, unscored, statistics, more).candidates[:more],
                compiled, limit, offset, original, snippet_chars)
        else:
            hits = self._hits(ranked.candidates[offset:top], compiled, original, snippet_chars)
        return SearchResults(
            query=query, total=ranked.total, hits=hits, partial=ranked.partial, elapsed=0.0,
            undated_excluded=sum(found.undated for found in figures.values()), terms=list(compiled.terms),
            total_exact=ranked.exact,
            partial_shards=self._partial_shards(), complete=ranked.complete,
            facets=overview.facets_of(sum(ranked.tallies, overview.Tally())) if facets else None, folded=folded,
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
            return list(self._live)
        start, end = q.date_span(since, until)
        return [name for name in self._live if ranges.get(name) is not None
                and (start is None or ranges[name][1] >= start) and (end is None or ranges[name][0] <= end)]

    def _ranked(self, names: list[str], search: Search, statistics: StatisticsTable, top: int) -> "_Ranked":
        """The first top hits of all shards in one index's order (more may follow them), and what
        ranking them counted (the ranking phase, and the partial fill's when it has its own).

        As ranking.ranked_hits does on one index: those with every word
        first, then, under FILL_BELOW of them, those with some of the words.
        """
        several = len(search.compiled.clauses) > 1
        search = dataclasses.replace(search, top=max(top, ranking.FILL_BELOW) if several else top,
                                     fill_top=top if self._pool.remote else 0)
        ranked = self._ask("rank", {name: (search, statistics) for name in names})
        candidates, total, exact = _merged(ranked)
        tallies = [found.tally for found in ranked.values()]
        partial, complete = False, None
        if several and total < ranking.FILL_BELOW:
            found: dict[str, list[int]] = {}
            for candidate in candidates:
                found.setdefault(candidate.shard, []).append(candidate.docnum)
            wanted = top if total == 0 else max(0, top - total)
            fills = {name: answer.fill for name, answer in ranked.items()}
            if all(fill is not None for fill in fills.values()):  # ranked within the ranking call
                more, more_total, _ = _merged(fills)
                tallies += [fill.tally for fill in fills.values()]
            else:
                more, more_total, tallies = self._partial(names, search, statistics, wanted, found, tallies)
            if total == 0:
                candidates, total, partial = more, more_total, more_total > 0
            else:
                candidates, complete = candidates + more, (total if more_total else None)
                total += more_total
        return _Ranked(candidates, total, exact, partial, complete, tallies)

    # -- folding copies across shards ---------------------------------------------------

    def _folded_hits(self, ranked: list[_Candidate], rank_more: Callable[[int], list[_Candidate]], compiled,
                     limit: int, offset: int, original: bool, snippet_chars: int) -> tuple[list[Hit], int]:
        """The page of hits left after folding copies, and how many were folded up to its end.

        The very loop one index folds with (duplicates.fold_ranked), over the
        merged hits known as (shard, docnum): the same hits in the same order
        read the same texts and fingerprints, so they fold alike wherever the
        copies are. Texts are read a batch a call, each shard once a batch;
        the page's hits and their copies are cut in one call per shard.
        """
        find_spans = duplicates.remembered_spans(highlight.span_finder(compiled.terms))
        page = duplicates.fold_ranked(_handles(ranked), lambda more: _handles(rank_more(more)),
                                      self._fold_inputs, find_spans, limit, offset)
        wanted = []  # each leader, then its copies
        for handle, score, copies in page.leaders:
            for (name, docnum), each in [(handle, score), *copies]:
                wanted.append(_Candidate((), name, docnum, each))
        made = iter(self._hits(wanted, compiled, original, snippet_chars))
        hits = []
        for _, _, copies in page.leaders:
            hit = next(made)
            hit.duplicates = [next(made) for _ in copies]
            hits.append(hit)
        return hits, page.folded

    def _fold_inputs(self, handles: list[tuple[str, int]]) -> list[duplicates.FoldInput]:
        """The text and encoded fingerprint of each (shard, docnum), one call per shard holding some."""
        by_shard: dict[str, list[int]] = {}
        for name, docnum in handles:
            by_shard.setdefault(name, []).append(docnum)
        read = self._ask("fold_inputs", {name: (docnums,) for name, docnums in by_shard.items()})
        found: dict[tuple[str, int], duplicates.FoldInput] = {}
        for name, docnums in by_shard.items():
            found.update(zip([(name, docnum) for docnum in docnums], read[name]))
        return [found[handle] for handle in handles]

    def _gather(self, names: list[str], text: str, sources, since, until, sort: str,
                facets: bool) -> tuple[Search, dict[str, ShardFigures]]:
        """The compiled search and every shard's figures for it (the statistics phase).

        Each shard refreshes first; one found changed since it was last
        described may have other sources (the query resolves them), so the
        query is compiled again with the new ones.
        """
        for _ in range(3):
            compiled = compiler.Compiler(self._segmenter(), self._source_query).compile(q.parse(text))
            filters = self._filters(sources, since, until)
            search = Search(compiled, filters, sort, facets=facets,
                            dated=compiled.dated or since is not None or until is not None)
            figures = self._ask("figures", {name: (search,) for name in names})
            changed = [name for name, found in figures.items() if found.state != self._described[name].state]
            if not changed:
                break
            self._describe(changed)
        return search, figures

    def _partial(self, names: list[str], search: Search, statistics, top: int,
                 found: dict[str, list[int]], tallies: list) -> tuple[list[_Candidate], int, list]:
        """Every shard's best partial matches (see ranking.best_partial), merged; the total; the tallies.

        found: each shard's docnums of the documents with every word, left out.
        """
        ranked = self._ask("rank_partial", {name: (search, statistics, top, found.get(name, []))
                                            for name in names})
        candidates, total, _ = _merged(ranked)
        return candidates, total, tallies + [found.tally for found in ranked.values()]

    def _hits(self, page: list[_Candidate], compiled, original: bool, snippet_chars: int) -> list:
        """The hits of the final page, each cut by the shard holding it (one call per shard)."""
        picks: dict[str, list[tuple[int, float]]] = {}
        for candidate in page:
            picks.setdefault(candidate.shard, []).append((candidate.docnum, candidate.score))
        made = self._ask("hits", {name: (chosen, list(compiled.terms), original, snippet_chars)
                                  for name, chosen in picks.items()})
        taken = {name: iter(hits) for name, hits in made.items()}
        return [next(taken[candidate.shard]) for candidate in page]

    def _segmenter(self):
        """The segmenter queries are cut with: the shards' (they share one configuration)."""
        if self._segmenter_cache is None:
            shard_dir = self.path / (self._live[0] if self._live else self.layout.shards[0])
            profile = analysis.register_segmenter(indexer.index_userdict(shard_dir), shard_dir / indexer.LEXICON)
            self._segmenter_cache = analysis.segmenter_for(profile)
        return self._segmenter_cache

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
            for name in self._live:
                described = self._described[name]
                aliases.append(described.aliases)
                for source, count in described.sources.items():
                    spelled = spelling.setdefault(source.lower(), source)
                    counts[spelled] = counts.get(spelled, 0) + count
            ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            self._source_table_cache = SourceTable(ordered, combine_aliases(*aliases))
        return self._source_table_cache

    def resolve_source(self, name: str) -> str:
        """The source name that name means (see SearchIndex.resolve_source)."""
        return self._retrying(lambda: (self._describe(), self._source_table().resolve(name))[1])

    def sources(self) -> dict[str, int]:
        """Source names with their document counts, over every shard."""
        return self._retrying(lambda: (self._describe(), dict(self._source_table().counts))[1])

    # -- documents and statistics -------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The full stored document with this id (KeyError if none).

        Routed by id, it is read from the one shard its id names; routed by
        date, the id does not tell the period, so every shard is asked in
        turn (a lookup of the id term in each: well under a millisecond each).
        """
        def read() -> Document:
            for name in self.layout.holders(doc_id):
                if name not in self._live:
                    raise ShardUnavailableError(f"{name} of {self.path}", self._failed.get(name, "not open"))
                try:
                    return self._ask("document", {name: (doc_id,)})[name]
                except KeyError:
                    continue
            raise KeyError(doc_id)
        return self._retrying(read)

    def document_count(self) -> int:
        """How many documents the shards hold together."""
        return self._retrying(lambda: sum(self._each("document_count")))

    def _each(self, method: str) -> list:
        """method() of every shard in service, in layout order."""
        return list(self._ask(method, {name: () for name in self._live}).values())

    def stats(self) -> IndexStats:
        """Document count, sources, date range and size of all shards, and each shard's."""
        def gather() -> IndexStats:
            self._describe()
            each = dict(zip(self._live, self._each("stats")))
            earliest = [s.earliest for s in each.values() if s.earliest]
            latest = [s.latest for s in each.values() if s.latest]
            layout_size = (self.path / LAYOUT).stat().st_size
            first = next(iter(each.values()), None)
            placement = self._pool.placement()
            return IndexStats(
                path=str(self.path), documents=sum(s.documents for s in each.values()),
                sources=dict(self._source_table().counts),
                earliest=min(earliest) if earliest else None, latest=max(latest) if latest else None,
                undated=sum(s.undated for s in each.values()),
                size_bytes=layout_size + sum(s.size_bytes for s in each.values()),
                analyzer=dict(first.analyzer) if first else dict(self.layout.config),
                shards=[{"name": name, "documents": s.documents, "size_bytes": s.size_bytes,
                         **({} if isinstance(self._pool, LocalShards) else {"worker": placement[name]})}
                        for name, s in each.items()]
                + [{"name": name, "error": reason} for name, reason in sorted(self._failed.items())],
            )
        return self._retrying(gather)

    def duplicates(self, threshold: float = duplicates.DEFAULT_THRESHOLD) -> list[DuplicateCluster]:
        """Clusters of copies over every shard, as one index of all their documents gives them.

        Each shard gives its documents' fingerprints by id; documents never
        span shards, so the merged list, ordered by id, is the one index's
        (see SearchIndex.document_fingerprints) and so are its clusters.
        """
        duplicates.check_threshold(threshold)

        def gather() -> list[DuplicateCluster]:
            ids, found, holders = [], [], []
            for name, (shard_ids, shard_found) in zip(self._live, self._each("document_fingerprints")):
                ids.extend(shard_ids)
                found.extend(shard_found)
                holders.extend([name] * len(shard_ids))
            order = sorted(range(len(ids)), key=ids.__getitem__)
            ids, found, holders = [ids[n] for n in order], [found[n] for n in order], [holders[n] for n in order]
            return [DuplicateCluster(self._duplicate_documents([(holders[n], ids[n], share) for n, share in group]))
                    for group in duplicates.clusters(found, threshold)]
        return self._retrying(gather)

    def _duplicate_documents(self, members: list[tuple[str, str, float]]) -> list[DuplicateDocument]:
        """The documents of (shard, id, similarity), each read from the shard holding it (a call a shard)."""
        by_shard: dict[str, list[int]] = {}
        for number, (name, _, _) in enumerate(members):
            by_shard.setdefault(name, []).append(number)
        read = self._ask("duplicate_documents", {name: ([members[n][1:] for n in numbers],)
                                                 for name, numbers in by_shard.items()})
        documents: list[DuplicateDocument | None] = [None] * len(members)
        for name, numbers in by_shard.items():
            for number, document in zip(numbers, read[name]):
                documents[number] = document
        return documents

    def verify(self) -> integrity.Verified:
        """Verify every shard's files (see SearchIndex.verify); the first damage found is raised."""
        def each() -> list:
            try:
                return self._each("verify")
            except ShardFailed as failed:
                if isinstance(failed.cause, IndexDamagedError):  # what verify is for: said as it is
                    raise failed.cause from None
                raise
        verified = self._retrying(each)
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
        for name in grouped:
            if name not in self._live:
                raise ShardUnavailableError(f"{name} of {self.path}", self._failed.get(name, "not open"))
        added = sum(self._retrying(lambda: self._ask("add_documents", {name: (group,) for name, group
                                                                       in grouped.items()})).values())
        self.refresh()
        return added


    def _check_not_elsewhere(self, doc_id: str, name: str) -> None:
        """Refuse adding doc_id to shard name while another shard holds a document of that id."""
        for other in self.layout.shards:
            if other == name or other not in self._live:
                continue
            try:
                self._ask("document", {other: (doc_id,)})
            except KeyError:
                continue
            raise SearchkitError(f"{doc_id} is held in {other}, its new date belongs to {name}: "
                                 "update it from its file, which moves it")


@dataclass
class _Ranked:
    """The merged ranking of a search: its candidates in one index's order, and what was counted."""

    candidates: list[_Candidate]
    total: int
    exact: bool
    partial: bool
    complete: int | None
    tallies: list


def _handles(candidates: list[_Candidate]) -> list[tuple[tuple[str, int], float]]:
    """Merged hits as folding knows them: ((shard, docnum), score)."""
    return [((candidate.shard, candidate.docnum), candidate.score) for candidate in candidates]


def _merged(ranked: dict[str, ShardRanking]) -> tuple[list[_Candidate], int, bool]:
    """Every shard's candidates in the one index's order, the total, and whether it is exact.

    An estimated total (a shard ranked by bounds, see ranking.best_bounded)
    is the largest of the shards' totals and the sum of the exact ones: at
    least that many, as one index's estimate is.
    """
    candidates = [_Candidate(key, name, docnum, score)
                  for name, found in ranked.items() for key, docnum, score in found.candidates]
    candidates.sort(key=lambda candidate: candidate.key)
    exact = all(found.exact for found in ranked.values())
    totals = [found.total for found in ranked.values()]
    total = sum(totals) if exact else max(max(totals), sum(f.total for f in ranked.values() if f.exact))
    return candidates, total, exact
