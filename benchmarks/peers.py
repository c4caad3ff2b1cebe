"""searchkit next to the engines a user would pick instead, on the same documents, in one run.

Usage::

    python benchmarks/peers.py [--sizes 20000,100000,all] [--trees] [--no-poems]
                               [--only searchkit,fts5,...] [--repeat 1]
                               [--tree-root DIR] [--work DIR] [--out PATH]

Systems (each converts Traditional to Simplified with the same fast converter,
``searchkit.normalize.to_simplified``, output identical to OpenCC's ``t2s``):

* ``searchkit``: ``searchkit index SOURCE... --index DIR`` (default workers), searched with
  ``SearchIndex.open(DIR).search(q, limit=10)``, which builds a highlighted snippet per hit.
* ``fts5``: SQLite FTS5, ``tokenize='trigram'``, title and text stored in the table. Query
  terms (whitespace-separated, quotes dropped) of 3 or more characters are ANDed in MATCH,
  ranked by ``bm25()``, snippets by ``snippet()``. Trigrams cannot match a term of 1-2
  characters, so such a term becomes an ``instr()`` filter on title and text, as a user
  would write it: a full scan when the query has no longer term, and then the hits are
  unranked (insertion order) with a ``substr()`` snippet around the first match.
* ``tantivy``: tantivy-py; plain ``jieba.cut`` words of the (lower-cased) text, joined with
  spaces into fields with tantivy's ``whitespace`` tokenizer, stored (so the stored text is
  the segmented one); the query's words (those holding a letter or digit) ORed over title
  and text, top 10, snippets by ``SnippetGenerator``.
* ``bm25s``: bm25s over the same jieba words (title and text as one bag), the Simplified
  text saved with the index; top 10 of the query's words, a snippet cut around the first
  word found (bm25s has none).
* ``whoosh``: the naive stack of ``naive.py`` (Whoosh, jieba's ``ChineseAnalyzer``, default
  writer), AND parser, ``hit.highlights("content")`` per hit.

Corpora: the first N poems of ``data/poetry.jsonl`` (``--sizes``; ``all`` is the whole
388k), queried with ``data/queries.txt`` (short) and ``data/queries-natural.txt`` (long,
natural); with ``--trees``, Debian's debian-handbook HTML (zh-CN + zh-TW) and manpages-zh
(zh_CN + zh_TW). searchkit indexes the trees themselves; the peers index the text
searchkit's own loaders (``searchkit.loaders.load_corpus``) extract from them, written once
to a JSON Lines file, so every system indexes the same text (the extraction time is
reported, and not counted in the peers' build). Tree query sets are sampled from that
text by ``corpus.make_queries`` / ``corpus.make_natural_queries``.

Each build runs in its own fresh process (``bench.py measure``): build seconds are the
command's wall time, start-up and imports included; peak MB is the larger of the biggest
single process's peak RSS and the peak summed PSS of the process tree (workers included).
Index MB is every file under the index directory; "text" is the JSON Lines file the peers
read. Latency: each system in a fresh process, index opened once, one untimed warm-up pass
per query set, then each query timed once (``naive.time_queries``).

Prints a Markdown table per corpus and writes ``results/peers.json`` and ``results/peers.md``
(git-ignored). None of the peers is a dependency of searchkit: a missing one is skipped
with one line saying what to ``pip install``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (measure, machine description)
import corpus  # noqa: E402  (query sets of the trees)
import real_trees  # noqa: E402  (fetching the Debian trees)

DEFAULT_CORPUS = HERE / "data" / "poetry.jsonl"
DEFAULT_SHORT = HERE / "data" / "queries.txt"
DEFAULT_NATURAL = HERE / "data" / "queries-natural.txt"
DEFAULT_OUT = HERE / "results" / "peers.json"
LIMIT = 10
SNIPPET_CHARS = 30  # characters either side of a match, for the peers that cut their own

Searcher = Callable[[str], int]  # one query -> hits returned (each with its snippet)


# --------------------------------------------------------------------------
# What every peer shares: the documents, Simplified script, jieba words
# --------------------------------------------------------------------------


def iter_docs(jsonl: Path) -> Iterator[tuple[str, str, str]]:
    """(id, title, text) of each record of a JSON Lines file, text in its own script."""
    with jsonl.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            record = json.loads(line)
            yield str(record.get("id", number)), record.get("title") or "", record.get("text") or ""


def simplified(text: str) -> str:
    """Simplified script, with searchkit's fast OpenCC t2s (same output as OpenCC's)."""
    from searchkit.normalize import to_simplified

    return to_simplified(text)


def jieba_words(text: str) -> list[str]:
    """Plain ``jieba.cut`` of the lower-cased text, whitespace dropped."""
    import jieba

    jieba.setLogLevel(60)
    return [word for word in jieba.cut(text.lower()) if word.strip()]


def query_words(query: str) -> list[str]:
    """The distinct jieba words of a query that hold a letter or digit (no punctuation)."""
    words = jieba_words(simplified(query))
    return list(dict.fromkeys(w for w in words if any(ch.isalnum() for ch in w)))


def cut_snippet(text: str, terms: list[str]) -> str:
    """A window of text around the first term found, the term bracketed."""
    found = [(text.find(term), term) for term in terms if term in text]
    if not found:
        return text[: 2 * SNIPPET_CHARS]
    start, term = min(found)
    end = start + len(term)
    return f"{text[max(0, start - SNIPPET_CHARS):start]}[{term}]{text[end:end + SNIPPET_CHARS]}"


# --------------------------------------------------------------------------
# searchkit (built by its command, searched through its library)
# --------------------------------------------------------------------------


def searchkit_open(index_dir: Path) -> Searcher:
    """``SearchIndex.search(q, limit=10)``, snippets included (the default)."""
    from searchkit import SearchIndex, SearchkitError

    index = SearchIndex.open(index_dir)

    def run(query: str) -> int:
        try:
            return len(index.search(query, limit=LIMIT).hits)
        except SearchkitError:  # a query over searchkit's limits: no hits
            return 0

    return run


# --------------------------------------------------------------------------
# SQLite FTS5, trigram tokenizer
# --------------------------------------------------------------------------

FTS5_FILE = "fts5.db"


def fts5_available() -> bool:
    """Whether this Python's SQLite has FTS5 with the trigram tokenizer (SQLite 3.34+)."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
    except sqlite3.Error:
        return False
    return True


def fts5_build(jsonl: Path, index_dir: Path) -> None:
    """One table, title and text indexed and stored, all rows in one transaction."""
    con = sqlite3.connect(index_dir / FTS5_FILE)
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize='trigram')")
    with con:
        con.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                        ((doc_id, simplified(title), simplified(text))
                         for doc_id, title, text in iter_docs(jsonl)))
    con.close()


def fts5_statement(query: str) -> tuple[str, list[str]]:
    """The SQL and parameters of one query (see the module docstring for the rules)."""
    terms = list(dict.fromkeys(simplified(query).replace('"', " ").split()))
    long_terms = [t for t in terms if len(t) >= 3]
    filters = [t for t in terms if len(t) < 3]
    where = ["(instr(title, ?) OR instr(body, ?))"] * len(filters)
    params = [t for t in filters for _ in range(2)]
    if long_terms:
        match = " AND ".join('"' + t + '"' for t in long_terms)
        sql = ("SELECT id, title, snippet(docs, 2, '[', ']', '…', 16) FROM docs "
               f"WHERE docs MATCH ? {''.join(' AND ' + w for w in where)} ORDER BY rank LIMIT {LIMIT}")
        return sql, [match, *params]
    if not filters:
        return "SELECT id, title, '' FROM docs WHERE 0", []
    snippet = f"substr(body, max(instr(body, ?) - {SNIPPET_CHARS}, 1), {2 * SNIPPET_CHARS + 2})"
    sql = f"SELECT id, title, {snippet} FROM docs WHERE {' AND '.join(where)} LIMIT {LIMIT}"
    return sql, [filters[0], *params]


def fts5_open(index_dir: Path) -> Searcher:
    """A connection kept open; each query fetches ids, titles and snippets."""
    con = sqlite3.connect(index_dir / FTS5_FILE)

    def run(query: str) -> int:
        sql, params = fts5_statement(query)
        return len(con.execute(sql, params).fetchall())

    return run


# --------------------------------------------------------------------------
# tantivy-py over jieba words
# --------------------------------------------------------------------------


def tantivy_schema():
    """id (raw), title and body (whitespace tokenizer over pre-segmented text), all stored."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="whitespace")
    builder.add_text_field("body", stored=True, tokenizer_name="whitespace")
    return builder.build()


def tantivy_build(jsonl: Path, index_dir: Path) -> None:
    """Default writer (heap and threads); one commit, merges waited for."""
    import tantivy

    index = tantivy.Index(tantivy_schema(), path=str(index_dir))
    writer = index.writer()
    for doc_id, title, text in iter_docs(jsonl):
        writer.add_document(tantivy.Document(
            id=doc_id, title=" ".join(jieba_words(simplified(title))),
            body=" ".join(jieba_words(simplified(text)))))
    writer.commit()
    writer.wait_merging_threads()


def tantivy_open(index_dir: Path) -> Searcher:
    """The query's words ORed over title and body; stored fields and a snippet per hit."""
    import tantivy

    index = tantivy.Index.open(str(index_dir))
    schema = index.schema
    searcher = index.searcher()

    def run(query: str) -> int:
        words = query_words(query)
        if not words:
            return 0
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, field, word))
                   for word in words for field in ("title", "body")]
        compiled = tantivy.Query.boolean_query(clauses)
        hits = searcher.search(compiled, LIMIT, count=False).hits
        snippets = tantivy.SnippetGenerator.create(searcher, compiled, schema, "body")
        for _score, address in hits:
            doc = searcher.doc(address)
            doc["title"], snippets.snippet_from_doc(doc).to_html()
        return len(hits)

    return run


# --------------------------------------------------------------------------
# bm25s over jieba words
# --------------------------------------------------------------------------


def bm25s_build(jsonl: Path, index_dir: Path) -> None:
    """Index the words of title and text; save the index with the Simplified documents."""
    import bm25s

    tokens, documents = [], []
    for doc_id, title, text in iter_docs(jsonl):
        title, text = simplified(title), simplified(text)
        tokens.append(jieba_words(title) + jieba_words(text))
        documents.append({"id": doc_id, "title": title, "text": text})
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(str(index_dir), corpus=documents, show_progress=False)


def bm25s_open(index_dir: Path) -> Searcher:
    """Top 10 documents with a score above 0, a snippet cut around the first word found."""
    import bm25s

    retriever = bm25s.BM25.load(str(index_dir), load_corpus=True, show_progress=False)

    def run(query: str) -> int:
        words = query_words(query)
        if not words:
            return 0
        k = min(LIMIT, retriever.scores["num_docs"])  # bm25s refuses a k above the corpus size
        docs, scores = retriever.retrieve([words], k=k, show_progress=False)
        hits = [doc for doc, score in zip(docs[0], scores[0]) if score > 0]
        for doc in hits:
            doc["title"], cut_snippet(doc["text"], words)
        return len(hits)

    return run


# --------------------------------------------------------------------------
# The naive Whoosh stack (naive.py), with the same fast converter
# --------------------------------------------------------------------------


class FastT2S:
    """``naive.py`` takes an OpenCC object; this one converts with ``simplified``."""

    @staticmethod
    def convert(text: str) -> str:
        return simplified(text)


def whoosh_build(jsonl: Path, index_dir: Path) -> None:
    """``naive.build_index``'s loop (one default writer), converting with ``FastT2S``."""
    import naive
    from whoosh import index

    writer = index.create_in(str(index_dir), naive.make_schema()).writer()
    for doc_id, title, text in iter_docs(jsonl):
        writer.add_document(id=doc_id, title=simplified(title), content=simplified(text))
    writer.commit()


def whoosh_open(index_dir: Path) -> Searcher:
    """``naive.make_runner`` with the AND parser and highlights, the like-for-like one."""
    import naive
    from whoosh import index
    from whoosh.qparser import QueryParser

    ix = index.open_dir(str(index_dir))
    searcher = ix.searcher()
    return naive.make_runner(searcher, QueryParser("content", ix.schema), FastT2S(), highlight=True)


# --------------------------------------------------------------------------
# The systems, behind one interface
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class System:
    """One engine: how to build it (None: by searchkit's command) and search it."""

    key: str
    label: str
    module: str  # what must import for it to run
    distributions: tuple[str, ...]  # whose version and licence are recorded
    pip: str  # what to install when it is missing
    build: Callable[[Path, Path], None] | None
    open: Callable[[Path], Searcher]


SYSTEMS = {system.key: system for system in (
    System("searchkit", "searchkit", "searchkit", ("searchkit", "whoosh", "jieba", "rjieba"),
           "pip install -e .", None, searchkit_open),
    System("fts5", "SQLite FTS5 trigram", "sqlite3", (), "a Python whose SQLite is 3.34 or newer",
           fts5_build, fts5_open),
    System("tantivy", "tantivy-py + jieba", "tantivy", ("tantivy", "jieba"), "pip install tantivy",
           tantivy_build, tantivy_open),
    System("bm25s", "bm25s + jieba", "bm25s", ("bm25s", "numpy", "jieba"), "pip install bm25s",
           bm25s_build, bm25s_open),
    System("whoosh", "Whoosh + jieba (naive.py)", "whoosh", ("whoosh", "jieba"),
           "pip install whoosh jieba", whoosh_build, whoosh_open),
)}


def available(system: System) -> bool:
    """Whether the system can run here; if not, say so in one line."""
    ok = fts5_available() if system.key == "fts5" else importlib.util.find_spec(system.module) is not None
    if not ok:
        log(f"{system.label}: not available, skipped ({system.pip})")
    return ok


def describe(system: System) -> dict:
    """Versions and licences of what the system runs on."""
    if system.key == "fts5":
        return {"sqlite": {"version": sqlite3.sqlite_version, "licence": "public domain"}}
    return {name: {"version": _version(name), "licence": _licence(name)} for name in system.distributions
            if _version(name)}


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _licence(distribution: str) -> str | None:
    meta = importlib.metadata.metadata(distribution)
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    if meta.get("License") and "\n" not in meta["License"]:  # not the licence's whole text
        return meta["License"]
    classifiers = [c.rsplit(" :: ", 1)[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return ", ".join(classifiers) or None


# --------------------------------------------------------------------------
# Hidden sub-commands: one build, one latency run, each in a fresh process
# --------------------------------------------------------------------------

BUILD_WORKER = "build-worker"
LATENCY_WORKER = "latency-worker"


def build_worker(key: str, jsonl: str, index_dir: str) -> None:
    """``peers.py build-worker KEY JSONL DIR``: build one peer's index in this process."""
    SYSTEMS[key].build(Path(jsonl), Path(index_dir))


def latency_worker(key: str, index_dir: str, short: str, natural: str) -> None:
    """``peers.py latency-worker KEY DIR SHORT NATURAL``: print both sets' latency as JSON."""
    import naive

    started = time.perf_counter()
    run = SYSTEMS[key].open(Path(index_dir))
    report = {"open_s": round(time.perf_counter() - started, 3)}
    for name, path in (("short", short), ("natural", natural)):
        queries = read_queries(Path(path))
        report[name] = {"queries": len(queries), **naive.time_queries(run, queries)}
    print(json.dumps(report))


def read_queries(path: Path) -> list[str]:
    """One query a line, blank lines left out."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------


@dataclass
class Corpus:
    """One set of documents every system indexes, and the queries asked of it."""

    name: str
    jsonl: Path  # what the peers read
    sources: list[Path]  # what searchkit indexes
    short: Path
    natural: Path
    docs: int
    extract_s: float | None = None  # trees: searchkit's loaders, once

    @property
    def text_mb(self) -> float:
        return self.jsonl.stat().st_size / 1e6


def poem_corpus(args: argparse.Namespace, size: str) -> Corpus:
    """The first N poems (``all``: the whole file, read in place)."""
    if size == "all":
        docs = sum(1 for _ in args.corpus.open("rb"))
        return Corpus("poems-all", args.corpus, [args.corpus], args.short, args.natural, docs)
    docs = int(size)
    subset = args.work / f"poems-{docs}.jsonl"
    if not subset.exists():
        with args.corpus.open("rb") as src, subset.open("wb") as out:
            for number, line in enumerate(src):
                if number >= docs:
                    break
                out.write(line)
    return Corpus(f"poems-{docs}", subset, [subset], args.short, args.natural, docs)


def tree_corpus(args: argparse.Namespace, name: str) -> Corpus:
    """A Debian tree's text as searchkit's loaders extract it, and queries sampled from it."""
    from searchkit.loaders import load_corpus

    package, parts, _ = real_trees.TREES[name]
    base = args.tree_root if args.tree_root else real_trees.fetch(package)
    roots = [base / part for part in parts if (base / part).is_dir()]
    if not roots:
        raise SystemExit(f"{name}: none of {', '.join(parts)} under {base}")
    jsonl, docs = args.work / f"{name}.jsonl", 0
    started = time.perf_counter()
    with jsonl.open("w", encoding="utf-8") as out:
        for root in roots:
            for doc in load_corpus([root], warn=lambda _message: None):
                record = {"id": f"{root.name}/{doc.id}", "title": doc.title, "text": doc.original}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                docs += 1
    extract_s = time.perf_counter() - started
    short, natural = args.work / f"{name}-queries.txt", args.work / f"{name}-natural.txt"
    short.write_text("\n".join(corpus.make_queries(jsonl, n=300, seed=1)) + "\n", encoding="utf-8")
    natural.write_text("\n".join(corpus.make_natural_queries(jsonl, n=200, seed=2)) + "\n", encoding="utf-8")
    return Corpus(name, jsonl, roots, short, natural, docs, round(extract_s, 1))


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress to standard error, so that standard output holds only the report."""
    print(f"[peers] {message}", file=sys.stderr, flush=True)


def build_command(system: System, corpus_: Corpus, index_dir: Path) -> list[str]:
    """The command that builds one index, as a user would run it."""
    if system.build is None:
        return [*bench.searchkit_cmd(), "index", *map(str, corpus_.sources), "--index", str(index_dir)]
    return [sys.executable, __file__, BUILD_WORKER, system.key, str(corpus_.jsonl), str(index_dir)]


def build_once(system: System, corpus_: Corpus, index_dir: Path) -> dict:
    """One build into an empty directory: wall seconds, peak MB, index MB."""
    shutil.rmtree(index_dir, ignore_errors=True)
    if system.build is not None:
        index_dir.mkdir(parents=True)  # tantivy wants it to exist; searchkit makes its own
    result = bench.measure(build_command(system, corpus_, index_dir))
    peak = max(result["max_rss_mb"], result["peak_tree_pss_mb"] or 0)
    return {"build_s": round(result["wall_s"], 2), "peak_mb": round(peak),
            "index_mb": round(bench.dir_size_mb(index_dir), 1)}


def latency(system: System, corpus_: Corpus, index_dir: Path) -> dict:
    """Both query sets' latency, in a fresh process."""
    out = subprocess.run([sys.executable, __file__, LATENCY_WORKER, system.key, str(index_dir),
                          str(corpus_.short), str(corpus_.natural)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{system.label}: latency run failed:\n{out.stderr}")
    return json.loads(out.stdout)


def bench_corpus(corpus_: Corpus, systems: list[System], args: argparse.Namespace) -> dict:
    """Every system on one corpus: builds (``--repeat`` rounds, medians), then latency."""
    rounds: dict[str, list[dict]] = {s.key: [] for s in systems}
    dirs = {s.key: args.work / f"{corpus_.name}-{s.key}" for s in systems}
    for number in range(args.repeat):
        for system in systems:
            log(f"{corpus_.name}: building {system.label} (round {number + 1}/{args.repeat})")
            rounds[system.key].append(build_once(system, corpus_, dirs[system.key]))
    rows = {}
    for system in systems:
        log(f"{corpus_.name}: querying {system.label}")
        runs = rounds[system.key]
        rows[system.key] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        rows[system.key]["builds"] = runs
        rows[system.key]["index_per_text"] = round(rows[system.key]["index_mb"] / corpus_.text_mb, 1)
        rows[system.key].update(latency(system, corpus_, dirs[system.key]))
        if not args.keep:
            shutil.rmtree(dirs[system.key], ignore_errors=True)
    return {"corpus": corpus_.name, "docs": corpus_.docs, "text_mb": round(corpus_.text_mb, 2),
            "extract_s": corpus_.extract_s, "queries": {"short": str(corpus_.short),
                                                        "natural": str(corpus_.natural)},
            "systems": rows}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _ms(stats: dict) -> str:
    return f"{stats['median_ms']:.1f} / {stats['p95_ms']:.1f} / {stats['max_ms']:.1f}"


def _times(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def corpus_section(result: dict, labels: dict[str, str]) -> list[str]:
    """The table of one corpus, and each system's ratios to FTS5."""
    rows = result["systems"]
    extract = (f"; peers read the text searchkit's loaders extracted in {result['extract_s']} s, "
               "not counted in their build" if result["extract_s"] is not None else "")
    lines = [f"### {result['corpus']}: {result['docs']:,} documents, {result['text_mb']} MB of text{extract}",
             "", "| system | build s | peak MB | index MB | index/text | short ms median/p95/max "
             "| natural ms median/p95/max |", "|---|---:|---:|---:|---:|---:|---:|"]
    for key, row in rows.items():
        lines.append(f"| {labels[key]} | {row['build_s']:.1f} | {row['peak_mb']} | {row['index_mb']} | "
                     f"{row['index_per_text']}x | {_ms(row['short'])} | {_ms(row['natural'])} |")
    zero = ", ".join(f"{labels[k]} {r['short']['zero_hit_queries']}/{r['short']['queries']} short, "
                     f"{r['natural']['zero_hit_queries']}/{r['natural']['queries']} natural"
                     for k, r in rows.items())
    lines += ["", f"Queries with no hit: {zero}."]
    if "fts5" in rows:
        base = rows["fts5"]
        lines += ["", "Ratios to FTS5 trigram (above 1: bigger or slower):", "",
                  "| system | build | peak | index | short median | short p95 | natural median | natural p95 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for key, row in rows.items():
            cells = [_times(row[k], base[k]) for k in ("build_s", "peak_mb", "index_mb")]
            cells += [_times(row[s][m], base[s][m]) for s in ("short", "natural") for m in ("median_ms", "p95_ms")]
            lines.append(f"| {labels[key]} | " + " | ".join(cells) + " |")
    return lines + [""]


def render(report: dict) -> str:
    """The whole report in Markdown."""
    labels = {key: SYSTEMS[key].label for key in report["versions"]}
    lines = [f"## searchkit and its peers ({report['date']}, {report['machine']})", ""]
    for result in report["corpora"]:
        lines += corpus_section(result, labels)
    lines += ["Versions and licences:", ""]
    for key, packages in report["versions"].items():
        described = ", ".join(f"{name} {info['version']} ({info['licence']})" for name, info in packages.items())
        lines.append(f"- {labels[key]}: {described}")
    lines += ["", f"Command: `{report['command']}`"]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000",
                        help="poem counts, comma-separated; 'all' is the whole corpus (default 20000,100000)")
    parser.add_argument("--no-poems", action="store_true", help="skip the poems (with --trees: the trees only)")
    parser.add_argument("--trees", action="store_true", help="also the debian-handbook and manpages-zh trees")
    parser.add_argument("--only", default=",".join(SYSTEMS), help=f"systems, of {','.join(SYSTEMS)}")
    parser.add_argument("--repeat", type=int, default=1, help="builds per system (medians quoted)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="poems, JSON Lines")
    parser.add_argument("--short", type=Path, default=DEFAULT_SHORT, help="short query set of the poems")
    parser.add_argument("--natural", type=Path, default=DEFAULT_NATURAL, help="natural query set of the poems")
    parser.add_argument("--tree-root", type=Path,
                        help="a directory holding usr/share/... of both packages unpacked "
                             "(default: fetched with apt-get download, as real_trees.py does)")
    parser.add_argument("--work", type=Path, help="where subsets and indexes go (default: a new /tmp directory)")
    parser.add_argument("--keep", action="store_true", help="keep the indexes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (and .md beside it)")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown system {', '.join(sorted(unknown))}: choose from {', '.join(SYSTEMS)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for size in args.sizes.split(","):
        if size != "all" and not (size.isdigit() and int(size) > 0):
            parser.error(f"--sizes: '{size}' is neither a positive number nor 'all'")
    if not args.no_poems:
        for path in (args.corpus, args.short, args.natural):
            if not path.is_file():
                parser.error(f"{path} not found: run benchmarks/corpus.py first, or pass its path")
    return args


def corpora(args: argparse.Namespace) -> Iterator[Corpus]:
    """The corpora asked for, each prepared when its turn comes."""
    if not args.no_poems:
        for size in args.sizes.split(","):
            yield poem_corpus(args, size)
    if args.trees:
        for name in real_trees.TREES:
            log(f"{name}: extracting the text with searchkit's loaders")
            yield tree_corpus(args, name)


def run(args: argparse.Namespace) -> dict:
    """Every corpus, every available system."""
    systems = [SYSTEMS[key] for key in args.only.split(",") if available(SYSTEMS[key])]
    info = bench.machine_info({})
    report = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{info['cpus_usable']} cores, Python {info['python']}",
              "machine_info": info, "searchkit_from": importlib.util.find_spec("searchkit").origin,
              "command": "python benchmarks/peers.py " + " ".join(sys.argv[1:]),
              "versions": {s.key: describe(s) for s in systems}, "corpora": []}
    labels = {s.key: s.label for s in systems}
    for corpus_ in corpora(args):
        report["corpora"].append(bench_corpus(corpus_, systems, args))
        log("\n" + "\n".join(corpus_section(report["corpora"][-1], labels)))  # in case a later one fails
    return report


def main(argv: list[str] | None = None) -> None:
    """Run the comparison (or, internally, one build or latency worker)."""
    argv = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore")
    if argv[:1] == [BUILD_WORKER]:
        return build_worker(*argv[1:])
    if argv[:1] == [LATENCY_WORKER]:
        return latency_worker(*argv[1:])
    args = parse_args(argv)
    temporary = args.work is None
    args.work = Path(tempfile.mkdtemp(prefix="peers-")) if temporary else args.work
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        report = run(args)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    bench.write_report(args.out, report, render(report))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
