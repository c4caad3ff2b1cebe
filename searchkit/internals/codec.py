"""A compact on-disk format for a segment's terms and postings.

Whoosh's own format (W3) gives every term a record in a hash table (key,
two lengths, a hash slot, an index slot, a packed TermInfo) and pickles
each short posting list into it: 156 bytes per term on the poetry
benchmark, where most terms are bigrams found in one or two documents. Here
a field's terms are sorted and cut into blocks of BLOCK_TERMS terms; a
block holds its terms' keys, document frequencies and, for lists shorter
than INLINE_DOCS, the postings themselves, as a few integer arrays
compressed together. Longer lists go to the postings file in chunks of
CHUNK postings with a skip table of each chunk's last document. An index of
each block's first key is read when the segment is opened.

Integers are kept in arrays of the narrowest type that holds them
(``array.array`` with typecode B, H, I or Q) and compressed with zlib:
everything is encoded and decoded by C code, with no Python loop per
integer (a variable-length code would need one). Document numbers are
stored as gaps; positions as they are, within their document.

The postings say exactly what Whoosh's would: a posting's weight is its
frequency (1 without positions) times the field boost, as Whoosh's formats
compute it, so only frequencies are stored. The readers give Whoosh's
``TermInfo`` and ``Matcher`` interfaces; a matcher's ``value_as("positions")``
returns the positions without Whoosh's pickled encoding.
"""

from __future__ import annotations

import bisect
import marshal
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator
from itertools import accumulate, chain, groupby, islice
from operator import itemgetter, sub

from whoosh.codec.base import FieldWriter, TermsReader
from whoosh.codec.whoosh3 import W3Codec
from whoosh.matching import LeafMatcher, ReadTooFar
from whoosh.reading import TermInfo, TermNotFound

from . import stored

TERMS_EXT, POSTS_EXT = ".trm", ".pst"
MAGIC = b"SKC1"
# Terms per block of the terms file; a look-up decodes one block. On the first
# 5,000 poems the terms and postings files took 3.73 MB at 32 terms a block,
# 3.24 MB at 128 and 3.04 MB at 1,024, and a look-up in a block not yet
# decoded 16, 26 and 34 microseconds.
BLOCK_TERMS = 128
# Posting lists of fewer documents live in their term's block; longer ones in
# the postings file, where a term that is skipped through is read in parts.
# On the first 5,000 poems the terms and postings files took 3.68 MB at 8,
# 3.24 at 16 and 2.92 at 64, the commit and a look-up costing the same; the
# 20k-poem index went from 20.1 to 18.8 MB at 64, with the same query latency
# (benchmarks/latency_ab.py, 500 queries: median 1.66 against 1.71 ms).
INLINE_DOCS = 64
# Postings per chunk of a long list: the unit of decoding and of skipping.
CHUNK = 128
# zlib level: 6 (zlib's default) made the files 3% smaller than 1 and the
# commit 20% slower (same 5,000 poems).
LEVEL = 1
# How many decoded blocks a terms reader keeps (a few kilobytes each).
CACHED_BLOCKS = 2048

_TRAILER = struct.Struct("<Q4s")
_BIG_ENDIAN = sys.byteorder == "big"  # integers are stored little-endian
_U32 = struct.Struct("<I")


# --- integer arrays --------------------------------------------------------

def pack_ints(values) -> tuple[str, bytes]:
    """(typecode, bytes) of an array of non-negative integers, in the narrowest type.

    Wider types are stored as byte planes (every integer's lowest byte, then
    every second byte, ...): the high planes of small numbers are runs zlib
    all but removes. The terms and postings files of the first 20,000 poems
    went from 14.5 to 13.4 MB.
    """
    values = values if isinstance(values, (list, array)) else list(values)
    top = max(values, default=0)
    code = "B" if top < 1 << 8 else "H" if top < 1 << 16 else "I" if top < 1 << 32 else "Q"
    packed = array(code, values)
    if _BIG_ENDIAN:
        packed.byteswap()
    data = packed.tobytes()
    width = packed.itemsize
    if width > 1:
        data = b"".join(data[plane::width] for plane in range(width))
    return code, data


def unpack_ints(packed: tuple[str, bytes]) -> array:
    """The array that pack_ints packed."""
    code, data = packed
    unpacked = array(code)
    width = unpacked.itemsize
    if width > 1:
        count = len(data) // width
        interleaved = bytearray(len(data))
        for plane in range(width):
            interleaved[plane::width] = data[plane * count : (plane + 1) * count]
        data = interleaved
    unpacked.frombytes(data)
    if _BIG_ENDIAN:
        unpacked.byteswap()
    return unpacked


def ids_from_gaps(first: int, gaps) -> list[int]:
    """Document numbers from the first one and the gaps after it."""
    return list(accumulate(gaps, initial=first))


# --- writing ---------------------------------------------------------------

class CompactFieldWriter(FieldWriter):
    """Writes a segment's terms and postings (see the module docstring).

    Whoosh's term-by-term interface is not offered: the segment writer hands
    over every term at once, sorted, with its postings (``add_terms``).
    """

    def __init__(self, storage, segment) -> None:
        self._terms_file = storage.create_file(segment.make_filename(TERMS_EXT))
        self._posts_file = storage.create_file(segment.make_filename(POSTS_EXT))
        # Written through the raw files, offsets counted here: Whoosh's
        # StructFile.write and tell are a Python call each.
        self._terms = _Output(self._terms_file.file)
        self._posts = _Output(self._posts_file.file)
        self._terms.write(MAGIC)
        self._posts.write(MAGIC)
        self._index: dict[str, tuple] = {}
        self.is_closed = False

    def add_terms(self, schema, terms: Iterable[tuple]) -> None:
        """Write ``(fieldname, term, [docnum, value, ...])``, sorted by field and term.

        A term is bytes, or str for UTF-8. A value is the positions of the term
        in the document (an int for one, a list or tuple; ignored in a field
        without positions); a posting's weight is its frequency times the
        field boost.
        """
        for fieldname, field_terms in groupby(terms, key=itemgetter(0)):
            field_format = schema[fieldname].format
            positional = field_format.supports("positions")
            firsts, offsets = [], []
            posts_start = self._posts.at
            while True:
                batch = list(islice(field_terms, BLOCK_TERMS))
                if not batch:
                    break
                keys = [term.encode("utf-8") if type(term) is str else term for _, term, _ in batch]
                firsts.append(keys[0])
                offsets.append(self._terms.at)
                self._terms.write(_encode_block(keys, [postings for _, _, postings in batch],
                                                positional and field_format, self._posts))
            offsets.append(self._terms.at)
            self._index[fieldname] = (b"".join(firsts), pack_ints(map(len, firsts)), pack_ints(offsets),
                                      positional, field_format.field_boost, INLINE_DOCS,
                                      (posts_start, self._posts.at))

    def close(self) -> None:
        """Write the block index and close both files."""
        if self.is_closed:
            return
        self.is_closed = True
        try:
            at = self._terms.at
            self._terms.write(zlib.compress(marshal.dumps(self._index), LEVEL))
            self._terms.write(_TRAILER.pack(at, MAGIC))
        finally:  # a full disk: the files are still closed (the caller removes them)
            try:
                self._terms_file.close()
            finally:
                self._posts_file.close()


class _Output:
    """A raw file and the number of bytes written to it."""

    __slots__ = ("file", "at")

    def __init__(self, file) -> None:
        self.file = file
        self.at = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.at += len(data)


def _encode_block(keys: list[bytes], lists: list[list], positional, posts: _Output) -> bytes:
    """One block of terms: keys, document frequencies and the short lists, compressed together.

    ``positional`` is the field's format if it has positions, else False.
    Long lists are written to ``posts`` and the block keeps where.
    """
    dfs, firsts, gaps, freqs, positions, external = [], [], [], [], [], []
    for postings in lists:
        ids = postings[0::2]
        count = len(ids)
        dfs.append(count)
        firsts.append(ids[0])
        if positional:
            term_freqs, term_positions = _freqs_positions(postings[1::2], positional)
        if count < INLINE_DOCS:
            if count > 1:
                gaps += map(sub, islice(ids, 1, None), ids)
            if positional:
                freqs += term_freqs
                positions += term_positions
        elif positional:
            external += (posts.at, sum(term_freqs), max(term_freqs), ids[-1])
            posts.write(_encode_long_list(ids, term_freqs, term_positions))
        else:
            external += (posts.at, count, 1, ids[-1])
            posts.write(_encode_long_list(ids, None, ()))
    streams = (b"".join(keys), pack_ints(map(len, keys)), pack_ints(dfs), pack_ints(firsts),
               pack_ints(gaps), pack_ints(freqs), pack_ints(positions), pack_ints(external))
    data = zlib.compress(marshal.dumps(streams), LEVEL)
    return _U32.pack(len(data)) + data


def _freqs_positions(values: list, field_format) -> tuple[list[int], list[int]]:
    """Frequencies and positions, end to end, of the values of a term's postings."""
    if len(values) == 1 and type(values[0]) is int:  # most terms: one document, one position
        return [1], values
    kinds = set(map(type, values))
    if kinds == {int}:
        return [1] * len(values), values
    if bytes in kinds:  # Whoosh-encoded, from its own indexing
        decode = field_format.decode_positions
        values = [decode(value) if type(value) is bytes else value for value in values]
    values = [(value,) if type(value) is int else value for value in values]
    return list(map(len, values)), list(chain.from_iterable(values))


def _encode_long_list(ids: list[int], freqs: list[int] | None, positions: list[int]) -> bytes:
    """A long posting list: a skip table, then chunks of CHUNK postings."""
    chunks, last_ids, ends, most = [], [], [], []
    end = 0
    at = 0
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        previous = ids[start - 1] if start else 0
        gaps = pack_ints(map(sub, part, [previous, *part[:-1]]))
        if freqs is None:
            streams = (gaps,)
            most.append(1)
        else:
            chunk_freqs = freqs[start : start + CHUNK]
            count = sum(chunk_freqs)
            streams = (gaps, pack_ints(chunk_freqs), pack_ints(positions[at : at + count]))
            at += count
            most.append(max(chunk_freqs))
        data = zlib.compress(marshal.dumps(streams), LEVEL)
        chunks.append(data)
        end += len(data)
        last_ids.append(part[-1])
        ends.append(end)
    table = marshal.dumps((pack_ints(last_ids), pack_ints(ends), pack_ints(most)))
    return _U32.pack(len(table)) + table + b"".join(chunks)


# --- reading ---------------------------------------------------------------

class _FieldIndex:
    """A field's block index (each block's first key and where the blocks start), its kind and boost."""

    __slots__ = ("firsts", "offsets", "positional", "boost", "inline_docs", "posts_span")

    def __init__(self, keys: bytes, lengths, offsets, positional: bool, boost: float,
                 inline_docs: int, posts_span: tuple[int, int]) -> None:
        bounds = list(accumulate(unpack_ints(lengths), initial=0))
        self.firsts = [keys[a:b] for a, b in zip(bounds, bounds[1:])]
        self.offsets = unpack_ints(offsets)
        self.positional = positional
        self.boost = boost
        self.inline_docs = inline_docs  # lists of fewer documents are in their block
        self.posts_span = posts_span  # where the field's long lists are in the postings file


class _Block:
    """A decoded block: its terms and the postings of the short lists.

    Where a term's data starts in each stream is summed when it is asked for
    (sums over slices of at most BLOCK_TERMS numbers, in C): decoding a block
    does no work per term but splitting the keys.
    """

    __slots__ = ("_keys", "_bounds", "_streams", "_arrays", "dfs", "inline")

    def __init__(self, data: bytes, inline_docs: int) -> None:
        keys, lengths, dfs, *streams = marshal.loads(zlib.decompress(data))
        self._keys = keys
        self._bounds = list(accumulate(unpack_ints(lengths), initial=0))
        self._streams = streams  # firsts, gaps, freqs, positions, external: unpacked when asked for
        self._arrays: list[array | None] = [None] * len(streams)
        self.dfs = unpack_ints(dfs)
        # Each term's number of postings in this block: 0 for a long list.
        self.inline = [df if df < inline_docs else 0 for df in self.dfs]

    def _array(self, n: int) -> array:
        found = self._arrays[n]
        if found is None:
            found = self._arrays[n] = unpack_ints(self._streams[n])
        return found

    firsts = property(lambda self: self._array(0), doc="Each term's first document number.")
    gaps = property(lambda self: self._array(1), doc="Gaps between the documents of the short lists.")
    freqs = property(lambda self: self._array(2), doc="Frequencies of the short lists' postings.")
    positions = property(lambda self: self._array(3), doc="Positions of the short lists' postings.")
    external = property(lambda self: self._array(4), doc="Four numbers per long list (see external_entry).")

    @property
    def keys(self) -> list[bytes]:
        """The block's terms, in order."""
        keys, bounds = self._keys, self._bounds
        return [keys[a:b] for a, b in zip(bounds, bounds[1:])]

    def find(self, key: bytes) -> int | None:
        """The number of the term in this block, or None.

        A binary search slicing only the keys it compares: splitting all
        of them was 24 of the 62 microseconds a block took to decode.
        """
        keys, bounds = self._keys, self._bounds
        count = len(bounds) - 1
        i = bisect.bisect_left(range(count), key, key=lambda j: keys[bounds[j] : bounds[j + 1]])
        return i if i < count and keys[bounds[i] : bounds[i + 1]] == key else None

    def is_inline(self, i: int) -> bool:
        """Whether term i's postings are in this block."""
        return self.inline[i] != 0

    def _starts(self, i: int) -> tuple[int, int]:
        """Where term i's gaps and frequencies start."""
        before = self.inline[:i]
        postings = sum(before)
        return postings - (i - before.count(0)), postings

    def ids(self, i: int) -> list[int]:
        """The document numbers of term i's short list."""
        gap_start = self._starts(i)[0]
        return ids_from_gaps(self.firsts[i], self.gaps[gap_start : gap_start + self.inline[i] - 1])

    def freqs_of(self, i: int) -> array:
        """The frequencies of term i's short list (a field with positions)."""
        start = self._starts(i)[1]
        return self.freqs[start : start + self.inline[i]]

    def postings(self, i: int, positional: bool) -> tuple[list[int], list[int] | None, list[int] | None]:
        """(ids, freqs, positions end to end) of term i's short list."""
        gap_start, freq_start = self._starts(i)
        count = self.inline[i]
        ids = ids_from_gaps(self.firsts[i], self.gaps[gap_start : gap_start + count - 1])
        if not positional:
            return ids, None, None
        freqs = self.freqs[freq_start : freq_start + count].tolist()
        start = sum(self.freqs[:freq_start])
        return ids, freqs, self.positions[start : start + sum(freqs)].tolist()

    def external_entry(self, i: int) -> tuple[int, int, int, int]:
        """(offset in the postings file, total frequency, largest frequency, last id) of a long list."""
        j = 4 * self.inline[:i].count(0)
        return tuple(self.external[j : j + 4])


class CompactTermsReader(TermsReader):
    """Reads what CompactFieldWriter wrote; Whoosh's terms-reader interface."""

    def __init__(self, storage, segment) -> None:
        self._terms_file = storage.open_file(segment.make_filename(TERMS_EXT))
        self._posts_file = storage.open_file(segment.make_filename(POSTS_EXT))
        self._terms = _contents(self._terms_file)
        self._posts = _contents(self._posts_file)
        at, magic = _TRAILER.unpack_from(self._terms, len(self._terms) - _TRAILER.size)
        if magic != MAGIC or self._terms[:4] != MAGIC:
            raise ValueError(f"{segment.make_filename(TERMS_EXT)} is not a searchkit terms file")
        raw = marshal.loads(zlib.decompress(self._terms[at : len(self._terms) - _TRAILER.size]))
        self._fields = {name: _FieldIndex(*entry) for name, entry in raw.items()}
        self._blocks: dict[tuple[str, int], _Block] = {}

    # Whoosh's interface

    def __contains__(self, term) -> bool:
        return self._find(*term) is not None

    def indexed_field_names(self):
        return self._fields.keys()

    def terms(self) -> Iterator[tuple[str, bytes]]:
        for fieldname in sorted(self._fields):
            yield from ((fieldname, key) for key in self._field_keys(fieldname, 0))

    def terms_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[str, bytes]]:
        index = self._fields.get(fieldname)
        if index is None:
            return
        start = max(0, bisect.bisect_right(index.firsts, prefix) - 1)
        for key in self._field_keys(fieldname, start):
            if key >= prefix:
                yield fieldname, key

    def items(self):
        return ((term, self.term_info(*term)) for term in self.terms())

    def items_from(self, fieldname: str, prefix: bytes):
        return ((term, self.term_info(*term)) for term in self.terms_from(fieldname, prefix))

    def term_info(self, fieldname: str, tbytes: bytes) -> TermInfo:
        # No length statistics are kept (Whoosh's records written without
        # them say 0 too): the score bounds assume the shortest document.
        found = self._find(fieldname, tbytes)
        if found is None:
            raise TermNotFound((fieldname, tbytes))
        block, i = found
        boost = self._fields[fieldname].boost
        df = block.dfs[i]
        if not block.is_inline(i):
            _, total, most, last = block.external_entry(i)
        else:
            last = block.ids(i)[-1]
            if not self._fields[fieldname].positional:  # each posting has frequency 1
                total, most = df, 1
            else:
                freqs = block.freqs_of(i)
                total, most = sum(freqs), max(freqs)
        return TermInfo(weight=total * boost, df=df, minlength=0, maxlength=0,
                        maxweight=most * boost, minid=block.firsts[i], maxid=last)

    def frequency(self, fieldname: str, tbytes: bytes) -> float:
        return self.term_info(fieldname, tbytes).weight()

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        found = self._find(fieldname, tbytes)
        return found[0].dfs[found[1]] if found else 0

    def matcher(self, fieldname: str, tbytes: bytes, format_, scorer=None) -> "PostingMatcher":
        found = self._find(fieldname, tbytes)
        if found is None:
            raise TermNotFound((fieldname, tbytes))
        positional = format_.supports("positions")
        return PostingMatcher(self._chunks(found, positional), positional, format_, scorer,
                              (fieldname, tbytes))

    def chunks(self, fieldname: str, tbytes: bytes, positional: bool = False) -> "_Chunks":
        """A term's posting list as chunks with their skip table (ids only unless positional)."""
        found = self._find(fieldname, tbytes)
        if found is None:
            raise TermNotFound((fieldname, tbytes))
        return self._chunks(found, positional)

    def cursor(self, fieldname, fieldobj):
        raise NotImplementedError("searchkit's terms reader has no cursor; use terms_from")

    def close(self) -> None:
        self._blocks.clear()
        self._terms = self._posts = b""
        self._terms_file.close()
        self._posts_file.close()

    # searchkit's additions

    def postings(self, fieldname: str, tbytes: bytes, positional: bool):
        """(ids, freqs, positions as tuples) of a term, whole (freqs, positions None without positions)."""
        ids, freqs, positions = [], [], []
        for chunk in self.chunks(fieldname, tbytes, positional).decoded():
            ids += chunk[0]
            if positional:
                freqs += chunk[1]
                positions += chunk[2]
        if not positional:
            return ids, None, None
        bounds = list(accumulate(freqs, initial=0))
        return ids, freqs, [tuple(positions[a:b]) for a, b in zip(bounds, bounds[1:])]

    def field_sizes(self) -> dict[str, tuple[int, int, int]]:
        """Field -> (terms, bytes in the terms file, bytes in the postings file): where the bytes go."""
        sizes = {}
        for fieldname, index in self._fields.items():
            terms = sum(len(self._block(fieldname, n).dfs) for n in range(len(index.firsts)))
            start, end = index.posts_span
            sizes[fieldname] = (terms, index.offsets[-1] - index.offsets[0], end - start)
        return sizes

    def field_terms(self, fieldname: str) -> Iterator[bytes]:
        """Every term of a field, in order."""
        if fieldname in self._fields:
            yield from self._field_keys(fieldname, 0)

    # internals

    def _block(self, fieldname: str, n: int) -> _Block:
        key = (fieldname, n)
        block = self._blocks.get(key)
        if block is None:
            offsets = self._fields[fieldname].offsets
            start = offsets[n]
            (size,) = _U32.unpack_from(self._terms, start)
            block = _Block(self._terms[start + 4 : start + 4 + size], self._fields[fieldname].inline_docs)
            if len(self._blocks) >= CACHED_BLOCKS:  # forget the older half
                for old in list(islice(self._blocks, CACHED_BLOCKS // 2)):
                    del self._blocks[old]
            self._blocks[key] = block
        return block

    def _find(self, fieldname: str, tbytes: bytes) -> tuple[_Block, int] | None:
        index = self._fields.get(fieldname)
        if index is None:
            return None
        n = bisect.bisect_right(index.firsts, tbytes) - 1
        if n < 0:
            return None
        block = self._block(fieldname, n)
        i = block.find(tbytes)
        return None if i is None else (block, i)

    def _field_keys(self, fieldname: str, start: int) -> Iterator[bytes]:
        for n in range(start, len(self._fields[fieldname].firsts)):
            yield from self._block(fieldname, n).keys

    def _chunks(self, found: tuple[_Block, int], positional: bool) -> "_Chunks":
        block, i = found
        if block.is_inline(i):
            return _Chunks.inline(block.postings(i, positional))
        offset = block.external_entry(i)[0]
        return _Chunks.external(self._posts, offset, positional)


def _contents(structfile):
    """The bytes of a file opened by a Whoosh storage: its memory map, or read whole."""
    raw = structfile.file
    if hasattr(raw, "madvise") or isinstance(raw, (bytes, bytearray, memoryview)):
        return raw
    structfile.seek(0)
    return structfile.read()


class _Chunks:
    """The chunks of one posting list and their skip table."""

    __slots__ = ("last_ids", "most", "_data", "_starts", "_positional", "_decoded")

    @classmethod
    def inline(cls, decoded) -> "_Chunks":
        self = cls()
        ids, freqs, positions = decoded
        self.last_ids = [ids[-1]]
        self.most = [max(freqs) if freqs else 1]
        self._decoded = [decoded]
        self._data = None
        return self

    @classmethod
    def external(cls, posts, offset: int, positional: bool) -> "_Chunks":
        self = cls()
        (size,) = _U32.unpack_from(posts, offset)
        last_ids, ends, most = marshal.loads(posts[offset + 4 : offset + 4 + size])
        self.last_ids = unpack_ints(last_ids)
        self.most = unpack_ints(most)
        start = offset + 4 + size
        self._starts = [start, *(start + end for end in unpack_ints(ends))]
        self._data = posts
        self._positional = positional
        self._decoded = [None] * len(self.last_ids)
        return self

    def __len__(self) -> int:
        return len(self.last_ids)

    def chunk(self, n: int) -> tuple[list[int], list[int] | None, list[int] | None]:
        """(ids, freqs, positions) of chunk n, decoded once."""
        found = self._decoded[n]
        if found is None:
            streams = marshal.loads(zlib.decompress(self._data[self._starts[n] : self._starts[n + 1]]))
            first = self.last_ids[n - 1] if n else 0
            gaps = unpack_ints(streams[0])
            ids = list(accumulate(gaps, initial=first))[1:]
            if self._positional:
                found = (ids, unpack_ints(streams[1]).tolist(), unpack_ints(streams[2]).tolist())
            else:
                found = (ids, None, None)
            self._decoded[n] = found
        return found

    def decoded(self) -> Iterator[tuple]:
        return (self.chunk(n) for n in range(len(self)))


class PostingMatcher(LeafMatcher):
    """Whoosh's leaf matcher over a compact posting list, decoded a chunk at a time."""

    def __init__(self, chunks: _Chunks, positional: bool, format_, scorer, term) -> None:
        self._chunks = chunks
        self._positional = positional
        self.format = format_
        self.scorer = scorer
        self._term = term
        self._boost = format_.field_boost
        self._n = 0
        self._load(0)

    def _load(self, n: int) -> None:
        self._n = n
        self._i = 0
        if n < len(self._chunks):
            self._ids, self._freqs, self._positions = self._chunks.chunk(n)
            self._starts = None
        else:
            self._ids = ()

    def is_active(self) -> bool:
        return self._i < len(self._ids)

    def reset(self) -> None:
        self._load(0)

    def copy(self) -> "PostingMatcher":
        other = PostingMatcher(self._chunks, self._positional, self.format, self.scorer, self._term)
        other._load(self._n)
        other._i = self._i
        return other

    def id(self) -> int:
        return self._ids[self._i]

    def next(self) -> bool:
        if not self.is_active():
            raise ReadTooFar
        self._i += 1
        if self._i == len(self._ids) and self._n + 1 < len(self._chunks):
            self._load(self._n + 1)
            return True
        return False

    def skip_to(self, target: int) -> bool:
        if not self.is_active():
            raise ReadTooFar
        if target <= self._ids[self._i]:
            return False
        moved = False
        if target > self._chunks.last_ids[self._n]:
            n = bisect.bisect_left(self._chunks.last_ids, target, self._n + 1)
            self._load(n)
            moved = True
            if not self.is_active():
                return True
        self._i = bisect.bisect_left(self._ids, target, self._i)
        if self._i == len(self._ids):  # cannot happen within the right chunk; kept safe
            self._load(self._n + 1)
        return moved

    def all_ids(self) -> Iterator[int]:
        return chain.from_iterable(chunk[0] for chunk in self._chunks.decoded())

    def weight(self) -> float:
        if self._freqs is None:
            return self._boost
        return self._freqs[self._i] * self._boost

    def positions(self) -> list[int]:
        """The positions of the term in the current document."""
        if self._starts is None:
            self._starts = list(accumulate(self._freqs, initial=0))
        return self._positions[self._starts[self._i] : self._starts[self._i + 1]]

    def value_as(self, astype):
        if astype == "positions" and self._positional:
            return self.positions()
        return super().value_as(astype)

    def value(self) -> bytes | None:
        if not self._positional:
            return None  # as Whoosh's matchers of a format without values
        return self.format.encode(self.positions())  # rarely asked: Whoosh's encoding

    def supports(self, astype) -> bool:
        return astype in ("positions", "frequency", "weight") if self._positional else astype == "weight"

    def block_min_id(self) -> int:
        return self._ids[0]

    def block_max_id(self) -> int:
        return self._ids[-1]

    def block_max_weight(self) -> float:
        return self._chunks.most[self._n] * self._boost

    def block_min_length(self) -> int:
        return 0  # no length statistics (as Whoosh's records without them)

    def block_max_length(self) -> int:
        return 0

    def skip_to_quality(self, minquality: float) -> int:
        skipped = 0
        while self.is_active() and self.block_quality() <= minquality:
            self._load(self._n + 1)
            skipped += 1
        return skipped


class CompactCodec(W3Codec):
    """Whoosh's codec with searchkit's terms, postings and stored-document files; columns stay W3's."""

    length_stats = False

    def field_writer(self, storage, segment) -> CompactFieldWriter:
        return CompactFieldWriter(storage, segment)

    def terms_reader(self, storage, segment) -> CompactTermsReader:
        return CompactTermsReader(storage, segment)

    # Stored fields in compact records deflated in blocks (see stored.py).
    def per_document_writer(self, storage, segment):
        return stored.CompactPerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment):
        return stored.CompactPerDocReader(storage, segment)

    def postings_writer(self, dbfile, byteids=False):
        raise NotImplementedError("postings are written by CompactFieldWriter.add_terms")

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        raise NotImplementedError("postings are read by CompactTermsReader.matcher")
