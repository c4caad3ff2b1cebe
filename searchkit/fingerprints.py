"""Fingerprints of documents: sampled character shingles, for finding copies of a text.

A document's fingerprint is computed once, at index time, from its normalized
text (Simplified script, half-width), so a Traditional copy and a Simplified one
have the same fingerprint. Punctuation and white space are left out first, so a
copy with other line breaks or other quotes matches too. Every run of
``SHINGLE`` consecutive characters left is hashed to 32 bits; a hash is kept
(sampled) when it is below a threshold, ``2**32 >> rate``:

* the sample is *consistent*: a shingle two documents share is kept in both or
  in neither, so the share of one document's samples found in another's
  estimates how much of the first is contained in the second (containment),
  which a document that quotes another plus extra material needs, and
  Jaccard similarity, which one-to-one copies with small edits need;
* ``rate`` grows with the document's length (at least ``MIN_SAMPLES``
  samples, at most ``MAX_RATE`` halvings, 1 shingle in 16) so a short poem
  keeps enough samples to be judged and a long report stays small. Two
  fingerprints of different rates are compared at the stricter one: the
  samples of the looser are a superset of what the stricter would keep.
* the positions of the samples are kept, so the samples of a passage (the
  paragraphs where a query matched) can be compared on their own.

The ``SAMPLE_KEY_RATE`` samples and the smallest hashes of a document (a
bottom-k MinHash sketch, the same whatever the rate) are its keys for
locality-sensitive bucketing (see duplicates.py): documents sharing a key are
candidates, so no pair of documents is compared unless they share text.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

SHINGLE = 4
"""Characters per shingle. Chinese words are mostly two characters: four is
about two words, few enough that a one-character edit spoils only 4 shingles."""
MIN_SAMPLES = 24
"""Samples a document keeps at least (all its shingles when it has fewer)."""
MAX_RATE = 4
"""At most this many halvings of the sample: 1 shingle in 16 (a 3,000-character
article keeps about 190 samples, 1.1 KB)."""
SAMPLE_KEY_RATE = 5
"""Samples under this rate (1 shingle in 32) are bucketing keys in every document."""
SKETCH_KEYS = 4
"""The smallest hashes of a document are keys too (a bottom-k MinHash)."""
FORMAT = 1
_HEADER = struct.Struct("<BBBI")  # format, rate, wide positions, count
_BIG_ENDIAN = sys.byteorder == "big"
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class Fingerprint:
    """The sampled shingle hashes of one text, with the offset each shingle starts at."""

    rate: int
    hashes: array
    """uint32 hashes, in the order of their positions (a hash may repeat)."""
    positions: array
    """Offsets into the text (ascending), one a hash."""

    def between(self, start: int, end: int) -> array:
        """The hashes of the shingles that start in text[start:end]."""
        low = bisect_left(self.positions, start)
        high = bisect_left(self.positions, end, low)
        return self.hashes[low:high]

    def keys(self) -> set[int]:
        """The document's bucketing keys (see the module's docstring)."""
        limit = threshold(SAMPLE_KEY_RATE)
        unique = set(self.hashes)
        keys = {h for h in unique if h < limit}
        keys.update(sorted(unique)[:SKETCH_KEYS])
        return keys


def threshold(rate: int) -> int:
    """The bound under which a hash is kept at this rate."""
    return (1 << 32) >> rate


def sample_rate(shingles: int) -> int:
    """The rate for a text of this many shingles: at least MIN_SAMPLES kept, at most MAX_RATE."""
    rate = 0
    while rate < MAX_RATE and (shingles >> (rate + 1)) >= MIN_SAMPLES:
        rate += 1
    return rate


def _kept_characters(codes: np.ndarray) -> np.ndarray:
    """Where codes are letters or digits (Chinese, Latin...), not punctuation or spaces."""
    ascii_alnum = (((codes >= 48) & (codes <= 57)) | ((codes >= 65) & (codes <= 90))
                   | ((codes >= 97) & (codes <= 122)))
    latin = (codes >= 0xC0) & (codes < 0x2000) & (codes != 0xD7) & (codes != 0xF7)
    wide = (codes >= 0x3400) & ~((codes >= 0xFE10) & (codes < 0xFE70)) \
        & ~((codes >= 0xFF00) & (codes < 0xFF66)) & (codes != 0xFFFD)
    return ascii_alnum | latin | wide


def shingle_hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 hashes, int64 start offsets) of every shingle of text's letters and digits.

    Vectorized: 1 MB of Chinese text takes some milliseconds (see
    benchmarks/duplicates_cost.py), where a Python loop took 0.13 s.
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    where = np.flatnonzero(_kept_characters(codes))
    codes = codes[where]
    codes = np.where((codes >= 65) & (codes <= 90), codes | np.uint64(32), codes)  # ASCII lowercased
    count = len(codes) - SHINGLE + 1
    if len(codes) == 0:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    if count < 1:  # shorter than a shingle: the whole of it is one
        codes = np.concatenate([codes, np.zeros(SHINGLE - len(codes), np.uint64)])
        count = 1
    mixed = np.zeros(count, np.uint64)
    with np.errstate(over="ignore"):
        for i in range(SHINGLE):
            mixed = mixed * np.uint64(0x100000001B3) + codes[i:i + count]
        mixed = _splitmix(mixed)
    return (mixed >> np.uint64(32)).astype(np.uint32), where[:count].astype(np.int64)


def _splitmix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every input bit moves about half the output bits."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def fingerprint_bytes(text: str) -> bytes:
    """The encoded fingerprint of a (normalized) text, as the index stores it."""
    hashes, positions = shingle_hashes(text)
    rate = sample_rate(len(hashes))
    kept = hashes < threshold(rate)
    hashes, positions = hashes[kept], positions[kept]
    gaps = np.diff(positions, prepend=0)
    wide = bool(len(gaps)) and int(gaps.max()) > 0xFFFF
    return (_HEADER.pack(FORMAT, rate, wide, len(hashes)) + hashes.astype("<u4").tobytes()
            + gaps.astype("<u4" if wide else "<u2").tobytes())


def decode(data: bytes) -> Fingerprint | None:
    """The fingerprint data encodes; None for none (a document indexed without one)."""
    if len(data) < _HEADER.size:
        return None
    version, rate, wide, count = _HEADER.unpack_from(data)
    if version != FORMAT:
        return None
    start = _HEADER.size
    hashes = array("I")
    hashes.frombytes(data[start:start + 4 * count])
    gaps = array("I" if wide else "H")
    gaps.frombytes(data[start + 4 * count:start + (8 if wide else 6) * count])
    if _BIG_ENDIAN:
        hashes.byteswap()
        gaps.byteswap()
    return Fingerprint(rate, hashes, array("q", accumulate(gaps)))


def at_rate(hashes, rate: int) -> set[int]:
    """The distinct hashes of a sample that a sample at this (stricter) rate keeps."""
    limit = threshold(rate)
    return {h for h in hashes if h < limit}


def containment(part, part_rate: int, whole: Fingerprint, min_samples: int) -> float | None:
    """The share of part's shingles found in whole, or None when too few samples to tell.

    part is a sample of hashes (a whole fingerprint's, or a passage's) taken
    at part_rate; both are compared at the stricter of the two rates.
    """
    rate = max(part_rate, whole.rate)
    mine = at_rate(part, rate)
    if len(mine) < min_samples:
        return None
    theirs = at_rate(whole.hashes, rate)
    return len(mine & theirs) / len(mine)
