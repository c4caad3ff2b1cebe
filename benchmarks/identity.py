"""Check on the benchmark corpus that searchkit's fast paths change no output.

Usage::

    python benchmarks/identity.py [--docs 388270] [--queries 20000] [--skip-conversion]

1. Traditional -> Simplified: ``searchkit.normalize.to_simplified`` against
   ``OpenCC('t2s').convert`` on the title and text of every poem, both timed.
2. Query segmentation: a segmenter that reads jieba's dictionary from the
   query lexicon (what a one-shot query uses) against jieba with its whole
   dictionary loaded, on substrings sampled from the poems.
3. Document segmentation: the fast cutter (``searchkit.segmentation``)
   against jieba on every run of Chinese characters of every poem, both timed.

Prints the counts of differing outputs (expected: 0) and the timings.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from opencc import OpenCC

from searchkit import analysis, segmentation
from searchkit.normalize import normalize_text, to_simplified

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DEFAULT_OUT, iter_jsonl  # noqa: E402


def check_conversion(texts: list[str]) -> dict:
    """Differences and timings of to_simplified against OpenCC on texts."""
    reference = OpenCC("t2s")
    started = time.perf_counter()
    expected = [reference.convert(text) for text in texts]
    opencc_seconds = time.perf_counter() - started
    started = time.perf_counter()
    actual = [to_simplified(text) for text in texts]
    fast_seconds = time.perf_counter() - started
    megabytes = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    return {
        "texts": len(texts),
        "megabytes": round(megabytes, 1),
        "differences": sum(a != b for a, b in zip(actual, expected)),
        "opencc_mb_per_s": round(megabytes / opencc_seconds, 2),
        "searchkit_mb_per_s": round(megabytes / fast_seconds, 2),
        "speedup": round(opencc_seconds / fast_seconds, 1),
    }


def check_segmentation(texts: list[str], count: int, seed: int = 1) -> dict:
    """Differences between lexicon and full-dictionary query segmentation."""
    rng = random.Random(seed)
    queries = []
    while len(queries) < count:
        text = normalize_text(rng.choice(texts))
        start = rng.randrange(len(text))
        queries.append(text[start : start + rng.randint(2, 24)])
    full = analysis.segmenter_for(analysis.register_segmenter(None))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "lexicon.bin"
        analysis.write_query_lexicon(full, path)
        light = analysis.Segmenter()
        light.lexicon = analysis.QueryLexicon(path)
        differences = sum(light.words(query) != full.words(query) for query in queries)
        assert light._jieba is None  # every query went through the lexicon
    return {"queries": len(queries), "differences": differences}


def check_document_segmentation(texts: list[str]) -> dict:
    """Differences and timings of the fast cutter against jieba on every Chinese run of texts."""
    jieba_tokenizer = analysis.segmenter_for(analysis.register_segmenter(None)).jieba
    cutter = segmentation.fast_cutter(jieba_tokenizer)
    assert isinstance(cutter, segmentation.FastCutter), "rjieba is not installed"
    runs = [run for text in texts for run in analysis._CJK_RE.findall(normalize_text(text))]
    started = time.perf_counter()
    expected = [list(jieba_tokenizer.cut(run, HMM=True)) for run in runs]
    jieba_seconds = time.perf_counter() - started
    started = time.perf_counter()
    actual = [cutter.cut(run) for run in runs]
    fast_seconds = time.perf_counter() - started
    return {
        "runs": len(runs),
        "differences": sum(a != b for a, b in zip(actual, expected)),
        "jieba_s": round(jieba_seconds, 1),
        "searchkit_s": round(fast_seconds, 1),
        "speedup": round(jieba_seconds / fast_seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsonl", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--docs", type=int, default=None, help="first N poems (default: all)")
    parser.add_argument("--queries", type=int, default=20000)
    parser.add_argument("--skip-conversion", action="store_true")
    args = parser.parse_args(argv)
    texts = [f"{doc.get('title') or ''}\n{doc.get('text') or ''}"
             for doc in iter_jsonl(args.jsonl, limit=args.docs)]
    if not args.skip_conversion:
        print("conversion:", check_conversion(texts), flush=True)
    print("query segmentation:", check_segmentation(texts, args.queries), flush=True)
    print("document segmentation:", check_document_segmentation(texts), flush=True)


if __name__ == "__main__":
    main()
