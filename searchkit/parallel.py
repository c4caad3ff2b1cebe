"""Indexing on every core: worker processes that each write their own segment.

Loading, normalizing, segmenting and Whoosh's own posting work all happen in
the workers; each writes one Whoosh segment of the documents it was given and
hands it back. The parent only deals out work and commits the segments
together with its deletions, in one table of contents, so the index changes
all at once or not at all. Which segment a document lands in does not change
search results: scores use statistics over the whole index.

Whoosh has a multi-process writer of its own (``whoosh.multiproc.MpWriter``),
not used here: it takes documents already loaded in the parent and pickles
them to files for its sub-writers, so loading, cleaning and segmenting (most
of the work) would stay on one core; by default it reads the sub-writers'
segments back to merge them, a second pass over every posting; and it cannot
commit them together with the parent's deletions, as an incremental update
needs.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import NoReturn

from .errors import SearchkitError
from .loaders import CorpusFile


@dataclass
class UnitResult:
    """What a worker did with one unit of work (a file or part of one)."""

    key: str
    documents: int
    megabytes: float
    warnings: list[str] = field(default_factory=list)
    routed: int = 0  # documents left to other shards (see indexer.index_unit)


@dataclass(frozen=True)
class Unit:
    """One unit of work: a corpus file (or part of one) and its file checksum."""

    part: CorpusFile
    key: str
    checksum: str


_PARENT = 0  # in a worker: the process that started it
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

# Units sent to a worker ahead of its results, so that it never waits for the
# next one (a round trip through the parent per unit: a few percent of the
# time of a small file).
_IN_FLIGHT = 2

# A function run in a worker: (unit, writer, segmenter) -> UnitResult
UnitIndexer = Callable[[Unit, object, object], UnitResult]


class _Worker:
    """A worker process and this process's end of the pipe to it."""

    def __init__(self, context, target, args) -> None:
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=target, args=(*args, theirs), daemon=True)
        self._theirs = theirs
        self.told_to_finish = False  # sent None: no more units
        self.finished = False  # handed back its segment

    def start(self) -> None:
        self.process.start()
        # Only the worker may hold its end: then nothing is left open here once it is gone.
        self._theirs.close()

    def died(self) -> str:
        """How the process ended, for a message."""
        self.process.join()
        code = self.process.exitcode
        return f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"


def index_in_parallel(
    open_writer: Callable[[], object],
    index_unit: UnitIndexer,
    segmenter,
    units: Iterable[Unit],
    workers: int,
    on_result: Callable[[UnitResult], None],
    before_join: Callable[[], None] | None = None,
) -> list:
    """Index units in worker processes; return the segments they wrote.

    ``open_writer`` is called in each worker to make its segment writer;
    ``on_result`` is called in this process as each unit is done;
    ``before_join`` when every worker has handed back its segment (a test hook).
    A worker that dies or fails stops the whole run at once.
    """
    context = multiprocessing.get_context("fork")
    pool = [_Worker(context, _work, (open_writer, index_unit, segmenter, os.getpid()))
            for _ in range(workers)]
    try:
        with _interrupts_blocked():  # a worker starts with SIGINT ignored (see _work)
            for worker in pool:
                worker.start()
        segments = _deal(pool, iter(units), on_result)
        if before_join:
            before_join()
    except BaseException:
        for worker in pool:
            if worker.process.pid is not None:
                worker.process.terminate()
        raise
    finally:
        for worker in pool:
            if worker.process.pid is not None:
                worker.process.join()
            worker.connection.close()
    return [segment for segment in segments if segment is not None]


def _deal(pool: list[_Worker], units, on_result) -> list:
    """Hand units to workers as they ask for them; gather their segments.

    Waits on every worker's pipe and on its process sentinel, so that a
    worker's death is noticed the moment it happens.
    """
    segments: list = []
    for _ in range(_IN_FLIGHT):  # round robin: every worker gets work before any gets more
        for worker in pool:
            _send_next(worker, units)
    active = list(pool)
    while active:
        ready = set(wait([w.connection for w in active] + [w.process.sentinel for w in active]))
        for worker in list(active):
            if worker.connection in ready or worker.process.sentinel in ready:
                _read_messages(worker, units, on_result, segments)
            if worker.finished:
                active.remove(worker)
            elif worker.process.sentinel in ready:
                _died(worker)
    return segments


def _died(worker: _Worker) -> NoReturn:
    raise SearchkitError(f"a worker process died ({worker.died()}) while indexing; nothing was changed")


def _send_next(worker: _Worker, units) -> None:
    """Send the worker the next unit, or once there is none, None: its last message."""
    if worker.told_to_finish:
        return
    unit = next(units, None)
    worker.told_to_finish = unit is None
    try:
        worker.connection.send(unit)
    except OSError:  # the worker is gone (its end of the pipe went with it)
        _died(worker)


def _read_messages(worker: _Worker, units, on_result, segments: list) -> None:
    """Handle what a worker has sent: unit results, its segment, or its failure."""
    while not worker.finished:
        try:
            if not worker.connection.poll():
                return
            kind, payload = worker.connection.recv()
        except (EOFError, OSError):  # the worker is gone
            _died(worker)
        if kind == "unit":
            on_result(payload)
            _send_next(worker, units)
        elif kind == "done":
            segments.append(payload)
            worker.finished = True
        elif kind == "oserror":  # e.g. a full disk: reported like the same error here
            raise OSError(*payload)
        else:
            raise SearchkitError(f"indexing failed in a worker process:\n{payload}")


@contextmanager
def _interrupts_blocked():
    """Hold SIGINT back while processes are forked (they inherit the mask)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _next_job(connection):
    """The next unit, or None to finish; exits if the parent died (e.g. was killed)."""
    while not connection.poll(1):
        if os.getppid() != _PARENT:
            os._exit(1)  # orphaned (the parent was killed): leave the index as it was
    return connection.recv()


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker the moment its parent dies (Linux).

    A worker inherits the parent's index lock: an orphan living on would keep
    the index locked after the parent was killed. Elsewhere _next_job's check
    of the parent is the only guard.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _work(open_writer, index_unit, segmenter, parent: int, connection) -> None:
    """A worker's life: index units until told to stop, then hand back the segment."""
    global _PARENT
    _PARENT = parent
    # Ctrl-C reaches every process of the terminal's process group: the parent
    # alone decides what it means (it stops the workers and cleans up). SIGINT
    # was blocked while forking, so none arrives before it is ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(parent)
    # What the parent built (jieba's dictionaries above all) is never garbage:
    # leaving it out of collections saves time and keeps its pages shared with
    # the parent. The pool holds millions of lists: collect young objects less often.
    gc.freeze()
    gc.set_threshold(50_000)
    try:
        writer = open_writer()
        while (unit := _next_job(connection)) is not None:
            connection.send(("unit", index_unit(unit, writer, segmenter)))
        connection.send(("done", writer.finish_segment()))
    except OSError as exc:
        connection.send(("oserror", (exc.errno, exc.strerror, exc.filename)))
    except BaseException:
        connection.send(("error", traceback.format_exc(limit=5)))
