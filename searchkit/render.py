"""Turning results into text for people and JSON for programs (CLI and shell alike)."""

from __future__ import annotations

import json
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
    if results.total == 0:
        lines.append(f"No results for {sanitize(results.query)}.")
    elif not results.hits:
        lines.append(f"{results.total_text()} result{'s' if results.total != 1 else ''} for "
                     f"{sanitize(results.query)}, none on this page (it starts at {offset + 1}).")
    else:
        last = offset + len(results.hits)
        lines.append(f"{results.total_text()} result{'s' if results.total != 1 else ''} for "
                     f"{sanitize(results.query)} (showing {offset + 1}–{last}, "
                     f"{results.elapsed * 1000:.0f} ms)")
    if results.partial:
        lines.append("No document contains every word; showing the best partial matches.")
    if results.undated_excluded:
        n = results.undated_excluded
        lines.append(f"{n} matching document{'s' if n != 1 else ''} without a known date "
                     f"{'were' if n != 1 else 'was'} left out by the date filter.")
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
    return "\n".join(lines)


def report_text(report: IndexReport) -> str:
    """The summary of an indexing run: one line, and a second counting files not text, if any.

    ``"203 files not text (png 201, svg 2)"``: one line for all of them, where
    each used to get a warning of its own.
    """
    line = not_text_line(report.not_text)
    return report.summary() + (f"\n{line}" if line else "")
