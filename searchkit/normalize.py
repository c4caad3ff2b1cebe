"""Text cleanup and normalization shared by documents and queries.

Two layers:

* ``clean_text`` repairs the *structure* of a document's text: it drops
  terminal escape sequences and control characters, site chrome lines, inline
  pinyin annotations and redundant whitespace, and keeps the text's shape:
  its lines, its paragraphs (one blank line between two) and the lines of
  preformatted blocks as they were. Its output is what a reader sees
  (``Document.original``).
* ``normalize_text`` maps that text, character for character, to the form that
  is indexed and searched: half-width letters and digits, Simplified script.
  Because it never changes the length, any span found in the normalized text
  points at the same span of the original.
"""

from __future__ import annotations

import functools
import re

from opencc import OpenCC

from .internals.opencc_tables import t2s_tables

CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
"""What searchkit counts as a Chinese character (for a regex character class): the
CJK Unified Ideographs, Extension A, the compatibility ideographs and the
supplementary planes' Extensions B to H. The one definition, used by cleanup,
analysis and query compilation alike."""

NORMALIZER_VERSION = "3"  # 2: escape sequences and control characters removed; 3: paragraphs kept

VERBATIM = "\x1f"
"""Marks a line of a preformatted block (HTML ``<pre>``, roff ``.nf``/``.EX``): a text
extractor puts it at the start of each such line, and ``clean_text`` then keeps the
line's spaces (indentation, alignment) instead of collapsing them. It is a control
character, so no document brings one this far (loaders remove them first)."""

# --- site chrome ---------------------------------------------------------

# Lines that web pages wrap around an article: navigation, app prompts,
# buttons, licence and copyright footers. Each pattern must match a whole
# trimmed line, so article sentences that merely mention these words stay.
SITE_CHROME_LINES: tuple[str, ...] = (
    r"\w{0,8}\s*Logo",
    r"(?:扫码|扫描二维码)?下载\w{0,8}(?:客户端|APP|App|app)",
    r"(?:打开|下载)\w{0,6}(?:APP|App|app)\w{0,4}",
    r"登录|注册|登录注册|收藏|字号|反馈|举报|我要举报|分享|分享到\S{0,20}",
    r"阅读原文|查看原文|打印|打印本页|关闭|关闭窗口|返回顶部",
    r"返回\w{0,10}(?:首页|新闻|列表|频道)",
    r"[•·●]?\s*\+1",
    r"全文\d+字\s*[,，]\s*阅读需要\d+分钟",
    r"本文为.{0,12}作者.*(?:观点|立场).*",
    r"\w{0,3}ICP[备证]\s*\d+号(?:-\d+)?",
    r"\w{0,3}公网安备\s*\d+号",
    r"[\w ]{0,20}许可证\s*[:：]\s*[\w-]+",
    r"(?:©|Copyright\s*©?|版权所有\s*©?)\s*(?:\d{4}(?:\s*[-–—]\s*\d{4})?\s)?[^，。！？]{0,60}",
    # Bare autolinks (<http://...>) and lines made only of Markdown links.
    r"<https?://[^\s>]+>",
    r"(?:\[[^\]\n]{0,30}\]\([^)\s]*\)\s*[|｜/]?\s*)+",
)

_CHROME_RE = re.compile("|".join(f"(?:{pattern})" for pattern in SITE_CHROME_LINES))


def is_site_chrome(line: str) -> bool:
    """Whether a line of text is site chrome rather than article content."""
    return _CHROME_RE.fullmatch(line.strip()) is not None


# --- pinyin annotations -----------------------------------------------------

_CJK = f"[{CJK_RANGES}]"
_TONE_MARKS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN = rf"[a-zü{_TONE_MARKS}]{{1,6}}"
# One annotation: "(guān)"; its broken form lost the "(" to a "?": "?guān)".
_ANNOTATION = rf"[(（?]{_PINYIN}[)）]"
# A run of annotations right after a CJK character, with the stray ASCII
# letters that mojibake leaves around broken ones ("展?fàn)I商", "斑M(jìn)入").
_ANNOTATION_RUN_RE = re.compile(
    rf"(?<={_CJK})(?P<before>[A-Za-z](?=[(（?]))?"
    rf"(?P<run>(?:{_ANNOTATION})+)"
    rf"(?P<after>[A-Za-z](?={_CJK}))?"
)
_BROKEN_ANNOTATION_RE = re.compile(rf"\?{_PINYIN}[)）]")
_TONE_MARK_RE = re.compile(f"[{_TONE_MARKS}]")


def _drop_annotation_run(match: re.Match[str]) -> str:
    before, run, after = match["before"] or "", match["run"], match["after"] or ""
    if before and not _TONE_MARK_RE.search(run):
        return match.group()  # a letter with a plain parenthesis, not mangled pinyin
    if "?" in run:
        after = ""  # the stray byte of a character lost with the broken "("
    return after


def remove_pinyin_annotations(text: str) -> str:
    """Remove inline pinyin such as ``韶關(guān)`` and its broken ``?guān)`` form."""
    text = _ANNOTATION_RUN_RE.sub(_drop_annotation_run, text)
    return _BROKEN_ANNOTATION_RE.sub("", text)


# --- escape sequences and control characters ---------------------------

# Terminal output saved as text (fortunes, ``nroff`` pages, logs) carries ANSI
# colour codes, OSC titles and backspace overstrikes; none of it is content.
_ESCAPE_SEQUENCE_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"                 # CSI: colours, cursor moves
    r"|(?:\x1b[\]P^_X]|[\x9d\x90\x9e\x9f\x98])"           # OSC, DCS, PM, APC, SOS...
    r"[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"         # ...up to BEL, ST or the line end
    r"|\x1b[ -/]*[0-~]?"                                 # two-byte escapes, a lone ESC
)
# "X\bX" (bold) and "_\bX" (underline): the character before each backspace goes.
_OVERSTRIKE_RE = re.compile("(?:[^\x08\n]\x08)+")
# Other C0 and C1 controls; tab, line feed, carriage return, form feed and
# vertical tab stay (they are whitespace, handled below).
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


# The same colour codes pasted in caret notation, as ``cat -v`` shows them
# ("^[[32m"): fortunes-zh has three.
_CARET_ESCAPE_RE = re.compile(r"\^\[\[[0-9;]*[A-Za-z]")


def remove_control_sequences(text: str) -> str:
    """Remove terminal escape sequences, backspace overstrikes and control characters.

    Colour codes written in caret notation (``^[[32m``) go too.
    """
    if "^[[" in text:
        text = _CARET_ESCAPE_RE.sub("", text)
    if not _CONTROL_RE.search(text):
        return text  # the common case: one scan, no copy
    text = _ESCAPE_SEQUENCE_RE.sub("", text)
    if "\x08" in text:
        text = _OVERSTRIKE_RE.sub("", text)
    return _CONTROL_RE.sub("", text)


# --- whitespace and cleanup ---------------------------------------------

_SPACES_RE = re.compile(r"\s+")
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def collapse_spaces(line: str) -> str:
    """Trim a line and turn each run of whitespace inside it into one space."""
    return _SPACES_RE.sub(" ", line).strip()


def clean_text(text: str) -> str:
    """Clean the structure of decoded plain text (markup already stripped).

    Drops escape sequences and control characters, site chrome lines and
    inline pinyin annotations, and collapses spaces inside lines. The lines
    stay lines; one or more blank (or blank-looking) lines between two lines
    become one blank line, a paragraph break, and none is kept at either end.
    A line marked ``VERBATIM`` keeps its spaces (tabs expanded, trailing ones
    dropped) and is never taken for site chrome.
    """
    pieces = _VERBATIM_LINE_RE.split(text) if VERBATIM in text else [text]
    lines: list[str] = []
    for number, piece in enumerate(pieces):
        if number % 2:  # the split's captured group: a preformatted line
            lines.append(_verbatim_line(piece))
        elif piece:
            lines.extend(_plain_lines(piece))
    return _join_paragraphs(lines)


# A preformatted line: the mark, the line, and its line end (taken, so that the
# text on either side does not look as if it held a blank line).
_VERBATIM_LINE_RE = re.compile(rf"^{VERBATIM}([^\n]*)(?:\n|\Z)", re.M)


def _plain_lines(text: str) -> list[str]:
    """The cleaned lines of text: "" for a blank line; site chrome left out."""
    text = remove_control_sequences(text)
    text = remove_pinyin_annotations(_INVISIBLE_RE.sub("", text))
    lines = (collapse_spaces(line) for line in text.splitlines())
    return [line for line in lines if not line or not is_site_chrome(line)]


def _verbatim_line(line: str) -> str:
    """A preformatted line with its spaces kept: "" when it is blank."""
    line = _INVISIBLE_RE.sub("", remove_control_sequences(line.expandtabs(8)))
    return line.rstrip() if line.strip() else ""


def _join_paragraphs(lines: list[str]) -> str:
    """Lines joined by newlines, each run of blank lines between two as one blank line."""
    out: list[str] = []
    blank = False
    for line in lines:
        if not line:
            blank = bool(out)
            continue
        if blank:
            out.append("")
            blank = False
        out.append(line)
    return "\n".join(out)


# --- character-for-character normalization ------------------------------

_FULL_WIDTH_ALNUM = {
    code: code - 0xFEE0
    for first, last in (("０", "９"), ("Ａ", "Ｚ"), ("ａ", "ｚ"))
    for code in range(ord(first), ord(last) + 1)
}


def fold_width(text: str) -> str:
    """Map full-width ASCII letters and digits to half-width, char for char."""
    return text.translate(_FULL_WIDTH_ALNUM)


class _T2S:
    """OpenCC's t2s conversion, reimplemented to run fast with the same output.

    opencc-python-reimplemented splits text at separators and, in each piece,
    repeatedly replaces the longest phrase-dictionary match (leftmost among
    equals; the pieces on either side may then hold matches no longer than
    it), then maps the remaining characters one by one. Phrase matches are
    rare, so most text needs nothing but ``str.translate``; a piece holding a
    phrase is handled exactly as the library does. Values with alternatives
    ("干 乾") use the first, as the library does.
    """

    def __init__(self, separators: re.Pattern[str], phrases: dict[str, str],
                 characters: dict[str, str]) -> None:
        self.separators = separators
        self.phrases = {key: value.split(" ")[0] for key, value in phrases.items()}
        self.longest = max(map(len, self.phrases))
        self.shortest = min(map(len, self.phrases))
        keys = sorted(self.phrases, key=len, reverse=True)
        self.phrase_finder = re.compile("|".join(map(re.escape, keys)))
        self.table = {
            ord(key): value.split(" ")[0]
            for key, value in characters.items()
            if len(key) == 1 and not separators.fullmatch(key)
        }

    def convert(self, text: str) -> str:
        """The converted text (same length as text)."""
        if self.phrase_finder.search(text) is None:
            return text.translate(self.table)
        pieces = self.separators.split(text)
        return "".join(piece if i % 2 else self._piece(piece) for i, piece in enumerate(pieces))

    def _piece(self, piece: str, hint: int | None = None) -> str:
        match = self._longest_phrase(piece, hint)
        if match is None:
            return piece.translate(self.table)
        start, length = match
        value = self.phrases[piece[start : start + length]]
        return (self._piece(piece[:start], length) + value
                + self._piece(piece[start + length :], length))

    def _longest_phrase(self, piece: str, hint: int | None) -> tuple[int, int] | None:
        length = min(len(piece), self.longest, hint or self.longest)
        while length >= self.shortest:
            for start in range(len(piece) - length + 1):
                if piece[start : start + length] in self.phrases:
                    return start, length
            length -= 1
        return None


@functools.cache
def _t2s() -> _T2S | OpenCC:
    """The fast converter, or OpenCC itself if its dictionaries cannot be reached."""
    cc = OpenCC("t2s")
    tables = t2s_tables(cc)
    if tables is None:
        return cc  # another release of the library: slower, still correct
    return _T2S(cc.split_chars_re, *tables)


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese to Simplified (OpenCC t2s), char for char.

    The output is identical to ``OpenCC('t2s').convert(text)``, about a
    hundred times faster (see ``_T2S``).
    """
    return _t2s().convert(text)


def normalize_text(text: str) -> str:
    """Fold width and convert to Simplified; the output has the input's length."""
    return to_simplified(fold_width(text))


def normalize_query(text: str) -> str:
    """Normalize a query like document text and collapse its whitespace."""
    return " ".join(normalize_text(text).split())
