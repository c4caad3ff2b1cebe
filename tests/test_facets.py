"""The overview of a result set: every hit counted by source and by period, whatever the page."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import Document, SearchIndex, facets, ranking, render, schema
from searchkit.internals.columns import term_doc_ids, unsigned_column
from searchkit.models import Facets, SearchResults

LINES = ["韶关数据中心集群开工建设", "乡村振兴带动春耕备耕", "冰川考察队抵达营地", "高铁站客流创新高",
         "数据安全法实施一周年", "春耕时节农机忙", "江上清风徐来", "南岭国家公园揭牌"]
SOURCES = ["新华社", "人民日报", "南方日报", "羊城晚报", None]
QUERIES = ["数据", "数据中心", "春耕", "冰川 高铁", "韶关 春耕 冰川", "冰川 鲸鱼", "数", "江 OR 冰川",
           "春耕 -农机", "title:数据"]


def record(n: int, rng: random.Random) -> dict:
    date = None
    if rng.random() < 0.8:
        date = (dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(5 * 365))).isoformat()
    return {"id": f"n{n:03d}", "title": f"{rng.choice(LINES)[:4]}{n}",
            "text": "。".join(rng.sample(LINES, rng.randint(1, 4))) + "。",
            "source": SOURCES[n % len(SOURCES)], "date": date}


@pytest.fixture(scope="module")
def news_dir(tmp_path_factory):
    """An index of 160 short generated news items of four sources (some without), five years."""
    rng = random.Random(16)
    root = tmp_path_factory.mktemp("news")
    corpus = root / "news.jsonl"
    corpus.write_text("".join(json.dumps(record(n, rng), ensure_ascii=False) + "\n" for n in range(160)),
                      encoding="utf-8")
    SearchIndex.build(root / "index", [corpus], workers=1)
    return root / "index"


@pytest.fixture(scope="module")
def news(news_dir):
    with SearchIndex.open(news_dir) as index:
        yield index


@pytest.fixture(scope="module")
def with_long_document(news_dir, tmp_path_factory):
    """The news index and one document long enough to be indexed as several passages."""
    path = tmp_path_factory.mktemp("long") / "index"
    shutil.copytree(news_dir, path)
    text = "".join(f"第{i}段：韶关数据中心集群的建设进展顺利。" for i in range(6_000))
    with SearchIndex.open(path) as index:
        index.add_documents([Document(id="长文", title="长篇报道", text=text, source="新华社",
                                      date=dt.date(2022, 6, 1))])
        yield index


def counted_by_hand(index: SearchIndex, query: str, **options) -> dict:
    """The overview's JSON as counted from every hit of an exhaustive search."""
    every = index.search(query, limit=10_000, facets=False, **options)
    assert len(every.hits) == every.total
    dates = [hit.date for hit in every.hits if hit.date]
    months = bool(dates) and facets.month_number(max(dates)) - facets.month_number(min(dates)) < 24
    periods = Counter(f"{d.year:04d}-{d.month:02d}" if months else f"{d.year:04d}" for d in dates)
    return {"sources": dict(Counter(hit.source for hit in every.hits if hit.source)),
            "months" if months else "years": dict(periods), "undated": len(every.hits) - len(dates)}


def assert_overview(index: SearchIndex, query: str, **options) -> SearchResults:
    results = index.search(query, limit=3, **options)
    assert results.facets is not None
    assert results.facets.to_json() == counted_by_hand(index, query, **options), query
    sources = list(results.facets.sources.items())
    assert sources == sorted(sources, key=lambda item: (-item[1], item[0]))  # most first
    assert list(results.facets.periods) == sorted(results.facets.periods)  # in time order
    return results


@settings(max_examples=40, deadline=None, derandomize=True)
@given(query=st.sampled_from(QUERIES), source=st.sampled_from([None, "新华社", "南方日报"]),
       since=st.sampled_from([None, "2021", "2022-03"]), until=st.sampled_from([None, "2022-12"]),
       sort=st.sampled_from(["relevance", "date"]), prune_above=st.sampled_from([0, 10**9]))
def test_the_overview_counts_every_hit_of_the_filtered_set(news, query, source, since, until, sort,
                                                            prune_above):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranking, "PRUNE_ABOVE", prune_above)
        results = assert_overview(news, query, sources=source, since=since, until=until, sort=sort)
    assert sum(results.facets.sources.values()) <= results.total


def test_the_whole_set_is_counted_when_ranking_reads_only_the_best(news, monkeypatch):
    monkeypatch.setattr(ranking, "PRUNE_ABOVE", 0)
    results = assert_overview(news, "数")
    assert not results.total_exact  # the total is an estimate; the overview is not
    assert sum(results.facets.periods.values()) + results.facets.undated > len(results.hits)


def test_partial_matches_count_their_candidates(news):
    results = assert_overview(news, "冰川 鲸鱼")  # nobody writes of whales
    assert results.partial
    assert sum(results.facets.periods.values()) + results.facets.undated == results.total


def test_a_narrow_span_is_counted_by_month(news):
    results = assert_overview(news, "数据", since="2022-01", until="2022-12")
    assert results.facets.by == "month"
    assert set(results.to_json()["facets"]) == {"sources", "months", "undated"}
    wide = news.search("数据")
    assert wide.facets.by == "year" and set(wide.to_json()["facets"]) == {"sources", "years", "undated"}


def test_a_long_document_counts_once(with_long_document):
    results = assert_overview(with_long_document, "数据中心")
    assert results.facets.periods.get("2022", 0) >= 1
    alone = with_long_document.search('"第5999段"')
    assert alone.total == 1
    assert alone.facets == Facets(sources={"新华社": 1}, periods={"2022-06": 1}, by="month", undated=0)
    everywhere = with_long_document.search("长篇报道 第1段 第5999段")  # words in different passages
    assert everywhere.facets.sources["新华社"] == 1  # (documents with one of the words follow it)


def test_facets_are_left_out_when_not_asked_for(news):
    results = news.search("数据", facets=False)
    assert results.facets is None and "facets" not in results.to_json()


def test_colliding_source_keys_are_counted_apart(news_dir, monkeypatch):
    monkeypatch.setattr(schema, "source_key", lambda name: 7)  # every name one key
    with SearchIndex.open(news_dir) as index:
        assert_overview(index, "数据")


def test_an_empty_index_has_an_empty_overview(tmp_path):
    (tmp_path / "empty").mkdir()
    SearchIndex.build(tmp_path / "index", [tmp_path / "empty"])
    with SearchIndex.open(tmp_path / "index") as index:
        results = index.search("数据")
    assert results.facets == Facets(sources={}, periods={}, undated=0)


# -- reading columns and postings whole ----------------------------------------------------


def test_columns_and_term_documents_read_whole_are_what_whoosh_reads(news_dir, tmp_path):
    path = tmp_path / "index"
    shutil.copytree(news_dir, path)
    with SearchIndex.open(path) as index:  # a second segment, and deleted documents
        index.add_documents([Document(id=f"n{n:03d}", text="数据更正。", source="新华社",
                                      date=dt.date(2024, 1, 1) + dt.timedelta(days=n)) for n in range(0, 40, 3)])
        searcher = index._get_searcher()
        reader = searcher.reader()
        assert reader.has_deletions() and len(reader.leaf_readers()) > 1
        for field in (schema.DAYNUMBER, schema.SOURCEKEY):
            column = reader.column_reader(field)
            assert list(unsigned_column(reader, field)) == [column[d] for d in range(reader.doc_count_all())]
        for field, text in [(schema.CHARS, "数"), (schema.CONTENT, "数据"), (schema.SOURCE, "新华社")]:
            term = searcher.schema[field].to_bytes(text)
            assert term_doc_ids(reader, field, term) == sorted(reader.postings(field, term).all_ids())


# -- periods ------------------------------------------------------------------------------------


def days(*dates: str) -> dict[int, int]:
    return Counter(dt.date.fromisoformat(d).toordinal() for d in dates)


def test_hits_within_two_years_are_counted_by_month():
    assert facets.periods_of(days("2021-01-31", "2022-12-01", "2022-12-02")) == (
        "month", {"2021-01": 1, "2022-12": 2})
    assert facets.periods_of(days("2021-01-31", "2023-01-01")) == ("year", {"2021": 1, "2023": 1})
    assert facets.periods_of({}) == ("year", {})


# -- the overview line and the timeline ---------------------------------------------------------

WIDE = Facets(sources={"人民日报": 1200, "新华社": 530, "南方日报": 40, "澎湃新闻": 33, "羊城晚报": 2},
              periods={str(y): (y - 1995) * 3 % 17 + 1 for y in range(1996, 2024) if y != 2001},
              undated=12)
SHORT = Facets(sources={"南方日报": 12, "新华社": 5}, periods={"2021": 4, "2022": 16}, undated=2)


def test_the_overview_line_says_everything_when_it_fits():
    assert render.overview_line(SHORT, 80) == \
        "Sources: 南方日报 12 · 新华社 5   Years: 2021 4 · 2022 16 · undated 2"
    assert render.overview_line(Facets(sources={}, periods={}, undated=3)) is None
    assert render.overview_line(Facets(sources={"全唐诗": 20000}, periods={}, undated=20000)) == \
        "Sources: 全唐诗 20,000"


@pytest.mark.parametrize("width", [40, 80, 120, 200])
def test_the_overview_line_fits_the_terminal(width):
    line = render.overview_line(WIDE, width)
    assert render.display_width(line) <= width - 1
    assert line.startswith("Sources: 人民日报 1,200 · ")
    if width >= 80:
        assert "1996 " in line and " 2023 · undated 12" in line  # the span, as a sparkline
    if width >= 120:
        assert "羊城晚报 2" in line and "others" not in line


def test_fewer_sources_are_named_and_the_others_summed():
    line = render.overview_line(WIDE, 80)
    assert "others 605" in line  # 40 + 33 + 2 + 530 - the ones named
    named = sum(WIDE.sources[name] for name in WIDE.sources if f"{name} " in line)
    assert named + int(line.split("others ")[1].split()[0].replace(",", "")) == sum(WIDE.sources.values())


def results_of(facets_: Facets, total: int) -> SearchResults:
    return SearchResults(query="数据中心", total=total, hits=[], elapsed=0.01, facets=facets_)


def test_the_timeline_draws_every_month_between_the_first_and_the_last():
    months = Facets(sources={"新华社": 11}, periods={"2021-11": 8, "2022-02": 1, "2022-03": 4},
                    by="month", undated=2)
    text = render.timeline_text(results_of(months, 15), 80)
    lines = text.splitlines()
    assert lines[0] == "13 dated results for 数据中心 by month, 2 undated not drawn"
    rows = lines[2:]
    assert [row.split()[0] for row in rows] == ["2021-11", "2021-12", "2022-01", "2022-02", "2022-03"]
    assert [int(row.split()[1]) for row in rows] == [8, 0, 0, 1, 4]
    assert rows[1] == "2021-12  0" and rows[2] == "2022-01  0"  # no bar for nothing
    bars = [row[len("2021-11  8  "):] for row in rows]
    assert bars[0] == "█" * render.TIMELINE_BAR  # the longest fills the bar
    assert bars[4] == "█" * 30  # 4/8 of 60 columns
    assert bars[3] == "███████▌"  # 1/8 of 60 columns: 7.5, in eighths
    assert all(render.display_width(line) <= 79 for line in lines)


def test_bars_are_cut_in_eighths_and_never_hide_a_hit():
    assert render.bar(1, 1000, 10) == "▏"
    assert render.bar(3, 8, 1) == "▍"
    assert render.bar(17, 16, 2) == "██▏"
    assert render.bar(0, 5, 10) == ""


def test_many_years_are_drawn_in_spans():
    text = render.timeline_text(results_of(WIDE, 1817), 80)
    lines = text.splitlines()
    assert "in spans of 2 years" in lines[0]
    labels = [line.split()[0] for line in lines[2:]]
    assert labels[0] == "1996–1997" and labels[-1] == "2022–2023" and len(labels) == 14
    assert lines[2 + labels.index("2000–2001")].split()[1] == str(WIDE.periods["2000"])  # 2001: none
    assert all(render.display_width(line) <= 79 for line in lines)
    widths = {line.index(line.split()[2]) for line in lines[2:] if len(line.split()) > 2}
    assert len(widths) == 1  # the bars start in one column


def test_a_timeline_of_undated_hits_says_so():
    undated = Facets(sources={"全唐诗": 3}, periods={}, undated=3)
    assert render.timeline_text(results_of(undated, 3)) == \
        "Nothing to draw: no known date on 3 results for 数据中心."


# -- counting a column by its runs ---------------------------------------------------------------


@settings(max_examples=60, deadline=None, derandomize=True)
@given(runs=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 300)), min_size=1, max_size=40),
       data=st.data())
def test_counting_by_runs_is_counting_one_by_one(runs, data):
    from array import array

    values = array("I", [value for value, length in runs for _ in range(length)])
    column = facets.Column(values)
    starts, found = column.runs
    rebuilt = [found[i] for i, (start, end) in enumerate(zip(starts, starts[1:] + [len(values)]))
               for _ in range(end - start)]
    assert rebuilt == list(values) and all(a != b for a, b in zip(found, found[1:]))
    docs = data.draw(st.sets(st.integers(0, len(values) - 1)))
    assert column.count(docs) == Counter(values[d] for d in docs)
    if column.by_runs(len(values)):  # every document, by runs
        assert column.count(range(len(values))) == Counter(values)


def test_a_column_of_few_runs_is_counted_by_runs():
    from array import array

    values = array("I", [5] * 3000 + [0] * 2000 + [9] * 5000)
    column = facets.Column(values)
    assert column.runs == ([0, 3000, 5000], [5, 0, 9])
    docs = set(random.Random(3).sample(range(10_000), 1000))
    assert column.by_runs(len(docs)) and column.count(docs) == Counter(values[d] for d in docs)


def test_a_column_of_many_runs_is_counted_one_by_one():
    from array import array

    values = array("I", [n % 7 for n in range(5000)])
    column = facets.Column(values)
    assert column.runs is None and not column.by_runs(5000)
    assert column.count(range(0, 5000, 3)) == Counter(values[d] for d in range(0, 5000, 3))
