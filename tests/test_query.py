"""The query language: the syntax tree the parser builds, the errors it reports, its limits."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchkit import BadDateError, QuerySyntaxError, QueryTooLongError, SearchkitError, SearchResults
from searchkit.normalize import normalize_query
from searchkit.query import (
    MAX_NESTING,
    MAX_QUERY_CHARS,
    And,
    DateSpan,
    Not,
    Or,
    Phrase,
    Source,
    Term,
    date_span,
    parse,
    parse_date,
    parse_date_range,
)

D = dt.date


# -- the tree -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("韶关", Term("韶关")),
        ("韶关 改革", And((Term("韶关"), Term("改革")))),
        ("韶关 AND 改革", And((Term("韶关"), Term("改革")))),
        ("预制菜 OR 林长制", Or((Term("预制菜"), Term("林长制")))),
        ("韶关 NOT 民政", And((Term("韶关"), Not(Term("民政"))))),
        ("韶关 -民政", And((Term("韶关"), Not(Term("民政"))))),
        ("-民政", Not(Term("民政"))),
        ("NOT NOT 民政", Not(Not(Term("民政")))),
        # AND binds tighter than OR.
        ("a OR b c", Or((Term("a"), And((Term("b"), Term("c")))))),
        ("a b OR c", Or((And((Term("a"), Term("b"))), Term("c")))),
        ("(数据 OR 算力) 中心", And((Or((Term("数据"), Term("算力"))), Term("中心")))),
        ("（数据 OR 算力） 中心", And((Or((Term("数据"), Term("算力"))), Term("中心")))),
        ("-(a OR b)", Not(Or((Term("a"), Term("b"))))),
        ("((a))", Term("a")),
        ('"数据中心集群"', Phrase("数据中心集群")),
        ('"数据 中心"', Phrase("数据 中心")),
        ("“数据中心”", Phrase("数据中心")),
        ("「数据中心」", Phrase("数据中心")),
        ('韶关 "数据中心"', And((Term("韶关"), Phrase("数据中心")))),
        ("title:改革", Term("改革", "title")),
        ('title:"改革 攻坚"', Phrase("改革 攻坚", "title")),
        ("TITLE:改革", Term("改革", "title")),
        ("title：改革", Term("改革", "title")),
        ("source:澎湃新闻", Source("澎湃新闻")),
        ("韶关 source:nanfangPlus", And((Term("韶关"), Source("nanfangPlus")))),
        ("date:2022", DateSpan(D(2022, 1, 1), D(2022, 12, 31))),
        ("date:2022-02", DateSpan(D(2022, 2, 1), D(2022, 2, 28))),
        ("date:2024-02", DateSpan(D(2024, 2, 1), D(2024, 2, 29))),
        ("date:2022-05-17", DateSpan(D(2022, 5, 17), D(2022, 5, 17))),
        ("date:2022-01..2022-06", DateSpan(D(2022, 1, 1), D(2022, 6, 30))),
        ("date:2022-03..", DateSpan(D(2022, 3, 1), None)),
        ("date:..2021", DateSpan(None, D(2021, 12, 31))),
        # Operators are upper case; anything else is a word.
        ("or", Term("or")),
        ("a or b", And((Term("a"), Term("or"), Term("b")))),
        ("5G-网络", Term("5G-网络")),
    ],
)
def test_parse_tree(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        # An operator where it cannot be one is the word itself.
        ("OR 函数", And((Term("OR"), Term("函数")))),
        ("函数 AND", And((Term("函数"), Term("AND")))),
        ("NOT", Term("NOT")),
        ("韶关 NOT", And((Term("韶关"), Term("NOT")))),
        ("(OR)", Term("OR")),
        ("NOT OR 函数", Or((Term("NOT"), Term("函数")))),
        # ...but where it can be, it is the operator.
        ("NOT 韶关", Not(Term("韶关"))),
        ("a OR NOT b", Or((Term("a"), Not(Term("b"))))),
        # A name before a colon that is no field is part of the word.
        ("http://example.com/a?b=1", Term("http://example.com/a?b=1")),
        ("std::string 用法", And((Term("std::string"), Term("用法")))),
        ("localhost:8080", Term("localhost:8080")),
        ("韶关 author:张文", And((Term("韶关"), Term("author:张文")))),
    ],
)
def test_what_cannot_be_syntax_is_searched_as_words(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        # Lines pasted from a text: a Chinese quotation mark or parenthesis without its
        # partner is punctuation, not an unbalanced quote or group.
        ("，競與日爭時」。", And((Term("，競與日爭時"), Term("。")))),
        ("（見《金石續編》卷十二", Term("見《金石續編》卷十二")),
        ("）爲遇毒龍生武子，（毒龍者", And((Term("爲遇毒龍生武子，"), Term("毒龍者")))),
        ("「題作『七夕』", And((Term("題作"), Phrase("七夕")))),
        # With its partner it is syntax, as before.
        ("（数据 OR 算力） 中心", And((Or((Term("数据"), Term("算力"))), Term("中心")))),
        ("「数据中心」", Phrase("数据中心")),
    ],
)
def test_unpaired_chinese_quotes_and_brackets_are_punctuation(text, tree):
    assert parse(text) == tree


def test_combined_query():
    tree = parse('韶关 (改革 OR 转型) -民政 title:发展 source:澎湃新闻 date:2021..2022 "产业 转型"')
    assert tree == And((
        Term("韶关"),
        Or((Term("改革"), Term("转型"))),
        Not(Term("民政")),
        Term("发展", "title"),
        Source("澎湃新闻"),
        DateSpan(D(2021, 1, 1), D(2022, 12, 31)),
        Phrase("产业 转型"),
    ))


# -- dates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2022", D(2022, 1, 1), D(2022, 12, 31)),
        ("2022-3", D(2022, 3, 1), D(2022, 3, 31)),
        ("2022/03/01", D(2022, 3, 1), D(2022, 3, 1)),
        ("2022.12", D(2022, 12, 1), D(2022, 12, 31)),
    ],
)
def test_parse_date_periods(text, start, end):
    assert parse_date(text) == start
    assert parse_date(text, end=True) == end


def test_parse_date_range_open_ends():
    assert parse_date_range("2022..") == (D(2022, 1, 1), None)
    assert parse_date_range("..2022-06") == (None, D(2022, 6, 30))


# -- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ('"数据中心', QuerySyntaxError, ["quote", "column 1"]),
        ('韶关 "数据', QuerySyntaxError, ["quote", "column 4"]),
        ("(韶关 改革", QuerySyntaxError, ["parenthesis", "column 1", "never closed"]),
        ("韶关 改革)", QuerySyntaxError, ["parenthesis", "column 6"]),
        ("titel:改革", QuerySyntaxError, ["unknown field", "titel", "column 1", "did you mean title:"]),
        ("韶关 data:2022", QuerySyntaxError, ["unknown field", "data", "column 4", "did you mean date:"]),
        ("date:2022-13", BadDateError, ["2022-13", "column 6", "month"]),
        ("date:2022-02-30", BadDateError, ["2022-02-30", "column 6", "day"]),
        ("date:yesterday", BadDateError, ["yesterday", "column 6", "YYYY"]),
        ("date:2022-06..2022-01", BadDateError, ["start is after the end"]),
        ("date:..", BadDateError, ["at least one end"]),
        ("()", QuerySyntaxError, ["column 2"]),
        ("title:", QuerySyntaxError, ["title:", "column 1", "value"]),
        ("", QuerySyntaxError, ["empty"]),
        ("   ", QuerySyntaxError, ["empty"]),
    ],
)
def test_syntax_errors_say_where_and_why(text, error, words):
    with pytest.raises(error) as caught:
        parse(text)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert isinstance(caught.value, SearchkitError)


# -- limits -------------------------------------------------------------------


def test_longest_query_accepted_and_one_more_character_refused():
    assert parse("a" * MAX_QUERY_CHARS) == Term("a" * MAX_QUERY_CHARS)
    with pytest.raises(QueryTooLongError) as caught:
        parse("a" * (MAX_QUERY_CHARS + 1))
    assert str(caught.value) == f"query too long: {MAX_QUERY_CHARS + 1} characters (at most {MAX_QUERY_CHARS})"
    assert isinstance(caught.value, QuerySyntaxError)


@pytest.mark.parametrize(
    ("opening", "closing", "levels_each"),
    [("(", ")", 1), ("（", "）", 1), ("NOT ", "", 1), ("-", "", 1), ("-(", ")", 2), ("NOT (", ")", 2)],
)
def test_deepest_nesting_accepted_and_one_more_level_refused(opening, closing, levels_each):
    levels = MAX_NESTING // levels_each
    deepest = opening * levels + "韶关" + closing * levels
    assert tree_depth(parse(deepest)) <= 2 * MAX_NESTING + 3
    too_deep = opening * (levels + 1) + "韶关" + closing * (levels + 1)
    with pytest.raises(QueryTooLongError) as caught:
        parse(too_deep)
    message = str(caught.value)
    assert message.startswith("query too deeply nested at column ") and "\n" not in message
    assert f"at most {MAX_NESTING} levels" in message


def test_nesting_counts_levels_on_one_path_not_all_groups():
    # Many groups side by side are no deeper than one.
    text = " ".join(["(a OR -b)"] * 100)
    assert len(parse(text).items) == 100


def test_negations_in_a_row_nest_the_tree():
    tree = parse("NOT -NOT 民政")
    assert tree == Not(Not(Not(Term("民政"))))


@pytest.mark.parametrize(
    "text",
    [
        "(" * 400 + "韶关" + ")" * 400,  # 802 characters: within the length limit
        "NOT " * 240 + "韶关",
        "-" * 900 + "韶关",
        "(" * 2000 + "韶关" + ")" * 2000,  # the reported inputs: beyond it
        "NOT " * 2000 + "韶关",
        "-(" * 1000 + "韶关" + ")" * 1000,
    ],
)
def test_pathological_nesting_is_refused_in_one_line(text):
    with pytest.raises(QueryTooLongError) as caught:
        parse(text)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(("query too deeply nested", "query too long"))


def tree_depth(node) -> int:
    """The number of nodes on the longest path from the root (without recursion)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, (And, Or)):
            stack.extend((child, depth + 1) for child in item.items)
        elif isinstance(item, Not):
            stack.append((item.item, depth + 1))
    return deepest


# -- fuzzing: any text parses or is refused ------------------------------------------

# Pieces of the query language and of text that stresses it: quotes of every
# kind, parentheses, operators, fields with good and bad values, Chinese in
# both scripts, full-width forms, controls, invisible characters, lone
# surrogates (as undecodable bytes in argv become) and characters beyond the BMP.
QUERY_PIECES = [
    '"', "“", "”", "「", "」", "『", "』", "(", ")", "（", "）", " ", "  ", "\t", "\n", "\u3000",
    "OR", "AND", "NOT", "or", "-", "--", ":", "：", "..",
    "title:", "TITLE：", "source:", "date:", "Date:", "foo:", "date:2022", "date:2022-02..2022-06",
    "date:..2021", "date:..", "date:2022-13", "date:2022-02-30", "date:9999", "2022-05",
    "韶关", "韶關", "數據中心", "改革", "民政", "山", "的", "了", "1554亿元", "5G-网络", "ＡＢＣ", "５Ｇ",
    "澎湃新闻", "nfplus", "a.b-c_d", "𠮷", "\x00", "\x1b[31m", "\u200b", "\ufeff", "\u0301", "\ud800", "\udcff",
]
# Query-like text: words of the seeds, operators and fields, spaced out.
QUERY_WORDS = ["韶关", "韶關", "改革", "民政", "山", "的", "數據中心", "1554亿元", "预制菜", "林长制", "ＡＢＣ"]
spaced_tokens = st.lists(
    st.one_of(
        st.sampled_from(QUERY_WORDS),
        st.sampled_from(QUERY_WORDS).map("-".__add__),
        st.sampled_from(QUERY_WORDS).map('"{}"'.format),
        st.sampled_from(["OR", "AND", "NOT", "(", ")", "-", '"', "title:韶关", "source:澎湃新闻",
                         "source:nfplus", "date:2022", "date:2021..2022-03", "date:..2021", "-date:2022"]),
    ),
    max_size=12,
).map(" ".join)
# Anything: pieces glued together, runs of openers, long repetitions.
glued_pieces = st.lists(
    st.one_of(
        st.sampled_from(QUERY_PIECES),
        st.text(max_size=3),
        st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=1),
        st.builds(str.__mul__, st.sampled_from(["(", "-", "NOT ", "-(", "韶关 ", "a"]), st.integers(0, 40)),
    ),
    max_size=25,
).map("".join)
repeated = st.builds(str.__mul__, st.sampled_from(QUERY_PIECES + QUERY_WORDS), st.integers(0, 1200))
query_texts = spaced_tokens | glued_pieces | repeated

# Modest and reproducible in CI; SEARCHKIT_FUZZ_EXAMPLES=20000 for a long session.
FUZZ = settings(
    max_examples=int(os.environ.get("SEARCHKIT_FUZZ_EXAMPLES") or 300),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def assert_one_line(error: SearchkitError) -> None:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message


@FUZZ
@given(query_texts)
def test_any_text_parses_or_is_refused_with_a_searchkit_error(text):
    for form in (text, normalize_query(text)):
        try:
            tree = parse(form)
        except SearchkitError as error:
            assert_one_line(error)
        else:
            # Bounded by construction: what parses is within the limits.
            assert len(form) <= MAX_QUERY_CHARS
            assert tree_depth(tree) <= 2 * MAX_NESTING + 3


@FUZZ
@given(query_texts)
def test_any_text_searches_or_is_refused_with_a_searchkit_error(seed_index, text):
    try:
        results = seed_index.search(text, limit=3)
    except SearchkitError as error:
        assert_one_line(error)
    else:
        assert isinstance(results, SearchResults)
        assert results.total >= len(results.hits) and results.undated_excluded >= 0
        for hit in results.hits:
            assert all(0 <= start < end <= len(hit.snippet) for start, end in hit.highlights)


@pytest.mark.parametrize(("since", "until", "span"), [
    ("2021", "2021-02", (dt.date(2021, 1, 1), dt.date(2021, 2, 28))),
    (dt.date(2022, 3, 4), None, (dt.date(2022, 3, 4), None)),
    (None, "2024-02", (None, dt.date(2024, 2, 29))),
])
def test_date_span_counts_periods_whole(since, until, span):
    assert date_span(since, until) == span


def test_one_message_for_a_range_that_ends_before_it_starts(seed_index):
    with pytest.raises(BadDateError) as from_filters:
        seed_index.search("韶关", since="2023", until="2022")
    with pytest.raises(BadDateError) as from_query:
        parse("date:2023..2022")
    assert str(from_filters.value) == "the start is after the end (2023-01-01 comes after 2022-12-31)"
    assert str(from_query.value).endswith(str(from_filters.value))


# -- lenient parsing (the shell's best-effort queries) -------------------------------------


@pytest.mark.parametrize(("text", "salvaged"), [
    ('"韶关', "韶关"),
    ("韶关 (改革", "韶关 改革"),
    ("titel:韶关 date:2022-13", "韶关"),
    ("foo:韶关 date:2022-13", "foo:韶关"),
    ("(", None),
])
def test_lenient_parse_offers_a_best_effort_query(text, salvaged):
    lenient = parse(text, lenient=True)
    assert len(lenient.problems) == 1 and lenient.problems[0].message
    assert lenient.text == salvaged
    assert (lenient.node is None) == (salvaged is None)
    if salvaged:
        assert lenient.node == parse(salvaged)


def test_lenient_parse_of_a_good_query_has_no_problem():
    lenient = parse("韶关 (改革 OR 发展)", lenient=True)
    assert lenient.problems == [] and lenient.text == "韶关 (改革 OR 发展)"
    assert lenient.node == parse("韶关 (改革 OR 发展)")


def test_lenient_parse_says_where_the_problem_is():
    problem = parse("韶关 date:2022-13", lenient=True).problems[0]
    assert problem.column == len("韶关 date:") + 1 and "2022-13" in problem.message
