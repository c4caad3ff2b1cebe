"""Indexing on every core: worker processes that each write their own segment.

Loading, normalizing, segmenting and Whoosh's own posting work all happen in
the workers; each writes one Whoosh segment of the documents it was given and
hands it back. The parent only deals out work and commits the segments
together with its deletions, in one table of contents, so the index changes
all at once or not at all. Which segment a document lands in does not change
search results: scores use statistics over the whole index.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import queue
import signal
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import SearchkitError
from .loaders import CorpusFile


@dataclass
class UnitResult:
    """What a worker did with one unit of work (a file or part of one)."""

    key: str
    documents: int
    megabytes: float
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Unit:
    """One unit of work: a corpus file (or part of one) and its file checksum."""

    part: CorpusFile
    key: str
    checksum: str


_PARENT = 0  # in a worker: the process that started it
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

# A function run in a worker: (unit, writer, segmenter) -> UnitResult
UnitIndexer = Callable[[Unit, object, object], UnitResult]


def index_in_parallel(
    open_writer: Callable[[], object],
    index_unit: UnitIndexer,
    segmenter,
    units: Iterable[Unit],
    workers: int,
    on_result: Callable[[UnitResult], None],
) -> list:
    """Index units in worker processes; return the segments they wrote.

    ``open_writer`` is called in each worker to make its segment writer;
    ``on_result`` is called in this process as each unit is done.
    """
    context = multiprocessing.get_context("fork")
    jobs = context.Queue(maxsize=workers * 4)
    results = context.Queue()
    processes = [
        context.Process(target=_work, args=(open_writer, index_unit, segmenter, jobs, results, os.getpid()),
                        daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    segments: list = []
    finished = 0
    try:
        for unit in units:
            _put(jobs, unit, results, on_result, segments)
        for _ in processes:
            _put(jobs, None, results, on_result, segments)
        while finished < len(processes):
            outcome = _take(results, on_result, segments, block=True)
            if outcome is None and not any(p.is_alive() for p in processes):
                raise SearchkitError("a worker process died while indexing; nothing was changed")
            finished += outcome or 0
    except BaseException:
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join()
    return [segment for segment in segments if segment is not None]


def _put(jobs, unit, results, on_result, segments) -> None:
    """Queue a unit, handling results while the queue is full."""
    while True:
        try:
            jobs.put(unit, timeout=0.05)
            break
        except queue.Full:
            _take(results, on_result, segments, block=False)
    while _take(results, on_result, segments, block=False) is not None:
        pass


def _take(results, on_result, segments, *, block: bool) -> int | None:
    """Handle one message from the workers: 1 when a worker finished, 0 for a unit, None for none."""
    try:
        kind, payload = results.get(timeout=0.5) if block else results.get_nowait()
    except queue.Empty:
        return None
    if kind == "unit":
        on_result(payload)
        return 0
    if kind == "error":
        raise SearchkitError(f"indexing failed in a worker process:\n{payload}")
    segments.append(payload)
    return 1


def _next_job(jobs):
    """The next unit, or None to finish; exits if the parent died (e.g. was killed)."""
    while True:
        if os.getppid() != _PARENT:
            os._exit(1)  # orphaned (the parent was killed): leave the index as it was
        try:
            return jobs.get(timeout=1)
        except queue.Empty:
            pass


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


def _work(open_writer, index_unit, segmenter, jobs, results, parent: int) -> None:
    """A worker's life: index units until told to stop, then hand back the segment."""
    global _PARENT
    _PARENT = parent
    _die_with_parent(parent)
    # What the parent built (jieba's dictionaries above all) is never garbage:
    # leaving it out of collections saves time and keeps its pages shared with
    # the parent. The pool holds millions of lists: collect young objects less often.
    gc.freeze()
    gc.set_threshold(50_000)
    writer = None
    try:
        writer = open_writer()
        while (unit := _next_job(jobs)) is not None:
            results.put(("unit", index_unit(unit, writer, segmenter)))
        if writer._added:
            segment = writer._finalize_segment()
        else:
            writer._close_segment()
            segment = None
        results.put(("done", segment))
    except KeyboardInterrupt:
        if writer is not None:
            writer.cancel()
    except BaseException:
        results.put(("error", traceback.format_exc(limit=5)))
