"""One index vs an index sharded by year, on dated poems: census, build, update, dated search.

Usage::

    python benchmarks/shards_by_date.py [--docs 100000] [--workers 2] [--years 10]
                                        [--work /tmp/dates-bench] [--keep]

The poems carry no dates, so each of the first ``--docs`` poems of
benchmarks/data/poetry.jsonl is given one, deterministically (from a hash of
its id): a day of one of ``--years`` years ending with 2024, or none for one
poem in ten. They are written as an archive is kept, a JSON Lines file a year
and one of the undated. Steps:

1. the census of dates a first build routed by year starts with, alone;
2. build one index (one worker process per core) and the index sharded by
   year (shards_by="year") on a Dask ``LocalCluster`` of ``--workers``
   worker processes (one thread each), started before the clock runs;
3. an update with nothing changed, in this process, of each;
4. the short queries with ``since`` the last year, and without: median and
   p95 ms, one fresh process, indexes taking turns query by query after a
   warm-up pass; and how many shards rank a query (the rest are skipped);
5. every answer (ids, order, scores to 1e-9, snippets, totals, undated
   counts) of the sharded index compared with the one index's, with since,
   since and date order, and the second page.

Prints a Markdown report to stdout (progress on stderr); the indexes are
deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import DEFAULT_OUT, DEFAULT_QUERIES, iter_jsonl  # noqa: E402
from shards import count_differing  # noqa: E402

LATENCY_WORKER = "latency"
LAST_YEAR = 2024


def log(message: str) -> None:
    print(f"[shards-by-date] {message}", file=sys.stderr, flush=True)


def dated(poem: dict, years: int) -> dict:
    """The poem with a date drawn from its id: one of the years up to LAST_YEAR, or none (one in ten)."""
    draw = int.from_bytes(hashlib.blake2b(str(poem["id"]).encode("utf-8"), digest_size=8).digest(), "big")
    if draw % 10 == 0:
        return {**poem, "date": None}
    day = dt.date(LAST_YEAR - (draw // 10) % years, 1, 1) + dt.timedelta(days=(draw // 1000) % 365)
    return {**poem, "date": day.isoformat()}


def write_corpus(source: Path, out: Path, docs: int, years: int) -> Path:
    """The first docs poems of source, dated, as a JSON Lines file a year and one of the undated."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    handles: dict[str, object] = {}
    try:
        for poem in iter_jsonl(source, docs):
            poem = dated(poem, years)
            name = (poem["date"] or "undated")[:4]
            if name not in handles:
                handles[name] = (out / f"{name}.jsonl").open("w", encoding="utf-8")
            handles[name].write(json.dumps(poem, ensure_ascii=False) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return out


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def census_seconds(corpus: Path, work: Path) -> float:
    from searchkit import shards
    return timed(lambda: shards.plan_by_date(work / "no-index", [str(corpus)], "year", {}))


def build_by_year(path: Path, corpus: Path, workers: int) -> float:
    from dask.distributed import Client, LocalCluster

    from searchkit import SearchIndex
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(lambda: __import__("searchkit"))  # imported before the clock runs, as a warm cluster has it
        return timed(lambda: SearchIndex.build(path, [corpus], shards_by="year",
                                               cluster=cluster.scheduler_address))


def latency(one: Path, sharded: Path, queries: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, LATENCY_WORKER, str(queries), str(one), str(sharded)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def latency_worker(queries: Path, one_dir: Path, sharded_dir: Path) -> None:
    """Median/p95 ms of (index, options) runs taking turns query by query; shards ranked with since."""
    from searchkit import SearchIndex, SearchkitError
    lines = [line.strip() for line in queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    one, sharded = SearchIndex.open(one_dir), SearchIndex.open(sharded_dir)
    since = {"since": str(LAST_YEAR)}
    runs = {"one, since": (one, since), "by year, since": (sharded, since),
            "one": (one, {}), "by year": (sharded, {})}
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for measure in (False, True):
        for number, query in enumerate(lines):
            for turn in range(len(names)):
                name = names[(number + turn) % len(names)]
                index, options = runs[name]
                started = time.perf_counter()
                try:
                    index.search(query, **options)
                except SearchkitError:
                    pass
                if measure:
                    times[name].append((time.perf_counter() - started) * 1000)
    found = {name: {"median_ms": statistics.median(mine), "p95_ms": sorted(mine)[int(len(mine) * 0.95)]}
             for name, mine in times.items()}
    found["ranked"] = len(sharded._ranking_shards(str(LAST_YEAR), None))
    found["shards"] = len(sharded.layout.shards)
    print(json.dumps(found))


def compare(one_dir: Path, sharded_dir: Path, queries: Path) -> tuple[int, int]:
    """(answers compared, answers differing) of the sharded index against the one index."""
    from searchkit import SearchIndex
    lines = [line.strip() for line in queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    options = ({"since": str(LAST_YEAR)}, {"since": str(LAST_YEAR - 1), "sort": "date"},
               {"since": f"{LAST_YEAR - 3}-06", "until": str(LAST_YEAR - 2), "offset": 20}, {"offset": 20})
    with SearchIndex.open(one_dir) as one, SearchIndex.open(sharded_dir) as sharded:
        return count_differing(one, sharded, lines, options, log)


def main(argv: list[str] | None = None) -> None:
    if argv is None and sys.argv[1:2] == [LATENCY_WORKER]:
        return latency_worker(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--data", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dates-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the indexes")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    from searchkit import SearchIndex
    one_dir, sharded_dir = args.work / "one", args.work / "by-year"
    try:
        corpus = write_corpus(args.data, args.work / "corpus", args.docs, args.years)
        megabytes = sum(path.stat().st_size for path in corpus.iterdir()) / 1e6
        log("census")
        census = census_seconds(corpus, args.work)
        for path in (one_dir, sharded_dir):
            shutil.rmtree(path, ignore_errors=True)
        log("building one index")
        one_build = timed(lambda: SearchIndex.build(one_dir, [corpus]))
        log("building the index sharded by year")
        sharded_build = build_by_year(sharded_dir, corpus, args.workers)
        log("updates with nothing changed")
        one_update = timed(lambda: SearchIndex.build(one_dir, []))
        sharded_update = timed(lambda: SearchIndex.build(sharded_dir, []))
        log("latency")
        measured = latency(one_dir, sharded_dir, args.queries)
        log("comparing")
        compared, differing = compare(one_dir, sharded_dir, args.queries)
        print(report(args, megabytes, census, one_build, sharded_build, one_update, sharded_update,
                     measured, compared, differing))
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)


def report(args, megabytes: float, census: float, one_build: float, sharded_build: float,
           one_update: float, sharded_update: float, measured: dict, compared: int, differing: int) -> str:
    lines = [f"**{args.docs:,} poems ({megabytes:.1f} MB) dated over {args.years} years (one in ten "
             f"undated), a file a year; sharded by year: {measured['shards']} shards, built on a "
             f"LocalCluster of {args.workers} worker processes**", "",
             "| step | one index | sharded by year |", "|---|---:|---:|",
             f"| build, s | {one_build:.1f} | {sharded_build:.1f} (census of dates {census:.1f}) |",
             f"| update, nothing changed, s | {one_update:.2f} | {sharded_update:.2f} |"]
    for options in ("", ", since"):
        one, sharded = measured[f"one{options}"], measured[f"by year{options}"]
        label = f"short queries{options or ''}{' ' + str(LAST_YEAR) if options else ''}, ms median / p95"
        lines.append(f"| {label} | {one['median_ms']:.1f} / {one['p95_ms']:.1f} | "
                     f"{sharded['median_ms']:.1f} / {sharded['p95_ms']:.1f} |")
    lines += ["", f"With since {LAST_YEAR}, {measured['ranked']} of {measured['shards']} shards rank a query "
              "(the others only count in the statistics). "
              f"Identity: {compared - differing} of {compared} answers the same as one index's "
              f"({differing} differ)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
