"""Read files into ``Document`` objects: decoding, markup, metadata.

``load_corpus`` walks files and directories and yields one ``Document`` at a
time. Formats are detected by extension and content:

* ``.jsonl``: one JSON object per line with the fields ``id``, ``title``,
  ``text``, ``date``, ``source``, ``url`` (all optional but ``text``); any
  other field goes to ``Document.metadata``. A bad line is reported with its number and why,
  and skipped: not UTF-8, not a JSON object, nested over 100 levels, a known
  field that is not a string (``id`` may be an integer), an integer too long
  for Python to read, no text. NaN and Infinity become null, lone surrogates
  U+FFFD. A ``date`` that is not one is reported, the record kept without it.
* HTML (``.html``/``.htm``, or content that starts like an HTML page): title
  and ``<meta>`` tags (og:title, description, article:published_time, og:url,
  author, source, og:site_name), body text with paragraph breaks; scripts,
  styles, navigation, headers, footers and asides are dropped.
* Text or Markdown, optionally opened by a YAML front matter block (``---``)
  with ``title``, ``date``, ``source``, ``url``, ``categories``, ``tags``...;
  an HTML body (``<p>`` paragraphs) is turned into plain text.
* Manual pages (roff: ``*.1`` ... ``*.9``, or text opening with roff requests
  such as ``.TH`` or ``.\\"``), read by searchkit.roff, titled by their NAME line.
* ``*.gz``: decompressed (at most ``MAX_GZIP_SIZE`` bytes, so a gzip bomb is
  refused) and read by its inner name (``ls.1.gz`` is a manual page).

Encodings: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030 and Big5,
Windows-1252 for Western text. A file valid but for a few bytes (at most
``MAX_UNDECODABLE_SHARE``, 1%) is read with U+FFFD in their place and one
warning giving their count. Binary (a NUL byte in the first 8 KiB), mostly
undecodable and empty files are skipped with a one-line warning. Escape
sequences and control characters are removed (``normalize.clean_text``).

Metadata is taken, in this order of precedence, from the sidecar file, the
front matter or HTML meta tags, and lines the text carries: ``来源:...`` /
``（文章来源：...）``, ``原标题:《...》``, a date line near the top
(``2021-04-12 23:00``), a byline (``记者｜...``), an editor line
(``（责任编辑：...）``), a ``<http://...>`` link line. The labels, in both
scripts (``來源``/``来源``...), are data: ``searchkit/data/labels.json``. Without a title, the
leading heading lines (or else the first sentence) give one. Dates are never
invented: a document without one has ``date=None``. Source names are mapped
to one canonical name per outlet (``canonical_source``, see searchkit.sources)
with the alias table ``searchkit/data/sources.json``.

``Document.id`` is the file's path relative to the directory given (POSIX
style), or its file name when the file itself was given; a JSON Lines record
uses its ``id`` field, or ``<file id>#<line number>``. ``Document.path`` is the
real absolute path of the file (links resolved), so it stays valid wherever
the index is used from. In both, the bytes of a name that is not UTF-8 read as
``%XX`` (``path_to_text``; ``path_from_text`` gives the path back).

Walking a directory (``iter_corpus_files``) follows symbolic links, each real
file once, and leaves out hidden files and files that are not text (images,
style sheets, fonts...: counted, not warned about one by one); see there.

Sidecar metadata
----------------
A directory given to ``load_corpus`` may hold a TOML file named
``searchkit-meta.toml``. Each table is named after a file, relative to that
directory (quote names with dots), and overrides what was extracted from it
(for a JSON Lines file, from each of its records)::

    ["001_cbd37f1b4b68be5e.txt"]
    title = "韶关 凝心聚力深化改革 开创高质量发展新局面"
    date = 2022-02-18          # a TOML date or a "YYYY-MM-DD" string
    source = "羊城晚报"
    url = "http://example.com/article"

    ["sub/dir/page.html"]
    source = "南方日报"

    [aliases]                  # extra source aliases: canonical = [aliases]
    "南方日报" = ["南方日?qǐng)?bào)", "NFRB"]

Every key is optional; ``aliases`` is reserved for the alias table. The
sidecar of the directory that holds a file given on its own applies to it too.
A sidecar that does not parse is ignored; an entry that is not a table, an
unknown key, a value of the wrong type or an alias that is not a string is
ignored on its own. Each is reported in one line.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import errno
import functools
import gzip
import hashlib
import io
import json
import math
import os
import re
import stat as _stat
import sys
import tomllib
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from searchkit.errors import LoadError
from searchkit.models import Document, not_text_line
from searchkit.normalize import (
    NORMALIZER_VERSION,
    VERBATIM,
    clean_text,
    collapse_spaces,
    is_site_chrome,
    normalize_text,
    remove_control_sequences,
)
from searchkit.roff import looks_like_roff, roff_to_text
# The alias table lives in searchkit.sources; canonical_source stays importable from here.
from searchkit.sources import (Aliases, canonical_source, combine_aliases, known_source, lookup_for,
                               lookup_source)

__all__ = [
    "SIDECAR_NAME",
    "CorpusFile",
    "canonical_source",
    "Decoded",
    "MAX_GZIP_SIZE",
    "MAX_UNDECODABLE_SHARE",
    "decode_bytes",
    "decode_text",
    "html_to_text",
    "iter_corpus_files",
    "load_corpus",
    "load_file",
    "document_date",
    "not_text_line",
    "path_from_text",
    "path_to_text",
    "WalkSummary",
    "split_front_matter",
]

SIDECAR_NAME = "searchkit-meta.toml"

Warn = Callable[[str], None]


# --- decoding -----------------------------------------------------------


@functools.cache
def _common_cjk() -> frozenset[str]:
    """The frequent Chinese characters: GB2312 level 1 and Big5 level 1."""
    gb2312 = _double_bytes(range(0xB0, 0xD8), range(0xA1, 0xFF)).decode("gb2312", errors="ignore")
    trails = (*range(0x40, 0x7F), *range(0xA1, 0xFF))
    big5 = _double_bytes(range(0xA4, 0xC7), trails).decode("big5", errors="ignore")
    return frozenset(gb2312 + big5)


def _double_bytes(leads: Iterable[int], trails: Iterable[int]) -> bytes:
    trails = list(trails)
    return bytes(byte for lead in leads for trail in trails for byte in (lead, trail))


def _common_share(text: str) -> float:
    non_ascii = [char for char in text if ord(char) > 0x7F]
    if not non_ascii:
        return 0.0
    common = _common_cjk()
    return sum(char in common for char in non_ascii) / len(non_ascii)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# A text file never holds a NUL byte; binary formats do, near their start.
_BINARY_PROBE = 8192
# More undecodable bytes than this share and a file is not text in any
# encoding we know: a damaged text file has a handful of bad bytes (a cut
# download, one stray cp1252 quote), a binary file or a foreign encoding
# tens of percent. The wide gap makes the exact figure uncritical.
MAX_UNDECODABLE_SHARE = 0.01
# Chinese text decoded in the right encoding is mostly made of the frequent
# characters (GB2312 level 1 alone covers about 99% of running text); bytes
# that only happen to decode are not.
_PLAUSIBLE_CJK_SHARE = 0.5
_ESCAPED_BYTE_RE = re.compile("[\udc80-\udcff]")
_UTF8_MULTIBYTE_RE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


@dataclass(frozen=True)
class Decoded:
    """A file's text, the encoding it was read in and how many bytes were replaced."""

    text: str
    encoding: str
    replaced: int = 0


def decode_bytes(data: bytes) -> str | None:
    """Decode a file's bytes, or None if they look binary or mostly undecodable.

    See ``decode_text``; undecodable bytes become U+FFFD.
    """
    decoded = decode_text(data)
    return decoded.text if decoded else None


def decode_text(data: bytes) -> Decoded | None:
    """Decode a file's bytes: the text and how, or None for binary or undecodable data.

    UTF-8 (BOM optional) and UTF-16 with BOM; otherwise GB18030 or Big5,
    whichever decodes strictly to the higher share of common Chinese
    characters; text with no valid UTF-8 sequence, no plausible Chinese
    reading and sparse, isolated non-ASCII bytes is Windows-1252 (a superset
    of Latin-1's printable characters).
    Text valid but for a few bytes (at most ``MAX_UNDECODABLE_SHARE`` of
    them) is read with each bad byte replaced by U+FFFD; ``replaced`` counts
    them. A NUL byte in the first 8 KiB means binary.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_strict(data, encoding) or _decode_lenient(data, encoding)
    if b"\x00" in data[:_BINARY_PROBE]:
        return None
    decoded = _decode_strict(data, "utf-8")
    if decoded is not None:
        return decoded
    strict = [_decode_strict(data, encoding) for encoding in ("gb18030", "big5")]
    candidates = [decoded for decoded in strict if decoded is not None]
    # max() keeps the first of equals, so GB18030 wins ties.
    best = max(candidates, key=lambda decoded: _common_share(decoded.text), default=None)
    if best is not None and _common_share(best.text) >= _PLAUSIBLE_CJK_SHARE:
        return best
    lenient = _best_lenient(data)
    if lenient is not None:
        return lenient
    if _looks_western(data):
        legacy = _decode_strict(data, "cp1252")
        if legacy is not None:
            return legacy
    return best


# Western text in a legacy encoding: accented letters and typographic quotes,
# sparse and isolated between ASCII letters. Three in a row, or more than 30%
# of the bytes, is noise that merely happens to decode in Windows-1252.
_HIGH_BYTE_RUN_RE = re.compile(rb"[\x80-\xff]{3}")
_MAX_WESTERN_HIGH_SHARE = 0.3


def _looks_western(data: bytes) -> bool:
    """Whether bytes read like cp1252/Latin-1 text rather than UTF-8, CJK or noise."""
    high = sum(byte >= 0x80 for byte in data)
    return (not _UTF8_MULTIBYTE_RE.search(data) and not _HIGH_BYTE_RUN_RE.search(data)
            and high <= len(data) * _MAX_WESTERN_HIGH_SHARE)


def _best_lenient(data: bytes) -> Decoded | None:
    """The reading with the fewest bad bytes, if few enough, else None."""
    readings = []
    if _UTF8_MULTIBYTE_RE.search(data):
        readings.append(_decode_lenient(data, "utf-8"))
    for encoding in ("gb18030", "big5"):
        decoded = _decode_lenient(data, encoding)
        if decoded is not None and _common_share(decoded.text) >= _PLAUSIBLE_CJK_SHARE:
            readings.append(decoded)
    found = [decoded for decoded in readings if decoded is not None]
    return min(found, key=lambda decoded: decoded.replaced, default=None)


def _decode_strict(data: bytes, encoding: str) -> Decoded | None:
    try:
        return Decoded(data.decode(encoding), encoding)
    except UnicodeDecodeError:
        return None


def _decode_lenient(data: bytes, encoding: str) -> Decoded | None:
    """data with each undecodable byte as U+FFFD, or None if too many are."""
    try:
        text = data.decode(encoding, errors="surrogateescape")
    except UnicodeDecodeError:  # UTF-16 cannot escape a lone odd byte
        return None
    # surrogateescape turns each bad byte into one lone surrogate: count them.
    replaced = len(_ESCAPED_BYTE_RE.findall(text))
    if replaced > len(data) * MAX_UNDECODABLE_SHARE:
        return None
    return Decoded(_ESCAPED_BYTE_RE.sub("\ufffd", text), encoding, replaced)


# --- front matter -------------------------------------------------------

_FRONT_MATTER_RE = re.compile(
    r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M
)
_YAML_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_YAML_ITEM_RE = re.compile(r"^\s+-\s*(.*)$")
_YAML_QUOTED_RE = re.compile(r"""(["'])(.*?)\1\s*(?:#.*)?$""")
_YAML_COMMENT_RE = re.compile(r"\s+#.*$")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split a leading YAML front matter block off a text: (fields, body).

    Understands the simple ``key: value`` subset: quoted values, ``[a, b]``
    inline lists, ``- item`` block lists and ``#`` comments.
    """
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    return _parse_simple_yaml(match.group(1)), text[match.end():]


def _parse_simple_yaml(block: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    key = None
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _YAML_ITEM_RE.match(line)
        if item and key is not None:
            if not isinstance(fields[key], list):
                fields[key] = []
            fields[key].append(_yaml_scalar(item.group(1)))
            continue
        pair = _YAML_KEY_RE.match(line)
        if pair:
            key, value = pair.groups()
            fields[key] = _yaml_value(value)
    return fields


def _yaml_value(value: str) -> Any:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return [_yaml_scalar(item) for item in value[1:-1].split(",") if item.strip()]
    return _yaml_scalar(value)


def _yaml_scalar(value: str) -> str:
    quoted = _YAML_QUOTED_RE.match(value.strip())
    if quoted:
        return quoted.group(2)
    return _YAML_COMMENT_RE.sub("", value).strip()


# --- HTML ---------------------------------------------------------------

_SKIPPED_TAGS = {
    "script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg",
    "iframe", "form",
}
# Elements that stand as paragraphs of their own (a blank line before and after them)
# and elements that only start a new line.
_BLOCK_TAGS = {
    "p", "div", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section",
    "article", "main", "center", "blockquote", "pre", "figure", "figcaption", "hr", "address",
}
_LINE_TAGS = {"br", "li", "dt", "dd", "tr", "title"}
# While a page is parsed, a paragraph break is this character (no text holds it:
# handle_data turns whitespace into spaces, and the page's control characters are
# gone before parsing); see _HTMLText.text.
_PARAGRAPH = "\x1e"
_BREAKS_RE = re.compile(f"[ \t\n{_PARAGRAPH}]*[\n{_PARAGRAPH}][ \t\n{_PARAGRAPH}]*")
_HTML_PAGE_RE = re.compile(r"\A\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head)\b", re.I | re.S)
_HTML_BODY_RE = re.compile(r"<(?:p|br|div|img|center|strong|span|h[1-6]|table|li|a)\b[^>]*>", re.I)


# Page chrome that generators mark by role or by class/id, on page types the loader
# was not written for: DocBook/Publican (div#banner, ul.docnav, div.toc), Sphinx
# (div.sphinxsidebar, div.related, div.footer, a.headerlink), MediaWiki (#mw-navigation,
# #toc, .mw-editsection, #catlinks, #footer) and news sites (breadcrumbs, share bars,
# related-article lists). Tokens match whole: DocBook's div.sidebar is body text.
# Measured with benchmarks/html_extraction.py (see the commit that added this).
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "menu", "menubar"}
_CHROME_TOKEN_RE = re.compile(
    r"(?:nav|navbar|navbox|navigation|navheader|navfooter|docnav|menu|menubar|toc|toctitle"
    r"|breadcrumbs?|banner|footer|site-(?:header|footer|nav|menu)|page-(?:header|footer)"
    r"|sphinxsidebar(?:wrapper)?|headerlink|skip-?link|pagination|pager"
    r"|mw-(?:navigation|head|panel|editsection|jump-link|footer)|catlinks|printfooter"
    r"|share|social|share-?(?:bar|buttons)|related-(?:news|posts|articles|links)|copyright)"
)
# Elements that may stand without an end tag never start a chrome span: its end
# would never be seen and the rest of the page would be lost.
_OPEN_ENDED_TAGS = {
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "img", "input", "br", "hr", "meta",
    "link", "area", "base", "col", "embed", "source", "track", "wbr", "param",
}


def _is_chrome(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    if tag in _OPEN_ENDED_TAGS:
        return False
    for name, value in attrs:
        if not value:
            continue
        if name == "role" and value.strip().lower() in _CHROME_ROLES:
            return True
        if name in ("class", "id") and _chrome_value(value):
            return True
    return False


@functools.lru_cache(maxsize=4096)  # pages repeat a few class names thousands of times
def _chrome_value(value: str) -> bool:
    return any(_CHROME_TOKEN_RE.fullmatch(token) for token in value.lower().split())


class _HTMLText(HTMLParser):
    """Collects an HTML document's text, title and meta tags.

    Text inside page chrome (navigation, banners, footers, tables of contents,
    marked by tag, role, class or id) is left out; a page that is nothing but
    chrome keeps it, so that it still has a text.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.chrome_parts: list[str] = []
        self.title_parts: list[str] = []
        self.meta: dict[str, str] = {}
        self._skip_depth = 0
        self._chrome_tag: str | None = None
        self._chrome_depth = 0
        self._in_title = False
        self._in_pre = 0
        self._pre_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "meta":
            self._add_meta(dict(attrs))
        elif tag == "link":
            self._add_link(dict(attrs))
        elif tag == "title":
            self._in_title = True
        elif tag == "pre":
            self._in_pre += 1
        self._enter_chrome(tag, attrs)
        self._block_edge(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "pre" and self._in_pre:
            self._in_pre -= 1
            if not self._in_pre:
                self._end_preformatted()
        self._block_edge(tag)
        if tag == self._chrome_tag:
            self._chrome_depth -= 1
            if not self._chrome_depth:
                self._chrome_tag = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            if self._in_pre:
                self._pre_parts.append(data)
            else:
                self._append(re.sub(r"\s+", " ", data))

    def _block_edge(self, tag: str) -> None:
        """The break a block's start or end makes (none inside a preformatted block)."""
        if self._in_pre and tag != "pre":
            if tag == "br":
                self._pre_parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self._append(_PARAGRAPH)
        elif tag in _LINE_TAGS:
            self._append("\n")

    def _end_preformatted(self) -> None:
        """The preformatted block just read, as a paragraph of lines marked VERBATIM."""
        lines = "".join(self._pre_parts).splitlines()
        self._pre_parts = []
        while lines and not lines[0].strip():  # HTML drops the newline after <pre>
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            block = "\n".join(VERBATIM + line for line in lines)
            self._append(f"{_PARAGRAPH}{block}{_PARAGRAPH}")

    def close(self) -> None:
        super().close()
        if self._in_pre:  # a <pre> never closed runs to the end of the page
            self._in_pre = 0
            self._end_preformatted()

    def _enter_chrome(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Counts nested elements of the chrome span's tag, or starts a chrome span."""
        if self._chrome_tag is not None:
            self._chrome_depth += tag == self._chrome_tag
        elif _is_chrome(tag, attrs):
            self._chrome_tag, self._chrome_depth = tag, 1

    def _append(self, text: str) -> None:
        self.chrome_parts.append(text)
        if self._chrome_tag is None:
            self.parts.append(text)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """``<![...`` (CDATA and IE conditionals); anything else is a bogus comment.

        Before Python 3.13, the standard parser raises AssertionError on
        ``<![`` followed by no known keyword; browsers read it as a comment.
        """
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i, report)

    def _add_meta(self, attrs: dict[str, str | None]) -> None:
        name = (attrs.get("property") or attrs.get("name") or "").lower()
        content = attrs.get("content")
        if name and content and name not in self.meta:
            self.meta[name] = content.strip()

    def _add_link(self, attrs: dict[str, str | None]) -> None:
        if (attrs.get("rel") or "").lower() == "canonical" and attrs.get("href"):
            self.meta.setdefault("canonical", attrs["href"] or "")

    @property
    def text(self) -> str:
        """The page's text: lines, a blank line between paragraphs, preformatted
        lines marked VERBATIM."""
        text = "".join(self.parts)
        if not text.strip(f" \n{_PARAGRAPH}"):
            text = "".join(self.chrome_parts)
        return _BREAKS_RE.sub(_one_break, text)

    @property
    def title(self) -> str:
        return collapse_spaces("".join(self.title_parts))


def _one_break(match: re.Match[str]) -> str:
    """A run of breaks and spaces as one line break, or one paragraph break if it holds one."""
    return "\n\n" if _PARAGRAPH in match.group() else "\n"


def html_to_text(html: str) -> tuple[str, str, dict[str, str]]:
    """Text of an HTML page or fragment with paragraph breaks: (text, title, meta)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text, parser.title, parser.meta


# --- metadata carried by the text ---------------------------------------

_AUTOLINK_LINE_RE = re.compile(r"^[ \t]*<(https?://[^\s>]+)>[ \t]*$", re.M)
_LABELS_FILE = Path(__file__).with_name("data") / "labels.json"


@functools.cache
def _labels() -> dict[str, str]:
    """The metadata label table as regex alternations: kind -> ``来源|來源|...``.

    The labels are data (``searchkit/data/labels.json``), in both scripts;
    longer labels come first so ``发布时间`` wins over ``时间``.
    """
    table = json.loads(_LABELS_FILE.read_text(encoding="utf-8"))
    return {
        kind: "|".join(map(re.escape, sorted(labels, key=len, reverse=True)))
        for kind, labels in table.items()
        if not kind.startswith("_")
    }


@functools.cache
def _label_patterns() -> dict[str, re.Pattern[str]]:
    """The line patterns built from the label table."""
    labels = _labels()
    return {
        "source": re.compile(
            rf"[（(]?\s*(?:{labels['source']})\s*[:：]\s*([^\s）)]{{1,40}})\s*[）)]?(?:\s+\S.*)?"
        ),
        "original_title": re.compile(
            rf"(?:{labels['original_title']})\s*[:：]\s*《(.+?)》"
            rf"|(?:{labels['original_title']})\s*[:：]\s*(.+)"
        ),
        "date": re.compile(
            rf"(?:(?:{labels['date']})\s*[:：]\s*)?"
            r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
            r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?(?=\s|$)"
        ),
        "byline": re.compile(rf"(?:{labels['byline']})\s*[/／|｜:：]\s*\S.*"),
        "editor": re.compile(
            rf"[（(【\[]?\s*(?:{labels['editor']})\s*[:：]\s*([^\s）)】\]]{{1,20}})\s*[）)】\]]?"
        ),
    }


_HEADING_STOP_RE = re.compile(r"[。！？!?；;，,]")
_SENTENCE_END_RE = re.compile(r"[。！？!?\n]")
_CLAUSE_END_RE = re.compile(r"[，,、；;：:]")
_TOP_LINES = 12
_TITLE_LENGTH = 30


def document_date(value: Any) -> dt.date | None:
    """A date from a date/datetime object or a string starting with one, else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    match = re.match(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})", value)
    return _valid_date(*match.groups()) if match else None


def _valid_date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _content_lines(text: str) -> list[str]:
    lines = (collapse_spaces(line) for line in text.splitlines())
    return [line for line in lines if line and not is_site_chrome(line)]


def _date_line(line: str) -> dt.date | None:
    match = _label_patterns()["date"].match(line) if len(line) <= 40 else None
    return _valid_date(*match.groups()) if match else None


def _source_line(line: str) -> str | None:
    match = _label_patterns()["source"].fullmatch(line) if len(line) <= 60 else None
    return match.group(1) if match else None


def _is_heading_line(line: str) -> bool:
    return (
        len(line) <= _TITLE_LENGTH
        and not _HEADING_STOP_RE.search(line)
        and _date_line(line) is None
        and _source_line(line) is None
        and not _label_patterns()["byline"].match(line)
    )


def _heading_title(text: str) -> str | None:
    """The headline a text opens with, or None.

    The heading block is the run of short leading lines without sentence
    punctuation, ended by a wider gap (two or more blank lines) or a body
    line. Leading lines (a kicker such as ``奋进新征程 建功新时代``) are
    dropped while the block is too long for a title.
    """
    block: list[str] = []
    blanks = 0
    for raw in text.splitlines():
        line = collapse_spaces(raw)
        if not line:
            blanks += 1
            continue
        if is_site_chrome(line):
            continue
        if (block and blanks >= 2) or not _is_heading_line(line):
            break
        block.append(line)
        blanks = 0
        if len(block) == 4:
            break
    while len(block) > 1 and len(" ".join(block)) > _TITLE_LENGTH:
        block.pop(0)
    return " ".join(block) or None


def _first_sentence_title(text: str) -> str:
    """A title from the first sentence, cut to about 30 characters at a clause end."""
    sentence = _SENTENCE_END_RE.split(text.strip(), maxsplit=1)[0].strip()
    if len(sentence) <= _TITLE_LENGTH:
        return sentence
    head = sentence[:_TITLE_LENGTH]
    clause_ends = [match.start() for match in _CLAUSE_END_RE.finditer(head)]
    # Prefer ending at a clause boundary, unless that leaves too little.
    if clause_ends and clause_ends[-1] >= _TITLE_LENGTH // 2:
        head = head[: clause_ends[-1]]
    return head.strip()


@dataclass
class _Fields:
    """Metadata candidates for one document; None means not known."""

    title: str | None = None
    date: dt.date | None = None
    source: str | None = None
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def fill(self, other: _Fields) -> _Fields:
        """These fields, with gaps filled from ``other``."""
        return _Fields(
            title=self.title or other.title,
            date=self.date or other.date,
            source=self.source or other.source,
            url=self.url or other.url,
            metadata={**other.metadata, **self.metadata},
        )


def _carried_fields(text: str) -> _Fields:
    """Metadata that the lines of a text carry (source, original title, date, byline)."""
    lines = _content_lines(text)
    fields = _Fields()
    patterns = _label_patterns()
    for line in lines:
        fields.source = fields.source or _source_line(line)
        original_title = patterns["original_title"].fullmatch(line)
        if original_title and not fields.title:
            fields.title = (original_title.group(1) or original_title.group(2)).strip()
        editor = patterns["editor"].fullmatch(line) if len(line) <= 30 else None
        if editor and "editor" not in fields.metadata:
            fields.metadata["editor"] = editor.group(1)
    for line in lines[:_TOP_LINES]:
        fields.date = fields.date or _date_line(line)
        if "byline" not in fields.metadata and patterns["byline"].fullmatch(line):
            fields.metadata["byline"] = line
    return fields


# --- one file -----------------------------------------------------------

_KNOWN_KEYS = {"id", "title", "text", "date", "source", "url"}


@dataclass
class _Body:
    """A document's text before cleanup, with what its markup carried."""

    text: str
    fields: _Fields


def _front_matter_fields(front: dict[str, Any]) -> _Fields:
    return _Fields(
        title=_as_str(front.get("title")),
        date=document_date(front.get("date")),
        source=_as_str(front.get("source")),
        url=_as_str(front.get("url") or front.get("link")),
        metadata={key: value for key, value in front.items() if key not in _KNOWN_KEYS},
    )


def _html_fields(title: str, meta: dict[str, str]) -> _Fields:
    extras = {key: meta[key] for key in ("author", "description", "keywords") if meta.get(key)}
    return _Fields(
        title=meta.get("og:title") or title or None,
        date=document_date(_first_meta(meta, "article:published_time", "pubdate", "date")),
        source=_first_meta(meta, "source", "article:source", "og:site_name"),
        url=_first_meta(meta, "og:url", "canonical"),
        metadata=extras,
    )


def _first_meta(meta: dict[str, str], *names: str) -> str | None:
    return next((meta[name] for name in names if meta.get(name)), None)


def _as_str(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _parse_body(text: str, *, html_page: bool = False) -> _Body:
    """Plain text and carried metadata of a text, Markdown or HTML document."""
    # Escape codes first, so a coloured "来源：" line or heading still reads as one.
    front, body = split_front_matter(remove_control_sequences(text))
    fields = _front_matter_fields(front)
    # Autolink lines would read as tags to the HTML parser: take them out first.
    urls = _AUTOLINK_LINE_RE.findall(body)
    body = _AUTOLINK_LINE_RE.sub("", body)
    if html_page or _HTML_PAGE_RE.match(body) or _HTML_BODY_RE.search(body):
        body, title, meta = html_to_text(body)
        fields = fields.fill(_html_fields(title, meta))
    elif "```" in body or "~~~" in body:
        body = _FENCED_BLOCK_RE.sub(_verbatim_block, body)
    fields = fields.fill(_carried_fields(body)).fill(_Fields(url=urls[0] if urls else None))
    return _Body(body, fields)


# A Markdown code block fenced by ``` or ~~~ lines (the opening one may name a language).
_FENCED_BLOCK_RE = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[^\n`]*\n(?P<code>.*?)^[ \t]{0,3}(?P=fence)[ \t]*$",
                              re.M | re.S)


def _verbatim_block(match: re.Match[str]) -> str:
    """A fenced code block as a paragraph of preformatted lines, the fences left out."""
    lines = match["code"].rstrip("\n").split("\n")
    return "\n" + "\n".join(VERBATIM + line for line in lines) + "\n"


def _read_text(path: Path, warn: Warn, data: bytes | None = None) -> str:
    """The decoded text of a file (of data, its contents when already read)."""
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise LoadError(f"{path}: skipped, cannot read ({error.strerror or error})") from error
    decoded = decode_text(data)
    if decoded is None:
        raise LoadError(f"{path}: skipped, binary or unknown encoding")
    if not decoded.text.strip():
        raise LoadError(f"{path}: skipped, empty")
    if decoded.replaced:
        plural = "s" if decoded.replaced > 1 else ""
        warn(f"{path}: {decoded.replaced} undecodable byte{plural} replaced with U+FFFD "
             f"(read as {decoded.encoding})")
    return decoded.text


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus, with the id and sidecar metadata it loads with."""

    path: Path
    doc_id: str
    overrides: Mapping[str, Any] | None = None
    aliases: Aliases | None = None
    # (first byte, end byte, number of the first line) of a JSON Lines part
    span: tuple[int, int, int] | None = None
    # the file's real path (links resolved), taken when the walk met it
    real: str | None = None

    def parts(self, size: int) -> list[CorpusFile]:
        """The file cut into JSON Lines parts of about size bytes (other files: itself)."""
        if self.path.suffix.lower() != ".jsonl":
            return [self]
        return [dataclasses.replace(self, span=span) for span in jsonl_spans(self.path, size)]

    @property
    def key(self) -> str:
        """A key unique to the file: its real absolute path, as text (``path_to_text``)."""
        return path_to_text(self.real or os.path.realpath(self.path))

    def checksum(self) -> str:
        """Changes with the file's bytes, its sidecar entry, the aliases or the normalizer."""
        settings = [NORMALIZER_VERSION, self.overrides, self.aliases]
        salt = json.dumps(settings, ensure_ascii=False, sort_keys=True, default=str)
        digest = hashlib.sha1(salt.encode("utf-8") + b"\0")
        try:
            digest.update(self.path.read_bytes())
        except OSError:
            # Loading it will say why (say, a broken symbolic link); until then
            # it is a file that changed.
            digest.update(b"\0unreadable")
        return digest.hexdigest()


def load_file(
    path: str | Path | CorpusFile,
    *,
    doc_id: str | None = None,
    warn: Warn | None = None,
    aliases: Aliases | None = None,
    overrides: Mapping[str, Any] | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> Iterator[Document]:
    """The documents of one file: one, or one per record of a JSON Lines file.

    ``path`` may be a ``CorpusFile``, which brings its id, sidecar overrides
    and aliases. ``doc_id`` defaults to the file name; ``overrides`` (title,
    date, source, url) win over extracted metadata. A file that cannot be
    read, or is binary, undecodable or empty, yields nothing and is reported
    through ``warn`` (default: standard error), as is each bad JSON line.
    ``wanted(id)`` false leaves a document out as soon as its id is known,
    unread and unreported (another shard's, see shards.py).
    """
    span = None
    if isinstance(path, CorpusFile):
        path, doc_id, overrides, aliases, span = (
            path.path, path.doc_id, path.overrides, path.aliases, path.span)
    path = Path(path)
    warn = warn_stderr if warn is None else warn
    try:
        yield from _load_documents(path, doc_id or path_to_text(path.name), warn, aliases, overrides, span,
                                   wanted)
    except LoadError as error:
        warn(str(error))


def _load_documents(
    path: Path,
    doc_id: str,
    warn: Warn,
    aliases: Aliases | None,
    overrides: Mapping[str, Any] | None,
    span: tuple[int, int, int] | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> Iterator[Document]:
    lookup = lookup_for(aliases)
    sidecar = _override_fields(overrides or {})
    name, data = path.name, None
    if path.suffix.lower() == ".gz":
        # Handled by its inner name: x.1.gz is a man page, a.jsonl.gz JSON Lines.
        name, data = path.name[: -len(".gz")], _read_gzip(path)
    suffix = Path(name).suffix.lower()
    if suffix == ".jsonl":
        lines = _jsonl_lines(path, span) if data is None else _numbered_lines(data)
        yield from _load_jsonl(path, doc_id, warn, lookup, sidecar, span, lines, wanted)
        return
    if wanted is not None and not wanted(doc_id):
        return
    text = _read_text(path, warn, data)
    if looks_like_roff(name, text):
        body = _roff_body(path, text)
    else:
        body = _parse_body(text, html_page=suffix in {".html", ".htm"})
    yield _make_document(doc_id, path_to_text(os.path.realpath(path)), body, sidecar, lookup)


# A decompressed file larger than this is refused: no real text file comes
# near it (the largest man page, bash.1, is 0.3 MB), and it bounds the memory
# a gzip bomb (1 GB of zeros packs into 1 MB) can take.
MAX_GZIP_SIZE = 64 * 1024 * 1024


def _read_gzip(path: Path) -> bytes:
    """The decompressed contents of a gzip file, at most ``MAX_GZIP_SIZE`` bytes."""
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read(MAX_GZIP_SIZE + 1)
    except OSError as error:  # gzip.BadGzipFile is an OSError
        if isinstance(error, gzip.BadGzipFile) or not error.strerror:
            raise LoadError(f"{path}: skipped, not a valid gzip file ({error})") from error
        raise LoadError(f"{path}: skipped, cannot read ({error.strerror})") from error
    except (EOFError, zlib.error) as error:
        raise LoadError(f"{path}: skipped, damaged gzip file ({error or 'truncated'})") from error
    if len(data) > MAX_GZIP_SIZE:
        raise LoadError(f"{path}: skipped, decompresses to more than "
                        f"{MAX_GZIP_SIZE // (1024 * 1024)} MB")
    return data


def _roff_body(path: Path, text: str) -> _Body:
    """The text of a manual page, titled by its NAME line."""
    page = roff_to_text(text)
    if not page.text and page.include:
        raise LoadError(f"{path}: skipped, a link to the manual page {page.include} (.so)")
    if not page.text:
        raise LoadError(f"{path}: skipped, empty")
    return _Body(page.text, _Fields(title=page.title))


def _override_fields(overrides: Mapping[str, Any]) -> _Fields:
    return _Fields(
        title=_as_str(overrides.get("title")),
        date=document_date(overrides.get("date")),
        source=_as_str(overrides.get("source")),
        url=_as_str(overrides.get("url")),
    )


def _load_jsonl(
    path: Path,
    doc_id: str,
    warn: Warn,
    lookup: Mapping[str, str],
    sidecar: _Fields,
    span: tuple[int, int, int] | None = None,
    lines: Iterable[tuple[int, bytes]] | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> Iterator[Document]:
    resolved = path_to_text(os.path.realpath(path))  # once per file, not per record
    blank = True
    try:
        for number, raw in _jsonl_lines(path, span) if lines is None else lines:
            try:
                record = _jsonl_record(_decode_line(raw, number))
            except _BadRecord as error:
                warn(f"{path}:{number}: skipped, {error}")
                blank = False
                continue
            if record is None:
                continue
            blank = False
            if wanted is not None and not wanted(_record_id(record, doc_id, number)):
                continue  # another shard's: not normalized here
            if not (record.get("text") or "").strip():
                warn(f"{path}:{number}: skipped, no text")
                continue
            date = record.get("date")
            if date and document_date(date) is None:
                warn(f"{path}:{number}: date {json.dumps(date, ensure_ascii=False)} ignored, "
                     "not a date (YYYY-MM-DD)")
            body = _record_body(record)
            yield _make_document(_record_id(record, doc_id, number), resolved, body, sidecar, lookup)
        # A part of a bigger file cannot tell: only a whole file is reported.
        if blank and (span is None or span[0] == 0 and span[1] >= path.stat().st_size):
            raise LoadError(f"{path}: skipped, empty")
    except OSError as error:
        raise LoadError(f"{path}: cannot read ({error.strerror or error})") from error


def _record_id(record: dict[str, Any], doc_id: str, number: int) -> str:
    """A JSON Lines record's document id: its own, or the file's and its line number."""
    record_id = record.get("id")
    return f"{doc_id}#{number}" if record_id in (None, "") else str(record_id)


def _jsonl_lines(path: Path, span: tuple[int, int, int] | None) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of the lines of a JSON Lines file, or of one part of it."""
    start, end, number = span or (0, -1, 1)
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        for raw in handle:
            if end >= 0 and position >= end:
                break
            position += len(raw)
            yield number, raw
            number += 1


def _numbered_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of the lines of a JSON Lines file read whole."""
    return enumerate(io.BytesIO(data), start=1)  # lines end at b"\n", as in a file


def _decode_line(raw: bytes, number: int) -> str:
    """One line of a JSON Lines file as text (a BOM opening the file dropped)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BadRecord(f"not UTF-8 ({error.reason} at byte {error.start + 1})") from None
    return line.removeprefix("\ufeff") if number == 1 else line


def jsonl_spans(path: Path, size: int) -> list[tuple[int, int, int]]:
    """Cut a JSON Lines file into parts of about size bytes, at line ends.

    Each part is (first byte, end byte, number of its first line).
    """
    spans = []
    start, number = 0, 1
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(size)
            if not chunk:
                break
            chunk += handle.readline()
            spans.append((start, start + len(chunk), number))
            start += len(chunk)
            number += chunk.count(b"\n")
    return spans or [(0, 0, 1)]


class _BadRecord(LoadError):
    """A JSON Lines line that is not a usable record; the message says why."""


# Deeper records are refused: nobody's metadata nests this deep, and every
# later step (pickling, JSON output) must stay far from the recursion limit.
_MAX_NESTING = 100
_LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Surrogates can only come from escapes: UTF-8 decoding refuses them.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
_RECORD_STRINGS = ("title", "text", "date", "source", "url")


def _jsonl_record(line: str) -> dict[str, Any] | None:
    """The record one JSON Lines line holds, None for a blank line.

    Raises ``_BadRecord`` for a line that is not a JSON object or whose known
    fields have the wrong type. NaN, Infinity and numbers too large for a
    float become null; lone surrogates (``"\\ud800"``, which no output can
    encode) become U+FFFD.
    """
    if not line.strip():
        return None
    try:
        record = json.loads(line.rstrip("\r\n"), parse_constant=_null, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        reason = error.msg.removesuffix(" at")  # "Invalid control character at"
        raise _BadRecord(f"not valid JSON ({reason}, column {error.colno})") from None
    except RecursionError:
        raise _BadRecord(f"nested deeper than {_MAX_NESTING} levels") from None
    except ValueError:  # an integer longer than sys.get_int_max_str_digits() allows
        limit = sys.get_int_max_str_digits()
        raise _BadRecord(f"a number has more than {limit} digits") from None
    if not isinstance(record, dict):
        raise _BadRecord(f"{_kind(record)}, not a JSON object")
    # Most lines need no walk (it would cost a record 9 us of its 100 us).
    if line.count("[") + line.count("{") > _MAX_NESTING or _SURROGATE_ESCAPE_RE.search(line):
        record = _clean_json(record, 1)
    for key in _RECORD_STRINGS:
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise _BadRecord(f'"{key}" is {_kind(value)}, not a string')
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, str | int | None):
        raise _BadRecord(f'"id" is {_kind(record_id)}, not a string or an integer')
    return record


def _null(constant: str) -> None:
    """NaN and Infinity, which are not JSON, read as null."""
    return None


def _finite_float(number: str) -> float | None:
    """A JSON number as a float, null when too large for one (1e999)."""
    value = float(number)
    return value if math.isfinite(value) else None


def _clean_json(value: Any, depth: int) -> Any:
    """A JSON value with lone surrogates replaced; too deep a value raises _BadRecord."""
    if isinstance(value, str):
        return _LONE_SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, list | dict) and depth > _MAX_NESTING:
        raise _BadRecord(f"nested deeper than {_MAX_NESTING} levels")
    if isinstance(value, list):
        return [_clean_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_clean_json(key, depth): _clean_json(item, depth + 1) for key, item in value.items()}
    return value


def _kind(value: Any, *, table: str = "an object") -> str:
    """What a JSON or TOML value is, in words: ``an array``, ``an integer``..."""
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
             (list, "an array"), (dict, table), (dt.datetime, "a date-time"),
             (dt.date, "a date"), (dt.time, "a time"))
    if value is None:
        return "null"
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def _record_body(record: dict[str, Any]) -> _Body:
    body = _parse_body(record.get("text") or "")
    own = _Fields(
        title=record.get("title") or None,
        date=document_date(record.get("date")),
        source=record.get("source") or None,
        url=record.get("url") or None,
        metadata={key: value for key, value in record.items() if key not in _KNOWN_KEYS},
    )
    return _Body(body.text, own.fill(body.fields))


def _make_document(
    doc_id: str, path: str, body: _Body, sidecar: _Fields, lookup: Mapping[str, str]
) -> Document:
    fields = sidecar.fill(body.fields)
    original = clean_text(body.text)
    title = fields.title or _heading_title(body.text) or _first_sentence_title(original)
    original_title = collapse_spaces(clean_text(title))
    return Document(
        id=doc_id,
        text=normalize_text(original),
        original=original,
        path=path,
        title=normalize_text(original_title),
        original_title=original_title,
        date=fields.date,
        source=_document_source(fields, lookup),
        url=fields.url,
        metadata=fields.metadata,
    )


def _document_source(fields: _Fields, lookup: Mapping[str, str]) -> str | None:
    if fields.source:
        return lookup_source(fields.source, lookup)
    # Blog-style front matter often names the outlet only as a category or tag.
    names: list[str] = []
    for key in ("categories", "category", "tags"):
        value = fields.metadata.get(key)
        names.extend(value if isinstance(value, list) else [value])
    return known_source((name for name in names if isinstance(name, str)), lookup)


# --- corpora ------------------------------------------------------------


def warn_stderr(message: str) -> None:
    """The default warning: one line on standard error, safe for a terminal."""
    from .render import sanitize  # output formatting; imported only when a warning is printed

    print(f"warning: {sanitize(message)}", file=sys.stderr)


def _read_sidecar(directory: Path, warn: Warn) -> dict[str, Any]:
    """The checked ``searchkit-meta.toml`` of a directory ({} if none or broken).

    A sidecar that cannot be parsed is ignored as a whole; a file table,
    value or alias entry of the wrong type is ignored on its own. Each is
    reported in one line through ``warn``.
    """
    sidecar = directory / SIDECAR_NAME
    if not sidecar.is_file():
        return {}
    try:
        with sidecar.open("rb") as file:
            return _checked_sidecar(tomllib.load(file), sidecar, warn)
    except tomllib.TOMLDecodeError as error:
        warn(f"{sidecar}: ignored, not valid TOML ({error})")
    except UnicodeDecodeError as error:
        warn(f"{sidecar}: ignored, not UTF-8 ({error.reason} at byte {error.start + 1})")
    except RecursionError:
        warn(f"{sidecar}: ignored, nested too deeply")
    except ValueError:  # an integer longer than sys.get_int_max_str_digits() allows
        warn(f"{sidecar}: ignored, a number has more than {sys.get_int_max_str_digits()} digits")
    except OSError as error:
        warn(f"{sidecar}: ignored, cannot read ({error.strerror or error})")
    return {}


_OVERRIDE_KEYS = ("title", "date", "source", "url")


def _checked_sidecar(tables: dict[str, Any], sidecar: Path, warn: Warn) -> dict[str, Any]:
    """The sidecar's file tables and aliases, without the entries it cannot use."""
    checked: dict[str, Any] = {}
    for name, table in tables.items():
        if name == "aliases":
            checked[name] = _checked_aliases(table, sidecar, warn)
        elif isinstance(table, dict):
            checked[name] = _checked_overrides(name, table, sidecar, warn)
        else:
            warn(f"{sidecar}: [{_quoted(name)}] ignored, {_kind(table, table='a table')}, "
                 "not a table")
    return checked


def _checked_overrides(name: str, table: dict[str, Any], sidecar: Path, warn: Warn) -> dict[str, Any]:
    """A file's table, without the keys that are unknown or of the wrong type."""
    checked = {}
    for key, value in table.items():
        where = f"{sidecar}: [{_quoted(name)}] {_quoted(key)}"
        if key not in _OVERRIDE_KEYS and isinstance(value, dict):
            # [003.txt] reads as a table "003" that holds a table "txt".
            dotted = f"{name}.{key}"
            warn(f"{sidecar}: [{dotted}] ignored, a file name with dots must be quoted: "
                 f"[{_quoted(dotted)}]")
        elif key not in _OVERRIDE_KEYS:
            warn(f"{where} ignored, not one of {', '.join(_OVERRIDE_KEYS)}")
        elif key == "date" and document_date(value) is None:
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else _kind(value)
            warn(f"{where} ignored, {shown} is not a date (YYYY-MM-DD)")
        elif key != "date" and not isinstance(value, str):
            warn(f"{where} ignored, {_kind(value, table='a table')}, not a string")
        else:
            checked[key] = value
    return checked


def _checked_aliases(table: Any, sidecar: Path, warn: Warn) -> dict[str, list[str]]:
    """The sidecar's alias table, without entries that are not strings."""
    if not isinstance(table, dict):
        warn(f"{sidecar}: [aliases] ignored, {_kind(table, table='a table')}, not a table")
        return {}
    checked = {}
    for name, aliases in table.items():
        names = [aliases] if isinstance(aliases, str) else aliases
        if isinstance(names, list) and all(isinstance(alias, str) for alias in names):
            checked[name] = names
        else:
            warn(f"{sidecar}: [aliases] {_quoted(name)} ignored, "
                 "not a string or an array of strings")
    return checked


def _quoted(name: str) -> str:
    """A TOML key as it would be written, quoted when it is not a bare key."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


# --- walking a tree -------------------------------------------------------
#
# A walk never fails as a whole: a dangling or looping link, a directory that
# cannot be read or vanished, a FIFO, socket or device (never opened: a FIFO
# would block) is one line through ``warn``, and the walk goes on.


def path_to_text(path: str | os.PathLike) -> str:
    """A path as text that any output (and Whoosh) can hold; ``path_from_text`` reverses it.

    A name that is not valid UTF-8 reaches Python with its undecodable bytes
    as lone surrogates (``b"caf\\xe9"`` -> ``"caf\\udce9"``). Each such byte
    becomes ``%XX`` (upper-case hex), and so that the text stays reversible a
    ``%`` already followed by two hex digits becomes ``%25``. Every other
    path, the UTF-8 names of nearly every tree, is left as it is.
    """
    text = os.fspath(path)
    if "%" not in text and not _ESCAPED_BYTE_RE.search(text):
        return text
    text = _PERCENT_HEX_RE.sub("%25", text)
    return _ESCAPED_BYTE_RE.sub(lambda match: f"%{ord(match.group()) - 0xDC00:02X}", text)


def path_from_text(text: str) -> Path:
    """The path that ``path_to_text`` made text of (also a document id, relative)."""
    if "%" not in text:
        return Path(text)
    raw = _PERCENT_BYTES_RE.sub(lambda match: bytes([int(match.group(1), 16)]),
                                text.encode("utf-8", "surrogateescape"))
    return Path(os.fsdecode(raw))


_ESCAPED_BYTE_RE = re.compile("[\udc80-\udcff]")
_PERCENT_HEX_RE = re.compile("%(?=[0-9A-Fa-f]{2})")
_PERCENT_BYTES_RE = re.compile(rb"%([0-9A-Fa-f]{2})")


@functools.cache
def _file_types() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(text, not text) file name extensions and build file names, from data/filetypes.json."""
    table = json.loads((Path(__file__).parent / "data" / "filetypes.json").read_text("utf-8"))
    return (frozenset(table["text"]), frozenset(table["not_text"]),
            frozenset(table["not_text_names"]))


_MAN_SECTION_RE = re.compile(r"[1-9][a-z]{0,6}")
# Leading bytes of common binary formats that carry no NUL byte early on.
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x7fELF",
          b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!", b"OggS", b"ID3", b"fLaC",
          b"wOFF", b"wOF2", b"RIFF", b"\x28\xb5\x2f\xfd", b"MZ")
_SNIFF_BYTES = 4096


def _extension(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name.lstrip(".") else ""


def _not_text_kind(path: Path, name: str) -> str | None:
    """Why a regular file is not a candidate document (its kind, for the summary), or None.

    Known extensions decide; any other file is a candidate unless its first
    bytes are those of a binary format (a NUL byte, or a known magic number).
    """
    text, not_text, build_files = _file_types()
    if name in build_files:
        return name
    if name.lower().endswith(".tar.gz"):  # a .gz that holds an archive, not a text
        return "tar.gz"
    extension = _extension(name)
    if extension in text or _MAN_SECTION_RE.fullmatch(extension):
        return None
    if extension in not_text:
        return extension
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError:
        return None  # loading it reports why
    if head.startswith(_BOMS_ALL):
        return None
    if b"\x00" in head or head.startswith(_MAGIC):
        return extension or "binary"
    return None


_BOMS_ALL = tuple(bom for bom, _ in _BOMS)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A compiled glob for paths relative to a corpus root (see ``iter_corpus_files``)."""
    if "/" not in pattern.strip("/"):
        pattern = "**/" + pattern
    parts = pattern.strip("/").split("/")
    regex = []
    for number, part in enumerate(parts):
        last = number == len(parts) - 1
        if part == "**":
            regex.append(".*" if last else "(?:[^/]+/)*")
        else:
            regex.append(_glob_segment(part) + ("" if last else "/"))
    return re.compile("".join(regex), re.S)


def _glob_segment(part: str) -> str:
    """One path segment of a glob as a regex: * and ? stay within the segment."""
    out, index = [], 0
    while index < len(part):
        char = part[index]
        index += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (close := _class_end(part, index)) > 0:
            body = part[index:close]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            index = close + 1
        else:
            out.append(re.escape(char))
    return "".join(out)


def _class_end(part: str, start: int) -> int:
    """Where the ``]`` closing a ``[...]`` class that opens before start is, or -1."""
    first = start + 1 if part[start:start + 1] == "!" else start
    return part.find("]", first + 1)


@dataclass
class WalkSummary:
    """What a walk left out: files that are not text, by kind, and files reported."""

    not_text: dict[str, int] = field(default_factory=dict)
    """How many files of each kind (extension, or ``binary``) were not documents."""
    reported: int = 0
    """Files left out with a warning (dangling link, loop, unreadable, not a regular file)."""

    def count_not_text(self, kind: str) -> None:
        self.not_text[kind] = self.not_text.get(kind, 0) + 1

    def not_text_line(self) -> str | None:
        """``"203 files not text (png 201, svg 2)"``, or None when there were none."""
        return not_text_line(self.not_text)


@dataclass
class _Found:
    """A file met in a walk: where, under which id, by which identity."""

    path: Path
    relative: str  # POSIX, relative to the root; may hold escaped bytes (surrogates)
    identity: tuple[int, int]  # (device, inode): the same file by any path
    via_link: bool


class _Walk:
    """One corpus root walked: the regular files under it, each file once.

    Real directories are walked first, in sorted order (a directory's files,
    then its subdirectories); then the linked directories met on the way, in
    the order they were met, each real directory once. A file reachable by
    several paths is taken once: under a path through no symbolic link if it
    has one, else under the first path in that order.
    """

    def __init__(self, root: Path, warn: Warn, summary: WalkSummary,
                 include: list[re.Pattern[str]], exclude: list[re.Pattern[str]]) -> None:
        self.root, self.warn, self.summary = root, warn, summary
        self.include, self.exclude = include, exclude
        self.include_by_extension = [pattern for pattern in include
                                     if _LITERAL_EXTENSION_RE.search(pattern.pattern)]
        self.found: list[_Found] = []
        self.walked: set[tuple[int, int]] = set()
        # (link, its relative path, identities of the directories that hold it)
        self.linked_dirs: list[tuple[Path, str, tuple[tuple[int, int], ...]]] = []

    def files(self) -> list[_Found]:
        """The walk's files, each real file once."""
        try:
            root = _identity(self.root.stat())
        except OSError as error:
            self._report(self.root, error)
            return []
        self.walked.add(root)
        self._walk_dir(self.root, "", via_link=False, chain=(root,))
        while self.linked_dirs:
            self._follow_dir_link(*self.linked_dirs.pop(0))
        chosen: dict[tuple[int, int], _Found] = {}
        for found in self.found:
            if found.identity not in chosen or chosen[found.identity].via_link and not found.via_link:
                chosen[found.identity] = found
        return [found for found in self.found if chosen[found.identity] is found]

    def _walk_dir(self, top: Path, relative: str, *, via_link: bool,
                  chain: tuple[tuple[int, int], ...]) -> None:
        """Walk top (already in ``walked``) and the real directories under it, depth first.

        A stack, not recursion: no tree is too deep to walk.
        """
        stack = [(top, relative, chain)]
        while stack:
            directory, relative, chain = stack.pop()
            subdirs = []
            for path, rel in self._scan(directory, relative, via_link, chain):
                try:
                    identity = _identity(path.stat())
                except OSError as error:
                    self._report(path, error, what="directory")
                    continue
                if identity not in self.walked:  # a bind mount can show a directory twice
                    self.walked.add(identity)
                    subdirs.append((path, rel + "/", (*chain, identity)))
            stack.extend(reversed(subdirs))

    def _scan(self, directory: Path, relative: str, via_link: bool,
              chain: tuple[tuple[int, int], ...]) -> list[tuple[Path, str]]:
        """Take the files of one directory; return its subdirectories, sorted."""
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            self._report(directory, error, what="directory")
            return []
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name == SIDECAR_NAME:
                continue
            path, rel = Path(entry.path), f"{relative}{name}"
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError as error:
                self._report(path, error)
                continue
            if is_dir:
                if not self._excluded(rel):
                    subdirs.append((path, rel))
            elif is_link:
                self._link(path, rel, chain)
            else:
                self._file(path, rel, entry, via_link)
        return subdirs

    def _link(self, path: Path, rel: str, chain: tuple[tuple[int, int], ...]) -> None:
        """A symbolic link: to a directory, walked later; to a file, taken as a file."""
        try:
            stat = path.stat()
        except OSError as error:
            self._report(path, error)
            return
        if _stat.S_ISDIR(stat.st_mode):
            if not self._excluded(rel):
                self.linked_dirs.append((path, rel, chain))
        else:
            self._file(path, rel, None, via_link=True, stat=stat)

    def _follow_dir_link(self, path: Path, rel: str, chain: tuple[tuple[int, int], ...]) -> None:
        try:
            identity = _identity(path.stat())
        except OSError as error:
            self._report(path, error, what="directory")
            return
        if identity in chain:
            self.summary.reported += 1
            self.warn(f"{path_to_text(path)}: skipped, symbolic link loop "
                      f"(to {path_to_text(os.path.realpath(path))}, which holds it)")
        elif identity not in self.walked:  # else walked by another path: its files are in
            self.walked.add(identity)
            self._walk_dir(path, rel + "/", via_link=True, chain=(*chain, identity))

    def _file(self, path: Path, rel: str, entry: os.DirEntry | None, via_link: bool,
              stat: os.stat_result | None = None) -> None:
        if self.include and not any(pattern.fullmatch(rel) for pattern in self.include):
            return
        if self._excluded(rel):
            return
        try:
            stat = stat or (entry.stat() if entry is not None else path.stat())
        except OSError as error:
            self._report(path, error)
            return
        if not _stat.S_ISREG(stat.st_mode):
            self.summary.reported += 1
            self.warn(f"{path_to_text(path)}: skipped, not a regular file ({_file_kind(stat)})")
            return
        kind = _not_text_kind(path, path.name)
        if kind is not None and not self._named_by_include(rel):
            self.summary.count_not_text(kind)
            return
        self.found.append(_Found(path, rel, _identity(stat), via_link))

    def _named_by_include(self, rel: str) -> bool:
        """Whether an include that ends in an extension (``*.svg``) asks for this file."""
        return any(pattern.fullmatch(rel) for pattern in self.include_by_extension)

    def _excluded(self, rel: str) -> bool:
        return any(pattern.fullmatch(rel) for pattern in self.exclude)

    def _report(self, path: Path, error: OSError, what: str = "") -> None:
        self.summary.reported += 1
        self.warn(f"{path_to_text(path)}: skipped, {_walk_problem(error, what)}")


# A glob's regex that ends in a literal extension: "\.svg" after the last "/" or "*".
_LITERAL_EXTENSION_RE = re.compile(r"\\\.[A-Za-z0-9_]+\Z")


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def _walk_problem(error: OSError, what: str) -> str:
    """Why a walked path was left out, in words."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    reason = error.strerror or str(error)
    return f"cannot read{' ' + what if what else ''} ({reason})"


def _file_kind(stat: os.stat_result) -> str:
    mode = stat.st_mode
    kinds = ((_stat.S_ISFIFO, "a FIFO"), (_stat.S_ISSOCK, "a socket"),
             (_stat.S_ISCHR, "a character device"), (_stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def iter_corpus_files(
    paths: Iterable[str | Path],
    *,
    warn: Warn | None = None,
    aliases: Aliases | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    summary: WalkSummary | None = None,
) -> Iterator[CorpusFile]:
    """The files of a corpus, directories walked recursively in sorted order.

    Hidden files and directories and sidecar files are left out, and so are
    files that are not text: images, style sheets, fonts, audio, video,
    archives other than ``.gz``, binaries (``searchkit/data/filetypes.json``
    lists them by extension; a file with an unknown extension is sniffed).
    They are counted in ``summary.not_text``; without a ``summary``, one line
    through ``warn`` counts them at the end.

    ``include`` and ``exclude`` are globs matched against a file's path
    relative to its root (POSIX ``/``): ``*`` and ``?`` stay within one name,
    ``**`` spans any number of directories, and a pattern without ``/``
    matches a name at any depth (``*.css`` is ``**/*.css``). With includes, a
    file must match one; an include that ends in an extension (``*.svg``)
    also takes files of that extension that would count as not text. A file or directory that matches an
    exclude is left out. A file given by name is always taken.

    Symbolic links to files and directories are followed, each real file and
    directory once (see ``_Walk`` for which path names a file reachable by
    several); a link loop is reported, never followed. Every path that cannot
    be walked (dangling link, loop, unreadable or vanished directory, FIFO,
    socket, device) is one line through ``warn``; the walk goes on. Ids and
    keys of names that are not UTF-8 are made text by ``path_to_text``.
    """
    warn = warn_stderr if warn is None else warn
    own_summary = summary is None
    summary = WalkSummary() if summary is None else summary
    include = [_glob_regex(pattern) for pattern in include]
    exclude = [_glob_regex(pattern) for pattern in exclude]
    taken: set[tuple[int, int]] = set()  # across roots: a file under two roots once
    for root in map(Path, paths):
        if root.is_dir():
            sidecar_dir = root
            files = _Walk(root, warn, summary, include, exclude).files()
        elif root.is_file():
            sidecar_dir = root.parent
            files = [_Found(root, root.name, _identity(root.stat()), False)]
        elif root.exists():
            warn(f"{path_to_text(root)}: skipped, not a regular file or directory")
            summary.reported += 1
            continue
        else:
            warn(f"{path_to_text(root)}: skipped, no such file or directory")
            continue
        sidecar = _read_sidecar(sidecar_dir, warn)
        extra_aliases = combine_aliases(aliases, sidecar.get("aliases"))
        for found in files:
            if found.identity in taken:
                continue
            taken.add(found.identity)
            key = found.relative  # the sidecar names files as they are on disk
            overrides = sidecar.get(key) if key != "aliases" else None
            yield CorpusFile(found.path, path_to_text(found.relative), overrides, extra_aliases,
                             real=os.path.realpath(found.path))
    if own_summary and summary.not_text_line():
        warn(f"{summary.not_text_line()}, left out")


def load_corpus(
    paths: Iterable[str | Path],
    *,
    warn: Warn | None = None,
    aliases: Aliases | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Iterator[Document]:
    """Yield the documents of files and directories (walked recursively), one at a time.

    Files that cannot be loaded are skipped with a one-line message to
    ``warn`` (default: standard error). ``aliases`` (``canonical -> [alias,
    ...]``) extends the source alias table, as a sidecar ``[aliases]`` does.
    ``include`` and ``exclude`` choose files as in ``iter_corpus_files``.
    """
    warn = warn_stderr if warn is None else warn
    for corpus_file in iter_corpus_files(paths, warn=warn, aliases=aliases,
                                         include=include, exclude=exclude):
        yield from load_file(corpus_file, warn=warn)
