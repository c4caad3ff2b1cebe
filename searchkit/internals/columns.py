"""Whole columns and posting lists read in one go, for counting over many documents.

Whoosh reads a column value by value (``column_reader(field)[docnum]``, about
a microsecond each through its readers) and a posting list with its
frequencies and positions. Counting the hits of a query by date and source
needs the values of tens of thousands of documents: these helpers read a
numeric column's bytes of each segment at once into an array, and a term's
document numbers without its positions.
"""

from __future__ import annotations

import sys
from array import array
from itertools import chain, filterfalse

from whoosh import columns
from whoosh.reading import TermNotFound

_LITTLE_ENDIAN = sys.byteorder == "little"  # Whoosh writes numeric columns big-endian


def unsigned_column(reader, fieldname: str) -> array:
    """Every document's value of an unsigned integer column, indexed by docnum.

    Deleted documents keep their slot (and value). For 100,000 documents the
    column of day numbers loads in well under a millisecond; Whoosh's own
    ``column_reader(...).load()`` steps it value by value (95 ms).
    """
    values: array | None = None
    for leaf, offset in reader.leaf_readers():
        column = leaf.column_reader(fieldname, translate=False)
        part = _segment_values(column, leaf.doc_count_all())
        if values is None:
            values = array(part.typecode)
        if len(values) < offset:  # cannot happen: leaves are consecutive; kept safe
            values.extend(array(part.typecode, [0]) * (offset - len(values)))
        values.extend(part)
    return values if values is not None else array("I")


def _segment_values(column, doccount: int) -> array:
    """One segment's column as an array of doccount values."""
    if isinstance(column, columns.EmptyColumnReader):
        return array("I", [column[0]]) * doccount
    if type(column) is columns.NumericColumn.Reader:
        code = column._typecode
        if code in "BHIL":
            values = array(code)
            values.frombytes(column._dbfile.get(column._basepos, column._count * column._fixedlen))
            if _LITTLE_ENDIAN and values.itemsize > 1:
                values.byteswap()
            if column._count < doccount:  # the writer leaves out trailing defaults
                values.extend(array(code, [column._default]) * (doccount - column._count))
            return values
    return array("Q", list(column))  # any other column: value by value (slow, correct)


def term_doc_ids(reader, fieldname: str, text: bytes) -> list[int]:
    """The docnums (ascending) of the live documents holding a term, positions not decoded.

    What ``reader.postings(fieldname, text).all_ids()`` gives, for a fraction
    of the time on a positional field (the common character 无 in 100,000
    poems: 28,254 documents).
    """
    found: list[int] = []
    for leaf, offset in reader.leaf_readers():
        try:
            chunks = leaf._terms.chunks(fieldname, text, positional=False)
        except (TermNotFound, AttributeError, KeyError):  # no such term (or not our codec)
            if fieldname in leaf.schema and (fieldname, text) in leaf:
                found.extend(offset + d for d in leaf.postings(fieldname, text).all_ids())
            continue
        ids = chain.from_iterable(chunk[0] for chunk in chunks.decoded())
        if leaf.has_deletions():
            ids = filterfalse(frozenset(leaf._perdoc.deleted_docs()).__contains__, ids)
        found.extend(map(offset.__add__, ids) if offset else ids)  # no Python-level loop
    return found
