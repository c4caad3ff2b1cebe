"""The query language: parsing what the user typed into a small syntax tree.

Grammar (words are ANDed unless joined by OR)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or ")" | FIELD ":" value | '"' phrase '"' | word
    FIELD   := title | source | date

``date:`` takes ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or a range ``A..B``
(either end may be left open). The tree is turned into a Whoosh query by the
engine; nothing here knows about the index.

A query is bounded in length (``MAX_QUERY_CHARS``), nesting
(``MAX_NESTING``) and, once segmented by the engine, words
(``MAX_QUERY_WORDS``); beyond them it is refused with a QueryTooLongError, so
no query can exhaust the stack or keep the index busy for seconds.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal, overload

from .errors import BadDateError, QuerySyntaxError, QueryTooLongError

FIELDS = ("title", "source", "date")
OPERATORS = ("AND", "OR", "NOT")

# Limits of a query. Together they bound, by construction, the time and stack
# depth of everything done with a query: parsing, walking its tree, segmenting
# it, building and running its Whoosh query.
#
# Characters: a sentence or two pasted as a query is a few hundred characters;
# a longer text is refused before any work is done on it (normalizing a
# megabyte alone takes a quarter of a second).
MAX_QUERY_CHARS = 1000
# Levels of parentheses and of NOT/- stacked on one another. Code that walks
# the tree (here, in the engine, in Whoosh's matchers) spends stack frames on
# each level: 31 levels of nested ORs need about 250 of Python's 1,000, which
# leaves room for the caller (the shell's). Nobody nests a real query 32 deep.
MAX_NESTING = 32
# Words after segmentation (of bare words and phrases; a code such as 1-2-3
# counts as its pieces), plus field terms. Each word becomes its own term
# look-ups (word, title, characters) and, when no document has them all, its
# own pass of partial matching; Whoosh combines an AND of n words into a tree
# up to n levels deep. The time of a query grows with its words: on 1,000
# long articles that all contain every word (200 copies of the seeds), 32
# words took 0.6-1.0 s and 64 words 1.2-2.4 s on the shared 2-core machine,
# two words 0.05 s (benchmarks/query_limits.py). Web search engines stop at
# 32 words too. Enforced by the engine, which segments.
MAX_QUERY_WORDS = 32


@dataclass(frozen=True)
class Term:
    """A bare word (segmented later); field is None or 'title'."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    """An exact phrase: a literal substring of the normalized text."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class Source:
    """source:NAME inside the query."""

    name: str


@dataclass(frozen=True)
class DateSpan:
    """date:A..B inside the query (inclusive; None is open)."""

    start: dt.date | None
    end: dt.date | None


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


Node = Term | Phrase | Source | DateSpan | And | Or | Not


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD, PHRASE, LPAREN, RPAREN, OP, FIELD, MINUS
    text: str
    column: int  # 1-based, for error messages


_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>[(（])
  | (?P<rparen>[)）])
  | (?P<field>[A-Za-z]+)[:：]
  | (?P<phrase>["“”「」『』])
  | (?P<minus>-(?=\S))
  | (?P<word>[^\s()（）"“”「」『』]+)
    """,
    re.VERBOSE,
)
_QUOTE_CLOSERS = {'"': '"', "“": "”", "”": "”", "「": "」", "」": "」", "『": "』", "』": "』"}


def tokenize(text: str) -> list[_Token]:
    """Split a query into tokens, or raise QuerySyntaxError saying where."""
    tokens: list[_Token] = []
    text = _unpaired_brackets_as_spaces(text)
    i = 0
    while i < len(text):
        match = _TOKEN_RE.match(text, i)
        kind = match.lastgroup
        column = i + 1
        if kind == "phrase" and text[i] in _PASTED_QUOTES and not _has_closing_quote(text, i):
            i += 1  # a quotation mark of pasted text (，競與日爭時」。), not a phrase
            continue
        if kind == "phrase":
            end = _find_closing_quote(text, i)
            tokens.append(_Token("PHRASE", text[i + 1 : end], column))
            i = end + 1
            continue
        if kind == "field":
            name = match.group("field").lower()
            if name not in FIELDS:
                _refuse_misspelt_field(match.group("field"), column)
                # Not a field: http://..., std::string, localhost:8080 are words.
                word = re.match(r"[^\s()（）\"“”「」『』]+", text[i:]).group()
                tokens.append(_Token("WORD", word, column))
                i += len(word)
                continue
            tokens.append(_Token("FIELD", name, column))
        elif kind == "word":
            word = match.group()
            tokens.append(_Token("OP" if word in OPERATORS else "WORD", word, column))
        elif kind != "space":
            tokens.append(_Token(kind.upper(), match.group(), column))
        i = match.end()
    return _operators_as_words(tokens)


def _refuse_misspelt_field(name: str, column: int) -> None:
    """Raise QuerySyntaxError for a name one typo away from a field (titel:, data:).

    Any other name before a colon is part of a word (see tokenize).
    """
    for known in FIELDS:
        if _one_typo_apart(name.lower(), known):
            raise QuerySyntaxError(
                f"unknown field '{name}:' at column {column}: did you mean {known}:? "
                f"(fields: {', '.join(f + ':' for f in FIELDS)})"
            )


def _one_typo_apart(a: str, b: str) -> bool:
    """Whether a becomes b by one inserted, deleted, replaced or swapped neighbouring letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    start = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    rest_a, rest_b = a[start:], b[start:]
    return (rest_a[1:] == rest_b[1:] or rest_a[1:] == rest_b or rest_a == rest_b[1:]
            or (len(rest_a) >= 2 and rest_a[:2] == rest_b[1::-1] and rest_a[2:] == rest_b[2:]))


# Where an operator cannot be one, it is a word the user wants found: OR and
# AND need something on both sides, NOT something after it. (OR 函数 is the
# spreadsheet function; a query of just NOT is the word.)
_STARTS = {None, "LPAREN", "OR", "AND", "NOT", "MINUS", "FIELD"}  # an operand must follow these
_ENDS = {None, "RPAREN", "OR", "AND"}  # no operand starts here


def _operators_as_words(tokens: list[_Token]) -> list[_Token]:
    """The tokens with each operator that cannot be an operator where it stands made a word."""
    result: list[_Token] = []
    for i, token in enumerate(tokens):
        if token.kind == "OP":
            before = _role(result[-1]) if result else None
            after = _role(tokens[i + 1]) if i + 1 < len(tokens) else None
            binary = token.text in ("OR", "AND")
            if after in _ENDS or (binary and before in _STARTS):
                token = _Token("WORD", token.text, token.column)
        result.append(token)
    return result


def _role(token: _Token) -> str:
    """What a token is to the operator next to it: the operator's name, or its kind."""
    return token.text if token.kind == "OP" else token.kind


# Chinese quotation marks and brackets are punctuation of pasted text as
# often as syntax: one without its partner is taken as punctuation (a space),
# where an ASCII quote or parenthesis without one is an error.
_PASTED_QUOTES = "“”「」『』"
_PASTED_BRACKETS = {"（": "）"}


def _has_closing_quote(text: str, start: int) -> bool:
    try:
        _find_closing_quote(text, start)
    except QuerySyntaxError:
        return False
    return True


def _unpaired_brackets_as_spaces(text: str) -> str:
    """text with each full-width parenthesis that has no partner replaced by a space.

    Inside a quoted phrase they are text, and left alone.
    """
    opened: list[int] = []
    unpaired: list[int] = []
    quote = None
    for i, char in enumerate(text):
        if quote is not None:
            if char in (_QUOTE_CLOSERS[quote], '"', "”"):
                quote = None
        elif char in _QUOTE_CLOSERS and _has_closing_quote(text, i):
            quote = char
        elif char in _PASTED_BRACKETS:
            opened.append(i)
        elif char in _PASTED_BRACKETS.values():
            (opened.pop() if opened else unpaired.append(i))
    unpaired += opened
    if not unpaired:
        return text
    chars = list(text)
    for i in unpaired:
        chars[i] = " "
    return "".join(chars)


def _find_closing_quote(text: str, start: int) -> int:
    closer = _QUOTE_CLOSERS[text[start]]
    candidates = [text.find(c, start + 1) for c in {closer, '"', "”"}]
    found = [c for c in candidates if c != -1]
    if not found:
        raise QuerySyntaxError(f"unbalanced quote: the quote at column {start + 1} is never closed")
    return min(found)


def check_length(text: str) -> None:
    """Raise QueryTooLongError if text is longer than MAX_QUERY_CHARS."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLongError(
            f"query too long: {len(text)} characters (at most {MAX_QUERY_CHARS})"
        )


def check_words(count: int) -> None:
    """Raise QueryTooLongError if a query of count words is over MAX_QUERY_WORDS."""
    if count > MAX_QUERY_WORDS:
        raise QueryTooLongError(f"query too long: {count} words (at most {MAX_QUERY_WORDS})")


class _Parser:
    """Recursive descent, at most MAX_NESTING levels deep (see _deeper)."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        node = self.parse_or()
        token = self.peek()
        if token is not None:
            if token.kind == "RPAREN":
                raise QuerySyntaxError(f"unbalanced parenthesis: ')' at column {token.column} has no '('")
            raise QuerySyntaxError(f"unexpected '{token.text}' at column {token.column}")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self._at_op("OR"):
            op = self.take()
            if self.peek() is None or self.peek().kind == "RPAREN":
                raise QuerySyntaxError(f"OR at column {op.column} needs something after it")
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = []
        while True:
            token = self.peek()
            if token is None or token.kind == "RPAREN" or self._at_op("OR"):
                break
            if self._at_op("AND"):
                self.take()
                continue
            items.append(self.parse_unary())
        if not items:
            token = self.peek()
            where = f"at column {token.column}" if token else "at the end"
            raise QuerySyntaxError(f"expected a word {where}")
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        # A run of negations is read in a loop, not by recursion; each one
        # still counts as a level, since it nests the tree one deeper.
        negations = 0
        while (token := self.peek()).kind == "MINUS" or self._at_op("NOT"):
            self.take()
            if self.peek() is None:
                raise QuerySyntaxError(f"'{token.text}' at column {token.column} needs something after it")
            self._deeper(token)
            negations += 1
        node = self.parse_primary()
        for _ in range(negations):
            node = Not(node)
        self.depth -= negations
        return node

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "LPAREN":
            self._deeper(token)
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != "RPAREN":
                raise QuerySyntaxError(f"unbalanced parenthesis: '(' at column {token.column} is never closed")
            self.take()
            self.depth -= 1
            return node
        if token.kind == "RPAREN":
            raise QuerySyntaxError(f"unbalanced parenthesis: ')' at column {token.column} has no '('")
        if token.kind == "FIELD":
            return self.parse_field(token)
        if token.kind == "PHRASE":
            return Phrase(token.text)
        return Term(token.text)

    def parse_field(self, field: _Token) -> Node:
        value = self.peek()
        if value is None or value.kind not in ("WORD", "PHRASE", "OP"):
            raise QuerySyntaxError(f"'{field.text}:' at column {field.column} needs a value")
        self.take()
        if field.text == "title":
            return Phrase(value.text, "title") if value.kind == "PHRASE" else Term(value.text, "title")
        if field.text == "source":
            return Source(value.text)
        start, end = parse_date_range(value.text, column=value.column)
        return DateSpan(start, end)

    def _deeper(self, token: _Token) -> None:
        """Enter one more level of nesting at token, within MAX_NESTING."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QueryTooLongError(
                f"query too deeply nested at column {token.column}: "
                f"at most {MAX_NESTING} levels of parentheses and NOT"
            )

    def _at_op(self, name: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "OP" and token.text == name


@dataclass(frozen=True)
class QueryProblem:
    """Why a query does not parse, and the 1-based column of the problem when known."""

    message: str
    column: int | None


@dataclass(frozen=True)
class LenientQuery:
    """What a lenient parse made of a query.

    ``text`` is what parsed into ``node``: the query itself when it has no
    problem, else a best-effort version of it, or None when nothing of it
    could be saved. ``problems`` says what was wrong with the query as given.
    """

    text: str | None
    node: Node | None
    problems: list[QueryProblem]


@overload
def parse(text: str) -> Node: ...
@overload
def parse(text: str, *, lenient: Literal[False]) -> Node: ...
@overload
def parse(text: str, *, lenient: Literal[True]) -> LenientQuery: ...


def parse(text: str, *, lenient: bool = False) -> Node | LenientQuery:
    """Parse a query string into a syntax tree (raises QuerySyntaxError).

    The tree is at most MAX_NESTING levels deep (QueryTooLongError beyond,
    as beyond MAX_QUERY_CHARS characters). With ``lenient`` nothing is
    raised: the result says what was wrong and carries a best-effort version
    of the query (quotes and parentheses dropped, unknown or broken fields and
    dangling operators removed), for an interactive face to offer.
    """
    if not lenient:
        return _parse_strict(text)
    try:
        return LenientQuery(text, _parse_strict(text), [])
    except (QuerySyntaxError, BadDateError) as exc:
        found = _COLUMN_RE.search(str(exc))
        problem = QueryProblem(str(exc), int(found.group(1)) if found else None)
    fallback = _salvage(text)
    return LenientQuery(fallback, _parse_strict(fallback) if fallback else None, [problem])


def _parse_strict(text: str) -> Node:
    check_length(text)
    tokens = tokenize(text)
    if not tokens:
        raise QuerySyntaxError("empty query")
    return _Parser(tokens).parse()


_COLUMN_RE = re.compile(r"column (\d+)")
_QUOTE_MARKS = "".join(_QUOTE_CLOSERS)


def _salvage(text: str) -> str | None:
    """A version of text that parses, made by dropping what does not, or None."""
    text = re.sub(f"[{_QUOTE_MARKS}()（）]", " ", text)
    words: list[str] = []
    for token in text.split():
        field = re.fullmatch(r"(-?)([A-Za-z]+)[:：](.*)", token)
        if field:
            sign, name, value = field.groups()
            if not value:
                continue
            if name.lower() not in FIELDS:
                try:
                    _refuse_misspelt_field(name, 1)
                except QuerySyntaxError:
                    token = sign + value  # titel:x -> x; foo:x is a word as it is
            elif name.lower() == "date":
                try:
                    parse_date_range(value)
                except BadDateError:
                    continue
        if token == "-" or (token in OPERATORS and (not words or words[-1] in OPERATORS)):
            continue
        words.append(token)
    while words and words[-1] in OPERATORS:
        words.pop()
    result = " ".join(words)
    try:
        _parse_strict(result)
    except (QuerySyntaxError, BadDateError):
        return None
    return result


_DATE_RE = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?$")


def parse_date(text: str, *, end: bool = False, column: int | None = None) -> dt.date:
    """YYYY, YYYY-MM or YYYY-MM-DD as a date: the first day, or the last when end=True."""
    where = f" at column {column}" if column else ""
    match = _DATE_RE.match(text.strip())
    if not match:
        raise BadDateError(f"bad date '{text}'{where}: use YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(g) if g else None for g in match.groups())
    if month is not None and not 1 <= month <= 12:
        raise BadDateError(f"bad date '{text}'{where}: no such month (use 01 to 12)")
    try:
        if month is None:
            return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return dt.date(year, month, last if end else 1)
        return dt.date(year, month, day)
    except ValueError:
        raise BadDateError(f"bad date '{text}'{where}: no such day") from None


def parse_date_range(text: str, *, column: int | None = None) -> tuple[dt.date | None, dt.date | None]:
    """'A..B', 'A..', '..B' or a single date/period, as inclusive (start, end)."""
    if ".." in text:
        left, right = text.split("..", 1)
        start = parse_date(left, column=column) if left else None
        end = parse_date(right, end=True, column=column) if right else None
        if start is None and end is None:
            raise BadDateError(f"bad date range '{text}': give at least one end")
        check_date_order(start, end, f"bad date range '{text}': ")
        return start, end
    return parse_date(text, column=column), parse_date(text, end=True, column=column)


def date_span(since: str | dt.date | None, until: str | dt.date | None) -> tuple[dt.date | None, dt.date | None]:
    """The inclusive (start, end) of a since/until filter: dates, or YYYY[-MM[-DD]] strings.

    A period counts whole: since '2021' starts on 1 January, until '2021-02'
    ends on 28 February. None leaves that end open.
    """
    start = _as_date(since, end=False) if since is not None else None
    end = _as_date(until, end=True) if until is not None else None
    check_date_order(start, end)
    return start, end


def check_date_order(start: dt.date | None, end: dt.date | None, context: str = "") -> None:
    """Refuse a date range whose start comes after its end (the one place this is checked)."""
    if start and end and start > end:
        raise BadDateError(f"{context}the start is after the end ({start} comes after {end})")


def _as_date(value: str | dt.date, *, end: bool) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return parse_date(str(value), end=end)
