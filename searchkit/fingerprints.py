"""Fingerprints of documents: sampled character shingles, for finding copies of a text.

A document's fingerprint is computed once, at index time, from its normalized
text (Simplified script, half-width), so a Traditional copy and a Simplified one
have the same fingerprint. Only Chinese characters and digits count: punctuation
and white space are left out, so a copy with other line breaks or other quotes
matches too, and so are Latin letters (see ``_kept_table``). Every run of
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
MIN_SAMPLES = 32
"""Samples a document keeps at least (all its shingles when it has fewer). On the
generated variants (with pages that shared filler, at threshold 0.7) recall was
0.951 with 24 (0.974 between an article and a variant), 0.981 (1.000) with 32 and
the same with 48."""
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


def _kept_table() -> np.ndarray:
    """For each code point below 0x10000: is it a Chinese (or other wide) character or a
    digit, not punctuation, space or a Latin letter. (Code points above, looked up at
    0xFFFF, are kept.)

    Latin letters are left out: four of them are a piece of a word ("tion"), so
    a short English page (the handbook's one-paragraph "Kali Linux") was found
    85% contained in any long one. A text in English has no fingerprint to
    speak of, so it is never folded or clustered.
    """
    codes = np.arange(0x10000, dtype=np.uint32)
    digits = (codes >= 48) & (codes <= 57)
    wide = ((codes >= 0x3400) & ~((codes >= 0xFE10) & (codes < 0xFE70))
            & ~((codes >= 0xFF00) & (codes < 0xFF66)) & (codes != 0xFFFD))
    return digits | wide


_KEPT = _kept_table()
_MULTIPLIERS = [np.uint64(0x100000001B3 ** (SHINGLE - 1 - i) % 2**64) for i in range(SHINGLE)]
_MIX = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = (np.zeros(0, np.uint32), np.zeros(0, np.int64))


def _lowered(codes: np.ndarray) -> np.ndarray:
    """Code points as uint64 (kept for when Latin letters are kept: capitals made small)."""
    codes = codes.astype(np.uint64)
    codes[(codes >= 65) & (codes <= 90)] += np.uint64(32)
    return codes


def shingle_hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 hashes, int64 start offsets) of every shingle of text's letters and digits.

    A shingle's code points are combined as a polynomial and mixed
    (xor-shift, multiply, top 32 bits). Vectorized in as few numpy calls as
    possible: a poem's call is dominated by their fixed cost (about 2 us
    each), not by its length (see benchmarks/duplicates_cost.py).
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    where = np.flatnonzero(_KEPT[np.minimum(codes, 0xFFFF)])
    if not len(where):
        return _EMPTY
    kept = _lowered(codes[where])
    count = len(kept) - SHINGLE + 1
    if count < 1:  # shorter than a shingle: the whole of it is one
        kept = np.concatenate([kept, np.zeros(SHINGLE - len(kept), np.uint64)])
        count = 1
    return _shingle_hashes(kept, count), where[:count]


def _shingle_hashes(kept: np.ndarray, count: int) -> np.ndarray:
    """The 32-bit hash of each of the first count runs of SHINGLE letters of kept."""
    with np.errstate(over="ignore"):
        mixed = kept[:count] * _MULTIPLIERS[0]
        for i in range(1, SHINGLE):
            mixed += kept[i:i + count] * _MULTIPLIERS[i]
        mixed ^= mixed >> np.uint64(29)
        mixed *= _MIX
    return (mixed >> np.uint64(32)).astype(np.uint32)


def fingerprint_bytes(text: str) -> bytes:
    """The encoded fingerprint of a (normalized) text, as the index stores it."""
    hashes, positions = shingle_hashes(text)
    rate = sample_rate(len(hashes))
    kept = hashes < threshold(rate)
    hashes, positions = hashes[kept], positions[kept]
    gaps = positions.copy()
    gaps[1:] -= positions[:-1]
    wide = bool(len(gaps)) and int(gaps.max()) > 0xFFFF
    return (_HEADER.pack(FORMAT, rate, wide, len(hashes)) + hashes.astype("<u4").tobytes()
            + gaps.astype("<u4" if wide else "<u2").tobytes())


def fingerprints_of(texts: list[str]) -> list[bytes]:
    """What ``fingerprint_bytes`` gives for each text, computed for all of them at once.

    A poem alone costs about 100 us, nearly all of it the fixed cost of
    numpy calls; here the texts are joined and hashed in one pass (a shingle
    that would span two texts is dropped), so the calls are paid once a
    batch. Texts of fewer than SHINGLE letters, or with a gap between samples
    too wide for the compact encoding, are done one by one.
    """
    if not texts:
        return []
    ends = np.cumsum([len(text) for text in texts])
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4")
    where = np.flatnonzero(_KEPT[np.minimum(codes, 0xFFFF)])
    owner = np.searchsorted(ends, where, side="right")
    letters = np.bincount(owner, minlength=len(texts)).tolist()
    results: list[bytes | None] = [None] * len(texts)
    count = len(where) - SHINGLE + 1
    if count > 0:
        hashes = _shingle_hashes(_lowered(codes[where]), count)
        inside = owner[:count] == owner[SHINGLE - 1:]  # the shingle lies within one text
        hashes, shingle_owner, starts = hashes[inside], owner[:count][inside], where[:count][inside]
        shingles = np.bincount(shingle_owner, minlength=len(texts))
        rates = sum((shingles >= (MIN_SAMPLES << r)).astype(np.int64) for r in range(1, MAX_RATE + 1))
        sampled = hashes < ((1 << 32) >> rates[shingle_owner])
        hashes, shingle_owner, starts = hashes[sampled], shingle_owner[sampled], starts[sampled]
        positions = starts - np.r_[0, ends[:-1]][shingle_owner]
        gaps = positions.copy()
        gaps[1:] -= positions[:-1]
        first = np.r_[True, shingle_owner[1:] != shingle_owner[:-1]][:len(gaps)]  # none: no shingle kept
        gaps[first] = positions[first]
        bounds = np.searchsorted(shingle_owner, np.arange(len(texts) + 1))
        too_wide = set(np.unique(shingle_owner[gaps > 0xFFFF]).tolist())
        hash_bytes = hashes.astype("<u4").tobytes()
        gap_bytes = np.minimum(gaps, 0xFFFF).astype("<u2").tobytes()
        rates = rates.tolist()
        for number, (low, high) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
            if letters[number] >= SHINGLE and number not in too_wide:
                results[number] = (_HEADER.pack(FORMAT, rates[number], False, high - low)
                                   + hash_bytes[4 * low:4 * high] + gap_bytes[2 * low:2 * high])
    return [found if found is not None else fingerprint_bytes(text) for found, text in zip(results, texts)]


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
