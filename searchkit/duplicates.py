"""Copies of one text: folding them in search results, and clustering them in an index.

Both work on the fingerprints the indexer stores (see fingerprints.py).

Folding (``Folder``) is per query: a hit is folded under a better-ranked one
when the passages where the query matched it (the paragraphs around its
highlights) are contained in that better hit. So a print page that carries a
web article plus a second one is folded under the article for a query the
article answers, and stands on its own for a query only its second article
answers. ``fold_ranked`` folds a ranked list into a page; it knows hits only
by opaque handles (a docnum in one index, a shard and a docnum in a sharded
one) and reads their texts and fingerprints a batch at a time, so one index
and a sharded one fold alike.

Clustering (``clusters``) lists the documents of a whole index that are copies
of one another, without comparing every pair: each document is put in the
buckets of its keys (a few of its sampled shingles, see ``Fingerprint.keys``),
and only documents sharing a bucket are compared (a bucket of many documents,
a common phrase, compares each with its first few only, so the work stays
linear in the size of the index). Documents whose similarity reaches the
threshold are joined, transitively, into clusters.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from .errors import SearchkitError
from .fingerprints import Fingerprint, at_rate, decode

FOLD_THRESHOLD = 0.7
"""Share of a hit's matching passages found in a better hit for it to be folded.
On generated variants (benchmarks/duplicates_variants.py) different articles
on one topic score at most 0.19; an article and each of its variants 0.7 or more."""
DEFAULT_THRESHOLD = 0.7
"""Similarity from which ``searchkit duplicates`` joins two documents."""
MIN_JUDGED = 6
"""Samples a passage (or the smaller document) needs, at the rate of the
comparison, to be judged at all: with fewer, one shared shingle decides."""
WINDOW = 200
"""Characters of context on each side of a match that make its passage, within its paragraph."""
MIN_PASSAGE = 240
"""A passage shorter than this (a paragraph of one line) is widened to it."""
BUCKET_ALL_PAIRS = 8
"""A bucket of at most this many documents compares all their pairs; a larger
one compares each document with its first BUCKET_ANCHORS only."""
BUCKET_ANCHORS = 4


def matched_passages(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of the passages of text around the spans, merged; the whole text if none."""
    if not spans:
        return [(0, len(text))]
    passages = []
    for start, end in spans:
        paragraph_start = text.rfind("\n", 0, start) + 1
        paragraph_end = text.find("\n", end)
        if paragraph_end < 0:
            paragraph_end = len(text)
        low, high = max(paragraph_start, start - WINDOW), min(paragraph_end, end + WINDOW)
        if high - low < MIN_PASSAGE:
            extra = (MIN_PASSAGE - (high - low)) // 2
            low, high = max(0, low - extra), min(len(text), high + extra)
        passages.append((low, high))
    passages.sort()
    merged = [passages[0]]
    for low, high in passages[1:]:
        if low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


class Folder:
    """Decides, hit by hit in rank order, which hits repeat a better-ranked one.

    ``place`` is given each hit in turn; a hit that is not folded becomes a
    leader, against which the later ones are compared.
    """

    def __init__(self, threshold: float = FOLD_THRESHOLD) -> None:
        self.threshold = threshold
        self._leaders: list[Fingerprint | None] = []
        self._samples: dict[tuple[int, int], set[int]] = {}  # (leader, rate): its samples at that rate

    def place(self, fingerprint: Fingerprint | None, text: str,
              spans: Sequence[tuple[int, int]]) -> int | None:
        """The number of the leader this hit is folded under, or None: it leads (numbered next)."""
        if fingerprint is not None and self._leaders:
            sample = [h for low, high in matched_passages(text, spans)
                      for h in fingerprint.between(low, high)]
            mine: dict[int, set[int]] = {}
            for number, leader in enumerate(self._leaders):
                if leader is None:
                    continue
                rate = max(fingerprint.rate, leader.rate)
                if rate not in mine:
                    mine[rate] = at_rate(sample, rate)
                if len(mine[rate]) < MIN_JUDGED:
                    continue
                shared = len(mine[rate] & self._leader_samples(number, rate))
                if shared >= self.threshold * len(mine[rate]):
                    return number
        self._leaders.append(fingerprint)
        return None

    def _leader_samples(self, number: int, rate: int) -> set[int]:
        """A leader's samples at a rate, computed once (a page compares each leader up to 9 times)."""
        found = self._samples.get((number, rate))
        if found is None:
            found = self._samples[number, rate] = at_rate(self._leaders[number].hashes, rate)
        return found


Handle = TypeVar("Handle", bound=Hashable)
"""Where a hit is: a docnum in one index, (shard, docnum) in a sharded one."""

FoldInput = tuple[str, bytes]
"""What folding reads of a hit: its stored text and its encoded fingerprint (b"" for none)."""


@dataclass
class FoldedPage(Generic[Handle]):
    """A page of ranked hits after folding: each leader with the copies folded under it."""

    leaders: list[tuple[Handle, float, list[tuple[Handle, float]]]]
    """(handle, score, [(handle, score) of its copies, best first]) for each hit of the page."""
    folded: int
    """How many hits, ranked up to the end of the page, were folded under a better one."""


def fold_ranked(ranked: Sequence[tuple[Handle, float]],
                rank_more: Callable[[int], Sequence[tuple[Handle, float]]],
                read: Callable[[list[Handle]], list[FoldInput]],
                find_spans: Callable[[str], list[tuple[int, int]]],
                limit: int, offset: int) -> FoldedPage[Handle]:
    """The page offset..offset+limit of ranked hits once copies are folded under better hits.

    ranked: the first offset+limit (handle, score) hits, best first (fewer:
    there are no more). ``rank_more(n)`` ranks the first n, when copies leave
    the page short (twice as many each time); its first hits must be those of
    ranked. ``read(handles)`` gives each handle's text and encoded
    fingerprint, in the order asked: one call a batch, never a hit twice.

    Hits are folded from the first one on, whatever the page, so a hit is
    folded on every page alike. A batch holds as many hits as the page still
    lacks leaders (each hit leads at most once), so no hit past the page's
    last leader is read.
    """
    folder = Folder()
    leaders: list[tuple[Handle, float, list[tuple[Handle, float]]]] = []
    want = requested = offset + limit
    seen = 0
    while True:
        while len(leaders) < want and seen < len(ranked):
            batch = ranked[seen:seen + want - len(leaders)]
            inputs = read([handle for handle, _ in batch])
            for (handle, score), (text, data) in zip(batch, inputs):
                under = folder.place(decode(data), text, find_spans(text))
                if under is None:
                    leaders.append((handle, score, []))
                else:
                    leaders[under][2].append((handle, score))
            seen += len(batch)
        if len(leaders) >= want or len(ranked) < requested:  # the page is full, or no more hits
            break
        requested *= 2
        ranked = rank_more(requested)
    return FoldedPage(leaders[offset:offset + limit], seen - len(leaders))


def remembered_spans(find_spans: Callable[[str], list[tuple[int, int]]]) -> Callable[[str], list[tuple[int, int]]]:
    """find_spans, answering a text it has seen from memory (folding and the hit's snippet ask alike)."""
    seen: dict[str, list[tuple[int, int]]] = {}

    def remembered(text: str) -> list[tuple[int, int]]:
        found = seen.get(text)
        if found is None:
            found = seen[text] = find_spans(text)
        return found

    return remembered


# -- clusters of a whole index -------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Two documents (by their number in the list given) and how much of the smaller the larger holds."""

    first: int
    second: int
    similarity: float


def check_threshold(threshold: float) -> None:
    """Refuse a threshold that is not a share (SearchkitError)."""
    if not 0 < threshold <= 1:
        raise SearchkitError(f"threshold must be above 0 and at most 1, not {threshold:g}")


def similarity(a: Fingerprint, b: Fingerprint) -> float | None:
    """How much of the smaller of two documents the other holds (None: too short to tell)."""
    rate = max(a.rate, b.rate)
    mine, theirs = at_rate(a.hashes, rate), at_rate(b.hashes, rate)
    if len(mine) > len(theirs):
        mine, theirs = theirs, mine
    if len(mine) < MIN_JUDGED:
        return None
    return len(mine & theirs) / len(mine)


def candidate_pairs(fingerprints: Sequence[Fingerprint | None]) -> set[tuple[int, int]]:
    """Pairs of documents (by number) that share a bucket: no other pair is compared.

    The (key, document) pairs are sorted as two integer arrays, so that the
    buckets take 8 bytes a key (a dict of lists took about 150 bytes a key:
    350 MB for all the poems of the benchmark).
    """
    keys, owners = array("I"), array("i")
    for number, fingerprint in enumerate(fingerprints):
        if fingerprint is not None:
            found = fingerprint.keys()
            keys.extend(found)
            owners.extend([number] * len(found))
    key_array = np.frombuffer(keys, dtype=np.uint32) if keys else np.zeros(0, np.uint32)
    owner_array = np.frombuffer(owners, dtype=np.int32) if owners else np.zeros(0, np.int32)
    order = np.lexsort((owner_array, key_array))
    key_array, owner_array = key_array[order], owner_array[order]
    starts = np.flatnonzero(np.r_[True, key_array[1:] != key_array[:-1]])
    sizes = np.diff(np.r_[starts, len(key_array)])
    pairs = set()
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
        members = owner_array[start:start + size].tolist()
        if size <= BUCKET_ALL_PAIRS:
            pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
        else:
            anchors = members[:BUCKET_ANCHORS]
            pairs.update((min(a, b), max(a, b)) for a in anchors for b in members if a != b)
    return pairs


def similar_pairs(fingerprints: Sequence[Fingerprint | None], threshold: float) -> list[Pair]:
    """The pairs of documents at least threshold similar, found through their buckets."""
    found = []
    for a, b in sorted(candidate_pairs(fingerprints)):
        share = similarity(fingerprints[a], fingerprints[b])
        if share is not None and share >= threshold:
            found.append(Pair(a, b, share))
    return found


def clusters(fingerprints: Sequence[Fingerprint | None], threshold: float) -> list[list[tuple[int, float]]]:
    """Groups of documents joined by similar pairs, each [(number, similarity), ...].

    A group starts with its largest document (similarity 1.0); each other
    member gives its similarity to that one. Largest groups first.
    """
    parent = list(range(len(fingerprints)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for pair in similar_pairs(fingerprints, threshold):
        a, b = root(pair.first), root(pair.second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for number in range(len(fingerprints)):
        if fingerprints[number] is not None:
            groups[root(number)].append(number)
    result = []
    for members in groups.values():
        if len(members) < 2:
            continue
        head = max(members, key=lambda n: (_size(fingerprints[n]), -n))
        rest = [(n, similarity(fingerprints[head], fingerprints[n]) or 0.0) for n in members if n != head]
        rest.sort(key=lambda item: (-item[1], item[0]))
        result.append([(head, 1.0), *rest])
    result.sort(key=lambda group: (-len(group), group[0][0]))
    return result


def _size(fingerprint: Fingerprint) -> int:
    """About how many shingles the document has (its samples, scaled by its rate)."""
    return len(fingerprint.hashes) << fingerprint.rate


def merged(parts: Iterable[Fingerprint]) -> Fingerprint:
    """One fingerprint for a document indexed as passages (positions are dropped)."""
    parts = list(parts)
    rate = max(part.rate for part in parts)
    hashes = array("I", sorted({h for part in parts for h in at_rate(part.hashes, rate)}))
    return Fingerprint(rate, hashes, array("q", [0] * len(hashes)))
