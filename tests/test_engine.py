"""SearchIndex: the public API, on the seeds and on small corpora written by the tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from searchkit import (
    BadDateError,
    Document,
    Hit,
    IndexNotFoundError,
    IndexStats,
    QuerySyntaxError,
    SearchIndex,
    SearchResults,
    render,
)

S000 = "000_150bae6b94f5f664.txt"  # 羊城晚报, 2022-02-18
S001 = "001_cbd37f1b4b68be5e.txt"  # 羊城晚报 (print page), undated; mentions 民政
S002 = "002_3a19d138acb7fb5e.txt"  # 澎湃新闻, 2021-04-12; 林长制
S003 = "003_6a253fe0538d6617.txt"  # 南方日报, undated, Traditional; 预制菜
S004 = "004_adbd3bb83504ea18.txt"  # 南方Plus, 2022-05-17
ALL = {S000, S001, S002, S003, S004}


def complete_ids(results: SearchResults) -> list[str]:
    """The ids of the hits with every word of the query (those with most of them follow)."""
    return ids(results)[: results.partial_from]


def ids(results: SearchResults) -> list[str]:
    return [hit.id for hit in results.hits]


def write_md(directory, name, title, date, text):
    directory.mkdir(parents=True, exist_ok=True)
    body = textwrap.dedent(f"""\
        ---
        title: "{title}"
        date: {date}
        ---
        {text}
        """)
    (directory / name).write_text(body, encoding="utf-8")


@pytest.fixture(scope="module")
def ranking_index(tmp_path_factory):
    """Two pairs of documents: same text with different titles, same text with different dates."""
    corpus = tmp_path_factory.mktemp("ranking-corpus")
    text = "本市今年推进湿地保护工作，湿地面积持续扩大。相关部门表示将继续努力。"
    write_md(corpus, "a.md", "城市绿化报告", "2021-03-01", text)
    write_md(corpus, "b.md", "湿地保护进展", "2021-03-01", text)
    # The older one sorts first by name, so index order alone would put it first.
    text = "新公园开放，市民踊跃参观游览。园内设有儿童乐园和健身步道。"
    write_md(corpus, "1_old.md", "公园简讯", "2019-05-01", text)
    write_md(corpus, "2_new.md", "公园简讯", "2023-05-01", text)
    path = tmp_path_factory.mktemp("ranking-index")
    SearchIndex.build(path, [corpus])
    with SearchIndex.open(path) as index:
        yield index


# -- opening ------------------------------------------------------------------


def test_open_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError) as caught:
        SearchIndex.open(tmp_path / "nowhere")
    assert "nowhere" in str(caught.value)


def test_open_empty_directory_is_not_an_index(tmp_path):
    with pytest.raises(IndexNotFoundError):
        SearchIndex.open(tmp_path)


def test_context_manager(seed_index_dir):
    with SearchIndex.open(seed_index_dir) as index:
        assert index.search("韶关").total == 5
    # Closing releases the searcher; the object can still be used (it reopens lazily).
    assert index.search("韶关").total == 5
    index.close()


# -- result types -----------------------------------------------------------------

_PLAIN = (str, int, float, bool, type(None), dt.date)


def assert_plain(value, where="result"):
    """value is made of builtins, dates and searchkit dataclasses only, all the way down."""
    if dataclasses.is_dataclass(value):
        assert type(value).__module__.startswith("searchkit"), where
        for f in dataclasses.fields(value):
            assert_plain(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, dict):
        assert type(value) is dict, where
        for key, item in value.items():
            assert_plain(key, f"{where} key")
            assert_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        assert type(value) in (list, tuple), where
        for n, item in enumerate(value):
            assert_plain(item, f"{where}[{n}]")
    else:
        assert type(value) in _PLAIN, f"{where} is a {type(value)!r}"


def test_search_results_are_typed(seed_index):
    results = seed_index.search("数据中心")
    assert isinstance(results, SearchResults)
    assert results.query == "数据中心"
    assert results.total == 3
    assert results.partial is False
    assert results.undated_excluded == 0
    assert results.elapsed >= 0
    hit = results.hits[0]
    assert isinstance(hit, Hit)
    assert hit.id == S000
    assert hit.path.endswith(S000)
    assert hit.title == "韶关 凝心聚力深化改革 开创高质量发展新局面"
    assert hit.date == dt.date(2022, 2, 18)
    assert hit.source == "羊城晚报"
    assert hit.url.startswith("http")
    assert isinstance(hit.score, float) and hit.score > 0
    assert "数据中心" in hit.snippet
    assert hit.highlights


@pytest.mark.parametrize("query", ["韶关 改革", "韶关 数据中心 足球", "足球比赛", "date:2022", "source:澎湃新闻"])
def test_no_whoosh_object_leaks(seed_index, query):
    assert_plain(seed_index.search(query, since="2021", sort="date"))
    assert_plain(seed_index.search(query))


def test_no_whoosh_object_leaks_from_documents_and_stats(seed_index):
    for doc_id in ALL:
        assert_plain(seed_index.document(doc_id))
    assert_plain(seed_index.sources())
    stats = seed_index.stats()
    assert isinstance(stats, IndexStats)
    assert_plain(stats)


# -- documents, sources, stats -----------------------------------------------------


def test_document(seed_index):
    document = seed_index.document(S002)
    assert isinstance(document, Document)
    assert document.id == S002
    assert document.title == "韶关:打开改革新局面 闯出转型新天地"
    assert document.date == dt.date(2021, 4, 12)
    assert document.source == "澎湃新闻"
    assert "林长制" in document.text
    assert len(document.original) == len(document.text)


def test_document_keeps_the_original_script(seed_index):
    document = seed_index.document(S003)
    assert "韶关" in document.text
    assert "韶關" in document.original


def test_unknown_document(seed_index):
    with pytest.raises(KeyError):
        seed_index.document("no-such-id")


def test_sources(seed_index):
    assert seed_index.sources() == {"羊城晚报": 2, "澎湃新闻": 1, "南方日报": 1, "南方Plus": 1}
    assert list(seed_index.sources())[0] == "羊城晚报"


def test_stats(seed_index, seed_index_dir):
    stats = seed_index.stats()
    assert stats.documents == 5
    assert stats.undated == 2
    assert stats.earliest == dt.date(2021, 4, 12)
    assert stats.latest == dt.date(2022, 5, 17)
    assert stats.sources == seed_index.sources()
    assert stats.size_bytes > 0
    assert stats.analyzer["segmenter"].startswith("jieba")


def test_add_documents_then_searchable(seed_index_dir, tmp_path):
    path = tmp_path / "index"
    shutil.copytree(seed_index_dir, path)
    with SearchIndex.open(path) as index:
        assert index.search("冰川").total == 0
        added = index.add_documents([
            Document(id="n1", text="一篇关于冰川的新文章，介绍韶关的新产业。", title="冰川考察",
                     date=dt.date(2023, 1, 2), source="新华社"),
        ])
        assert added == 1
        results = index.search("冰川")
        assert ids(results) == ["n1"]
        assert results.hits[0].source == "新华社"
        assert results.hits[0].date == dt.date(2023, 1, 2)
        assert index.search("韶关").total == 6
        assert index.document("n1").title == "冰川考察"
        assert index.sources()["新华社"] == 1
        assert index.stats().documents == 6
    # The shared seed index is untouched.
    with SearchIndex.open(seed_index_dir) as index:
        assert index.search("冰川").total == 0


# -- thread safety -----------------------------------------------------------------

THREAD_QUERIES = ["韶关", "数据中心", "韶关 NOT 民政", "预制菜 OR 林长制", "韶关 数据中心 足球",
                  '"数据中心集群"', "title:改革", "发展 date:2022", "足球比赛", "韶關 改革"]


def _fingerprint(results: SearchResults):
    return (results.total, results.partial,
            [(h.id, round(h.score, 6), h.snippet, tuple(map(tuple, h.highlights))) for h in results.hits])


def test_thread_safe(seed_index):
    expected = {q: _fingerprint(seed_index.search(q)) for q in THREAD_QUERIES}

    def worker(n):
        return [(q, _fingerprint(seed_index.search(q)))
                for q in (THREAD_QUERIES[(n + i) % len(THREAD_QUERIES)] for i in range(20))]

    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(worker, range(8)))
    assert sum(len(run) for run in runs) == 160
    for run in runs:
        for query, fingerprint in run:
            assert fingerprint == expected[query], query


# -- the query language on the seeds (the acceptance) ------------------------


def test_traditional_query_finds_all_five(seed_index):
    assert set(ids(seed_index.search("韶關"))) == ALL
    assert seed_index.search("韶關").total == 5


def test_not_excludes(seed_index):
    assert set(ids(seed_index.search("民政"))) == {S001}
    assert set(ids(seed_index.search("韶关 NOT 民政"))) == ALL - {S001}
    assert set(ids(seed_index.search("韶关 -民政"))) == ALL - {S001}


def test_or(seed_index):
    results = seed_index.search("预制菜 OR 林长制")
    assert set(ids(results)) == {S002, S003}
    assert results.partial is False


def test_grouping(seed_index):
    assert set(ids(seed_index.search("(数据 OR 算力) 中心"))) == {S000, S001, S002}
    assert set(ids(seed_index.search("(预制菜 OR 林长制) -民政"))) == {S002, S003}


def test_phrase(seed_index):
    assert set(ids(seed_index.search('"数据中心集群"'))) == {S000, S001}
    assert seed_index.search('"集群数据中心"').total == 0


def test_title_field(seed_index):
    assert set(ids(seed_index.search("title:改革"))) == {S000, S001, S002, S004}
    assert set(ids(seed_index.search("title:攻坚"))) == {S004}


def test_source_field(seed_index):
    assert ids(seed_index.search("source:澎湃新闻")) == [S002]
    assert set(ids(seed_index.search("韶关 source:羊城晚报"))) == {S000, S001}


def test_date_field(seed_index):
    results = seed_index.search("date:2022-01..2022-06")
    assert set(ids(results)) == {S000, S004}
    assert results.undated_excluded == 2
    assert ids(seed_index.search("韶关 date:..2021")) == [S002]
    assert set(ids(seed_index.search("韶关 date:2022-03.."))) == {S004}


@pytest.mark.parametrize("query", ['"韶关', "(韶关", "韶关)", "titel:bar", "韶关 ()", ""])
def test_bad_syntax_raises(seed_index, query):
    with pytest.raises(QuerySyntaxError):
        seed_index.search(query)


def test_bad_date_in_query_raises(seed_index):
    with pytest.raises(BadDateError, match="column 6"):
        seed_index.search("date:2022-13")


# -- partial matching ------------------------------------------------------------


def test_partial_match_ranked_by_coverage(seed_index):
    results = seed_index.search("韶关 数据中心 足球")
    assert results.partial is True
    # 000, 001 and 002 have two of the three words; 003 and 004 only one.
    assert set(ids(results)[:3]) == {S000, S001, S002}
    assert set(ids(results)[3:]) == {S003, S004}
    assert results.total == 5
    results = seed_index.search("韶关 数据中心 民政 足球")
    assert results.partial is True
    assert ids(results)[0] == S001  # the only one with three of the four words
    assert set(ids(results)[1:3]) == {S000, S002}


def test_no_partial_when_everything_matches(seed_index):
    results = seed_index.search("韶关 数据中心")
    assert results.partial is False
    assert set(complete_ids(results)) == {S000, S001, S002} and results.complete == 3


def test_zero_hits_is_not_partial(seed_index):
    results = seed_index.search("足球比赛")
    assert (results.total, results.hits, results.partial) == (0, [], False)


@pytest.mark.parametrize("query", ["足球 韶 关", "足球 韶", "数据中心 足 球"])
def test_partial_never_matches_on_single_characters(seed_index, query):
    results = seed_index.search(query)
    assert (results.total, results.partial) == (0, False)


def test_partial_respects_filters(seed_index):
    results = seed_index.search("韶关 数据中心 足球", sources=["澎湃新闻"])
    assert results.partial is True
    assert ids(results) == [S002]


# -- fast paths give Whoosh's own answers ------------------------------------------

WHOOSH_QUERIES = [
    "韶关", "数据中心", "韶关 数据中心", "韶关 OR 民政", '"数据中心"', "数据中心 -民政",
    "title:湿地", "韶关 数据中心 足球", "5g", "中心", "预制菜 source:南方日报",
    "(韶关 数据中心) OR (足球 比赛)", "韶关 (民政 OR 足球)", "(民政 -预制菜) 林长制", "NOT 韶关",
    "韶关改革新局面 数据中心集群", "改革 date:2022",
]


@pytest.mark.parametrize("query", WHOOSH_QUERIES)
def test_every_match_scored_as_whoosh_search_scores_it(seed_index, query):
    """searchkit steps Whoosh's matchers itself; the matches and the scores must not change."""
    from whoosh import query as wq

    from searchkit import query as q
    from searchkit.normalize import normalize_query
    from searchkit.internals import queries

    compiled = seed_index._compile(q.parse(normalize_query(query)))
    searcher = seed_index._get_searcher()
    for whoosh_query in [compiled.query, wq.Or(compiled.clauses or [compiled.query])]:
        expected = {hit.docnum: hit.score for hit in searcher.search(whoosh_query, limit=None)}
        assert dict(queries.scored_matches(searcher, whoosh_query)) == expected


@pytest.mark.parametrize("query", WHOOSH_QUERIES)
def test_matches_found_unscored_are_whoosh_matches(seed_index, query):
    """The matches found before scoring (leapfrogging ANDs) are those Whoosh finds."""
    from whoosh import query as wq

    from searchkit import query as q
    from searchkit.normalize import normalize_query
    from searchkit.internals import queries

    compiled = seed_index._compile(q.parse(normalize_query(query)))
    searcher = seed_index._get_searcher()
    for whoosh_query in [compiled.query, wq.Or(compiled.clauses or [compiled.query]),
                         wq.And([compiled.query, wq.Every()])]:
        expected = sorted(hit.docnum for hit in searcher.search(whoosh_query, limit=None))
        assert queries.matching_docs(searcher, whoosh_query) == expected


@pytest.mark.parametrize("field,text,boost", [
    ("content", "数据中心", 1.0), ("title", "韶关", 1.0), ("bigrams", "韶关", 0.3),
    ("chars", "韶", 0.3), ("content", "不存在的词", 1.0),
])
def test_term_looked_up_once_matches_like_whoosh_term(seed_index, field, text, boost):
    from whoosh import query as wq

    from searchkit.internals import queries

    searcher = seed_index._get_searcher()
    fast, plain = queries.Term(field, text, boost=boost), wq.Term(field, text, boost=boost)
    reader = searcher.reader()
    assert fast.estimate_size(reader) == fast.estimate_size(reader) == plain.estimate_size(reader)
    expected = [(hit.docnum, hit.score) for hit in searcher.search(plain, limit=None)]
    assert expected or text == "不存在的词"
    assert [(hit.docnum, hit.score) for hit in searcher.search(fast, limit=None)] == expected


@pytest.mark.parametrize("field,words,boost", [
    ("content", ["韶关", "数据中心"], 1.0), ("bigrams", ["韶关", "关数", "数据"], 0.3),
    ("chars", ["数", "据"], 1.0), ("content", ["数据", "不存在的词"], 1.0),
])
def test_phrase_looked_up_once_matches_like_whoosh_phrase(seed_index, field, words, boost):
    from whoosh import query as wq

    from searchkit.internals import queries

    searcher = seed_index._get_searcher()
    fast, plain = queries.Phrase(field, words, boost=boost), wq.Phrase(field, words, boost=boost)
    reader = searcher.reader()
    assert fast.estimate_size(reader) == plain.estimate_size(reader)
    expected = [(hit.docnum, hit.score) for hit in searcher.search(plain, limit=None)]
    assert expected or "不存在的词" in words
    assert [(hit.docnum, hit.score) for hit in searcher.search(fast, limit=None)] == expected


def test_query_texts_segmented_together_as_each_alone(seed_index):
    from searchkit.compiler import Compiler

    texts = ["韶关数据中心", "大湾区枢纽", "5G网络", "pd1728_a_1数据", "几处 天边", "中华人民共和国", "的", "足球"]
    compiler = Compiler(seed_index._segmenter, seed_index._source_query)
    compiler._segment_together(texts)
    for text in texts:
        assert compiler._words(text) == [t[0] for t in seed_index._segmenter.words(text)]


def test_first_of_a_sort_is_the_head_of_the_full_sort():
    """Keys are read only for contenders, yet the first n are those of the whole sorted list."""
    import random

    from searchkit.ranking import first

    rng = random.Random(5)
    pairs = [(docnum, rng.choice([1.0, 2.0, 2.0000000001, 3.5])) for docnum in range(200)]
    read = []

    def key(pair):
        read.append(pair)
        return (-round(pair[1], 6), pair[0] % 7, pair[0])

    def rank(pair):
        return -round(pair[1], 6)

    for top in (1, 10, 57, 120, 200, 500):
        expected = sorted(pairs, key=key)[:top]
        read.clear()
        assert first(pairs, top, rank, key) == expected
        if top <= 10:
            assert {pair[1] for pair in read} == {3.5}  # only the best-scored were keyed


# -- ranking -----------------------------------------------------------------------


def test_more_mentions_rank_higher(seed_index):
    # 000 and 001 mention 数据中心 eleven times each, 002 twice.
    assert seed_index.document(S000).text.count("数据中心") == 11
    assert seed_index.document(S002).text.count("数据中心") == 2
    results = seed_index.search("数据中心")
    assert set(ids(results)[:2]) == {S000, S001}
    assert ids(results)[2] == S002
    assert results.hits[1].score > results.hits[2].score


def test_scores_descend(seed_index):
    scores = [hit.score for hit in seed_index.search("韶关 改革").hits]
    assert scores == sorted(scores, reverse=True)


def test_title_boost(ranking_index):
    results = ranking_index.search("湿地")
    assert ids(results) == ["b.md", "a.md"]
    assert results.hits[0].score > results.hits[1].score


def test_ties_broken_by_date_newest_first(ranking_index):
    results = ranking_index.search("公园")
    assert ids(results) == ["2_new.md", "1_old.md"]
    assert results.hits[0].score == pytest.approx(results.hits[1].score)


def test_sort_by_date(seed_index):
    results = seed_index.search("韶关", sort="date")
    assert ids(results)[:3] == [S004, S000, S002]
    assert set(ids(results)[3:]) == {S001, S003}  # undated last
    assert [h.date for h in results.hits][3:] == [None, None]
    assert all(hit.score > 0 for hit in results.hits)  # real scores, not sort keys


def test_sort_by_date_pages(seed_index):
    pages = [ids(seed_index.search("韶关", sort="date", limit=2, offset=o)) for o in (0, 2, 4)]
    assert sum(pages, []) == ids(seed_index.search("韶关", sort="date"))


def test_sort_by_date_partial(seed_index):
    results = seed_index.search("韶关 数据中心 足球", sort="date")
    assert results.partial is True
    assert ids(results) == [S004, S000, S002, S001, S003]  # newest first, undated last


def test_bad_sort_and_limits(seed_index):
    with pytest.raises(Exception, match="sort"):
        seed_index.search("韶关", sort="title")
    with pytest.raises(Exception, match="limit"):
        seed_index.search("韶关", limit=0)


def test_offset_pages_do_not_overlap(seed_index):
    first = ids(seed_index.search("韶关", limit=2))
    second = ids(seed_index.search("韶关", limit=2, offset=2))
    third = ids(seed_index.search("韶关", limit=2, offset=4))
    assert len(first) == len(second) == 2 and len(third) == 1
    assert set(first) | set(second) | set(third) == ALL
    assert first + second + third == ids(seed_index.search("韶关"))


# -- highlighting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("数据中心", {"数据中心"}),
        ("韶关 改革", {"韶关", "改革"}),
        ("韶關", {"韶关"}),
        ("预制菜 OR 林长制", {"预制菜", "林长制"}),
        ('"数据中心集群"', {"数据中心集群"}),
        ("韶关 数据中心 足球", {"韶关", "数据中心"}),
    ],
)
def test_highlights_index_the_snippet(seed_index, query, words):
    results = seed_index.search(query)
    assert results.hits
    for hit in results.hits:
        assert hit.highlights
        marked = {hit.snippet[s:e] for s, e in hit.highlights}
        assert marked <= words, (hit.id, marked)
        assert all(0 <= s < e <= len(hit.snippet) for s, e in hit.highlights)


def test_whole_words_highlighted_never_a_stray_part(seed_index):
    for hit in seed_index.search("数据中心").hits:
        assert {hit.snippet[s:e] for s, e in hit.highlights} == {"数据中心"}
        # Every 数据中心 in the snippet is highlighted, and nothing else.
        assert len(hit.highlights) == hit.snippet.count("数据中心")
    # A snippet with 算力中心 in it: that 中心 is not highlighted (a snippet is one fragment:
    # a long one reaches the 算力中心 of seed 000).
    hits = [h for h in seed_index.search("数据中心 算力", snippet_chars=400).hits if "算力中心" in h.snippet]
    assert hits
    for hit in hits:
        assert {hit.snippet[s:e] for s, e in hit.highlights} == {"数据中心", "算力"}


def test_snippet_fragments_joined_with_ellipsis(seed_index):
    hit = seed_index.search("数据中心").hits[0]
    assert "…" in hit.snippet
    assert "\n" not in hit.snippet
    assert len(hit.snippet) < len(seed_index.document(hit.id).text)


def test_original_script_snippet(seed_index):
    hit = seed_index.search("韶关 发展", sources=["南方日报"], original=True).hits[0]
    assert hit.id == S003
    assert "韶關" in hit.snippet or "發展" in hit.snippet
    marked = {hit.snippet[s:e] for s, e in hit.highlights}
    assert marked <= {"韶關", "發展"}
    plain = seed_index.search("韶关 发展", sources=["南方日报"]).hits[0]
    assert "韶關" not in plain.snippet and len(plain.snippet) == len(hit.snippet)


def test_render_marks_plain_or_colored(seed_index):
    results = seed_index.search("数据中心", limit=1)
    plain = render.results_text(results, color=False)
    assert "【数据中心】" in plain
    assert "\x1b" not in plain
    colored = render.results_text(results, color=True)
    assert f"{render.BOLD_RED}数据中心{render.RESET}" in colored
    assert "【数据中心】" not in colored


def test_render_sanitizes_document_text():
    hit = Hit(id="x", path=None, title="标题\x1b]0;pwned\x07\u202e", date=None, source="源\x1b[31m",
              url=None, score=1.0, snippet="前\x1b[2J数据中心\x9b后", highlights=[(6, 10)])
    results = SearchResults(query="数据中心\x1b[31m", total=1, hits=[hit], elapsed=0.0)
    for color in (False, True):
        text = render.results_text(results, color=color)
        if not color:
            assert "\x1b" not in text
        assert "pwned" not in text and "\x07" not in text and "\u202e" not in text and "\x9b" not in text
        assert "数据中心" in text


# -- filters ---------------------------------------------------------------------


def test_source_filter(seed_index):
    results = seed_index.search("韶关", sources=["澎湃新闻"])
    assert ids(results) == [S002]


@pytest.mark.parametrize("name", ["南方Plus", "南方plus", "NANFANGPLUS", "nanfangPlus", "nfplus", "南方+"])
def test_source_filter_case_insensitive_and_aliases(seed_index, name):
    assert ids(seed_index.search("韶关", sources=[name])) == [S004]


def test_source_filter_accepts_one_name_as_a_string(seed_index):
    assert ids(seed_index.search("韶关", sources="澎湃新闻")) == [S002]


def test_render_page_past_the_end(seed_index):
    results = seed_index.search("韶关", limit=2, offset=10)
    assert results.total == 5 and results.hits == []
    text = render.results_text(results, color=False, offset=10)
    assert "5 results" in text and "none on this page" in text


def test_source_filter_several(seed_index):
    assert set(ids(seed_index.search("韶关", sources=["thepaper", "ycwb"]))) == {S000, S001, S002}


def test_unknown_source_finds_nothing(seed_index):
    assert seed_index.search("韶关", sources=["人民日报"]).total == 0


def test_date_filter(seed_index):
    results = seed_index.search("韶关", since="2022-03-01", until="2022-12-31")
    assert ids(results) == [S004]
    assert results.undated_excluded == 2


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2022", None, {S000, S004}),
        ("2021", "2021", {S002}),
        ("2022-02", "2022-02", {S000}),
        ("2022-02-18", "2022-02-18", {S000}),  # inclusive on both ends
        ("2022-02-19", "2022-05-17", {S004}),
        (None, "2022-02", {S000, S002}),
        (dt.date(2022, 5, 17), None, {S004}),
    ],
)
def test_date_filter_forms(seed_index, since, until, expected):
    results = seed_index.search("韶关", since=since, until=until)
    assert set(ids(results)) == expected
    assert results.undated_excluded == 2


def test_undated_excluded_counts_only_matching_documents(seed_index):
    # Of the undated documents only 001 mentions 民政.
    assert seed_index.search("民政", since="2000").undated_excluded == 1
    assert seed_index.search("林长制", since="2000").undated_excluded == 0
    assert seed_index.search("韶关").undated_excluded == 0


@pytest.mark.parametrize("bad", ["2022-13", "22", "yesterday", "2022-02-30"])
def test_bad_since(seed_index, bad):
    with pytest.raises(BadDateError) as caught:
        seed_index.search("韶关", since=bad)
    assert bad in str(caught.value) and "\n" not in str(caught.value)


def test_since_after_until(seed_index):
    with pytest.raises(BadDateError):
        seed_index.search("韶关", since="2023", until="2022")


# ============================================================================
# Query compilation: exclusions, date: terms in any query shape, the limits
# of a query (issue 10)
# ============================================================================

import itertools  # noqa: E402  (this section's own imports)
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from searchkit import QueryTooLongError  # noqa: E402
from searchkit.query import MAX_NESTING, MAX_QUERY_CHARS, MAX_QUERY_WORDS  # noqa: E402

PARTS = ["山", "林长制", "预制菜", "民政", "韶关", "数据中心", "date:2022", "source:南方日报", "title:韶关"]


@pytest.mark.parametrize(("kept", "excluded"), itertools.permutations(PARTS, 2))
def test_exclusion_leaves_out_every_excluded_document(seed_index, kept, excluded):
    # Also the first document of the kept side: Whoosh's own matcher kept it
    # when the excluded side started on an earlier document (林长制 -山).
    expected = set(ids(seed_index.search(kept))) - set(ids(seed_index.search(excluded)))
    assert set(ids(seed_index.search(f"{kept} -{excluded}"))) == expected
    assert set(ids(seed_index.search(f"{kept} NOT ({excluded})"))) == expected


@pytest.mark.parametrize(("kept", "excluded", "also"),
                         itertools.permutations(["山", "林长制", "预制菜", "民政", "韶关", "date:2022"], 3))
def test_exclusion_inside_an_and(seed_index, kept, excluded, also):
    # An And skips its parts to each other's documents: skipped past its last
    # document, Whoosh's exclusion failed ('(民政 -预制菜) 林长制': IndexError).
    found = {q: set(ids(seed_index.search(q))) for q in (kept, excluded, also)}
    expected = (found[kept] - found[excluded]) & found[also]
    assert set(ids(seed_index.search(f"({kept} -{excluded}) {also}"))) == expected


# Of the undated documents, 001 and 003 both mention 山; 001 mentions 1554亿元 and 民政.
DATE_SHAPES = [
    # (query, the hits, undated documents left out for having no date)
    ("date:2022 -山", {S004}, 0),
    ("NOT 山 date:2022", {S004}, 0),
    ("1554亿元 date:2022", {S000}, 1),
    ("date:2022", {S000, S004}, 2),
    ("(date:2022)", {S000, S004}, 2),
    ("((date:2021 OR date:2022) 韶关)", {S000, S002, S004}, 2),
    ("date:2021 OR date:2022", {S000, S002, S004}, 2),
    ("(韶关 date:2022) OR 林长制", {S000, S002, S004}, 2),
    # 001 is found by 民政 whatever its date: only 003 was left out.
    ("date:2022 OR 民政", {S000, S001, S004}, 1),
    # Undated documents are not in 2022: they match, none is left out.
    ("-date:2022", {S001, S002, S003}, 0),
    ("韶关 -(date:2022 OR 民政)", {S002, S003}, 0),
    ("-date:2022 -山", set(), 0),
    ("NOT (date:2021..2022 -山)", ALL - {S004}, 0),
    ("林长制 date:2022 -date:2022", set(), 0),  # found by fuzzing: an IndexError in Whoosh
]


@pytest.mark.parametrize(("query", "expected", "undated"), DATE_SHAPES)
def test_date_terms_in_any_query_shape(seed_index, query, expected, undated):
    results = seed_index.search(query)
    assert set(complete_ids(results)) == expected
    assert results.undated_excluded == undated


def run_search_cli(index_dir, *args, input=None) -> subprocess.CompletedProcess:
    """`searchkit search ARGS --index DIR`, run for real with its output piped."""
    result = subprocess.run(
        [sys.executable, "-m", "searchkit", "search", *args, "--index", str(index_dir)],
        input=input, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("query", ["date:2022 -山", "NOT 山 date:2022", "1554亿元 date:2022"])
def test_date_queries_through_the_command(seed_index_dir, query):
    result = run_search_cli(seed_index_dir, query, "--json")
    assert result.returncode == 0, result.stderr
    expected = next(hits for q, hits, _ in DATE_SHAPES if q == query)
    answer = json.loads(result.stdout)
    assert {hit["id"] for hit in answer["hits"][: answer.get("complete")]} == expected


def test_date_query_shapes_through_the_command_in_a_batch(seed_index_dir):
    result = run_search_cli(seed_index_dir, "--batch", "-", "--all",  # every hit, none folded
                            input="".join(f"{q}\n" for q, _, _ in DATE_SHAPES))
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert ([{hit["id"] for hit in a["hits"][: a.get("complete")]} for a in answers]
            == [hits for _, hits, _ in DATE_SHAPES])


# The inputs reported in issue 10 (each once ended in a RecursionError), and the
# same shapes kept within MAX_QUERY_CHARS so that the other limits stop them.
WORDS = "数据 中心 韶关 改革 林长制 预制菜 算力 集群 生态 民政 发展 转型 产业 治理 规范 攻坚".split()
PATHOLOGICAL = {
    "2,000+ characters of Chinese words": " ".join(WORDS * 60),
    "2,000 nested parentheses": "(" * 2000 + "韶关" + ")" * 2000,
    "2,000 -word terms": "韶关 " + " ".join(f"-{WORDS[i % len(WORDS)]}{i}" for i in range(2000)),
    "1,000 distinct words": " ".join(chr(0x4E00 + 2 * i) + chr(0x4E01 + 2 * i) for i in range(1000)),
    "3,616 characters": "韶關改革 數據中心 " * 361 + "韶关 改革 ",
    "Chinese words within the length limit": "".join(WORDS * 10)[:MAX_QUERY_CHARS],
    "nesting within the length limit": "(" * 400 + "韶关" + ")" * 400,
    "NOT within the length limit": "NOT " * 240 + "韶关",
    "-word terms within the length limit": "韶关 " + " ".join(f"-{w}" for w in WORDS * 20),
    "distinct words within the length limit": " ".join(chr(0x4E00 + 2 * i) + chr(0x4E01 + 2 * i)
                                                       for i in range(300)),
    "a code of many pieces": "-".join(["2022"] * 150),
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_queries_are_refused_by_a_limit(seed_index, name):
    with pytest.raises(QueryTooLongError) as caught:
        seed_index.search(PATHOLOGICAL[name])
    message = str(caught.value)
    assert "\n" not in message
    # Refused by one of the limits, which is named: the work done is bounded by it.
    assert (f"(at most {MAX_QUERY_CHARS})" in message or f"(at most {MAX_QUERY_WORDS})" in message
            or f"at most {MAX_NESTING} levels" in message)


def test_pathological_query_through_the_command(seed_index_dir):
    result = run_search_cli(seed_index_dir, PATHOLOGICAL["2,000 nested parentheses"])
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"searchkit: error: query too long: 4002 characters (at most {MAX_QUERY_CHARS})"
    ]


def test_deeply_nested_query_through_the_command(seed_index_dir):
    result = run_search_cli(seed_index_dir, PATHOLOGICAL["nesting within the length limit"])
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"searchkit: error: query too deeply nested at column {MAX_NESTING + 1}: "
        f"at most {MAX_NESTING} levels of parentheses and NOT"
    ]


def test_queries_at_the_limits_are_answered(seed_index):
    codes = [f"x{i}" for i in range(MAX_QUERY_WORDS)]  # a word each
    assert seed_index.search(" ".join(codes)).total == 0
    assert seed_index.search("韶关 " + " ".join("-" + c for c in codes[1:])).total == 5
    assert seed_index.search(" OR ".join(["韶关"] * MAX_QUERY_WORDS)).total == 5
    deepest = "(" * (MAX_NESTING - 2) + "-(" + "民政" + ")" * (MAX_NESTING - 1)  # - is a level too
    assert set(ids(seed_index.search("韶关 " + deepest))) == ALL - {S001}
    assert seed_index.search("a" * MAX_QUERY_CHARS).total == 0


def test_one_word_more_than_the_limit_is_refused(seed_index):
    codes = [f"x{i}" for i in range(MAX_QUERY_WORDS + 1)]
    for query in (" ".join(codes), "-".join(codes), '"' + " ".join(codes) + '"',
                  " ".join(["date:2022"] * len(codes))):
        with pytest.raises(QueryTooLongError) as caught:
            seed_index.search(query)
        assert str(caught.value) == f"query too long: {len(codes)} words (at most {MAX_QUERY_WORDS})"


def test_a_huge_query_is_refused_before_it_is_read(seed_index):
    with pytest.raises(QueryTooLongError, match="10000000 characters"):
        seed_index.search("韶關" * 5_000_000)


# -- fuzzing: search finds the documents its boolean structure says --------------

LEAVES = ["山", "林长制", "预制菜", "民政", "韶关", "数据中心", "1554亿元", "date:2022", "date:..2021",
          "source:南方日报", "source:羊城晚报", "title:韶关"]
trees = st.recursive(
    st.sampled_from(LEAVES),
    lambda children: st.one_of(
        st.tuples(st.just("AND"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("OR"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("NOT"), children),
    ),
    max_leaves=8,
)


def render_tree(tree) -> str:
    """A query string for a tree of leaves and ('AND' | 'OR', [trees]) / ('NOT', tree)."""
    if isinstance(tree, str):
        return tree
    op, body = tree
    if op == "NOT":
        return f"-({render_tree(body)})"
    return (" OR " if op == "OR" else " ").join(f"({render_tree(child)})" for child in body)


def expected_ids(tree, leaf_ids) -> set[str]:
    """The documents a tree selects, by set operations on what its leaves find alone."""
    if isinstance(tree, str):
        return leaf_ids(tree)
    op, body = tree
    if op == "NOT":
        return ALL - expected_ids(body, leaf_ids)
    sets = [expected_ids(child, leaf_ids) for child in body]
    return set.intersection(*sets) if op == "AND" else set.union(*sets)


_leaf_ids: dict[str, set[str]] = {}


@settings(max_examples=int(os.environ.get("SEARCHKIT_FUZZ_EXAMPLES") or 200), deadline=None,
          derandomize=True)
@given(trees)
def test_search_finds_what_the_boolean_structure_says(seed_index, tree):
    def leaf_ids(leaf):
        if leaf not in _leaf_ids:
            results = seed_index.search(leaf, limit=10)
            assert not results.partial
            _leaf_ids[leaf] = set(complete_ids(results))
        return _leaf_ids[leaf]

    results = seed_index.search(render_tree(tree), limit=10)
    expected = expected_ids(tree, leaf_ids)
    if results.partial:  # only when nothing matches the whole query
        assert expected == set()
    else:
        assert set(complete_ids(results)) == expected


# -- what the faces need from the library ---------------------------------------------------


def test_results_carry_what_to_highlight(seed_index):
    results = seed_index.search('韶關 "数据中心集群" -民政')
    assert "韶关" in results.terms and "数据中心集群" in results.terms
    assert "民政" not in results.terms
    assert "terms" not in results.to_json()  # the JSON contract is unchanged


def test_document_count_and_warm_up(seed_index):
    seed_index.warm_up()
    assert seed_index.document_count() == seed_index.stats().documents == 5


def test_update_takes_the_options_of_build_by_name(seed_index_dir, tmp_path, seeds_dir):
    import inspect

    path = tmp_path / "index"
    shutil.copytree(seed_index_dir, path)
    assert set(inspect.signature(SearchIndex.update).parameters) == (
        set(inspect.signature(SearchIndex.build).parameters) - {"cls", "path"}) | {"self"}
    warnings: list[str] = []
    with SearchIndex.open(path) as index:
        report = index.update([seeds_dir], warn=warnings.append, workers=1)
        assert (report.added, report.unchanged) == (0, 5)
        with pytest.raises(TypeError):
            index.update([seeds_dir], rebuid=True)


def test_the_package_says_it_is_typed():
    from importlib.resources import files

    assert files("searchkit").joinpath("py.typed").is_file()


def write_verse(directory, lines: int = 300, seed: int = 3):
    """Lines of verse made of words jieba cuts into characters (人若, 无休, 如山), also found apart."""
    import json
    import random

    rng = random.Random(seed)
    pieces = ["人若", "人", "若", "无休", "无", "休", "如山", "山", "如", "春风", "明月", "江水", "，", "。"]
    directory.mkdir()
    with open(directory / "verse.jsonl", "w", encoding="utf-8") as fh:
        for number in range(lines):
            text = "".join(rng.choice(pieces) for _ in range(rng.randrange(4, 20)))
            fh.write(json.dumps({"id": f"v{number:03d}", "title": "诗", "text": text}, ensure_ascii=False) + "\n")
    return directory


VERSE_QUERIES = ["人若", "人若 无休", "如山 无休 人若", "人若 明月", "无休 春风", "如山 -明月 人若"]


def test_a_document_scores_the_same_whichever_documents_are_scored_with_it(tmp_path):
    """Ranking scores chosen documents (the fill, a shard's); a score must not depend on the choice.

    Whoosh's AND-MAYBE lost its optional side's score after skipping past a
    document the optional side had (a word typed as one but found apart).
    """
    from whoosh import query as wq

    from searchkit import SearchIndex
    from searchkit import query as q
    from searchkit.internals import queries
    from searchkit.normalize import normalize_query

    SearchIndex.build(tmp_path / "index", [write_verse(tmp_path / "verse")], workers=1)
    with SearchIndex.open(tmp_path / "index") as index:
        searcher = index._get_searcher()
        everything = set(range(searcher.doc_count_all()))
        compared = 0
        for text in VERSE_QUERIES:
            compiled = index._compile(q.parse(normalize_query(text)))
            for whoosh_query in [compiled.query, wq.Or(compiled.clauses or [compiled.query])]:
                together = dict(queries.scored_matches(searcher, whoosh_query, allow=everything))
                for docnum, score in together.items():
                    assert dict(queries.scored_matches(searcher, whoosh_query, allow={docnum})) == {docnum: score}
                    compared += 1
        assert compared > 1000


# -- date filters: the day-number fast path answers as Whoosh's DateRange ------

DATED_WORDS = ["山", "水", "月", "春", "风", "花"]


def write_dated_corpus(directory, rng, files: int, first: int = 0) -> None:
    """Poem-like documents over 2019..2023, one JSON Lines file each, one in five undated."""
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(first, first + files):
        words = rng.sample(DATED_WORDS, rng.randint(1, 4))
        day = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(5 * 365))
        record = {"id": f"p{number:04d}", "title": f"{words[0]}之歌{number}",
                  "text": "，".join(w * rng.randint(1, 3) + "在远方" for w in words) + "。"}
        if rng.random() >= 0.2:
            record["date"] = day.isoformat()
        (directory / f"p{number:04d}.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n",
                                                        encoding="utf-8")


@pytest.fixture(scope="module")
def dated_index_dir(tmp_path_factory):
    """120 dated and undated documents in two segments, the first with deleted documents."""
    import random

    corpus = tmp_path_factory.mktemp("dated-corpus")
    target = tmp_path_factory.mktemp("dated") / "index"
    rng = random.Random(11)
    write_dated_corpus(corpus, rng, 80)
    SearchIndex.build(target, [corpus], workers=1)
    for number in (3, 40, 77):  # deleted from the first segment
        (corpus / f"p{number:04d}.jsonl").unlink()
    write_dated_corpus(corpus, rng, 40, first=80)  # a second segment
    SearchIndex.build(target, [corpus], workers=1)
    return target


def _whoosh_date_range(start, end):
    from whoosh import query as wq

    from searchkit import schema

    low = dt.datetime.combine(start, dt.time()) if start else None
    high = dt.datetime.combine(end, dt.time.max) if end else None
    return wq.DateRange(schema.DATE, low, high)


def test_dated_index_has_deleted_documents_and_several_segments(dated_index_dir):
    with SearchIndex.open(dated_index_dir) as index:
        leaves = [leaf for leaf, _ in index._get_searcher().reader().leaf_readers()]
        assert len(leaves) >= 2 and any(leaf.has_deletions() for leaf in leaves)


_DAYS = st.dates(min_value=dt.date(2018, 12, 1), max_value=dt.date(2024, 2, 1))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(_DAYS | st.none(), _DAYS | st.none(), st.sampled_from(DATED_WORDS + [""]))
def test_date_filter_matches_and_scores_as_whoosh_date_range(dated_index_dir, start, end, word):
    """Same documents, same floats (the filter's constant score too), alone and under an AND."""
    from whoosh import matching
    from whoosh import query as wq

    from searchkit import compiler
    from searchkit.internals import queries

    if start is None and end is None:
        start = dt.date(2020, 3, 1)
    with SearchIndex.open(dated_index_dir) as index:
        searcher = index._get_searcher()
        fast, stock = compiler.date_range(start, end), _whoosh_date_range(start, end)
        assert isinstance(fast, wq.DateRange)  # the compiler's and ranking's checks still know it
        for leaf, _ in searcher.leaf_searchers():  # the day numbers answer, not Whoosh's terms
            assert type(fast.matcher(leaf, searcher.context())) in (queries._ListMatcher, matching.NullMatcherClass)
        word_query = [queries.Term("content", word)] if word else []
        for build in (lambda date: date, lambda date: wq.And([*word_query, date]),
                      lambda date: wq.Or([*word_query, date])):
            expected = {hit.docnum: hit.score for hit in searcher.search(build(stock), limit=None)}
            assert {hit.docnum: hit.score for hit in searcher.search(build(fast), limit=None)} == expected
            assert dict(queries.scored_matches(searcher, build(fast))) == expected
            assert queries.matching_docs(searcher, build(fast)) == sorted(expected)


@pytest.mark.parametrize(("since", "until"), [
    ("2020", None), (None, "2019"), ("2020-03", "2021-06"), ("2030", None), ("2021-02-03", "2021-02-03"),
])
@pytest.mark.parametrize("text", ["山", "山 月", "山 OR date:2021", "月 -date:2020", "date:2022",
                                  "春 date:2019..2020"])
def test_undated_left_out_counted_as_before(dated_index_dir, since, until, text):
    """The undated documents come from the day numbers; the count is Whoosh's Not(DATED)'s."""
    from whoosh import query as wq

    from searchkit import compiler, ranking, schema
    from searchkit import query as q
    from searchkit.normalize import normalize_query

    with SearchIndex.open(dated_index_dir) as index:
        results = index.search(text, since=since, until=until, limit=200)
        searcher = index._get_searcher()
        compiled = index._compile(q.parse(normalize_query(text)))
        relaxed = compiler.strip_dates(compiled.query) if compiled.dated else compiled.query
        if compiled.undated_may_match:
            relaxed = compiler.AndNot(relaxed, compiled.query)
        undated = wq.And([relaxed, wq.Not(wq.Term(schema.DATED, True))])
        order = ranking.TieBreak(searcher)
        assert results.undated_excluded == len({order.head(d) for d in searcher.docs_for_query(undated)})
        stock = [_whoosh_date_range(*q.date_span(since, until))]
        expected = {hit.docnum: hit.score for hit in searcher.search(wq.And([compiled.query, *stock]), limit=None)}
        assert results.total == len(expected)
        assert {hit.id: hit.score for hit in results.hits} == {
            searcher.stored_fields(d)[schema.ID]: s for d, s in expected.items()}


def test_date_filter_survives_pickling(dated_index_dir):
    """Shards receive the filters pickled (see shard_service.py)."""
    import pickle

    from searchkit import compiler
    from searchkit.internals import queries

    fast = compiler.date_range(dt.date(2020, 1, 1), dt.date(2021, 12, 31))
    copy = pickle.loads(pickle.dumps(fast))
    assert copy == fast
    with SearchIndex.open(dated_index_dir) as index:
        searcher = index._get_searcher()
        assert queries.scored_matches(searcher, copy) == queries.scored_matches(searcher, fast) != []
