"""The interactive shell: ``searchkit shell`` (and bare ``searchkit`` on a terminal).

Three layers, so each can be tested on its own:

* :class:`Shell` holds the state (index, filters, last results, page) and has one
  method per command. It prints through a ``write`` callable and knows nothing
  of prompt_toolkit.
* :class:`ShellCompleter`, :class:`QueryLexer` and :class:`QueryValidator` are
  the prompt_toolkit pieces; :func:`make_session` puts them in a ``PromptSession``
  (with injectable input and output, for tests).
* :func:`run_shell` opens the index and runs the loop; ``cli.py`` calls it.

One table, :data:`COMMANDS`, drives dispatch, ``:help`` and completion.

Lenient by design (the one-shot CLI is strict): Enter on a query that does not
parse flags it (message in the toolbar, cursor on the problem); Enter again on
the same text runs it anyway, as a best-effort query with a warning.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.buffer import ValidationState
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document as PromptDocument
from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.output import ColorDepth, create_output
from prompt_toolkit.shortcuts import print_formatted_text
from prompt_toolkit.styles import Style
from prompt_toolkit.validation import ValidationError, Validator

from . import query as q
from . import render
from .engine import SearchIndex
from .errors import BadDateError, QuerySyntaxError, SearchkitError
from .highlight import find_spans
from .models import DEFAULT_LIMIT, SORTS, Hit, SearchResults
from .normalize import normalize_query, normalize_text

PROMPT = "searchkit> "
MENU_ROWS = 4
"""Rows kept under the prompt for the completion menu (see make_session)."""
BELOW_PAGE_ROWS = 2 + MENU_ROWS
"""Rows a page of hits leaves under it: the "more" line, the prompt (with the menu's room) and
the bottom toolbar."""
FIELD_HELP = {"title": "words in the title", "source": "one source", "date": "YYYY, YYYY-MM, A..B"}

RED, YELLOW = "\x1b[31m", "\x1b[33m"
_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_QUOTES = "\"“”「」『』"


# -- the command table ------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One special command: what it is called, takes and does."""

    name: str
    args: str
    help: str
    aliases: tuple[str, ...] = ()
    choices: str | None = None  # what completes the argument: sources, sorts, hits, commands

    @property
    def usage(self) -> str:
        return f":{self.name} {self.args}".rstrip()


COMMANDS: tuple[Command, ...] = (
    Command("source", "[NAME ...]", "only hits from these sources; alone: every source",
            choices="sources"),
    Command("since", "[DATE]", "only documents dated DATE or later (YYYY, YYYY-MM, YYYY-MM-DD); "
            "alone: no limit"),
    Command("until", "[DATE]", "only documents dated DATE or earlier; alone: no limit"),
    Command("limit", "N", "hits per page (default 10)"),
    Command("snippet", "[N|fit]", "show up to N characters of each hit, wrapped; fit: one or two "
            "lines fitted to the terminal (the default); alone: the setting"),
    Command("sort", "relevance|date", "rank by relevance, or newest first", choices="sorts"),
    Command("original", "", "toggle snippets and titles in the documents' own script (e.g. Traditional)"),
    Command("all", "", "toggle showing every hit: copies of a better hit unfolded (+N similar)"),
    Command("clear", "", "reset source, dates, limit, sort and snippet"),
    Command("next", "", "the next page of hits (Enter on an empty line does it too)",
            aliases=("n",)),
    Command("prev", "", "the previous page of hits", aliases=("p",)),
    Command("open", "N", "read hit N in full, matches highlighted", aliases=("o",),
            choices="hits"),
    Command("timeline", "", "every hit of the query per year (or month), as a bar chart",
            aliases=("t",)),
    Command("sources", "", "the index's sources with document counts"),
    Command("stats", "", "size and make-up of the index"),
    Command("help", "[COMMAND]", "this help, or one command's", aliases=("h", "?"),
            choices="commands"),
    Command("quit", "", "leave the shell (Ctrl-D does too)", aliases=("q", "exit")),
)
_BY_NAME = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}

QUERY_HELP = """\
Type a query to search. Words are ANDed; OR, NOT or -word, (grouping), "exact phrase",
title:WORD, source:NAME, date:2022 or date:2022-01..2022-06. Traditional script works too.
Keys: Tab completes, → takes the grey suggestion from history, Ctrl-C clears the line,
Ctrl-D quits. A query that does not parse is flagged on Enter; Enter again runs it anyway."""


def find_command(name: str) -> Command | None:
    """The command called name (or one of its aliases), if any."""
    return _BY_NAME.get(name.lower())


# -- query helpers (no prompt_toolkit here) -------------------------------------------------


def strip_ansi(text: str) -> str:
    """text without colour codes."""
    return _ANSI_RE.sub("", text)


def wrap_line(line: str, width: int, indent: int = 0) -> list[str]:
    """line cut to width terminal columns (wide characters count two), colour codes kept.

    Continuation lines are indented by indent spaces, so a snippet stays under
    its hit's title instead of wrapping to column 0.
    """
    if width <= indent + 4 or render.display_width(strip_ansi(line)) <= width:
        return [line]
    lines, current, column = [], [], 0
    for piece in re.findall(r"\x1b\[[0-?]*[ -/]*[@-~]|.", line, re.S):
        if piece.startswith("\x1b"):
            current.append(piece)
            continue
        w = render.display_width(piece)
        if column + w > width:
            lines.append("".join(current))
            current, column = [" " * indent], indent
            if piece == " ":
                continue
        current.append(piece)
        column += w
    lines.append("".join(current))
    return lines


def wrap_text(text: str, width: int) -> str:
    """Every line of a results text wrapped to width, hit lines with a hanging indent."""
    out = []
    for line in text.split("\n"):
        plain = strip_ansi(line)
        numbered = re.match(r"\s*\d+\. ", plain)
        indent = len(numbered.group()) if numbered else len(plain) - len(plain.lstrip(" "))
        out.extend(wrap_line(line, width, indent))
    return "\n".join(out)


# -- the shell's state and commands ---------------------------------------------------------


class Shell:
    """The state of one shell session and one method per command.

    ``write`` prints a piece of text (it may hold ANSI colour codes when
    ``color`` is true); ``size`` gives the screen's (rows, columns); ``pager``,
    when given, shows a long text (see :class:`Pager`); without one long texts
    are printed directly.
    """

    def __init__(
        self,
        index: SearchIndex,
        *,
        write: Callable[[str], None],
        color: bool = False,
        size: Callable[[], tuple[int, int]] = lambda: (24, 100),
        pager: Pager | None = None,
    ) -> None:
        self.index = index
        self.write = write
        self.color = color
        self.size = size
        self.pager = pager
        self.sources: list[str] = []
        self.since: str | None = None
        self.until: str | None = None
        self.limit = DEFAULT_LIMIT
        self.sort = SORTS[0]
        self.original = False
        self.unfolded = False  # :all
        self.snippet: int | None = None  # characters a snippet shows; None: fitted to the terminal
        self.query: str | None = None
        self.results: SearchResults | None = None
        self.offset = 0
        self.documents: int | None = None
        self._known_sources: dict[str, int] | None = None

    # -- what the prompt shows ---------------------------------------------------

    def known_sources(self) -> dict[str, int]:
        """The index's sources with their counts (read once)."""
        if self._known_sources is None:
            try:
                self._known_sources = self.index.sources()
            except SearchkitError:
                self._known_sources = {}
        return self._known_sources

    def count_documents(self) -> int:
        """How many documents the index holds (remembered for the toolbar)."""
        try:
            self.documents = self.index.document_count()
        except SearchkitError:  # the toolbar is a nicety: sources() is enough
            self.documents = sum(self.known_sources().values())
        return self.documents

    def toolbar_parts(self) -> list[tuple[str, str]]:
        """The bottom toolbar as (style, text) pairs: index, filters, settings."""
        home = str(Path.home())
        where = str(self.index.path)
        if where.startswith(home + os.sep):
            where = "~" + where[len(home):]
        docs = f" ({render.plural(self.documents, 'document')})" if self.documents is not None else ""
        parts = [("class:bottom-toolbar", f" {where}{docs} │ ")]
        active = "class:bottom-toolbar.active"
        if self.sources:
            parts.append((active, "source: " + ", ".join(self.sources)))
        else:
            parts.append(("class:bottom-toolbar", "all sources"))
        if self.since:
            parts += [("class:bottom-toolbar", " │ "), (active, f"since {self.since}")]
        if self.until:
            parts += [("class:bottom-toolbar", " │ "), (active, f"until {self.until}")]
        parts.append(("class:bottom-toolbar", f" │ limit {self.limit} │ sort {self.sort}"))
        if self.original:
            parts += [("class:bottom-toolbar", " │ "), (active, "original script")]
        if self.unfolded:
            parts += [("class:bottom-toolbar", " │ "), (active, "all hits")]
        if self.snippet:
            parts += [("class:bottom-toolbar", " │ "), (active, f"snippet {self.snippet}")]
        if self.results and self.results.total:
            last = self.offset + len(self.results.hits)
            parts.append(("class:bottom-toolbar",
                          f" │ hits {self.offset + 1}–{last} of {self.results.total_text()}"))
        parts.append(("class:bottom-toolbar", " │ :help "))
        return parts

    def toolbar_text(self) -> str:
        """The bottom toolbar as plain text."""
        return "".join(text for _, text in self.toolbar_parts())

    # -- output ---------------------------------------------------------------

    def say(self, text: str) -> None:
        self.write(text)

    def error(self, message: str) -> None:
        message = render.sanitize(message)  # may quote a query or a file name
        self.write(f"{RED}error:{render.RESET} {message}" if self.color else f"error: {message}")

    def warn(self, message: str) -> None:
        message = render.sanitize(message)
        self.write(f"{YELLOW}warning:{render.RESET} {message}" if self.color
                   else f"warning: {message}")

    def dim(self, text: str) -> str:
        return f"{render.DIM}{text}{render.RESET}" if self.color else text

    # -- the loop ------------------------------------------------------------------

    def run(self, prompt: Callable[[], str]) -> int:
        """Read lines from prompt until Ctrl-D or :quit; returns the exit code.

        prompt raises KeyboardInterrupt (Ctrl-C: the line is dropped) or
        EOFError (Ctrl-D: the shell ends). Errors are printed, never raised.
        """
        while True:
            try:
                line = prompt()
            except KeyboardInterrupt:
                continue
            except EOFError:
                return 0
            try:
                if not self.handle(line):
                    return 0
            except KeyboardInterrupt:
                self.error("interrupted")
            except Exception as exc:  # noqa: BLE001  a bug must not end the session
                self.error(f"{type(exc).__name__}: {exc}")

    def handle(self, line: str) -> bool:
        """Run one line: a :command, a query, or (empty) the next page. False to quit."""
        text = line.strip()
        if not text:
            if self.results is not None:  # the next page, or a word that there is none
                self.cmd_next("")
            return True
        if text[0] in ":：":
            name, _, arg = text[1:].strip().partition(" ")
            command = find_command(name)
            if command is None:
                close = difflib.get_close_matches(name.lower(), list(_BY_NAME), n=1)
                hint = f" (did you mean :{_BY_NAME[close[0]].name}?)" if close else ""
                self.error(f"unknown command ':{name}'{hint}; :help lists them")
                return True
            return getattr(self, f"cmd_{command.name}")(arg.strip()) is not False
        self.search(text)
        return True

    # -- searching -----------------------------------------------------------------

    def search(self, text: str) -> None:
        """Run a new query from its first page."""
        self.query, self.offset = text, 0
        self.show_page()

    def _search(self, offset: int, limit: int, facets: bool = True) -> SearchResults:
        if self.index.refresh():  # another process committed: what the toolbar shows is stale
            self._known_sources = None
            if self.documents is not None:
                self.count_documents()
        return self.index.search(
            self.query, sources=self.sources or None, since=self.since, until=self.until,
            limit=limit, offset=offset, sort=self.sort, original=self.original, facets=facets,
            snippet_chars=self.snippet or self._fitted_snippet_chars(), fold=not self.unfolded,
        )

    def _fitted_snippet_chars(self) -> int:
        """Two lines' worth of characters: the display cuts them to the terminal's columns."""
        rows, columns = self.size()
        return 2 * max(10, columns - 1 - render.HIT_INDENT)

    def show_page(self) -> None:
        """Search for the current query with the current filters and print the page."""
        if self.query is None:
            return
        try:
            results = self._search(self.offset, self.limit)
        except (QuerySyntaxError, BadDateError) as exc:
            # normalize_text keeps the length, so columns index what the user typed
            lenient = q.parse(normalize_text(self.query), lenient=True)
            message = lenient.problems[0].message if lenient.problems else str(exc)
            fallback = lenient.text if lenient.problems else None
            if not fallback:
                self.error(message)
                self.results = None
                return
            self.warn(f"{message}; searching for {render.shorten_query(fallback)} instead")
            self.query = fallback
            try:
                results = self._search(self.offset, self.limit)
            except SearchkitError as again:
                self.error(str(again))
                self.results = None
                return
        except SearchkitError as exc:
            self.error(str(exc))
            self.results = None
            return
        self.results = results
        rows, columns = self.size()
        # Above the page, the query typed; below it, BELOW_PAGE_ROWS.
        text = render.results_text(results, color=self.color, offset=self.offset,
                                   width=max(20, columns - 1), rows=rows - 1 - BELOW_PAGE_ROWS,
                                   whole_snippets=self.snippet is not None)
        self.write(wrap_text(text, max(20, columns - 1)))
        last = self._examined(results)
        if last < results.total:
            more = results.total - last if results.total_exact else f"about {results.total - last:,}"
            self.write(self.dim(f"— {more} more: Enter or :next —"))

    # -- filters and settings -------------------------------------------------------

    def _changed(self, description: str) -> None:
        """Say what a filter is now and show the current query again from its start."""
        self.write(self.dim(description))
        if self.query is not None:
            self.offset = 0
            self.show_page()

    def cmd_source(self, arg: str) -> None:
        if not arg:
            self.sources = []
            return self._changed("source: any")
        try:
            chosen = self._resolve_sources(arg)
        except SearchkitError as exc:  # UnknownSourceError: the same line the CLI prints
            return self.error(str(exc))
        self.sources = chosen
        self._changed("source: " + ", ".join(chosen))

    def _resolve_sources(self, arg: str) -> list[str]:
        """The sources arg names, by the library's rules (a name, an alias, a unique prefix: 羊城)."""
        lowered = {name.lower() for name in self.known_sources()}
        if arg.lower() in lowered:  # a name with spaces in it
            names = [arg]
        else:
            names = [n for n in re.split(r"[,，、\s]+", arg) if n]
        chosen = []
        for name in names:
            found = self.index.resolve_source(name)
            if found not in chosen:
                chosen.append(found)
        return chosen

    def _set_date(self, which: str, arg: str) -> None:
        if arg:
            since, until = (arg, self.until) if which == "since" else (self.since, arg)
            try:
                q.date_span(since, until)
            except BadDateError as exc:
                return self.error(str(exc))
        setattr(self, which, arg or None)
        self._changed(f"{which}: {arg or 'no limit'}")

    def cmd_since(self, arg: str) -> None:
        self._set_date("since", arg)

    def cmd_until(self, arg: str) -> None:
        self._set_date("until", arg)

    def cmd_limit(self, arg: str) -> None:
        if not arg:
            return self.say(f"limit: {self.limit}")
        try:
            limit = int(arg)
        except ValueError:
            limit = 0
        if limit < 1:
            return self.error(f"limit takes a whole number of at least 1, not '{arg}'")
        self.limit = limit
        self._changed(f"limit: {limit}")

    def cmd_snippet(self, arg: str) -> None:
        if not arg:
            return self.say(f"snippet: {self.snippet or 'fit'}")
        if arg.lower() == "fit":
            self.snippet = None
            return self._changed("snippet: fitted to the terminal")
        try:
            chars = int(arg)
        except ValueError:
            chars = 0
        if chars < 1:
            return self.error(f"snippet takes a number of characters of at least 1, or fit; not '{arg}'")
        self.snippet = chars
        self._changed(f"snippet: up to {chars} characters")

    def cmd_sort(self, arg: str) -> None:
        if not arg:
            return self.say(f"sort: {self.sort}")
        choice = [s for s in SORTS if s.startswith(arg.lower())]
        if len(choice) != 1:
            return self.error(f"sort by relevance or date, not '{arg}'")
        self.sort = choice[0]
        self._changed(f"sort: {self.sort}")

    def cmd_original(self, arg: str) -> None:
        self.original = not self.original
        self._changed("titles and snippets in the original script" if self.original
                      else "titles and snippets in Simplified script")

    def cmd_all(self, arg: str) -> None:
        self.unfolded = not self.unfolded
        self._changed("every hit shown, copies too" if self.unfolded
                      else "copies of a better hit folded under it")

    def cmd_clear(self, arg: str) -> None:
        self.sources, self.since, self.until = [], None, None
        self.limit, self.sort, self.snippet = DEFAULT_LIMIT, SORTS[0], None
        self._changed("filters cleared")

    # -- pages and documents ---------------------------------------------------------

    def cmd_next(self, arg: str) -> None:
        if self.results is None:
            return self.error("no results yet: type a query first")
        if self._examined(self.results) >= self.results.total:
            return self.say(self.dim(self._no_more_hits()))
        self.offset += self.limit
        self.show_page()

    def _examined(self, results: SearchResults) -> int:
        """How many of the ranked hits this page and the ones before it account for, folded ones too."""
        return self.offset + len(results.hits) + (results.folded or 0)

    def _no_more_hits(self) -> str:
        """What Enter or :next says on the last page."""
        results = self.results
        if not results.total:
            return f"— no more hits: none for {render.shorten_query(results.query)} —"
        total = render.plural(results.total, "result", count=results.total_text())
        return f"— no more hits: that was the last page of {total} —"

    def cmd_prev(self, arg: str) -> None:
        if self.results is None:
            return self.error("no results yet: type a query first")
        if self.offset == 0:
            return self.say("already on the first page")
        self.offset = max(0, self.offset - self.limit)
        self.show_page()

    def cmd_open(self, arg: str) -> None:
        if self.results is None or not self.results.total:
            return self.error("no hits to open: type a query first")
        try:
            number = int(arg or "1")
        except ValueError:
            number = 0
        if not 1 <= number <= self.results.total:
            return self.error(f"no hit '{arg}': give a number from 1 to {self.results.total}")
        hit = self._hit(number)
        if hit is None:
            return self.error(f"hit {number} is gone: search again")
        try:
            document = self.index.document(hit.id)
        except KeyError:
            return self.error(f"document {hit.id} is no longer in the index")
        spans = find_spans(document.text, self._highlight_terms())
        rows, columns = self.size()
        width = columns if columns < sys.maxsize else None  # no screen: lines as they are
        plain = render.document_text(document, color=False, spans=spans, original=self.original,
                                     width=width)
        lines = sum(max(1, -(-render.display_width(line) // max(1, columns)))
                    for line in plain.split("\n"))
        if self.pager is not None and lines > rows - 2:
            self.pager.show(render.document_text(document, color=self.pager.color, spans=spans,
                                                 original=self.original, width=width))
        else:
            self.write(render.document_text(document, color=self.color, spans=spans,
                                            original=self.original, width=width))

    def cmd_timeline(self, arg: str) -> None:
        if self.results is None:
            return self.error("no results yet: type a query first")
        rows, columns = self.size()
        self.write(render.timeline_text(self.results, columns, color=self.color))

    def _hit(self, number: int) -> Hit | None:
        index = number - 1 - self.offset
        if 0 <= index < len(self.results.hits):
            return self.results.hits[index]
        found = self._search(number - 1, 1, facets=False)
        return found.hits[0] if found.hits else None

    def _highlight_terms(self) -> list[str]:
        """The query's words, and the words the engine marked in the snippets."""
        terms = set(self.results.terms if self.results else ())
        for hit in self.results.hits if self.results else ():
            for start, end in hit.highlights:
                terms.add(normalize_query(hit.snippet[start:end]))
        return sorted(t for t in terms if t)

    # -- about the index and the shell -----------------------------------------------

    def cmd_sources(self, arg: str) -> None:
        self._known_sources = None
        self.write(render.sources_text(self.known_sources()))

    def cmd_stats(self, arg: str) -> None:
        try:
            self.write(render.stats_text(self.index.stats()))
        except SearchkitError as exc:
            self.error(str(exc))

    def cmd_help(self, arg: str) -> None:
        if arg:
            command = find_command(arg.lstrip(":："))
            if command is None:
                return self.error(f"no command ':{arg.lstrip(':：')}'; :help lists them")
            aliases = ", ".join(":" + a for a in command.aliases)
            self.write(f"{command.usage}  {command.help}" + (f" (also {aliases})" if aliases else ""))
            return
        width = max(render.display_width(c.usage) for c in COMMANDS)
        lines = [QUERY_HELP, ""]
        for command in COMMANDS:
            usage = render.pad(command.usage, width)
            also = f" (also {', '.join(':' + a for a in command.aliases)})" if command.aliases else ""
            lines.append(f"  {render.BOLD}{usage}{render.RESET}  {command.help}{also}" if self.color
                         else f"  {usage}  {command.help}{also}")
        self.write("\n".join(lines))

    def cmd_quit(self, arg: str) -> bool:
        return False


# -- the pager ----------------------------------------------------------------------------


class Pager:
    """Shows long texts through $PAGER or less (with colour when it is less)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.color = Path(command[0]).name == "less"

    @classmethod
    def find(cls, *, color: bool = True) -> Pager | None:
        """The user's pager, or less, or None (then texts are printed directly).

        color False keeps colour from less too (``--color never``, NO_COLOR).
        """
        configured = os.environ.get("PAGER", "").strip()
        command = shlex.split(configured) if configured else (["less"] if shutil.which("less") else [])
        if not command or not shutil.which(command[0]):
            return None
        if Path(command[0]).name == "less" and "-R" not in command:
            command.append("-R")
        pager = cls(command)
        pager.color = pager.color and color
        return pager

    def show(self, text: str) -> None:
        process = subprocess.Popen(self.command, stdin=subprocess.PIPE)
        try:
            process.stdin.write(text.encode("utf-8"))
            process.stdin.close()
        except OSError:  # the reader quit early
            pass
        while True:  # like pydoc: Ctrl-C belongs to the pager
            try:
                process.wait()
                break
            except KeyboardInterrupt:
                continue


# -- prompt_toolkit: completion, colouring, validation --------------------------------------


class ShellCompleter(Completer):
    """Completes commands and their arguments, field names and source names."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    def get_completions(self, document: PromptDocument, complete_event) -> Iterator[Completion]:
        before = document.text_before_cursor.lstrip()
        if before[:1] in (":", "："):
            yield from self._command_completions(before[1:])
        else:
            yield from self._query_completions(before)

    def _command_completions(self, body: str) -> Iterator[Completion]:
        if " " not in body:
            for command in COMMANDS:
                if command.name.startswith(body.lower()):
                    yield Completion(command.name, start_position=-len(body),
                                     display=command.usage, display_meta=command.help)
            return
        name, _, arg = body.partition(" ")
        command = find_command(name)
        if command is None or command.choices is None:
            return
        word = re.split(r"[,，、\s]", arg)[-1]
        for value, meta in self._choices(command.choices):
            if _matches(value, word):
                yield Completion(value, start_position=-len(word), display_meta=meta)

    def _choices(self, kind: str) -> Iterable[tuple[str, str]]:
        if kind == "sources":
            return [(name, render.plural(count, "document"))
                    for name, count in self.shell.known_sources().items()]
        if kind == "sorts":
            return [("relevance", "best match first"), ("date", "newest first")]
        if kind == "commands":
            return [(c.name, c.help) for c in COMMANDS]
        if kind == "hits" and self.shell.results:
            start = self.shell.offset + 1
            return [(str(n), render.sanitize(hit.title)[:40])
                    for n, hit in enumerate(self.shell.results.hits, start)]
        return []

    def _query_completions(self, before: str) -> Iterator[Completion]:
        word = re.search(r"[^\s()（）]*$", before).group().lstrip("-")
        field = re.fullmatch(r"([A-Za-z]+)[:：](.*)", word)
        if field:
            if field.group(1).lower() != "source":
                return
            partial = field.group(2)
            for name, count in self.shell.known_sources().items():
                if _matches(name, partial.lstrip('"')):
                    text = f'"{name}"' if " " in name else name
                    yield Completion(text, start_position=-len(partial),
                                     display_meta=render.plural(count, "document"))
            return
        if not re.fullmatch(r"[A-Za-z]+", word):
            return
        for name in q.FIELDS:
            if name.startswith(word.lower()):
                yield Completion(name + ":", start_position=-len(word),
                                 display_meta=FIELD_HELP.get(name, ""))
        if word.isupper():
            for operator in q.OPERATORS:
                if operator.startswith(word) and operator != word:
                    yield Completion(operator, start_position=-len(word), display_meta="operator")


def _matches(value: str, typed: str) -> bool:
    """Completion match: a prefix, or (for CJK names) anywhere in the value."""
    return value.lower().startswith(typed.lower()) or (bool(typed) and typed.lower() in value.lower())


_LEX_RE = re.compile(
    rf"""
    (?P<space>\s+)
  | (?P<paren>[()（）])
  | (?P<field>[A-Za-z]+[:：])
  | (?P<phrase>[{_QUOTES}][^{_QUOTES}]*[{_QUOTES}]?)
  | (?P<minus>-(?=\S))
  | (?P<word>[^\s()（）{_QUOTES}]+)
    """,
    re.VERBOSE,
)


class QueryLexer(Lexer):
    """Colours a query (fields, phrases, operators, -) and a :command line."""

    def lex_document(self, document: PromptDocument):
        lines = document.lines

        def get_line(number: int) -> list[tuple[str, str]]:
            line = lines[number] if number < len(lines) else ""
            if line.lstrip()[:1] in (":", "："):
                return lex_command(line)
            return lex_query(line)

        return get_line


def lex_command(line: str) -> list[tuple[str, str]]:
    """(style, text) pieces of a :command line."""
    match = re.match(r"(\s*[:：])(\S*)(\s*)(.*)", line, re.S)
    prefix, name, space, arg = match.groups()
    command = find_command(name)
    style = "class:command" if command or not name else "class:error"
    pieces = [("class:command", prefix), (style, name), ("", space)]
    arg_style = "class:argument"
    if command and command.name in ("since", "until") and arg.strip():
        try:
            q.parse_date(arg.strip())
        except SearchkitError:
            arg_style = "class:error"
    return pieces + [(arg_style, arg)] if arg else pieces


def lex_query(line: str) -> list[tuple[str, str]]:
    """(style, text) pieces of a query line."""
    pieces: list[tuple[str, str]] = []
    after_field = False
    for match in _LEX_RE.finditer(line):
        kind, text = match.lastgroup, match.group()
        if kind == "field":
            known = text[:-1].lower() in q.FIELDS
            pieces.append(("class:field" if known else "class:error", text))
            after_field = True
            continue
        if kind == "phrase":
            style = "class:field-value" if after_field else "class:phrase"
        elif kind == "word":
            style = ("class:field-value" if after_field
                     else "class:operator" if text in q.OPERATORS else "")
        elif kind == "minus":
            style = "class:operator"
        elif kind == "paren":
            style = "class:paren"
        else:
            style = ""
        pieces.append((style, text))
        after_field = False
    return pieces


class QueryValidator(Validator):
    """Flags a query that does not parse, with the cursor on the problem.

    Lenient: Enter again on the same text lets it through, and the shell then
    runs a best-effort version of it. :commands are checked when they run.
    """

    def __init__(self) -> None:
        self._flagged: str | None = None

    def validate(self, document: PromptDocument) -> None:
        text = document.text
        if not text.strip() or text.lstrip()[:1] in (":", "："):
            return
        problems = q.parse(normalize_text(text), lenient=True).problems
        if not problems or text == self._flagged:
            self._flagged = None
            return
        self._flagged = text
        message, column = problems[0].message, problems[0].column
        position = min(len(text), column - 1) if column else len(text)
        raise ValidationError(cursor_position=position,
                              message=f"{message} (Enter again to search anyway)")


STYLE = Style.from_dict({
    "prompt": "ansigreen bold",
    "command": "ansiblue bold",
    "argument": "ansicyan",
    "field": "ansicyan bold",
    "field-value": "ansicyan",
    "phrase": "ansigreen",
    "operator": "ansimagenta bold",
    "paren": "ansiyellow",
    "error": "ansired underline",
    "bottom-toolbar": "noreverse bg:#303030 #c0c0c0",
    "bottom-toolbar.active": "noreverse bg:#303030 #ffd75f bold",
    "validation-toolbar": "bg:#5f0000 #ffffff",
})


def history_path() -> Path:
    """$XDG_STATE_HOME/searchkit/history (default ~/.local/state/searchkit/history)."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "searchkit" / "history"


def open_history() -> History:
    """The persistent history, or one in memory when its file cannot be made."""
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def key_bindings() -> KeyBindings:
    """Enter on a flagged query submits it (prompt_toolkit would not ask the validator again)."""
    bindings = KeyBindings()

    @Condition
    def flagged() -> bool:
        from prompt_toolkit.application import get_app

        return get_app().current_buffer.validation_error is not None

    @bindings.add("enter", filter=flagged)
    def _(event) -> None:
        buffer = event.current_buffer
        buffer.validation_state = ValidationState.UNKNOWN
        buffer.validate_and_handle()

    return bindings


def make_session(shell: Shell, *, input=None, output=None, history: History | None = None,
                 color_depth: ColorDepth | None = None) -> PromptSession:
    """The prompt: history, suggestions, completion, colouring, validation, toolbar."""
    return PromptSession(
        [("class:prompt", PROMPT)],
        history=history if history is not None else open_history(),
        auto_suggest=AutoSuggestFromHistory(),
        completer=ShellCompleter(shell),
        complete_while_typing=True,
        # prompt_toolkit keeps 8 rows under the prompt for the completion menu by default:
        # with them a page of ten hits scrolls its header off a 40-row screen. With 4 the
        # query typed, the page and the prompt take 39 rows; a longer menu opens above.
        reserve_space_for_menu=MENU_ROWS,
        lexer=QueryLexer(),
        validator=QueryValidator(),
        validate_while_typing=False,
        bottom_toolbar=shell.toolbar_parts,
        style=STYLE,
        key_bindings=key_bindings(),
        input=input,
        output=output,
        color_depth=color_depth,
    )


# -- the entry point ---------------------------------------------------------------------


def _warm_up(shell: Shell, on_ready: Callable[[], None]) -> None:
    """Do the first search's one-time work and count documents while the user types."""
    try:
        shell.index.warm_up()
    except Exception:  # noqa: BLE001  the first real query will say what is wrong
        pass
    shell.count_documents()
    on_ready()


def run_shell(index_dir: Path, build_from: Path | None = None, *, color: str = "auto",
              input=None, output=None, allow_partial: bool = False, cluster: str | None = None) -> int:
    """Open the index at index_dir (building it from build_from on first use) and run the shell.

    color is auto, always or never (``--color``; auto honours NO_COLOR, see
    render.use_color). Returns the exit code. input/output are prompt_toolkit
    objects, for tests. ``cluster`` serves a sharded index's shards by Dask
    actors there (see SearchIndex.open).
    """
    def notice(message: str) -> None:
        print(f"searchkit: {render.sanitize(message)}", file=sys.stderr, flush=True)

    try:
        index = SearchIndex.open(index_dir, build_from=build_from, notice=notice,
                                 allow_partial=allow_partial, cluster=cluster)
    except SearchkitError as exc:
        print(f"searchkit: error: {render.error_text(exc)}", file=sys.stderr)
        return 1
    with index:
        if input is None and not sys.stdin.isatty():
            return _run_plain(index, color=color == "always")
        output = output or create_output()
        colored = render.use_color(color, sys.stdout) if input is None else color == "always"
        # prompt_toolkit's own colours (prompt, toolbar, query) follow the same choice; its
        # output is monochrome under NO_COLOR, which --color always overrides
        depth = output.get_default_color_depth() if colored else ColorDepth.MONOCHROME
        if colored and depth == ColorDepth.MONOCHROME:
            depth = ColorDepth.DEFAULT

        def write(text: str) -> None:
            print_formatted_text(ANSI(text), output=output, color_depth=depth)

        def size() -> tuple[int, int]:
            got = output.get_size()
            return got.rows, got.columns

        interactive = input is None and sys.stdout.isatty()
        shell = Shell(index, write=write, color=colored, size=size,
                      pager=Pager.find(color=colored) if interactive else None)
        session = make_session(shell, input=input, output=output, color_depth=depth)
        sources = shell.known_sources()
        shell.write(f"searchkit shell · {index_dir} · {render.plural(len(sources), 'source')} · "
                    f"type a query, :help for commands, Ctrl-D to quit")
        threading.Thread(target=_warm_up, args=(shell, session.app.invalidate),
                         daemon=True, name="searchkit-warm-up").start()
        return shell.run(session.prompt)


def _run_plain(index: SearchIndex, *, color: bool = False) -> int:
    """The shell without a terminal: one line at a time from stdin, no prompt."""
    shell = Shell(index, write=print, color=color, size=lambda: (sys.maxsize, sys.maxsize))

    def read() -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line

    return shell.run(read)
