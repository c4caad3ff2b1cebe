"""Damaged index files: reported in one line, never searched.

At every commit the manifest records the size, modification time and CRC-32
of each file the live index reads (``record``): the Whoosh table of contents
(TOC) and segment files of the live generation, the query lexicon and the
user dictionary.

Opening an index (``check``) stats each of them: a missing file or another
size is damage at once; a changed modification time has the file read and its
checksum compared. The TOC and the per-document columns (field lengths, day
numbers, ids, dates), whose damage would silently change the order of hits,
and any file of at most ``SMALL_BYTES``, are read and compared on every open
whatever their times say: they hold a few bytes per document. The large files
(terms, postings, stored documents, the lexicon) are read only when their
times changed, so that opening a large index does not read all of it. Damage
that keeps a file's size and time (bit rot, a time put back) is found by
``verify``, which reads every file.

``guard`` turns what Whoosh and the decoders raise when they read damaged files
into the same IndexDamagedError, naming the file when a checksum says which.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import IndexDamagedError, SearchkitError

# Files up to this size are read on every open: reading 64 KiB costs about as
# much as a few stat calls (CRC-32 runs at about 2.4 GB/s here; adler32 at 3.4
# GB/s was not worth its weaker detection of short changes).
SMALL_BYTES = 64 * 1024
# Columns hold a value per document; this one holds the stored documents and
# is as large as the text, so it is read on open only when its time changed.
STORED_COLUMN = "._stored.col"
# The fingerprint column is about as large again (about 90 MB for all 388,270
# poems, some 40 ms to read); damage to it changes which copies fold, not the
# order of hits, so it is read on open, like the stored documents, only when
# its time changed (verify reads it always).
LARGE_COLUMNS = (STORED_COLUMN, ".fingerprint.col")


@dataclass(frozen=True)
class FileRecord:
    """What the manifest records about one file of the index."""

    size: int
    mtime_ns: int
    crc32: int

    def to_json(self) -> dict[str, int]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "crc32": self.crc32}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FileRecord":
        return cls(int(data["size"]), int(data["mtime_ns"]), int(data["crc32"]))


@dataclass(frozen=True)
class Verified:
    """The outcome of a full verification: every file read and found intact."""

    files: int
    bytes: int


def file_crc32(path: Path) -> int:
    """The CRC-32 of a whole file (read through a memory map: no copy)."""
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            return zlib.crc32(b"")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return zlib.crc32(mapped)


def json_crc32(data: dict[str, Any]) -> int:
    """A checksum of a JSON object's content, whatever its layout on disk."""
    return zlib.crc32(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))


# -- which files an index reads ---------------------------------------------------


def _toc_pattern(generation: str) -> re.Pattern:
    return re.compile(rf"_{re.escape(generation)}_(\d+)\.toc")


_ANY_TOC = re.compile(r"_(g\d+)_(\d+)\.toc")


def generations_on_disk(index_dir: Path, *, committed: bool = False) -> list[str]:
    """Generations with a Whoosh TOC in index_dir, oldest first.

    ``committed`` counts only TOCs written by a commit (a new Whoosh index
    starts with an empty TOC numbered 0).
    """
    found = set()
    for name in _listdir(index_dir):
        match = _ANY_TOC.fullmatch(name)
        if match and (not committed or int(match.group(2)) > 0):
            found.add(match.group(1))
    return sorted(found, key=lambda generation: int(generation[1:]))


def _listdir(index_dir: Path) -> list[str]:
    try:
        return os.listdir(index_dir)
    except OSError:
        return []


def _latest_toc(names: Iterable[str], generation: str) -> tuple[int, str] | None:
    pattern = _toc_pattern(generation)
    tocs = [(int(m.group(1)), name) for name in names if (m := pattern.fullmatch(name))]
    return max(tocs) if tocs else None


def live_files(index_dir: Path, generation: str, also: Iterable[str] = ()) -> list[str]:
    """The files the live index of generation reads: its latest TOC, its segment
    files (Whoosh's lock file holds nothing), and those of ``also`` that exist."""
    names = _listdir(index_dir)
    latest = _latest_toc(names, generation)
    segment = re.compile(rf"{re.escape(generation)}_[0-9a-z]+\.[A-Za-z0-9_.]+")
    files = [latest[1]] if latest else []
    files += sorted(n for n in names if segment.fullmatch(n) and (index_dir / n).is_file())
    files += [n for n in also if (index_dir / n).is_file()]
    return files


# -- recording --------------------------------------------------------------------


def record(index_dir: Path, names: Iterable[str],
           previous: dict[str, FileRecord] | None = None) -> dict[str, FileRecord]:
    """Records of the named files of index_dir, for the manifest.

    A file whose size and time are those of its previous record keeps that
    record without being read: Whoosh never rewrites a segment file, so an
    update checksums only the files it wrote. (A writer checks the index
    before it starts, so a damaged file with a changed time is never
    recorded as intact.)
    """
    previous = previous or {}
    records = {}
    for name in names:
        path = index_dir / name
        stat = path.stat()
        old = previous.get(name)
        if old is not None and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            records[name] = old
        else:
            records[name] = FileRecord(stat.st_size, stat.st_mtime_ns, file_crc32(path))
    return records


# -- checking ---------------------------------------------------------------------


def check(index_dir: Path, files: dict[str, FileRecord] | None) -> None:
    """Raise IndexDamagedError unless the index's files match their records (cheap).

    Stats every file; reads the small and ranking-critical ones and those
    whose time changed. An index recorded before checksums (``files`` None)
    has nothing to compare with and passes.
    """
    reason = _first_problem(index_dir, files or {}, read_all=False)
    if reason is not None:
        raise IndexDamagedError(index_dir, reason)


def verify(index_dir: Path, files: dict[str, FileRecord] | None) -> Verified:
    """Read every file of the index and compare it with its record.

    Raises IndexDamagedError naming the first file that differs, and
    SearchkitError for an index that records no checksums.
    """
    if not files:
        raise SearchkitError(f"index at {index_dir} records no checksums (it was built by an "
                             "older searchkit); index it again to record them")
    reason = _first_problem(index_dir, files, read_all=True)
    if reason is not None:
        raise IndexDamagedError(index_dir, reason)
    return Verified(len(files), sum(r.size for r in files.values()))


@contextmanager
def guard(index_dir: Path, files: dict[str, FileRecord] | None) -> Iterator[None]:
    """Report what reading damaged index files raises as IndexDamagedError.

    Whoosh and searchkit's own formats meet damage with whatever their
    decoders raise (EOFError, struct.error, zlib.error, "Block tag error",
    ...). On any such exception every file is verified: a file that differs
    from its record is named. If all match and cover everything the
    index reads, the files are as written and the exception is a bug, not
    damage: it is raised as it is. Without records (an index from before
    checksums) the exception is taken for damage.
    """
    try:
        yield
    except SearchkitError:
        raise
    except Exception as exc:
        reason = _first_problem(index_dir, files or {}, read_all=True)
        if reason is None and files:
            raise
        detail = " ".join(str(exc).split())[:120]
        raise IndexDamagedError(index_dir, reason or f"unreadable: {type(exc).__name__}: {detail}") from exc


def _first_problem(index_dir: Path, files: dict[str, FileRecord], read_all: bool) -> str | None:
    """What is wrong with the first file that does not match its record, if any.

    A commit newer than the records (one interrupted before it updated the
    manifest, or one whose manifest is being written now) has replaced some
    files legitimately: the cheap check then compares only the recorded files
    still there, and a full check reports the unrecorded commit.
    """
    if not files:
        return None
    names = set(_listdir(index_dir))
    newer = _newer_commit(names, files)
    if newer is not None and read_all:
        return f"{newer}: a commit the manifest does not record"
    for name, expected in files.items():
        if newer is not None and (name.endswith(".toc") or name not in names):
            continue
        problem = _file_problem(index_dir / name, expected, read_all or _always_read(name, expected))
        if problem is not None:
            return f"{name}: {problem}"
    return None


def _newer_commit(names: set[str], files: dict[str, FileRecord]) -> str | None:
    """The TOC of a commit newer than the recorded one, if there is one."""
    for recorded in files:
        match = _ANY_TOC.fullmatch(recorded)
        if match:
            latest = _latest_toc(names, match.group(1))
            if latest is not None and latest[0] > int(match.group(2)):
                return latest[1]
    return None


def _always_read(name: str, expected: FileRecord) -> bool:
    """Whether a file is read on every open, whatever its time (see the module's docstring)."""
    if expected.size <= SMALL_BYTES or name.endswith(".toc"):
        return True
    return name.endswith(".col") and not name.endswith(LARGE_COLUMNS)


def _file_problem(path: Path, expected: FileRecord, read: bool) -> str | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if stat.st_size != expected.size:
        return f"{stat.st_size} bytes, {expected.size} expected"
    if read or stat.st_mtime_ns != expected.mtime_ns:
        try:
            crc = file_crc32(path)
        except OSError as exc:
            return f"unreadable: {exc.strerror}"
        if crc != expected.crc32:
            return "checksum mismatch"
    return None
