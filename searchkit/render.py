"""Turning results into text for people and JSON for programs (CLI and shell alike)."""

from __future__ import annotations

import bisect
import json
import os
import re
import sys
import unicodedata
from collections.abc import Sequence

from . import highlight
from .errors import IndexMismatchError, IndexNotFoundError
from .models import (Document, DuplicateCluster, Facets, Hit, IndexReport, IndexStats, SearchResults,
                     not_text_line)

BOLD_RED = "\x1b[1;31m"
DIM = "\x1b[2m"
BOLD = "\x1b[1m"
RESET = "\x1b[0m"
PLAIN_MARKS = ("【", "】")

# Escape sequences first (so their parameters go too), then any other control
# character, and the bidi controls that can reorder what a terminal shows.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_NO_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What json.dumps(ensure_ascii=False) leaves raw but a terminal would act on.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def sanitize(text: str | None, *, keep_newlines: bool = False) -> str:
    """Text from a document, made safe to print: no escape sequences or control characters."""
    if not text:
        return ""
    text = _ESCAPES.sub("", text)
    if keep_newlines:
        return _CONTROLS.sub("", text.replace("\t", "    "))
    return _CONTROLS_NO_NEWLINE.sub(" ", text)


def error_text(exc: Exception) -> str:
    """An error's message for a terminal, with the command that gets past it, if any.

    The library's messages speak of the library; the faces add the command.
    """
    message = sanitize(str(exc))
    if isinstance(exc, IndexMismatchError):  # damaged, another version or configuration
        return f"{message}: searchkit index --rebuild --index {sanitize(str(exc.index_dir))}"
    if isinstance(exc, IndexNotFoundError):
        return f"{message}; build one with: searchkit index PATH --index {sanitize(str(exc.index_dir))}"
    return message


def display_width(text: str) -> int:
    """Columns text takes on a terminal (wide CJK characters count two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def char_width(char: str) -> int:
    """Columns one character takes on a terminal (display_width of one, without its loop)."""
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def pad(text: str, width: int) -> str:
    """text padded with spaces to width terminal columns."""
    return text + " " * max(0, width - display_width(text))


def mark(text: str, spans: Sequence[tuple[int, int]], *, color: bool) -> str:
    """text with spans marked: bold red on a terminal, 【】 otherwise. Sanitizes too."""
    opening, closing = (BOLD_RED, RESET) if color else PLAIN_MARKS
    pieces, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        pieces += [sanitize(text[last:start]), opening, sanitize(text[start:end]), closing]
        last = end
    pieces.append(sanitize(text[last:]))
    return "".join(pieces)


HIT_INDENT = 5
"""Columns before a hit's title text ("  1. ") and its other lines."""
HIT_FIXED_LINES = 2
"""The lines of a hit besides its snippet: the title, and source · date · id."""


def hit_lines(number: int, hit: Hit, *, color: bool, width: int | None = None,
              snippet_lines: int | None = None) -> list[str]:
    """The lines of one hit: title, metadata, snippet.

    With width (terminal columns a line may take) every line fits in it: the title
    and the metadata are cut with ``…``, and the snippet is wrapped under them;
    with snippet_lines too, it is cut to that many lines around its best-marked
    part (see ``highlight.fit_columns``). Without width, each is one line.
    """
    title = sanitize(hit.title) or sanitize(hit.id)
    meta = " · ".join(x for x in (sanitize(hit.source), hit.date.isoformat() if hit.date else "",
                                  sanitize(hit.id)) if x)
    if width is None:
        snippet = ["     " + mark(hit.snippet, hit.highlights, color=color)]
    else:
        room = max(10, width - HIT_INDENT)
        title = cut_to_width(title, max(10, width - len(f"{number:>3}. ")))
        meta = cut_to_width(meta, room)
        snippet = ["     " + line for line in snippet_text_lines(hit, room, snippet_lines, color=color)]
    heading = f"{number:>3}. {BOLD}{title}{RESET}" if color else f"{number:>3}. {title}"
    meta_line = f"     {DIM}{meta}{RESET}" if color else f"     {meta}"
    return [heading, meta_line, *snippet]


def snippet_text_lines(hit: Hit, width: int, lines: int | None, *, color: bool) -> list[str]:
    """A hit's snippet wrapped to width columns, cut to lines lines (None: all of it), marked."""
    text, spans = hit.snippet, list(hit.highlights)
    if not color:  # the 【】 marks take columns: fit and wrap them with their words
        text, spans = _with_plain_marks(text, spans)
    if lines is None:
        fitted, kept, ranges = text, spans, wrap_ranges(text, width, spans)
    else:
        # Wrapping wastes a column where a wide character does not fit at a line's end, and
        # more where a Latin word moves whole to the next line: narrow until the lines fit.
        budget = lines * width
        while True:
            fitted, kept = highlight.fit_columns(text, spans, budget, char_width)
            ranges = wrap_ranges(fitted, width, kept)
            if len(ranges) <= lines or budget <= width:
                break
            budget -= max(1, display_width(fitted[ranges[lines][0]:]))
        ranges = ranges[:lines]
    if not color:
        return [sanitize(fitted[s:e]) for s, e in ranges]
    return [mark(fitted[s:e], _inside(kept, s, e), color=True) for s, e in ranges]


def _with_plain_marks(text: str, spans: Sequence[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """text with 【】 around each span, and the spans widened to hold their marks."""
    opening, closing = PLAIN_MARKS
    pieces, marked, last = [], [], 0
    shift = 0
    for start, end in sorted(spans):
        if start < last:
            continue
        pieces += [text[last:start], opening, text[start:end], closing]
        marked.append((start + shift, end + shift + len(opening) + len(closing)))
        shift += len(opening) + len(closing)
        last = end
    pieces.append(text[last:])
    return "".join(pieces), marked


def _inside(spans: Sequence[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of spans within [start, end), shifted to index text[start:end]."""
    return [(max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start]


_NO_LINE_START = frozenset("，。、；：！？）》」』】〉〕］｝”’…·％")


_LATIN_WORD_CHAR = re.compile(r"[0-9A-Za-z_\-.'/@:]")


def wrap_ranges(text: str, width: int, keep: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """[start, end) of each line of text wrapped at width columns (wide characters count two).

    A line breaks between characters, but not inside a Latin word (or a path, a
    number) or a span of keep (sorted, such as highlights) that can move whole to
    the next line, and not before closing punctuation (、。」); spaces at a break
    are dropped.
    """
    ranges: list[tuple[int, int]] = []
    start, column, index = 0, 0, 0
    while index < len(text):
        w = char_width(text[index])
        if column + w <= width or index == start:
            column += w
            index += 1
            continue
        end = index
        word = end
        while word > start and _LATIN_WORD_CHAR.match(text[word - 1]) and _LATIN_WORD_CHAR.match(text[end]):
            word -= 1
        for s, e in keep:
            if s < end < e:
                word = min(word, s)
        if start < word < end and display_width(text[start:word]) >= width // 2:
            end = index = word  # the word (or the highlight) moves to the next line
        elif text[end] in _NO_LINE_START:
            back = end - 1  # the character before goes down with it, or a highlight whole
            for s, e in keep:
                if s <= back < e:
                    back = min(back, s)
            if start < back and display_width(text[start:back]) >= width // 2:
                end = index = back
        ranges.append((start, len(text[start:end].rstrip()) + start))
        while index < len(text) and text[index] == " ":
            index += 1
        start, column = index, 0
    if start < len(text):
        ranges.append((start, len(text)))
    return ranges or [(0, 0)]


def cut_to_width(text: str, width: int) -> str:
    """text cut to width columns, ending in ``…`` when something was cut."""
    if display_width(text) <= width:
        return text
    kept, column = [], display_width(highlight.ELLIPSIS)
    for char in text:
        column += display_width(char)
        if column > width:
            break
        kept.append(char)
    return "".join(kept).rstrip() + highlight.ELLIPSIS


def snippet_lines_for(rows: int | None, header_lines: int, hits: int) -> int:
    """Lines each snippet may take so that a page of hits fits in rows terminal lines.

    Two when the page fits with two, else one (a 40-line terminal shows ten hits
    with their header at one line each: ten hits of four lines would not fit). No
    rows known (output to a file or a pipe): two.
    """
    if rows is None:
        return 2
    return 2 if header_lines + hits * (HIT_FIXED_LINES + 2) <= rows else 1


def results_text(results: SearchResults, *, color: bool, offset: int = 0,
                 width: int | None = None, rows: int | None = None,
                 whole_snippets: bool = False) -> str:
    """Human-readable results, with notices about partial matches and undated documents.

    With width (the columns a line may take) every line fits in it; each snippet
    then takes one or two lines, as many as let the page fit in rows lines (see
    ``snippet_lines_for``), or all the lines it needs with whole_snippets (the
    user asked for a length). Without width, as many as they need, unwrapped.
    The overview of the whole result set (see overview_line) is the line under the
    header, fitted to width columns (80 without width).
    """
    lines = []
    query = shorten_query(results.query)
    if results.total == 0:
        lines.append(f"No results for {query}.")
    elif not results.hits:
        lines.append(f"{plural(results.total, 'result', count=results.total_text())} for "
                     f"{query}, none on this page (it starts at {offset + 1}).")
    else:
        last = offset + len(results.hits)
        lines.append(f"{plural(results.total, 'result', count=results.total_text())} for "
                     f"{query} (showing {offset + 1}–{last}, "
                     f"{results.elapsed * 1000:.0f} ms)")
    if results.total:
        lines += filter(None, [overview_line(results.facets, width or 80, color=color)])
    if results.partial:
        lines.append("No document contains every word; showing the best partial matches.")
    elif results.partial_from is not None:
        lines.append(f"{plural(results.complete, 'document')} {'has' if results.complete == 1 else 'have'} "
                     f"every word; from {results.complete + 1} on, some of them.")
    if results.undated_excluded:
        n = results.undated_excluded
        lines.append(f"{plural(n, 'matching document')} without a known date "
                     f"{'were' if n != 1 else 'was'} left out by the date filter.")
    if results.partial_shards:
        lines.append(f"Not searched, cannot be read: {sanitize(', '.join(results.partial_shards))} "
                     "(their documents are missing from these results).")
    if results.folded:
        lines.append(folded_line(results.folded))
    if results.hits:
        lines.append("")
    similar = [similar_lines(hit, color=color, width=width) for hit in results.hits]
    snippet_lines = None if whole_snippets else snippet_lines_for(
        rows, len(lines) + sum(map(len, similar)), len(results.hits))
    for number, (hit, copies) in enumerate(zip(results.hits, similar), offset + 1):
        lines.extend(hit_lines(number, hit, color=color, width=width, snippet_lines=snippet_lines))
        lines.extend(copies)
    return "\n".join(lines)


SIMILAR_SHOWN = 3
"""Copies named under a hit; more are counted only (``--json`` has them all)."""


def similar_lines(hit: Hit, *, color: bool, width: int | None = None) -> list[str]:
    """The line under a hit naming the copies folded under it: ``+1 similar: 001 羊城晚报 2022-02-18``.

    Cut to width columns when given.
    """
    if not hit.duplicates:
        return []
    named = [" ".join(x for x in (sanitize(copy.id), sanitize(copy.source),
                                   copy.date.isoformat() if copy.date else "") if x)
             for copy in hit.duplicates[:SIMILAR_SHOWN]]
    if len(hit.duplicates) > SIMILAR_SHOWN:
        named.append("…")
    line = f"+{len(hit.duplicates)} similar: {'; '.join(named)}"
    if width is not None:
        line = cut_to_width(line, max(10, width - HIT_INDENT))
    return [f"{' ' * HIT_INDENT}{DIM}{line}{RESET}" if color else f"{' ' * HIT_INDENT}{line}"]


def clusters_text(clusters: Sequence[DuplicateCluster]) -> str:
    """Clusters of near-duplicates for people: per cluster, its documents and their similarity."""
    if not clusters:
        return "No near-duplicate documents."
    copies = sum(len(cluster.documents) for cluster in clusters)
    lines = [f"{plural(len(clusters), 'cluster')} of near-duplicates ({plural(copies, 'document')}):"]
    for number, cluster in enumerate(clusters, 1):
        lines.append("")
        for position, document in enumerate(cluster.documents):
            share = f"{number:>3}." if position == 0 else f"{document.similarity:>4.0%}"
            meta = " · ".join(x for x in (sanitize(document.source),
                                          document.date.isoformat() if document.date else "") if x)
            title = sanitize(document.title) or ""
            lines.append(" ".join(x for x in (share, sanitize(document.id), title, meta and f"({meta})") if x))
    return "\n".join(lines)


def folded_line(folded: int) -> str:
    """The notice that some hits were folded under copies of theirs."""
    return (f"{plural(folded, 'hit')} repeating a better one {'is' if folded == 1 else 'are'} "
            "folded under it (--all or :all shows every hit).")


def to_json(value) -> str:
    """value as one line of JSON: CJK kept readable, control and bidi characters escaped."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    # These can only occur inside JSON strings, where a \uXXXX escape means the same.
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def results_json(results: SearchResults) -> str:
    """The one JSON object of the --json output contract."""
    return to_json(results.to_json())


def document_text(document: Document, *, color: bool, spans: Sequence[tuple[int, int]] = (),
                  original: bool = False, width: int | None = None) -> str:
    """A whole document for reading: title, metadata, text.

    The text keeps its lines and paragraphs; with a width (terminal columns) each
    line is wrapped to it (see ``wrap_spans``). ``original`` shows the text and the
    title in the document's own script.
    """
    title = sanitize(document.original_title if original else document.title) or sanitize(document.id)
    fields = [("id", document.id), ("path", document.path), ("source", document.source),
              ("date", document.date.isoformat() if document.date else "unknown"),
              ("url", document.url)]
    title_lines = [title[start:end] for start, end in wrap_spans(title, width)]
    lines = [f"{BOLD}{line}{RESET}" if color else line for line in title_lines]
    lines += [f"{name}: {sanitize(value)}" for name, value in fields if value]
    lines.append("")
    body = document.original if original else document.text
    lines.append(document_body(body, spans, color=color, width=width))
    return "\n".join(lines)


def document_body(text: str, spans: Sequence[tuple[int, int]] = (), *, color: bool,
                  width: int | None = None) -> str:
    """A document's text as lines for a terminal, matches (spans of text) marked.

    Its lines stay lines and its blank lines (paragraph breaks) stay; with a width,
    each line is wrapped to it. A match cut by a wrap is marked on both lines.
    """
    spans = sorted(spans)
    out = []
    for start, end in wrap_spans(text, width):
        first = bisect.bisect_left(spans, (start, start)) - 1
        inside = [(max(s, start) - start, min(e, end) - start)
                  for s, e in spans[max(0, first):] if s < end and e > start]
        piece = text[start:end]
        out.append(mark(piece, inside, color=color) if inside else sanitize(piece))
        # spans are few next to lines: the bisect keeps this linear in the text
    return "\n".join(out)


# -- wrapping text to the terminal's width ---------------------------------------------------

# Characters a terminal shows two columns wide (Chinese, Japanese, Korean, full-width
# forms); display_width decides the width itself, this class only where a line may break.
_WIDE = ("\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
         "\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6"
         "\U0001f300-\U0001f64f\U0001f900-\U0001f9ff\U00020000-\U0003fffd")
# Punctuation that never starts a line, and that never ends one.
_CLOSING = re.escape("，。、；：！？）》」』】〉〕］｝”’…·％,.;:!?)]}%")
_OPENING = re.escape("（《「『【〈〔［｛“‘([{")
# What a line breaks between: a run of spaces; one wide character; a run of other
# characters (a Latin word, a number, a path, never cut); each with the opening
# punctuation before it and the closing punctuation after it.
_PIECE_RE = re.compile(
    rf"\s+|[{_OPENING}]*(?:[{_WIDE}]|[^\s{_WIDE}]+?(?=[{_CLOSING}]*(?:\s|[{_WIDE}]|$)))[{_CLOSING}]*"
)


def wrap_spans(text: str, width: int | None) -> list[tuple[int, int]]:
    """The ``[start, end)`` spans of text that make its lines on a terminal width columns wide.

    Every line of text (``\\n``) is one or more terminal lines; a long one breaks at
    spaces (dropped at the break) and around wide characters, never inside a run of
    other characters (``network`` is never ``netwo`` + ``rk``) unless the run alone is
    wider than the terminal, and never before closing punctuation (，。」) or after
    opening punctuation (「（). Leading spaces stay on a line's first terminal line.
    Without a width, each line of text is one terminal line.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        if width is None or len(line) * 2 <= width or display_width(line) <= width:
            spans.append((start, end))
        else:
            spans.extend(_wrap_line(text, start, end, max(1, width)))
        start = end + 1
    return spans


def _wrap_line(text: str, start: int, end: int, width: int) -> list[tuple[int, int]]:
    """The terminal lines of text[start:end], one line of text wider than width."""
    spans: list[tuple[int, int]] = []
    line_start, line_end, used = start, start, 0
    for match in _PIECE_RE.finditer(text, start, end):
        piece_start, piece_end = match.span()
        piece = match.group()
        if piece[0].isspace():
            if line_end == line_start and spans:  # no spaces at the start of a wrapped line
                line_start = line_end = piece_end
            else:
                used += display_width(piece)
            continue
        columns = display_width(piece)
        if used + columns <= width:
            used += columns
            line_end = piece_end
            continue
        if line_end > line_start:
            spans.append((line_start, line_end))
        line_start = piece_start
        while columns > width:  # a word wider than the terminal: cut where it must be
            cut = _fitting(text, line_start, piece_end, width)
            spans.append((line_start, cut))
            line_start = cut
            columns = display_width(text[cut:piece_end])
        line_end, used = piece_end, columns
    if line_end > line_start or not spans:
        spans.append((line_start, max(line_start, line_end)))
    return spans


def reading_width(stream) -> int | None:
    """The columns to wrap a document to for output to stream, or None: do not wrap.

    ``COLUMNS`` when set to a number; else the width of the terminal that stream, or
    else standard error, is (``searchkit show ID | less`` wraps to the terminal, as
    ``man`` does); else (output to a file or a pipe, no terminal at all) None.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for candidate in (stream, sys.stderr):
        try:
            if candidate.isatty():
                return os.get_terminal_size(candidate.fileno()).columns
        except (AttributeError, ValueError, OSError):
            continue
    return None


def _fitting(text: str, start: int, end: int, width: int) -> int:
    """The end of the longest text[start:x] (at least one character) fitting in width columns."""
    used = 0
    for index in range(start, end):
        used += display_width(text[index])
        if used > width:
            return max(start + 1, index)
    return end


def document_json(document: Document) -> str:
    """A whole document as JSON."""
    return to_json({
        "id": document.id, "path": document.path, "title": document.title,
        "original_title": document.original_title,
        "date": document.date.isoformat() if document.date else None,
        "source": document.source, "url": document.url, "text": document.text,
        "original": document.original, "metadata": document.metadata,
    })


def sources_text(sources: dict[str, int]) -> str:
    """Source names and counts, aligned."""
    if not sources:
        return "No sources."
    width = max(display_width(sanitize(name)) for name in sources)
    return "\n".join(f"{pad(sanitize(name), width)}  {count}" for name, count in sources.items())


def stats_text(stats: IndexStats) -> str:
    """Index statistics for people."""
    span = (f"{stats.earliest} … {stats.latest}" if stats.earliest else "none")
    lines = [
        f"index:      {stats.path}",
        f"documents:  {stats.documents} ({stats.undated} without a date)",
        f"dates:      {span}",
        f"sources:    {len(stats.sources)}",
        f"size:       {stats.size_bytes / 1e6:.2f} MB",
        f"segmenter:  {stats.analyzer.get('segmenter')}"
        + (" + user dictionary" if stats.analyzer.get("userdict") else ""),
    ]
    if stats.shards:
        lines.append(f"shards:     {len(stats.shards)}")
        width = max(display_width(sanitize(str(shard["name"]))) for shard in stats.shards)
        lines.extend(_shard_line(shard, width) for shard in stats.shards)
    return "\n".join(lines)


def _shard_line(shard: dict, width: int) -> str:
    """One shard of a sharded index, for stats_text (its name padded to width, so figures align)."""
    name = pad(sanitize(str(shard["name"])), width)
    if "error" in shard:
        return f"  {name}  cannot be read: {sanitize(str(shard['error']))}"
    line = f"  {name}  {plural(shard['documents'], 'document')}, {shard['size_bytes'] / 1e6:.2f} MB"
    if shard.get("worker"):  # served by a Dask actor
        line += f", served by {sanitize(str(shard['worker']))}"
    return line


def report_text(report: IndexReport) -> str:
    """The summary of an indexing run: one line, and a second counting files not text, if any.

    ``"203 files not text (png 201, svg 2)"``: one line for all of them, where
    each used to get a warning of its own.
    """
    line = not_text_line(report.not_text)
    return report.summary() + (f"\n{line}" if line else "")


# -- small words of the faces: plurals, long queries, colour, progress ----------------------

QUERY_ECHO_WIDTH = 40
"""Terminal columns a query takes at most where output repeats it ("5 results for ...")."""


def plural(n: int, noun: str, plural_noun: str | None = None, *, count: str | None = None) -> str:
    """``"1 document"``, ``"2 documents"``: n and the noun in the right number.

    count, when given, is printed instead of n (``"about 12,345"``).
    """
    word = noun if n == 1 else (plural_noun or noun + "s")
    return f"{n if count is None else count} {word}"


def shorten_query(query: str, width: int = QUERY_ECHO_WIDTH) -> str:
    """A query as output repeats it: sanitized, on one line, cut to width columns.

    A longer query keeps its start, an ellipsis and its length:
    ``"韶关 数据中心 改革 民政… [1,199 characters]"`` (JSON always has it whole).
    """
    text = " ".join(sanitize(query).split())
    if display_width(text) <= width:
        return text
    tail = f"… [{len(query):,} characters]"
    room, head = width - display_width(tail), []
    for char in text:
        room -= display_width(char)
        if room < 0:
            break
        head.append(char)
    return "".join(head).rstrip() + tail


COLOR_CHOICES = ("auto", "always", "never")


def use_color(choice: str, stream) -> bool:
    """Whether output to stream gets colour under ``--color choice``.

    ``auto`` colours a terminal only, and not when NO_COLOR is set to anything but
    the empty string (https://no-color.org) or TERM is ``dumb``; ``always`` and
    ``never`` are what the user asked for, NO_COLOR or not.
    """
    if choice in ("always", "never"):
        return choice == "always"
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        terminal = False
    return terminal and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def progress_text(done: int, total: int, rate: float | None, width: int = 80,
                  label: str = "indexing") -> str:
    """The indexing progress line, at most width - 1 columns.

    ``indexing [#######.......] 12.3/84.0 MB  1.2 MB/s  0:58 left``; rate is in
    bytes a second (None until it is known). The bar shrinks on a narrow terminal.
    label replaces 'indexing' (for shards: 'indexing shards').
    """
    digits = 2 if total < 10e6 else 1
    size = f"{done / 1e6:.{digits}f}/{total / 1e6:.{digits}f} MB"
    extra = ""
    if rate:
        speed = f"{rate / 1e6:.1f} MB/s" if rate >= 1e6 else f"{rate / 1e3:.0f} kB/s"
        extra = f"  {speed}  {_clock(max(0, total - done) / rate)} left"
    bar_width = min(30, width - 1 - len(f"{label} [] {size}{extra}"))
    if bar_width < 5:  # too narrow for a bar: the numbers alone
        return f"{label} {size}{extra}"[:max(0, width - 1)]
    filled = bar_width * min(done, total) // max(total, 1)
    return f"{label} [{'#' * filled}{'.' * (bar_width - filled)}] {size}{extra}"


def _clock(seconds: float) -> str:
    """seconds as m:ss, or h:mm:ss from an hour."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- the overview of a result set: a line under the header, and the timeline ----------------

OVERVIEW_GAP = "   "
"""Between the sources and the periods of the overview line."""
TIMELINE_ROWS = 24
"""Periods the timeline draws at most: more years are drawn in buckets of several."""
TIMELINE_BAR = 60
"""Columns the longest bar of the timeline takes at most (fewer on a narrow terminal)."""
_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL_BLOCK = "█"
_SPARKS = " ▁▂▃▄▅▆▇█"
_BUCKET_YEARS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def overview_line(facets: Facets | None, width: int = 80, *, color: bool = False) -> str | None:
    """The overview of a whole result set on one line of at most width - 1 columns.

    ``Sources: 南方日报 12 · 新华社 5 · others 3   Years: 2021 4 · 2022 16 · undated 2``.
    When that is too long: fewer sources (the rest as ``others``), then the
    periods as a sparkline from the first to the last (``2009 ▂▅█ ▃ 2022``, a
    blank for a period without hits); None when there is nothing to say (no
    sources, no dates).
    """
    if facets is None:
        return None
    room = max(20, width - 1)
    names = [(sanitize(name), n) for name, n in facets.sources.items()]
    full, spark = (_periods_full(facets), _periods_spark(facets)) if facets.periods else ("", "")
    counts = list(range(len(names), 0, -1)) or [0]
    candidates = [(k, full) for k in counts if k >= min(3, len(names))] + [(k, spark) for k in counts]
    for count, periods in candidates:
        line = _join_overview(_sources_part(names, count), periods)
        if display_width(line) <= room:
            return _dim(line, color) if line else None
    return _dim(_cut(_join_overview(_sources_part(names, 1), spark), room), color)


def _sources_part(names: list[tuple[str, int]], count: int) -> str:
    """``Sources: A 12 · B 5 · others 3``: count sources named (all when one more would be left)."""
    if not names:
        return ""
    if count >= len(names) - 1:
        count = len(names)
    parts = [f"{name} {n:,}" for name, n in names[:count]]
    rest = sum(n for _, n in names[count:])
    if rest:
        parts.append(f"others {rest:,}")
    return "Sources: " + " · ".join(parts)


def _periods_full(facets: Facets) -> str:
    parts = [f"{period} {n:,}" for period, n in facets.periods.items()]
    return f"{facets.by.capitalize()}s: " + " · ".join(parts + _undated_part(facets))


def _periods_spark(facets: Facets) -> str:
    """``2009 ▂▅█ ▃ 2022 · undated 2``: a column a period (or span of years, see timeline_rows)."""
    rows, _ = timeline_rows(facets)
    most = max(n for _, n in rows)
    spark = "".join(_SPARKS[-(-n * (len(_SPARKS) - 1) // most)] for _, n in rows)  # rounded up
    periods = list(facets.periods)
    return " · ".join([f"{periods[0]} {spark} {periods[-1]}", *_undated_part(facets)])


def _undated_part(facets: Facets) -> list[str]:
    return [f"undated {facets.undated:,}"] if facets.undated else []


def _join_overview(sources: str, periods: str) -> str:
    return OVERVIEW_GAP.join(part for part in (sources, periods) if part)


def _dim(text: str, color: bool) -> str:
    return f"{DIM}{text}{RESET}" if color else text


def _cut(text: str, room: int) -> str:
    """text cut to room columns, an ellipsis marking the cut."""
    kept, used = [], 0
    for char in text:
        used += display_width(char)
        if used > room - 1:
            return "".join(kept) + "…"
        kept.append(char)
    return text


def timeline_text(results: SearchResults, width: int = 80, *, color: bool = False) -> str:
    """Hits per period of a whole result set as horizontal bars, one period a line.

    Every period from the first hit's to the last's is drawn, those without
    hits as 0, so the time axis is even; more than TIMELINE_ROWS years are
    drawn in buckets of 2, 5, 10... years. Bars are cut in eighths of a
    column (▏▎▍▌▋▊▉█), the longest filling the width; a period with hits
    always shows at least ▏.
    """
    facets = results.facets
    query = shorten_query(results.query)
    if facets is None or results.total == 0:
        return f"No results for {query}."
    dated = sum(facets.periods.values())
    if not dated:
        # facets.undated is exact, also where the total is an estimate
        return f"Nothing to draw: no known date on {plural(facets.undated, 'result', count=f'{facets.undated:,}')} for {query}."
    rows, unit = timeline_rows(facets)
    undated = f", {facets.undated:,} undated not drawn" if facets.undated else ""
    title = f"{plural(dated, 'dated result')} for {query} {unit}{undated}"
    label_width = max(display_width(label) for label, _ in rows)
    count_width = max(len(f"{n:,}") for _, n in rows)
    bar_room = max(8, min(TIMELINE_BAR, width - 1 - label_width - count_width - 4))
    most = max(n for _, n in rows)
    lines = [f"{BOLD}{title}{RESET}" if color else title, ""]
    for label, n in rows:
        lines.append(f"{pad(label, label_width)}  {n:>{count_width},}  {bar(n, most, bar_room)}".rstrip())
    return "\n".join(lines)


def bar(value: int, most: int, room: int) -> str:
    """A horizontal bar of value against most filling room columns, in eighths of a column."""
    if value <= 0 or most <= 0:
        return ""
    eighths = max(1, round(value * room * 8 / most))
    full, part = divmod(eighths, 8)
    return _FULL_BLOCK * full + (_EIGHTHS[part] if part else "")


def timeline_rows(facets: Facets) -> tuple[list[tuple[str, int]], str]:
    """(label, hits) of every period from the first to the last, and how they are counted.

    Months: every month between (at most facets.MONTHS_WITHIN of them). Years:
    every year, or buckets of several years (``2010–2014``) aligned on multiples
    of their size, as few as keep the rows at most TIMELINE_ROWS.
    """
    if facets.by == "month":
        counts = {_month_index(period): n for period, n in facets.periods.items()}
        first, last = min(counts), max(counts)
        return ([(f"{m // 12:04d}-{m % 12 + 1:02d}", counts.get(m, 0)) for m in range(first, last + 1)],
                "by month")
    counts = {int(period): n for period, n in facets.periods.items()}
    first, last = min(counts), max(counts)
    size = next((s for s in _BUCKET_YEARS if last // s - first // s < TIMELINE_ROWS), _BUCKET_YEARS[-1])
    if size == 1:
        return [(str(year), counts.get(year, 0)) for year in range(first, last + 1)], "by year"
    rows = []
    for start in range(first // size * size, last + 1, size):
        total = sum(counts.get(year, 0) for year in range(start, start + size))
        rows.append((f"{start}–{start + size - 1}", total))
    return rows, f"in spans of {size} years"


def _month_index(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1
