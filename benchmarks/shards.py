"""One index vs a sharded index of the same poems: build time, query latency, memory, identity.

Usage::

    python benchmarks/shards.py [--docs 100000] [--shards 2 4] [--workers 2]
                                [--work /tmp/shards-bench] [--keep]

Steps, on the first ``--docs`` poems of benchmarks/data/poetry.jsonl:

1. build one index (``SearchIndex.build``, one worker process per core);
2. for each count of ``--shards``, build a sharded index on a Dask
   ``LocalCluster`` of ``--workers`` worker processes (one thread each),
   started before the clock runs; each worker's peak RSS is read from it
   after the build (``ru_maxrss``);
3. run the short and the natural query sets against every index in one
   fresh process, query by query in rotating order (a warm-up pass, then
   the timed one): median and p95 latency, and the median per-query
   overhead of each sharded index over the one index; each sharded index
   is searched twice, its shards read in this process and served by Dask
   actors on a LocalCluster of ``--workers`` worker processes started by
   that process (``SearchIndex.open(path, cluster=...)``), whose RSS after
   the queries is reported as the actor workers' memory;
4. compare every hit (id, order, score to 1e-9 relative, snippet) of the
   sharded indexes with the one index's, on both query sets, first page
   and third page, relevance and date order.

Prints a Markdown report to stdout (progress on stderr); the indexes are
deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import DEFAULT_NATURAL, DEFAULT_OUT, DEFAULT_QUERIES, iter_jsonl  # noqa: E402

LATENCY_WORKER = "latency"
ACTORS = "actors:"
"""Prefix of an index given to the latency worker: serve its shards by Dask actors."""


def log(message: str) -> None:
    print(f"[shards] {message}", file=sys.stderr, flush=True)


def write_corpus(source: Path, out: Path, docs: int) -> Path:
    """The first docs poems of source as one JSON Lines file."""
    with out.open("w", encoding="utf-8") as fh:
        for poem in iter_jsonl(source, docs):
            fh.write(json.dumps(poem, ensure_ascii=False) + "\n")
    return out


def build_one(path: Path, corpus: Path) -> float:
    from searchkit import SearchIndex
    started = time.perf_counter()
    SearchIndex.build(path, [corpus])
    return time.perf_counter() - started


def build_sharded(path: Path, corpus: Path, shards: int, workers: int) -> tuple[float, list[float]]:
    """Seconds to build shards on a running LocalCluster, and each worker's peak RSS (MB)."""
    from dask.distributed import Client, LocalCluster

    from searchkit import SearchIndex
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(lambda: __import__("searchkit"))  # imported before the clock runs, as a warm cluster has it
        started = time.perf_counter()
        SearchIndex.build(path, [corpus], shards=shards, cluster=cluster.scheduler_address)
        seconds = time.perf_counter() - started
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return seconds, [round(mb, 1) for mb in peaks.values()]


def latency(indexes: list[str], queries: Path, workers: int) -> tuple[list[dict], list[float]]:
    """Median and p95 ms of a query set on each index, the sharded ones' overhead, and actor workers' MB.

    One fresh process opens every index and, after a warm-up pass, runs
    each query on every index in turn (the order rotating per query), so
    the load of a busy machine falls on all alike. ``overhead_ms`` is the
    median over queries of (this index's time - the first index's). An
    index given as ``actors:PATH`` is served by actors on a LocalCluster
    of workers processes that the process starts.
    """
    done = subprocess.run([sys.executable, __file__, LATENCY_WORKER, str(queries), str(workers), *indexes],
                          capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    return found["times"], found["actor_workers_mb"]


def latency_worker(queries: Path, workers: int, indexes: list[str]) -> None:
    from searchkit import SearchIndex, SearchkitError
    lines = [line.strip() for line in queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    with contextlib.ExitStack() as stack:
        client = None
        if any(spec.startswith(ACTORS) for spec in indexes):
            from dask.distributed import Client, LocalCluster
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=":0"))
            client = stack.enter_context(Client(cluster))
        opened = [stack.enter_context(SearchIndex.open(spec[len(ACTORS):], cluster=client)
                                      if spec.startswith(ACTORS) else SearchIndex.open(spec)) for spec in indexes]
        times: list[list[float]] = [[] for _ in opened]
        for timed in (False, True):
            for number, query in enumerate(lines):
                for turn in range(len(opened)):
                    which = (number + turn) % len(opened)
                    started = time.perf_counter()
                    try:
                        opened[which].search(query)
                    except SearchkitError:
                        pass
                    if timed:
                        times[which].append((time.perf_counter() - started) * 1000)
        memory = [] if client is None else [round(mb, 1) for mb in client.run(_rss_mb).values()]
    found = []
    for mine in times:
        ordered = sorted(mine)
        found.append({"median_ms": statistics.median(mine), "p95_ms": ordered[int(len(ordered) * 0.95)],
                      "overhead_ms": statistics.median(a - b for a, b in zip(mine, times[0]))})
    print(json.dumps({"times": found, "actor_workers_mb": memory}))


def _rss_mb() -> float:
    """This process's resident set size now, in MB (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def same_answers(a, b) -> bool:
    """Whether two SearchResults are the same answer: hits (id, snippet, score to 1e-9
    relative), partial and undated counts, and totals (when both are exact)."""
    return (a.partial == b.partial and len(a.hits) == len(b.hits)
            and a.undated_excluded == b.undated_excluded
            and (a.total == b.total or not (a.total_exact and b.total_exact))
            and all(x.id == y.id and x.snippet == y.snippet and math.isclose(x.score, y.score, rel_tol=1e-9)
                    for x, y in zip(a.hits, b.hits)))


def compare(one_dir: Path, sharded: Path | str, query_files: list[Path]) -> tuple[int, int]:
    """(answers compared, answers differing) of the sharded index (or actors:PATH) against the one index."""
    from searchkit import SearchIndex
    spec = str(sharded)
    served = spec.startswith(ACTORS)
    with SearchIndex.open(one_dir) as one, SearchIndex.open(spec[len(ACTORS):] if served else spec,
                                                            cluster="local" if served else None) as sharded:
        lines = [line.strip() for path in query_files
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return count_differing(one, sharded, lines, ({}, {"sort": "date"}, {"offset": 20}), log)


def count_differing(one, sharded, queries: list[str], option_sets, say) -> tuple[int, int]:
    """(answers compared, answers differing) of sharded against one, each query with each
    option set (a query either refuses is skipped); say(message) names each difference."""
    from searchkit import SearchkitError
    compared = differing = 0
    for query in queries:
        for options in option_sets:
            try:
                a, b = one.search(query, **options), sharded.search(query, **options)
            except SearchkitError:
                continue
            compared += 1
            if not same_answers(a, b):
                differing += 1
                say(f"differs: {query!r} {options}")
    return compared, differing


def main(argv: list[str] | None = None) -> None:
    if argv is None and sys.argv[1:2] == [LATENCY_WORKER]:
        return latency_worker(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_OUT,
                        help="the poems (benchmarks/corpus.py writes them; git-ignored)")
    parser.add_argument("--queries", type=Path, nargs=2, default=[DEFAULT_QUERIES, DEFAULT_NATURAL],
                        metavar=("SHORT", "NATURAL"))
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--work", type=Path, default=Path("/tmp/shards-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the indexes")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        corpus = write_corpus(args.data, args.work / f"poems-{args.docs}.jsonl", args.docs)
        short, natural = args.queries
        rows = []
        log("building one index")
        one_dir = args.work / "one"
        shutil.rmtree(one_dir, ignore_errors=True)
        rows.append({"name": "one index", "build_s": build_one(one_dir, corpus), "workers_mb": []})
        for count in args.shards:
            log(f"building {count} shards")
            path = args.work / f"shards-{count}"
            shutil.rmtree(path, ignore_errors=True)
            seconds, peaks = build_sharded(path, corpus, count, args.workers)
            rows.append({"name": f"{count} shards", "build_s": seconds, "workers_mb": peaks, "path": path})
        rows[0]["path"] = one_dir
        rows += [{"name": f"{row['name']}, actors", "build_s": None, "workers_mb": [],
                  "path": f"{ACTORS}{row['path']}"} for row in rows[1:]]
        log("latency")
        for kind, queries in (("short", short), ("natural", natural)):
            measured, memory = latency([str(row["path"]) for row in rows], queries, args.workers)
            for row, times in zip(rows, measured):
                row[kind] = times
            rows[-1]["actors_mb"] = memory  # the workers serving every actor-served index at once
        identity = {}
        for row in rows[1:]:
            log(f"comparing {row['name']} with one index")
            identity[row["name"]] = compare(one_dir, row["path"], [short, natural])
        print(report(args, rows, identity))
    finally:
        if not args.keep:
            for path in args.work.glob("*"):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()


def _times(measured: dict) -> str:
    return (f"{measured['median_ms']:.1f} / {measured['p95_ms']:.1f} / "
            f"{measured['overhead_ms']:+.2f}")


def report(args, rows: list[dict], identity: dict) -> str:
    lines = [f"**{args.docs:,} poems; shards built on a LocalCluster of {args.workers} worker "
             "processes (1 thread each); one index built with one worker process per core; "
             "'actors': the shards served by Dask actors on a LocalCluster of "
             f"{args.workers} worker processes**", "",
             "| index | build s | Dask worker peak RSS MB | short ms median / p95 / overhead | "
             "natural ms median / p95 / overhead |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        build = "-" if row["build_s"] is None else f"{row['build_s']:.1f}"
        lines.append(
            f"| {row['name']} | {build} | {', '.join(map(str, row['workers_mb'])) or '-'} | "
            f"{_times(row['short'])} | {_times(row['natural'])} |")
    lines.append("")
    if rows[-1].get("actors_mb"):
        lines.append(f"Actor workers' RSS after the queries (serving every actor-served index): "
                     f"{', '.join(map(str, rows[-1]['actors_mb']))} MB")
    for name, (compared, differing) in identity.items():
        lines.append(f"{name}: {compared} answers compared with one index's "
                     f"(short and natural queries, page 1, page 3, date order): {differing} differ")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
