"""Incremental updates against a clean build: answers, update time and index size.

Usage::

    python benchmarks/update_cost.py [--poems 20000] [--files 200] [--rounds 3]
                                     [--queries data/queries.txt] [--policy both|searchkit|whoosh]
                                     [--out data/updates] [--max-deleted 0.25]

Writes the first POEMS poems of ``data/poetry.jsonl`` (see corpus.py) as FILES
JSON Lines files under ``--out`` (default ``data/updates``), builds an index of
them, then runs ROUNDS update rounds on the files (5% changed, a tenth of
their poems replaced; 2% removed; 1% renamed; 2% added, from poems past the
first POEMS), each followed by ``SearchIndex.build`` on a copy of the index
per merge policy: searchkit's ``merge_policy`` (a segment is rewritten past
``MAX_DELETED`` deleted) and Whoosh's stock ``MERGE_SMALL``. Prints each
update's time, the index size and the segments, then builds the final files
afresh and counts the answers (query x sort: totals, ids, scores to 1e-9,
snippets) that differ from the clean build's.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path

from whoosh.writing import MERGE_SMALL

from searchkit import SearchIndex
from searchkit.internals import writer as segments

DATA = Path(__file__).resolve().parent / "data"
POLICIES = {"searchkit": segments.merge_policy, "whoosh": MERGE_SMALL}


def write_file(path: Path, poems: list[str]) -> None:
    path.write_text("".join(poems), encoding="utf-8")


def make_corpus(corpus: Path, lines: list[str], files: int) -> None:
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    per = len(lines) // files
    for i in range(files):
        write_file(corpus / f"f{i:05d}.jsonl", lines[i * per:(i + 1) * per])


def mutate(corpus: Path, spare: list[str], rng: random.Random, number: list[int]) -> None:
    """Change 5% of the files (a tenth of their poems), remove 2%, rename 1%, add 2%."""
    files = sorted(corpus.glob("*.jsonl"))
    per = len(files[0].read_text(encoding="utf-8").splitlines())
    for path in rng.sample(files, max(1, len(files) // 20)):
        poems = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for i in rng.sample(range(len(poems)), max(1, len(poems) // 10)):
            poems[i] = spare.pop()
        write_file(path, poems)
    for path in rng.sample(files, max(1, len(files) // 50)):
        path.unlink(missing_ok=True)
    for path in rng.sample(sorted(corpus.glob("*.jsonl")), max(1, len(files) // 100)):
        path.rename(corpus / f"r{number[0]:05d}.jsonl")
        number[0] += 1
    for _ in range(max(1, len(files) // 50)):
        write_file(corpus / f"n{number[0]:05d}.jsonl", [spare.pop() for _ in range(per)])
        number[0] += 1


def index_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def segment_layout(path: Path) -> list[tuple[int, int]]:
    """(documents, deleted) of each Whoosh segment of the index."""
    with SearchIndex.open(path) as index:
        return [(s.doc_count_all(), s.deleted_count()) for s in index._ix._segments()]


def answers(path: Path, queries: list[str]) -> list:
    with SearchIndex.open(path) as index:
        found = []
        for query in queries:
            for sort in ("relevance", "date"):
                results = index.search(query, limit=20, sort=sort)
                found.append((query, sort, results.total, results.partial,
                              [(h.id, round(h.score, 9), h.snippet) for h in results.hits]))
        return found


def update(path: Path, corpus: Path, policy) -> float:
    saved = segments.merge_policy
    segments.merge_policy = policy
    try:
        return SearchIndex.build(path, [corpus]).seconds
    finally:
        segments.merge_policy = saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--poems", type=int, default=20000)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=Path, default=DATA / "queries.txt")
    parser.add_argument("--policy", choices=["both", *POLICIES], default="both")
    parser.add_argument("--out", type=Path, default=DATA / "updates")
    parser.add_argument("--max-deleted", type=float, default=segments.MAX_DELETED,
                        help="searchkit's policy: rewrite a segment past this fraction deleted (0: any deletion)")
    args = parser.parse_args(argv)
    segments.MAX_DELETED = args.max_deleted
    policies = list(POLICIES) if args.policy == "both" else [args.policy]
    with open(DATA / "poetry.jsonl", encoding="utf-8") as source:
        lines = [line for _, line in zip(range(args.poems * 2), source)]
    rng = random.Random(1)
    spare = lines[args.poems:]
    rng.shuffle(spare)
    corpus = args.out / "corpus"
    make_corpus(corpus, lines[:args.poems], args.files)
    started = time.perf_counter()
    SearchIndex.build(args.out / "first", [corpus], rebuild=True)
    print(f"first build: {args.poems} poems in {args.files} files, {time.perf_counter() - started:.1f} s, "
          f"{index_size(args.out / 'first') / 1e6:.1f} MB", flush=True)
    for name in policies:
        shutil.rmtree(args.out / name, ignore_errors=True)
        shutil.copytree(args.out / "first", args.out / name)
    number = [0]
    for round_number in range(1, args.rounds + 1):
        mutate(corpus, spare, rng, number)
        for name in policies:
            seconds = update(args.out / name, corpus, POLICIES[name])
            print(f"round {round_number} {name:9}: update {seconds:5.2f} s, "
                  f"index {index_size(args.out / name) / 1e6:6.1f} MB, "
                  f"segments (docs, deleted) {segment_layout(args.out / name)}", flush=True)
    started = time.perf_counter()
    SearchIndex.build(args.out / "clean", [corpus], rebuild=True)
    print(f"clean build: {time.perf_counter() - started:.1f} s, "
          f"{index_size(args.out / 'clean') / 1e6:.1f} MB, segments {segment_layout(args.out / 'clean')}")
    queries = [line.strip() for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    expected = answers(args.out / "clean", queries)
    for name in policies:
        got = answers(args.out / name, queries)
        differ = sum(a != b for a, b in zip(got, expected))
        print(f"{name}: {differ} of {len(expected)} answers (query x sort) differ from the clean build")


if __name__ == "__main__":
    main()
