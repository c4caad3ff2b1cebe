"""End to end: `searchkit shell` in a pseudo-terminal, as a person would use it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys

import pytest

pexpect = pytest.importorskip("pexpect")

PAGER = shutil.which("less")
# Bounds on waiting for the screen, only to fail instead of hanging: generous, so a
# loaded machine (the segmenter takes seconds to load there) is not a failure.
WAIT = 60  # without less, :open prints the document directly
TITLE = "韶关:打开改革新局面 闯出转型新天地"
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|[\x07\x0e\x0f\r]")


class Screen:
    """What the terminal has shown so far, with escape codes stripped."""

    def __init__(self, child) -> None:
        self.child = child
        self.raw = ""

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def wait_for(self, wanted: str, timeout: float = WAIT) -> None:
        """Read until wanted appears on the (stripped) screen; fail with the screen dumped."""
        deadline = timeout
        while wanted not in self.text:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.2)
                for _ in range(chunk.count("\x1b[6n")):  # answer cursor position requests,
                    self.child.send("\x1b[1;1R")  # so prompt_toolkit knows the screen's height
                self.raw += chunk
            except pexpect.TIMEOUT:
                deadline -= 0.2
                if deadline <= 0:
                    pytest.fail(f"{wanted!r} never appeared; the screen shows:\n{self.text[-3000:]}")
            except pexpect.EOF:
                pytest.fail(f"the shell exited before showing {wanted!r}:\n{self.text[-3000:]}")

    def mark(self) -> None:
        """Forget what was shown so far (so the next wait_for sees only new output)."""
        self.raw = ""


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_shell_in_a_terminal(seed_index_dir, tmp_path):
    env = dict(os.environ, TERM="xterm", PAGER="less" if PAGER else "", LESS="",
               COLUMNS="100", LINES="24")
    child = pexpect.spawn(sys.executable, ["-m", "searchkit", "shell", "--index", str(seed_index_dir)],
                          env=env, dimensions=(24, 100), encoding="utf-8", timeout=WAIT,
                          cwd=str(tmp_path))
    screen = Screen(child)
    try:
        screen.wait_for("searchkit>")
        child.send(":source 澎湃新闻\r")
        screen.wait_for("source: 澎湃新闻")
        screen.wait_for("│ source: 澎湃新闻 │")  # the bottom toolbar
        screen.mark()
        child.send("韶关\r")  # the first query may wait for the segmenter to load
        screen.wait_for("1 result for 韶关")
        screen.wait_for(TITLE)
        screen.wait_for("澎湃新闻 · 2021-04-12")  # the hit's next line may come in a later read

        screen.mark()
        child.send(":open 1\r")
        screen.wait_for("date: 2021-04-12")  # the document's header, in less or printed
        screen.wait_for(TITLE)
        screen.wait_for("source: 澎湃新闻")
        if PAGER:
            child.send("q")  # leave less
        screen.mark()
        screen.wait_for("searchkit>")

        child.send(":quit\r")
        child.expect(pexpect.EOF, timeout=WAIT)
        child.close()
        assert child.exitstatus == 0, screen.text[-3000:]
    finally:
        if child.isalive():
            child.terminate(force=True)


# -- issue 16: colour choices, the last page, long queries, plurals ---------------------------

SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colours_used(raw: str) -> set[int]:
    """The colour parameters (foreground or background) of every SGR sequence in raw."""
    used = set()
    for match in SGR.finditer(raw):
        for part in match.group(1).split(";"):
            if part and (30 <= int(part) <= 49 or 90 <= int(part) <= 107):
                used.add(int(part))
    return used


@contextlib.contextmanager
def running_shell(index_dir, tmp_path, columns: int, *options: str, **env_changes: str):
    """The shell on a 40-line terminal of columns: (child, screen); stopped however the test ends."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update({"TERM": "xterm", "PAGER": "", "LESS": "", "COLUMNS": str(columns), "LINES": "40",
                **env_changes})
    child = pexpect.spawn(sys.executable,
                          ["-m", "searchkit", "shell", "--index", str(index_dir), *options],
                          env=env, dimensions=(40, columns), encoding="utf-8", timeout=WAIT,
                          cwd=str(tmp_path))
    try:
        yield child, Screen(child)
    finally:
        if child.isalive():
            child.terminate(force=True)


def quit_shell(child, screen) -> None:
    child.send(":quit\r")
    child.expect(pexpect.EOF, timeout=WAIT)
    child.close()
    assert child.exitstatus == 0, screen.text[-3000:]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize(
    ("options", "env_changes", "colored"),
    [
        ((), {}, True),
        ((), {"NO_COLOR": "1"}, False),
        (("--color", "never"), {}, False),
        (("--color", "always"), {"NO_COLOR": "1"}, True),  # the command line wins
    ],
)
def test_shell_colour_follows_color_and_no_color(seed_index_dir, tmp_path, columns, options,
                                                 env_changes, colored):
    with running_shell(seed_index_dir, tmp_path, columns, *options, **env_changes) as (child, screen):
        screen.wait_for("searchkit>")
        child.send(":limit 1\r")
        screen.wait_for("limit: 1")
        child.send("韶关\r")
        screen.wait_for("5 results for 韶关")
        screen.wait_for("— 4 more: Enter or :next —")
        screen.wait_for("searchkit>")
        assert ("【韶关】" in screen.text) is not colored
        assert bool(colours_used(screen.raw)) is colored, sorted(colours_used(screen.raw))
        quit_shell(child, screen)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_last_page_long_query_and_plurals_in_a_terminal(seed_index_dir, tmp_path, columns):
    with running_shell(seed_index_dir, tmp_path, columns) as (child, screen):
        screen.wait_for("4 sources")  # the banner
        screen.wait_for("searchkit>")
        child.send(":all\r")  # the five hits, 001 not folded under 000
        screen.wait_for("every hit shown")
        child.send(":limit 3\r")
        screen.wait_for("limit: 3")
        child.send("韶关\r")
        screen.wait_for("— 2 more: Enter or :next —")
        screen.wait_for("(5 documents)")  # the toolbar, once the warm-up counted them
        child.send("\r")
        screen.wait_for("showing 4–5")
        screen.mark()
        child.send("\r")  # Enter on the last page
        screen.wait_for("— no more hits: that was the last page of 5 results —")

        screen.mark()
        child.send("韶关 " + "x" * 300 + "\r")
        screen.wait_for("[303 characters]")
        screen.wait_for("Sources: ")  # the line under the header: the header is whole
        header = next(line for line in screen.text.splitlines() if "results for 韶关 x" in line)
        header = header[header.index("5 results for"):]
        assert header.endswith("ms)") and "… [303 characters] (showing 1–3," in header
        assert len(header) < 80  # one line, even at 80 columns
        quit_shell(child, screen)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_copies_are_folded_and_all_unfolds_them_in_a_terminal(seed_index_dir, tmp_path):
    with running_shell(seed_index_dir, tmp_path, 100) as (child, screen):
        screen.wait_for("searchkit>")
        child.send("数据中心\r")
        screen.wait_for("+1 similar: 001_cbd37f1b4b68be5e.txt 羊城晚报")
        screen.wait_for("showing 1–2")
        screen.mark()
        child.send(":all\r")
        screen.wait_for("every hit shown")
        screen.wait_for("showing 1–3")
        screen.wait_for("  3. ")  # the last hit: every line under the first is on the screen
        assert "similar:" not in screen.text
        quit_shell(child, screen)


# -- issue 16: compact hits on a 40-line screen --------------------------------------------------


class Terminal:
    """A terminal emulator (pyte) fed with what the shell writes: the screen as a person sees it.

    It answers the shell's cursor position requests with the real position, so
    prompt_toolkit lays out its prompt and toolbar as on a real terminal.
    """

    def __init__(self, child, rows: int, columns: int) -> None:
        pyte = pytest.importorskip("pyte")
        self.child = child
        self.screen = pyte.Screen(columns, rows)
        self.screen.write_process_input = child.send  # answers to cursor position requests
        self.stream = pyte.Stream(self.screen)

    @property
    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen.display]

    def wait_for(self, wanted: str, timeout: float = WAIT) -> None:
        """Read until wanted is on the screen; fail with the screen dumped."""
        deadline = timeout
        while not any(wanted in row for row in self.rows):
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.2))
            except pexpect.TIMEOUT:
                deadline -= 0.2
                if deadline <= 0:
                    pytest.fail(f"{wanted!r} never appeared; the screen shows:\n" + "\n".join(self.rows))
            except pexpect.EOF:
                pytest.fail(f"the shell exited before showing {wanted!r}:\n" + "\n".join(self.rows))


# -- :open keeps the document's shape -----------------------------------------------------------

BLOCK = ["auto enp0s31f6", "iface enp0s31f6 inet static", "  address 192.168.0.3/24",
         "  gateway 192.168.0.1"]
PARAGRAPH = ("在 Debian 系統裡，network interface 的設定寫在 /etc/network/interfaces 檔案中：每個介面"
             "一段，auto 一行表示開機時啟用，iface 一行寫出介面名稱、位址族 inet 與 static 或 dhcp 方法，"
             "之後的縮排行是 address、gateway 等參數。修改之後執行 systemctl restart networking。")
PAGE = (f"<html><head><title>網路介面設定</title></head><body><h1>網路介面設定</h1><p>{PARAGRAPH}</p>"
        f"<pre>\n{chr(10).join(BLOCK)}\n</pre><p>若使用 DHCP，只要把 static 換成 dhcp。</p></body></html>")
LATIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]*")


@pytest.fixture(scope="module")
def page_index_dir(tmp_path_factory):
    from searchkit import SearchIndex

    corpus = tmp_path_factory.mktemp("page")
    (corpus / "page.html").write_text(PAGE, encoding="utf-8")
    index = tmp_path_factory.mktemp("page-index")
    SearchIndex.build(index, [corpus])
    return index


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_ten_hits_and_the_header_fit_a_40_line_shell(crowded_index_dir, tmp_path, columns):
    from searchkit.render import display_width

    with running_shell(crowded_index_dir, tmp_path, columns) as (child, _):
        terminal = Terminal(child, 40, columns)
        terminal.wait_for("searchkit>")
        child.send(":all\r")  # every hit, copies too
        terminal.wait_for("every hit shown")
        child.send("防火墙\r")
        terminal.wait_for("— 4 more: Enter or :next —")
        terminal.wait_for("(14 documents)")  # the toolbar, drawn again under the new prompt
        rows = terminal.rows
        echo = next(i for i, row in enumerate(rows) if row.startswith("searchkit> 防火墙"))
        last = max(i for i, row in enumerate(rows) if row)
        # The query typed, the header, the overview line under it, ten hits, the "more"
        # line, the prompt and the toolbar: all on the screen.
        assert last - echo + 1 <= 40, "\n".join(rows)
        assert rows[echo + 2].startswith("Sources: ")
        assert rows[echo + 1].startswith("14 results for 防火墙 (showing 1–10")
        numbered = [i for i, row in enumerate(rows) if re.match(r"\s*\d+\. ", row)]
        assert len(numbered) == 10 and rows[numbered[0]].startswith("  1. ")
        assert all(b - a == 3 for a, b in zip(numbered, numbered[1:]))  # three rows a hit
        assert all("防火墙" in rows[i + 2] for i in numbered)
        assert all(display_width(row) < columns for row in rows[echo:last])
        quit_shell(child, Screen(child))


# -- issue 16 part 4: the overview line and :timeline -------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_overview_and_timeline_in_a_terminal(seed_index_dir, tmp_path, columns):
    with running_shell(seed_index_dir, tmp_path, columns, "--color", "never") as (child, screen):
        screen.wait_for("searchkit>")
        child.send("韶关\r")
        screen.wait_for("5 results for 韶关")
        if columns == 120:
            screen.wait_for("Sources: 羊城晚报 2 · 南方Plus 1 · 南方日报 1 · 澎湃新闻 1   "
                            "Months: 2021-04 1 · 2022-02 1 · 2022-05 1 · undated 2")
        else:
            screen.wait_for("Sources: 羊城晚报 2 · others 3   2021-04 █")
        screen.wait_for("searchkit>")
        screen.mark()
        child.send(":timeline\r")
        screen.wait_for("3 dated results for 韶关 by month, 2 undated not drawn")
        screen.wait_for("2022-05  1  " + "█" * 60)
        screen.wait_for("searchkit>")
        rows = [line for line in screen.text.splitlines() if re.match(r"20\d\d-\d\d  \d", line)]
        assert [row.split()[0] for row in rows][:2] == ["2021-04", "2021-05"] and len(rows) == 14
        quit_shell(child, screen)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_open_shows_paragraphs_and_the_block_wrapped_between_words(page_index_dir, tmp_path, columns):
    from searchkit.render import display_width

    with running_shell(page_index_dir, tmp_path, columns) as (child, screen):
        screen.wait_for("searchkit>")
        child.send(":original\r")
        screen.wait_for("titles and snippets in the original script")
        child.send("static\r")
        screen.wait_for("1 result for static")
        screen.wait_for("網路介面設定")  # the hit's title, in the page's own script
        screen.mark()
        child.send(":open 1\r")  # no pager: printed directly
        screen.wait_for("換成 dhcp。")  # the last line: all the document is on the screen
        shown = screen.text.replace("\r\n", "\n").split("\n")
        start = shown.index("網路介面設定")
        document = shown[start:next(i for i in range(start, len(shown)) if "換成 dhcp。" in shown[i]) + 1]
        at = document.index(BLOCK[0])
        assert document[at:at + len(BLOCK)] == BLOCK
        assert document[at - 1] == document[at + len(BLOCK)] == ""
        paragraph = document[document.index("網路介面設定", 1) + 2:at - 1]
        assert len(paragraph) >= 2
        assert "".join(paragraph).replace(" ", "") == PARAGRAPH.replace(" ", "")
        assert re.search(r"\x1b\[[0-9;]*31[0-9;]*mstatic\x1b\[0m", screen.raw)  # the match, in red
        assert all(display_width(line) <= columns for line in document if not line.startswith("path:"))
        words = {word for line in paragraph for word in LATIN_WORD.findall(line)}
        assert words == set(LATIN_WORD.findall(PARAGRAPH))
        quit_shell(child, screen)
