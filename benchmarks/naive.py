"""The "naive stack" baseline: Whoosh + jieba's ChineseAnalyzer + OpenCC t2s,
written the way a tutorial would, with default settings and no tricks.

Usage::

    python benchmarks/naive.py index JSONL INDEXDIR [--limit N]
    python benchmarks/naive.py query INDEXDIR QUERY
    python benchmarks/naive.py latency INDEXDIR QUERIES_FILE

``index`` and ``latency`` print JSON measurements; ``query`` is the one-shot
script whose wall time (``time python benchmarks/naive.py query ...``) is the
start-up baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

warnings.filterwarnings("ignore", category=SyntaxWarning)  # whoosh 2.7.4 on 3.11

import jieba  # noqa: E402
from jieba.analyse import ChineseAnalyzer  # noqa: E402
from opencc import OpenCC  # noqa: E402
from whoosh import index  # noqa: E402
from whoosh.fields import ID, TEXT, Schema  # noqa: E402
from whoosh.qparser import OrGroup, QueryParser  # noqa: E402

jieba.setLogLevel(60)


def make_schema() -> Schema:
    """id + title + content, both text fields analysed with jieba."""
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(stored=True, analyzer=ChineseAnalyzer()),
        content=TEXT(stored=True, analyzer=ChineseAnalyzer()),
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux: KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def dir_size_mb(path: Path) -> float:
    """Total size of the files in ``path``, in MB."""
    return round(sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 1e6, 1)


def iter_docs(jsonl: Path, limit: int | None) -> Iterator[dict]:
    """Stream the corpus, optionally only the first ``limit`` docs."""
    with jsonl.open(encoding="utf-8") as fh:
        for count, line in enumerate(fh):
            if limit is not None and count >= limit:
                return
            yield json.loads(line)


# --------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------


def build_index(jsonl: Path, indexdir: Path, limit: int | None = None) -> dict:
    """Index the corpus with one default writer and return the measurements."""
    cc = OpenCC("t2s")
    start = time.perf_counter()
    indexdir.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(indexdir), make_schema())
    writer = ix.writer()
    docs = text_bytes = 0
    convert_seconds = 0.0
    for doc in iter_docs(jsonl, limit):
        t0 = time.perf_counter()
        title, content = cc.convert(doc["title"]), cc.convert(doc["text"])
        convert_seconds += time.perf_counter() - t0
        writer.add_document(id=doc["id"], title=title, content=content)
        docs += 1
        text_bytes += len(doc["title"].encode("utf-8")) + len(doc["text"].encode("utf-8"))
    commit_start = time.perf_counter()
    writer.commit()
    end = time.perf_counter()
    seconds = end - start
    mb = text_bytes / 1e6
    return {
        "docs": docs,
        "mb": round(mb, 2),
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs / seconds, 1),
        "mb_per_s": round(mb / seconds, 3),
        "convert_seconds": round(convert_seconds, 2),
        "commit_seconds": round(end - commit_start, 2),
        "peak_rss_mb": peak_rss_mb(),
        "index_mb": dir_size_mb(indexdir),
    }


# --------------------------------------------------------------------------
# query (one-shot)
# --------------------------------------------------------------------------


def one_shot_query(indexdir: Path, text: str) -> None:
    """Open the index, run one query, print titles and highlighted snippets."""
    ix = index.open_dir(str(indexdir))
    query = QueryParser("content", ix.schema).parse(OpenCC("t2s").convert(text))
    with ix.searcher() as searcher:
        results = searcher.search(query, limit=10)
        print(f"{len(results)} hits for {query}")
        for hit in results:
            print(f"[{hit['id']}] {hit['title']}")
            print(f"    {hit.highlights('content')}")


# --------------------------------------------------------------------------
# latency
# --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def time_queries(run: Callable[[str], int], queries: list[str]) -> dict:
    """Run every query once (after one untimed warm-up pass); summarise in ms."""
    for text in queries:
        run(text)
    timings, hits = [], []
    for text in queries:
        t0 = time.perf_counter()
        hits.append(run(text))
        timings.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "mean_ms": round(statistics.fmean(timings), 2),
        "max_ms": round(max(timings), 2),
        "zero_hit_queries": sum(1 for h in hits if h == 0),
    }


def make_runner(searcher, parser: QueryParser, cc: OpenCC, highlight: bool = False) -> Callable[[str], int]:
    """A function running one query (t2s + parse + top-10 search + stored fields)."""

    def run(text: str) -> int:
        results = searcher.search(parser.parse(cc.convert(text)), limit=10)
        for hit in results:
            hit["title"]
            if highlight:
                hit.highlights("content")
        return results.scored_length()

    return run


def measure_latency(indexdir: Path, queries_file: Path) -> dict:
    """Query latency with the default AND parser and an OrGroup parser."""
    queries = [q.strip() for q in queries_file.read_text(encoding="utf-8").splitlines() if q.strip()]
    ix = index.open_dir(str(indexdir))
    cc = OpenCC("t2s")
    and_parser = QueryParser("content", ix.schema)
    or_parser = QueryParser("content", ix.schema, group=OrGroup)
    with ix.searcher() as searcher:
        report = {
            "index_docs": searcher.doc_count(),
            "queries": len(queries),
            "and": time_queries(make_runner(searcher, and_parser, cc), queries),
            "or": time_queries(make_runner(searcher, or_parser, cc), queries),
            "and_with_highlights": time_queries(make_runner(searcher, and_parser, cc, highlight=True), queries),
        }
    report["peak_rss_mb"] = peak_rss_mb()
    return report


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_index = commands.add_parser("index", help="build the naive index, print JSON stats")
    p_index.add_argument("jsonl", type=Path)
    p_index.add_argument("indexdir", type=Path)
    p_index.add_argument("--limit", type=int, help="index only the first N docs")
    p_query = commands.add_parser("query", help="one-shot query script")
    p_query.add_argument("indexdir", type=Path)
    p_query.add_argument("query")
    p_latency = commands.add_parser("latency", help="in-process latency, print JSON")
    p_latency.add_argument("indexdir", type=Path)
    p_latency.add_argument("queries_file", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Dispatch the sub-command."""
    args = parse_args(argv)
    if args.command == "index":
        print(json.dumps(build_index(args.jsonl, args.indexdir, args.limit), indent=2))
    elif args.command == "query":
        one_shot_query(args.indexdir, args.query)
    else:
        print(json.dumps(measure_latency(args.indexdir, args.queries_file), indent=2))


if __name__ == "__main__":
    sys.exit(main())
