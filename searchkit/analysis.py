"""Turning normalized text into tokens: jieba words and single characters.

Two token streams are indexed for every text:

* **words** — jieba's precise segmentation of each run of Chinese characters,
  plus Latin words, numbers and codes kept whole (``5g``, ``3.6.3``,
  ``pd1728_a_1``). At index time the dictionary words inside a long word are
  added at the long word's position (``中华人民共和国`` also yields ``共和国``),
  so a query for the shorter word finds it while phrases over the precise
  words stay exact. Words drive ranking.
* **chars** — every Chinese character on its own, and every Latin/digit piece.
  A phrase over characters is an exact substring match, so any literal string
  of the text can be found whatever jieba decided: the safety net for recall.

Positions are token ordinals and ``startchar``/``endchar`` index the text
exactly, as Whoosh's contract asks. A ``Pretokenized`` string carries tokens
computed elsewhere (in a worker process) so the index writer does not segment
the same text twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import sys
import threading
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from operator import add
from pathlib import Path

import jieba
from whoosh.analysis import Token, Tokenizer

from .normalize import CJK_RANGES
from .segmentation import fast_cutter

# (text, position, startchar, endchar)
TokenTuple = tuple[str, int, int, int]

_RUN_RE = re.compile(
    rf"(?P<cjk>[{CJK_RANGES}]+)|(?P<code>[A-Za-z0-9]+(?:[._\-][A-Za-z0-9]+)*)"
)
_ALNUM_RE = re.compile(r"[A-Za-z0-9]+")
_CJK_RE = re.compile(rf"[{CJK_RANGES}]+")

STOP_WORDS = frozenset(
    "的 了 和 与 及 或 是 在 也 都 就 而 把 被 对 从 以 之 其 这 那 个 着 过 等 为 于 并 又 将 所".split()
)
"""Words a query may drop; never applied at index time, so phrases stay exact."""


class Segmenter:
    """jieba, configured once, with an optional user dictionary.

    Loading jieba's dictionary takes about a second, more than a one-shot
    query should pay. When a query lexicon (see ``write_query_lexicon``) is
    available and the dictionary is not loaded yet, query segmentation reads
    from it only the entries the query's own substrings need: jieba consults
    its dictionary for nothing else, so the words are exactly the same.
    """

    def __init__(self, userdict: str | os.PathLike | None = None) -> None:
        self.userdict = Path(userdict) if userdict else None
        self.lexicon: QueryLexicon | None = None
        self._jieba: jieba.Tokenizer | None = None
        self._index_cutter = None
        self._lock = threading.Lock()

    @property
    def jieba(self) -> jieba.Tokenizer:
        """The initialized jieba tokenizer (loaded lazily, once)."""
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    self._jieba = _load_jieba(self.userdict)
        return self._jieba

    def accelerate(self) -> None:
        """Cut documents' text faster from now on, with the same words (see segmentation.py).

        Worth its half second of setup only for a large amount of text.
        """
        tokenizer = self.jieba
        with self._lock:
            if self._index_cutter is None:
                self._index_cutter = fast_cutter(tokenizer)

    def words(self, text: str) -> list[TokenTuple]:
        """Query-mode word tokens: precise segmentation only."""
        if self._jieba is None and self.lexicon is not None:
            tokenizer = self.lexicon.tokenizer_for(text)
            return list(_iter_words(text, tokenizer, subwords=False))
        return list(_iter_words(text, self.jieba, subwords=False))

    def parts(self, word: str) -> list[str]:
        """The dictionary words of two or more characters that make up a long word, left to right.

        即将来临 is 即将 + 来临, 开发阶段 开发 + 阶段: words the index holds
        too (see ``_subwords``). [] unless they cover the word but for single
        characters, and are at least two.
        """
        if len(word) < 4 or not is_cjk(word):
            return []
        if self._jieba is None and self.lexicon is not None:
            freq = self.lexicon.tokenizer_for(word).FREQ
        else:
            freq = self.jieba.FREQ
        parts, i = [], 0
        while i < len(word):
            size = next((n for n in (3, 2) if i + n <= len(word) and word[i:i + n] != word
                         and freq.get(word[i:i + n])), 1)
            if size > 1:
                parts.append(word[i:i + size])
            i += size
        return parts if len(parts) >= 2 else []

    def index_words(self, text: str) -> list[TokenTuple]:
        """Index-mode word tokens: precise words plus dictionary sub-words."""
        return list(_iter_words(text, self._index_cutter or self.jieba, subwords=True))


def _iter_words(text: str, tokenizer, subwords: bool) -> Iterator[TokenTuple]:
    """Precise words of each Chinese run (plus sub-words), and Latin/digit codes whole."""
    pos = 0
    for match in _RUN_RE.finditer(text):
        start = match.start()
        if match.lastgroup == "code":
            yield match.group().lower(), pos, start, match.end()
            pos += 1
            continue
        for word in tokenizer.cut(match.group(), HMM=True):
            end = start + len(word)
            yield word, pos, start, end
            if subwords and len(word) > 2:
                yield from _subwords(word, pos, start, tokenizer.FREQ)
            pos += 1
            start = end


def _subwords(word: str, pos: int, start: int, freq: dict[str, int]) -> Iterator[TokenTuple]:
    """Dictionary words of two and three characters inside a longer word."""
    for size in (2, 3):
        if size >= len(word):
            break
        for i in range(len(word) - size + 1):
            gram = word[i : i + size]
            if freq.get(gram):
                yield gram, pos, start + i, start + i + size


def char_tokens(text: str, first: int = 0, offset: int = 0) -> list[TokenTuple]:
    """Every Chinese character and every Latin/digit piece, in order.

    Positions start at ``first``, character offsets at ``offset`` (for a text
    indexed after another in the same field).

    Positions are consecutive over the whole text: a phrase over characters
    ignores punctuation and spaces between them (``"隐叶，鸡"`` finds
    ``隐叶，鸡``, and ``隐叶鸡`` too). Pure Chinese strings are matched through
    ``bigram_tokens``, which is exact.
    """
    tokens: list[TokenTuple] = []
    pos = first
    for match in _RUN_RE.finditer(text):
        start = match.start() + offset
        if match.lastgroup == "cjk":  # tuples made by zip, in C (bigrams: half the time of a loop)
            run = match.group()
            end = pos + len(run)
            tokens += zip(run, range(pos, end), range(start, start + len(run)),
                          range(start + 1, start + len(run) + 1))
            pos = end
        else:
            for piece in _ALNUM_RE.finditer(match.group()):
                tokens.append(
                    (piece.group().lower(), pos, start + piece.start(), start + piece.end())
                )
                pos += 1
    return tokens


def bigram_tokens(text: str) -> list[TokenTuple]:
    """Every pair of adjacent Chinese characters, in order.

    Positions are consecutive within a run of Chinese characters and skip one
    between runs, so a phrase of bigrams never spans punctuation. A literal
    Chinese string of n >= 2 characters occurs in a text exactly where its
    n - 1 bigrams occur at consecutive positions: one term lookup for a
    two-character word, where the character field needs a phrase over two
    (often very common) characters.
    """
    tokens: list[TokenTuple] = []
    pos = 0
    for run in _CJK_RE.finditer(text):
        start, chars = run.start(), run.group()
        pairs = len(chars) - 1
        tokens += zip(map(add, chars, chars[1:]), range(pos, pos + pairs),
                      range(start, start + pairs), range(start + 2, start + pairs + 2))
        pos += pairs + 1
    return tokens


def is_cjk(text: str) -> bool:
    """True when every character of text is a Chinese character."""
    return _CJK_RE.fullmatch(text) is not None


LEXICON_FORMAT = 2
"""The query lexicon's file format (see ``write_query_lexicon``)."""
LEXICON_MAGIC = b"SKLEX%d\n\0" % LEXICON_FORMAT
_LEXICON_HEADER = struct.Struct("<8sQII")  # magic, total, longest, chunks
# A chunk is compressed once its groups hold this many bytes: 1.83 MB of
# chunks with a chunk per group, 1.65 MB with 2 KB, 1.60 MB with 8 KB.
_LEXICON_CHUNK_BYTES = 4096
# The text of decompressed chunks a lexicon keeps (a third of the dictionary:
# all of it, split into words, would take about 30 MB in a long shell session).
_LEXICON_CACHE_BYTES = 1_500_000


class QueryLexicon:
    """jieba's dictionary (user words included) in a compact file, for segmenting queries fast.

    The file (see ``write_query_lexicon``) holds the words of positive
    frequency grouped by their first character, each group sorted, groups
    compressed together in chunks of consecutive first characters; a small
    table of the chunks' first characters and offsets is read at open. A
    query decompresses only the chunks of the characters its Chinese runs
    contain, and keeps their groups for the next: a first natural query
    (benchmarks/data/queries-natural.txt) takes a median of 1.5 ms where
    SQLite took 0.26 ms, the same query again 0.13 ms (0.14).

    jieba's FREQ also holds every prefix of a word, with frequency 0, which
    only tells its word graph to look further: here a prefix is found as the
    start of the next word in sorted order. Words of frequency 0 are left out:
    jieba treats them exactly as prefixes (and as absent where no longer word
    follows), so the words cut are the same.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as file:
            head = file.read(_LEXICON_HEADER.size)
            if len(head) < _LEXICON_HEADER.size or head[:8] != LEXICON_MAGIC:
                raise ValueError(f"{self.path.name} is not a query lexicon")
            _, self.total, self.longest, count = _LEXICON_HEADER.unpack(head)
            self._firsts = array("I")
            self._firsts.frombytes(file.read(4 * count))
            self._offsets = array("Q")
            self._offsets.frombytes(file.read(8 * (count + 1)))
        if len(self._offsets) != count + 1:
            raise ValueError(f"{self.path.name} is truncated")
        if sys.byteorder != "little":  # the file's numbers are little-endian
            self._firsts.byteswap()
            self._offsets.byteswap()
        self._chunks: dict[int, dict[str, str | tuple[list[str], list[str]]]] = {}
        self._cached_bytes = 0
        self._lock = threading.Lock()

    def _group(self, first: str) -> tuple[list[str], list[str]] | None:
        """The sorted word endings and their frequencies (as text) of the words starting with first."""
        index = bisect_right(self._firsts, ord(first)) - 1
        if index < 0:
            return None
        chunk = self._chunks.get(index)
        if chunk is None:
            chunk = self._read_chunk(index)
        group = chunk.get(first)
        if type(group) is str:  # split on first use: a query needs few of a chunk's groups
            endings, freqs = group[1:].split("\0")
            group = chunk[first] = (endings.split("\n"), freqs.split("\n"))
        return group

    def _read_chunk(self, index: int) -> dict[str, str | tuple[list[str], list[str]]]:
        start, end = self._offsets[index], self._offsets[index + 1]
        with open(self.path, "rb") as file:
            file.seek(start)
            data = zlib.decompress(file.read(end - start)).decode("utf-8")
        chunk = {text[0]: text for text in data.split("\1")}
        with self._lock:
            self._cached_bytes += len(data)
            if self._cached_bytes > _LEXICON_CACHE_BYTES:  # a long session: start again
                self._chunks.clear()
                self._cached_bytes = len(data)
            self._chunks[index] = chunk
        return chunk

    def lookup(self, word: str) -> int | None:
        """jieba's FREQ.get(word) for a word of Chinese characters (0 for a mere prefix)."""
        group = self._group(word[0])
        if group is None:
            return None
        endings, freqs = group
        ending = word[1:]
        index = bisect_left(endings, ending)
        if index == len(endings):
            return None
        if endings[index] == ending:
            return int(freqs[index])
        return 0 if endings[index].startswith(ending) else None

    def tokenizer_for(self, text: str) -> jieba.Tokenizer:
        """A jieba tokenizer that knows every dictionary entry text's Chinese runs contain."""
        wanted = {
            run[i:j]
            for run in _CJK_RE.findall(text)
            for i in range(len(run))
            for j in range(i + 1, min(len(run), i + self.longest) + 1)
        }
        freq: dict[str, int] = {}
        for word in wanted:
            found = self.lookup(word)
            if found is not None:
                freq[word] = found
        tokenizer = jieba.Tokenizer()
        tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, self.total, True
        return tokenizer


def write_query_lexicon(segmenter: Segmenter, path: str | os.PathLike) -> None:
    """Save the segmenter's dictionary for QueryLexicon (atomically).

    Layout: the header (``_LEXICON_HEADER``), the code point of each chunk's
    first character (uint32, ascending), the chunks' offsets in the file
    (uint64, one more than the chunks), then the chunks: zlib of their
    groups separated by U+0001, a group being its first character, the word
    endings (the words less that character), sorted, one a line, a NUL, and
    their frequencies, one a line. 1.6 MB for jieba's dictionary (349,045
    words), where SQLite needed 8.8 MB with the prefixes.
    """
    path = Path(path)
    tokenizer = segmenter.jieba
    groups: dict[str, list[tuple[str, int]]] = {}
    for word, count in tokenizer.FREQ.items():
        if count and not any(mark in word for mark in "\n\0\1"):  # never in a Chinese run anyway
            groups.setdefault(word[0], []).append((word[1:], count))
    firsts, blobs, pending, size = [], [], [], 0
    for first in sorted(groups, key=ord):
        entries = sorted(groups[first])
        pending.append(first + "\n".join(e for e, _ in entries) + "\0"
                       + "\n".join(str(n) for _, n in entries))
        size += len(pending[-1])
        if len(pending) == 1:
            firsts.append(ord(first))
        if size >= _LEXICON_CHUNK_BYTES:
            blobs.append(zlib.compress("\1".join(pending).encode("utf-8"), 9))
            pending, size = [], 0
    if pending:
        blobs.append(zlib.compress("\1".join(pending).encode("utf-8"), 9))
    longest = max(map(len, tokenizer.FREQ))
    offsets = array("Q", [_LEXICON_HEADER.size + 4 * len(firsts) + 8 * (len(firsts) + 1)])
    for blob in blobs:
        offsets.append(offsets[-1] + len(blob))
    codes = array("I", firsts)
    if sys.byteorder != "little":
        codes.byteswap()
        offsets.byteswap()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as file:
        file.write(_LEXICON_HEADER.pack(LEXICON_MAGIC, tokenizer.total, longest, len(firsts)))
        file.write(codes.tobytes())
        file.write(offsets.tobytes())
        for blob in blobs:
            file.write(blob)
    os.replace(tmp, path)


class Pretokenized(str):
    """A string that carries its tokens, computed ahead of indexing."""

    tokens: list[TokenTuple]

    def __new__(cls, text: str, tokens: list[TokenTuple]) -> "Pretokenized":
        obj = super().__new__(cls, text)
        obj.tokens = tokens
        return obj


class _TupleTokenizer(Tokenizer):
    """Feeds token tuples to Whoosh, honouring its tokenizer contract."""

    def tokens_for(self, text: str, mode: str) -> list[TokenTuple]:
        raise NotImplementedError

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        if isinstance(value, Pretokenized):
            tuples = value.tokens
        else:
            tuples = self.tokens_for(value, mode)
        for text, pos, startchar, endchar in tuples:
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + startchar
                token.endchar = start_char + endchar
            yield token


class WordTokenizer(_TupleTokenizer):
    """Whoosh tokenizer for the word fields (see the module docstring)."""

    def __init__(self, profile: str = "default") -> None:
        self.profile = profile

    def tokens_for(self, text: str, mode: str) -> list[TokenTuple]:
        segmenter = segmenter_for(self.profile)
        if mode == "index":
            return segmenter.index_words(text)
        return segmenter.words(text)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.profile == self.profile


class CharTokenizer(_TupleTokenizer):
    """Whoosh tokenizer for the character field (see the module docstring)."""

    def tokens_for(self, text: str, mode: str) -> list[TokenTuple]:
        return char_tokens(text)

    def __eq__(self, other) -> bool:
        return type(other) is type(self)


class BigramTokenizer(_TupleTokenizer):
    """Whoosh tokenizer for the bigram field (see ``bigram_tokens``)."""

    def tokens_for(self, text: str, mode: str) -> list[TokenTuple]:
        return bigram_tokens(text)

    def __eq__(self, other) -> bool:
        return type(other) is type(self)


# Whoosh pickles the schema, analyzers included, into the index. A tokenizer
# therefore names its segmenter by profile and looks it up here, instead of
# carrying a jieba instance (and a machine-specific dictionary path) around.
_SEGMENTERS: dict[str, Segmenter] = {}
_REGISTRY_LOCK = threading.Lock()


def register_segmenter(userdict: str | os.PathLike | None,
                       lexicon: str | os.PathLike | None = None) -> str:
    """Make a segmenter for this user dictionary available; return its profile.

    ``lexicon`` names a query lexicon written for the same configuration.
    """
    profile = profile_name(userdict)
    with _REGISTRY_LOCK:
        segmenter = _SEGMENTERS.setdefault(profile, Segmenter(userdict))
        if lexicon is not None and segmenter.lexicon is None and Path(lexicon).exists():
            segmenter.lexicon = QueryLexicon(lexicon)
    return profile


def segmenter_for(profile: str) -> Segmenter:
    """The segmenter registered under profile (see ``register_segmenter``).

    The default profile is registered on demand; any other must have been
    registered with its user dictionary: falling back to the default one would
    cut words differently from the index, silently.
    """
    if profile == "default":
        register_segmenter(None)
    try:
        return _SEGMENTERS[profile]
    except KeyError:
        raise LookupError(f"no segmenter registered for profile {profile!r}") from None


def profile_name(userdict: str | os.PathLike | None) -> str:
    """A name for the segmenter configuration: 'default' or the user dictionary's checksum."""
    if not userdict:
        return "default"
    return "user-" + file_checksum(userdict)[:16]


def file_checksum(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def analyzer_config(userdict: str | os.PathLike | None) -> dict[str, str]:
    """What an index must record so queries segment as its documents were."""
    return {
        "segmenter": f"jieba {jieba.__version__}",
        "dictionary": file_checksum(Path(jieba.__file__).with_name("dict.txt")),
        "userdict": file_checksum(userdict) if userdict else "",
    }


def cache_dir() -> Path:
    """Where jieba may write its dictionary cache (SEARCHKIT_CACHE_DIR or XDG)."""
    base = os.environ.get("SEARCHKIT_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "searchkit"


def _load_jieba(userdict: Path | None) -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = str(directory)
    tokenizer.initialize()
    if userdict:
        tokenizer.load_userdict(str(userdict))
    return tokenizer
