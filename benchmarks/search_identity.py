"""Dump everything ``SearchIndex.search`` returns for a query file, to compare two versions.

Usage::

    python benchmarks/search_identity.py INDEX QUERIES OUT.json [--limit 10] [--offset 0]
                                         [--sort relevance|date] [--original] [--fold]
                                         [--since DATE] [--until DATE] [--facets]

Runs every query of QUERIES (one a line) against the index at INDEX and writes,
for each, the query, total, partial flag, undated count and every hit field
(scores as exact floats, snippets and highlights included); with ``--fold``,
copies are folded and each hit's copies and the folded count are written too;
``--since``/``--until`` filter by date as ``search`` does; with ``--facets``,
the facets of every search are written too.
INDEX may be a sharded index. Run it once with
the committed code and once with a change, then compare the two files::

    git worktree add /tmp/searchkit-base main
    PYTHONPATH=/tmp/searchkit-base python benchmarks/search_identity.py IX Q base.json
    python benchmarks/search_identity.py IX Q new.json
    cmp base.json new.json && echo identical

The version of searchkit that ran is printed, so a mix-up of the two shows.
A query the language rejects is recorded with its error message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import searchkit
from searchkit import SearchIndex, SearchkitError


def dump_results(index: SearchIndex, query: str, **options) -> dict:
    """One query's results as plain JSON data (error text for a rejected query)."""
    try:
        results = index.search(query, **options)
    except SearchkitError as error:
        return {"query": query, "error": str(error)}
    dumped = {
        "query": query,
        "total": results.total,
        "partial": results.partial,
        "undated_excluded": results.undated_excluded,
        "hits": [dump_hit(hit) for hit in results.hits],
    }
    if options.get("fold"):
        dumped["folded"] = results.folded
    if options.get("facets"):
        dumped["facets"] = dataclasses.asdict(results.facets)
    return dumped


def dump_hit(hit) -> dict:
    """Every field of a hit, and its copies when the search folded them."""
    dumped = {
        "id": hit.id, "path": hit.path, "title": hit.title,
        "date": hit.date.isoformat() if hit.date else None,
        "source": hit.source, "url": hit.url, "score": hit.score,
        "snippet": hit.snippet, "highlights": [list(span) for span in hit.highlights],
    }
    if hit.duplicates is not None:
        dumped["duplicates"] = [dump_hit(copy) for copy in hit.duplicates]
    return dumped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("queries", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--sort", choices=["relevance", "date"], default="relevance")
    parser.add_argument("--original", action="store_true", help="cut snippets from the original script")
    parser.add_argument("--fold", action="store_true", help="fold copies under a better hit")
    parser.add_argument("--since", help="only documents dated this day or later (YYYY, YYYY-MM, YYYY-MM-DD)")
    parser.add_argument("--until", help="only documents dated this day or earlier")
    parser.add_argument("--facets", action="store_true", help="write every search's facets too")
    args = parser.parse_args(argv)
    queries = [line.strip() for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"searchkit from {Path(searchkit.__file__).parent}", file=sys.stderr)
    with SearchIndex.open(args.index) as index:
        dumped = [dump_results(index, query, limit=args.limit, offset=args.offset, sort=args.sort,
                               original=args.original, fold=args.fold, since=args.since, until=args.until,
                               facets=args.facets) for query in queries]
    args.out.write_text(json.dumps(dumped, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(dumped)} queries written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
