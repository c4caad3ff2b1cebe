"""Tests of searchkit.sources: resolving source names, alike for every face, and sidecar aliases kept."""

from __future__ import annotations

import datetime as dt
import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import Document, SearchIndex, SearchkitError, UnknownSourceError
from searchkit.sources import SourceTable, canonical_source

S000 = "000_150bae6b94f5f664.txt"
S001 = "001_cbd37f1b4b68be5e.txt"
S002 = "002_3a19d138acb7fb5e.txt"
S003 = "003_6a253fe0538d6617.txt"
S004 = "004_adbd3bb83504ea18.txt"

SEED_SOURCES = {"羊城晚报": 2, "澎湃新闻": 1, "南方日报": 1, "南方Plus": 1}
SIDECAR_ALIASES = '\n[aliases]\n"南方日报" = ["csrb", "南方日報社"]\n'


def ids(results) -> list[str]:
    return [hit.id for hit in results.hits]


@pytest.fixture
def table() -> SourceTable:
    return SourceTable(SEED_SOURCES)


@pytest.fixture
def aliased_index_dir(tmp_path, corpus_copy):
    """An index of the seeds whose sidecar adds aliases of 南方日报."""
    with (corpus_copy / "searchkit-meta.toml").open("a", encoding="utf-8") as sidecar:
        sidecar.write(SIDECAR_ALIASES)
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    return index_dir


# -- the rules -----------------------------------------------------------------------


@pytest.mark.parametrize("name, meant", [
    ("羊城晚报", "羊城晚报"),
    ("南方plus", "南方Plus"),        # a name ignoring case
    ("ＮＡＮＦＡＮＧＰＬＵＳ", "南方Plus"),  # an alias ignoring width and case
    ("羊城晚報", "羊城晚报"),        # and script
    ("澎湃号", "澎湃新闻"),          # an alias
    ("澎湃新闻·澎湃号·政务", "澎湃新闻"),
    ("羊城", "羊城晚报"),            # a prefix of one name
    ("南方p", "南方Plus"),
    (" 澎湃新闻 ", "澎湃新闻"),
])
def test_a_name_an_alias_or_a_unique_prefix(table, name, meant):
    assert table.resolve(name) == meant


def test_an_outlet_the_alias_table_knows_resolves_though_the_index_has_none(table):
    assert table.resolve("人民日报社") == "人民日报"  # it finds nothing, as before


def test_an_unknown_name_is_an_error_naming_it_and_the_closest_sources(table):
    with pytest.raises(UnknownSourceError) as error:
        table.resolve("ycwbb")  # close to the alias ycwb of 羊城晚报
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("no source 'ycwbb' in this index")
    assert error.value.suggestions[0] == "羊城晚报"
    assert set(error.value.suggestions) == set(SEED_SOURCES)
    assert "羊城晚报, " in message


def test_a_near_miss_lists_the_closest_five():
    names = {f"报纸{n}号": 1 for n in range(9)} | {"羊城晚报": 3}
    with pytest.raises(UnknownSourceError) as error:
        SourceTable(names).resolve("羊城晨报")
    assert error.value.suggestions[0] == "羊城晚报"
    assert len(error.value.suggestions) == 5


def test_an_ambiguous_prefix_is_an_error_naming_the_candidates(table):
    with pytest.raises(UnknownSourceError) as error:
        table.resolve("南方")
    assert error.value.ambiguous
    assert set(error.value.suggestions) == {"南方日报", "南方Plus"}
    assert str(error.value).startswith("no source '南方' in this index; several begin with it: ")


def test_an_index_without_sources(table):
    with pytest.raises(UnknownSourceError, match="no source 'x' in this index; it has no sources"):
        SourceTable({}).resolve("x")


def test_the_error_survives_pickling(table):
    with pytest.raises(UnknownSourceError) as error:
        table.resolve("没有这个")
    copy = pickle.loads(pickle.dumps(error.value))
    assert str(copy) == str(error.value) and copy.suggestions == error.value.suggestions


def test_extra_aliases_extend_the_table():
    table = SourceTable(SEED_SOURCES, {"南方日报": ["csrb"]})
    assert table.resolve("CSRB") == "南方日报"
    assert table.resolve("澎湃") == "澎湃新闻"  # the built-in table still holds
    assert canonical_source("csrb", {"南方日报": ["csrb"]}) == "南方日报"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(name=st.text(st.sampled_from("南方日报羊城晚澎湃新闻PpLlUuSs·+ 人民号社abc"), max_size=8))
def test_every_name_resolves_or_is_one_clear_error(name):
    table = SourceTable(SEED_SOURCES)
    try:
        meant = table.resolve(name)
    except UnknownSourceError as error:
        assert "\n" not in str(error) and f"'{name}'" in str(error)
        assert 0 < len(error.suggestions) <= 5 and set(error.suggestions) <= set(SEED_SOURCES)
    else:
        assert meant in SEED_SOURCES or meant == canonical_source(meant)


# -- through the library: --source's rules are source:'s --------------------------------


@pytest.mark.parametrize("name", ["羊城", "ycwb", "羊城晚報"])
def test_the_filter_and_the_query_field_take_the_same_names(seed_index, name):
    assert set(ids(seed_index.search("韶关", sources=[name]))) == {S000, S001}
    assert set(ids(seed_index.search(f"韶关 source:{name}"))) == {S000, S001}
    assert seed_index.resolve_source(name) == "羊城晚报"


@pytest.mark.parametrize("query, options", [
    ("韶关", {"sources": ["没有这个"]}),
    ("韶关 source:没有这个", {}),
    ("韶关 OR source:没有这个", {}),
])
def test_an_unknown_source_is_an_error_in_the_filter_and_in_the_query(seed_index, query, options):
    with pytest.raises(UnknownSourceError, match="^no source '没有这个' in this index; known sources"):
        seed_index.search(query, **options)


def test_an_ambiguous_source_is_an_error(seed_index):
    with pytest.raises(UnknownSourceError, match="南方日报"):
        seed_index.search("韶关", sources=["南方"])
    assert isinstance(UnknownSourceError("x", []), SearchkitError)


# -- sidecar aliases are kept with the index ---------------------------------------------


def test_sidecar_aliases_work_after_indexing(aliased_index_dir):
    with SearchIndex.open(aliased_index_dir) as index:
        assert ids(index.search("韶关", sources=["csrb"])) == [S003]
        assert ids(index.search("韶关 source:CSRB")) == [S003]
        assert ids(index.search("韶关", sources=["南方日報社"])) == [S003]
        assert index.resolve_source("csrb") == "南方日报"


def test_sidecar_aliases_are_replaced_on_the_next_run(aliased_index_dir, corpus_copy):
    sidecar = corpus_copy / "searchkit-meta.toml"
    text = sidecar.read_text(encoding="utf-8").replace(SIDECAR_ALIASES, '\n[aliases]\n"澎湃新闻" = ["pp"]\n')
    sidecar.write_text(text, encoding="utf-8")
    with SearchIndex.open(aliased_index_dir) as index:
        index.update([corpus_copy])
        assert ids(index.search("韶关", sources=["pp"])) == [S002]
        with pytest.raises(UnknownSourceError):
            index.search("韶关", sources=["csrb"])


def test_aliases_outlive_documents_added_from_python(aliased_index_dir):
    with SearchIndex.open(aliased_index_dir) as index:
        index.add_documents([Document(id="n1", text="韶关新闻", source="新华社", date=dt.date(2023, 1, 2))])
        assert ids(index.search("韶关", sources=["csrb"])) == [S003]


def test_an_index_built_before_aliases_were_kept_still_opens(seed_index_dir):
    manifest = json.loads((seed_index_dir / "searchkit.json").read_text(encoding="utf-8"))
    assert "aliases" not in manifest  # the seeds' sidecar has none: the manifest is as before
    with SearchIndex.open(seed_index_dir) as index:
        assert index.sources() == SEED_SOURCES
        assert ids(index.search("韶关", sources=["nfrb"])) == [S003]  # the built-in table


# -- the source table is built once per searcher ---------------------------------------------


def test_the_source_table_is_built_once_per_searcher(tmp_path, seeds_dir, monkeypatch):
    builds = []
    count_sources = SearchIndex._count_sources
    monkeypatch.setattr(SearchIndex, "_count_sources",
                        staticmethod(lambda searcher: builds.append(1) or count_sources(searcher)))
    SearchIndex.build(tmp_path / "index", [seeds_dir])
    with SearchIndex.open(tmp_path / "index") as index:
        for name in ["羊城", "ycwb", "澎湃新闻"]:
            index.search("韶关", sources=[name])
            index.search(f"韶关 source:{name}")
        index.sources()
        assert len(builds) == 1
        # A change to the index replaces the searcher, and with it the table.
        index.add_documents([Document(id="n1", text="韶关新闻", source="新华社")])
        assert index.sources()["新华社"] == 1
        assert ids(index.search("韶关", sources=["新华"])) == ["n1"]
        assert len(builds) == 2


def test_another_process_commit_is_seen_by_the_filter(tmp_path, seeds_dir):
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [seeds_dir])
    with SearchIndex.open(index_dir) as index, SearchIndex.open(index_dir) as other:
        assert index.sources() == SEED_SOURCES
        other.add_documents([Document(id="n1", text="韶关新闻", source="新华社")])
        assert ids(index.search("韶关", sources=["新华社"])) == ["n1"]
        assert index.resolve_source("新华") == "新华社"
