"""Compiling a parsed query (query.py) into the Whoosh queries that find and score its documents."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from whoosh import query as wq

from . import analysis, regional, schema
from . import query as q
from .internals.queries import AndMaybe, AndNot, DayRange, Near, Phrase, Term


CHAR_WEIGHT = 0.3  # a character-level match counts, but ranks below a word match


LITERAL_BONUS = 0.5  # the query's own characters in a row, when it was segmented


VARIANT_WEIGHT = 0.7  # the other region's wording (regional.py) of a query word


PARTS_WEIGHT = 0.5  # a long word's parts, apart (即将来临: 即将 ... 来临)


PROXIMITY_BONUS = 0.5  # the query's words close together in the text
PROXIMITY_SLOP = 8  # ... within this many words of each other
MAX_NEAR_WORDS = 8  # a longer query (a pasted sentence) has its literal-string bonus instead


@dataclass
class Compiled:
    """A query ready to run: the Whoosh query and what to highlight."""

    query: wq.Query
    terms: list[str] = field(default_factory=list)
    clauses: list[wq.Query] = field(default_factory=list)  # coverage units for partial matching
    required: list[wq.Query] = field(default_factory=list)  # filters and exclusions
    dated: bool = False
    undated_may_match: bool = False  # a date: under OR or NOT: undated documents can match


class Compiler:
    """Turns one parsed query into Whoosh queries.

    A text of the query is needed several times (for matching, for partial
    matching, for highlighting): the compiler segments it once. Make one per query.
    """

    def __init__(self, segmenter: analysis.Segmenter, source_query: Callable[[list[str]], wq.Query]) -> None:
        self._segmenter = segmenter
        self._source_query = source_query
        self._segmented: dict[str, list[str]] = {}
        self._word_queries: dict[tuple[str, str | None], wq.Query] = {}

    def compile(self, node) -> Compiled:
        """The Whoosh query for node, with what to highlight and the partial-match units.

        Raises QueryTooLongError for a query of more than MAX_QUERY_WORDS words.
        """
        self._segment_together(list(_texts(node)))
        q.check_words(self._word_count(node))
        compiled = Compiled(self._with_proximity(self.node(node), node))
        compiled.terms = sorted(set(self._highlight_terms(node)), key=len, reverse=True)
        items = node.items if isinstance(node, q.And) else (node,)
        for item in items:
            if isinstance(item, q.Term) and self._only_characters(item.text):
                compiled.clauses.append(self._term_query(item.text, item.field))
            elif isinstance(item, q.Term):
                compiled.clauses.extend(
                    self._word_query(w, item.field) for w in self._query_words(item.text)
                    if not (len(w) == 1 and analysis.is_cjk(w))
                )
            elif isinstance(item, q.Phrase):
                compiled.clauses.append(self.node(item))
            else:
                compiled.required.append(self.node(item))
        compiled.dated = _mentions_dates(node)
        compiled.undated_may_match = _dates_optional(node)
        if len(compiled.clauses) <= 1:
            compiled.clauses = []
        return compiled

    def _with_proximity(self, query: wq.Query, node) -> wq.Query:
        """query, scoring higher where the query's words are near one another in the text.

        The words are those the query requires anywhere (its bare words, not
        phrases, negated or title-only ones); with fewer than two, query as it is.
        """
        items = node.items if isinstance(node, q.And) else (node,)
        words = [w for item in items if isinstance(item, q.Term) and item.field is None
                 for w in self._query_words(item.text)]
        words = list(dict.fromkeys(words))
        if len(words) < 2 or len(words) > MAX_NEAR_WORDS:
            return query
        return AndMaybe(query, Near(schema.CONTENT, words, PROXIMITY_SLOP, boost=PROXIMITY_BONUS))

    def node(self, node) -> wq.Query:
        """The Whoosh query for one node of the syntax tree."""
        if isinstance(node, q.And):
            positives = [self.node(n) for n in node.items if not isinstance(n, q.Not)]
            negatives = [self.node(n.item) for n in node.items if isinstance(n, q.Not)]
            query = and_(positives) if positives else wq.Every()
            # One AndNot for all the negatives, not one inside another: the same
            # documents and scores (AndNot scores its kept side only), and a
            # tree as shallow for a thousand negatives as for one.
            return AndNot(query, or_(negatives)) if negatives else query
        if isinstance(node, q.Or):
            return or_([self.node(n) for n in node.items])
        if isinstance(node, q.Not):
            return AndNot(wq.Every(), self.node(node.item))
        if isinstance(node, q.Term):
            return self._term_query(node.text, node.field)
        if isinstance(node, q.Phrase):
            return self._phrase_query(node.text, node.field)
        if isinstance(node, q.Source):
            return self._source_query([node.name])
        if isinstance(node, q.DateSpan):
            return date_range(node.start, node.end)
        raise TypeError(node)

    def _word_count(self, node) -> int:
        """How many words the query has, as MAX_QUERY_WORDS counts them.

        Those of its bare words and phrases as they are segmented (stop words
        too: a text is also looked up literally, whole), a code such as
        ``1-2-3`` counting as its pieces (each is looked up), and one for each
        source: or date: term.
        """
        count = 0
        for item in _nodes(node):
            if isinstance(item, (q.Term, q.Phrase)):
                count += sum(1 if analysis.is_cjk(word) else max(1, len(analysis.char_tokens(word)))
                             for word in self._words(item.text))
            elif isinstance(item, (q.Source, q.DateSpan)):
                count += 1
        return count

    def _segment_together(self, texts: list[str]) -> None:
        """Segment several texts of the query in one call to the segmenter.

        The segmenter cuts each run of Chinese characters (or of letters and
        digits) on its own, so the texts joined by spaces give each text the
        words it gives alone; one call reads the query lexicon once, not once
        per text.
        """
        texts = [text for text in dict.fromkeys(texts) if text not in self._segmented]
        if len(texts) < 2:
            return
        starts = list(itertools.accumulate((len(text) + 1 for text in texts[:-1]), initial=0))
        words: dict[str, list[str]] = {text: [] for text in texts}
        for word, _, start, _ in self._segmenter.words(" ".join(texts)):
            words[texts[bisect.bisect_right(starts, start) - 1]].append(word)
        self._segmented.update(words)

    def _words(self, text: str) -> list[str]:
        """The query segmentation of text, computed once per text of the query."""
        words = self._segmented.get(text)
        if words is None:
            words = self._segmented[text] = [t[0] for t in self._segmenter.words(text)]
        return list(words)  # a fresh list: Whoosh phrases keep the one they are given

    def _query_words(self, text: str) -> list[str]:
        words = self._words(text)
        content = [w for w in words if w not in analysis.STOP_WORDS]
        return content or words

    def _only_characters(self, text: str) -> bool:
        """Whether text is a Chinese word the segmenter cut into single characters (时区: 时/区)."""
        words = self._query_words(text)
        return len(words) > 1 and all(len(w) == 1 and analysis.is_cjk(w) for w in words)

    def _term_query(self, text: str, field_name: str | None) -> wq.Query:
        words = self._query_words(text)
        if not words:
            return wq.NullQuery
        if self._only_characters(text) and field_name is None:
            # The characters apart are no word: 时 and 区 are in 同时 and
            # 社区. What the user typed is the word, found as typed; its
            # characters still score it (debian-handbook: 时区 matched 77
            # pages, 9 of them with 时区).
            literal = char_phrase(text)  # as typed: stop words too (接的长)
            return AndMaybe(literal, and_([self._word_query(w, None) for w in words]))
        query = and_([self._word_query(w, field_name) for w in words])
        if len(words) > 1 and field_name is None:
            literal = char_phrase(text, boost=LITERAL_BONUS)
            if literal is not None:
                query = AndMaybe(query, literal)
        return query

    def _word_query(self, word: str, field_name: str | None) -> wq.Query:
        # The same object in the query and in the partial-match units, so that
        # its terms' look-ups serve both.
        key = (word, field_name)
        if key not in self._word_queries:
            self._word_queries[key] = self._new_word_query(word, field_name)
        return self._word_queries[key]

    def _new_word_query(self, word: str, field_name: str | None) -> wq.Query:
        # A variant is a word of jieba's dictionary (软体, 伺服器): its whole
        # word suffices, without the costlier look-up of its characters.
        others = [self._as_word(variant, field_name, VARIANT_WEIGHT, literal=False)
                  for variant in regional.variants(word)]
        query = self._as_word(word, field_name)
        return wq.Or([query, *others]) if others else query

    def _as_word(self, word: str, field_name: str | None, boost: float = 1.0, literal: bool = True) -> wq.Query:
        """The query for one word of the query (in the title only, or anywhere).

        With literal, its characters in a row also match, at CHAR_WEIGHT, and
        a long word's parts all present match at PARTS_WEIGHT (see
        ``Segmenter.parts``: 开发阶段 is found where 开发 and 阶段 are apart).
        """
        if field_name == "title":
            return Term(schema.TITLE, word, boost=boost)
        whole = _anywhere(word, boost)
        if not literal:
            return whole
        alternatives = [whole]
        chars = char_phrase(word, boost=CHAR_WEIGHT * boost)
        if chars is not None:
            alternatives.append(chars)
        parts = self._segmenter.parts(word)
        if parts:
            alternatives.append(wq.And([_anywhere(part) for part in parts], boost=PARTS_WEIGHT * boost))
        return wq.Or(alternatives) if len(alternatives) > 1 else whole

    def _phrase_query(self, text: str, field_name: str | None) -> wq.Query:
        words = self._words(text)
        if not words:
            return wq.NullQuery
        if field_name == "title":
            return phrase(schema.TITLE, words)
        exact = char_phrase(text)
        if exact is None:
            return wq.NullQuery
        return wq.Or([phrase(schema.CONTENT, words), phrase(schema.KEYWORDS, words), exact])

    def _highlight_terms(self, node) -> list[str]:
        """The texts to highlight: words and phrases of the query, not negated ones."""
        terms = []
        for item in _nodes(node, negated=False):
            if isinstance(item, q.Phrase):
                terms.append(item.text)
            elif isinstance(item, q.Term) and self._only_characters(item.text):
                terms.append(item.text)  # found as typed (时区), so marked as typed, not 时 and 区
            elif isinstance(item, q.Term):
                words = self._query_words(item.text)
                keep = [w for w in words if not (len(w) == 1 and analysis.is_cjk(w))] or words
                terms.extend([item.text, *keep, *(v for w in keep for v in regional.variants(w))])
        return terms


def _anywhere(word: str, boost: float = 1.0) -> wq.Query:
    """A word as a word in the text, the title or the keywords."""
    return wq.Or([Term(schema.CONTENT, word), Term(schema.TITLE, word), Term(schema.KEYWORDS, word)],
                 boost=boost)


def and_(queries: list[wq.Query]) -> wq.Query:
    queries = [x for x in queries if x is not None]
    if not queries:
        return wq.Every()
    return queries[0] if len(queries) == 1 else wq.And(queries)


def or_(queries: list[wq.Query]) -> wq.Query:
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def phrase(field_name: str, words: list[str], boost: float = 1.0) -> wq.Query:
    if len(words) == 1:
        return Term(field_name, words[0], boost=boost)
    return Phrase(field_name, words, boost=boost)


def char_phrase(text: str, boost: float = 1.0) -> wq.Query | None:
    """An exact-substring query, or None if text has no characters.

    Chinese strings of two or more characters are looked up as bigrams;
    anything else (one character, Latin, digits, punctuation) as a phrase
    over the character field.
    """
    if analysis.is_cjk(text) and len(text) > 1:
        return phrase(schema.BIGRAMS, [t[0] for t in analysis.bigram_tokens(text)], boost)
    chars = [t[0] for t in analysis.char_tokens(text)]
    if not chars:
        return None
    if len(chars) == 1:
        return Term(schema.CHARS, chars[0], boost=boost)
    return Phrase(schema.CHARS, chars, boost=boost)


def date_range(start: dt.date | None, end: dt.date | None) -> wq.Query:
    """The documents dated from start to end, inclusive (None: no bound); undated ones never.

    Whoosh's DateRange over the date field, matched through the day-number
    column (see internals.queries.DayRange: the same matches and scores).
    """
    low = dt.datetime.combine(start, dt.time()) if start else None
    high = dt.datetime.combine(end, dt.time.max) if end else None
    return DayRange(schema.DATE, low, high, days=schema.DAYNUMBER)


def _nodes(node, *, negated: bool = True) -> Iterator:
    """Every node of a query tree, in order (without Not subtrees unless negated).

    A loop over a stack, not recursion: a walk costs no stack, however the
    tree was built (the parser also keeps trees within MAX_NESTING).
    """
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, (q.And, q.Or)):
            stack.extend(reversed(item.items))
        elif isinstance(item, q.Not) and negated:
            stack.append(item.item)


def _texts(node) -> Iterator[str]:
    """The texts of the words and phrases of a query tree."""
    return (item.text for item in _nodes(node) if isinstance(item, (q.Term, q.Phrase)))


def _mentions_dates(node) -> bool:
    return any(isinstance(item, q.DateSpan) for item in _nodes(node))


def _dates_optional(node) -> bool:
    """Whether a date: of the query is under OR or NOT (not required of every match).

    Only then can a document without a date match the query.
    """
    stack = [(node, True)]
    while stack:
        item, required = stack.pop()
        if isinstance(item, q.DateSpan) and not required:
            return True
        if isinstance(item, q.And):
            stack.extend((child, required) for child in item.items)
        elif isinstance(item, q.Or):
            stack.extend((child, False) for child in item.items)
        elif isinstance(item, q.Not):
            stack.append((item.item, False))
    return False


def strip_dates(query: wq.Query, positive: bool = True) -> wq.Query:
    """The query relaxed for documents without a date, to count those left out.

    Such a document never matches a date range. A range it must match (under
    an even number of negations: positive) becomes Every, so the relaxed query
    finds the documents that could match if their dates were known; a range
    under a negation stays, since not matching it already lets them through.

    Every query shape is rebuilt by Whoosh's own ``apply``, which knows each
    node's constructor; only negations (the right side of AndNot, Not) are
    handled here. (Rebuilding every CompoundQuery from a list of subqueries
    was a TypeError for AndNot and the other BinaryQuery kinds, which take
    two.) The result is for counting, not scoring: an And drops its Every
    children and an Or with an Every child is Every (an And of 60 Every
    matchers took seconds).
    """
    if isinstance(query, wq.DateRange):
        return wq.Every() if positive else query
    if isinstance(query, wq.AndNot):
        return type(query)(strip_dates(query.a, positive), strip_dates(query.b, not positive))
    if isinstance(query, wq.Not):
        return wq.Not(strip_dates(query.query, not positive), boost=query.boost)
    relaxed = query.apply(lambda child: strip_dates(child, positive))
    if type(relaxed) is wq.And:
        return and_([s for s in relaxed.subqueries if not _is_every(s)])
    if type(relaxed) is wq.Or and any(_is_every(s) for s in relaxed.subqueries):
        return wq.Every()
    return relaxed


def _is_every(query: wq.Query) -> bool:
    """Whether query is an Every() of no particular field (every document)."""
    return type(query) is wq.Every and query.fieldname is None
