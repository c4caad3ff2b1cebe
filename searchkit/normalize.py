"""Text cleanup and normalization shared by documents and queries.

Two layers:

* ``clean_text`` repairs the *structure* of a document's text: it drops site
  chrome lines, inline pinyin annotations and redundant whitespace. Its output
  is what a reader sees (``Document.original``).
* ``normalize_text`` maps that text, character for character, to the form that
  is indexed and searched: half-width letters and digits, Simplified script.
  Because it never changes the length, any span found in the normalized text
  points at the same span of the original.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from opencc import OpenCC

NORMALIZER_VERSION = "1"

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

_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
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


# --- whitespace and cleanup ---------------------------------------------

_SPACES_RE = re.compile(r"\s+")
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def collapse_spaces(line: str) -> str:
    """Trim a line and turn each run of whitespace inside it into one space."""
    return _SPACES_RE.sub(" ", line).strip()


def clean_text(text: str) -> str:
    """Clean the structure of decoded plain text (markup already stripped).

    Drops site chrome lines and inline pinyin annotations, collapses spaces
    inside lines, and joins the non-empty lines with single newlines.
    """
    text = remove_pinyin_annotations(_INVISIBLE_RE.sub("", text))
    lines = (collapse_spaces(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line and not is_site_chrome(line))


# --- character-for-character normalization ------------------------------

_FULL_WIDTH_ALNUM = {
    code: code - 0xFEE0
    for first, last in (("０", "９"), ("Ａ", "Ｚ"), ("ａ", "ｚ"))
    for code in range(ord(first), ord(last) + 1)
}


def fold_width(text: str) -> str:
    """Map full-width ASCII letters and digits to half-width, char for char."""
    return text.translate(_FULL_WIDTH_ALNUM)


@dataclass(frozen=True)
class _Converter:
    """OpenCC t2s and, when its internals are available, what the fast path needs."""

    opencc: OpenCC
    separators: re.Pattern[str] | None = None
    convert_piece: Callable[[str], str] | None = None
    trigger_chars: frozenset[str] = frozenset()
    # Finds candidates: every BMP trigger and any astral character (a class
    # listing astral characters one by one makes the regex ~50 times slower).
    candidates: re.Pattern[str] | None = None

    @property
    def fast(self) -> bool:
        return None not in (self.separators, self.convert_piece, self.candidates)


def _opencc_internals(cc: OpenCC) -> tuple[re.Pattern[str], Callable[..., str], list[Any]] | None:
    """The private parts of opencc-python-reimplemented the fast path relies on.

    ``convert`` splits its input with ``split_chars_re`` and converts each
    piece with ``_convert(piece, _dict_chain_data)``; reproducing that lets us
    skip pieces no dictionary entry can change. Returns None if a release
    changes these internals, and callers then use the public ``convert``.
    """
    try:
        split_re, convert, chain = cc.split_chars_re, cc._convert, cc._dict_chain_data
    except AttributeError:
        return None
    if not (callable(convert) and isinstance(split_re, re.Pattern) and chain):
        return None
    return split_re, convert, chain


def _dictionaries(chain: Iterable[Any]) -> Iterable[dict[str, str]]:
    for item in chain:
        if isinstance(item, tuple):
            yield item[2]
        else:
            yield from _dictionaries(item)


def _trigger_chars(chain: Iterable[Any]) -> set[str]:
    """Characters that some dictionary entry changes.

    A piece without any of them converts to itself: every dictionary match in
    it maps each character to itself. Alternatives ("干 乾") use the first,
    as the converter does.
    """
    chars: set[str] = set()
    for mapping in _dictionaries(chain):
        for key, value in mapping.items():
            value = value.split(" ")[0]
            if len(key) != len(value):
                chars.update(key)
            else:
                chars.update(k for k, v in zip(key, value) if k != v)
    return chars


@functools.cache
def _t2s() -> _Converter:
    cc = OpenCC("t2s")
    internals = _opencc_internals(cc)
    if internals is None:
        return _Converter(cc)
    split_re, convert, chain = internals
    triggers = _trigger_chars(chain)
    bmp = "".join(sorted(char for char in triggers if ord(char) <= 0xFFFF))
    return _Converter(
        cc,
        separators=split_re,
        convert_piece=lambda piece: convert(piece, chain),
        trigger_chars=frozenset(triggers),
        candidates=re.compile(f"[{re.escape(bmp)}\U00010000-\U0010ffff]"),
    )


def _piece_start(text: str, pos: int, floor: int, separators: re.Pattern[str]) -> int:
    """Where the piece holding text[pos] starts: after the last separator before it."""
    width = 64
    while True:
        low = max(floor, pos - width)
        last = None
        for last in separators.finditer(text, low, pos):
            pass
        if last is not None:
            return last.end()
        if low == floor:
            return floor
        width *= 8


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese to Simplified (OpenCC t2s), length-preserving.

    Output is identical to ``OpenCC('t2s').convert``, which converts each
    piece between separators on its own. Only the pieces holding a character
    that some dictionary entry changes are handed to the converter.
    """
    converter = _t2s()
    if not converter.fast:
        return converter.opencc.convert(text)
    parts: list[str] = []
    done = pos = 0
    while (hit := converter.candidates.search(text, pos)) is not None:
        pos = hit.end()
        if hit.group() not in converter.trigger_chars:
            continue  # an astral character that no entry changes
        start = _piece_start(text, hit.start(), done, converter.separators)
        after = converter.separators.search(text, pos)
        end = after.start() if after else len(text)
        parts += (text[done:start], converter.convert_piece(text[start:end]))
        done = pos = end
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def normalize_text(text: str) -> str:
    """Fold width and convert to Simplified; the output has the input's length."""
    return to_simplified(fold_width(text))


def normalize_query(text: str) -> str:
    """Normalize a query like document text and collapse its whitespace."""
    return " ".join(normalize_text(text).split())
