"""The systems the harness compares: searchkit and the baselines a user would set up instead.

Every system indexes the same documents: searchkit indexes the corpus directory (or
JSON Lines file) itself; the baselines index the text searchkit's loaders extract from it
(``searchkit.loaders.load_corpus``: each document's title, its text, and an HTML page's
meta keywords and description, which searchkit also indexes), so only the engine
differs. The loaders' text is already in Simplified script (OpenCC ``t2s``, width folded),
and every baseline converts its queries with the same ``t2s`` (searchkit's fast copy,
identical output). A Whoosh or bm25s user would not convert at all, and would then lose
every cross-script query by construction; converting both sides is the stronger and more
honest comparison. Each baseline asks for 100 hits (Recall@100).

* ``searchkit``: ``SearchIndex.build(DIR, [corpus])``, ``SearchIndex.search(query,
  limit=100)``, without cutting snippets unless ``--snippets`` (see ``skip_snippets``). A
  query searchkit refuses (a syntax error) counts as no hits, and as refused.
* ``whoosh-or`` / ``whoosh-and``: Whoosh 2.7 with jieba's ``ChineseAnalyzer`` on ``title``
  and ``content`` (``TEXT`` fields, default BM25F, one default writer), queried with a
  ``MultifieldParser`` over both fields grouping the query's words with ``OrGroup`` or
  with the default ``AndGroup``: the set-up of jieba's own Whoosh example, with titles
  searched too. One index serves both.
* ``bm25s``: bm25s (default BM25 parameters) over ``jieba.cut`` words of title and text
  as one bag of words (lower-cased, blanks dropped); the query's distinct words that hold a
  letter or digit, documents with a score above 0 (``benchmarks/peers.py``'s set-up).
* ``fts5``: SQLite FTS5 with ``tokenize='trigram'`` over title and text, ranked by
  ``bm25()``. The query's blank-separated terms of three or more characters are ANDed in
  ``MATCH`` (each quoted, so punctuation is literal); a shorter term, which trigrams
  cannot match, becomes an ``instr()`` filter on title or text, and a query of only short
  terms is answered by those filters, unranked (``benchmarks/peers.py``'s set-up).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

LIMIT = 100
# A query -> ranked document ids (at most LIMIT), or None when the system refuses the query.
Searcher = Callable[[str], "list[str] | None"]
SEARCHKIT = Path(__file__).resolve().parents[2] / "searchkit"

# searchkit modules that act at query time only: a change to them needs no new index.
# Every other module (a new one included) is taken to shape the index, and rebuilds it.
QUERY_TIME = {"engine.py", "ranking.py", "compiler.py", "query.py", "highlight.py", "render.py",
              "cli.py", "shell.py", "__main__.py", "errors.py", "integrity.py",
              "internals/queries.py"}
# What decides the documents' text as the loaders give it to the baselines.
LOADER_FILES = ("loaders.py", "roff.py", "normalize.py", "sources.py", "models.py",
                "internals/opencc_tables.py", "data/labels.json", "data/sources.json",
                "data/filetypes.json")


def searchkit_package() -> Path:
    """The searchkit package that is imported (a worktree's under PYTHONPATH)."""
    import searchkit

    return Path(searchkit.__file__).resolve().parent


def digest(paths: list[Path], *extra: str) -> str:
    """A short hash of files' bytes (and names) and extra strings."""
    sha = hashlib.sha1()
    for path in sorted(paths):
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for value in extra:
        sha.update(value.encode() + b"\0")
    return sha.hexdigest()[:12]


def index_fingerprint() -> str:
    """Hash of the searchkit sources that shape an index (every one not in QUERY_TIME)."""
    package = searchkit_package()
    files = [p for p in package.rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".txt")
             and p.relative_to(package).as_posix() not in QUERY_TIME and "__pycache__" not in p.parts]
    return digest(files)


def loader_fingerprint() -> str:
    """Hash of the searchkit sources that decide the documents' text."""
    package = searchkit_package()
    return digest([package / name for name in LOADER_FILES if (package / name).is_file()])


# --------------------------------------------------------------------------
# The documents as the baselines get them
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """A corpus of the harness: what searchkit indexes, and where its extracted text is cached."""

    name: str
    source: Path  # directory or JSON Lines file
    cache: Path

    def documents_file(self) -> Path:
        """JSON Lines of (id, title, text) as searchkit's loaders give them (written once per loader version)."""
        key = digest([], loader_fingerprint(), str(self.source.resolve()))
        path = self.cache / "docs" / f"{self.name}-{key}.jsonl"
        if not path.is_file():
            write_documents(self.source, path)
        return path

    def documents(self) -> Iterator[tuple[str, str, str]]:
        """(id, Simplified title, Simplified text) of each document."""
        with self.documents_file().open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                yield record["id"], record["title"], record["text"]


def write_documents(source: Path, out: Path) -> None:
    """Extract every document with searchkit's loaders (old extractions of the corpus removed)."""
    from searchkit.loaders import load_corpus
    from searchkit.normalize import to_simplified

    out.parent.mkdir(parents=True, exist_ok=True)
    for old in out.parent.glob(out.name.rsplit("-", 1)[0] + "-*.jsonl"):
        old.unlink()
    partial = out.with_suffix(".part")
    with partial.open("w", encoding="utf-8") as handle:
        for doc in load_corpus([source], warn=lambda _message: None):
            meta = doc.metadata or {}
            extra = [str(meta[key]) for key in ("keywords", "description") if meta.get(key)]
            text = "\n".join([doc.text, *map(to_simplified, extra)])
            record = {"id": doc.id, "title": to_simplified(doc.title or ""), "text": text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial.rename(out)


def simplified(text: str) -> str:
    """OpenCC t2s (searchkit's fast copy)."""
    from searchkit.normalize import to_simplified

    return to_simplified(text)


# --------------------------------------------------------------------------
# Systems
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class System:
    """One engine: its index (shared by systems that differ at query time only) and searcher."""

    key: str
    label: str
    index_kind: str
    fingerprint: Callable[[], str]
    build: Callable[[Corpus, Path], None]
    open: Callable[[Path], Searcher]
    requires: str  # the module that must import
    pip: str


# searchkit ------------------------------------------------------------------


def searchkit_build(corpus: Corpus, index_dir: Path) -> None:
    """``SearchIndex.build`` of the corpus directory or file, as a user would."""
    from searchkit import SearchIndex

    SearchIndex.build(index_dir, [corpus.source], warn=lambda _message: None)


SNIPPETS = False  # run.py --snippets: make every hit's snippet, as the library does by default


def skip_snippets() -> None:
    """Make searchkit's hits with one empty snippet instead of cutting one per hit.

    Snippets play no part in the order of hits, and cutting 100 of them per query was
    two thirds of the query time (115 ms of a query on manpages-zh, 48 ms at limit 10).
    The span finding that feeds them still runs.
    """
    from searchkit import highlight

    if getattr(highlight.make_snippet, "skipped", False):
        return
    empty = highlight.make_snippet("", [])

    def no_snippet(text, spans, **options):
        return empty

    no_snippet.skipped = True
    highlight.make_snippet = no_snippet


def searchkit_open(index_dir: Path) -> Searcher:
    """``SearchIndex.search(query, limit=100)``; a refused query gives None."""
    from searchkit import SearchIndex, SearchkitError

    if not SNIPPETS:
        skip_snippets()
    index = SearchIndex.open(index_dir)

    def run(query: str) -> list[str]:
        try:
            return [hit.id for hit in index.search(query, limit=LIMIT).hits]
        except SearchkitError:
            return None

    return run


# Whoosh + jieba ----------------------------------------------------------------


def whoosh_build(corpus: Corpus, index_dir: Path) -> None:
    """id, title and content with jieba's ChineseAnalyzer; one default writer."""
    import jieba
    from jieba.analyse import ChineseAnalyzer
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema

    jieba.setLogLevel(60)
    schema = Schema(id=ID(stored=True, unique=True), title=TEXT(analyzer=ChineseAnalyzer()),
                    content=TEXT(analyzer=ChineseAnalyzer()))
    writer = index.create_in(str(index_dir), schema).writer()
    for doc_id, title, text in corpus.documents():
        writer.add_document(id=doc_id, title=title, content=text)
    writer.commit()


def whoosh_opener(grouping: str) -> Callable[[Path], Searcher]:
    """A MultifieldParser over title and content, with OrGroup or the default AndGroup."""

    def open_(index_dir: Path) -> Searcher:
        import jieba
        from whoosh import index
        from whoosh.qparser import AndGroup, MultifieldParser, OrGroup

        jieba.setLogLevel(60)  # the analyzer loads jieba's dictionary on the first query
        ix = index.open_dir(str(index_dir))
        group = OrGroup if grouping == "or" else AndGroup
        parser = MultifieldParser(["title", "content"], ix.schema, group=group)
        searcher = ix.searcher()

        def run(query: str) -> list[str]:
            return [hit["id"] for hit in searcher.search(parser.parse(simplified(query)), limit=LIMIT)]

        return run

    return open_


# bm25s over jieba words -----------------------------------------------------------


def jieba_words(text: str) -> list[str]:
    """``jieba.cut`` of the lower-cased text, blanks dropped."""
    import jieba

    jieba.setLogLevel(60)
    return [word for word in jieba.cut(text.lower()) if word.strip()]


def query_words(query: str) -> list[str]:
    """The distinct words of a query that hold a letter or digit."""
    return list(dict.fromkeys(w for w in jieba_words(simplified(query)) if any(ch.isalnum() for ch in w)))


def bm25s_build(corpus: Corpus, index_dir: Path) -> None:
    """bm25s over the words of title and text; the ids saved beside the index."""
    import bm25s

    ids, tokens = [], []
    for doc_id, title, text in corpus.documents():
        ids.append(doc_id)
        tokens.append(jieba_words(title) + jieba_words(text))
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(str(index_dir), show_progress=False)
    (index_dir / "ids.json").write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")


def bm25s_open(index_dir: Path) -> Searcher:
    """The top 100 documents scoring above 0 for the query's words."""
    import bm25s

    retriever = bm25s.BM25.load(str(index_dir), show_progress=False)
    ids = json.loads((index_dir / "ids.json").read_text(encoding="utf-8"))

    def run(query: str) -> list[str]:
        words = query_words(query)
        if not words:
            return []
        found, scores = retriever.retrieve([words], k=min(LIMIT, len(ids)), show_progress=False)
        return [ids[int(doc)] for doc, score in zip(found[0], scores[0]) if score > 0]

    return run


# SQLite FTS5 trigram ------------------------------------------------------------

FTS5_FILE = "fts5.db"


def fts5_build(corpus: Corpus, index_dir: Path) -> None:
    """One FTS5 table (trigram tokenizer), every row in one transaction."""
    con = sqlite3.connect(index_dir / FTS5_FILE)
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize='trigram')")
    with con:
        con.executemany("INSERT INTO docs VALUES (?, ?, ?)", corpus.documents())
    con.close()


def fts5_statement(query: str) -> tuple[str, list[str]]:
    """SQL and parameters of one query (see the module docstring)."""
    terms = list(dict.fromkeys(simplified(query).replace('"', " ").split()))
    long_terms = [t for t in terms if len(t) >= 3]
    short = [t for t in terms if len(t) < 3]
    filters = "".join(" AND (instr(title, ?) OR instr(body, ?))" for _ in short)
    params = [t for t in short for _ in range(2)]
    if long_terms:
        match = " AND ".join(f'"{t}"' for t in long_terms)
        return (f"SELECT id FROM docs WHERE docs MATCH ?{filters} ORDER BY rank LIMIT {LIMIT}",
                [match, *params])
    if not short:
        return "SELECT id FROM docs WHERE 0", []
    return f"SELECT id FROM docs WHERE 1{filters} LIMIT {LIMIT}", params


def fts5_open(index_dir: Path) -> Searcher:
    """A connection kept open for all queries."""
    con = sqlite3.connect(index_dir / FTS5_FILE)

    def run(query: str) -> list[str]:
        sql, params = fts5_statement(query)
        return [row[0] for row in con.execute(sql, params)]

    return run


# --------------------------------------------------------------------------


def installed_version(name: str) -> str:
    """A distribution's version, or 'absent'."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def baseline_fingerprint(build: Callable, *modules: str) -> Callable[[], str]:
    """Rebuild a baseline when its build function, its libraries or searchkit's loaders change."""

    def fingerprint() -> str:
        versions = [f"{name} {installed_version(name)}" for name in modules]
        return digest([], inspect.getsource(build), *versions, loader_fingerprint())

    return fingerprint


SYSTEMS: dict[str, System] = {s.key: s for s in (
    System("searchkit", "searchkit", "searchkit", index_fingerprint, searchkit_build, searchkit_open,
           "searchkit", "pip install -e ."),
    System("whoosh-or", "Whoosh + jieba, OR", "whoosh", baseline_fingerprint(whoosh_build, "whoosh", "jieba"), whoosh_build,
           whoosh_opener("or"), "whoosh", "pip install -e ."),
    System("whoosh-and", "Whoosh + jieba, AND", "whoosh", baseline_fingerprint(whoosh_build, "whoosh", "jieba"), whoosh_build,
           whoosh_opener("and"), "whoosh", "pip install -e ."),
    System("bm25s", "bm25s + jieba", "bm25s", baseline_fingerprint(bm25s_build, "bm25s", "jieba"), bm25s_build, bm25s_open,
           "bm25s", "pip install -e '.[quality]'"),
    System("fts5", "SQLite FTS5 trigram", "fts5", baseline_fingerprint(fts5_build), fts5_build, fts5_open,
           "sqlite3", "a Python whose SQLite is 3.34 or newer"),
)}
