"""What the overview of a result set (facets) costs a search, measured side by side in one process.

Usage::

    python benchmarks/facets_cost.py INDEX [--queries FILE ...] [--rounds 3] [--worst 5]
                                     [--clock cpu|wall]

The index is opened once. After a warm-up pass (every query with and without
the overview), each query is searched ``search(q, limit=10, facets=False)``
and ``facets=True`` in turn, alternating which goes first, ``--rounds``
times, so that a busy machine slows both alike. Prints per query set the
median, p95 (nearest rank) and max in ms of each side and the ratios, over
all timings and over each query's best run (the least disturbed on a busy
machine); then the queries whose best run grew most, and how many grew by
more than 20%. ``--clock cpu`` (the default) times the process's CPU time,
which the other processes of a busy machine disturb far less than wall time. Default query sets: benchmarks/data/queries.txt (short) and
queries-natural.txt (natural). Also times the one-time work of a searcher
(reading the day and source columns whole) on a freshly opened index.

Build the 100,000-poem index first, e.g.::

    head -100000 benchmarks/data/poetry.jsonl > /tmp/poems-100k.jsonl
    searchkit index /tmp/poems-100k.jsonl --index /tmp/poems-100k
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_QUERIES = [HERE / "data" / "queries.txt", HERE / "data" / "queries-natural.txt"]
TARGET = 1.2  # the overview may slow a search by at most 20%


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""Wall time, and this process's CPU time: on a machine shared with other busy processes the
CPU time of a search is what it costs, the wall time adds whenever the process waited."""


def timed(index, query: str, facets: bool, clock=time.perf_counter) -> float:
    """ms of one search (a query over searchkit's limits counts as it fails)."""
    from searchkit import SearchkitError

    started = clock()
    try:
        index.search(query, limit=10, facets=facets)
    except SearchkitError:
        pass
    return (clock() - started) * 1000


def measure(index, queries: list[str], rounds: int, clock) -> dict[str, list[list[float]]]:
    """Per side, per query, its timings over the rounds."""
    for query in queries:  # warm-up
        timed(index, query, False)
        timed(index, query, True)
    timings = {"without": [[] for _ in queries], "with": [[] for _ in queries]}
    for round_ in range(rounds):
        for i, query in enumerate(queries):
            sides = [False, True] if (i + round_) % 2 == 0 else [True, False]
            for facets in sides:
                timings["with" if facets else "without"][i].append(timed(index, query, facets, clock))
    return timings


def report(name: str, queries: list[str], timings: dict[str, list[list[float]]], worst: int) -> None:
    """Medians and p95s of every timing, then of each query's best (the machine is shared and noisy:
    a query's fastest run is the one least disturbed, on either side alike)."""
    print(f"\n{name}: {len(queries)} queries")
    for label, pick in (("all timings", None), ("best of each query", min)):
        summary = {}
        for side, per_query in timings.items():
            values = [t for q in per_query for t in q] if pick is None else [pick(q) for q in per_query]
            summary[side] = (statistics.median(values), percentile(values, 95), max(values), len(values))
        print(f"  {label}:")
        for side, (median, p95, most, count) in summary.items():
            print(f"    {side:>7} overview: median {median:.2f} ms, p95 {p95:.2f} ms, max {most:.2f} ms "
                  f"({count} values)")
        print(f"    ratio with/without: medians {summary['with'][0] / summary['without'][0]:.3f}, "
              f"p95s {summary['with'][1] / summary['without'][1]:.3f}")
    ratios = []
    for query, without, with_ in zip(queries, timings["without"], timings["with"]):
        ratios.append((min(with_) / min(without), query, min(without), min(with_)))
    ratios.sort(reverse=True)
    over = [item for item in ratios if item[0] > TARGET]
    print(f"  queries whose best run grew by more than {TARGET - 1:.0%}: {len(over)} of {len(queries)}")
    for ratio, query, base, with_ in ratios[:worst]:
        print(f"    {ratio:.2f}x  {base:.2f} -> {with_:.2f} ms  {query[:30]}")


def first_search_cost(index_dir: Path) -> None:
    """The one-time work of a fresh searcher: reading the columns the overview counts from."""
    from searchkit import SearchIndex, facets

    with SearchIndex.open(index_dir) as index:
        index.search("月", limit=10, facets=False)
        searcher = index._get_searcher()
        started = time.perf_counter()
        facets.FacetColumns(searcher).source_names()
        print(f"\nreading the day and source columns whole (once per searcher): "
              f"{(time.perf_counter() - started) * 1000:.2f} ms "
              f"({searcher.reader().doc_count_all():,} documents)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--queries", type=Path, action="append", help="a query file (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worst", type=int, default=5, help="queries to list that grew most")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu",
                        help="what to time: this process's CPU time (default) or wall time")
    args = parser.parse_args()
    from searchkit import SearchIndex

    first_search_cost(args.index)
    with SearchIndex.open(args.index) as index:
        for path in args.queries or DEFAULT_QUERIES:
            queries = [q.strip() for q in path.read_text(encoding="utf-8").splitlines() if q.strip()]
            report(f"{path.name} ({args.clock} time)", queries,
                   measure(index, queries, args.rounds, CLOCKS[args.clock]), args.worst)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
