"""What finding copies costs: fingerprints at index time, folding per query, clustering as the index grows.

Usage::

    python benchmarks/duplicates_cost.py cost [--poems 10000] [--rounds 3] [--work /tmp/dups-bench]
    python benchmarks/duplicates_cost.py growth [--sizes 10000,100000,0] [--work /tmp/dups-bench]
    python benchmarks/duplicates_cost.py fold [--work /tmp/dups-bench]
    python benchmarks/duplicates_cost.py clusters [--sizes 10000,100000,0]
    python benchmarks/duplicates_cost.py variants

``cost`` indexes the first POEMS poems of ``data/poetry.jsonl`` (JSON Lines,
one process) with fingerprints and without (``fingerprint_bytes`` stubbed
out), alternately, ROUNDS times each, and prints the medians side by side,
with the time of fingerprinting alone per MB of text; then times every
query of ``data/queries.txt`` at limit 10 folded and unfolded, alternately,
and prints the median difference (``fold`` does that part alone, on the index
``cost`` left). ``growth`` builds an index of each size (0:
every poem), times ``SearchIndex.duplicates()`` on it (reading the
fingerprints, bucketing, comparing candidates) and prints the clusters found,
with a few examples, then deletes the index. ``clusters`` does the
clustering alone on fingerprints computed from the JSON Lines directly (no
index: building one of every poem takes most of an hour on a busy 2-core
machine). ``variants`` prints the precision
and recall of pair detection on the generated variants
(duplicates_variants.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from searchkit import SearchIndex, duplicates, fingerprints, indexer  # noqa: E402
from searchkit.normalize import normalize_text  # noqa: E402

DATA = HERE / "data"
SEEDS = HERE.parent / "seeds"


def write_poems(path: Path, count: int) -> int:
    """The first count poems (0: all) as one JSON Lines file; returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(DATA / "poetry.jsonl", encoding="utf-8") as source, open(path, "w", encoding="utf-8") as out:
        for line in itertools.islice(source, count or None):
            out.write(line)
    return path.stat().st_size


def build(index: Path, corpus: Path, *, fingerprinted: bool) -> tuple[float, float]:
    """(wall, CPU) seconds to build index from corpus in one process, with or without fingerprints.

    The CPU time of the one process is what the work costs; the wall time
    also counts waiting for a core the machine's other users hold.
    """
    shutil.rmtree(index, ignore_errors=True)
    real = fingerprints.fingerprint_bytes, fingerprints.fingerprints_of
    if not fingerprinted:
        fingerprints.fingerprint_bytes = lambda text: b""
        fingerprints.fingerprints_of = lambda texts: [b""] * len(texts)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        SearchIndex.build(index, [corpus], workers=1)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        fingerprints.fingerprint_bytes, fingerprints.fingerprints_of = real


def fingerprint_seconds(corpus: Path) -> tuple[float, float]:
    """(CPU seconds to fingerprint every poem's normalized text, in the indexer's batches;
    MB of that text in UTF-8)."""
    texts = [normalize_text(json.loads(line)["text"]) for line in corpus.open(encoding="utf-8")]
    started = time.process_time()
    for start in range(0, len(texts), indexer.FINGERPRINT_BATCH):  # as the indexer does
        fingerprints.fingerprints_of(texts[start:start + indexer.FINGERPRINT_BATCH])
    return time.process_time() - started, sum(len(t.encode()) for t in texts) / 1e6


def cost(args) -> None:
    corpus = args.work / "corpus" / "poems.jsonl"
    size = write_poems(corpus, args.poems)
    print(f"{args.poems} poems, {size / 1e6:.2f} MB of JSON Lines; indexing in one process, "
          f"{args.rounds} rounds each, alternately")
    with_, without = [], []
    for _ in range(args.rounds):
        without.append(build(args.work / "plain", corpus, fingerprinted=False))
        with_.append(build(args.work / "index", corpus, fingerprinted=True))
    for kind, column in (("wall", 0), ("CPU", 1)):
        a = statistics.median(run[column] for run in without)
        b = statistics.median(run[column] for run in with_)
        print(f"  {kind} s: without fingerprints median {a:.2f} "
              f"({', '.join(f'{run[column]:.2f}' for run in without)}), with median {b:.2f} "
              f"({', '.join(f'{run[column]:.2f}' for run in with_)}): {b - a:+.2f} s = {(b - a) / a:+.1%}")
    seconds, megabytes = fingerprint_seconds(corpus)
    print(f"  fingerprinting alone: {seconds:.2f} s for {megabytes:.2f} MB of text = "
          f"{seconds / megabytes * 1000:.0f} ms/MB "
          f"({seconds / statistics.median(run[1] for run in without):.1%} of indexing CPU time)")
    sizes = {name: sum(f.stat().st_size for f in (args.work / name).iterdir() if f.is_file())
             for name in ("plain", "index")}
    column = sum(f.stat().st_size for f in (args.work / "index").glob("*.fingerprint.col"))
    print(f"  index size: {sizes['plain'] / 1e6:.2f} MB without, {sizes['index'] / 1e6:.2f} MB with "
          f"(fingerprint column {column / 1e6:.2f} MB)")
    fold_cost(args.work / "index", args.queries)
    shutil.rmtree(args.work / "plain", ignore_errors=True)


def fold_cost(index_dir: Path, queries_file: Path, repeats: int = 5) -> None:
    """Time of a search at limit 10, folded and not, over the queries.

    Each query runs repeats times each way, alternately, and keeps its median
    each way (one run is at the mercy of the machine's other users: a query
    with no hit, where folding does nothing, once took 21 ms more).
    """
    queries = [q.strip() for q in queries_file.read_text(encoding="utf-8").splitlines() if q.strip()]
    plain_times, folded_times, folded_hits, refills = [], [], 0, 0
    with SearchIndex.open(index_dir) as index:
        index.warm_up()
        for query in queries:
            runs: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(repeats):
                for fold in (False, True):
                    started = time.process_time()
                    results = index.search(query, limit=10, fold=fold)
                    runs[fold].append(time.process_time() - started)
            plain_times.append(statistics.median(runs[False]))
            folded_times.append(statistics.median(runs[True]))
            folded_hits += results.folded or 0
            refills += bool(results.folded) and results.total > 10
    differences = [f - p for f, p in zip(folded_times, plain_times)]
    print(f"{len(queries)} queries at limit 10 (CPU time, median of {repeats} runs each way): median "
          f"{statistics.median(plain_times) * 1000:.2f} ms unfolded, "
          f"{statistics.median(folded_times) * 1000:.2f} ms folded; folding adds a median "
          f"{statistics.median(differences) * 1000:.2f} ms, 90th percentile "
          f"{statistics.quantiles(differences, n=10)[-1] * 1000:.2f} ms, max {max(differences) * 1000:.2f} ms; "
          f"{folded_hits} hits folded, {refills} pages refilled from further hits")


def growth(args) -> None:
    for count in args.sizes:
        corpus = args.work / "corpus" / "poems.jsonl"
        size = write_poems(corpus, count)
        index_dir = args.work / f"growth-{count or 'all'}"
        shutil.rmtree(index_dir, ignore_errors=True)
        started = time.perf_counter()
        SearchIndex.build(index_dir, [corpus])
        built = time.perf_counter() - started
        with SearchIndex.open(index_dir) as index:
            documents = index.document_count()
            started = time.perf_counter()
            with index._lock:
                ids, found = index._document_fingerprints(index._get_searcher())
            read = time.perf_counter() - started
            started = time.perf_counter()
            candidates = len(duplicates.candidate_pairs(found))
            bucketing = time.perf_counter() - started
            started, cpu = time.perf_counter(), time.process_time()
            clusters = index.duplicates()
            total, cpu = time.perf_counter() - started, time.process_time() - cpu
        copies = sum(len(c.documents) for c in clusters)
        print(f"{documents} poems ({size / 1e6:.1f} MB, indexed in {built:.0f} s): duplicates() "
              f"{total:.2f} s ({cpu:.2f} s CPU = {cpu / documents * 1e6:.1f} us a poem; reading fingerprints "
              f"{read:.2f} s, bucketing {bucketing:.2f} s, {candidates} candidate pairs, "
              f"{candidates / documents:.2f} a poem); {len(clusters)} clusters of {copies} poems", flush=True)
        for cluster in clusters[: args.examples]:
            print("   " + " | ".join(f"{d.id} {d.title} ({d.source}, {d.similarity:.2f})"
                                     for d in cluster.documents[:3]))
        shutil.rmtree(index_dir, ignore_errors=True)
    shutil.rmtree(args.work / "corpus", ignore_errors=True)


def clusters(args) -> None:
    with open(DATA / "poetry.jsonl", encoding="utf-8") as source:
        poems = [json.loads(line) for line in source]
    for count in args.sizes:
        chosen = poems[: count or None]
        texts = [normalize_text(poem["text"]) for poem in chosen]
        started = time.process_time()
        found = []
        for start in range(0, len(texts), indexer.FINGERPRINT_BATCH):
            found += [fingerprints.decode(data)
                      for data in fingerprints.fingerprints_of(texts[start:start + indexer.FINGERPRINT_BATCH])]
        printed = time.process_time() - started
        started = time.process_time()
        candidates = len(duplicates.candidate_pairs(found))
        bucketing = time.process_time() - started
        started = time.process_time()
        groups = duplicates.clusters(found, duplicates.DEFAULT_THRESHOLD)
        clustering = time.process_time() - started
        copies = sum(len(group) for group in groups)
        print(f"{len(chosen)} poems: fingerprints {printed:.2f} s CPU; clusters() {clustering:.2f} s CPU = "
              f"{clustering / len(chosen) * 1e6:.1f} us a poem (bucketing alone {bucketing:.2f} s, "
              f"{candidates} candidate pairs, {candidates / len(chosen):.2f} a poem); "
              f"{len(groups)} clusters of {copies} poems", flush=True)
        for group in groups[: args.examples]:
            print("   " + " | ".join(f"{chosen[n]['id']} {chosen[n]['title']} ({chosen[n]['source']}, {share:.2f})"
                                     for n, share in group[:3]))


def variants(args) -> None:
    import duplicates_variants

    index_dir = args.work / "seeds"
    SearchIndex.build(index_dir, [SEEDS])
    with SearchIndex.open(index_dir) as index:
        texts = [index.document(doc).text for doc in ("000_150bae6b94f5f664.txt", "002_3a19d138acb7fb5e.txt")]
        filler = [line for line in index.document("004_adbd3bb83504ea18.txt").text.split("\n")
                  if len(line) >= 20]
    documents = duplicates_variants.variants(duplicates_variants.base_articles(texts), filler)
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
        f = duplicates_variants.measure(documents, threshold)
        print(f"threshold {threshold}: {f.documents} documents, {f.true_pairs} true pairs, "
              f"{f.found_pairs} found, {f.correct} correct: precision {f.precision:.3f}, recall "
              f"{f.recall:.3f} (base-variant {f.base_recall:.3f}); missed by kind {f.missed_by_kind}; "
              f"worst negative {f.worst_negative:.2f}")
    shutil.rmtree(index_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("cost", "fold", "growth", "clusters", "variants"))
    parser.add_argument("--poems", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000])
    parser.add_argument("--examples", type=int, default=5)
    parser.add_argument("--queries", type=Path, default=DATA / "queries.txt")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dups-bench"))
    args = parser.parse_args(argv)
    {"cost": cost, "fold": lambda args: fold_cost(args.work / "index", args.queries), "growth": growth,
     "clusters": clusters, "variants": variants}[args.what](args)


if __name__ == "__main__":
    main()
