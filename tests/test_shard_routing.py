"""Sharded indexes routed by date (searchkit.shards, ``shards_by``): a shard a period, one of the
undated; they answer exactly as one index, a dated search ranks only the shards it can match, and
incremental runs move documents between periods."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from searchkit import SearchIndex, SearchkitError, shards
from searchkit.shard_service import ShardService
from searchkit.shards import CENSUS, LAYOUT, ShardedIndex

from shard_corpus import queries, write_corpus
from test_shards import answer, assert_same_answers

# Windows of since/until: within one year, across two, open at either end,
# outside every period (no shard ranks), and None (every shard ranks).
WINDOWS = [("2022", "2022"), ("2021-06", "2022-03"), ("2023-02", None), (None, "2021-04"),
           ("2024", None), ("2022-03-05", "2022-03-05"), (None, None)]


def dated_cases(count: int, seed: int = 5) -> list[tuple[str, dict]]:
    """The generated queries (date sort and pages among them), each with one of WINDOWS."""
    cases = []
    for number, (query, options) in enumerate(queries(count, seed)):
        since, until = WINDOWS[number % len(WINDOWS)]
        options = {key: value for key, value in options.items() if key not in ("since", "until")}
        if since is not None:
            options["since"] = since
        if until is not None:
            options["until"] = until
        cases.append((query, options))
    return cases


CASES = dated_cases(210)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The generated corpus (three years and undated) as one index, by year and by month."""
    root = tmp_path_factory.mktemp("routing")
    corpus = write_corpus(root / "corpus", documents=700, seed=23)
    SearchIndex.build(root / "one", [corpus], workers=1)
    SearchIndex.build(root / "by-year", [corpus], shards_by="year", workers=1)
    SearchIndex.build(root / "by-month", [corpus], shards_by="month", workers=1)
    return root


def test_the_cases_reach_every_path_of_a_dated_search(built):
    with SearchIndex.open(built / "one") as one:
        seen = [one.search(query, **options) for query, options in CASES]
    dated = [(r, o) for r, (_, o) in zip(seen, CASES) if "since" in o or "until" in o]
    assert sum(r.undated_excluded > 0 for r, _ in dated) >= 40
    assert sum(len(r.hits) >= 5 for r, _ in dated) >= 40
    assert sum(o.get("sort") == "date" and len(r.hits) >= 5 for r, o in dated) >= 10
    assert sum(o.get("offset", 0) > 0 and len(r.hits) > 0 for r, o in dated) >= 10
    assert sum(r.partial for r, _ in dated) >= 3


@pytest.mark.parametrize("routing", ["by-year", "by-month"])
def test_shards_by_date_answer_exactly_as_one_index(built, routing):
    with SearchIndex.open(built / "one") as one, SearchIndex.open(built / routing) as sharded:
        assert isinstance(sharded, ShardedIndex)
        assert sharded.document_count() == one.document_count()
        assert sharded.sources() == one.sources()
        assert_same_answers(one, sharded, CASES)


def test_each_shard_is_a_period_recorded_in_the_layout(built):
    layout = json.loads((built / "by-year" / LAYOUT).read_text(encoding="utf-8"))
    assert layout["routing"] == "date-year"
    assert layout["shards"] == ["shard-2021", "shard-2022", "shard-2023", "shard-undated"]
    assert layout["ranges"]["shard-2022"] == ["2022-01-01", "2022-12-31"]
    assert layout["ranges"]["shard-undated"] is None
    month = json.loads((built / "by-month" / LAYOUT).read_text(encoding="utf-8"))
    assert month["ranges"]["shard-2022-02"] == ["2022-02-01", "2022-02-28"]
    assert len(month["shards"]) == 37  # 36 months and the undated
    with SearchIndex.open(built / "by-year") as sharded:
        for shard in sharded.stats().shards:
            with SearchIndex.open(built / "by-year" / shard["name"]) as one_shard:
                stats = one_shard.stats()
                if shard["name"] == "shard-undated":
                    assert stats.undated == stats.documents > 0
                else:
                    year = shard["name"].removeprefix("shard-")
                    assert stats.undated == 0
                    assert stats.earliest.year == stats.latest.year == int(year)


def test_a_document_is_found_in_whichever_shard_holds_it(built):
    with SearchIndex.open(built / "one") as one, SearchIndex.open(built / "by-year") as sharded:
        for number in range(0, 700, 37):
            doc_id = f"doc-{number:05d}"
            assert sharded.document(doc_id) == one.document(doc_id)
        with pytest.raises(KeyError):
            sharded.document("doc-99999")


def ranked_shards(sharded: ShardedIndex, monkeypatch) -> list[str]:
    """A list that fills with the names of the shards asked to rank (ShardService.rank,
    rank_partial), as searches run."""
    ranked: list[str] = []
    for method in ("rank", "rank_partial"):
        original = getattr(ShardService, method)

        def spy(service, *args, original=original, **kwargs):
            ranked.append(service.path.name)
            return original(service, *args, **kwargs)
        monkeypatch.setattr(ShardService, method, spy)
    return ranked


def test_a_dated_search_ranks_only_the_shards_it_can_match(built, monkeypatch):
    with SearchIndex.open(built / "one") as one, SearchIndex.open(built / "by-year") as sharded:
        expected = answer(one, "城市 发展", {"since": "2022-03", "until": "2022-11"})
        sharded.search("城市")  # every shard open and bound before the spy looks
        ranked = ranked_shards(sharded, monkeypatch)
        assert answer(sharded, "城市 发展", {"since": "2022-03", "until": "2022-11"}) == expected
        assert set(ranked) == {"shard-2022"}
        assert expected["undated"] > 0  # the undated shard still counted them, unranked
        ranked.clear()
        sharded.search("城市", since="2022-12-31", until="2023-01-01", sort="date", offset=5)
        assert set(ranked) == {"shard-2022", "shard-2023"}
        ranked.clear()
        assert sharded.search("城市", since="2030").total == 0
        assert ranked == []
        ranked.clear()
        sharded.search("城市")
        assert set(ranked) == {"shard-2021", "shard-2022", "shard-2023", "shard-undated"}


def _rewrite(corpus, change) -> None:
    """Apply change(record) -> record or None (removed) to every record of the corpus's files."""
    for part in sorted(corpus.glob("*.jsonl")):
        records = [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
        kept = [changed for changed in map(change, records) if changed is not None]
        part.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")


def test_incremental_runs_move_documents_between_periods(built, tmp_path):
    """Dates changed (to another year, to a new year, to none, from none) and records removed."""
    corpus = tmp_path / "corpus"
    shutil.copytree(built / "corpus", corpus)
    SearchIndex.build(tmp_path / "one", [corpus], workers=1)
    SearchIndex.build(tmp_path / "sharded", [corpus], shards_by="year", workers=1)
    with SearchIndex.open(built / "one") as one:
        moved = [one.document(f"doc-{n:05d}") for n in (3, 10, 17, 24, 31)]
    dates = {moved[0].id: "2022-07-01", moved[1].id: "2025-02-03", moved[2].id: None,
             moved[3].id: "2021-09-09"}
    removed = moved[4].id

    def change(record):
        if record["id"] == removed:
            return None
        if record["id"] in dates:
            record["date"] = dates[record["id"]]
        return record
    _rewrite(corpus, change)
    SearchIndex.build(tmp_path / "one", [], workers=1)
    SearchIndex.build(tmp_path / "sharded", [], workers=1)
    layout = json.loads((tmp_path / "sharded" / LAYOUT).read_text(encoding="utf-8"))
    assert layout["shards"] == ["shard-2021", "shard-2022", "shard-2023", "shard-2025", "shard-undated"]
    holders = {}
    for name in layout["shards"]:
        with SearchIndex.open(tmp_path / "sharded" / name) as shard:
            for doc_id in [*dates, removed]:
                try:
                    shard.document(doc_id)
                except KeyError:
                    continue
                holders.setdefault(doc_id, []).append(name)
    assert holders == {moved[0].id: ["shard-2022"], moved[1].id: ["shard-2025"],
                       moved[2].id: ["shard-undated"], moved[3].id: ["shard-2021"]}
    with SearchIndex.open(tmp_path / "one") as one, SearchIndex.open(tmp_path / "sharded") as sharded:
        assert sharded.document_count() == one.document_count() == 699
        assert_same_answers(one, sharded, CASES[:90] + [("城市", {"since": "2025"})])


def test_an_unchanged_run_reads_no_file_for_its_census(built, tmp_path, monkeypatch):
    """The census of dates is recorded: an update loads only files that changed."""
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    SearchIndex.build(tmp_path / "sharded", [tmp_path / "corpus"], shards_by="year", workers=1)
    assert len(json.loads((tmp_path / "sharded" / CENSUS).read_text(encoding="utf-8"))) == 3
    loaded = []
    original = shards.load_file
    monkeypatch.setattr(shards, "load_file", lambda *a, **k: loaded.append(a[0]) or original(*a, **k))
    report = SearchIndex.build(tmp_path / "sharded", [], workers=1)
    assert (report.added, report.updated, report.removed, loaded) == (0, 0, 0, [])
    _rewrite(tmp_path / "corpus", lambda r: {**r, "date": "2026-01-01"} if r["id"] == "doc-00001" else r)
    SearchIndex.build(tmp_path / "sharded", [], workers=1)
    assert [path.path.name for path in loaded] == ["part-1.jsonl"]
    with SearchIndex.open(tmp_path / "sharded") as sharded:
        assert sharded.search("城市", since="2026").total == (1 if "城市" in sharded.document(
            "doc-00001").text else 0)
        assert "shard-2026" in sharded.layout.shards


def test_routing_cannot_be_mixed(built, tmp_path):
    corpus = built / "corpus"
    SearchIndex.build(tmp_path / "by-id", [corpus], shards=2, workers=1)
    with pytest.raises(SearchkitError, match="routes documents by id, not by year"):
        SearchIndex.build(tmp_path / "by-id", [corpus], shards_by="year")
    with pytest.raises(SearchkitError, match="routes documents by year, not into 3 shards by id"):
        SearchIndex.build(built / "by-year", [corpus], shards=3)
    with pytest.raises(SearchkitError, match="a shard a year, not a month"):
        SearchIndex.build(built / "by-year", [corpus], shards_by="month")
    with pytest.raises(SearchkitError, match="not both"):
        SearchIndex.build(tmp_path / "new", [corpus], shards=2, shards_by="year")
    with pytest.raises(SearchkitError, match="not sharded"):
        SearchIndex.build(built / "one", [corpus], shards_by="year")
    assert not (tmp_path / "new").exists()


def test_documents_added_from_python_go_to_their_period(built, tmp_path):
    shutil.copytree(built / "by-year", tmp_path / "sharded")
    with SearchIndex.open(tmp_path / "sharded") as sharded:
        document = sharded.document("doc-00005")
        other = "2022-05-05" if document.date and document.date.year == 2021 else "2021-05-05"
        with pytest.raises(SearchkitError, match="held in shard-"):
            sharded.add_documents([_redated(document, other)])
        with pytest.raises(SearchkitError, match="no shard for the date 2030-01-01"):
            sharded.add_documents([_redated(document, "2030-01-01", "new-1")])
        assert sharded.add_documents([_redated(document, other, "new-2")]) == 1
        assert sharded.document("new-2").date.isoformat() == other
        assert "new-2" in [hit.id for hit in sharded.search(document.title, since=other, until=other).hits]


def _redated(document, date: str, doc_id: str | None = None):
    import dataclasses
    import datetime as dt
    return dataclasses.replace(document, id=doc_id or document.id, date=dt.date.fromisoformat(date))


def test_progress_adds_up_the_shards_work(built, tmp_path):
    heard = []
    SearchIndex.build(tmp_path / "sharded", [built / "corpus"], shards_by="year", workers=1,
                      progress=lambda done, total: heard.append((done, total)))
    assert len(heard) >= 4 * 3  # every shard reads the three files
    assert all(done <= total for done, total in heard)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    size = sum(path.stat().st_size for path in (built / "corpus").glob("*.jsonl"))
    assert heard[-1] == (4 * size, 4 * size)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchkit", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})


def test_the_command_line_builds_shards_by_year_and_refuses_mixing(built, tmp_path):
    corpus = str(built / "corpus")
    made = run_cli("index", corpus, "--index", str(tmp_path / "sharded"), "--shards-by", "year",
                   "--workers", "1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("700 added")
    found = run_cli("search", "--index", str(tmp_path / "sharded"), "--json", "城市", "--since", "2022")
    with SearchIndex.open(built / "one") as one:
        assert json.loads(found.stdout)["total"] == one.search("城市", since="2022").total
    mixed = run_cli("index", corpus, "--index", str(tmp_path / "sharded"), "--shards", "2")
    assert mixed.returncode == 1
    assert mixed.stderr.startswith("searchkit: error: the index at ")
    assert "routes documents by year" in mixed.stderr and "Traceback" not in mixed.stderr
    assert len(mixed.stderr.splitlines()) == 1


def test_a_cluster_that_cannot_be_reached_leaves_no_directory(built, tmp_path):
    pytest.importorskip("dask.distributed")
    failed = run_cli("index", str(built / "corpus"), "--index", str(tmp_path / "sharded"), "--shards", "2",
                     "--cluster", "tcp://127.0.0.1:1")
    assert failed.returncode == 1
    assert failed.stderr.startswith("searchkit: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1")
    assert len(failed.stderr.splitlines()) == 1
    assert not (tmp_path / "sharded").exists()


def test_shards_by_year_on_a_cluster_report_progress_and_answer_as_one_index(built, tmp_path):
    """On Dask workers: progress comes back from the workers (events) and as each shard completes."""
    distributed = pytest.importorskip("dask.distributed")
    heard = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        report = SearchIndex.build(tmp_path / "sharded", [built / "corpus"], shards_by="year",
                                   cluster=cluster.scheduler_address,
                                   progress=lambda done, total: heard.append((done, total)))
    assert report.added == 700
    size = sum(path.stat().st_size for path in (built / "corpus").glob("*.jsonl"))
    assert heard and heard[-1] == (4 * size, 4 * size)
    assert all(done <= total for done, total in heard)
    with SearchIndex.open(built / "one") as one, SearchIndex.open(tmp_path / "sharded") as sharded:
        assert_same_answers(one, sharded, CASES[:60])


def test_progress_reaches_the_end_when_shards_have_nothing_to_read(built, tmp_path):
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    SearchIndex.build(tmp_path / "sharded", [tmp_path / "corpus"], shards=3, workers=1)
    heard = []
    SearchIndex.build(tmp_path / "sharded", [], workers=1, progress=lambda *figures: heard.append(figures))
    assert heard[-1] == (0, 0)
    _rewrite(tmp_path / "corpus", lambda r: {**r, "text": r["text"] + "韶关。"} if r["id"] == "doc-00002" else r)
    heard.clear()
    SearchIndex.build(tmp_path / "sharded", [], workers=1, progress=lambda *figures: heard.append(figures))
    size = (tmp_path / "corpus" / "part-2.jsonl").stat().st_size
    assert heard[-1] == (3 * size, 3 * size)


def test_an_update_reads_again_only_the_files_that_changed(built, tmp_path, monkeypatch):
    """A file of one year's documents is recorded by every other shard too: not read again unchanged."""
    from searchkit import indexer
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [json.loads(line) for part in sorted((built / "corpus").glob("*.jsonl"))
               for line in part.read_text(encoding="utf-8").splitlines()]
    for year in ("2021", "2022", "2023", None):
        kept = [r for r in records if (r["date"] or "")[:4] == (year or "")]
        (corpus / f"{year or 'undated'}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    SearchIndex.build(tmp_path / "sharded", [corpus], shards_by="year", workers=1)
    loaded = []
    original = indexer.load_file
    monkeypatch.setattr(indexer, "load_file", lambda part, **k: loaded.append(part.path.name) or original(part, **k))
    report = SearchIndex.build(tmp_path / "sharded", [], workers=1)
    assert (report.added, report.updated, report.removed, report.unchanged, loaded) == (0, 0, 0, 4, [])
    _rewrite(corpus, lambda r: {**r, "date": "2021-01-02"} if r["id"] == "doc-00004" else r)
    SearchIndex.build(tmp_path / "sharded", [], workers=1)
    changed = next(name for name in os.listdir(corpus) if "doc-00004" in (corpus / name).read_text("utf-8"))
    assert loaded == [changed] * 4  # by every shard: any of them may hold its documents now
    with SearchIndex.open(tmp_path / "sharded") as sharded:
        assert sharded.document("doc-00004").date.isoformat() == "2021-01-02"
        assert sharded.search(sharded.document("doc-00004").title, since="2021-01-02",
                              until="2021-01-02").total >= 1


def test_a_new_period_shard_takes_the_user_dictionary_of_the_others(built, tmp_path):
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    words = tmp_path / "words.txt"
    words.write_text("韶关民政 1000 n\n", encoding="utf-8")
    SearchIndex.build(tmp_path / "sharded", [tmp_path / "corpus"], shards_by="year", userdict=words, workers=1)
    _rewrite(tmp_path / "corpus", lambda r: {**r, "date": "2027-03-03"} if r["id"] == "doc-00009" else r)
    SearchIndex.build(tmp_path / "sharded", [], workers=1)
    with SearchIndex.open(tmp_path / "sharded") as sharded:
        assert "shard-2027" in sharded.layout.shards
        assert sharded.stats().analyzer["userdict"]
        assert sharded.document("doc-00009").date.isoformat() == "2027-03-03"


def test_stats_lists_the_shards_aligned(tmp_path, seeds_dir):
    """searchkit stats: one line a shard, the figures in one column however long the names."""
    SearchIndex.build(tmp_path / "by-year", [seeds_dir], shards_by="year", workers=1)
    shown = subprocess.run([sys.executable, "-m", "searchkit", "stats", "--index", str(tmp_path / "by-year")],
                           capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.startswith("  shard-")]
    assert [line.split()[0] for line in lines] == ["shard-2021", "shard-2022", "shard-undated"]
    assert len({line.index(" document") - len(line.split()[1]) for line in lines}) == 1  # one column
    assert "  1 document, " in lines[0] and "  2 documents, " in lines[2]
