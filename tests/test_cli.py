"""The searchkit command, run for real in a subprocess: output contract, exit codes, errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from searchkit import SearchIndex, render

S000 = "000_150bae6b94f5f664.txt"
S001 = "001_cbd37f1b4b68be5e.txt"
S002 = "002_3a19d138acb7fb5e.txt"
S003 = "003_6a253fe0538d6617.txt"
S004 = "004_adbd3bb83504ea18.txt"
ALL = {S000, S001, S002, S003, S004}

RESULT_KEYS = {"query", "total", "partial", "hits", "facets"}
FACET_KEYS = ({"sources", "years", "undated"}, {"sources", "months", "undated"})
HIT_KEYS = {"id", "path", "title", "date", "source", "url", "score", "snippet", "highlights"}


def run(*args, input=None, cwd=None, env=None) -> subprocess.CompletedProcess:
    """searchkit ARGS, as a user would run it with its output piped."""
    result = subprocess.run(
        [sys.executable, "-m", "searchkit", *map(str, args)],
        input=input, capture_output=True, text=True, encoding="utf-8",
        cwd=cwd, env=env, timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def search(index, *args, input=None) -> subprocess.CompletedProcess:
    return run("search", *args, "--index", index, input=input)


def assert_contract(obj) -> None:
    """obj has exactly the keys and types of the --json output contract.

    A search that folded copies under a better hit adds "folded" (how many)
    and, on those hits, "duplicates": hits of the same contract.
    """
    assert set(obj) - {"complete", "total_exact", "folded"} == (RESULT_KEYS if obj["total"] else RESULT_KEYS - {"facets"})
    assert obj.get("total_exact", False) is False
    if "complete" in obj:  # the first `complete` hits have every word, the rest most of them
        assert not obj["partial"] and 0 < obj["complete"] < obj["total"]
    assert "folded" not in obj or isinstance(obj["folded"], int) and obj["folded"] > 0
    assert isinstance(obj["query"], str)
    assert isinstance(obj["total"], int) and obj["total"] >= len(obj["hits"])
    assert isinstance(obj["partial"], bool)
    for hit in obj["hits"]:
        assert_hit_contract(hit)
        assert "duplicates" not in hit or hit["duplicates"] and "folded" in obj
        for copy in hit.get("duplicates", []):
            assert_hit_contract(copy)
            assert "duplicates" not in copy
    facets = obj.get("facets", {"sources": {}, "years": {}, "undated": 0})
    assert set(facets) in FACET_KEYS
    periods = facets.get("years", facets.get("months"))
    assert all(isinstance(n, int) and n > 0 for n in [*facets["sources"].values(), *periods.values()])
    if obj.get("total_exact", True):
        assert sum(periods.values()) + facets["undated"] == obj["total"]  # each hit once
    assert sum(facets["sources"].values()) <= obj["total"]


def assert_hit_contract(hit) -> None:
    """hit has the keys and types of a hit of the --json output contract."""
    assert set(hit) - {"duplicates"} == HIT_KEYS
    assert isinstance(hit["id"], str) and isinstance(hit["title"], str)
    assert hit["date"] is None or (len(hit["date"]) == 10 and hit["date"][4] == hit["date"][7] == "-")
    assert isinstance(hit["score"], (int, float)) and hit["score"] > 0
    assert isinstance(hit["snippet"], str)
    for span in hit["highlights"]:
        assert isinstance(span, list) and len(span) == 2
        start, end = span
        assert 0 <= start < end <= len(hit["snippet"])


def one_json(result: subprocess.CompletedProcess) -> dict:
    """The single JSON object printed by --json, checked against the contract."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    obj = json.loads(lines[0])
    assert_contract(obj)
    return obj


def ids(obj) -> list[str]:
    return [hit["id"] for hit in obj["hits"]]


def assert_one_line_error(result, *words, code=1) -> None:
    assert result.returncode == code
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("searchkit: error: ")
    for word in words:
        assert word in lines[0]


# -- search --json ----------------------------------------------------------------


def test_json_contract(seed_index_dir):
    obj = one_json(search(seed_index_dir, "数据中心", "--json", "--all"))  # folding: test_search_folds_*
    assert obj["query"] == "数据中心"
    assert obj["total"] == 3 and obj["partial"] is False
    assert set(ids(obj)[:2]) == {S000, S001} and ids(obj)[2] == S002
    first = obj["hits"][0]
    assert first["date"] == "2022-02-18" and first["source"] == "羊城晚报"
    assert first["path"].endswith(S000)
    for hit in obj["hits"]:
        assert {hit["snippet"][s:e] for s, e in hit["highlights"]} == {"数据中心"}
    assert obj["hits"][1]["date"] is None  # 001 is undated


def test_acceptance_batch_file(seed_index_dir, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("韶關\n韶关 NOT 民政\n\n预制菜 OR 林长制\n足球比赛\n韶关 数据中心 足球\n", encoding="utf-8")
    result = search(seed_index_dir, "--batch", queries, "--all")  # every hit, none folded
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    for obj in objs:
        assert_contract(obj)
    assert [obj["query"] for obj in objs] == ["韶關", "韶关 NOT 民政", "预制菜 OR 林长制", "足球比赛",
                                              "韶关 数据中心 足球"]
    everything, without, either, nothing, partial = objs
    assert set(ids(everything)) == ALL and everything["total"] == 5
    assert set(ids(without)) == ALL - {S001}
    assert set(ids(either)) == {S002, S003}
    assert nothing == {"query": "足球比赛", "total": 0, "partial": False, "hits": []}
    assert partial["partial"] is True and set(ids(partial)[:3]) == {S000, S001, S002}  # two words of three


def test_batch_stdin_with_options(seed_index_dir):
    result = search(seed_index_dir, "--batch", "-", "--source", "NANFANGPLUS", input="韶关\n改革\n")
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objs) == 2
    for obj in objs:
        assert_contract(obj)
        assert ids(obj) == [S004]


def test_batch_reports_a_bad_line_and_goes_on(seed_index_dir):
    result = search(seed_index_dir, "--batch", "-", input='"韶关\n民政\n')
    assert result.returncode == 1
    bad, good = (json.loads(line) for line in result.stdout.splitlines())
    assert bad["total"] == 0 and bad["hits"] == [] and "quote" in bad["error"]
    assert ids(good) == [S001]


def test_batch_missing_file(seed_index_dir, tmp_path):
    assert_one_line_error(search(seed_index_dir, "--batch", tmp_path / "nope.txt"), "nope.txt")


def test_zero_hits_is_not_an_error(seed_index_dir):
    obj = one_json(search(seed_index_dir, "足球比赛", "--json"))
    assert obj == {"query": "足球比赛", "total": 0, "partial": False, "hits": []}


def test_source_filter(seed_index_dir):
    obj = one_json(search(seed_index_dir, "韶关", "--source", "澎湃新闻", "--json"))
    assert ids(obj) == [S002] and obj["total"] == 1


def test_date_filters_human_output(seed_index_dir):
    result = search(seed_index_dir, "韶关", "--since", "2022-03-01", "--until", "2022-12-31")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert S004 in out
    assert not any(doc_id in out for doc_id in ALL - {S004})
    assert "2 matching documents without a known date" in out
    assert "【韶关】" in out  # plain markers when piped
    assert "\x1b" not in out  # and no colour


def test_date_filters_json(seed_index_dir):
    obj = one_json(search(seed_index_dir, "韶关", "--since", "2022-03-01", "--until", "2022-12-31", "--json"))
    assert ids(obj) == [S004]


def test_pages(seed_index_dir):
    first = one_json(search(seed_index_dir, "韶关", "--limit", "2", "--json"))
    second = one_json(search(seed_index_dir, "韶关", "--limit", "2", "--page", "2", "--json"))
    assert first["total"] == second["total"] == 5
    assert len(ids(first)) == len(ids(second)) == 2
    assert not set(ids(first)) & set(ids(second))


def test_sort_by_date(seed_index_dir):
    obj = one_json(search(seed_index_dir, "韶关", "--sort", "date", "--json", "--all"))
    dates = [hit["date"] for hit in obj["hits"]]
    assert dates == ["2022-05-17", "2022-02-18", "2021-04-12", None, None]


def test_original_script(seed_index_dir):
    obj = one_json(search(seed_index_dir, "韶关 发展", "--source", "南方日报", "--original", "--json"))
    hit = obj["hits"][0]
    assert hit["id"] == S003
    assert "韶關" in hit["snippet"] or "發展" in hit["snippet"]
    assert {hit["snippet"][s:e] for s, e in hit["highlights"]} <= {"韶關", "發展"}


TITLE_003 = "韶关生态区位重要、生态基础好、生态资源丰富"
TITLE_003_ORIGINAL = "韶關生態區位重要、生態基礎好、生態資源豐富"


def test_titles_follow_original_like_snippets(seed_index_dir):
    simplified = one_json(search(seed_index_dir, "韶关 发展", "--source", "南方日报", "--json"))
    original = one_json(search(seed_index_dir, "韶关 发展", "--source", "南方日报", "--original", "--json"))
    assert simplified["hits"][0]["title"] == TITLE_003
    assert original["hits"][0]["title"] == TITLE_003_ORIGINAL
    shown = search(seed_index_dir, "韶关 发展", "--source", "南方日报", "--original")
    assert f"  1. {TITLE_003_ORIGINAL}" in shown.stdout.splitlines()


def test_show_gives_the_title_in_the_script_asked_for(seed_index_dir):
    assert run("show", S003, "--index", seed_index_dir).stdout.splitlines()[0] == TITLE_003
    shown = run("show", S003, "--original", "--index", seed_index_dir)
    assert shown.stdout.splitlines()[0] == TITLE_003_ORIGINAL
    document = json.loads(run("show", S003, "--json", "--index", seed_index_dir).stdout)
    assert (document["title"], document["original_title"]) == (TITLE_003, TITLE_003_ORIGINAL)


# -- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ('"数据中心', ["quote", "column 1"]),
        ("(韶关 改革", ["parenthesis", "column 1"]),
        ("韶关)", ["parenthesis", "column 3"]),
        ("titel:bar", ["unknown field", "titel", "column 1", "title:"]),
        ("date:2022-13", ["2022-13", "column 6"]),
    ],
)
def test_bad_query(seed_index_dir, query, words):
    assert_one_line_error(search(seed_index_dir, query), *words)


@pytest.mark.parametrize("args", [[], [""], ["   "]])
def test_empty_query_prints_usage(seed_index_dir, args):
    result = search(seed_index_dir, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: searchkit search" in result.stderr
    assert "empty query" in result.stderr


def test_bad_since(seed_index_dir):
    assert_one_line_error(search(seed_index_dir, "韶关", "--since", "2022-13"), "2022-13")


@pytest.mark.parametrize("args", [["--limit", "0"], ["--page", "x"], ["--sort", "title"]])
def test_bad_options(seed_index_dir, args):
    result = search(seed_index_dir, "韶关", *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_missing_index(tmp_path):
    missing = tmp_path / "no-index"
    result = run("search", "韶关", "--index", missing)
    assert_one_line_error(result, str(missing), f"build one with: searchkit index PATH --index {missing}")
    assert not missing.exists()  # an explicit --index is never built behind your back


# -- show, sources, stats, help ---------------------------------------------------------


def test_show(seed_index_dir):
    result = run("show", S002, "--index", seed_index_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "韶关:打开改革新局面 闯出转型新天地"
    assert f"id: {S002}" in lines
    assert "source: 澎湃新闻" in lines and "date: 2021-04-12" in lines
    assert "林长制" in result.stdout


def test_show_json(seed_index_dir):
    result = run("show", S003, "--json", "--index", seed_index_dir)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["id"] == S003 and document["source"] == "南方日报" and document["date"] is None
    assert "韶关" in document["text"] and "韶關" in document["original"]


def test_show_unknown_id(seed_index_dir):
    assert_one_line_error(run("show", "no-such-id", "--index", seed_index_dir), "no-such-id")


def test_sources(seed_index_dir):
    result = run("sources", "--index", seed_index_dir)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows == [["羊城晚报", "2"], ["南方Plus", "1"], ["南方日报", "1"], ["澎湃新闻", "1"]]
    result = run("sources", "--json", "--index", seed_index_dir)
    assert json.loads(result.stdout) == {"羊城晚报": 2, "澎湃新闻": 1, "南方日报": 1, "南方Plus": 1}


def test_stats(seed_index_dir):
    result = run("stats", "--index", seed_index_dir)
    assert result.returncode == 0, result.stderr
    assert "documents:  5 (2 without a date)" in result.stdout
    assert "2021-04-12" in result.stdout and "2022-05-17" in result.stdout
    stats = json.loads(run("stats", "--json", "--index", seed_index_dir).stdout)
    assert stats["documents"] == 5 and stats["undated"] == 2
    assert stats["earliest"] == "2021-04-12" and stats["latest"] == "2022-05-17"


@pytest.mark.parametrize("command", [[], ["index"], ["search"], ["show"], ["sources"], ["stats"], ["shell"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: searchkit")
    assert result.stderr == ""


def test_no_command_prints_help():
    result = run(input="")
    assert result.returncode == 2
    assert "usage: searchkit" in result.stdout


# -- the default index, built on first use ----------------------------------------------


def test_default_index_built_on_first_use(tmp_path, seeds_dir):
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    env = {k: v for k, v in os.environ.items() if k != "SEARCHKIT_INDEX"}
    result = run("search", "数据中心", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "index").is_dir()
    assert "building" in result.stderr
    assert S000 in result.stdout and "【数据中心】" in result.stdout
    again = run("sources", cwd=tmp_path, env=env)
    assert again.returncode == 0 and again.stderr == ""
    assert "羊城晚报" in again.stdout


# -- terminal safety ---------------------------------------------------------------------

UNSAFE = ("\x1b", "\x07", "\u202e", "\x9b")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory):
    """An index of one document whose title and text carry escape sequences and a bidi override."""
    corpus = tmp_path_factory.mktemp("hostile-corpus")
    (corpus / "evil.md").write_text(textwrap.dedent("""\
        ---
        title: "坏标题\x1b]0;pwned\x07 \x1b[2J红\x1b[31m色\u202e反向"
        date: 2022-01-01
        ---
        恶意文本\x1b]0;pwned\x07数据中心\x1b[2J清屏\x1b[31m红色\u202e反向文字。更多内容在这里。
        """), encoding="utf-8")
    path = tmp_path_factory.mktemp("hostile-index")
    SearchIndex.build(path, [corpus])
    with SearchIndex.open(path) as index:
        stored = index.document("evil.md")
    # The test means something only if the controls made it into the index.
    assert any(c in stored.title + stored.text for c in UNSAFE)
    return path, stored


def test_human_output_has_no_control_characters(hostile_index):
    path, _ = hostile_index
    for args in (["search", "数据中心"], ["show", "evil.md"], ["show", "evil.md", "--original"]):
        result = run(*args, "--index", path)
        assert result.returncode == 0, result.stderr
        assert "数据中心" in result.stdout
        for char in UNSAFE:
            assert char not in result.stdout, (args, char)


def test_json_output_escapes_control_characters(hostile_index):
    path, stored = hostile_index
    result = run("search", "数据中心", "--json", "--index", path)
    for char in UNSAFE:
        assert char not in result.stdout
    hit = one_json(result)["hits"][0]
    assert hit["title"] == stored.title
    assert hit["snippet"] == stored.text.strip()
    result = run("show", "evil.md", "--json", "--index", path)
    assert result.returncode == 0
    for char in UNSAFE:
        assert char not in result.stdout
    document = json.loads(result.stdout)
    assert (document["title"], document["text"]) == (stored.title, stored.text)


# --- hostile input: one clear line, never a traceback, never raw escapes ----------------


def test_batch_of_a_binary_file_is_one_error(seed_index_dir, tmp_path):
    binary = tmp_path / "queries.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    result = search(seed_index_dir, "--batch", binary)
    assert_one_line_error(result, "queries.bin line 1")
    assert result.stdout == ""


def test_batch_answers_the_lines_before_one_that_is_not_text(seed_index_dir, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_bytes("韶关\n民政\n".encode() + b"\xff\xfe bad\n" + "数据中心\n".encode())
    result = search(seed_index_dir, "--batch", queries)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "searchkit: error: " + str(queries) + " line 3 is not UTF-8 text (byte 1)"]
    answered = [json.loads(line)["query"] for line in result.stdout.splitlines()]
    assert answered == ["韶关", "民政"]


def test_index_option_naming_a_file(seed_index_dir, tmp_path):
    not_a_dir = tmp_path / "notes.txt"
    not_a_dir.write_text("笔记", encoding="utf-8")
    assert_one_line_error(search(not_a_dir, "韶关"), "not a directory")
    assert_one_line_error(run("index", seed_index_dir, "--index", not_a_dir), "not a directory")
    assert not_a_dir.read_text(encoding="utf-8") == "笔记"


def test_index_option_naming_a_directory_without_an_index(tmp_path):
    assert_one_line_error(search("/proc/self", "韶关"), "no index at /proc/self")


def test_error_messages_never_carry_escape_sequences(seed_index_dir, tmp_path):
    result = search(seed_index_dir, "date:\x1b[31m2021\x07")
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "好.txt").write_text("韶关的新闻。", encoding="utf-8")
    (corpus / "bad\x1b[2J.jsonl").write_text('{"text": 1\n', encoding="utf-8")
    indexed = run("index", corpus, "--index", tmp_path / "index")
    assert indexed.returncode == 0
    warnings = indexed.stderr.strip().splitlines()
    assert len(warnings) == 1 and "bad" in warnings[0] and ".jsonl" in warnings[0]
    assert "\x1b" not in indexed.stderr


def test_version_is_the_package_version():
    import searchkit
    from importlib.metadata import version

    result = run("--version")
    assert result.stdout.strip() == f"searchkit {searchkit.__version__}"
    assert version("searchkit") == searchkit.__version__


def test_library_messages_speak_of_the_library_and_the_command_adds_its_flags(tmp_path, seeds_dir):
    from searchkit import IndexMismatchError

    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [seeds_dir])
    userdict = tmp_path / "words.dict"
    userdict.write_text("数据中心集群 10 n\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError) as error:
        SearchIndex.build(index_dir, [seeds_dir], userdict=userdict)
    assert "--" not in str(error.value) and "searchkit index" not in str(error.value)
    result = run("index", seeds_dir, "--index", index_dir, "--userdict", userdict)
    assert_one_line_error(result, "another user dictionary",
                          f"searchkit index --rebuild --index {index_dir}")


def test_verify_reads_every_file(tmp_path, seed_index_dir):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir, copy_function=shutil.copy2)
    result = run("verify", "--index", index_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"index at {index_dir} is intact: ")
    # Bit rot that keeps a large file's size and time is found only by reading it all.
    stored = next(index_dir.glob("*._stored.col"))
    stat = stored.stat()
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    os.utime(stored, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert_one_line_error(run("verify", "--index", index_dir), stored.name, "checksum mismatch",
                          f"searchkit index --rebuild --index {index_dir}")


# -- --source: the library's resolver --------------------------------------------------


def test_source_takes_a_unique_prefix(seed_index_dir):
    result = search(seed_index_dir, "改革", "--source", "羊城", "--json")
    assert result.returncode == 0, result.stderr
    obj = one_json(result)
    assert obj["total"] > 0 and {hit["source"] for hit in obj["hits"]} == {"羊城晚报"}
    assert obj["total"] == one_json(search(seed_index_dir, "改革", "--source", "羊城晚报", "--json"))["total"]


@pytest.mark.parametrize("args", [["韶关", "--source", "没有这个"], ["韶关 source:没有这个"],
                                  ["--batch", "-", "--source", "没有这个"]])
def test_unknown_source_is_one_line_with_suggestions(seed_index_dir, args):
    result = search(seed_index_dir, *args, input="韶关\n改革\n")
    assert_one_line_error(result, "no source '没有这个' in this index",
                          "羊城晚报", "澎湃新闻", "南方日报", "南方Plus")


def test_ambiguous_source_names_the_candidates(seed_index_dir):
    assert_one_line_error(search(seed_index_dir, "韶关", "--source", "南方"),
                          "no source '南方'", "南方日报", "南方Plus")


def test_sidecar_aliases_work_with_source_after_indexing(tmp_path, corpus_copy):
    with (corpus_copy / "searchkit-meta.toml").open("a", encoding="utf-8") as sidecar:
        sidecar.write('\n[aliases]\n"南方日报" = ["csrb"]\n')
    index_dir = tmp_path / "index"
    assert run("index", corpus_copy, "--index", index_dir).returncode == 0
    by_flag = one_json(search(index_dir, "韶关", "--source", "csrb", "--json"))
    in_query = one_json(search(index_dir, "韶关 source:csrb", "--json"))
    assert [hit["id"] for hit in by_flag["hits"]] == [hit["id"] for hit in in_query["hits"]] == [S003]


def test_an_index_of_nothing_but_skipped_files_answers_every_command(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    index_dir = tmp_path / "index"
    assert run("index", corpus, "--index", index_dir).returncode == 0
    result = search(index_dir, "韶关", "--json")
    assert result.returncode == 0 and one_json(result)["total"] == 0
    assert search(index_dir, "韶关 OR 改革", "--sort", "date").returncode == 0
    for command in ("stats", "sources", "verify"):
        assert run(command, "--index", index_dir).returncode == 0, command


# === Issue 12, rows 3-5: an index knows its roots ================================================
# corp/zh-CN and corp/zh-TW hold files of the same names; the index is driven through the real
# command, as a user would.


def make_corp(tmp_path):
    """corp/zh-CN and corp/zh-TW: same.txt in both (different text), one file of its own each."""
    corp = tmp_path / "corp"
    pages = {
        "zh-CN/same.txt": "简体页面\n\n数据中心落户韶关。这一页独有的词是青蒿素。",
        "zh-CN/only-cn.txt": "简体独页\n\n南岭国家公园的保护工作。",
        "zh-TW/same.txt": "繁體頁面\n\n資料中心落戶韶關。這一頁獨有的詞是鳳梨酥。",
        "zh-TW/only-tw.txt": "繁體獨頁\n\n丹霞山的觀光步道。",
        "zh-TW/sub/deep.txt": "深層頁面\n\n梅關古道的石板路。",
    }
    for name, text in pages.items():
        (corp / name).parent.mkdir(parents=True, exist_ok=True)
        (corp / name).write_text(text, encoding="utf-8")
    return corp


def index_ids(index_dir) -> set[str]:
    with SearchIndex.open(index_dir) as index:
        return {hit.id for hit in index.search("頁 OR 页 OR 公园 OR 步道 OR 古道", limit=100).hits}


def summary(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.split(";")[0]


def test_index_alone_rescans_the_recorded_roots_not_the_seeds(tmp_path):
    corp, index_dir = make_corp(tmp_path), tmp_path / "ix"
    assert summary(run("index", corp, "--index", index_dir)) == "5 added, 0 updated, 0 removed, 0 unchanged, 0 skipped"
    (corp / "zh-TW" / "new.txt").write_text("新頁面\n\n乳源瑤族的盤王節。", encoding="utf-8")
    (corp / "zh-CN" / "only-cn.txt").unlink()
    rescanned = run("index", "--index", index_dir, cwd=tmp_path)  # from elsewhere too: paths are recorded
    assert summary(rescanned) == "1 added, 0 updated, 1 removed, 4 unchanged, 0 skipped"
    assert index_ids(index_dir) == {"zh-CN/same.txt", "zh-TW/same.txt", "zh-TW/only-tw.txt",
                                    "zh-TW/sub/deep.txt", "zh-TW/new.txt"}
    assert one_json(search(index_dir, "韶关", "--json"))["total"] == 2  # no seed article came in


def test_naming_part_of_a_root_updates_that_part_only(tmp_path):
    corp, index_dir = make_corp(tmp_path), tmp_path / "ix"
    run("index", corp, "--index", index_dir)
    (corp / "zh-TW" / "only-tw.txt").unlink()  # outside the part named: stays until its part is
    (corp / "zh-CN" / "same.txt").write_text("简体页面\n\n改过的一页。", encoding="utf-8")
    assert summary(run("index", corp / "zh-CN", "--index", index_dir)) == \
        "0 added, 1 updated, 0 removed, 1 unchanged, 0 skipped"
    assert index_ids(index_dir) == {"zh-CN/same.txt", "zh-CN/only-cn.txt", "zh-TW/same.txt",
                                    "zh-TW/only-tw.txt", "zh-TW/sub/deep.txt"}  # ids stay relative to corp
    assert summary(run("index", corp / "zh-TW", "--index", index_dir)) == \
        "0 added, 0 updated, 1 removed, 2 unchanged, 0 skipped"
    (corp / "zh-TW" / "sub" / "deep.txt").unlink()
    assert summary(run("index", corp / "zh-TW" / "sub", "--index", index_dir)).endswith(
        "0 updated, 1 removed, 0 unchanged, 0 skipped")


def test_two_roots_with_the_same_file_names_are_two_documents_each(tmp_path):
    corp, index_dir = make_corp(tmp_path), tmp_path / "ix"
    built = run("index", corp / "zh-CN", corp / "zh-TW", "--index", index_dir)
    assert summary(built) == "5 added, 0 updated, 0 removed, 0 unchanged, 0 skipped"
    hits = one_json(search(index_dir, "韶关", "--json"))["hits"]
    assert sorted(hit["id"] for hit in hits) == ["zh-CN/same.txt", "zh-TW/same.txt"]
    assert {hit["id"]: hit["path"] for hit in hits} == {
        "zh-CN/same.txt": str((corp / "zh-CN" / "same.txt").resolve()),
        "zh-TW/same.txt": str((corp / "zh-TW" / "same.txt").resolve())}
    for doc_id, own_word in (("zh-CN/same.txt", "青蒿素"), ("zh-TW/same.txt", "鳳梨酥")):
        shown = run("show", doc_id, "--index", index_dir, "--json")
        assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == doc_id
        assert own_word in run("show", doc_id, "--index", index_dir, "--original").stdout
    with SearchIndex.open(index_dir) as index:
        assert "鳳梨酥" in index.document("zh-TW/same.txt").original
        assert "青蒿素" in index.document("zh-CN/same.txt").original
    # Stable across runs, and naming one root keeps the other's documents.
    assert summary(run("index", "--index", index_dir)) == "0 added, 0 updated, 0 removed, 5 unchanged, 0 skipped"
    assert summary(run("index", corp / "zh-CN", "--index", index_dir)) == \
        "0 added, 0 updated, 0 removed, 2 unchanged, 0 skipped"
    assert len(index_ids(index_dir)) == 5


def test_naming_one_root_never_removes_another_roots_documents(tmp_path):
    corp, index_dir = make_corp(tmp_path), tmp_path / "ix"
    run("index", corp / "zh-CN", "--index", index_dir)
    assert index_ids(index_dir) == {"same.txt", "only-cn.txt"}  # one root: ids as before roots
    # A second root: ids take labels, the first root's documents are re-indexed under them.
    assert summary(run("index", corp / "zh-TW", "--index", index_dir)) == \
        "3 added, 2 updated, 0 removed, 0 unchanged, 0 skipped"
    assert index_ids(index_dir) == {"zh-CN/same.txt", "zh-CN/only-cn.txt", "zh-TW/same.txt",
                                    "zh-TW/only-tw.txt", "zh-TW/sub/deep.txt"}


def test_remove_forgets_a_root_and_its_documents(tmp_path):
    corp, index_dir = make_corp(tmp_path), tmp_path / "ix"
    run("index", corp / "zh-CN", corp / "zh-TW", "--index", index_dir)
    removed = run("index", "--remove", corp / "zh-TW", "--index", index_dir)
    assert summary(removed) == "0 added, 2 updated, 3 removed, 0 unchanged, 0 skipped"
    assert index_ids(index_dir) == {"same.txt", "only-cn.txt"}  # one root again: no labels
    shown = run("show", "same.txt", "--index", index_dir, "--original")
    assert "青蒿素" in shown.stdout
    assert summary(run("index", "--index", index_dir)) == "0 added, 0 updated, 0 removed, 2 unchanged, 0 skipped"
    # A label names a root as well as its path; an unknown root is one error.
    run("index", corp / "zh-TW", "--index", index_dir)
    assert summary(run("index", "--remove", "zh-CN", "--index", index_dir)).endswith("2 removed, 0 unchanged, 0 skipped")
    assert index_ids(index_dir) == {"same.txt", "only-tw.txt", "sub/deep.txt"}
    assert_one_line_error(run("index", "--remove", corp / "zh-CN", "--index", index_dir),
                          "is not a root of the index", str((corp / "zh-TW").resolve()))
    assert_one_line_error(run("index", "--remove", corp / "zh-TW" / "sub", "--index", index_dir),
                          "lies inside its root")


def test_a_vanished_root_loses_its_documents_with_a_warning_when_rescanned(tmp_path):
    corp, index_dir = make_corp(tmp_path), tmp_path / "ix"
    run("index", corp / "zh-CN", corp / "zh-TW", "--index", index_dir)
    shutil.rmtree(corp / "zh-TW")
    assert summary(run("index", corp / "zh-CN", "--index", index_dir)).endswith("0 removed, 2 unchanged, 0 skipped")
    rescanned = run("index", "--index", index_dir)
    assert summary(rescanned) == "0 added, 0 updated, 3 removed, 2 unchanged, 0 skipped"
    assert rescanned.stderr.strip().splitlines() == [
        f"searchkit: {(corp / 'zh-TW').resolve()}: root no longer exists; its documents are removed "
        "(the root stays recorded until it is removed)"]
    assert summary(run("index", "--remove", "zh-TW", "--index", index_dir)).startswith("0 added, 2 updated")


def test_index_without_paths_needs_an_index_with_roots(tmp_path):
    missing = run("index", "--index", tmp_path / "nowhere")
    assert_one_line_error(missing, f"no index at {tmp_path / 'nowhere'} yet: name the files or directories",
                          f"build one with: searchkit index PATH --index {tmp_path / 'nowhere'}")
    assert not (tmp_path / "nowhere").exists()
    index_dir = tmp_path / "ix"
    with SearchIndex.open(index_dir, build_from=make_corp(tmp_path) / "zh-CN"):
        pass
    assert summary(run("index", "--remove", "zh-CN", "--index", index_dir)).endswith("2 removed, 0 unchanged, 0 skipped")
    assert_one_line_error(run("index", "--index", index_dir), "records no roots to re-scan")


def test_the_seeds_are_the_default_only_for_a_new_default_index(tmp_path, seeds_dir):
    env = {**os.environ, "SEARCHKIT_INDEX": str(tmp_path / "default")}
    first = run("index", cwd=tmp_path, env=env)
    assert summary(first) == "5 added, 0 updated, 0 removed, 0 unchanged, 0 skipped"
    corp = make_corp(tmp_path)
    run("index", corp / "zh-CN", cwd=tmp_path, env=env)
    assert summary(run("index", cwd=tmp_path, env=env)) == "0 added, 0 updated, 0 removed, 7 unchanged, 0 skipped"


# -- what people type: unquoted words, -word, options anywhere, -- (issue 16) ---------------


def test_several_words_without_quotes_are_one_query(seed_index_dir):
    unquoted = one_json(search(seed_index_dir, "韶关", "改革", "--json"))
    quoted = one_json(search(seed_index_dir, "韶关 改革", "--json"))
    assert unquoted["query"] == "韶关 改革"
    assert ids(unquoted) == ids(quoted) and unquoted["total"] == quoted["total"] == 5


@pytest.mark.parametrize(
    ("args", "query", "expected"),
    [
        (["-民政"], "-民政", ALL - {S001}),
        (["-防火墙"], "-防火墙", ALL),  # a word no document has: nothing is left out
        (["韶关", "-民政"], "韶关 -民政", ALL - {S001}),
        (["-民政", "韶关"], "-民政 韶关", ALL - {S001}),
        (["韶关", "-2021"], "韶关 -2021", None),  # a number is a word, not an option
    ],
)
def test_a_leading_minus_word_is_an_exclusion_not_an_option(seed_index_dir, args, query, expected):
    obj = one_json(search(seed_index_dir, *args, "--json"))
    assert obj["query"] == query
    if expected is not None:
        assert set(ids(obj)) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "2", "韶关", "--json", "-民政"],
        ["韶关", "--limit=2", "-民政", "--json"],
        ["韶关", "--lim", "2", "--json", "-民政"],  # a unique start of an option's name
        ["韶关", "-民政", "--json", "--limit", "2"],
    ],
)
def test_options_work_anywhere_on_the_line(seed_index_dir, args):
    obj = one_json(search(seed_index_dir, *args))
    assert obj["query"] == "韶关 -民政"
    assert obj["total"] == 4 and len(obj["hits"]) == 2


def test_everything_after_a_lone_double_dash_is_query_text(seed_index_dir):
    obj = one_json(run("search", "--index", seed_index_dir, "--json", "--", "-h", "韶关"))
    assert obj["query"] == "-h 韶关" and obj["total"] == 5
    obj = one_json(run("search", "--index", seed_index_dir, "韶关", "--json", "--", "--limit", "1"))
    assert obj["query"] == "韶关 --limit 1"  # searched, not taken as an option
    assert len(obj["hits"]) <= 10


def test_an_argument_with_a_space_is_query_text(seed_index_dir):
    obj = one_json(search(seed_index_dir, "-h 韶关", "--json"))
    assert obj["query"] == "-h 韶关"


def test_an_option_takes_the_next_argument_as_its_value_whatever_it_looks_like(seed_index_dir):
    result = search(seed_index_dir, "韶关", "--source", "-民政")
    assert_one_line_error(result, "no source '-民政'")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["韶关", "--limt", "5"], ["unknown option --limt", "searchkit search -- --limt"]),
        (["韶关", "--s", "x"], ["--s is ambiguous", "--since", "--sort", "--source"]),
    ],
)
def test_an_unknown_or_ambiguous_long_option_is_a_usage_error(seed_index_dir, args, words):
    result = search(seed_index_dir, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: searchkit search")
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("searchkit search: error: ")
    for word in words:
        assert word in error


def test_help_says_how_options_and_query_words_are_told_apart():
    result = run("search", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Query words need no quotes" in text
    assert "An argument is an option only if it is -h, or starts with -- and a letter" in text
    assert "searchkit search 韶关 -民政` excludes 民政" in text
    assert "Everything after a lone -- is query text" in text
    assert "--color WHEN" in text and "NO_COLOR" in text


def test_help_still_comes_anywhere_on_the_line():
    result = run("search", "韶关", "-h")
    assert result.returncode == 0 and result.stdout.startswith("usage: searchkit search")


# -- colour: --color and NO_COLOR, on a pipe and on a terminal ----------------------------

HIGHLIGHT = "\x1b[1;31m"


@pytest.mark.parametrize(
    ("options", "no_color", "colored"),
    [
        ([], None, False),  # a pipe is plain under auto
        (["--color", "auto"], None, False),
        (["--color", "never"], None, False),
        (["--color", "always"], None, True),
        (["--color", "always"], "1", True),  # the command line wins over NO_COLOR
    ],
)
def test_color_on_a_pipe(seed_index_dir, options, no_color, colored):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    result = run("search", "韶关", "--index", seed_index_dir, *options, env=env)
    assert result.returncode == 0, result.stderr
    assert (HIGHLIGHT in result.stdout) is colored
    assert ("【韶关】" in result.stdout) is not colored
    if not colored:
        assert "\x1b" not in result.stdout


def test_show_takes_color_too(seed_index_dir):
    plain = run("show", S002, "--index", seed_index_dir, "--color", "never")
    bold = run("show", S002, "--index", seed_index_dir, "--color", "always")
    assert "\x1b" not in plain.stdout
    assert "\x1b[1m韶关" in bold.stdout


def test_bad_color_choice_is_a_usage_error(seed_index_dir):
    result = search(seed_index_dir, "韶关", "--color", "sometimes")
    assert result.returncode == 2 and "invalid choice: 'sometimes'" in result.stderr


def in_a_terminal(args, *, columns: int, env_changes: dict) -> str:
    """searchkit ARGS run in a pseudo-terminal of the given width; everything it printed."""
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update({"TERM": "xterm", "COLUMNS": str(columns), "LINES": "40", **env_changes})
    child = pexpect.spawn(sys.executable, ["-m", "searchkit", *map(str, args)], env=env,
                          dimensions=(40, columns), encoding="utf-8", timeout=120)
    try:
        output = child.read()  # until the command exits
    finally:
        child.close()
    assert child.exitstatus == 0, output
    assert "Traceback" not in output
    return output


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize(
    ("options", "env_changes", "colored"),
    [
        ([], {}, True),
        ([], {"NO_COLOR": "1"}, False),
        ([], {"NO_COLOR": ""}, True),  # set but empty: no-color.org says it does not count
        ([], {"TERM": "dumb"}, False),
        (["--color", "never"], {}, False),
        (["--color", "always"], {"NO_COLOR": "1"}, True),
    ],
)
def test_color_on_a_terminal(seed_index_dir, columns, options, env_changes, colored):
    output = in_a_terminal(["search", "韶关", "--index", seed_index_dir, *options],
                           columns=columns, env_changes=env_changes)
    assert (HIGHLIGHT in output) is colored
    assert ("【韶关】" in output) is not colored
    if not colored:
        assert "\x1b" not in output


# -- long queries, plurals, progress ----------------------------------------------------------


def test_a_long_query_is_echoed_on_one_line_with_its_length(seed_index_dir):
    query = "韶关 " + "x" * 300  # 303 characters: no document has the long word
    result = search(seed_index_dir, query)
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    assert header.startswith("5 results for 韶关 xxx") and "… [303 characters]" in header
    assert len(header) < 80
    assert one_json(search(seed_index_dir, query, "--json"))["query"] == query  # JSON: whole


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["澎湃新闻", "--limit", "1"], "1 result for 澎湃新闻"),
        (["韶关", "--since", "2022-03-01"], "2 matching documents without a known date were left out"),
    ],
)
def test_plural_forms(seed_index_dir, args, line):
    result = search(seed_index_dir, *args)
    assert result.returncode == 0, result.stderr
    assert line in result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_the_progress_bar_shows_rate_and_time_left(tmp_path, corpus_copy, columns):
    output = in_a_terminal(["index", corpus_copy, "--index", tmp_path / "index", "--workers", "1"],
                           columns=columns, env_changes={})
    frames = [frame.replace("\x1b[K", "") for frame in output.split("\r")
              if frame.startswith("indexing ")]
    assert len(frames) == 5  # one report a file
    assert all(frame.startswith("indexing [") for frame in frames)
    assert all(len(frame) < columns for frame in frames)  # never wraps to a second line
    timed = [frame for frame in frames if re.search(r" [\d.]+ [kM]B/s  \d+:\d\d left$", frame)]
    assert timed and timed == frames[1:]  # known from the second report on
    assert frames[-1].startswith("indexing [" + "#" * 30 + "]")
    assert "5 added" in output


class FakeTerminal:
    """A stream that is a terminal of a given width, for the progress bar."""

    def __init__(self, columns: int) -> None:
        self.columns, self.written = columns, []

    def write(self, text: str) -> None:
        self.written.append(text)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        raise ValueError("no file")  # the bar then assumes 80 columns


@pytest.mark.parametrize("columns", [80, 120])
def test_progress_bar_rate_and_time_left_on_a_big_job(columns, monkeypatch):
    from searchkit import cli

    clock = iter([100.0, 101.0, 161.0, 3700.0])
    stream = FakeTerminal(columns)
    bar = cli.ProgressBar(stream, clock=lambda: next(clock))
    monkeypatch.setattr(bar, "columns", lambda: columns)
    total = 2_500_000_000
    for done in (1_000_000, 3_000_000, 123_000_000, total):
        bar(done, total)
    lines = [text.strip("\r").replace("\x1b[K", "") for text in stream.written]
    assert lines[0] == "indexing [" + "." * 30 + "] 1.0/2500.0 MB"  # no rate before a second report
    assert lines[1].endswith("] 3.0/2500.0 MB  2.0 MB/s  20:49 left")  # 2,497 MB at 2 MB/s
    assert lines[2].endswith("] 123.0/2500.0 MB  2.0 MB/s  19:49 left")
    assert lines[3] == "indexing [" + "#" * 30 + "] 2500.0/2500.0 MB  694 kB/s  0:00 left"
    slow = cli.ProgressBar(stream, clock=iter([0.0, 1.0]).__next__)
    monkeypatch.setattr(slow, "columns", lambda: columns)
    slow(1_000_000, 10_000_000_000)
    slow(2_000_000, 10_000_000_000)
    lines.append(stream.written[-1].strip("\r").replace("\x1b[K", ""))
    assert lines[-1].endswith("] 2.0/10000.0 MB  1.0 MB/s  2:46:38 left")
    assert all(len(line) < columns for line in lines)


def readme_command_line_examples() -> list[str]:
    """The `searchkit search ...` examples of the README's paragraph on what the command takes."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    paragraph = readme.split("**What the command line takes.**", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"`(searchkit search [^`]+)`", paragraph)


def test_readme_has_command_line_examples():
    assert len(readme_command_line_examples()) >= 6


@pytest.mark.parametrize("command", readme_command_line_examples())
def test_readme_command_line_example(seed_index_dir, command):
    import shlex

    words = shlex.split(command)[2:]
    result = run("search", "--index", seed_index_dir, *words)  # before any lone --
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    first = result.stdout.splitlines()[0]
    assert first.startswith(("usage: searchkit search", "{")) or " for " in first


# -- issue 16: compact hits ------------------------------------------------------------------

ANSI_CODES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def screen_lines(output: str) -> list[str]:
    """What a command printed to a terminal, line by line, without colour codes."""
    return ANSI_CODES.sub("", output).replace("\r\n", "\n").rstrip("\n").split("\n")


def hits_of(lines: list[str]) -> list[list[str]]:
    """The lines of each hit ("  1. title" and the lines under it)."""
    hits: list[list[str]] = []
    for line in lines:
        if re.match(r"\s*\d+\. ", line):
            hits.append([line])
        elif hits:
            hits[-1].append(line)
    return hits


def marked(line: str, word: str) -> bool:
    """Whether word is highlighted in line, in colour or with 【】."""
    return f"【{word}】" in line or f"{HIGHLIGHT}{word}" in line


# -- documents keep their shape: show at the terminal's width ---------------------------------

SHAPED_PARAGRAPH = (
    "在 Debian 系統裡，network interface 的設定寫在 /etc/network/interfaces 檔案中：每個介面一段，"
    "auto 一行表示開機時啟用，iface 一行寫出介面名稱、位址族 inet 與 static 或 dhcp 方法，之後的縮排行"
    "是 address、gateway 等參數。修改之後執行 systemctl restart networking，新的設定就會生效。")
SHAPED_BLOCK = ["auto enp0s31f6", "iface enp0s31f6 inet static", "  address 192.168.0.3/24",
                "  gateway 192.168.0.1"]
SHAPED_LAST = "若使用 DHCP，只要把 static 換成 dhcp，並刪去 address 與 gateway 兩行即可。"
SHAPED_PAGE = f"""<!DOCTYPE html><html><head><title>網路介面設定</title></head><body>
<h1>網路介面設定</h1>
<p>{SHAPED_PARAGRAPH}</p>
<pre class="programlisting">
{chr(10).join(SHAPED_BLOCK)}
</pre>
<p>{SHAPED_LAST}</p>
</body></html>"""
LATIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]*")
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


@pytest.fixture(scope="module")
def shaped_index_dir(tmp_path_factory):
    """An index of one HTML page with a long paragraph and a preformatted block."""
    corpus = tmp_path_factory.mktemp("shaped")
    (corpus / "page.html").write_text(SHAPED_PAGE, encoding="utf-8")
    (corpus / "gap.txt").write_text("網路設定\n\n介面名稱 static\n\ndhcp", encoding="utf-8")
    (corpus / "space.txt").write_text("網路設定 介面名稱 static dhcp", encoding="utf-8")
    index = tmp_path_factory.mktemp("shaped-index")
    SearchIndex.build(index, [corpus])
    return index


def columns_of(line: str) -> int:
    from searchkit.render import display_width
    return display_width(line)


def assert_shaped(lines: list[str], width: int | None) -> None:
    """The page as a reader should see it: its paragraphs, its block's lines, whole words."""
    assert lines[0] == "網路介面設定"
    body = lines[lines.index("") + 1:]
    at = body.index(SHAPED_BLOCK[0])
    assert body[at:at + len(SHAPED_BLOCK)] == SHAPED_BLOCK  # the block's lines, indented
    assert body[at - 1] == body[at + len(SHAPED_BLOCK)] == ""  # a paragraph of its own
    paragraph = body[body.index("網路介面設定") + 2:at - 1]
    assert "".join(paragraph).replace(" ", "") == SHAPED_PARAGRAPH.replace(" ", "")
    if width is None:
        assert paragraph == [SHAPED_PARAGRAPH]
    else:
        assert len(paragraph) >= 3 if width == 80 else len(paragraph) >= 2
        assert all(columns_of(line) <= width for line in lines if not line.startswith("path: "))
        assert not any(line[:1] in "，。：、" for line in paragraph)
    words = {word for line in body for word in LATIN_WORD.findall(line)}
    assert words == set(LATIN_WORD.findall(SHAPED_PARAGRAPH + "\n".join(SHAPED_BLOCK) + SHAPED_LAST))


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("env_changes", [{}, {"NO_COLOR": "1"}])
def test_ten_hits_and_the_header_fit_a_40_line_terminal(crowded_index_dir, columns, env_changes):
    from searchkit.render import display_width

    output = in_a_terminal(["search", "防火墙", "--all", "--index", crowded_index_dir],
                           columns=columns, env_changes=env_changes)
    assert all(marked(line, "防火墙") for line in hits_of(output.split("\r\n"))[0][2:3])
    lines = screen_lines(output)
    assert lines[0].startswith("14 results for 防火墙 (showing 1–10")
    hits = hits_of(lines)
    assert len(hits) == 10
    assert all(len(hit) == 3 for hit in hits)  # title; source · date · id; one line of snippet
    assert all(display_width(line) < columns for line in lines), "\n".join(lines)
    # The command line and the next prompt, and a line under the header for the overview.
    assert len(lines) + 3 <= 40
    assert all("防火墙" in hit[2] for hit in hits)
    assert any(hit[0].endswith("…") for hit in hits) is (columns == 80)  # a title too long is cut


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("env_changes", [{}, {"NO_COLOR": "1"}])
def test_seed_hits_take_two_snippet_lines_when_the_page_has_room(seed_index_dir, columns,
                                                                 env_changes):
    from searchkit.render import display_width

    output = in_a_terminal(["search", "数据中心", "--all", "--index", seed_index_dir],
                           columns=columns, env_changes=env_changes)
    assert all(marked("".join(hit[2:]), "数据中心") for hit in hits_of(output.split("\r\n")))
    lines = screen_lines(output)
    hits = hits_of(lines)
    assert len(hits) == 3 and all(len(hit) == 4 for hit in hits)
    assert all(display_width(line) < columns for line in lines)
    assert all(line.startswith("     ") for hit in hits for line in hit[1:])


@pytest.mark.parametrize("columns", ["80", "120"])
def test_output_to_a_pipe_is_fitted_to_columns(crowded_index_dir, columns):
    from searchkit.render import display_width

    env = dict(os.environ, COLUMNS=columns)
    result = run("search", "防火墙", "--all", "--index", crowded_index_dir, "--limit", "14", env=env)
    lines = result.stdout.splitlines()
    assert all(display_width(line) < int(columns) for line in lines)
    assert all(len(hit) <= 4 for hit in hits_of(lines))


def test_json_snippet_is_the_best_fragment_of_at_most_160_characters(crowded_index_dir):
    obj = one_json(search(crowded_index_dir, "防火墙", "--all", "--limit", "14", "--json"))
    assert len(obj["hits"]) == 14  # three of them long documents, with matches all over
    for hit in obj["hits"]:
        assert len(hit["snippet"].strip("…")) <= 160
        assert [hit["snippet"][s:e] for s, e in hit["highlights"]]
        assert {hit["snippet"][s:e] for s, e in hit["highlights"]} == {"防火墙"}


def test_snippet_option_sets_the_length_for_json_and_text(crowded_index_dir):
    short = one_json(search(crowded_index_dir, "防火墙", "--snippet", "30", "--json"))
    assert all(len(hit["snippet"].strip("…")) <= 30 for hit in short["hits"])
    assert all(hit["highlights"] for hit in short["hits"])
    long = one_json(search(crowded_index_dir, "防火墙", "--snippet", "300", "--json", "--limit", "1"))
    snippet = long["hits"][0]["snippet"]
    assert 160 < len(snippet.strip("…")) <= 300
    env = dict(os.environ, COLUMNS="80")
    text = run("search", "防火墙", "--index", crowded_index_dir, "--snippet", "300", "--limit", "1",
               env=env).stdout
    (hit,) = hits_of(text.splitlines())
    shown = "".join(line[5:] for line in hit[2:]).replace("【", "").replace("】", "")
    assert shown.replace(" ", "") == snippet.replace(" ", "")  # all of it, wrapped
    assert len(hit) > 4


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_snippet_option_takes_a_positive_number(seed_index_dir, value):
    result = search(seed_index_dir, "韶关", f"--snippet={value}")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("searchkit search: error: argument --snippet")
# -- issue 16 part 4: the overview of the results ------------------------------------------

SEED_OVERVIEW = {"sources": {"羊城晚报": 2, "南方Plus": 1, "南方日报": 1, "澎湃新闻": 1},
                 "months": {"2021-04": 1, "2022-02": 1, "2022-05": 1}, "undated": 2}


def search_at(index, columns: int, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS=str(columns))
    result = run("search", *args, "--index", index, env=env)
    assert result.returncode == 0, result.stderr
    return result


def test_json_counts_every_hit_by_source_and_month(seed_index_dir):
    obj = one_json(search(seed_index_dir, "韶关", "--json", "--limit", "1"))
    assert len(obj["hits"]) == 1 and obj["facets"] == SEED_OVERVIEW  # the whole set, not the page
    assert list(obj["facets"]["sources"])[0] == "羊城晚报"  # most first
    filtered = one_json(search(seed_index_dir, "韶关", "--json", "--since", "2022"))
    assert filtered["facets"] == {"sources": {"羊城晚报": 1, "南方Plus": 1},
                                  "months": {"2022-02": 1, "2022-05": 1}, "undated": 0}


@pytest.mark.parametrize("columns", [80, 120])
def test_the_overview_is_one_line_under_the_header(seed_index_dir, columns):
    lines = search_at(seed_index_dir, columns, "韶关", "--limit", "2").stdout.splitlines()
    assert lines[0].startswith("5 results for 韶关 (showing 1–2")
    overview = lines[1]
    assert overview.startswith("Sources: 羊城晚报 2 · ") and overview.endswith(" · undated 2")
    assert render.display_width(overview) <= columns - 1
    if columns == 120:  # room for everything
        assert overview == ("Sources: 羊城晚报 2 · 南方Plus 1 · 南方日报 1 · 澎湃新闻 1   "
                            "Months: 2021-04 1 · 2022-02 1 · 2022-05 1 · undated 2")
    else:  # fewer sources, the months as a sparkline
        assert overview == "Sources: 羊城晚报 2 · others 3   2021-04 █         █  █ 2022-05 · undated 2"


def test_no_overview_line_without_hits(seed_index_dir):
    assert search_at(seed_index_dir, 80, "足球比赛").stdout.strip() == "No results for 足球比赛."


@pytest.mark.parametrize("columns", [80, 120])
def test_timeline_draws_every_month_between_the_first_hit_and_the_last(seed_index_dir, columns):
    lines = search_at(seed_index_dir, columns, "韶关", "--timeline").stdout.splitlines()
    assert lines[0] == "3 dated results for 韶关 by month, 2 undated not drawn"
    rows = lines[2:]
    assert [row.split()[0] for row in rows] == [f"2021-{m:02d}" for m in range(4, 13)] + \
        [f"2022-{m:02d}" for m in range(1, 6)]
    counts = {row.split()[0]: int(row.split()[1]) for row in rows}
    assert counts == {**dict.fromkeys(counts, 0), "2021-04": 1, "2022-02": 1, "2022-05": 1}
    assert rows[0] == "2021-04  1  " + "█" * render.TIMELINE_BAR
    assert all(render.display_width(line) <= columns - 1 for line in lines)
    assert all(not row.endswith(" ") for row in rows)


def test_timeline_of_undated_hits_and_of_none(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("防火墙规则的配置方法。", encoding="utf-8")
    assert run("index", corpus, "--index", tmp_path / "ix").returncode == 0
    result = search_at(tmp_path / "ix", 80, "防火墙", "--timeline")
    assert result.stdout.strip() == "Nothing to draw: no known date on 1 result for 防火墙."
    assert search_at(tmp_path / "ix", 80, "韶关", "--timeline").stdout.strip() == "No results for 韶关."
    plain = search_at(tmp_path / "ix", 80, "防火墙").stdout.splitlines()
    assert plain[1] == ""  # no source, no date: no overview line


def test_timeline_with_batch_is_a_usage_error(seed_index_dir):
    result = search(seed_index_dir, "--batch", "-", "--timeline", input="韶关\n")
    assert result.returncode == 2
    assert "--timeline draws the chart of one query, not of a --batch" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_show_on_a_terminal_keeps_paragraphs_and_wraps_between_words(shaped_index_dir, columns):
    output = in_a_terminal(["show", "page.html", "--original", "--index", shaped_index_dir],
                           columns=columns, env_changes={})
    lines = ESCAPES.sub("", output).replace("\r\n", "\n").rstrip("\n").split("\n")
    assert_shaped(lines, columns)


def test_show_to_a_pipe_keeps_lines_whole_unless_columns_is_set(shaped_index_dir):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    piped = run("show", "page.html", "--original", "--index", shaped_index_dir, env=env)
    assert_shaped(piped.stdout.rstrip("\n").split("\n"), None)
    narrow = run("show", "page.html", "--original", "--index", shaped_index_dir,
                 env={**env, "COLUMNS": "80"})
    assert_shaped(narrow.stdout.rstrip("\n").split("\n"), 80)


def test_a_paragraph_break_separates_words_as_a_space_does(shaped_index_dir):
    # gap.txt and space.txt hold the same words, apart by blank lines in one, spaces in the other.
    def found(query):
        ids = {hit["id"] for hit in one_json(search(shaped_index_dir, query, "--json"))["hits"]}
        return "gap.txt" in ids, "space.txt" in ids

    for query in ("設定 介面", "設定介面", '"設定介面"', "定介", '"定介"', "static dhcp",
                  '"static dhcp"', "staticdhcp", "名稱static"):
        in_gap, in_space = found(query)
        assert in_gap == in_space, query
    assert found("static dhcp") == (True, True)
    assert found("staticdhcp") == (False, False)  # never glued into one word


def test_snippets_stay_on_one_line_across_paragraphs(shaped_index_dir):
    hits = one_json(search(shaped_index_dir, "static", "--json"))["hits"]
    assert hits and all("\n" not in hit["snippet"] for hit in hits)
    assert any("static" in hit["snippet"] and "dhcp" in hit["snippet"] for hit in hits)


def test_the_readme_show_example_is_what_show_prints(seed_index_dir):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^    \$ (COLUMNS=(\d+) searchkit show \S+)\n((?:    .*\n|\n)+)", readme, re.M)
    assert block, "the README shows an example of searchkit show"
    command, columns, shown = block.group(1), block.group(2), block.group(3)
    expected = [line[4:] for line in shown.rstrip("\n").split("\n")]
    env = {**{k: v for k, v in os.environ.items() if k != "COLUMNS"}, "COLUMNS": columns}
    result = run(*command.split()[2:], "--index", seed_index_dir, env=env)
    got = result.stdout.split("\n")[:len(expected)]
    path = next(i for i, line in enumerate(expected) if line.startswith("path: …"))
    assert got[path].endswith(expected[path].removeprefix("path: …"))
    assert got[:path] + got[path + 1:] == expected[:path] + expected[path + 1:]
