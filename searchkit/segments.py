"""Writing Whoosh segments: the stock writer, with its costliest habits changed.

Whoosh pools every posting in memory and, past a memory limit, sorts the pool
and spills it to a temporary "run" file, one pickle call per posting; merging
the runs costs one unpickle per posting. On a large corpus that was a third of
all indexing time. Here runs are written and read in chunks of postings, which
costs a few pickle calls per run instead. Each writer also gets a temporary
directory of its own, so writers in several processes never share one.

When a segment is finished, Whoosh's field writer handles the sorted postings
one call (and four type assertions) at a time; ``FastFieldWriter`` hands each
term's postings to the block writer a block at a time. The files it writes are
the same, byte for byte.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3TermInfo
from whoosh.util import random_name
from whoosh.writing import PostingPool, SegmentWriter

# Postings per pickle call in a run file. Merging runs holds one chunk of each
# run in memory, so this bounds the merge's memory too (about 1 MB a run).
RUN_CHUNK = 5_000
# Posting lists shorter than this are kept in the term's entry in the terms
# file, sparing a block (and its pickling and compression) for each rare term.
INLINE_LIMIT = 8


class FastCodec(W3Codec):
    """Whoosh's codec, without per-term field-length statistics, with a faster field writer.

    Those statistics only tighten the score bounds used to skip blocks while
    searching; collecting them reads a column value for every posting and was
    the largest single cost of a commit. Scores are unchanged.
    """

    length_stats = False

    def field_writer(self, storage, segment):
        return FastFieldWriter(self, storage, segment)


def make_codec() -> W3Codec:
    """The codec searchkit writes segments with."""
    return FastCodec(inlinelimit=INLINE_LIMIT)


class _TermInfo(W3TermInfo):
    # Whoosh's postings writer calls set_inline(), which its term info class
    # spells set_inlined(), so posting lists could never be inlined.
    set_inline = W3TermInfo.set_inlined


class FastFieldWriter(W3FieldWriter):
    """Writes a segment's postings term by term, a block at a time."""

    def add_postings(self, schema, lengths, items) -> None:
        if lengths is not None:  # length statistics wanted: Whoosh's own loop gathers them
            return super().add_postings(schema, lengths, items)
        for fieldname, field_postings in groupby(items, key=itemgetter(0)):
            self.start_field(fieldname, schema[fieldname])
            for btext, postings in groupby(field_postings, key=itemgetter(1)):
                self.start_term(btext)
                self._add_term(list(postings))
                self.finish_term()
            self.finish_field()

    def start_term(self, btext) -> None:
        self._btext = btext
        self._postwriter.start_postings(self._fieldobj.format, _TermInfo())

    def _add_term(self, postings: list[tuple]) -> None:
        # What W3PostingsWriter.add_posting does per posting, a block at a time:
        # a full block is written when the next posting arrives, empty values
        # are not kept, the block remembers its largest weight.
        writer = self._postwriter
        limit = writer._blocklimit
        for start in range(0, len(postings), limit):
            if start:
                writer._write_block()
            block = postings[start : start + limit]
            weights = [posting[3] for posting in block]
            writer._ids.extend(posting[2] for posting in block)
            writer._weights.extend(weights)
            writer._values.extend(posting[4] for posting in block if posting[4])
            writer._maxweight = max(writer._maxweight, max(weights))


class ChunkedPostingPool(PostingPool):
    """A posting pool whose spilled runs are pickled in chunks, not item by item."""

    def add(self, item) -> None:
        # Whoosh's own estimate of the posting's size, without its type
        # assertions: searchkit's fields always give bytes.
        self.currentsize += 150 + len(item[0]) + 2 * len(item[1]) + len(item[4] or b"")
        if self.currentsize > self.limit:
            self.save()
        self.current.append(item)

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
