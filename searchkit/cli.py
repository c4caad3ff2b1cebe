"""The searchkit command: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, render
from .engine import SearchIndex
from .errors import IndexNotFoundError, SearchkitError
from .duplicates import DEFAULT_THRESHOLD
from .models import DEFAULT_LIMIT, DEFAULT_SNIPPET_CHARS, SORTS

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A problem found after argument parsing."""


class UsageError(CliError):
    """The command was called wrongly: its usage is printed with the message."""


class Parser(argparse.ArgumentParser):
    """The top-level parser; it knows the search command's options (see split_query_words)."""

    search: argparse.ArgumentParser
    search_options: dict[str, bool]
    """Each option string of search ("--limit", "-h") and whether it takes a value."""


QUERY_WORDS_HELP = """\
Query words need no quotes: `searchkit search 使用者 帳號` searches for "使用者 帳號".
Options may come anywhere on the line. An argument is an option only if it is -h, or
starts with -- and a letter (--limit 5, --limit=5, --json; a unique start such as --lim
works too, and an unknown one is an error). Any other argument is query text, so
`searchkit search 韶关 -民政` excludes 民政. Everything after a lone -- is query text:
`searchkit search --json -- --verbose` searches for "--verbose"."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the searchkit command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv and sys.stdin.isatty() and sys.stdout.isatty():
        argv = ["shell"]
    parser = build_parser()
    words = None
    if argv[:1] == ["search"]:
        try:
            options, words = split_query_words(argv[1:], parser.search_options)
        except UsageError as exc:
            parser.search.error(render.sanitize(str(exc)))  # exits with the usage and code 2
        argv = ["search", *options]
    args = parser.parse_args(argv)
    if words is not None:
        args.query = " ".join(words)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except UsageError as exc:
        sys.stderr.write(args.usage)
        print(f"searchkit {args.command}: error: {render.sanitize(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except (SearchkitError, CliError) as exc:
        # Messages quote queries and file names: never let them drive the terminal.
        print(f"searchkit: error: {render.error_text(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("searchkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): nothing left to say
        return EXIT_OK


def build_parser() -> Parser:
    """The argument parser of every subcommand."""
    parser = Parser(
        prog="searchkit",
        description="Full-text search for Chinese documents (Simplified and Traditional).",
    )
    parser.add_argument("--version", action="version", version=f"searchkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    index = commands.add_parser("index", help="build or update an index from files",
                                description="Index files and directories. The index records "
                                "its roots: with no PATH they are all re-scanned (a new default "
                                "index is built from seeds/); naming paths updates those only. "
                                "Incremental: new files are added, changed ones replaced, "
                                "vanished ones removed.")
    index.add_argument("paths", nargs="*", metavar="PATH",
                       help="files or directories to index (a path inside a root updates that part)")
    _add_index_option(index)
    index.add_argument("--remove", action="append", default=[], metavar="ROOT",
                       help="forget this root and remove its documents (repeatable; a path or a label)")
    index.add_argument("--include", action="append", metavar="GLOB",
                       help="index only files matching GLOB (repeatable; recorded for re-scans; "
                       "'' clears)")
    index.add_argument("--exclude", action="append", metavar="GLOB",
                       help="leave out files matching GLOB (repeatable; recorded for re-scans; '' clears)")
    index.add_argument("--rebuild", action="store_true", help="start from scratch (every root)")
    index.add_argument("--userdict", metavar="FILE", help="a jieba user dictionary for this index")
    index.add_argument("--workers", type=_positive, metavar="N",
                       help="processes to index with (default: one per core)")
    index.add_argument("--shards", type=_positive, metavar="N",
                       help="build a sharded index of N shards, on a Dask cluster "
                       "(needs searchkit[cluster]; see the README)")
    index.add_argument("--shards-by", choices=("year", "month"),
                       help="build a sharded index of a shard a year (or month) of the documents' "
                       "dates and one of the undated: --since/--until then search only the shards "
                       "they can match")
    index.add_argument("--cluster", metavar="ADDRESS",
                       help="build (or update) the shards on the Dask scheduler at ADDRESS "
                       "(tcp://HOST:8786); default: a local cluster started for the run")
    index.set_defaults(handler=cmd_index)

    search = commands.add_parser("search", help="search the index", add_help=False,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 description="Search the index. Words are ANDed; OR, NOT, -word, "
                                 "(...), \"exact phrase\",\ntitle:, source:, date:2022-01..2022-06.",
                                 epilog=QUERY_WORDS_HELP)
    options: dict[str, bool] = {}

    def option(*names: str, **kwargs) -> None:
        action = search.add_argument(*names, **kwargs)
        options.update(dict.fromkeys(action.option_strings, action.nargs != 0))

    search.add_argument("query", nargs="*", metavar="WORD",
                        help="the query, quoted or not (omit with --batch)")
    option("-h", "--help", action="help", help="show this help message and exit")
    option("--index", **_INDEX_OPTION)
    option("--source", action="append", metavar="NAME",
           help="only this source (repeatable; a name, an alias or a unique prefix: 羊城)")
    option("--since", metavar="DATE", help="from this date: YYYY, YYYY-MM or YYYY-MM-DD")
    option("--until", metavar="DATE", help="up to this date (inclusive)")
    option("--limit", type=_positive, default=DEFAULT_LIMIT, metavar="N",
           help=f"hits per page ({DEFAULT_LIMIT})")
    option("--page", type=_positive, default=1, metavar="N", help="page number (1)")
    option("--sort", choices=SORTS, default=SORTS[0])
    option("--json", action="store_true", help="print one JSON object")
    option("--original", action="store_true", help="show snippets and titles in the document's original script")
    option("--snippet", type=_positive, metavar="N",
           help="show up to N characters of each hit, wrapped (default: fitted to the terminal "
           f"in one or two lines; JSON: {DEFAULT_SNIPPET_CHARS})")
    option("--timeline", action="store_true",
           help="draw the hits per year (or month) as a bar chart instead of listing them")
    option("--color", **_COLOR_OPTION)
    option("--all", action="store_true",
           help="show every hit: do not fold copies of a better hit under it")
    option("--batch", metavar="FILE",
           help="run one query per line of FILE ('-' for stdin), print JSON lines")
    option("--allow-partial", action="store_true",
           help="of a sharded index, search the shards that can be read (results name the others)")
    option("--cluster", dest="serve", metavar="ADDRESS", help=_SERVE_HELP)
    search.set_defaults(handler=cmd_search, usage=search.format_usage())
    parser.search, parser.search_options = search, options

    show = commands.add_parser("show", help="print one document in full")
    show.add_argument("id", help="the document id (as search prints it)")
    _add_index_option(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--original", action="store_true", help="in the document's original script")
    show.add_argument("--color", **_COLOR_OPTION)
    show.set_defaults(handler=cmd_show)

    sources = commands.add_parser("sources", help="list sources with document counts")
    _add_index_option(sources)
    sources.add_argument("--json", action="store_true", help="print JSON")
    sources.set_defaults(handler=cmd_sources)

    stats = commands.add_parser("stats", help="size and make-up of the index")
    _add_index_option(stats)
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=cmd_stats)

    verify = commands.add_parser("verify", help="read every index file and check it against its checksum",
                                 description="Read every file of the index and compare it with the "
                                 "checksum recorded when it was written (opening an index checks only "
                                 "what is cheap to check). Exit code 1 and one line when a file is damaged.")
    _add_index_option(verify)
    verify.set_defaults(handler=cmd_verify)

    _add_duplicates_parser(commands)

    shell = commands.add_parser("shell", help="interactive search shell")
    _add_index_option(shell)
    shell.add_argument("--allow-partial", action="store_true",
                       help="of a sharded index, search the shards that can be read")
    shell.add_argument("--cluster", dest="serve", metavar="ADDRESS", help=_SERVE_HELP)
    shell.add_argument("--color", **_COLOR_OPTION)
    shell.set_defaults(handler=cmd_shell)
    return parser


_SERVE_HELP = ("serve the shards of a sharded index by Dask actors on the scheduler at ADDRESS "
               "(tcp://HOST:8786), or 'local': a cluster started here (needs searchkit[cluster])")

_COLOR_OPTION = dict(
    choices=render.COLOR_CHOICES, default="auto", metavar="WHEN",
    help="colour: auto (on a terminal, unless NO_COLOR is set and not empty), always or never")


def split_query_words(argv: Sequence[str], options: dict[str, bool]) -> tuple[list[str], list[str]]:
    """The search command's arguments, split into options (with their values) and query words.

    An argument is an option if it is one of options' names, or starts with ``--``
    and an ASCII letter and holds no space (``--limit=5``; a unique start of a name
    works, as in argparse). Every other argument is a query word: ``-民政``,
    ``-foo``, ``-2022``, ``-``, ``"-h 韶关"``; so is everything after a lone ``--``.
    An option's value is the next argument, whatever it looks like. Options come
    back as ``--name`` or ``--name=value``. Raises UsageError for ``--word`` that
    names no option, or more than one.
    """
    rest: list[str] = []
    words: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--":
            words.extend(arguments)
            break
        name = _option_name(argument, options)
        if name is None:
            words.append(argument)
        elif "=" in argument:
            rest.append(name + argument[argument.index("="):])
        elif options[name]:
            value = next(arguments, None)
            # name=value, so that argparse takes a value such as "-5" or "--x" as given
            rest.append(name if value is None else f"{name}={value}")
        else:
            rest.append(name)
    return rest, words


def _option_name(argument: str, options: dict[str, bool]) -> str | None:
    """The option argument names, or None when it is query text."""
    if argument in options:
        return argument
    if not re.match(r"--[A-Za-z]", argument) or re.search(r"\s", argument):
        return None
    given = argument.split("=", 1)[0]
    if given in options:
        return given
    candidates = [name for name in options if name.startswith(given)]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise UsageError(f"option {given} is ambiguous: {', '.join(sorted(candidates))}")
    raise UsageError(f"unknown option {given} (query text that starts with -- goes after a "
                     f"lone --: searchkit search -- {argument})")


_INDEX_OPTION = dict(metavar="DIR", default=None,
                     help="index directory (default: $SEARCHKIT_INDEX or ./index)")


def _add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", **_INDEX_OPTION)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _notice(message: str) -> None:
    print(f"searchkit: {render.sanitize(message)}", file=sys.stderr)


def default_index_dir() -> Path:
    """The index used when none is named: $SEARCHKIT_INDEX, else ./index."""
    return Path(os.environ.get("SEARCHKIT_INDEX") or "index")


def default_corpus() -> Path | None:
    """The corpus indexed on first use: ./seeds, else the seeds beside the package."""
    for candidate in (Path("seeds"), Path(__file__).resolve().parent.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


def open_index(args: argparse.Namespace) -> SearchIndex:
    """Open the index named by --index; build the default one on first use."""
    if args.index:
        return SearchIndex.open(args.index, allow_partial=getattr(args, "allow_partial", False),
                                cluster=getattr(args, "serve", None))
    return SearchIndex.open(default_index_dir(), build_from=default_corpus(), notice=_notice,
                            cluster=getattr(args, "serve", None))


def cmd_index(args: argparse.Namespace) -> int:
    from .shards import is_sharded  # only here: a search of one index does not load it

    index_dir = args.index or default_index_dir()
    sharded = bool(args.shards or args.shards_by or args.cluster or is_sharded(index_dir))
    # Sharded, the bar adds up the bytes every shard reads (each walks the corpus).
    progress = ProgressBar(label="indexing shards" if sharded else "indexing") if sys.stderr.isatty() else None
    options = dict(rebuild=args.rebuild, userdict=args.userdict, progress=progress, warn=_notice,
                   workers=args.workers, remove=args.remove,
                   include=_globs(args.include), exclude=_globs(args.exclude))
    if sharded:
        # Shards are built on Dask: a cluster started for the run unless one is named.
        options.update(shards=args.shards, shards_by=args.shards_by, cluster=args.cluster or "local")
    try:
        try:
            report = SearchIndex.build(index_dir, args.paths, **options)
        except IndexNotFoundError:
            # Only the default index, on first use, is built from the seeds.
            if args.paths or args.remove or args.index:
                raise
            report = SearchIndex.build(index_dir, [default_corpus() or "seeds"], **options)
    finally:
        if progress:  # clear the bar, also for an error or "interrupted" to take its line
            sys.stderr.write("\r\x1b[K")
    print(render.report_text(report))
    return EXIT_OK


def _globs(given: list[str] | None) -> list[str] | None:
    """The globs given (None: none given, keep the recorded ones); an empty one clears them."""
    return None if given is None else [glob for glob in given if glob]


class ProgressBar:
    """The indexing progress line on a terminal: a bar, megabytes, rate and time left.

    The rate is measured from the first report on (the time before it went to
    finding files and starting workers, not to indexing); the line is fitted to
    the terminal's width at each report, so a resized window gets no wrapped lines.
    """

    def __init__(self, stream=None, clock: Callable[[], float] = time.monotonic, label: str = "indexing") -> None:
        self.stream = stream or sys.stderr
        self.clock = clock
        self.label = label
        self.first: tuple[float, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self.first is None:
            self.first = (now, done)
        start, start_done = self.first
        rate = (done - start_done) / (now - start) if now > start and done > start_done else None
        line = render.progress_text(done, total, rate, self.columns(), self.label)
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()

    def columns(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            return 80


def cmd_search(args: argparse.Namespace) -> int:
    if args.batch is None and not (args.query or "").strip():
        raise UsageError("empty query. Try: searchkit search 数据中心  "
                       "(words are ANDed; OR, NOT, \"phrase\", title:, source:, date: work too)")
    if args.batch is not None and args.query:
        raise UsageError("give either a query or --batch, not both")
    columns, rows = terminal_size(sys.stdout)
    if args.batch is not None and args.timeline:
        raise UsageError("--timeline draws the chart of one query, not of a --batch")
    options = dict(sources=args.source, since=args.since, until=args.until, limit=args.limit,
                   offset=(args.page - 1) * args.limit, sort=args.sort, original=args.original,
                   snippet_chars=args.snippet or DEFAULT_SNIPPET_CHARS, fold=not args.all)
    if not (args.json or args.batch is not None or args.snippet):
        # Two lines' worth of characters at most: the display cuts them to its columns.
        options["snippet_chars"] = 2 * max(10, columns - 1 - render.HIT_INDENT)
    with open_index(args) as index:
        if args.source:  # an unknown name is one error, not one per query of a batch
            options["sources"] = [index.resolve_source(name) for name in args.source]
        if args.batch is not None:
            return _run_batch(index, args.batch, options)
        results = index.search(args.query, **options)
    if args.json:
        print(render.results_json(results))
        return EXIT_OK
    color = render.use_color(args.color, sys.stdout)
    if args.timeline:
        print(render.timeline_text(results, columns, color=color))
    else:
        # The command line and the next prompt take a line each.
        print(render.results_text(results, color=color, offset=options["offset"], width=columns - 1,
                                  rows=None if rows is None else rows - 2,
                                  whole_snippets=bool(args.snippet)))
    return EXIT_OK


def terminal_size(stream) -> tuple[int, int | None]:
    """(columns, rows) of the terminal stream writes to: $COLUMNS and $LINES first, as
    shutil has it; 80 columns and no rows (None) for a pipe or a file without them."""
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, rows = size.columns, size.lines
    except (AttributeError, ValueError, OSError):
        columns, rows = 80, None
    columns = _env_number("COLUMNS") or columns or 80
    rows = _env_number("LINES") or rows or None
    return max(20, columns), rows


def _env_number(name: str) -> int | None:
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _run_batch(index: SearchIndex, source: str, options: dict) -> int:
    try:
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")
    except OSError as exc:
        raise CliError(f"cannot read {source}: {exc.strerror}") from None
    failures = 0
    with stream:
        for number, line in enumerate(_lines(stream, source), 1):
            query = _batch_query(line, source, number)
            if not query:
                continue
            try:
                print(render.results_json(index.search(query, **options)), flush=True)
            except SearchkitError as exc:
                failures += 1
                print(render.to_json({"query": query, "total": 0, "partial": False, "hits": [],
                                      "error": str(exc)}), flush=True)
    return EXIT_ERROR if failures else EXIT_OK


def _lines(stream, source: str):
    """The lines of a binary stream; a read error is one CliError."""
    try:
        yield from stream
    except OSError as exc:
        raise CliError(f"cannot read {source}: {exc.strerror}") from None


def _batch_query(line: bytes, source: str, number: int) -> str:
    """One line of a batch file as a query; a line that is not UTF-8 text stops the batch."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{'stdin' if source == '-' else source} line {number} is not UTF-8 text "
                       f"(byte {exc.start + 1})") from None
    if "\0" in text:
        raise CliError(f"{'stdin' if source == '-' else source} line {number} holds a NUL byte: "
                       "not a text file of queries")
    return text.strip()


def cmd_show(args: argparse.Namespace) -> int:
    with open_index(args) as index:
        try:
            document = index.document(args.id)
        except KeyError:
            raise CliError(f"no document with id {args.id!r} (ids are printed by search)") from None
    if args.json:
        print(render.document_json(document))
    else:
        print(render.document_text(document, color=render.use_color(args.color, sys.stdout),
                                   original=args.original, width=render.reading_width(sys.stdout)))
    return EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    with open_index(args) as index:
        sources = index.sources()
    print(render.to_json(sources) if args.json else render.sources_text(sources))
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    with open_index(args) as index:
        stats = index.stats()
    if args.json:
        print(render.to_json(stats.__dict__))
    else:
        print(render.stats_text(stats))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    with open_index(args) as index:
        verified = index.verify()
    print(f"index at {render.sanitize(str(index.path))} is intact: "
          f"{render.plural(verified.files, 'file')}, "
          f"{verified.bytes / 1e6:.2f} MB verified")
    return EXIT_OK


def _add_duplicates_parser(commands) -> None:
    duplicates = commands.add_parser(
        "duplicates", help="list clusters of near-duplicate documents",
        description="List clusters of documents that are copies of one another (reprints, "
        "excerpts, copies with small edits, in either script), each with how much of the "
        "smaller document the cluster's first (largest) one holds.")
    _add_index_option(duplicates)
    duplicates.add_argument("--threshold", type=_share, default=DEFAULT_THRESHOLD, metavar="T",
                            help=f"least similarity that joins two documents, above 0 and at most 1 "
                            f"({DEFAULT_THRESHOLD})")
    duplicates.add_argument("--json", action="store_true", help="print one JSON object")
    duplicates.set_defaults(handler=cmd_duplicates)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a number above 0 and at most 1, not '{text}'")
    return value


def cmd_duplicates(args: argparse.Namespace) -> int:
    with open_index(args) as index:
        clusters = index.duplicates(args.threshold)
    if args.json:
        print(render.to_json({"threshold": args.threshold,
                              "clusters": [cluster.to_json() for cluster in clusters]}))
    else:
        print(render.clusters_text(clusters))
    return EXIT_OK


def cmd_shell(args: argparse.Namespace) -> int:
    from .shell import run_shell

    index_dir = Path(args.index) if args.index else default_index_dir()
    return run_shell(index_dir, build_from=None if args.index else default_corpus(), color=args.color,
                     allow_partial=args.allow_partial, cluster=args.serve)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
