"""What snippets cost per hit in two searchkit checkouts, measured side by side.

Usage::

    python benchmarks/snippet_cost.py INDEX QUERIES BASE_DIR NEW_DIR [--rounds 3] [--limit 10]

Starts one worker process per checkout (``PYTHONPATH=BASE_DIR`` and
``PYTHONPATH=NEW_DIR``), each with the index open, and sends every query to both
in turn, alternating which goes first (after a warm-up pass), as
``latency_ab.py`` does. Each worker runs ``SearchIndex.search(q, limit=N)`` and
times, inside it, the calls the engine makes to ``searchkit.highlight`` (finding
the spans, choosing the fragments, cutting the original script): the snippet's
cost. It also times turning the results into text for an 80-column, 40-line
terminal (``render.results_text``, with the fitting arguments the checkout
has). Prints, for each side, the medians over all queries and rounds of: the
snippet cost per hit in µs, the rendering cost per hit in µs, the whole search
in ms, and the snippet length in characters.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_ab import side_by_side, start_worker  # noqa: E402


def worker(index_dir: str, limit: int) -> None:
    """Read queries from stdin, one a line; answer each with what it cost."""
    import time

    from searchkit import SearchIndex, SearchkitError, highlight, render

    spent = [0.0]

    def timed(function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started
        return wrapper

    # The engine calls these through the module, so replacing them times every call.
    for name in ("make_snippet", "best_fragment", "cut_like"):
        if hasattr(highlight, name):
            setattr(highlight, name, timed(getattr(highlight, name)))
    compile_finder = highlight.span_finder
    highlight.span_finder = timed(lambda terms: timed(compile_finder(terms)))
    fitting = {"width": 79, "rows": 38} if "width" in inspect.signature(render.results_text).parameters else {}

    index = SearchIndex.open(index_dir)
    print(json.dumps({"ready": str(Path(sys.modules["searchkit"].__file__).parent)}), flush=True)
    for line in sys.stdin:
        query = json.loads(line)
        spent[0] = 0.0
        started = time.perf_counter()
        try:
            results = index.search(query, limit=limit)
        except SearchkitError:
            print(json.dumps(None), flush=True)
            continue
        search_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        render.results_text(results, color=False, **fitting)
        render_s = time.perf_counter() - started
        hits = len(results.hits)
        print(json.dumps(None if not hits else {
            "snippet_us": spent[0] / hits * 1e6, "render_us": render_s / hits * 1e6,
            "search_ms": search_ms,
            "chars": statistics.mean(len(hit.snippet) for hit in results.hits),
        }), flush=True)
    index.close()


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("queries", type=Path)
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()
    queries = [q.strip() for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    sides = {name: start_worker(path, str(args.index), str(args.limit), script=__file__)
             for name, path in (("base", args.base), ("new", args.new))}
    measured = {name: [answer for answer in answers if answer is not None]  # None: no hits
                for name, answers in side_by_side(sides, queries, args.rounds).items()}
    for name, answers in measured.items():
        def median(key: str) -> float:
            return statistics.median(answer[key] for answer in answers)
        print(f"{name}: snippet {median('snippet_us'):.0f} µs/hit, rendering {median('render_us'):.0f} "
              f"µs/hit, search {median('search_ms'):.2f} ms, snippet {median('chars'):.0f} characters "
              f"(medians of {len(answers)} queries with hits)")


if __name__ == "__main__":
    main()
