"""Snippets users read: whole terms marked, readable fragments, one line, either script."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from searchkit.highlight import (
    Snippet, best_fragment, cut_like, find_spans, fit_columns, make_snippet, span_finder,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Where a fragment may be cut: after these (closing quotes may follow a terminator).
BOUNDARY_CHARS = set("。！？!?；;，,：:…\n") | set("”’\"」』）)》")

# A few Simplified -> Traditional characters, one for one, enough to make a
# same-length "original script" text the way Document.original is one.
TRADITIONAL = str.maketrans(
    "数据关发区国设华实时网节业产进务会统韶兴电经济东广门开为这来传级",
    "數據關發區國設華實時網節業產進務會統韶興電經濟東廣門開為這來傳級",
)


def _seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def article() -> str:
    """Seed 000: a Jekyll post; front matter dropped and <p> tags stripped crudely.

    What is left keeps the newlines and indentation between paragraphs, so
    snippets have whitespace runs to fold.
    """
    body = _seed("000").split("---", 2)[2]
    return re.sub(r"<[^>]+>", "", body)


@pytest.fixture(scope="module")
def plain() -> str:
    """Seed 002: plain lines with half-width punctuation."""
    return _seed("002")


def _fragments(snippet: Snippet, text: str) -> list[str]:
    return [text[start:end] for start, end in snippet.source_spans]


def _one_line(fragment: str) -> str:
    return re.sub(r"\s+", " ", fragment)


def _at_boundary_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in BOUNDARY_CHARS


def _at_boundary_end(text: str, end: int) -> bool:
    return not text[end:].strip() or text[end - 1] in BOUNDARY_CHARS


# -- find_spans ---------------------------------------------------------------


def test_find_spans_marks_every_whole_phrase(article):
    spans = find_spans(article, ["数据中心"])
    assert len(spans) == article.count("数据中心") == 11
    assert all(article[start:end] == "数据中心" for start, end in spans)


def test_find_spans_never_marks_the_zhongxin_of_suanli_zhongxin(article):
    suanli = article.index("算力中心") + len("算力")
    spans = find_spans(article, ["数据中心"])
    assert not any(start <= suanli < end for start, end in spans)


def test_overlapping_terms_are_marked_once_as_the_longest(article):
    spans = find_spans(article, ["数据", "数据中心"])
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    marked = [article[start:end] for start, end in spans]
    assert marked.count("数据中心") == article.count("数据中心")
    assert marked.count("数据") == article.count("数据") - article.count("数据中心")


def test_find_spans_folds_ascii_case_only(plain):
    spans = find_spans(plain, ["5g"])
    assert [plain[start:end] for start, end in spans] == ["5G"] * plain.count("5G")
    assert find_spans("5G网络与5g", ["5G"]) == [(0, 2), (5, 7)]
    assert find_spans("ＡＢ ab", ["ab"]) == [(3, 5)]  # full-width letters are not folded


def test_find_spans_ignores_empty_terms():
    assert find_spans("韶关数据中心", ["", "中心"]) == [(4, 6)]
    assert find_spans("韶关数据中心", [""]) == []
    assert find_spans("", ["韶关"]) == []


def test_find_spans_is_fast_on_long_texts(plain):
    text = plain * 25  # about 100 KB
    spans = find_spans(text, ["改革", "韶关", "产业", "数据中心", "数据", "5g"])
    assert len(spans) > 1000


def test_whitespace_pattern_is_str_isspace():
    """Snippets fold whitespace with a regex in one place and str.isspace in another."""
    from searchkit.highlight import _WHITESPACE_RE

    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    assert "".join(_WHITESPACE_RE.findall(everything)) == "".join(c for c in everything if c.isspace())


@pytest.mark.parametrize("text", ["一行\n二行\t三行 四行", "一行\n\n二行  三行\u3000\n四行", "\n二行\n四行\n"])
def test_highlights_survive_single_and_long_whitespace_runs(text):
    snippet = make_snippet(text, find_spans(text, ["二行", "四行"]))
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["二行", "四行"]
    assert snippet.text == re.sub(r"\s+", " ", text.strip())


def test_span_finder_finds_in_every_text_what_find_spans_finds(article, plain):
    terms = ["数据中心", "数据", "韶关", "5G", "大湾区"]
    spans = span_finder(terms)
    for text in [article, plain, "5G网络与5g", "ＡＢ ab", "", "没有匹配"]:
        assert spans(text) == find_spans(text, terms)
    assert span_finder(["", ""])("韶关") == []


# -- make_snippet -------------------------------------------------------------


@pytest.mark.parametrize("terms", [["数据中心"], ["数据中心", "韶关"], ["算力", "集群"]])
def test_every_highlight_is_a_term(article, terms):
    snippet = make_snippet(article, find_spans(article, terms))
    assert snippet.highlights
    assert all(snippet.text[start:end] in terms for start, end in snippet.highlights)


def test_searching_shujuzhongxin_highlights_it_whole(article):
    snippet = make_snippet(article, find_spans(article, ["数据中心"]))
    marked = {snippet.text[start:end] for start, end in snippet.highlights}
    assert marked == {"数据中心"}
    for start, end in snippet.highlights:
        assert snippet.text[start - 2 : start] != "算力"


@pytest.mark.parametrize("max_fragments", [1, 2, 3])
def test_fragments_are_readable_lengths_and_few(article, plain, max_fragments):
    for text, terms in ((article, ["数据中心", "韶关"]), (plain, ["改革", "产业"])):
        snippet = make_snippet(text, find_spans(text, terms), max_fragments=max_fragments)
        assert 1 <= len(snippet.source_spans) <= max_fragments
        for start, end in snippet.source_spans:
            assert 60 <= end - start <= 120
        ends = [edge for span in snippet.source_spans for edge in span]
        assert ends == sorted(ends)  # in document order, not overlapping


def test_fragments_never_cut_a_match(article):
    spans = find_spans(article, ["数据中心", "大湾区枢纽", "韶关"])
    for fragment_chars in (30, 50, 80, 100):
        snippet = make_snippet(
            article, spans, fragment_chars=fragment_chars, min_fragment_chars=20
        )
        for start, end in snippet.source_spans:
            for s, e in spans:
                assert e <= start or s >= end or start <= s < e <= end


@pytest.mark.parametrize("terms", [["5g"], ["改革"], ["创新"], ["高新区"]])
def test_fragments_are_cut_at_clause_boundaries(plain, terms):
    snippet = make_snippet(plain, find_spans(plain, terms))
    for start, end in snippet.source_spans:
        assert _at_boundary_start(plain, start), plain[start : start + 20]
        assert _at_boundary_end(plain, end), plain[end - 20 : end]


def test_sentence_ends_are_preferred_to_commas():
    sentence = "韶关坚持向改革要空间要动力，以深化供给侧结构性改革为主线，大力推进一批改革。"
    text = sentence * 6
    snippet = make_snippet(text, find_spans(text, ["供给侧"]), max_fragments=1)
    ((start, end),) = snippet.source_spans
    assert text[end - 1] == "。"
    assert start == 0 or text[start - 1] == "。"


def test_fragments_are_joined_with_ellipses(plain):
    snippet = make_snippet(plain, find_spans(plain, ["5g", "大湾区", "钢铁"]))
    fragments = [_one_line(fragment) for fragment in _fragments(snippet, plain)]
    assert len(fragments) == 3
    assert snippet.text == "…" + "…".join(fragments) + "…"


def test_no_ellipsis_at_the_document_edges():
    text = "韶关位于广东北部，是粤北的中心城市。" + "中间的话不含查询词。" * 20 + "南雄市也在粤北。"
    snippet = make_snippet(
        text, find_spans(text, ["韶关", "南雄"]), fragment_chars=40, min_fragment_chars=20
    )
    assert snippet.source_spans[0][0] == 0 and not snippet.text.startswith("…")
    assert snippet.source_spans[-1][1] == len(text) and not snippet.text.endswith("…")
    assert snippet.text.count("…") == 1  # only between the two fragments


def test_snippet_is_one_line_and_highlights_survive_folded_whitespace(article):
    snippet = make_snippet(article, find_spans(article, ["数据中心", "韶关"]))
    assert "\n" not in snippet.text
    assert "  " not in snippet.text
    assert snippet.text == snippet.text.strip()
    assert any(re.search(r"\s{2,}", fragment) for fragment in _fragments(snippet, article))
    assert all(snippet.text[s:e] in ("数据中心", "韶关") for s, e in snippet.highlights)


def test_no_spans_gives_the_opening_fragment(article):
    snippet = make_snippet(article, [])
    assert snippet.highlights == []
    assert snippet.text.startswith("文/张文杨长虹")
    ((start, end),) = snippet.source_spans
    assert 60 <= end - start <= 120
    assert _at_boundary_end(article, end)
    assert snippet.text.endswith("…") or snippet.text.endswith("。")


def test_short_text_is_returned_whole():
    text = "韶关设立数据中心集群，\n构建算力中心。"
    snippet = make_snippet(text, find_spans(text, ["数据中心"]))
    assert snippet.text == "韶关设立数据中心集群， 构建算力中心。"
    assert snippet.source_spans == [(0, len(text))]
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["数据中心"]
    assert make_snippet("", []) == Snippet("", [], [])


def test_densest_window_comes_first_choice(plain):
    # With one fragment, the window showing both terms beats windows showing one.
    snippet = make_snippet(plain, find_spans(plain, ["5g", "工业互联网"]), max_fragments=1)
    assert {snippet.text[s:e] for s, e in snippet.highlights} == {"5G", "工业互联网"}


def test_long_text_snippet(plain):
    text = plain * 25
    snippet = make_snippet(text, find_spans(text, ["改革", "韶关", "5g"]))
    assert len(snippet.source_spans) == 3
    assert "5G" in {snippet.text[s:e] for s, e in snippet.highlights}


# -- cut_like -----------------------------------------------------------------


def test_cut_like_gives_the_same_fragments_in_traditional(article):
    original = article.translate(TRADITIONAL)
    assert len(original) == len(article) and original != article
    snippet = make_snippet(article, find_spans(article, ["数据中心"]))
    shown = cut_like(snippet, original)
    assert shown == snippet.text.translate(TRADITIONAL)
    assert all(shown[start:end] == "數據中心" for start, end in snippet.highlights)


def test_cut_like_on_the_opening_fragment(article):
    snippet = make_snippet(article, [])
    assert cut_like(snippet, article.translate(TRADITIONAL)) == snippet.text.translate(
        TRADITIONAL
    )


def test_layout_marks_only_text_left_out():
    text = "甲乙丙丁戊己庚辛\n 壬癸……子丑寅卯"

    def layout(*spans: tuple[int, int]) -> str:
        return cut_like(Snippet("", [], list(spans)), text)

    assert layout((0, 2), (2, 4)) == "甲乙丙丁…"  # abutting: nothing left out between
    assert layout((0, 2), (4, 6)) == "甲乙…戊己…"
    assert layout((6, 8), (10, 14)) == "…庚辛 壬癸……"  # only whitespace between
    assert layout((11, 13), (15, 17)) == "…癸…丑寅…"  # no ellipsis doubled
    assert layout((0, 18)) == "甲乙丙丁戊己庚辛 壬癸……子丑寅卯"


def test_cut_like_rejects_a_shorter_text(article):
    snippet = make_snippet(article, find_spans(article, ["数据中心"]))
    with pytest.raises(ValueError):
        cut_like(snippet, article[:100])


# -- best_fragment: the one fragment a search shows -------------------------------------


def test_best_fragment_shows_the_most_query_words_not_the_first_match():
    text = ("韶关的山很多，风景很好。" * 3 + "这里说的是别的事情，没有查询词。" * 8
            + "韶关设立数据中心集群，承接算力需求。" + "后面的话也没有查询词。" * 8)
    snippet = best_fragment(text, find_spans(text, ["韶关", "数据中心", "算力"]), 40)
    assert {snippet.text[s:e] for s, e in snippet.highlights} == {"韶关", "数据中心", "算力"}


def test_best_fragment_then_most_matches_then_earliest():
    filler = "中间这一段没有任何要找的词语。" * 6
    text = "数据出现一次。" + filler + "数据一次，数据两次，数据三次。" + filler + "数据又来三次：数据，数据。"
    snippet = best_fragment(text, find_spans(text, ["数据"]), 30)
    assert len(snippet.highlights) == 3
    ((start, end),) = snippet.source_spans
    assert start < len(text) // 2  # the earlier of the two windows with three


def test_best_fragment_is_cut_at_sentence_ends_when_it_can():
    filler = "韶关坚持向改革要空间要动力，大力推进一批改革。"
    text = filler * 4 + "以深化供给侧结构性改革为主线，推动高质量发展。" + filler * 4
    snippet = best_fragment(text, find_spans(text, ["供给侧"]), 100)
    ((start, end),) = snippet.source_spans
    assert start == 0 or text[start - 1] == "。"
    assert text[end - 1] == "。"


def test_best_fragment_of_a_short_text_is_the_whole_text():
    text = "韶关设立数据中心集群，\n构建算力中心。"
    snippet = best_fragment(text, find_spans(text, ["数据中心"]), 160)
    assert snippet.text == "韶关设立数据中心集群， 构建算力中心。"
    assert best_fragment("", [], 10) == Snippet("", [], [])


def test_best_fragment_without_matches_is_the_opening(article):
    snippet = best_fragment(article, [], 100)
    assert snippet.text.startswith("文/张文杨长虹") and snippet.highlights == []
    ((start, end),) = snippet.source_spans
    assert end - start <= 100 and _at_boundary_end(article, end)


def test_a_long_document_gets_no_longer_snippet_than_a_short_one(plain):
    """Matches all over a long document used to fill every fragment (3 x 120 characters)."""
    terms = ["改革", "韶关", "5g"]
    short = best_fragment(plain, find_spans(plain, terms), 160)
    long = best_fragment(plain * 200, find_spans(plain * 200, terms), 160)
    assert len(long.text) <= 162 and len(short.text) <= 162
    ((start, end),) = long.source_spans
    assert end - start <= 160


def test_best_fragment_in_the_original_script(article):
    original = article.translate(TRADITIONAL)
    snippet = best_fragment(article, find_spans(article, ["数据中心", "韶关"]), 120)
    shown = cut_like(snippet, original)
    assert shown == snippet.text.translate(TRADITIONAL)
    assert {shown[s:e] for s, e in snippet.highlights} <= {"數據中心", "韶關"}


_WORDS = st.text(alphabet="数据中心算力网络，。\n ab", max_size=400)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_WORDS, st.lists(st.sampled_from(["数据", "中心", "数据中心", "算力", "ab", "网"]), min_size=1,
                        max_size=3), st.integers(min_value=1, max_value=200))
def test_best_fragment_bounds(text, terms, max_chars):
    spans = find_spans(text, terms)
    snippet = best_fragment(text, spans, max_chars)
    assert len(snippet.source_spans) <= 1
    for start, end in snippet.source_spans:
        assert end - start <= max_chars
        assert all(e <= start or s >= end or start <= s < e <= end for s, e in spans)  # none cut
    assert len(snippet.text) <= max_chars + 2
    assert "\n" not in snippet.text
    assert all(snippet.text[s:e].lower() in terms for s, e in snippet.highlights)
    assert len(cut_like(snippet, text.upper())) == len(snippet.text)


# -- fit_columns: a snippet on a terminal line ---------------------------------------


def _columns(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _width(text: str) -> int:
    return sum(map(_columns, text))


def test_fit_columns_keeps_text_that_fits():
    assert fit_columns("韶关设立数据中心", [(4, 8)], 16, _columns) == ("韶关设立数据中心", [(4, 8)])


def test_fit_columns_counts_wide_characters_and_keeps_the_best_part():
    text = "…开头的话很长很长，没有查询词。韶关设立数据中心集群，承接数据中心的算力需求。结尾的话也很长很长很长…"
    highlights = find_spans(text, ["数据中心", "算力"])
    fitted, kept = fit_columns(text, highlights, 40, _columns)
    assert _width(fitted) <= 40
    assert fitted.startswith("…") and fitted.endswith("…")
    assert {fitted[s:e] for s, e in kept} == {"数据中心", "算力"}


def test_fit_columns_starts_a_clause_and_never_cuts_a_latin_word():
    text = "启用默认防火墙之前，请执行下面的命令。Current computers are powerful enough to filter"
    fitted, kept = fit_columns(text, find_spans(text, ["防火墙"]), 44, _columns)
    assert [fitted[s:e] for s, e in kept] == ["防火墙"]
    words = fitted.strip("…").split()
    assert all(word in text.split() or not word.isascii() for word in words), fitted


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_WORDS, st.lists(st.sampled_from(["数据", "中心", "算力", "ab"]), min_size=1, max_size=3),
       st.integers(min_value=6, max_value=120))
def test_fit_columns_bounds(text, terms, columns):
    text = " ".join(text.split())
    highlights = find_spans(text, terms)
    fitted, kept = fit_columns(text, highlights, columns, _columns)
    longest = max([_width(text[s:e]) for s, e in highlights] + [0])
    if longest + 2 <= columns:  # a match wider than the room is shown cut, alone
        assert _width(fitted) <= columns
        assert len(kept) == sum(1 for s, e in kept if fitted[s:e].lower() in terms)
    if highlights and longest + 2 <= columns:
        assert kept  # a match is always in view


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet="aAbBkKsSüÜ\u212a\u017fİı数据", max_size=60),
       st.lists(st.text(alphabet="abksü\u212a\u017fı数据", min_size=1, max_size=3), min_size=1, max_size=3))
def test_find_spans_folds_ascii_letters_and_nothing_else(text, terms):
    """The same spans as matching in a copy of the text with A-Z lowered (what it used to do)."""
    fold = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    ordered = sorted({term.translate(fold) for term in terms}, key=lambda term: (-len(term), term))
    expected = [m.span() for m in re.finditer("|".join(map(re.escape, ordered)), text.translate(fold))]
    assert find_spans(text, terms) == expected
