"""A compact encoding of a document's stored fields, and Whoosh's per-document writer/reader using it.

Whoosh stores each document's fields as a pickled dict, compressed with zlib
(``W3Codec``'s ``_stored`` column): 9.4 MB for 20,000 poems whose JSON is
6.9 MB. Most of that is the text twice: ``content`` (normalized, Simplified)
and ``original`` (the text in its own script, stored when it differs).
Normalizing never changes a text's length (see normalize.py), so ``original``
is kept here as its differences from ``content``.

A record (``encode``) holds:

* a varint mask of the fields present, in ``_FIELDS`` order, plus flags:
  ``original`` kept as differences or whole, and a pickle of other fields;
* each field present: a string as varint byte length and UTF-16 bytes (two
  bytes a Chinese character where UTF-8 takes three: 8% smaller after
  deflate on the poems), an integer as a varint, a date as varint day and
  microsecond of the day, a dict of strings (``meta``) as a varint count of
  key and value strings;
* ``original`` as differences: its UTF-16 XOR content's, as many bytes as
  content's UTF-16 and zero wherever they agree (deflate makes little of
  those zeros): a Traditional text costs its characters that differ. (As
  runs of differing characters, the poems took as many bytes, and decoded
  1.6 times slower.) An ``original`` of another UTF-16 length is kept whole;
* ``original_title`` (the title in its own script, stored when it differs) the
  same way, as its differences from ``title`` (on the first 20,000 poems, whose
  titles mostly differ: 96 kB more in blocks, where a pickled field took 447 kB);
  of another length, it is pickled with the other fields;
* other fields, and a field's value of another type, pickled.

Records are deflated together in blocks of consecutive documents (at least
``BLOCK_BYTES`` of records, at most ``BLOCK_DOCS`` records), after an array
of their lengths (see ``pack_block``): what documents repeat (the path, the source,
an author, id prefixes, common words) is then stored about once a block.
The ``_stored`` column's value for a block's first document is the byte
``_BLOCK`` and the raw deflate stream (the index's integrity checks cover
the file); each other document's value is one byte, its place in the block.
On the first 20,000 poems (benchmarks in the commit message), stored as
Whoosh does: 9.44 MB, 13 us to read a document at random; as records deflated
one by one: 6.45 MB; in blocks of 1, 2, 4 and 8 KB: 5.02, 4.58, 4.25 and
4.03 MB, 21, 28, 37 and 41 us (a block is decompressed only up to the record
read, see ``_Block``). The reader keeps the last block it read.

``decode`` returns exactly the dict that was encoded, keys in sorted order
(as Whoosh adds them). Indexes stored Whoosh's way are of an earlier schema
version, refused with a rebuild hint before anything is read.
"""

from __future__ import annotations

import datetime as dt
import pickle
import sys
import threading
from codecs import utf_16_le_decode as _utf16_decode
import zlib
from array import array
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3PerDocReader, W3PerDocWriter
from whoosh.columns import VarBytesColumn

# Fields of a known type, encoded without pickle: (name, kind). A value of
# another type (a negative number, a date with a time zone...) is pickled.
_FIELDS = (("content", str), ("date", dt.datetime), ("id", str), ("meta", dict),
           ("offset", int), ("passage", int), ("path", str), ("source", str), ("title", str),
           ("url", str))
_FIELD_BITS = tuple((1 << bit, name, kind) for bit, (name, kind) in enumerate(_FIELDS))
_ORIGINAL = "original"
_ORIGINAL_TITLE = "original_title"
_TITLE_BIT = 1 << [name for name, _ in _FIELDS].index("title")
_DIFF_FLAG = 1 << len(_FIELDS)  # original is kept as differences from content
_PLAIN_FLAG = _DIFF_FLAG << 1  # original is kept whole (another length than content)
_REST_FLAG = _DIFF_FLAG << 2  # a pickle of the other fields follows
_TITLE_DIFF_FLAG = _DIFF_FLAG << 3  # original_title is kept as differences from title
_BLOCK = 0  # the first byte of a block's first document's value
_LEVEL = 6  # level 9 saved nothing measurable on the poems
BLOCK_BYTES = 8192
"""A block is compressed once its records hold this many bytes (or BLOCK_DOCS records)."""
BLOCK_DOCS = 64
_HEADER_BYTES = 1 + 2 + 4 * BLOCK_DOCS  # the most a block's table of lengths takes


STORED_COLUMN = VarBytesColumn()
"""The column of encoded records (named ``_stored``, as Whoosh's is)."""


def encode(fields: dict[str, Any]) -> bytes:
    """The record of a document's stored fields."""
    body = bytearray()
    mask = 0
    rest = {}
    content = fields.get("content")
    for bit, (name, kind) in enumerate(_FIELDS):
        value = fields.get(name)
        if value is None:
            if name in fields:
                rest[name] = value
            continue
        if not _encodable(value, kind):
            rest[name] = value
            continue
        mask |= 1 << bit
        _PUT[kind](body, value)
    original = fields.get(_ORIGINAL)
    if type(original) is str:
        encoded = _utf16(original)
        if type(content) is str and len(encoded) == len(content_encoded := _utf16(content)):
            mask |= _DIFF_FLAG
            _put_differences(body, encoded, content_encoded)
        else:
            mask |= _PLAIN_FLAG
            _put_text(body, original)
    elif _ORIGINAL in fields:
        rest[_ORIGINAL] = original
    known = {name for name, _ in _FIELDS} | {_ORIGINAL}
    original_title = fields.get(_ORIGINAL_TITLE)
    if type(original_title) is str and mask & _TITLE_BIT:
        encoded, title_encoded = _utf16(original_title), _utf16(fields["title"])
        if len(encoded) == len(title_encoded):
            mask |= _TITLE_DIFF_FLAG
            _put_differences(body, encoded, title_encoded)
            known.add(_ORIGINAL_TITLE)
    rest.update((name, value) for name, value in fields.items() if name not in known)
    if rest:
        mask |= _REST_FLAG
        body += pickle.dumps(rest, protocol=pickle.HIGHEST_PROTOCOL)
    head = bytearray()
    _put_varint(head, mask)
    return bytes(head + body)


def decode(body: bytes) -> dict[str, Any]:
    """The stored fields a record holds (see ``encode``)."""
    if not body:
        return {}
    mask, pos = _get_varint(body, 0)
    fields: dict[str, Any] = {}
    for bit, name, kind in _FIELD_BITS:
        if mask & bit:
            if kind is str:  # most fields: inlined, decoding is a third of reading a document
                length = body[pos]
                if length < 0x80:
                    pos += 1
                else:
                    length, pos = _get_varint(body, pos)
                end = pos + length
                if end > len(body):
                    raise ValueError("stored record is truncated")
                fields[name] = _utf16_decode(body[pos:end], "surrogatepass", True)[0]
                pos = end
            else:
                fields[name], pos = _GET[kind](body, pos)
    if mask & _DIFF_FLAG:
        fields[_ORIGINAL], pos = _get_differences(body, pos, fields["content"])
    elif mask & _PLAIN_FLAG:
        fields[_ORIGINAL], pos = _get_text(body, pos)
    if mask & _TITLE_DIFF_FLAG:
        fields[_ORIGINAL_TITLE], pos = _get_differences(body, pos, fields["title"])
    if mask & _REST_FLAG:
        fields.update(pickle.loads(body[pos:]))
    elif pos != len(body):
        raise ValueError("stored record has trailing bytes")
    return dict(sorted(fields.items()))


def _put_varint(out: bytearray, number: int) -> None:
    while number >= 0x80:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    number = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        number |= (byte & 0x7F) << shift
        if byte < 0x80:
            return number, pos
        shift += 7


def _put_text(out: bytearray, text: str) -> None:
    data = _utf16(text)
    _put_varint(out, len(data))
    out += data


def _get_text(data: bytes, pos: int) -> tuple[str, int]:
    length, pos = _get_varint(data, pos)
    end = pos + length
    if end > len(data):
        raise ValueError("stored record is truncated")
    return _utf16_decode(data[pos:end], "surrogatepass", True)[0], end


def _encodable(value: Any, kind: type) -> bool:
    """Whether value is of the exact kind its field's encoding round-trips."""
    if type(value) is not kind:
        return False
    if kind is int:
        return value >= 0
    if kind is dt.datetime:
        return value.tzinfo is None and value.fold == 0
    if kind is dict:
        return all(type(key) is str and type(item) is str for key, item in value.items())
    return True


def _put_date(out: bytearray, value: dt.datetime) -> None:
    _put_varint(out, value.toordinal())
    _put_varint(out, (value.hour * 3600 + value.minute * 60 + value.second) * 1_000_000
                + value.microsecond)


def _get_date(data: bytes, pos: int) -> tuple[dt.datetime, int]:
    day, pos = _get_varint(data, pos)
    microseconds, pos = _get_varint(data, pos)
    return dt.datetime.fromordinal(day) + dt.timedelta(microseconds=microseconds), pos


def _put_strings(out: bytearray, value: dict[str, str]) -> None:
    _put_varint(out, len(value))
    for key, item in value.items():
        _put_text(out, key)
        _put_text(out, item)


def _get_strings(data: bytes, pos: int) -> tuple[dict[str, str], int]:
    count, pos = _get_varint(data, pos)
    value = {}
    for _ in range(count):
        key, pos = _get_text(data, pos)
        value[key], pos = _get_text(data, pos)
    return value, pos


_PUT = {str: _put_text, int: _put_varint, dt.datetime: _put_date, dict: _put_strings}
_GET = {str: _get_text, int: _get_varint, dt.datetime: _get_date, dict: _get_strings}


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _put_differences(out: bytearray, original: bytes, content: bytes) -> None:
    """original XOR content, both UTF-16 of the same length: zero where they agree."""
    number = int.from_bytes(original, "little") ^ int.from_bytes(content, "little")
    out += number.to_bytes(len(content), "little")


def _get_differences(data: bytes, pos: int, content: str) -> tuple[str, int]:
    encoded = _utf16(content)
    end = pos + len(encoded)
    if end > len(data):
        raise ValueError("stored record is truncated")
    number = int.from_bytes(encoded, "little") ^ int.from_bytes(data[pos:end], "little")
    return _utf16_decode(number.to_bytes(len(encoded), "little"), "surrogatepass", True)[0], end


def pack_block(bodies: list[bytes]) -> bytes:
    """The column value of a block's first document: the records, deflated together.

    The deflated data: the type code of an array of the records' lengths
    ("H" or "I", little-endian), their count (varint), the array, the records.
    """
    lengths = array("H" if max(map(len, bodies)) < 1 << 16 else "I", map(len, bodies))
    if sys.byteorder != "little":
        lengths.byteswap()
    data = bytearray(lengths.typecode.encode("ascii"))
    _put_varint(data, len(lengths))
    data += lengths.tobytes()
    data += b"".join(bodies)
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
    return bytes((_BLOCK,)) + compressor.compress(bytes(data)) + compressor.flush()


class _Block:
    """A block's records (see ``pack_block``), decompressed only as far as a record asked for.

    A document is on average halfway through its block: stopping there halves
    the decompression a random read pays (52 to 37 us a poem in 4 KB blocks,
    79 to 41 us in 8 KB blocks).
    """

    def __init__(self, value: bytes) -> None:
        if not value or value[0] != _BLOCK:
            raise ValueError("a stored block is missing")
        self._inflater = zlib.decompressobj(-15)
        self._lock = threading.Lock()
        self._data = self._inflater.decompress(memoryview(value)[1:], _HEADER_BYTES)
        data = self._data
        lengths = array(chr(data[0]))
        count, pos = _get_varint(data, 1)
        self._base = pos + count * lengths.itemsize
        self._more(self._base)
        lengths.frombytes(self._data[pos : self._base])
        if sys.byteorder != "little":
            lengths.byteswap()
        self._ends = list(accumulate(lengths, initial=0))

    def _more(self, size: int) -> None:
        """Decompress until the data holds size bytes.

        The inflater may hold output it had no room for even when all the
        input is consumed (the rest of a long match): an empty unconsumed
        tail does not mean the block ends, only no output does. (A manual
        page whose path was a few characters longer or shorter was read
        as truncated: its search printed a traceback.)
        """
        while len(self._data) < size:
            more = self._inflater.decompress(self._inflater.unconsumed_tail, size - len(self._data))
            if not more:
                raise ValueError("a stored block is truncated")
            self._data += more

    def record(self, index: int) -> bytes:
        """The index-th record of the block."""
        start, end = self._base + self._ends[index], self._base + self._ends[index + 1]
        if len(self._data) < end:
            with self._lock:
                self._more(end)
        return self._data[start:end]


class CompactPerDocWriter(W3PerDocWriter):
    """Whoosh's per-document writer, storing documents' fields in blocks of ``encode``d records."""

    def __init__(self, codec, storage, segment) -> None:
        super().__init__(codec, storage, segment)
        # Replace the pickled column Whoosh's constructor created (no value written yet).
        self._colwriters.pop("_stored")
        self._create_column("_stored", STORED_COLUMN)
        self._bodies: list[bytes] = []
        self._block_bytes = 0
        self._block_start = 0

    def finish_doc(self) -> None:
        if not self._indoc:  # Whoosh's close() calls it again
            return
        stored = self._storedfields
        body = encode(stored) if stored else b""
        stored.clear()
        if not self._bodies:
            self._block_start = self._docnum
        self._bodies.append(body)
        self._block_bytes += len(body)
        if self._block_bytes >= BLOCK_BYTES or len(self._bodies) == BLOCK_DOCS:
            self._write_block()
        self._indoc = False

    def _write_block(self) -> None:
        if not self._bodies:
            return
        column, start = self._get_column("_stored"), self._block_start
        column.add(start, pack_block(self._bodies))
        for index in range(1, len(self._bodies)):
            column.add(start + index, bytes((index,)))
        self._bodies, self._block_bytes = [], 0

    def close(self) -> None:
        self.finish_doc()
        self._write_block()
        super().close()


class CompactPerDocReader(W3PerDocReader):
    """Whoosh's per-document reader, reading stored fields written by CompactPerDocWriter."""

    _last_block: tuple[int, _Block | None] = (-1, None)

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        column = self._cached_reader("_stored", STORED_COLUMN)
        value = column[docnum]
        if not value:
            return {}
        kind = value[0]
        start = docnum
        if kind != _BLOCK:
            if len(value) != 1 or kind >= BLOCK_DOCS:
                raise ValueError(f"unknown stored value for document {docnum}")
            start = docnum - kind
        cached_start, block = self._last_block  # one read: another thread may replace it
        if cached_start != start or block is None:
            block = _Block(value if start == docnum else column[start])
            self._last_block = (start, block)
        return decode(block.record(docnum - start))
