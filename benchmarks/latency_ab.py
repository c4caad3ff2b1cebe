"""In-process search latency of two searchkit checkouts, measured side by side.

Usage::

    python benchmarks/latency_ab.py INDEX QUERIES BASE_DIR NEW_DIR [--rounds 3] [--new-index DIR]
                                    [--since DATE] [--until DATE] [--sort relevance|date]

Starts one worker process per checkout (``PYTHONPATH=BASE_DIR`` and
``PYTHONPATH=NEW_DIR``), each with the index open. After a warm-up pass over
the queries (as ``bench.py`` does), every query is sent to both workers in
turn, alternating which goes first, so that a busy machine slows both alike.
Each worker times ``SearchIndex.search(q, limit=10)`` itself (with ``--since``,
``--until`` and ``--sort`` passed on, if given). Prints the median,
p95 (nearest rank) and max in ms of each side, over all rounds. When the two
checkouts write different index formats, ``--new-index`` names the index the
new side searches (built from the same files by the new checkout).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path


def worker(index_dir: str, options: str = "{}") -> None:
    """Read queries from stdin, one a line; answer each with its latency in ms (search options: JSON)."""
    import time

    from searchkit import SearchIndex, SearchkitError

    index = SearchIndex.open(index_dir)
    search_options = json.loads(options)
    print(json.dumps({"ready": str(Path(sys.modules["searchkit"].__file__).parent)}), flush=True)
    for line in sys.stdin:
        query = json.loads(line)
        started = time.perf_counter()
        try:
            index.search(query, limit=10, **search_options)
        except SearchkitError:
            pass
        print(json.dumps((time.perf_counter() - started) * 1000), flush=True)
    index.close()


def start_worker(checkout: Path, *worker_args: str, script: str = __file__) -> subprocess.Popen:
    """A worker process (``script --worker WORKER_ARGS``) running the searchkit of checkout."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    process = subprocess.Popen([sys.executable, script, "--worker", *worker_args], env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    print(f"{checkout}: searchkit from {json.loads(process.stdout.readline())['ready']}", file=sys.stderr)
    return process


def ask(process: subprocess.Popen, query: str):
    """What the worker answered for query (here: the latency in ms it measured)."""
    process.stdin.write(json.dumps(query, ensure_ascii=False) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def side_by_side(sides: dict[str, subprocess.Popen], queries: list[str], rounds: int) -> dict[str, list]:
    """Each side's answers to every query, rounds times, after a warm-up pass; then the workers end.

    Every query goes to both sides in turn, alternating which goes first, so
    that a busy machine slows both alike.
    """
    for query in queries:  # warm-up
        for process in sides.values():
            ask(process, query)
    answers: dict[str, list] = {name: [] for name in sides}
    for round_ in range(rounds):
        for i, query in enumerate(queries):
            order = list(sides) if (i + round_) % 2 == 0 else list(reversed(sides))
            for name in order:
                answers[name].append(ask(sides[name], query))
    for process in sides.values():
        process.stdin.close()
        process.wait()
    return answers


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(*sys.argv[2:4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("queries", type=Path)
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-index", type=Path, help="the new side's index (default: INDEX)")
    parser.add_argument("--since", help="search only documents dated this day or later")
    parser.add_argument("--until", help="search only documents dated this day or earlier")
    parser.add_argument("--sort", choices=["relevance", "date"], help="the order of hits (default: the library's)")
    args = parser.parse_args()
    queries = [q.strip() for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    options = json.dumps({name: getattr(args, name) for name in ("since", "until", "sort")
                          if getattr(args, name) is not None})
    sides = {"base": start_worker(args.base, str(args.index), options),
             "new": start_worker(args.new, str(args.new_index or args.index), options)}
    timings = side_by_side(sides, queries, args.rounds)
    for name, values in timings.items():
        print(f"{name}: median {statistics.median(values):.2f} ms, p95 {percentile(values, 95):.2f} ms, "
              f"max {max(values):.2f} ms ({len(values)} timings)")
    ratio = statistics.median(timings["base"]) / statistics.median(timings["new"])
    print(f"median speed-up: {ratio:.2f}x")


if __name__ == "__main__":
    main()
