"""Writing Whoosh segments: the stock writer, with its costliest habits changed.

Whoosh pools every posting in memory and, past a memory limit, sorts the pool
and spills it to a temporary "run" file, one pickle call per posting; merging
the runs costs one unpickle per posting. On a large corpus that was a third of
all indexing time. Here runs are written and read in chunks of postings, which
costs a few pickle calls per run instead. Each writer also gets a temporary
directory of its own, so writers in several processes never share one.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

from whoosh.codec.whoosh3 import W3Codec
from whoosh.util import random_name
from whoosh.writing import PostingPool, SegmentWriter

RUN_CHUNK = 50_000  # postings per pickle call in a run file


def make_codec() -> W3Codec:
    """Whoosh's codec, without per-term field-length statistics.

    Those statistics only tighten the score bounds used to skip blocks while
    searching; collecting them reads a column value for every posting and was
    the largest single cost of a commit. Scores are unchanged.
    """
    codec = W3Codec()
    codec.length_stats = False
    return codec


class ChunkedPostingPool(PostingPool):
    """A posting pool whose spilled runs are pickled in chunks, not item by item."""

    def _write_run(self, f, items) -> None:
        chunk: list = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= RUN_CHUNK:
                pickle.dump(chunk, f, pickle.HIGHEST_PROTOCOL)
                chunk = []
        if chunk:
            pickle.dump(chunk, f, pickle.HIGHEST_PROTOCOL)
        f.close()

    def _read_run(self, path) -> Iterator:
        f = self._open_run(path)
        try:
            while True:
                try:
                    chunk = pickle.load(f)
                except EOFError:
                    return
                yield from chunk
        finally:
            f.close()
            self._remove_run(path)


class FastSegmentWriter(SegmentWriter):
    """Whoosh's segment writer with a chunked posting pool and its own temp directory."""

    def __init__(self, ix, **kwargs) -> None:
        kwargs.setdefault("codec", make_codec())
        super().__init__(ix, **kwargs)
        # The stock directory is shared by every writer of the index (the
        # column writer keeps files there) and removed by whichever writer
        # finishes first; this writer's runs live in a directory of its own.
        self._tempstorage = self.storage.temp_storage(f"{self.indexname}.{random_name()}.tmp")
        self.pool = ChunkedPostingPool(self._tempstorage, self.newsegment,
                                       limitmb=kwargs.get("limitmb", 128))


def remove_temporary_directories(index_dir: Path) -> None:
    """Remove writers' temporary directories (left over, or by a killed run)."""
    for path in index_dir.glob("*.tmp"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def commit_with(writer: SegmentWriter, segments: list) -> None:
    """Commit writer's changes together with segments other writers finished."""
    if not segments:
        writer.commit(merge=True)
        return
    final = writer._merge_segments(None, None, True)
    if writer._added:
        final.append(writer._finalize_segment())
    else:
        writer._close_segment()
    writer._commit_toc(final + segments)
    writer._finish()
