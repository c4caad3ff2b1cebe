"""End to end: `searchkit shell` in a pseudo-terminal, as a person would use it."""

from __future__ import annotations

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


def spawn_shell(index_dir, tmp_path, columns: int, *options: str, **env_changes: str):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update({"TERM": "xterm", "PAGER": "", "LESS": "", "COLUMNS": str(columns), "LINES": "40",
                **env_changes})
    child = pexpect.spawn(sys.executable,
                          ["-m", "searchkit", "shell", "--index", str(index_dir), *options],
                          env=env, dimensions=(40, columns), encoding="utf-8", timeout=WAIT,
                          cwd=str(tmp_path))
    return child, Screen(child)


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
    child, screen = spawn_shell(seed_index_dir, tmp_path, columns, *options, **env_changes)
    try:
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
    finally:
        if child.isalive():
            child.terminate(force=True)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_last_page_long_query_and_plurals_in_a_terminal(seed_index_dir, tmp_path, columns):
    child, screen = spawn_shell(seed_index_dir, tmp_path, columns)
    try:
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
        screen.wait_for("searchkit>")
        header = next(line for line in screen.text.splitlines() if "results for 韶关 x" in line)
        header = header[header.index("5 results for"):]
        assert header.endswith("ms)") and "… [303 characters] (showing 1–3," in header
        assert len(header) < 80  # one line, even at 80 columns
        quit_shell(child, screen)
    finally:
        if child.isalive():
            child.terminate(force=True)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_copies_are_folded_and_all_unfolds_them_in_a_terminal(seed_index_dir, tmp_path):
    child, screen = spawn_shell(seed_index_dir, tmp_path, 100)
    try:
        screen.wait_for("searchkit>")
        child.send("数据中心\r")
        screen.wait_for("+1 similar: 001_cbd37f1b4b68be5e.txt 羊城晚报")
        screen.wait_for("showing 1–2")
        screen.mark()
        child.send(":all\r")
        screen.wait_for("every hit shown")
        screen.wait_for("showing 1–3")
        assert "similar:" not in screen.text and "  2. " in screen.text
        quit_shell(child, screen)
    finally:
        if child.isalive():
            child.terminate(force=True)
