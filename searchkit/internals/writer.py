"""Writing Whoosh segments: the stock writer, with its costliest habits changed.

Whoosh pools every posting of a segment as a tuple, sorts them all, spills the
sorted pool to "run" files past a memory limit (one pickle call per posting)
and merges the runs posting by posting. ``TermPool`` instead groups postings
by term as documents arrive. Documents arrive in docnum order, so each term's
postings are already sorted: a spilled run is sorted by term only, and merging
runs joins each term's lists end to end.

When the segment is finished, the pool hands every term, sorted, with its
postings to the codec's field writer (see codec.py), which writes the
compact terms and postings files. A posting's value is its positions as a
tuple (b"" in a field without positions): nothing is encoded per posting.
"""

from __future__ import annotations

import bisect
import heapq
import pickle
from collections.abc import Iterable, Iterator
from itertools import chain, groupby
from operator import itemgetter

from whoosh.columns import NumericColumn, TranslatingColumnReader
from whoosh.index import TOC, clean_files
from whoosh.reading import TermNotFound
from whoosh.util import random_name
from whoosh.writing import MERGE_SMALL, NO_MERGE, OPTIMIZE, SegmentWriter

from ..analysis import Pretokenized
from ..schema import TokenText
from .codec import CompactCodec

# Postings per pickle call in a run file (a term's list is never split).
# Merging runs holds one chunk of each run in memory, so this bounds the
# merge's memory too: a field of a few thousand very common terms (single
# characters) would otherwise come back from every run at once.
RUN_CHUNK = 10_000
# What a pooled term, one more posting of a term and one more position of a
# posting cost in memory, roughly (dictionary slot, key, list; two list slots).
_TERM_BYTES = 200
_POSTING_BYTES = 16
_REPEAT_BYTES = 24  # a position after the first: list growth, and the list itself
# Field values whose postings a writer keeps (see FastSegmentWriter._terms_of).
_TERM_CACHE = 4096

# A segment is rewritten when more than this fraction of its documents are
# deleted (see merge_policy).
MAX_DELETED = 0.25
# Each document's length in each scorable field, exactly: Whoosh keeps it in
# one byte (exact only up to 10) and in a total per segment. BM25F's average
# field length over the live documents needs the lengths of the deleted ones.
EXACT_LENGTHS = NumericColumn("I", default=0)

# (fieldname, term, [docnum, value, docnum, value, ...]): see TermPool
PooledTerm = tuple[str, bytes, list]


def make_codec() -> CompactCodec:
    """The codec searchkit writes segments with."""
    return CompactCodec()


class TermPool:
    """The postings of a segment being written, grouped by field and term.

    A term's postings are one flat list, ``[docnum, value, docnum, value, ...]``,
    in the order they were added, which is docnum order: documents are added in
    docnum order, and a merged segment's postings come term by term, in
    docnum order, after every document already added. A value is the term's
    positions in the document: an int for one position (most postings), a
    list or tuple for more; b"" in a field without positions. Weights are
    not kept: a posting's weight is its frequency times the field boost
    (see codec.py), so boosts per document are refused.

    Terms of the fields in ``text_fields`` (those searchkit tokenizes) are
    kept as str, the others as Whoosh's term bytes; the codec encodes text as
    UTF-8, whose byte order is the code point order str sorts by.
    """

    def __init__(self, tempstore, limitmb: float = 128, text_fields: Iterable[str] = ()) -> None:
        self.tempstore = tempstore
        self.limit = limitmb * 1024 * 1024
        self.size = 0
        self.text_fields = frozenset(text_fields)
        self.fields: dict[str, dict] = {}
        self.runs: list[str] = []

    def add_tokens(self, fieldname: str, docnum: int, tokens: list[tuple]) -> int:
        """Pool a document's tokens ``(text, position, ...)`` for a text field; return their number.

        One dictionary look-up per token: the grouping by term within the
        document and across documents happen in the same loop.
        """
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        get = terms.get
        new_terms = new_postings = repeated = 0
        for token in tokens:
            text, pos = token[0], token[1]
            postings = get(text)
            if postings is None:
                terms[text] = [docnum, pos]
                new_terms += 1
            elif postings[-2] != docnum:
                postings += (docnum, pos)
                new_postings += 1
            else:  # the term again in this document
                found = postings[-1]
                if type(found) is int:
                    postings[-1] = [found, pos]
                else:
                    found.append(pos)
                repeated += 1
        self.size += (new_terms * _TERM_BYTES + new_postings * _POSTING_BYTES
                      + repeated * _REPEAT_BYTES)
        if self.size > self.limit:
            self.spill()
        return len(tokens)

    def add_field(self, fieldname: str, docnum: int, items: Iterable[tuple], boost: float = 1.0) -> int:
        """Pool a document's ``(term bytes, freq, weight, value)`` items (Whoosh's indexing); return the sum of freqs."""
        if boost != 1.0:
            raise ValueError("searchkit indexes do not keep document or field boosts per document")
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        text = fieldname in self.text_fields
        length = size = 0
        for btext, freq, _, value in items:
            key = btext.decode("utf-8") if text else btext
            length += freq
            postings = terms.get(key)
            if postings is None:
                terms[key] = [docnum, value]
                size += _TERM_BYTES + len(btext)
            else:
                postings += (docnum, value)
                size += _POSTING_BYTES
            size += _REPEAT_BYTES * len(value) if freq > 1 else 0
        self.size += size
        if self.size > self.limit:
            self.spill()
        return length

    def add_term(self, fieldname: str, btext: bytes, postings: list) -> None:
        """Pool a term's postings ``[docnum, value, ...]``, after any it already has."""
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        key = btext.decode("utf-8") if fieldname in self.text_fields else btext
        pooled = terms.get(key)
        if pooled is None:
            terms[key] = postings
            self.size += _TERM_BYTES + len(btext)
        else:
            pooled += postings
        values = postings[1::2]
        self.size += _POSTING_BYTES * len(values) + _REPEAT_BYTES * sum(
            len(value) for value in values if type(value) is not int)
        if self.size > self.limit:
            self.spill()

    def add(self, item: tuple) -> None:
        """Pool one posting, ``(fieldname, term bytes, docnum, weight, value)`` (Whoosh's pool interface)."""
        fieldname, btext, docnum, weight, value = item
        self.add_field(fieldname, docnum, ((btext, 0, weight, value or b""),))

    def spill(self) -> None:
        """Write the pooled postings to a run file, sorted by field and term, and empty the pool."""
        name = f"{random_name()}.run"
        with self.tempstore.create_file(name).raw_file() as run:
            chunk: list[PooledTerm] = []
            items = 0
            for term in self._sorted_terms():
                chunk.append(term)
                items += len(term[2])
                if items >= 2 * RUN_CHUNK:
                    pickle.dump(chunk, run, pickle.HIGHEST_PROTOCOL)
                    chunk, items = [], 0
            if chunk:
                pickle.dump(chunk, run, pickle.HIGHEST_PROTOCOL)
        self.runs.append(name)
        self.fields = {}
        self.size = 0

    def iter_terms(self) -> Iterator[PooledTerm]:
        """Every pooled term with all its postings, sorted by field and term."""
        if not self.runs:
            yield from self._sorted_terms()
            return
        # heapq.merge is stable: a term's pieces come in the order they were pooled.
        streams = [self._read_run(name) for name in self.runs] + [self._sorted_terms()]
        for (fieldname, btext), pieces in groupby(heapq.merge(*streams, key=_term_key), key=_term_key):
            postings = next(pieces)[2]
            for _, _, more in pieces:
                postings += more
            yield fieldname, btext, postings

    def cleanup(self) -> None:
        """Remove the run files."""
        for name in self.runs:
            if self.tempstore.file_exists(name):
                self.tempstore.delete_file(name)
        self.runs = []

    def _sorted_terms(self) -> Iterator[PooledTerm]:
        for fieldname in sorted(self.fields):
            terms = self.fields[fieldname]
            for btext in sorted(terms):
                yield fieldname, btext, terms[btext]

    def _read_run(self, name: str) -> Iterator[PooledTerm]:
        with self.tempstore.open_file(name).raw_file() as run:
            while True:
                try:
                    chunk = pickle.load(run)
                except EOFError:
                    break
                yield from chunk
        self.tempstore.delete_file(name)


_term_key = itemgetter(0, 1)


class FastSegmentWriter(SegmentWriter):
    """Whoosh's segment writer with a term pool, a faster codec and its own temp directory."""

    def __init__(self, ix, **kwargs) -> None:
        kwargs.setdefault("codec", make_codec())
        # Whoosh would copy the finished segment's files into one compound
        # file; searchkit reads index files through memory maps, which need
        # no compound file, so the copy is skipped.
        kwargs.setdefault("compound", False)
        try:
            super().__init__(ix, **kwargs)
            # The stock directory is shared by every writer of the index (the
            # column writer keeps files there) and removed by whichever writer
            # finishes first; this writer's runs live in a directory of its own.
            self._tempstorage = self.storage.temp_storage(f"{self.indexname}.{random_name()}.tmp")
        except BaseException:  # e.g. a full disk: do not keep the index locked
            if getattr(self, "writelock", None):
                self.writelock.release()
            raise
        self.pool = TermPool(self._tempstorage, limitmb=kwargs.get("limitmb", 128),
                             text_fields=[name for name, field in self.schema.items()
                                          if isinstance(field, TokenText)])
        self._plain_schema = not any(field.separate_spelling() or field.vector
                                     for _, field in self.schema.items())
        self._term_cache: dict[tuple, list] = {}
        # How a merging commit picks the segments to merge (Whoosh's default: MERGE_SMALL).
        self.mergetype = merge_policy

    def add_document(self, **fields) -> None:
        """Whoosh's add_document, handing each field's postings to the pool at once."""
        if not self._plain_schema:  # spelling or vector fields: Whoosh's own way
            return super().add_document(**fields)
        self._check_state()
        perdocwriter, schema, docnum = self.perdocwriter, self.schema, self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        for fieldname in fieldnames:
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                boost = self._field_boost(fields, fieldname, docboost)
                if isinstance(value, Pretokenized) and boost == 1.0 and isinstance(field, TokenText):
                    length = self.pool.add_tokens(fieldname, docnum, value.tokens)
                else:
                    length = self.pool.add_field(fieldname, docnum, self._terms_of(fieldname, field, value),
                                                 boost)
                if not field.scorable:
                    length = 0
            stored = fields.get(f"_stored_{fieldname}", value)
            perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
            if length:
                perdocwriter.add_column_value(exact_length_column(fieldname), EXACT_LENGTHS, length)
            if field.column_type and stored is not None:
                perdocwriter.add_column_value(fieldname, field.column_type, field.to_column_value(stored))
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _terms_of(self, fieldname: str, field, value) -> list[tuple]:
        """Whoosh's postings of a field value, kept for values that repeat (paths, dates, sources).

        Whoosh's analysis of the one-term fields (ID, numbers, dates) was 14%
        of the time spent pooling 5,000 poems' postings (profiled); most
        documents share these values with the previous ones.
        """
        if field.unique:  # a document's id: never repeats
            return field.index(value)
        key = (fieldname, value)
        found = self._term_cache.get(key)
        if found is None:
            if len(self._term_cache) >= _TERM_CACHE:
                self._term_cache.clear()
            found = self._term_cache[key] = list(field.index(value))
        return found

    def commit(self, mergetype=None, optimize=None, merge=None) -> None:
        """Whoosh's commit; optimize=True and merge=False keep their meaning.

        (Whoosh lets the writer's mergetype, searchkit's policy here, win over them.)
        """
        if mergetype is None and optimize:
            mergetype = OPTIMIZE
        elif mergetype is None and merge is False:
            mergetype = NO_MERGE
        super().commit(mergetype=mergetype, optimize=optimize, merge=merge)

    def finish_segment(self):
        """Write this writer's segment and return it for another writer's commit (None if empty).

        For a worker process: the parent commits every worker's segment in one
        table of contents (see parallel.py).
        """
        if self._added:
            return self._finalize_segment()
        self._close_segment()
        return None

    def add_reader(self, reader) -> None:
        """Whoosh's add_reader (merge a segment into this one), with exact field lengths.

        Whoosh copies each document's field lengths from the length column,
        which keeps them in one byte (exact only up to 10), and sums the
        copies into the segment's totals, from which BM25F takes the average
        field length: a merged segment scored its documents unlike the same
        documents indexed afresh. A document's exact length in a field is the
        sum of its postings' frequencies there, which merging reads anyway.
        """
        if not self._plain_schema:  # vectors or spelling to copy: Whoosh's own way
            return super().add_reader(reader)
        self._check_state()
        basedoc = self.docnum
        live = list(reader.all_doc_ids())
        docmap = {docnum: basedoc + i for i, docnum in enumerate(live)} if reader.has_deletions() else None
        lengths = self._pool_postings(reader, basedoc, docmap, len(live))
        self._write_docs(reader, live, lengths)
        self._added = True

    def _write_docs(self, reader, live: list[int], lengths: dict[str, list[int]]) -> None:
        """Whoosh's write_per_doc for the live documents of reader, given their exact lengths."""
        schema, perdocwriter = self.schema, self.perdocwriter
        fieldnames = sorted(set(schema.names()) | {
            name for name in reader.indexed_field_names() if name in schema})
        columns = {}
        for fieldname in fieldnames:
            column_type = schema[fieldname].column_type
            if column_type and reader.has_column(fieldname):
                column = reader.column_reader(fieldname, column_type)
                if isinstance(column, TranslatingColumnReader):
                    column = column.raw_column()
                columns[fieldname] = column
        for i, docnum in enumerate(live):
            stored = reader.stored_fields(docnum)
            perdocwriter.start_doc(self.docnum)
            for fieldname in fieldnames:
                field = schema[fieldname]
                length = lengths[fieldname][i] if fieldname in lengths else 0
                perdocwriter.add_field(fieldname, field, stored.get(fieldname), length)
                if length:
                    perdocwriter.add_column_value(exact_length_column(fieldname), EXACT_LENGTHS, length)
                if fieldname in columns:
                    perdocwriter.add_column_value(fieldname, field.column_type, columns[fieldname][docnum])
            perdocwriter.finish_doc()
            self.docnum += 1

    def _pool_postings(self, reader, basedoc: int, docmap: dict | None, count: int) -> dict[str, list[int]]:
        """Pool the live postings of reader term by term; return the exact lengths of its live documents.

        ``docmap`` maps reader's live docnums to this writer's (None: no
        deletions, docnums shifted by basedoc). The lengths are a list per
        scorable field, in the order of the live documents.
        """
        schema, pool = self.schema, self.pool
        lengths: dict[str, list[int]] = {}
        for fieldname, field_terms in groupby(_segment_postings(reader), key=itemgetter(0)):
            field = schema[fieldname]
            lengths_by_doc = [0] * count if field.scorable else None
            for _, btext, ids, values in field_terms:
                if docmap is None:
                    live = list(zip([docnum + basedoc for docnum in ids], values))
                else:
                    live = [(new, value) for new, value in zip(map(docmap.get, ids), values)
                            if new is not None]
                if not live:
                    continue
                pool.add_term(fieldname, btext, list(chain.from_iterable(live)))
                if lengths_by_doc is not None:  # scorable fields have positions
                    for new, value in live:
                        lengths_by_doc[new - basedoc] += len(value)
            if lengths_by_doc is not None:
                lengths[fieldname] = lengths_by_doc
        return lengths

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        self.fieldwriter.add_terms(self.schema, self.pool.iter_terms())
        self.fieldwriter.close()


class StagedCommit:
    """Whoosh's commit cut into steps, so that a caller can act between them.

    ``write_segments`` finishes the writer's segment, ``write_toc`` writes the
    new table of contents under a temporary name, ``rename_toc`` gives it its
    name, which makes the change live at once, and ``finish`` removes what the
    new table no longer uses. Until ``rename_toc``, ``cancel_quietly`` and the
    removal of the new files leave the index as it was.
    """

    def __init__(self, writer: SegmentWriter, segments: list) -> None:
        self.writer = writer
        self.segments = list(segments)  # finished by other writers (worker processes)
        self.final: list = []
        self._rename: tuple[str, str] | None = None

    def write_segments(self) -> None:
        """Merge small segments as Whoosh's commit would and finish the writer's own."""
        writer = self.writer
        writer._check_state()
        final = writer._merge_segments(None, None, True)
        if writer._added:
            final.append(writer._finalize_segment())
        else:
            writer._close_segment()
        self.final = final + self.segments

    def write_toc(self) -> None:
        """Write the table of contents of the new segments, under a temporary name."""
        writer = self.writer
        staging = _RenameLater(writer.storage)
        TOC(writer.schema, self.final, writer.generation).write(staging, writer.indexname)
        self._rename = staging.renamed

    def rename_toc(self) -> None:
        """Give the new table of contents its name: readers see the new segments from now on."""
        temporary, name = self._rename
        self.writer.storage.rename_file(temporary, name, safe=True)

    def toc_renamed(self) -> bool:
        """Whether the new table of contents has its name (after a failure, say)."""
        return self._rename is not None and self.writer.storage.file_exists(self._rename[1])

    def finish(self) -> None:
        """Remove files the new table of contents does not use; release the writer."""
        writer = self.writer
        clean_files(writer.storage, writer.indexname, writer.generation, self.final)
        _finish_quietly(writer)


def _segment_postings(reader) -> Iterator[tuple]:
    """(fieldname, term bytes, ids, values) of every term of a segment, in order.

    Deleted documents included (the merge maps docnums through its docmap).
    Values are positions as tuples (b"" for a field without positions), as
    the pool holds them; each list is read whole, chunk after chunk.
    """
    terms = reader._terms
    schema = reader.schema
    for fieldname in sorted(terms.indexed_field_names()):
        if fieldname not in schema:
            continue
        field_format = schema[fieldname].format
        positional = field_format.supports("positions")
        for btext in terms.field_terms(fieldname):
            ids, _, positions = terms.postings(fieldname, btext, positional)
            yield fieldname, btext, ids, positions if positional else [b""] * len(ids)


def exact_length_column(fieldname: str) -> str:
    """The name of the column of a field's exact document lengths."""
    return f"_{fieldname}_exactlen"


def deleted_docs(reader) -> list[int]:
    """The docnums of a segment's deleted documents, in order."""
    return sorted(reader._perdoc.deleted_docs())


def deleted_length(reader, fieldname: str) -> int | None:
    """The summed exact lengths in fieldname of a segment's deleted documents.

    None if the segment does not record exact lengths (it was written by an
    older searchkit); 0 if it has no deletions.
    """
    if not reader.has_deletions() or not reader.field_length(fieldname):
        return 0
    name = exact_length_column(fieldname)
    perdoc = reader._perdoc
    if not perdoc.has_column(name):
        return None
    column = perdoc.column_reader(name, EXACT_LENGTHS)
    return sum(column[docnum] for docnum in deleted_docs(reader))


def deleted_postings(reader, fieldname: str, btext: bytes, deleted: list[int], gone: frozenset) -> int:
    """How many of a segment's deleted documents have the term.

    ``deleted`` holds their docnums in order, ``gone`` the same as a set. Only
    the chunks of the posting list whose span of docnums holds a deleted
    document are decoded, and their ids intersected with the set.
    """
    try:
        chunks = reader._terms.chunks(fieldname, btext)
    except TermNotFound:
        return 0
    found, low = 0, -1
    for n, high in enumerate(chunks.last_ids):
        nearest = bisect.bisect_right(deleted, low)
        if nearest < len(deleted) and deleted[nearest] <= high:
            found += len(gone.intersection(chunks.chunk(n)[0]))
        low = high
    return found


def merge_policy(writer: SegmentWriter, segments: list) -> list:
    """Which segments a commit keeps: those with more than MAX_DELETED of their documents deleted are rewritten.

    Whoosh keeps a deleted document in its segment until the segment is
    merged, and its stock policy merges only small segments: an updated
    index kept old segments with almost every document deleted (a third
    larger than a clean build after a few updates). Rewriting a segment costs
    about half of indexing its documents afresh, so one is rewritten only
    when it has lost more than MAX_DELETED of its documents; the space kept by
    deleted documents stays below that fraction, and each deleted document
    costs at most 1/MAX_DELETED documents rewritten. (Search statistics
    leave deleted documents out whatever the layout: see ``deleted_length``
    and ``deleted_postings``.) Segments written before exact lengths were
    recorded are rewritten at their first deletion, fully deleted ones
    dropped, and small segments merged by Whoosh's policy.
    """
    from whoosh.reading import SegmentReader

    kept = []
    for segment in segments:
        deleted, count = segment.deleted_count(), segment.doc_count_all()
        if not deleted:
            kept.append(segment)
            continue
        if deleted == count:
            continue  # nothing left in it: dropped, not rewritten
        with SegmentReader(writer.storage, writer.schema, segment) as reader:
            if deleted > MAX_DELETED * count or not records_exact_lengths(reader):
                writer.add_reader(reader)
            else:
                kept.append(segment)
    return MERGE_SMALL(writer, kept)


def records_exact_lengths(reader) -> bool:
    """Whether the statistics of a segment's deleted documents can be left out exactly."""
    return all(deleted_length(reader, name) is not None
               for name, field in reader.schema.items() if field.scorable)


class _RenameLater:
    """A storage that records the one renaming asked of it instead of doing it."""

    def __init__(self, storage) -> None:
        self._storage = storage
        self.renamed: tuple[str, str] | None = None

    def rename_file(self, frm: str, to: str, safe: bool = False) -> None:
        self.renamed = (frm, to)

    def __getattr__(self, name):
        return getattr(self._storage, name)


def cancel_quietly(writer: SegmentWriter) -> None:
    """Abandon a writer in whatever state a failure left it; never raises.

    Whoosh's cancel() closes the segment's files, which writes their buffers:
    on a full disk it fails again, hiding the first error and keeping the
    index's write lock. Here every step is tried and its error dropped (the
    first error is the one to report); the caller removes the files.
    """
    if getattr(writer, "is_closed", True):
        return
    for part in (getattr(writer, "perdocwriter", None), getattr(writer, "fieldwriter", None)):
        if part is not None and not getattr(part, "is_closed", False):
            try:
                part.close()
            except Exception:  # noqa: BLE001 - already failing; see the docstring
                pass
    try:
        writer.pool.cleanup()
    except Exception:  # noqa: BLE001
        pass
    _finish_quietly(writer)


def _finish_quietly(writer: SegmentWriter) -> None:
    """Remove the writer's temporary directory and release its lock, ignoring errors."""
    try:
        writer._tempstorage.destroy()
    except Exception:  # noqa: BLE001 - a leftover directory is removed by the next run
        pass
    if writer.writelock:
        try:
            writer.writelock.release()
        except Exception:  # noqa: BLE001
            pass
    writer.is_closed = True
