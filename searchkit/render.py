"""Turning results into text for people and JSON for programs (CLI and shell alike)."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Sequence

from .errors import IndexMismatchError, IndexNotFoundError
from .models import Document, Hit, IndexReport, IndexStats, SearchResults, not_text_line

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


def hit_lines(number: int, hit: Hit, *, color: bool) -> list[str]:
    """The lines of one hit: title, metadata, snippet."""
    title = sanitize(hit.title) or sanitize(hit.id)
    meta = " · ".join(x for x in (sanitize(hit.source), hit.date.isoformat() if hit.date else "",
                                  sanitize(hit.id)) if x)
    heading = f"{number:>3}. {BOLD}{title}{RESET}" if color else f"{number:>3}. {title}"
    meta_line = f"     {DIM}{meta}{RESET}" if color else f"     {meta}"
    return [heading, meta_line, "     " + mark(hit.snippet, hit.highlights, color=color)]


def results_text(results: SearchResults, *, color: bool, offset: int = 0) -> str:
    """Human-readable results, with notices about partial matches and undated documents."""
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
    if results.partial:
        lines.append("No document contains every word; showing the best partial matches.")
    if results.undated_excluded:
        n = results.undated_excluded
        lines.append(f"{plural(n, 'matching document')} without a known date "
                     f"{'were' if n != 1 else 'was'} left out by the date filter.")
    if results.partial_shards:
        lines.append(f"Not searched, cannot be read: {sanitize(', '.join(results.partial_shards))} "
                     "(their documents are missing from these results).")
    for number, hit in enumerate(results.hits, offset + 1):
        lines.append("")
        lines.extend(hit_lines(number, hit, color=color))
    return "\n".join(lines)


def to_json(value) -> str:
    """value as one line of JSON: CJK kept readable, control and bidi characters escaped."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    # These can only occur inside JSON strings, where a \uXXXX escape means the same.
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def results_json(results: SearchResults) -> str:
    """The one JSON object of the --json output contract."""
    return to_json(results.to_json())


def document_text(document: Document, *, color: bool, spans: Sequence[tuple[int, int]] = (),
                  original: bool = False) -> str:
    """A whole document for reading: title, metadata, text."""
    title = sanitize(document.title) or sanitize(document.id)
    fields = [("id", document.id), ("path", document.path), ("source", document.source),
              ("date", document.date.isoformat() if document.date else "unknown"),
              ("url", document.url)]
    lines = [f"{BOLD}{title}{RESET}" if color else title]
    lines += [f"{name}: {sanitize(value)}" for name, value in fields if value]
    lines.append("")
    body = document.original if original else document.text
    lines.append(mark(body, spans, color=color) if spans else sanitize(body, keep_newlines=True))
    return "\n".join(lines)


def document_json(document: Document) -> str:
    """A whole document as JSON."""
    return to_json({
        "id": document.id, "path": document.path, "title": document.title,
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
        lines.extend(_shard_line(shard) for shard in stats.shards)
    return "\n".join(lines)


def _shard_line(shard: dict) -> str:
    """One shard of a sharded index, for stats_text."""
    name = sanitize(str(shard["name"]))
    if "error" in shard:
        return f"  {name}  cannot be read: {sanitize(str(shard['error']))}"
    return f"  {name}  {shard['documents']} documents, {shard['size_bytes'] / 1e6:.2f} MB"


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


def progress_text(done: int, total: int, rate: float | None, width: int = 80) -> str:
    """The indexing progress line, at most width - 1 columns.

    ``indexing [#######.......] 12.3/84.0 MB  1.2 MB/s  0:58 left``; rate is in
    bytes a second (None until it is known). The bar shrinks on a narrow terminal.
    """
    digits = 2 if total < 10e6 else 1
    size = f"{done / 1e6:.{digits}f}/{total / 1e6:.{digits}f} MB"
    extra = ""
    if rate:
        speed = f"{rate / 1e6:.1f} MB/s" if rate >= 1e6 else f"{rate / 1e3:.0f} kB/s"
        extra = f"  {speed}  {_clock(max(0, total - done) / rate)} left"
    bar_width = min(30, width - 1 - len(f"indexing [] {size}{extra}"))
    if bar_width < 5:  # too narrow for a bar: the numbers alone
        return f"indexing {size}{extra}"[:max(0, width - 1)]
    filled = bar_width * min(done, total) // max(total, 1)
    return f"indexing [{'#' * filled}{'.' * (bar_width - filled)}] {size}{extra}"


def _clock(seconds: float) -> str:
    """seconds as m:ss, or h:mm:ss from an hour."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
