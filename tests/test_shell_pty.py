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
