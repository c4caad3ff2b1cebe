"""README examples are executed: the Python blocks, and the set-up command."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def setup_commands() -> list[str]:
    """The searchkit commands of the set-up section (after 'pip install ... &&')."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = []
    for line in section.splitlines():
        if line.startswith("    "):
            for part in line.strip().split("&&"):
                if part.strip().startswith("searchkit "):
                    commands.append(part.strip())
    return commands


@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory, seeds_dir):
    """A directory laid out like a checkout: seeds/ and nothing else."""
    path = tmp_path_factory.mktemp("readme")
    shutil.copytree(seeds_dir, path / "seeds")
    return path


def test_readme_has_examples():
    assert python_blocks()
    assert "searchkit search 数据中心" in setup_commands()


@pytest.mark.parametrize("number", range(len(python_blocks())))
def test_python_example(number, readme_dir, monkeypatch):
    monkeypatch.chdir(readme_dir)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(python_blocks()[number], f"README.md python block {number + 1}", "exec"), {})
    assert output.getvalue().strip()


@pytest.mark.parametrize("command", setup_commands())
def test_setup_command(command, readme_dir):
    env = {k: v for k, v in os.environ.items() if k != "SEARCHKIT_INDEX"}
    result = subprocess.run(
        [sys.executable, "-m", "searchkit", *shlex.split(command)[1:]],
        cwd=readme_dir, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "3 results for 数据中心" in result.stdout
    assert "【数据中心】" in result.stdout


# -- the examples of what a search prints (issue 16: compact hits) ------------------------------

MS = re.compile(r"\(showing (\d+)–(\d+), \d+ ms\)")


def text_block(first_line: str) -> list[str]:
    """The lines of the README's ```text block that starts with first_line."""
    for block in re.findall(r"^```text\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M):
        if block.startswith(first_line):
            return block.rstrip("\n").split("\n")
    raise AssertionError(f"no text block starting with {first_line!r}")


def shell_block() -> list[str]:
    """The lines of the README's shell session example."""
    text = README.read_text(encoding="utf-8")
    return text.split("$ searchkit shell\n", 1)[1].split("```", 1)[0].rstrip("\n").split("\n")


def test_reading_hits_example_is_what_an_80_column_terminal_shows(readme_dir):
    block = text_block("$ searchkit search 数据中心")
    env = {k: v for k, v in os.environ.items() if k not in ("SEARCHKIT_INDEX", "LINES")}
    env["COLUMNS"] = "80"  # a pipe, fitted to $COLUMNS
    result = subprocess.run(
        [sys.executable, "-m", "searchkit", "search", "数据中心"], cwd=readme_dir, env=env,
        capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert result.returncode == 0, result.stderr
    shown = [MS.sub(r"(showing \1–\2, N ms)", line) for line in result.stdout.rstrip("\n").split("\n")]
    assert shown == [MS.sub(r"(showing \1–\2, N ms)", line) for line in block[1:]]


def test_shell_example_shows_the_hit_as_the_shell_prints_it(readme_dir):
    from searchkit import SearchIndex
    from searchkit import shell as sh

    lines = shell_block()
    start = lines.index("searchkit> 韶關") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("searchkit>"))
    printed: list[str] = []
    with SearchIndex.open(readme_dir / "index", build_from=readme_dir / "seeds") as index:
        shell = sh.Shell(index, write=printed.append, size=lambda: (24, 100))
        shell.handle(":source 澎湃新闻")
        shell.handle("韶關")
    # The README shows the colours a terminal has as plain text: no 【】 marks.
    shown = "\n".join(printed).replace("【", "").replace("】", "").split("\n")
    assert [MS.sub("", line) for line in shown[1:]] == [MS.sub("", line) for line in lines[start:end]]
def overview_examples() -> list[tuple[str, int, str]]:
    """(command, columns, output) of the README's paragraph on the overview of the results."""
    text = README.read_text(encoding="utf-8")
    section = text.split("**An overview of the results.**", 1)[1].split("`--json` prints", 1)[0]
    examples = []
    for block in re.findall(r"((?:^    .*\n|^\n)+)", section, re.M):
        lines = [line[4:] for line in block.strip("\n").split("\n")]
        if lines and lines[0].startswith("$ searchkit "):
            command, columns = re.match(r"\$ (searchkit .*?)\s+# at (\d+) columns", lines[0]).groups()
            examples.append((command, int(columns), "\n".join(lines[1:]).strip("\n")))
    return examples


def test_readme_has_overview_examples():
    assert len(overview_examples()) == 2


@pytest.mark.parametrize("number", range(len(overview_examples())))
def test_overview_example_is_what_the_command_prints(number, seed_index_dir):
    command, columns, shown = overview_examples()[number]
    env = dict(os.environ, COLUMNS=str(columns))
    result = subprocess.run(
        [sys.executable, "-m", "searchkit", *shlex.split(command)[1:], "--index", str(seed_index_dir)],
        env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip("\n").split("\n\n  1. ")[0]  # up to the hits
    timing = re.compile(r", \d+ ms\)")
    assert timing.sub(", N ms)", printed) == timing.sub(", N ms)", shown)
