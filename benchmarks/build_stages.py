"""Where indexing time goes: CPU seconds per stage, in one process.

Usage::

    python benchmarks/build_stages.py CORPUS [--docs 5000] [--repeat 3]

Loads the first ``--docs`` documents of CORPUS (any file or directory
searchkit reads), then times, in this process and in CPU seconds (not wall
time: the machine is shared): loading and cleaning; analysis (conversion is
part of loading; segmentation, characters and bigrams); pooling the postings
(``add_document``); and writing the segment (``commit``: terms, postings,
stored documents, columns). Prints the medians over ``--repeat`` runs and the
tokens indexed per field. Indexing proper runs these stages in one worker
process per core, after loading jieba's dictionary once.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from whoosh import index as whoosh_index

from searchkit import analysis, indexer, schema
from searchkit.internals.writer import FastSegmentWriter
from searchkit.loaders import load_corpus


def run_once(corpus: Path, docs: int, segmenter) -> tuple[dict[str, float], dict[str, int]]:
    """CPU seconds per stage for one build of a segment; tokens per field."""
    times: dict[str, float] = {}
    started = time.process_time()
    documents = list(itertools.islice(load_corpus([corpus]), docs))
    times["load"] = time.process_time() - started
    started = time.process_time()
    fields = [indexer.document_fields(d, d.path, "benchmark", segmenter) for d in documents]
    times["analyse"] = time.process_time() - started
    tokens = {name: sum(len(f[name].tokens) for f in fields if f.get(name) is not None)
              for name in (schema.TITLE, schema.CONTENT, schema.KEYWORDS, schema.CHARS, schema.BIGRAMS)}
    directory = Path(tempfile.mkdtemp(prefix="searchkit-stages-"))
    try:
        ix = whoosh_index.create_in(str(directory), schema.build_schema(), indexname="stages")
        writer = FastSegmentWriter(ix, compound=False, limitmb=indexer.WORKER_LIMIT_MB)
        started = time.process_time()
        for field_values in fields:
            writer.add_document(**field_values)
        times["pool"] = time.process_time() - started
        started = time.process_time()
        writer.commit()
        times["write"] = time.process_time() - started
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return times, tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    segmenter = analysis.segmenter_for(analysis.register_segmenter(None))
    segmenter.accelerate()
    runs = [run_once(args.corpus, args.docs, segmenter) for _ in range(args.repeat)]
    stages = runs[0][0].keys()
    medians = {stage: statistics.median(run[0][stage] for run in runs) for stage in stages}
    total = sum(medians.values())
    print(f"| stage ({args.docs:,} documents, CPU s, median of {args.repeat}) | s | share |")
    print("|---|---:|---:|")
    for stage, seconds in medians.items():
        print(f"| {stage} | {seconds:.2f} | {seconds / total:.0%} |")
    print(f"| total | {total:.2f} | |")
    tokens = runs[0][1]
    all_tokens = sum(tokens.values())
    print(f"\ntokens: {all_tokens:,} ({', '.join(f'{k} {v:,}' for k, v in tokens.items())}); "
          f"{total / all_tokens * 1e6:.2f} us of CPU per token")


if __name__ == "__main__":
    main()
