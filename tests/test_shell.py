"""The shell: its state and commands, driven through a real PromptSession on a pipe."""

from __future__ import annotations

import re

import pytest
from prompt_toolkit.document import Document as PromptDocument
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.validation import ValidationError

from searchkit import shell as sh
from searchkit.render import display_width

TITLE = "韶关:打开改革新局面 闯出转型新天地"
CTRL_C, CTRL_D = "\x03", "\x04"


class Recorder:
    """Collects what the shell prints."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def __call__(self, text: str) -> None:
        self.chunks.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.chunks)


@pytest.fixture
def out() -> Recorder:
    return Recorder()


@pytest.fixture
def shell(seed_index, out) -> sh.Shell:
    return sh.Shell(seed_index, write=out)


def drive(shell: sh.Shell, keys: str) -> int:
    """Type keys into a real PromptSession (pipe input, dummy output) and run the loop."""
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        session = sh.make_session(shell, input=pipe, output=DummyOutput(),
                                  history=InMemoryHistory())
        return shell.run(session.prompt)


# -- the loop through prompt_toolkit ---------------------------------------------


def test_query_prints_ranked_hits(shell, out):
    assert drive(shell, "韶关\r" + CTRL_D) == 0
    assert "5 results for 韶关" in out.text
    assert "  1. " + TITLE in out.text
    assert "澎湃新闻 · 2021-04-12" in out.text
    assert "【韶关】" in out.text  # highlighted snippet (plain marks without colour)


def test_traditional_query_finds_the_same(shell, out):
    drive(shell, "韶關\r" + CTRL_D)
    assert "5 results for 韶關" in out.text


def test_filters_persist_and_show_in_toolbar(shell, out):
    drive(shell, ":source 澎湃新闻\r韶关\r:limit 3\r" + CTRL_D)
    assert shell.sources == ["澎湃新闻"]
    assert "1 result for 韶关" in out.text
    assert shell.limit == 3
    toolbar = shell.toolbar_text()
    assert "source: 澎湃新闻" in toolbar and "limit 3" in toolbar
    assert str(shell.index.path) in toolbar or "~" in toolbar
    drive(shell, ":source\r" + CTRL_D)
    assert shell.sources == []
    assert "all sources" in shell.toolbar_text()
    assert "5 results for 韶关" in out.chunks[-2]  # the query ran again without the filter


def test_source_alias_and_unknown_source(shell, out):
    shell.handle(":source 羊城晚报")
    assert shell.sources == ["羊城晚报"]
    shell.handle(":source 澎湃号, 羊城")  # an alias, and a unique part of a name
    assert shell.sources == ["澎湃新闻", "羊城晚报"]
    shell.handle(":source 南方")  # ambiguous: 南方日报 or 南方Plus
    assert "error: no source '南方'" in out.chunks[-1]
    shell.handle(":source 没有这个")
    assert "error: no source '没有这个'" in out.chunks[-1]
    assert shell.sources == ["澎湃新闻", "羊城晚报"]  # unchanged


def test_dates_and_bad_date(shell, out):
    drive(shell, ":since 2022\r:until 2022-13\r韶关\r" + CTRL_D)
    assert "error: bad date '2022-13'" in out.text
    assert shell.since == "2022" and shell.until is None
    assert "since 2022" in shell.toolbar_text()
    assert "2 results for 韶关" in out.text  # the loop went on; one seed is older, two undated
    assert "2 matching documents without a known date" in out.text
    shell.handle(":until 2021")
    assert "error: the start is after the end (2022-01-01 comes after 2021-12-31)" in out.chunks[-1]
    shell.handle(":clear")
    assert (shell.since, shell.until, shell.sources, shell.limit) == (None, None, [], 10)


def test_paging_with_next_prev_and_enter(shell, out):
    # :all: every one of the five hits (folded, 001 goes under 000: see test_duplicates.py)
    drive(shell, ":all\r:limit 2\r韶关\r\r:next\r:next\r:prev\r" + CTRL_D)
    pages = [m.group(1) for m in re.finditer(r"showing (\d+–\d+)", out.text)]
    assert pages == ["1–2", "3–4", "5–5", "3–4"]
    assert "no more hits" in out.text
    assert "  5. " in out.text
    assert "hits 3–4 of 5" in shell.toolbar_text()


def test_open_shows_the_whole_document(shell, out):
    drive(shell, "韶关\r:open 1\r" + CTRL_D)
    document = out.chunks[-1]
    assert document.startswith(TITLE)
    assert "source: 澎湃新闻" in document and "date: 2021-04-12" in document
    assert "原标题" in document  # the end of the text: the whole document is there
    assert document.count("【韶关】") > 10


def test_open_beyond_the_page_and_errors(shell, out):
    shell.handle(":open 1")
    assert "error: no hits to open" in out.chunks[-1]
    shell.handle(":all")  # every one of the five hits
    shell.handle(":limit 2")
    shell.handle("韶关")
    shell.handle(":open 5")  # not on the page shown, but one of the results
    assert out.chunks[-1].splitlines()[1].startswith("id: ")
    shell.handle(":open 9")
    assert "error: no hit '9': give a number from 1 to 5" in out.chunks[-1]


def test_open_uses_the_pager_when_longer_than_the_screen(seed_index, out):
    shown = []

    class FakePager:
        color = True

        def show(self, text):
            shown.append(text)

    shell = sh.Shell(seed_index, write=out, pager=FakePager(), size=lambda: (24, 80))
    shell.handle("韶关")
    shell.handle(":open 1")
    assert len(shown) == 1 and "\x1b[1;31m韶关\x1b[0m" in shown[0]


def test_bad_query_is_flagged_then_run_leniently(shell, out):
    # First Enter: the validator flags it and nothing runs; second Enter runs it anyway.
    drive(shell, '"韶关\r\r' + CTRL_D)
    assert "warning: unbalanced quote: the quote at column 1 is never closed" in out.text
    assert "searching for 韶关 instead" in out.text
    assert "5 results for 韶关" in out.text


def test_errors_are_inline_and_the_loop_continues(shell, out):
    drive(shell, ":frobnicate\r:limit zero\r:sort sideways\r韶关\r" + CTRL_D)
    assert "error: unknown command ':frobnicate'" in out.text
    assert "error: limit takes a whole number" in out.text
    assert "error: sort by relevance or date" in out.text
    assert "5 results for 韶关" in out.text


def test_query_that_cannot_be_salvaged(shell, out):
    shell.handle("date:2022-13")
    assert out.chunks[-1].startswith("error: ")
    assert shell.results is None


def test_ctrl_c_clears_the_line_and_the_shell_goes_on(shell, out):
    assert drive(shell, "广州" + CTRL_C + "韶关\r" + CTRL_D) == 0
    assert shell.query == "韶关"
    assert re.findall(r"results? for (\S+)", out.text) == ["韶关"]  # 广州 never ran


def test_ctrl_d_and_quit_exit_zero(shell):
    assert drive(shell, CTRL_D) == 0
    assert drive(shell, ":quit\r") == 0
    assert drive(shell, ":q\r") == 0


def test_help_comes_from_the_command_table(shell, out):
    shell.handle(":help")
    for command in sh.COMMANDS:
        assert command.usage in out.text
    shell.handle(":help open")
    assert out.chunks[-1].startswith(":open N")


def test_sort_by_date_and_original_toggle(shell, out):
    shell.handle(":sort date")
    shell.handle("韶关")
    dates = re.findall(r"· (\d{4}-\d\d-\d\d) ·", out.chunks[-1])
    assert dates == sorted(dates, reverse=True)
    shell.handle(":original")
    assert shell.original and "original script" in shell.toolbar_text()


def test_sources_and_stats(shell, out):
    shell.handle(":sources")
    assert re.search(r"羊城晚报\s+2", out.chunks[-1])
    shell.handle(":stats")  # prints the statistics, or an inline error; never raises
    assert out.chunks[-1]


def test_color_output_uses_ansi(seed_index, out):
    shell = sh.Shell(seed_index, write=out, color=True)
    shell.handle("韶关")
    assert "\x1b[1;31m韶关\x1b[0m" in out.text


def test_wide_characters_wrap_under_the_title(shell, out):
    shell.size = lambda: (24, 60)
    shell.handle("韶关")
    for line in out.chunks[-1].splitlines():
        assert display_width(line) <= 59
        if line and not re.match(r"\s*\d+\. ", line) and line.startswith(" "):
            assert line.startswith("     ")  # continuation lines keep the hanging indent


# -- completion, colouring, validation ---------------------------------------------


def completions(shell, text: str) -> list[str]:
    document = PromptDocument(text, len(text))
    return [c.text for c in sh.ShellCompleter(shell).get_completions(document, None)]


def test_completes_commands(shell):
    assert "source" in completions(shell, ":so")
    assert "sources" in completions(shell, ":so")
    assert set(completions(shell, ":")) == {c.name for c in sh.COMMANDS}


def test_completes_source_names_after_the_command(shell):
    names = completions(shell, ":source ")
    assert set(names) == {"羊城晚报", "澎湃新闻", "南方日报", "南方Plus"}
    assert completions(shell, ":source 南方") == ["南方日报", "南方Plus"] or \
        set(completions(shell, ":source 南方")) == {"南方日报", "南方Plus"}
    assert completions(shell, ":sort d") == ["date"]


def test_completes_fields_and_source_names_in_a_query(shell):
    assert completions(shell, "韶关 ti") == ["title:"]
    assert completions(shell, "so") == ["source:"]
    assert set(completions(shell, "韶关 source:")) == {"羊城晚报", "澎湃新闻", "南方日报", "南方Plus"}
    assert completions(shell, "韶关 source:羊") == ["羊城晚报"]
    assert "OR" in completions(shell, "韶关 O")
    assert completions(shell, "韶关") == []


def styles(pieces, wanted: str) -> list[str]:
    return [text for style, text in pieces if style == wanted]


def test_lexer_colours_fields_phrases_and_operators():
    lexer = sh.QueryLexer()
    line = lexer.lex_document(PromptDocument('title:韶关 "改革" OR 广州 -深圳 NOT 东莞'))(0)
    assert "".join(text for _, text in line) == 'title:韶关 "改革" OR 广州 -深圳 NOT 东莞'
    assert styles(line, "class:field") == ["title:"]
    assert styles(line, "class:field-value") == ["韶关"]
    assert styles(line, "class:phrase") == ['"改革"']
    assert styles(line, "class:operator") == ["OR", "-", "NOT"]
    bad = lexer.lex_document(PromptDocument("foo:bar"))(0)
    assert styles(bad, "class:error") == ["foo:"]
    command = lexer.lex_document(PromptDocument(":since 2022-13"))(0)
    assert styles(command, "class:command") == [":", "since"]
    assert styles(command, "class:error") == ["2022-13"]


def test_validator_flags_an_unbalanced_quote_with_its_column():
    validator = sh.QueryValidator()
    with pytest.raises(ValidationError) as caught:
        validator.validate(PromptDocument('广州 "韶关'))
    assert "column 4" in caught.value.message
    assert caught.value.cursor_position == 3
    validator.validate(PromptDocument('广州 "韶关'))  # lenient: the second Enter goes through
    validator.validate(PromptDocument("韶关 OR 广州"))
    validator.validate(PromptDocument(":since nonsense"))  # commands are checked when run


def test_history_lives_in_the_xdg_state_directory(isolated_environment):
    path = sh.history_path()
    assert path == isolated_environment / "xdg_state_home" / "searchkit" / "history"
    history = sh.open_history()
    assert history.filename == str(path)


def test_run_shell_reports_a_missing_index(tmp_path, capsys):
    assert sh.run_shell(tmp_path / "nothing-here", None) == 1
    assert "searchkit: error:" in capsys.readouterr().err


def test_run_shell_with_injected_terminal(seed_index_dir):
    with create_pipe_input() as pipe:
        pipe.send_text("韶关\r:open 1\r" + CTRL_D)
        assert sh.run_shell(seed_index_dir, None, input=pipe, output=DummyOutput()) == 0


# -- another process commits while the shell is open ------------------------------------


def test_the_shell_sees_what_another_process_indexed(tmp_path, corpus_copy, out):
    import subprocess
    import sys

    from searchkit import SearchIndex

    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    with SearchIndex.open(index_dir) as index:
        shell = sh.Shell(index, write=out)
        assert shell.count_documents() == 5
        drive(shell, "冰川\r" + CTRL_D)
        assert "No results for 冰川" in out.text
        (corpus_copy / "later.txt").write_text("来源：新华社\n冰川考察队今天抵达韶关。", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "searchkit", "index", str(corpus_copy),
                        "--index", str(index_dir)], check=True, capture_output=True)
        drive(shell, "冰川\r" + CTRL_D)
        assert "1 result for 冰川" in out.text
        assert shell.documents == 6
        assert "新华社" in shell.known_sources()


# -- :source: the library's resolver ---------------------------------------------------


def test_source_prefix_and_unknown_give_the_librarys_answers(shell, out, seed_index):
    from searchkit import UnknownSourceError

    shell.handle(":source 羊城")
    assert shell.sources == ["羊城晚报"]
    shell.handle(":source 没有这个")
    with pytest.raises(UnknownSourceError) as error:
        seed_index.search("韶关", sources=["没有这个"])
    assert out.chunks[-1] == f"error: {error.value}"  # the line the CLI prints, too
    assert shell.sources == ["羊城晚报"]


def test_unknown_source_in_a_query_is_an_error(shell, out):
    shell.handle("韶关 source:没有这个")
    assert out.chunks[-1].startswith("error: no source '没有这个' in this index; known sources")


# -- issue 16: the last page, long queries, plurals, colour ---------------------------------


def test_enter_on_the_last_page_says_there_are_no_more_hits(shell, out):
    drive(shell, "韶关\r\r" + CTRL_D)
    assert "5 results for 韶关" in out.chunks[-2]
    assert out.chunks[-1] == "— no more hits: that was the last page of 5 results —"


def test_enter_after_a_query_with_one_or_no_hit(shell, out):
    drive(shell, "澎湃新闻\r\r冰川\r\r" + CTRL_D)
    assert "— no more hits: that was the last page of 1 result —" in out.chunks
    assert out.chunks[-1] == "— no more hits: none for 冰川 —"


def test_enter_before_any_query_says_nothing(shell, out):
    drive(shell, "\r\r" + CTRL_D)
    assert out.chunks == []


def test_a_long_query_is_echoed_on_one_line(shell, out):
    shell.size = lambda: (24, 80)
    query = "韶关 " + "x" * 300
    shell.handle(query)
    header = out.chunks[-1].splitlines()[0]
    assert header.startswith("5 results for 韶关 xxx") and header.endswith("ms)")
    assert "… [303 characters]" in header and display_width(header) < 80
    shell.handle("韶关 " + "x" * 1196)  # 1,199 characters: beyond the limit, one line too
    assert out.chunks[-1].count("\n") == 0 and "1199 characters (at most 1000)" in out.chunks[-1]


def test_plural_forms_in_completion_and_toolbar(shell):
    document = PromptDocument(":source 南方", len(":source 南方"))
    metas = {c.text: c.display_meta_text
             for c in sh.ShellCompleter(shell).get_completions(document, None)}
    assert metas == {"南方日报": "1 document", "南方Plus": "1 document"}
    document = PromptDocument("source:羊", len("source:羊"))
    metas = [c.display_meta_text for c in sh.ShellCompleter(shell).get_completions(document, None)]
    assert metas == ["2 documents"]
    shell.documents = 1
    assert "(1 document)" in shell.toolbar_text()
    shell.count_documents()
    assert "(5 documents)" in shell.toolbar_text()


# -- issue 16: compact hits, and :snippet --------------------------------------------------------


def hit_blocks(text: str) -> list[list[str]]:
    """The lines of each hit in a page ("  1. title" and the lines under it)."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if re.match(r"\s*\d+\. ", line):
            blocks.append([line])
        elif blocks and line.startswith("     "):
            blocks[-1].append(line)
    return blocks


@pytest.mark.parametrize(("rows", "snippet_lines"), [(40, 2), (20, 1)])
@pytest.mark.parametrize("columns", [80, 120])
def test_hits_are_fitted_to_the_screen(seed_index, out, rows, snippet_lines, columns):
    shell = sh.Shell(seed_index, write=out, size=lambda: (rows, columns))
    drive(shell, ":all\r韶关\r" + CTRL_D)  # every hit, copies too
    blocks = hit_blocks(out.text)
    assert len(blocks) == 5
    assert all(len(block) == 2 + snippet_lines for block in blocks)  # title, meta, snippet
    assert all(display_width(line) < columns for block in blocks for line in block)
    assert all("【韶关】" in "".join(block[2:]) for block in blocks)


def test_snippet_setting_shows_that_many_characters(seed_index, out):
    shell = sh.Shell(seed_index, write=out, size=lambda: (40, 80))
    drive(shell, ":snippet 300\r韶关\r" + CTRL_D)
    assert "snippet: up to 300 characters" in out.text
    assert "snippet 300" in shell.toolbar_text()
    whole = seed_index.search("韶关", snippet_chars=300).hits[0].snippet
    first = hit_blocks(out.text)[0]
    shown = "".join(line[5:] for line in first[2:]).replace("【", "").replace("】", "")
    assert shown.replace(" ", "") == whole.replace(" ", "")
    assert len(first) > 4  # wrapped over as many lines as it takes


def test_snippet_setting_alone_fit_clear_and_errors(seed_index, out):
    shell = sh.Shell(seed_index, write=out)
    drive(shell, ":snippet\r:snippet 50\r:snippet\r:snippet fit\r:snippet 0\r:snippet lots\r"
                 ":snippet 80\r:clear\r:snippet\r" + CTRL_D)
    said = out.text.splitlines()
    assert said[:4] == ["snippet: fit", "snippet: up to 50 characters", "snippet: 50",
                        "snippet: fitted to the terminal"]
    assert sum("error: snippet takes a number of characters of at least 1" in line for line in said) == 2
    assert said[-1] == "snippet: fit" and shell.snippet is None
    out.chunks.clear()
    shell.cmd_help("snippet")
    assert out.text.startswith(":snippet [N|fit]")
# -- issue 16 part 4: the overview line and :timeline ------------------------------------------


def test_the_overview_line_is_under_the_header_and_counts_every_hit(seed_index, out):
    shell = sh.Shell(seed_index, write=out, size=lambda: (40, 120))
    shell.limit = 2
    shell.search("韶关")
    lines = out.text.splitlines()
    assert lines[0].startswith("5 results for 韶关 (showing 1–2")
    assert lines[1] == ("Sources: 羊城晚报 2 · 南方Plus 1 · 南方日报 1 · 澎湃新闻 1   "
                        "Months: 2021-04 1 · 2022-02 1 · 2022-05 1 · undated 2")


def test_timeline_draws_the_current_query(seed_index, out):
    shell = sh.Shell(seed_index, write=out, size=lambda: (40, 80))
    shell.handle(":timeline")
    assert out.text == "error: no results yet: type a query first"
    out.chunks.clear()
    shell.search("韶关")
    shell.handle(":source 羊城晚报")  # the chart follows the filters
    out.chunks.clear()
    shell.handle(":t")
    lines = out.text.splitlines()
    assert lines[0] == "1 dated result for 韶关 by month, 1 undated not drawn"
    assert lines[2] == "2022-02  1  " + "█" * 60
    assert all(display_width(line) <= 79 for line in lines)


def test_timeline_is_in_help_and_completion(shell, out):
    shell.handle(":help")
    assert ":timeline" in out.text
    completions = sh.ShellCompleter(shell).get_completions(PromptDocument(":tim"), None)
    assert [c.text for c in completions] == ["timeline"]



# -- a sharded index, through the same prompt ----------------------------------


SESSION = ("数据中心\r韶關 改革\r\r:prev\r:sort date\r改革\r:open 2\r:source 羊城\r数据中心\r:all\r数据中心\r"
           ":clear\r:since 2022\r发展\r:timeline\r:sources\r" + CTRL_D)


def without_timings(text: str) -> str:
    """What the shell printed, its search times (which vary) taken out."""
    return re.sub(r", \d+ ms\)", ")", text)


def test_a_sharded_index_answers_the_shell_as_one_index(seed_index, seeds_dir, tmp_path):
    """Every command of a session prints the same on the seeds in 3 shards as on one index."""
    from searchkit import SearchIndex

    SearchIndex.build(tmp_path / "sharded", [seeds_dir], shards=3, workers=1)
    printed = []
    with SearchIndex.open(tmp_path / "sharded") as sharded:
        for index in (seed_index, sharded):
            out = Recorder()
            assert drive(sh.Shell(index, write=out, size=lambda: (40, 100)), SESSION) == 0
            printed.append(without_timings(out.text))
    one, shards = printed
    assert "+1 similar" in one and "2022-05" in one  # the session folds and draws a timeline
    assert shards == one
