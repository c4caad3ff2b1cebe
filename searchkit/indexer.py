"""Building and updating an index on disk.

An index directory holds one or more Whoosh indexes ("generations") and a
small manifest, ``searchkit.json``, naming the live generation and the
analyzer configuration it was built with. Updates are incremental and go
through one Whoosh writer that is either committed or cancelled; a rebuild
writes a new generation beside the old one and switches the manifest only
when it is complete. So an interrupted run, even a killed one, leaves the
previous index fully usable. A run that fails (a full disk, Ctrl-C, a dead
worker) removes every file it wrote; what a killed run left is removed by
the next one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import analysis, fingerprints, integrity, parallel, schema
from .internals import storage
from .internals.writer import FastSegmentWriter, StagedCommit, cancel_quietly
from .errors import (IndexDamagedError, IndexLockedError, IndexMismatchError, IndexNotFoundError,
                     SearchkitError)
from .loaders import CorpusFile, WalkSummary, iter_corpus_files, load_file, warn_stderr
from .roots import (Corpus, Plan, Root, Scan, file_record, id_prefix, parse_file_term, plan_run,
                    record_stamp, resolved_roots)
from .sources import checked_aliases
from .models import Document, IndexReport
from .normalize import NORMALIZER_VERSION, clean_text, normalize_text

from whoosh import index as whoosh_index

MANIFEST = "searchkit.json"
LOCKFILE = "searchkit.lock"
USERDICT = "userdict.txt"
LEXICON = "query-lexicon.bin"
WRITER_LIMIT_MB = 128
WORKER_LIMIT_MB = 64  # per worker process; spilled runs are cheap (see segments.py)
PART_BYTES = 1_000_000  # JSON Lines files are dealt out to workers in parts this big
# Below this much text, starting workers or the fast segmenter costs more than it saves.
LARGE_BYTES = 1_000_000
# A larger file (JSON Lines files aside: they are read a record at a time)
# is refused with a warning. Loading a file takes about 12 times its size at its peak
# (bytes, decoded, cleaned and normalized copies; 258 MB for a one-line file
# of 20.9 MB), indexing it adds up to ~170 MB (the segmenter's dictionaries,
# the writer's pool): so the peak stays near 600 MB (measured: see README).
MAX_FILE_BYTES = 32_000_000
# A longer document is indexed as passages of at most this many characters
# (see document_entries). A snippet costs ~0.14 ms per 1,000 characters of
# the text it is cut from (7 ms at 50,000, 37 ms at 200,000; 1 s for the
# whole of a 6.6-million-character file); smaller passages mean more Whoosh
# documents, each repeating the title and metadata.
PASSAGE_CHARS = 50_000
FINGERPRINT_BATCH = 256  # documents fingerprinted at once (see _fingerprinted)
_SENTENCE_ENDS = "\n。！？!?；;…"
_CLOSING_QUOTES = "”’」』）)\"'"
FORMAT_VERSION = 1
# A test hook: a run pauses at the step this names (see hold_point).
HOLD_ENV = "SEARCHKIT_HOLD_AT"

ProgressCallback = Callable[[int, int], None]


@dataclass
class Manifest:
    """What an index directory records about itself.

    ``corpus`` holds the roots the index is built from and the globs that
    select their files (see roots.py; a manifest written before roots were
    recorded gives the paths as they were given). ``files`` records the size,
    time and checksum of every file the live index reads (see integrity.py;
    None in a manifest written before checksums), and the manifest carries a
    checksum of itself: ``intact`` is False when that does not match.
    ``routed`` records, for a shard (see shards.py), the files walked whose
    documents all went to other shards: {file key: record}, so that an
    update reads them again only when they change.
    """

    generation: str
    config: dict[str, Any]
    corpus: Corpus
    files: dict[str, integrity.FileRecord] | None = None
    intact: bool = True
    aliases: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # the sidecars' (see sources.py)
    routed: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {"format": FORMAT_VERSION, "generation": self.generation,
                "config": self.config, **self.corpus.to_json()}
        if self.aliases:
            data["aliases"] = self.aliases
        if self.routed:
            data["routed"] = self.routed
        if self.files is not None:
            data["files"] = {name: record.to_json() for name, record in self.files.items()}
            data["checksum"] = integrity.json_crc32(data)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Manifest":
        """The manifest data describes (ValueError if it cannot be one)."""
        files = data.get("files")
        checksum = data.pop("checksum", None)
        if not (isinstance(data["generation"], str) and isinstance(data["config"], dict)
                and isinstance(files, (dict, type(None)))):
            raise ValueError("fields of the wrong types")
        aliases = checked_aliases(data.get("aliases"))  # none in an index built before them
        routed = data.get("routed") or {}  # none but in a shard
        if not (isinstance(routed, dict) and all(isinstance(v, str) for v in routed.values())):
            raise ValueError("routed files of the wrong types")
        return cls(
            data["generation"], data["config"], Corpus.from_json(data, aliases),
            files={name: integrity.FileRecord.from_json(r) for name, r in files.items()}
            if files is not None else None,
            intact=checksum is None or checksum == integrity.json_crc32(data),
            aliases=aliases, routed=routed,
        )


def current_config(userdict: str | os.PathLike | None) -> dict[str, Any]:
    """The configuration an index built now, with this user dictionary, would record."""
    return {
        "schema": schema.SCHEMA_VERSION,
        "normalizer": NORMALIZER_VERSION,
        **analysis.analyzer_config(userdict),
    }


def read_manifest(index_dir: Path, *, rebuild: bool = False) -> Manifest | None:
    """The manifest of an index directory, or None when there is no index.

    A missing manifest beside a committed index, or one that cannot be read,
    is damage (IndexDamagedError), except for a rebuild, which replaces the
    index: it is then given a stand-in naming the newest generation on disk,
    so that the rebuild writes a new one.
    """
    try:
        data = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        if data.get("format") != FORMAT_VERSION:
            if rebuild:
                return _stand_in_manifest(index_dir)
            raise IndexMismatchError(
                index_dir, f"index at {index_dir} was made by another version of searchkit; rebuild it")
        return Manifest.from_json(data)
    except FileNotFoundError:
        if rebuild or not integrity.generations_on_disk(index_dir, committed=True):
            return _stand_in_manifest(index_dir) if rebuild else None
        raise IndexDamagedError(index_dir, f"{MANIFEST}: missing") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        if rebuild:
            return _stand_in_manifest(index_dir)
        raise IndexDamagedError(index_dir, f"{MANIFEST} unreadable: {exc}") from exc


def _stand_in_manifest(index_dir: Path) -> Manifest | None:
    """For a rebuild of an index without a readable manifest: its newest generation."""
    generations = integrity.generations_on_disk(index_dir)
    return Manifest(generations[-1], {}, Corpus()) if generations else None


def check_compatible(index_dir: Path, manifest: Manifest) -> None:
    """Refuse an index whose analysis differs from what this searchkit would do."""
    userdict = index_dir / USERDICT
    expected = current_config(userdict if userdict.exists() else None)
    differences = [key for key in expected if manifest.config.get(key) != expected[key]]
    if differences:
        raise IndexMismatchError(
            index_dir, f"index at {index_dir} was built with a different analyzer configuration "
            f"({', '.join(differences)} changed); rebuild it")


def check_index_location(index_dir: Path) -> None:
    """Refuse an index location that is not a directory (a file, say) before using it."""
    if index_dir.exists() and not index_dir.is_dir():
        raise SearchkitError(f"{index_dir} is not a directory, so it cannot hold an index")


def check_userdict(path: Path) -> None:
    """Refuse a user dictionary jieba could not read: missing, not a file, not UTF-8."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SearchkitError(f"no such user dictionary: {path}") from None
    except IsADirectoryError:
        raise SearchkitError(f"user dictionary {path} is a directory, not a file") from None
    except OSError as exc:
        raise SearchkitError(f"cannot read user dictionary {path}: {exc.strerror}") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SearchkitError(f"user dictionary {path} is not UTF-8 text (line {line}); "
                             "jieba reads UTF-8 only") from None


def index_userdict(index_dir: Path) -> Path | None:
    """The user dictionary an index was built with, if any."""
    path = index_dir / USERDICT
    return path if path.exists() else None


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's write lock, or fail at once if another writer has it."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / LOCKFILE, "a")
    except OSError as exc:
        raise write_error(index_dir, exc) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(
                    f"index at {index_dir} is locked: another searchkit is writing to it"
                ) from exc
            raise
        if not os.access(index_dir, os.W_OK):  # the lock file is writable, the directory is not
            read_only = os.statvfs(index_dir).f_flag & os.ST_RDONLY
            code = errno.EROFS if read_only else errno.EACCES
            raise write_error(index_dir, OSError(code, os.strerror(code), str(index_dir)))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update_index(
    index_dir: str | os.PathLike,
    paths: Iterable[str | os.PathLike],
    *,
    rebuild: bool = False,
    userdict: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    warn: Callable[[str], None] | None = None,
    workers: int | None = None,
    remove: Iterable[str | os.PathLike] = (),
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    route: Callable[[str], bool] | None = None,
    keep: Callable[[Document], bool] | None = None,
) -> IndexReport:
    """Bring the index at index_dir up to date with the files under paths.

    New files are added, changed ones (by checksum) replaced, vanished ones
    removed. The index records its roots (see roots.py): with no paths, every
    root is re-scanned; a path inside a root updates that part of it; any
    other path becomes a root. Documents of roots not named stay as they are.
    ``remove`` forgets roots (by path or label) and removes their documents
    (with no paths, that is all a run does). ``include``/``exclude`` globs
    select the files walked; they are recorded, and replace the recorded ones
    when given (None: keep them; a change re-scans every root).

    ``rebuild`` starts from scratch: from the paths given, which become the
    roots, or else from every recorded root (required to change the user
    dictionary of an existing index). ``progress(done,
    total)`` is told the bytes indexed so far; ``workers`` processes share
    the work (default: one per core; small jobs are done in this process).
    ``route(document_id)`` keeps the documents this index holds (a shard's,
    see shards.py): the others are read and left out. ``keep(document)``
    does the same once a document is loaded, for routing by what only a
    loaded document tells (its date): before it is segmented, which is most
    of the work.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.exists():
            raise SearchkitError(f"no such file or directory: {path}")
    paths = [Path(os.path.abspath(path)) for path in paths]
    check_index_location(index_dir)
    if not paths and not index_dir.exists():
        raise IndexNotFoundError(index_dir, f"no index at {index_dir} yet: name the files "
                                 "or directories to build it from")
    if userdict is not None:
        check_userdict(Path(userdict))
    request = _Request(paths, [os.fspath(r) for r in remove],
                       None if include is None else list(include),
                       None if exclude is None else list(exclude))
    with writer_lock(index_dir):
        manifest = read_manifest(index_dir, rebuild=rebuild)
        remove_leftovers(index_dir, manifest.generation if manifest else None)
        plan, corpus = _plan(index_dir, manifest, request, rebuild)
        run = _WriteRun(index_dir)
        with run.undone_on_failure():
            report = _write(run, manifest, plan, corpus, rebuild, userdict, progress, warn,
                            workers or default_workers(), route, keep)
    report.seconds = time.perf_counter() - started
    return report


def run_corpus(index_dir: str | os.PathLike, paths: Iterable[str | os.PathLike], *,
               rebuild: bool = False, remove: Iterable[str | os.PathLike] = (),
               include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> Corpus:
    """The roots and globs the index at index_dir records after a run with these arguments.

    Nothing is written. A look at the corpus before a run: the dates of a
    sharded index's documents, a new shard's roots (see shards.py).
    """
    paths = [Path(os.path.abspath(path)) for path in paths]
    request = _Request(paths, [os.fspath(r) for r in remove],
                       None if include is None else list(include),
                       None if exclude is None else list(exclude))
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir, rebuild=rebuild) if index_dir.is_dir() else None
    plan, corpus = _plan(index_dir, manifest, request, rebuild)
    return Corpus(plan.roots, corpus.include, corpus.exclude)


def corpus_files(corpus: Corpus) -> Iterator[CorpusFile]:
    """Every file under the roots of corpus that its globs select, each once (as a full re-scan walks)."""
    met: set[str] = set()
    for root in corpus.roots:
        if not Path(root.path).exists():
            continue
        for corpus_file in iter_corpus_files([Path(root.path)], warn=lambda message: None,
                                             include=corpus.include, exclude=corpus.exclude):
            if corpus_file.key not in met:
                met.add(corpus_file.key)
                yield corpus_file


@dataclass
class _Request:
    """What a run was asked to do with the index's roots."""

    paths: list[Path]
    remove: list[str]
    include: list[str] | None
    exclude: list[str] | None


def _plan(index_dir: Path, manifest: Manifest | None, request: _Request,
          rebuild: bool) -> tuple[Plan, Corpus]:
    """The roots a run walks, and the corpus the index records after it."""
    previous = manifest.corpus if manifest is not None else Corpus()
    if not request.paths and manifest is None:
        raise IndexNotFoundError(index_dir, f"no index at {index_dir} yet: name the files "
                                 "or directories to build it from")
    recorded = resolved_roots(previous.roots)
    if rebuild and request.paths:  # from scratch, from those paths alone
        recorded, request = [], dataclasses.replace(request, remove=[])
    if not request.paths and not request.remove and not recorded:
        raise SearchkitError(f"index at {index_dir} records no roots to re-scan: "
                             "name the files or directories to index")
    include = previous.include if request.include is None else request.include
    exclude = previous.exclude if request.exclude is None else request.exclude
    globs_changed = (include, exclude) != (previous.include, previous.exclude)
    # Ids of a legacy index carry no labels, as those of a one-root index.
    labelled = len(recorded) > 1 and all(root.label is not None for root in previous.roots)
    plan = plan_run(recorded, labelled, request.paths, request.remove, index_dir=index_dir,
                    rescan_all=rebuild or globs_changed or not (request.paths or request.remove))
    return plan, Corpus(plan.roots, include, exclude)


def _write(run: "_WriteRun", manifest: Manifest | None, plan: Plan, corpus: Corpus,
           rebuild: bool, userdict, progress, warn, workers: int,
           route: Callable[[str], bool] | None = None,
           keep: Callable[[Document], bool] | None = None) -> IndexReport:
    """Index the changes into the live generation, or into a new one, and commit them."""
    index_dir = run.index_dir
    new = manifest is None or rebuild
    if not new:
        _check_userdict_unchanged(index_dir, userdict)
        checked_manifest(index_dir)  # compatible and intact: damage is never recorded as sound
        analysis.register_segmenter(index_userdict(index_dir))
        generation = manifest.generation
        ix = whoosh_index.open_dir(str(index_dir), indexname=generation)
    else:
        generation = _next_generation(manifest)
        profile = analysis.register_segmenter(userdict)
        ix = whoosh_index.create_in(str(index_dir), schema.build_schema(profile), indexname=generation)
    report = IndexReport()
    run.writer = FastSegmentWriter(ix, limitmb=WRITER_LIMIT_MB)
    run.routed = dict(manifest.routed) if manifest is not None and not new else {}
    segments = _apply_changes(ix, run.writer, plan, corpus, report, progress, warn, workers, route, keep,
                              run.routed)
    run.aliases = corpus.aliases  # the scanned roots' sidecars' aliases replace theirs
    _commit(run, StagedCommit(run.writer, segments), generation, corpus, new,
            userdict, ix.schema[schema.CONTENT].analyzer.profile)
    return report


def _commit(run: "_WriteRun", commit: StagedCommit, generation: str, corpus: Corpus,
            new: bool, userdict, profile: str) -> None:
    """Make the run's changes live in one atomic step, then remove what they replaced.

    Everything that needs disk space is written before that step, so a full
    disk (or a killed run) leaves the index as it was. The step is renaming
    the table of contents for an update, and switching the manifest to the
    new generation for a new index or a rebuild.
    """
    index_dir = run.index_dir
    commit.write_segments()
    hold_point("segments-written")
    commit.write_toc()
    hold_point("toc-written")
    staged = []
    if new:
        staged.append(_stage_userdict(index_dir, userdict))
    if new or not (index_dir / LEXICON).exists():
        staged.append(_stage_query_lexicon(index_dir, profile, userdict if new else index_userdict(index_dir)))
    if not new:
        for install in staged:  # a lexicon the index lacked: it serves the live generation too
            install()
    # From the switch on the run finishes: a Ctrl-C meanwhile waits and is dropped.
    with _interrupts_deferred():
        if new:
            commit.rename_toc()  # the new generation's: no reader looks at it yet
            hold_point("toc-renamed")
            commit.finish()  # before the manifest records the generation's files
            for install in staged:
                install()
            run.is_live = lambda: _live_generation(index_dir) == generation
            _switch_to(index_dir, generation, corpus, run.aliases, run.routed)
            run.switched = True
            hold_point("manifest-written")
            remove_leftovers(index_dir, generation)
            hold_point("old-removed")
        else:
            _rename_toc_and_finish(run, commit, generation, corpus)


def _rename_toc_and_finish(run: "_WriteRun", commit: StagedCommit, generation: str,
                           corpus: Corpus) -> None:
    """Make an update of the live generation live, remove what it replaced, record its files.

    The manifest comes last because it records the files the live TOC names
    (see integrity.py): a run killed before it leaves a usable index whose
    newest commit is not recorded yet, which the next run records.
    """
    run.is_live = commit.toc_renamed
    commit.rename_toc()
    run.switched = True
    hold_point("toc-renamed")
    _finish(run, commit, generation)
    _switch_to(run.index_dir, generation, corpus, run.aliases, run.routed)
    hold_point("manifest-written")


def _finish(run: "_WriteRun", commit: StagedCommit, generation: str) -> None:
    commit.finish()
    remove_leftovers(run.index_dir, generation)
    hold_point("old-removed")


class _WriteRun:
    """One run's writing: what it must undo if it fails before its changes are live."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.before = set(os.listdir(index_dir))
        self.writer: FastSegmentWriter | None = None
        # The sidecars' aliases the manifest records (None: keep the ones it has).
        self.aliases: dict[str, list[str]] | None = None
        self.routed: dict[str, str] | None = None  # a shard's (see Manifest; None: keep the recorded)
        self.switched = False  # the run's changes are live
        # Asked when the switch itself failed: did it happen anyway?
        self.is_live: Callable[[], bool] | None = None

    @contextmanager
    def undone_on_failure(self) -> Iterator[None]:
        """Undo the run if the block fails; a system error becomes one line (SearchkitError)."""
        try:
            yield
        except BaseException as exc:
            self.fail()
            # A broken pipe is the reader of our output going away: the CLI knows what to do.
            if not isinstance(exc, OSError) or isinstance(exc, BrokenPipeError):
                raise
            if self.switched:  # too late to undo, and nothing to undo: the change is whole
                raise SearchkitError(f"index at {self.index_dir} was updated, but removing what the update "
                                     f"replaced failed ({exc.strerror}); the next run removes it") from exc
            raise write_error(self.index_dir, exc) from exc

    def fail(self) -> None:
        """Undo a failed run: before its changes are live, remove every file it wrote."""
        with _interrupts_deferred():
            if self.writer is not None:
                cancel_quietly(self.writer)
            if not self.switched and self.is_live is not None:
                try:
                    self.switched = self.is_live()
                except Exception:  # noqa: BLE001 - cannot tell: keep what is there
                    self.switched = True
            if self.switched:
                return  # the change is live; what it replaced goes on the next run
            try:
                written = set(os.listdir(self.index_dir)) - self.before
            except OSError:
                return  # the first error is the one to report
            for name in written:
                path = self.index_dir / name
                try:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
                except OSError:
                    pass  # the next run removes it (see remove_leftovers)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT back in the main thread for a step that must finish; then drop it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        while signal.SIGINT in signal.sigpending():
            signal.sigtimedwait({signal.SIGINT}, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _live_generation(index_dir: Path) -> str | None:
    manifest = read_manifest(index_dir)
    return manifest.generation if manifest else None


def write_error(index_dir: Path, exc: OSError) -> SearchkitError:
    """The one-line error for a system error while writing to an index directory."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return SearchkitError(f"no space left on device while writing index at {index_dir}; "
                              "nothing was changed")
    elsewhere = exc.filename is not None and not _inside(Path(os.fsdecode(exc.filename)), index_dir)
    if elsewhere:  # a corpus file, say
        return SearchkitError(f"{os.fsdecode(exc.filename)}: {exc.strerror}; nothing was changed")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SearchkitError(f"index at {index_dir} is read-only ({exc.strerror}): "
                              "it can be searched, not updated")
    return SearchkitError(f"cannot write index at {index_dir}: {exc.strerror or exc}; nothing was changed")


def _inside(path: Path, directory: Path) -> bool:
    return path.absolute().is_relative_to(directory.absolute())


# What interrupted runs leave: temporary TOC files (_g1_2.toc.1700000000.5),
# writers' temporary directories (g1.tmp, g1.<random>.tmp), temporary copies
# of searchkit's own files, and files of generations other than the live one.
# Only names of these shapes are touched: an index directory may hold other files.
_TEMP_TOC = re.compile(r"_g\d+_\d+\.toc\..+")
_TEMP_DIR = re.compile(r"g\d+(\.[0-9a-z]+)?\.tmp")
_GENERATION_FILE = re.compile(r"_(g\d+)_\d+\.toc(\..+)?|(g\d+)_([0-9a-z]{12,}\..+|WRITELOCK)")
_TEMP_FILES = {MANIFEST + ".tmp", USERDICT + ".tmp", LEXICON + ".tmp"}
# Files of earlier index formats that no current index uses (the SQLite query
# lexicon, 8.8 MB): removed with the leftovers, so a rebuild leaves none.
_FORMER_FILES = {"query-lexicon.sqlite", "query-lexicon.sqlite.tmp"}


def remove_leftovers(index_dir: Path, live: str | None) -> None:
    """Remove what earlier (interrupted) runs left; never a file the live index uses.

    ``live`` is the manifest's generation (None: there is no index yet). Call
    with the write lock held. Within the live generation, Whoosh's own clean-up
    keeps exactly the files its latest table of contents names.
    """
    for path in index_dir.iterdir():
        name = path.name
        generation = _GENERATION_FILE.fullmatch(name)
        try:
            if _TEMP_DIR.fullmatch(name) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif (name in _TEMP_FILES or name in _FORMER_FILES or _TEMP_TOC.fullmatch(name)
                  or (generation and (generation.group(1) or generation.group(3)) != live)):
                path.unlink(missing_ok=True)
        except OSError:
            pass  # a later run tries again
    if live is not None:
        storage.remove_unused_files(index_dir, live)


def hold_point(step: str, detail: str = "") -> None:
    """Pause at a named step of a run when $SEARCHKIT_HOLD_AT names it.

    A hook for tests that interrupt a run: the process says on standard error
    that it is holding, then waits for a signal, so the test interrupts it at a
    known point instead of sleeping and hoping the run is still going.
    ``detail`` follows the step in that line (a worker gives its pid).

    The steps: "indexing" (a unit's result arrived), "worker" (a worker
    process starts), "workers-done" (every worker handed back its segment),
    and the commit steps, see _commit: "segments-written", "toc-written",
    "manifest-written", "toc-renamed", "old-removed". From the step that makes
    the change live on, SIGINT is held back: only SIGKILL ends the hold there.
    """
    if os.environ.get(HOLD_ENV) != step:
        return
    sys.stderr.write(f"searchkit: holding at {step}{detail}\n")
    sys.stderr.flush()
    while True:  # until a signal ends the process or raises (SIGINT)
        signal.pause()


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _check_userdict_unchanged(index_dir: Path, userdict: str | os.PathLike | None) -> None:
    if userdict is None:
        return
    current = index_userdict(index_dir)
    if current is None or analysis.file_checksum(current) != analysis.file_checksum(userdict):
        raise IndexMismatchError(
            index_dir, f"index at {index_dir} was built with another user dictionary; "
            "rebuild it to use the new one")


def _next_generation(manifest: Manifest | None) -> str:
    number = int(manifest.generation.lstrip("g")) + 1 if manifest else 1
    return f"g{number}"


def _apply_changes(ix, writer, plan: Plan, corpus: Corpus, report: IndexReport,
                   progress: ProgressCallback | None, warn, workers: int,
                   route: Callable[[str], bool] | None = None,
                   keep: Callable[[Document], bool] | None = None,
                   routed: dict[str, str] | None = None) -> list:
    """Delete and index in writer (and workers) what changed; return the workers' segments.

    The roots the plan names are walked; each gets its sidecars' alias
    tables, for the manifest. routed (a shard's files of other shards'
    documents only, see Manifest) counts as indexed, and is brought up to date.
    """
    segmenter = analysis.segmenter_for(ix.schema[schema.CONTENT].analyzer.profile)
    routed = {} if routed is None else routed
    seen = {**routed, **indexed_files(ix)}
    walk = _Walk(seen, corpus, warn or warn_stderr)
    for scan in plan.scans:
        walk.scan(scan, plan.several, report)
    changed = walk.changed
    report.skipped += walk.summary.reported
    report.not_text = dict(walk.summary.not_text)
    for unit in changed:
        if unit.key in seen:
            writer.delete_by_term(schema.PATH, unit.key)
    vanished = _vanished_files(seen, plan, walk)
    for key in vanished:
        report.removed += writer.delete_by_term(schema.PATH, key) or 0
    tally = _Tally(report, seen, progress, warn, sum(_unit_bytes(u) for u in changed))
    large = tally.total_bytes >= LARGE_BYTES
    if large:
        # Before any worker starts: workers share the parent's dictionaries.
        segmenter.accelerate()
    parts = [parallel.Unit(part, unit.key, unit.checksum)
             for unit in changed for part in unit.part.parts(PART_BYTES)] if workers > 1 and large else []
    if len(parts) > 1:
        # No more workers than parts: one big text file is one part, indexed
        # in this process rather than in a worker whose segment is then handed back.
        segments = parallel.index_in_parallel(
            lambda: _segment_writer(ix), _routed(index_unit, route, keep), segmenter, parts, min(workers, len(parts)),
            tally.add, before_join=lambda: hold_point("workers-done"))
    else:
        segments = []
        for unit in changed:
            tally.add(_routed(index_unit, route, keep)(unit, writer, segmenter))
    tally.finish()
    _update_routed(routed, changed, vanished, tally)
    return segments


def _update_routed(routed: dict[str, str], changed: list[parallel.Unit], vanished: list[str],
                   tally: "_Tally") -> None:
    """Bring a shard's record of files holding only other shards' documents up to date after a run.

    Without it every shard re-read, at every update, each file it holds no
    document of: routed by date, nearly the whole corpus for every shard.
    """
    for key in vanished:
        routed.pop(key, None)
    for unit in changed:
        if tally.documents.get(unit.key) == 0 and unit.key in tally.routed:
            routed[unit.key] = unit.checksum
        else:
            routed.pop(unit.key, None)


def _routed(index: parallel.UnitIndexer, route: Callable[[str], bool] | None,
            keep: Callable[[Document], bool] | None = None) -> parallel.UnitIndexer:
    """index_unit keeping only the documents route and keep keep (a shard's), or index_unit itself."""
    if route is None and keep is None:
        return index
    return functools.partial(index, route=route, keep=keep)


class _Walk:
    """The walks of one run: which files changed, which exist, which roots could not be read."""

    def __init__(self, seen: dict[str, str], corpus: Corpus, warn: Callable[[str], None]) -> None:
        self.seen, self.warn = seen, warn
        self.include, self.exclude = corpus.include, corpus.exclude
        self.summary = WalkSummary()  # what the walks left out, for the report
        self.changed: list[parallel.Unit] = []
        self.present: set[str] = set()  # files of the scanned parts, in this run's order
        self.walked: set[str] = set()  # every file the walks met
        self.unread: set[str] = set()  # labels of roots that could not be read: kept as they are

    def scan(self, scan: Scan, several: bool, report: IndexReport) -> None:
        """Walk one root; the files under its scopes that changed become units of work."""
        root, path = scan.root, Path(scan.root.path)
        if not path.exists():
            self.warn(f"{root.path}: root no longer exists; its documents are removed "
                      "(the root stays recorded until it is removed)")
            root.aliases = {}
            return
        if not _readable(root, self.warn):
            self.unread.add(str(root.label))
            return
        root.aliases = {}
        stamp = root.stamp(several)
        for corpus_file in iter_corpus_files([path], warn=self.warn, include=self.include,
                                             exclude=self.exclude, summary=self.summary):
            _gather_aliases(root.aliases, corpus_file.aliases)
            key = corpus_file.key
            self.walked.add(key)
            if key in self.present or not (scan.covers(corpus_file.path) or scan.covers(Path(key))):
                continue  # met through another root already, or outside the part named
            self.present.add(key)
            record = file_record(corpus_file.checksum(), stamp)
            if _same_record(self.seen.get(key), record):
                report.unchanged += 1
            else:
                self.changed.append(parallel.Unit(corpus_file, key, record))


def _readable(root: Root, warn: Callable[[str], None]) -> bool:
    """Whether a root directory can be listed; if not, say so (its documents are kept)."""
    if not Path(root.path).is_dir():
        return True
    try:
        os.scandir(root.path).close()
    except OSError as exc:
        warn(f"{root.path}: cannot read this root ({exc.strerror}); its documents are kept")
        return False
    return True


def _same_record(old: str | None, new: str) -> bool:
    """Whether a file's indexed record is its record now (file, sidecar entry, root and ids alike)."""
    if old is None or old == new:
        return old == new
    # A record from before roots has no stamp; its ids carry no label.
    return record_stamp(old) is None and id_prefix(new) == "" and old == new.split("\t", 1)[0]


def _vanished_files(seen: dict[str, str], plan: Plan, walk: _Walk) -> list[str]:
    """The indexed files whose documents go: gone from a scanned part, or of a root no longer recorded."""
    labels = {root.label for root in plan.roots}
    scans = {scan.root.label: scan for scan in plan.scans}
    vanished = []
    for key, record in seen.items():
        if key in walk.present:
            continue
        owner = _owner(key, record, plan.roots)
        if owner not in labels:
            vanished.append(key)  # its root was removed, or became part of another
        elif owner in scans and owner not in walk.unread:
            if key not in walk.walked and scans[owner].covers(Path(key)):
                vanished.append(key)
    return vanished


def _owner(key: str, record: str, roots: list[Root]) -> str | None:
    """The label of the root a file was indexed from."""
    stamp = record_stamp(record)
    if stamp is not None:
        return stamp.rstrip("/")
    # Recorded before roots: the root that holds it, or else the one root.
    holder = next((root for root in roots if root.holds(Path(key))), None)
    if holder is None and len(roots) == 1:
        holder = roots[0]
    return holder.label if holder else None


def _gather_aliases(gathered: dict[str, list[str]], table) -> None:
    """Add a corpus file's alias table to gathered, each alias once (a directory's files share one)."""
    for name, aliases in (table or {}).items():
        known = gathered.setdefault(name, [])
        known.extend(alias for alias in aliases if alias not in known)


def _segment_writer(ix) -> FastSegmentWriter:
    """A writer for a worker process: its own segment, no lock (the parent holds it)."""
    hold_point("worker", f" (pid {os.getpid()})")
    return FastSegmentWriter(ix, _lk=False, limitmb=WORKER_LIMIT_MB)


def index_unit(unit: parallel.Unit, writer, segmenter: analysis.Segmenter,
               route: Callable[[str], bool] | None = None,
               keep: Callable[[Document], bool] | None = None) -> parallel.UnitResult:
    """Add the documents of one unit of work to writer (a file above MAX_FILE_BYTES is refused).

    With route, only the documents whose ids it keeps; with keep, only the
    loaded documents it keeps (see update_index).
    """
    size = _unit_bytes(unit)
    result = parallel.UnitResult(unit.key, 0, size / 1e6)
    if size > MAX_FILE_BYTES and unit.part.path.suffix.lower() != ".jsonl":  # JSON Lines: read a record at a time
        result.megabytes = 0  # nothing of it was indexed
        result.warnings.append(too_large(unit.part.path, size))
        return result
    prefix = id_prefix(unit.checksum)  # the label of its root, in an index of several
    wanted = None if route is None else _counting_route(route, prefix, result)
    documents = load_file(unit.part, warn=result.warnings.append, wanted=wanted)
    if keep is not None:
        documents = _kept(documents, keep, result)
    for batch in _fingerprinted(documents):
        for document, fingerprint in batch:
            if prefix:
                document = dataclasses.replace(document, id=prefix + document.id)
            for fields in document_entries(document, unit.key, unit.checksum, segmenter, fingerprint):
                writer.add_document(**fields)
            result.documents += 1
    return result


def _counting_route(route: Callable[[str], bool], prefix: str,
                    result: parallel.UnitResult) -> Callable[[str], bool]:
    """route for the loader (ids before their root's prefix), counting the documents it leaves out."""
    def wanted(doc_id: str) -> bool:
        kept = route(prefix + doc_id)
        result.routed += not kept
        return kept
    return wanted


def _kept(documents: Iterable[Document], keep: Callable[[Document], bool],
          result: parallel.UnitResult) -> Iterator[Document]:
    """The documents keep keeps, counting those it leaves out (as _counting_route does)."""
    for document in documents:
        if keep(document):
            yield document
        else:
            result.routed += 1


def _fingerprinted(documents: Iterable[Document]) -> Iterator[list[tuple[Document, bytes | None]]]:
    """The documents in batches, each with its fingerprint (None for one indexed as passages).

    Fingerprinting a batch at once costs 117 ms/MB of poems where one at a
    time cost 956 ms/MB, nearly all of it the fixed cost of numpy calls (see
    fingerprints.fingerprints_of; benchmarks/duplicates_cost.py).
    """
    for batch in _batched(documents, FINGERPRINT_BATCH):
        short = [document.text for document in batch if len(document.text) <= PASSAGE_CHARS]
        found = iter(fingerprints.fingerprints_of(short))
        yield [(document, next(found) if len(document.text) <= PASSAGE_CHARS else None)
               for document in batch]


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def too_large(path: Path, size: int) -> str:
    """The warning for a file too large to index."""
    return (f"{path}: skipped, too large ({size / 1e6:.1f} MB; "
            f"the limit is {MAX_FILE_BYTES // 1_000_000} MB)")


def _unit_bytes(unit: parallel.Unit) -> int:
    if unit.part.span is not None:
        start, end, _ = unit.part.span
        return end - start
    try:
        return unit.part.path.stat().st_size
    except OSError:
        return 0


class _Tally:
    """Adds up unit results into the report, per file, and drives the progress callback."""

    def __init__(self, report: IndexReport, seen: dict[str, str],
                 progress: ProgressCallback | None, warn, total_bytes: int) -> None:
        self.report, self.seen, self.progress, self.warn = report, seen, progress, warn
        self.total_bytes = total_bytes
        self.done_bytes = 0
        self.documents: dict[str, int] = {}
        self.routed: set[str] = set()  # files with documents of other shards

    def add(self, result: parallel.UnitResult) -> None:
        for message in result.warnings:
            (self.warn or warn_stderr)(message)
        self.documents[result.key] = self.documents.get(result.key, 0) + result.documents
        if result.routed:
            self.routed.add(result.key)
        if result.documents:  # the summary counts only text actually indexed
            self.report.megabytes += result.megabytes
        self.done_bytes += round(result.megabytes * 1e6)
        if self.progress:
            self.progress(self.done_bytes, self.total_bytes)
        hold_point("indexing")  # some files indexed, nothing committed

    def finish(self) -> None:
        for key, count in self.documents.items():
            if count == 0 and key in self.routed:
                continue  # its documents are all other shards' (see index_unit)
            if count == 0:
                self.report.skipped += 1
            elif key in self.seen:
                self.report.updated += count
            else:
                self.report.added += count


def indexed_files(ix) -> dict[str, str]:
    """{file key: record} of every file the index holds live documents from (see roots.py)."""
    found = {}
    with ix.reader() as reader:
        if schema.FILEKEY not in reader.indexed_field_names():
            return found
        for term in reader.lexicon(schema.FILEKEY):
            # Deleted documents keep their terms until their segment is merged away.
            postings = reader.postings(schema.FILEKEY, term)
            if any(not reader.is_deleted(docnum) for docnum in postings.all_ids()):
                key, record = parse_file_term(term.decode("utf-8"))
                found[key] = record
    return found


def passage_bounds(text: str, size: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of the consecutive passages text is indexed as: one when it is short.

    Each passage but the last ends within ``size`` characters at the last
    line or sentence end (closing quotes kept with their sentence) past its
    middle, or at ``size`` when there is none. So no two adjacent Chinese
    characters of a sentence are split: every bigram, hence every literal
    Chinese string within a sentence, lies inside one passage.
    """
    size = size or PASSAGE_CHARS
    bounds = []
    start = 0
    while len(text) - start > size:
        end = _passage_end(text, start + size // 2, start + size)
        bounds.append((start, end))
        start = end
    bounds.append((start, len(text)))
    return bounds


def _passage_end(text: str, low: int, high: int) -> int:
    """The last cut in text[low:high] just after a sentence end, else high."""
    cut = max(text.rfind(mark, low, high - 1) for mark in _SENTENCE_ENDS)
    if cut < 0:
        return high
    cut += 1
    while cut < high and text[cut] in _CLOSING_QUOTES:
        cut += 1
    return cut


def document_entries(document: Document, file_key: str | None, checksum: str,
                     segmenter: analysis.Segmenter,
                     fingerprint: bytes | None = None) -> Iterator[dict[str, Any]]:
    """The Whoosh documents one document is indexed as: itself, or its passages.

    A document longer than PASSAGE_CHARS is indexed as passages (see
    passage_bounds), each a Whoosh document with the document's id, title and
    metadata, its passage number and start offset; searches fold them back
    into one hit (ranking.fold) and ``SearchIndex.document`` joins them. The
    passages' tokens are made one passage at a time, so the memory a
    document's tokens take is bounded by the passage size, not the file's.
    ``fingerprint``, when given, is that of a document indexed whole (see
    fingerprints.py); otherwise each entry's is computed.
    """
    bounds = passage_bounds(document.text)
    if len(bounds) == 1:
        yield document_fields(document, file_key, checksum, segmenter, fingerprint)
        return
    for number, (start, end) in enumerate(bounds):
        passage = dataclasses.replace(document, text=document.text[start:end],
                                      original=document.original[start:end])
        fields = document_fields(passage, file_key, checksum, segmenter)
        fields[schema.PASSAGE] = number
        fields[schema.OFFSET] = start
        if number:  # the document's metadata is kept once, with its first passage
            fields.pop(schema.META, None)
        yield fields


def document_fields(document: Document, file_key: str | None, checksum: str,
                    segmenter: analysis.Segmenter, fingerprint: bytes | None = None) -> dict[str, Any]:
    """The Whoosh fields of one document (or passage), with its tokens computed."""
    title_chars = analysis.char_tokens(document.title)
    gap = len(title_chars) + 100  # keeps phrases from spanning title and text
    chars = title_chars + analysis.char_tokens(document.text, gap, len(document.title) + 1)
    title_and_text = document.title + "\n" + document.text
    fields = {
        schema.ID: document.id,
        schema.PATH: file_key,
        schema.FILEKEY: f"{file_key}\t{checksum}",
        schema.TITLE: analysis.Pretokenized(document.title, segmenter.index_words(document.title)),
        schema.CONTENT: analysis.Pretokenized(document.text, segmenter.index_words(document.text)),
        "_stored_" + schema.TITLE: document.title,
        "_stored_" + schema.CONTENT: document.text,
        schema.KEYWORDS: _keywords_field(document, segmenter),
        schema.CHARS: analysis.Pretokenized(title_and_text, chars),
        schema.BIGRAMS: analysis.Pretokenized(title_and_text, analysis.bigram_tokens(title_and_text)),
        schema.DATED: document.date is not None,
        schema.DAYNUMBER: document.date.toordinal() if document.date else 0,
        schema.URL: document.url,
        schema.META: document.metadata or None,
        schema.FINGERPRINT: fingerprint if fingerprint is not None
        else fingerprints.fingerprint_bytes(document.text),
    }
    if document.date is not None:
        fields[schema.DATE] = dt.datetime.combine(document.date, dt.time())
    if document.source:
        fields[schema.SOURCE] = document.source
        fields[schema.SOURCEKEY] = schema.source_key(document.source)
    if document.original != document.text:
        fields[schema.ORIGINAL] = document.original
    if document.original_title != document.title:
        fields[schema.ORIGINAL_TITLE] = document.original_title
    return fields


def _keywords_field(document: Document, segmenter: analysis.Segmenter) -> analysis.Pretokenized:
    """The words of a document's keywords, description and author, normalized like the text.

    An HTML page's meta tags, a JSON Lines record's or front matter's fields:
    searchable, never shown. The author makes ``静夜思 李白`` find the poem
    (the 300 title + author queries of benchmarks/quality: nDCG@10 0.79 -> see
    the README's Search quality table).
    """
    meta = document.metadata or {}
    values = [meta.get(key) for key in ("keywords", "description", "author")]
    text = normalize_text(clean_text("\n".join(
        ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        for value in values if value)))
    return analysis.Pretokenized(text, segmenter.index_words(text))


def _stage_userdict(index_dir: Path, userdict: str | os.PathLike | None) -> Callable[[], None]:
    """Copy the user dictionary beside the index now; return what installs it.

    The index keeps its own copy, so queries segment alike. Copying needs disk
    space, installing (a rename) does not: see _commit.
    """
    target = index_dir / USERDICT
    if userdict is None:
        return lambda: target.unlink(missing_ok=True)
    tmp = index_dir / (USERDICT + ".tmp")
    shutil.copyfile(userdict, tmp)
    return lambda: os.replace(tmp, target)


def _stage_query_lexicon(index_dir: Path, profile: str,
                         userdict: str | os.PathLike | None) -> Callable[[], None]:
    """Copy the query lexicon of the segmenter beside the index now (cached per configuration); return what installs it."""
    config = current_config(userdict)
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    cached = analysis.cache_dir() / f"query-lexicon-{digest}.v{analysis.LEXICON_FORMAT}.bin"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        analysis.write_query_lexicon(analysis.segmenter_for(profile), cached)
    tmp = index_dir / (LEXICON + ".tmp")
    shutil.copyfile(cached, tmp)
    return lambda: os.replace(tmp, index_dir / LEXICON)


def _switch_to(index_dir: Path, generation: str, corpus: Corpus,
               aliases: dict[str, list[str]] | None = None, routed: dict[str, str] | None = None) -> None:
    """Point the manifest at generation (atomically); remove_leftovers then drops the others.

    The manifest records the checksums of the files generation reads (only
    files new since the previous manifest are read for it) and the sidecars'
    source aliases (None: the previous manifest's, for documents added from Python).
    """
    userdict = index_userdict(index_dir)
    previous = read_manifest(index_dir, rebuild=True)
    files = integrity.record(index_dir, integrity.live_files(index_dir, generation, (LEXICON, USERDICT)),
                             previous.files if previous is not None else None)
    if routed is None:
        routed = previous.routed if previous is not None else {}
    manifest = Manifest(generation, current_config(userdict), corpus, files,
                        aliases=_persisted_aliases(aliases, previous), routed=routed)
    tmp = index_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, index_dir / MANIFEST)


def _persisted_aliases(aliases: dict[str, list[str]] | None,
                       previous: Manifest | None) -> dict[str, list[str]]:
    """The aliases a run records: those it gathered, or else the ones the index had."""
    if aliases is not None:
        return aliases
    return previous.aliases if previous is not None else {}


def index_state(index_dir: Path, ix) -> tuple:
    """What any commit to index_dir changes: the manifest file and the live TOC generation.

    Every run of ``update_index`` replaces the manifest (a new inode); adding
    documents from Python writes a new TOC generation.
    """
    try:
        stat = os.stat(index_dir / MANIFEST)
        manifest = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    except OSError:
        manifest = None
    return manifest, ix.latest_generation()


def open_whoosh_index(index_dir: str | os.PathLike):
    """Open the live Whoosh index of index_dir, after checking it is compatible and intact."""
    index_dir = Path(index_dir)
    check_index_location(index_dir)
    manifest = checked_manifest(index_dir)
    mapped = storage.MappedFileStorage(str(index_dir))
    with integrity.guard(index_dir, manifest.files):
        analysis.register_segmenter(index_userdict(index_dir), index_dir / LEXICON)
        return whoosh_index.FileIndex(mapped, indexname=manifest.generation), manifest


def checked_manifest(index_dir: Path, retries: int = 2) -> Manifest:
    """The manifest of index_dir, once its index is found compatible and intact.

    Raises IndexNotFoundError, IndexMismatchError or IndexDamagedError. The
    files are checked cheaply (integrity.check). A writer that switches the
    manifest meanwhile deletes the files of the one read first: damage found
    under a manifest that has since been replaced is checked again.
    """
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexNotFoundError(index_dir, f"no index at {index_dir}")
    try:
        if manifest.intact:
            # Before the configuration: a damaged user dictionary is damage,
            # not another configuration.
            integrity.check(index_dir, manifest.files)
        check_compatible(index_dir, manifest)
        if not manifest.intact:  # after it: a changed setting is named as such
            raise IndexDamagedError(index_dir, f"{MANIFEST}: checksum mismatch")
    except IndexDamagedError:
        if retries and read_manifest(index_dir) != manifest:
            return checked_manifest(index_dir, retries - 1)
        raise
    return manifest


def _normalized(document: Document) -> Document:
    """A document given from Python, cleaned and normalized like a loaded one."""
    original = clean_text(document.original or document.text)
    return dataclasses.replace(
        document, original=original, text=normalize_text(original),
        title=normalize_text(clean_text(document.title)),
    )


def add_documents(index_dir: str | os.PathLike, documents: Iterable[Document]) -> int:
    """Add documents given from Python, replacing any with the same id."""
    index_dir = Path(index_dir)
    with writer_lock(index_dir):
        ix, manifest = open_whoosh_index(index_dir)
        remove_leftovers(index_dir, manifest.generation)
        segmenter = analysis.segmenter_for(ix.schema[schema.CONTENT].analyzer.profile)
        run = _WriteRun(index_dir)
        count = 0
        with run.undone_on_failure():
            run.writer = writer = FastSegmentWriter(ix, limitmb=WRITER_LIMIT_MB)
            for document in documents:
                document = _normalized(document)
                writer.delete_by_term(schema.ID, document.id)  # all its passages
                for fields in document_entries(document, document.path, "", segmenter):
                    del fields[schema.FILEKEY]  # not from a corpus file: file updates leave it alone
                    writer.add_document(**fields)
                count += 1
            commit = StagedCommit(writer, [])
            commit.write_segments()
            commit.write_toc()
            with _interrupts_deferred():
                _rename_toc_and_finish(run, commit, manifest.generation, manifest.corpus)
    return count
