"""Writing Whoosh segments: the stock writer, with its costliest habits changed.

Whoosh pools every posting of a segment as a tuple, sorts them all, spills the
sorted pool to "run" files past a memory limit (one pickle call per posting)
and merges the runs posting by posting. ``TermPool`` instead groups postings
by term as documents arrive. Documents arrive in docnum order, so each term's
postings are already sorted: a spilled run is sorted by term only, and merging
runs joins each term's lists end to end.

When the segment is finished, ``FastFieldWriter`` writes each term's postings
a block at a time, encodes the short lists that live in the terms file
directly, and keeps the terms file's hash table in arrays instead of a tuple
per term. Posting data is pickled with the newest protocol, which stores
bytes as they are (protocol 2, Whoosh's, turns each into a function call
with a text argument: a third of a commit). Whoosh reads either; the index
holds the same postings as Whoosh's own writer would make.
"""

from __future__ import annotations

import bisect
import heapq
import pickle
import zlib
import struct
from array import array
from collections.abc import Iterable, Iterator
from hashlib import md5
from itertools import chain, groupby
from operator import itemgetter

from whoosh.columns import NumericColumn, TranslatingColumnReader
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3FieldWriter, W3PostingsWriter, W3TermInfo
from whoosh.filedb.filetables import OrderedHashWriter
from whoosh.index import TOC, clean_files
from whoosh.system import pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.reading import TermNotFound
from whoosh.util import random_name
from whoosh.writing import MERGE_SMALL, NO_MERGE, OPTIMIZE, SegmentWriter

from . import stored

# Postings per pickle call in a run file (a term's list is never split).
# Merging runs holds one chunk of each run in memory, so this bounds the
# merge's memory too: a field of a few thousand very common terms (single
# characters) would otherwise come back from every run at once.
RUN_CHUNK = 10_000
# Posting lists shorter than this are kept in the term's entry in the terms
# file, sparing a block (and its pickling and compression) for each rare term.
INLINE_LIMIT = 8
# What a pooled term and one more posting of a term cost in memory, roughly
# (dictionary slot, key, list; three list slots).
_TERM_BYTES = 200
_POSTING_BYTES = 40

# A segment is rewritten when more than this fraction of its documents are
# deleted (see merge_policy).
MAX_DELETED = 0.25
# Each document's length in each scorable field, exactly: Whoosh keeps it in
# one byte (exact only up to 10) and in a total per segment. BM25F's average
# field length over the live documents needs the lengths of the deleted ones.
EXACT_LENGTHS = NumericColumn("I", default=0)

# (fieldname, term bytes, [docnum, weight, value, docnum, weight, value, ...])
PooledTerm = tuple[str, bytes, list]


class FastCodec(W3Codec):
    """Whoosh's codec, without per-term field-length statistics, with a faster field writer.

    Those statistics only tighten the score bounds used to skip blocks while
    searching; collecting them reads a column value for every posting and was
    the largest single cost of a commit. Scores are unchanged.
    """

    length_stats = False

    def field_writer(self, storage, segment):
        return FastFieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):
        return FastPostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                                  compression=self._compression, inlinelimit=self._inlinelimit)

    # Stored fields in a compact record instead of a pickle (see stored.py).
    def per_document_writer(self, storage, segment):
        return stored.CompactPerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment):
        return stored.CompactPerDocReader(storage, segment)


def make_codec() -> W3Codec:
    """The codec searchkit writes segments with."""
    return FastCodec(inlinelimit=INLINE_LIMIT)


class TermPool:
    """The postings of a segment being written, grouped by field and term.

    A term's postings are one flat list, ``[docnum, weight, value, ...]``, in
    the order they were added, which is docnum order: documents are added in
    docnum order, and a merged segment's postings come term by term, in
    docnum order, after every document already added.
    """

    def __init__(self, tempstore, limitmb: float = 128) -> None:
        self.tempstore = tempstore
        self.limit = limitmb * 1024 * 1024
        self.size = 0
        self.fields: dict[str, dict[bytes, list]] = {}
        self.runs: list[str] = []

    def add_field(self, fieldname: str, docnum: int, items: Iterable[tuple], boost: float = 1.0) -> int:
        """Pool a document's ``(term bytes, freq, weight, value)`` items for a field; return the sum of freqs."""
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        length = size = 0
        for btext, freq, weight, value in items:
            if boost != 1.0:
                weight *= boost
            length += freq
            postings = terms.get(btext)
            if postings is None:
                terms[btext] = [docnum, weight, value]
                size += _TERM_BYTES + len(btext)
            else:
                postings += (docnum, weight, value)
                size += _POSTING_BYTES
            if freq > 1:  # one position's encoding is a shared object (see schema.py)
                size += len(value) + 33
        self.size += size
        if self.size > self.limit:
            self.spill()
        return length

    def add_term(self, fieldname: str, btext: bytes, postings: list) -> None:
        """Pool a term's postings ``[docnum, weight, value, ...]``, after any it already has."""
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        pooled = terms.get(btext)
        if pooled is None:
            terms[btext] = postings
            self.size += _TERM_BYTES + len(btext)
        else:
            pooled += postings
        # Values read back from a segment are each their own bytes object.
        self.size += (_POSTING_BYTES + 33) * (len(postings) // 3) + sum(map(len, postings[2::3]))
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
                if items >= 3 * RUN_CHUNK:
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

    def iter_postings(self) -> Iterator[tuple]:
        """Every pooled posting as Whoosh's ``(fieldname, term bytes, docnum, weight, value)``, sorted."""
        for fieldname, btext, postings in self.iter_terms():
            for i in range(0, len(postings), 3):
                yield fieldname, btext, postings[i], postings[i + 1], postings[i + 2]

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


class CompactOrderedHashWriter(OrderedHashWriter):
    """Whoosh's terms-file writer, keeping its hash entries in arrays.

    The stock writer keeps a tuple per term until the file is closed: on a
    segment of millions of terms, hundreds of megabytes.
    """

    _pair = struct.Struct("!Iq")

    def __init__(self, dbfile) -> None:
        super().__init__(dbfile)  # hash type 0: md5
        self.buckets = [(array("I"), array("q")) for _ in range(256)]
        self._end: int | None = None  # where the next entry goes, once known

    def add(self, key: bytes, value: bytes) -> None:
        if key <= self.lastkey:
            raise ValueError(f"Keys must increase: {self.lastkey!r}..{key!r}")
        pos = self._end
        if pos is None:
            pos = self.dbfile.tell()
        entry = _LENGTHS.pack(len(key), len(value)) + key + value
        self.dbfile.file.write(entry)
        self._end = pos + len(entry)
        self.index.append(pos)
        hashval = int.from_bytes(md5(key).digest()[-4:], "big")  # Whoosh's md5_hash, faster
        hashes, positions = self.buckets[hashval & 255]
        hashes.append(hashval)
        positions.append(pos)
        self.lastkey = key

    def _write_hashes(self) -> None:
        # Whoosh's open-addressing tables, slot for slot: a bucket of n entries
        # gets 2n slots; an entry goes to its slot or the next free one.
        dbfile = self.dbfile
        pair = self._pair.pack
        for hashes, positions in self.buckets:
            numslots = 2 * len(hashes)
            self.directory.append((dbfile.tell(), numslots))
            table_hashes = [0] * numslots
            table_positions = [0] * numslots
            for hashval, position in zip(hashes, positions):
                slot = (hashval >> 8) % numslots
                while table_positions[slot]:  # no key starts at 0, after the header
                    slot = (slot + 1) % numslots
                table_hashes[slot] = hashval
                table_positions[slot] = position
            dbfile.write(b"".join(pair(h, p) for h, p in zip(table_hashes, table_positions)))


_LENGTHS = struct.Struct("!ii")
_TERMINFO = W3TermInfo._struct


class _TermInfo(W3TermInfo):
    # Whoosh's postings writer calls set_inline(), which its term info class
    # spells set_inlined(), so posting lists could never be inlined.
    set_inline = W3TermInfo.set_inlined


class FastFieldWriter(W3FieldWriter):
    """Writes a segment's postings term by term, a block at a time."""

    def __init__(self, codec, storage, segment) -> None:
        # W3FieldWriter.__init__, with the compact terms-file writer.
        self._codec, self._storage, self._segment = codec, storage, segment
        self._fieldname = self._fieldid = self._btext = self._fieldobj = self._format = None
        self._tindex = CompactOrderedHashWriter(self._create_file(W3Codec.TERMS_EXT))
        self._fieldmap = self._tindex.extras["fieldmap"] = {}
        self._postfile = self._create_file(W3Codec.POSTS_EXT)
        self._postwriter = None
        self._infield = False
        self.is_closed = False

    def add_terms(self, schema, terms: Iterable[PooledTerm]) -> None:
        """Write pooled terms, sorted by field and term, with their postings."""
        for fieldname, field_terms in groupby(terms, key=itemgetter(0)):
            self.start_field(fieldname, schema[fieldname])
            inline_below = 3 * self._postwriter._inlinelimit
            field_prefix = pack_ushort(self._fieldid)
            add_entry = self._tindex.add
            for _, btext, postings in field_terms:
                if len(postings) < inline_below:
                    add_entry(field_prefix + btext, _inlined_terminfo(postings))
                else:
                    self.start_term(btext)
                    self._add_term(postings)
                    self.finish_term()
            self.finish_field()

    def start_term(self, btext) -> None:
        self._btext = btext
        self._postwriter.start_postings(self._fieldobj.format, _TermInfo())

    def _add_term(self, postings: list) -> None:
        # What W3PostingsWriter.add_posting does per posting, a block at a time:
        # a full block is written when the next posting arrives, empty values
        # are not kept, the block remembers its largest weight.
        writer = self._postwriter
        step = 3 * writer._blocklimit
        for start in range(0, len(postings), step):
            if start:
                writer._write_block()
            block = postings[start : start + step]
            weights = block[1::3]
            writer._ids.extend(block[0::3])
            writer._weights.extend(weights)
            writer._values.extend(value for value in block[2::3] if value)
            writer._maxweight = max(writer._maxweight, max(weights))


def _inlined_terminfo(postings: list) -> bytes:
    """The terms-file entry of a short posting list, as W3TermInfo.to_bytes writes it inlined."""
    if len(postings) == 3:  # most terms of a segment are in one document
        docnum, raw_weight, value = postings
        weight = array("f", (raw_weight,))[0]
        header = _TERMINFO.pack(1, weight, 1, 0, 0, max(0, raw_weight), docnum, docnum)
        return header + pickle.dumps(((docnum,), (weight,), (value,) if value else ()),
                                     pickle.HIGHEST_PROTOCOL)
    ids = postings[0::3]
    raw_weights = postings[1::3]
    weights = array("f", raw_weights)  # the postings writer keeps weights as floats
    values = tuple(value for value in postings[2::3] if value)
    # flags (inlined), total weight, doc freq, min/max length bytes (no
    # length statistics), max weight, first and last docnum; then the postings.
    header = _TERMINFO.pack(1, sum(weights), len(ids), 0, 0, max(0, *raw_weights), ids[0], ids[-1])
    return header + pickle.dumps((tuple(ids), tuple(weights), values), pickle.HIGHEST_PROTOCOL)


class FastPostingsWriter(W3PostingsWriter):
    """Whoosh's postings writer, pickling block data with the newest protocol."""

    def _write_block(self, last: bool = False) -> None:
        # W3PostingsWriter._write_block, but for the pickle protocol.
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        data = (self._mini_ids(), self._mini_weights(), self._mini_values())
        databytes = pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
        compression = self._compression
        if compression:  # Whoosh compresses even the smallest blocks
            databytes = zlib.compress(databytes, compression)
        ids = self._ids
        infobytes = pickle.dumps((len(ids), ids[-1], self._maxweight, compression,
                                  length_to_byte(self._minlength), length_to_byte(self._maxlength)), 2)
        blocklength = len(infobytes) + len(databytes)
        self._postfile.write_int(-blocklength if last else blocklength)
        self._postfile.write(infobytes)
        self._postfile.write(databytes)
        self._blockcount += 1
        self._new_block()


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
        self.pool = TermPool(self._tempstorage, limitmb=kwargs.get("limitmb", 128))
        self._plain_schema = not any(field.separate_spelling() or field.vector
                                     for _, field in self.schema.items())
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
                length = self.pool.add_field(fieldname, docnum, field.index(value), boost)
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
            weights_by_doc = [0.0] * count if field.scorable else None
            for _, btext, ids, weights, values in field_terms:
                if docmap is None:
                    live = list(zip([docnum + basedoc for docnum in ids], weights, values))
                else:
                    live = [(new, weight, value) for new, weight, value
                            in zip(map(docmap.get, ids), weights, values) if new is not None]
                if not live:
                    continue
                pool.add_term(fieldname, btext, list(chain.from_iterable(live)))
                if weights_by_doc is not None:
                    for new, weight, _ in live:
                        weights_by_doc[new - basedoc] += weight
            if weights_by_doc is not None:
                # Weights are frequencies times the field boost: whole numbers
                # times 1 or 3, summed exactly in a float.
                boost = field.format.field_boost
                lengths[fieldname] = [round(weight / boost) for weight in weights_by_doc]
        return lengths

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        if isinstance(self.fieldwriter, FastFieldWriter):
            self.fieldwriter.add_terms(self.schema, self.pool.iter_terms())
        else:  # another codec: Whoosh's posting by posting interface
            pdr = self.per_document_reader() if self.codec.length_stats else None
            self.fieldwriter.add_postings(self.schema, pdr, self.pool.iter_postings())
            if pdr:
                pdr.close()
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
    """(fieldname, term bytes, ids, weights, values) of every term of a segment, in order.

    Deleted documents included (the merge maps docnums through its docmap).
    Whoosh's ``reader.iter_postings`` looks every term up in the hash table,
    filters each posting list through a set of the deleted documents built
    anew for it, and steps a matcher posting by posting; this reads the
    terms file in order and each posting block whole (a merge of 2,000
    poems read its postings in 8.5 s that way).
    """
    terms = reader._terms
    schema = reader.schema
    for (fieldname, btext), info in terms.items():
        if fieldname not in schema:
            continue
        if info.is_inlined():
            ids, weights, values = info.inlined_postings()
        else:
            matcher = terms._codec.postings_reader(terms._postfile, info, schema[fieldname].format)
            ids, weights, values = [], [], []
            while matcher.is_active():
                matcher._read_ids()
                matcher._read_weights()
                matcher._read_values()
                ids.extend(matcher._ids)
                weights.extend(matcher._weights)
                values.extend(matcher._values)
                matcher._next_block()
        if not values or values[0] is None:  # a format without values
            values = [b""] * len(ids)
        yield fieldname, btext, ids, weights, values


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
    the posting blocks whose span of docnums holds a deleted document are
    decoded, and their ids intersected with the set.
    """
    terms = reader._terms
    try:
        info = terms.term_info(fieldname, btext)
    except TermNotFound:
        return 0
    if info.is_inlined():
        return len(gone.intersection(info.inlined_postings()[0]))
    matcher = terms._codec.postings_reader(terms._postfile, info, reader.schema[fieldname].format)
    found, low = 0, -1
    while matcher.is_active():
        high = matcher.block_max_id()
        nearest = bisect.bisect_right(deleted, low)
        if nearest < len(deleted) and deleted[nearest] <= high:
            matcher._read_ids()
            found += len(gone.intersection(matcher._ids))
        low = high
        matcher._next_block()
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
