"""Highlighted snippets for CJK text: find matches, cut readable fragments around them.

Three steps, all on the normalized (stored) text:

* :func:`find_spans` marks every literal occurrence of the query's terms,
  longest term first, so ``数据中心`` is marked whole and never as a stray ``中心``.
* :func:`best_fragment` picks the one window that shows the query best (what
  searches give); :func:`make_snippet` picks up to a few windows around the
  densest matches. Both snap their edges to sentence or clause boundaries.
* :func:`cut_like` cuts the same fragments from another text of the same length,
  such as the document in its original (Traditional) script.

:func:`fit_columns` narrows a snippet's text to a number of terminal columns,
keeping the part with the most matches in view.

Snippet layout: ``…`` stands wherever text is left out, and only there.

* Fragments are joined with ``…``; a leading ``…`` is added when text comes
  before the first fragment, a trailing ``…`` when text comes after the last
  (whitespace alone does not count: a fragment starting at the first non-blank
  character of the document gets no leading ``…``).
* Two fragments with nothing between them are joined with nothing, and with one
  space when only whitespace lies between them; no ``…`` is added next to a
  fragment that already ends (or starts) with ``…`` (as in ``热潮……``).
* Inside a fragment every run of whitespace (newlines included) becomes one
  space, and whitespace at a fragment's edges is dropped, so a snippet is one
  line. Highlights are mapped through this folding, so they index
  ``Snippet.text`` exactly; ``Snippet.source_spans`` stay document offsets.
"""

from __future__ import annotations

import bisect
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ELLIPSIS", "Snippet", "best_fragment", "cut_like", "find_spans", "fit_columns",
    "make_snippet", "span_finder",
]

ELLIPSIS = "…"

# Folding only ASCII letters keeps every string the same length, so offsets found
# in the folded text index the original text unchanged.
_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# Matches exactly the characters for which str.isspace() is true.
_WHITESPACE_RE = re.compile(r"\s+")

# A boundary is the offset just after a terminator (and any closing quotes or
# brackets that follow it). ASCII , ; : between two digits (1,353 or 12:30) are
# part of a number, not a clause mark.
_CLOSERS = "”’\"'」』）)》〉】]"
_SENTENCE_RE = re.compile(rf"(?:[。！？!?]+[{re.escape(_CLOSERS)}]*|\n)")
_CLAUSE_RE = re.compile(
    rf"(?:[，；：…]+|(?<!\d)[,;:]|[,;:](?!\d))[{re.escape(_CLOSERS)}]*"
)


@dataclass(frozen=True)
class Snippet:
    """A few fragments of a document around its matches."""

    text: str
    """The fragments joined with ``…`` (see the module docstring for the layout)."""
    highlights: list[tuple[int, int]]
    """``[start, end)`` spans of the matches, indexing :attr:`text`."""
    source_spans: list[tuple[int, int]]
    """For each fragment, in order, its ``[start, end)`` in the document text."""


def find_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Non-overlapping ``[start, end)`` spans of every literal occurrence of any term in text.

    Scans left to right and takes the longest term matching at each position, so
    with terms ``数据`` and ``数据中心`` the text ``数据中心`` is one span. ASCII letters
    match case-insensitively (``5g`` finds ``5G``); nothing else is folded, so
    offsets index ``text`` exactly. Empty terms are ignored.
    """
    return span_finder(terms)(text)


def span_finder(terms: Iterable[str]) -> Callable[[str], list[tuple[int, int]]]:
    """``find_spans`` for one set of terms, to run on many texts: the terms are compiled once."""
    folded_terms = {term.translate(_ASCII_FOLD) for term in terms if term}
    if not folded_terms:
        return lambda text: []
    # Python's alternation takes the first alternative that matches at a position:
    # ordered longest first, that is the longest term there. IGNORECASE with ASCII
    # folds ASCII letters only (no K for the Kelvin sign), as translating the text
    # with _ASCII_FOLD did, without the copy: 0.9 ms less on a 14,000-character
    # handbook page that has capitals, the same spans.
    ordered = sorted(folded_terms, key=lambda term: (-len(term), term))
    pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE | re.ASCII)

    def spans(text: str) -> list[tuple[int, int]]:
        return [match.span() for match in pattern.finditer(text)]

    return spans


def make_snippet(
    text: str,
    spans: Sequence[tuple[int, int]],
    *,
    max_fragments: int = 3,
    fragment_chars: int = 100,
    min_fragment_chars: int = 60,
) -> Snippet:
    """Fragments around the densest matches, cut at sentence or clause boundaries.

    Windows of about ``fragment_chars`` characters are chosen greedily: the window
    with the most matched terms not yet shown wins, then the most distinct terms,
    then the most matches, then the earliest. Windows never overlap and never cut
    a match in half. Each edge snaps to a sentence end (。！？!? or a newline) within
    about 30% of ``fragment_chars`` of where it would fall, else to a clause mark
    (，；：… , ; :), else stays where it is. A fragment is at most 1.2 x
    ``fragment_chars`` long and, room permitting, at least ``min_fragment_chars``.

    Without spans the snippet is the document's opening fragment; a text no longer
    than ``fragment_chars`` is returned whole.
    """
    if max_fragments < 1:
        raise ValueError("max_fragments must be at least 1")
    if fragment_chars < 1:
        raise ValueError("fragment_chars must be at least 1")
    spans = _clean_spans(spans, len(text))
    if len(text) <= fragment_chars:
        windows = [(0, len(text))]
    elif not spans:
        windows = [_Cutter(text, spans, fragment_chars, min_fragment_chars).opening()]
    else:
        cutter = _Cutter(text, spans, fragment_chars, min_fragment_chars)
        windows = _choose_windows(text, spans, cutter, max_fragments)
    windows = [(s, e) for s, e in (_strip(text, *window) for window in windows) if s < e]
    return _assemble(text, windows, spans)


def best_fragment(text: str, spans: Sequence[tuple[int, int]], max_chars: int) -> Snippet:
    """The one fragment of at most max_chars characters that shows the query best.

    Best is the window covering the most distinct terms (the matched text, ASCII
    case folded), then the most matches, then the earliest. Its start snaps to a
    sentence end (。！？!? or a newline), else a clause mark (，；：… , ; :), before
    the first match it shows, and its end to one as close to max_chars as lies
    within 30% of it; a match is never cut. Without spans it is the document's
    opening; a text no longer than max_chars is returned whole.

    The fragment is at most max_chars characters of the document, however long
    the document or however many matches it has; the snippet text adds at most
    an ``…`` at either end and folds whitespace runs (module docstring). Only the
    neighbourhood of the chosen window is searched for boundaries, so the cost
    beyond finding the spans does not grow with the document.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    spans = _clean_spans(spans, len(text))
    if len(text) <= max_chars:
        window = (0, len(text))
    elif not spans:
        window = _Fitter(text, [], 0, 0, max_chars).window()
    else:
        first, last = _best_run(spans, _keys(text, spans), max_chars)
        window = _Fitter(text, spans, spans[first][0], spans[last][1], max_chars).window()
    window = _strip(text, *window)
    return _assemble(text, [window] if window[0] < window[1] else [], spans)


def cut_like(snippet: Snippet, other_text: str) -> str:
    """The same fragments cut from other_text, laid out exactly like ``snippet.text``.

    ``other_text`` must have the length of the text the snippet came from, with
    ``other_text[i]`` standing for ``text[i]`` (as ``Document.original`` stands for
    ``Document.text``); the result then has the length of ``snippet.text`` and
    ``snippet.highlights`` index it too.
    """
    if snippet.source_spans and snippet.source_spans[-1][1] > len(other_text):
        raise ValueError("other_text is shorter than the text the snippet came from")
    return _assemble(other_text, snippet.source_spans, []).text


# -- choosing windows ---------------------------------------------------------


def _clean_spans(spans: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Spans clipped to the text, sorted, empty and overlapping ones dropped."""
    if _already_clean(spans, length):  # as find_spans gives them: checking is 10x cheaper
        return list(spans)
    cleaned: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s), min(length, e)) for s, e in spans):
        if start < end and (not cleaned or start >= cleaned[-1][1]):
            cleaned.append((start, end))
    return cleaned


def _choose_windows(
    text: str, spans: list[tuple[int, int]], cutter: _Cutter, max_fragments: int
) -> list[tuple[int, int]]:
    """Greedily place up to max_fragments non-overlapping windows over the spans."""
    keys = [text[s:e].translate(_ASCII_FOLD) for s, e in spans]
    covered = [False] * len(spans)
    shown: set[str] = set()
    windows: list[tuple[int, int]] = []
    for _ in range(max_fragments):
        best = _densest_cluster(spans, keys, covered, shown, cutter.cluster_chars)
        if best is None:
            break
        first, last = best
        # The gap between already chosen windows that holds this cluster.
        place = bisect.bisect_left(windows, (spans[first][0], 0))
        lo = windows[place - 1][1] if place > 0 else 0
        hi = windows[place][0] if place < len(windows) else len(text)
        start, end = cutter.place(spans[first][0], spans[last][1], lo, hi)
        windows.insert(place, (start, end))
        for index, (s, e) in enumerate(spans):
            if start <= s and e <= end:
                covered[index] = True
                shown.add(keys[index])
    return windows


def _densest_cluster(
    spans: list[tuple[int, int]],
    keys: list[str],
    covered: list[bool],
    shown: set[str],
    width: int,
) -> tuple[int, int] | None:
    """Indexes (first, last) of the best run of uncovered spans fitting in width.

    Uncovered spans come in runs of consecutive indexes, one run per gap between
    chosen windows (a window never cuts a span), so a sliding window over each
    run finds every candidate in linear time.
    """
    best: tuple[int, int] | None = None
    best_score: tuple[int, int, int] = (-1, -1, -1)
    index = 0
    while index < len(spans):
        if covered[index]:
            index += 1
            continue
        run_end = index
        while run_end < len(spans) and not covered[run_end]:
            run_end += 1
        counts: Counter[str] = Counter()
        new_terms = 0
        last = index  # exclusive end of the current cluster
        for first in range(index, run_end):
            if last <= first:
                last = first
            while last < run_end and (
                last == first or spans[last][1] - spans[first][0] <= width
            ):
                counts[keys[last]] += 1
                if counts[keys[last]] == 1 and keys[last] not in shown:
                    new_terms += 1
                last += 1
            score = (new_terms, len(counts), last - first)
            if score > best_score:
                best, best_score = (first, last - 1), score
            counts[keys[first]] -= 1
            if counts[keys[first]] == 0:
                del counts[keys[first]]
                if keys[first] not in shown:
                    new_terms -= 1
        index = run_end
    return best


def _already_clean(spans: Sequence[tuple[int, int]], length: int) -> bool:
    """Whether spans are sorted, non-empty, not overlapping and inside [0, length]."""
    if not spans:
        return True
    if spans[0][0] < 0 or spans[-1][1] > length or spans[-1][0] >= spans[-1][1]:
        return False
    return all(start < end <= next_start
               for (start, end), (next_start, _) in zip(spans, spans[1:]))


def _keys(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """What each span matched, ASCII case folded: the same key for the same term."""
    matched = [text[start:end] for start, end in spans]
    folded = {key: key.translate(_ASCII_FOLD) for key in set(matched)}  # a few distinct ones
    return [folded[key] for key in matched]


def _best_run(spans: list[tuple[int, int]], keys: list[str], width: int) -> tuple[int, int]:
    """Indexes (first, last) of the run of spans fitting in width with the most distinct keys,
    then the most spans, then the earliest.

    _densest_cluster without the bookkeeping of windows already chosen: with
    keys numbered, one sliding window costs about a microsecond a span (2,717
    spans of a 50,000-character passage: 10.2 ms with _densest_cluster, see the
    commit message for the figure after).
    """
    numbers: dict[str, int] = {}
    ids = [numbers.setdefault(key, len(numbers)) for key in keys]
    counts = [0] * len(numbers)
    distinct, last, count = 0, 0, len(spans)
    best, best_distinct, best_size = (0, 0), -1, -1
    for first in range(count):
        limit = spans[first][0] + width
        while last < count and (last == first or spans[last][1] <= limit):
            if not counts[ids[last]]:
                distinct += 1
            counts[ids[last]] += 1
            last += 1
        if distinct > best_distinct or (distinct == best_distinct and last - first > best_size):
            best, best_distinct, best_size = (first, last - 1), distinct, last - first
        counts[ids[first]] -= 1
        if not counts[ids[first]]:
            distinct -= 1
    return best


class _Cutter:
    """Where fragments of one text may start and end."""

    def __init__(
        self,
        text: str,
        spans: list[tuple[int, int]],
        fragment_chars: int,
        min_fragment_chars: int,
    ) -> None:
        self.spans = spans
        self.length = len(text)
        self.fragment_chars = fragment_chars
        self.min_chars = max(0, min(min_fragment_chars, fragment_chars))
        self.max_chars = fragment_chars + max(1, fragment_chars // 5)
        self.reach = max(1, fragment_chars * 3 // 10)
        # Matches are grouped within a little less than a fragment, leaving room to snap.
        self.cluster_chars = max(1, fragment_chars * 4 // 5)
        # Offsets 0 and len(text) count as sentence boundaries.
        self.sentences = sorted(
            {0, len(text)} | {match.end() for match in _SENTENCE_RE.finditer(text)}
        )
        self.clauses = [match.end() for match in _CLAUSE_RE.finditer(text)]

    def opening(self) -> tuple[int, int]:
        """The document's first fragment."""
        return 0, self._end(0, 0, self.length)

    def place(self, first: int, last: int, lo: int, hi: int) -> tuple[int, int]:
        """A window inside [lo, hi) holding the whole of [first, last)."""
        slack = max(0, self.fragment_chars - (last - first))
        ideal = first - slack // 2
        low = max(lo, min(first, last - self.max_chars))
        start = self._whole(self._snap(ideal, low, first), at_start=True)
        return start, self._end(start, last, hi)

    def _end(self, start: int, must_reach: int, hi: int) -> int:
        """Where a fragment from start ends: at or after must_reach, before hi."""
        high = min(hi, start + self.max_chars)
        low = min(high, max(must_reach, start + self.min_chars))
        low = max(low, must_reach)
        end = self._snap(start + self.fragment_chars, low, max(low, high))
        return self._whole(end, at_start=False)

    def _whole(self, offset: int, *, at_start: bool) -> int:
        """offset moved out of any span it would cut, so the span is kept whole."""
        index = bisect.bisect_left(self.spans, (offset, offset)) - 1
        if index >= 0 and self.spans[index][0] < offset < self.spans[index][1]:
            return self.spans[index][0] if at_start else self.spans[index][1]
        return offset

    def _snap(self, ideal: int, low: int, high: int) -> int:
        """The boundary nearest ideal within reach and [low, high], else ideal clamped."""
        for boundaries in (self.sentences, self.clauses):
            found = _nearest(
                boundaries, ideal, max(low, ideal - self.reach), min(high, ideal + self.reach)
            )
            if found is not None:
                return found
        return min(max(ideal, low), high)


class _Fitter:
    """Where the one fragment of best_fragment starts and ends, around the matches [first, last).

    Boundaries are looked for only within max_chars of the matches: on a
    50,000-character passage that is the difference between scanning the whole
    text twice per hit and scanning a few hundred characters.
    """

    def __init__(self, text: str, spans: list[tuple[int, int]], first: int, last: int,
                 max_chars: int) -> None:
        self.spans = spans
        self.length = len(text)
        self.first, self.last = first, last
        self.max_chars = max_chars
        self.reach = max(1, max_chars * 3 // 10)
        # One character more on either side, so a look-behind or look-ahead sees its neighbour.
        lo, hi = max(0, first - max_chars - 1), min(len(text), last + max_chars + 1)
        self.sentences = sorted(
            {0, len(text)} | {m.end() for m in _SENTENCE_RE.finditer(text, lo, hi)}
        )
        self.clauses = [m.end() for m in _CLAUSE_RE.finditer(text, lo, hi)]

    def window(self) -> tuple[int, int]:
        """[start, end): at most max_chars long, holding [first, last), cutting no span."""
        slack = self.max_chars - (self.last - self.first)
        low = max(0, self.first - slack)
        start = self._snap(self.first - slack // 2, low, self.first)
        start = self._out_of_span(start, forward=True)
        high = min(self.length, start + self.max_chars)
        end = self._snap(high, max(self.last, high - self.reach), high)
        return start, self._out_of_span(end, forward=False)

    def _snap(self, ideal: int, low: int, high: int) -> int:
        """The boundary in [low, high] nearest ideal: a sentence end, else a clause mark, else ideal."""
        for boundaries in (self.sentences, self.clauses):
            found = _nearest(boundaries, ideal, low, high)
            if found is not None:
                return found
        return min(max(ideal, low), high)

    def _out_of_span(self, offset: int, *, forward: bool) -> int:
        """offset moved out of a span it would cut, inwards, so the window does not grow."""
        index = bisect.bisect_left(self.spans, (offset, offset)) - 1
        if index >= 0 and self.spans[index][0] < offset < self.spans[index][1]:
            return self.spans[index][1] if forward else self.spans[index][0]
        return offset


def _nearest(boundaries: list[int], ideal: int, low: int, high: int) -> int | None:
    """The element of sorted boundaries in [low, high] nearest ideal (earlier on ties)."""
    if low > high:
        return None
    left = bisect.bisect_left(boundaries, low)
    right = bisect.bisect_right(boundaries, high)
    if left >= right:
        return None
    return min(boundaries[left:right], key=lambda offset: (abs(offset - ideal), offset))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) without whitespace at either edge."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# -- laying out ---------------------------------------------------------------


def _assemble(
    text: str, windows: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> Snippet:
    """Join the windows of text into a snippet, mapping spans inside them to its text."""
    if not windows:
        return Snippet("", [], [])
    parts: list[str] = []
    highlights: list[tuple[int, int]] = []
    offset = 0
    previous_end = 0
    for start, end in windows:
        fragment, positions = _one_line(text, start, end)
        joiner = _joiner(text[previous_end:start], parts[-1] if parts else "", fragment)
        parts.append(joiner)
        offset += len(joiner)
        first = bisect.bisect_left(spans, (start, 0))
        for s, e in spans[first:]:
            if s >= end:
                break
            if e <= end:
                highlights.append(
                    (offset + positions[s - start], offset + positions[e - 1 - start] + 1)
                )
        parts.append(fragment)
        offset += len(fragment)
        previous_end = end
    parts.append(_joiner(text[previous_end:], parts[-1], ""))
    return Snippet("".join(parts), highlights, [(start, end) for start, end in windows])


def _joiner(gap: str, before: str, after: str) -> str:
    """What stands for the text left out between two fragments (or an edge of the text)."""
    if not gap or gap.isspace():
        return " " if gap and before and after else ""
    if before.endswith(ELLIPSIS) or after.startswith(ELLIPSIS):
        return ""
    return ELLIPSIS


def _one_line(text: str, start: int, end: int) -> tuple[str, Sequence[int]]:
    """text[start:end] with whitespace runs as one space, and each char's new offset."""
    fragment = text[start:end]
    folded = _WHITESPACE_RE.sub(" ", fragment)
    if len(folded) == len(fragment):  # no run longer than one character: no offset moves
        return folded, range(len(fragment))
    out: list[str] = []
    positions: list[int] = []
    for char in fragment:
        if char.isspace():
            if not (out and out[-1] == " "):
                out.append(" ")
            positions.append(len(out) - 1)
        else:
            positions.append(len(out))
            out.append(char)
    return "".join(out), positions


# -- fitting a snippet to a width ------------------------------------------------


def fit_columns(
    text: str,
    highlights: Sequence[tuple[int, int]],
    columns: int,
    char_width: Callable[[str], int],
) -> tuple[str, list[tuple[int, int]]]:
    """text narrowed to at most columns, with its highlights moved to index the result.

    ``char_width(c)`` is the columns a character takes (two for a wide CJK one on
    a terminal). Text that fits is returned as it is. Otherwise the part kept is
    chosen like a fragment: the most distinct highlighted terms, then the most
    highlights, then the earliest; it starts after a sentence or clause mark
    when one lies in the context kept before the first highlight; a highlight is
    never cut, and ``…`` stands where text is left out (the columns count it).
    """
    widths = [char_width(char) for char in text]
    edges = list(_accumulate(widths))  # edges[i]: columns of text[:i]
    if edges[-1] <= columns:
        return text, list(highlights)
    room = max(0, columns - 2 * char_width(ELLIPSIS))
    spans = _clean_spans(highlights, len(text))
    start, end = _column_window(text, spans, edges, room)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    lead = ELLIPSIS if start > 0 and not text.startswith(ELLIPSIS, start) else ""
    tail = ELLIPSIS if end < len(text) and not text[:end].endswith(ELLIPSIS) else ""
    shift = len(lead) - start
    kept = [(s + shift, e + shift) for s, e in spans if start <= s and e <= end]
    return lead + text[start:end] + tail, kept


def _accumulate(widths: Sequence[int]) -> Iterable[int]:
    total = 0
    yield total
    for width in widths:
        total += width
        yield total


def _column_window(
    text: str, spans: list[tuple[int, int]], edges: list[int], room: int
) -> tuple[int, int]:
    """[start, end) of text at most room columns wide, around its best run of spans."""
    if spans:
        keys = [text[s:e].translate(_ASCII_FOLD) for s, e in spans]
        in_columns = [(edges[s], edges[e]) for s, e in spans]
        best = _densest_cluster(in_columns, keys, [False] * len(spans), set(), room)
        assert best is not None
        first, last = spans[best[0]][0], spans[best[1]][1]
    else:
        first = last = 0
    if edges[last] - edges[first] > room:  # one match wider than the room: show its start
        return first, bisect.bisect_right(edges, edges[first] + room) - 1
    # Half the room left over goes before the matches, as context, and half after
    # them; what the text's end cannot use goes before too.
    spare = room - (edges[last] - edges[first])
    before = spare - min(spare - spare // 2, edges[-1] - edges[last])
    start = bisect.bisect_left(edges, edges[first] - before)
    marks = [m.end() for regex in (_CLAUSE_RE, _SENTENCE_RE, _LIST_COMMA_RE)
             for m in regex.finditer(text, start, first)]
    if marks:
        start = min(marks)  # the widest context that starts a clause
    else:
        start = _word_edge(text, start, first, forward=True)
    start = _outside(spans, start, forward=True)
    end = bisect.bisect_right(edges, edges[start] + room) - 1
    end = _word_edge(text, end, last, forward=False)
    return start, max(_outside(spans, end, forward=False), last)


_LIST_COMMA_RE = re.compile("、")
_LATIN_RE = re.compile("[0-9A-Za-z]")


def _word_edge(text: str, offset: int, limit: int, *, forward: bool) -> int:
    """offset moved out of a Latin word it would cut (``compu|ters``), not past limit."""
    def inside(at: int) -> bool:
        return 0 < at < len(text) and bool(_LATIN_RE.match(text[at - 1])) and bool(_LATIN_RE.match(text[at]))

    moved = offset
    while inside(moved) and (moved < limit if forward else moved > limit):
        moved += 1 if forward else -1
    return moved if not inside(moved) else offset


def _outside(spans: list[tuple[int, int]], offset: int, *, forward: bool) -> int:
    """offset moved out of any span it would cut: past it, or back to its start."""
    index = bisect.bisect_left(spans, (offset, offset)) - 1
    if index >= 0 and spans[index][0] < offset < spans[index][1]:
        return spans[index][1] if forward else spans[index][0]
    return offset
