"""Time the largest queries searchkit accepts, and the refusal of larger ones.

Usage::

    python benchmarks/query_limits.py INDEX [--copies N] [--rounds 3]

With ``--copies N``, INDEX is first built (if it is not there yet) from N
copies of the seed articles, each copy's text varied so that the copies are
not identical. Each query below is at or near a limit of ``searchkit.query``
(MAX_QUERY_CHARS, MAX_NESTING, MAX_QUERY_WORDS;
query texts of k words are fitted to the largest k accepted); the script prints its length,
words, total hits and the median time of ``SearchIndex.search(q, limit=10)``
over the rounds (after one warm-up), or the error it was refused with.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchkit import QueryTooLongError, SearchIndex, SearchkitError  # noqa: E402
from searchkit import query as q  # noqa: E402
from searchkit.analysis import is_cjk  # noqa: E402


def build_copies(index: Path, copies: int) -> None:
    """An index of copies of the seeds, each with its sentences shuffled differently."""
    corpus = Path(tempfile.mkdtemp(prefix="searchkit-copies-"))
    try:
        seeds = sorted(p for p in (ROOT / "seeds").glob("*.txt"))
        rng = random.Random(1)
        for n in range(copies):
            for seed in seeds:
                lines = seed.read_text(encoding="utf-8").splitlines()
                head, body = lines[:3], lines[3:]
                rng.shuffle(body)
                (corpus / f"{n:04d}_{seed.name}").write_text("\n".join(head + body), encoding="utf-8")
        SearchIndex.build(index, [corpus])
    finally:
        shutil.rmtree(corpus)


def seed_words() -> list[str]:
    """Distinct Chinese words of two or more characters in the seed articles, most frequent first."""
    import jieba

    counts: dict[str, int] = {}
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        for word in jieba.lcut(seed.read_text(encoding="utf-8")):
            if len(word) > 1 and is_cjk(word):
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def queries(words: list[str]) -> dict[str, Callable[[int], str]]:
    """Queries of k words, by name (k is fitted to the limits by largest_accepted)."""
    common = words
    rare = words[::-1]
    singles = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
               "同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高")
    return {
        "common words (AND)": lambda k: " ".join(common[:k]),
        "rare words (AND, partial)": lambda k: " ".join(rare[:k]),
        "words OR": lambda k: " OR ".join(common[:k]),
        "1 word, the others negated": lambda k: "韶关 " + " ".join("-" + w for w in rare[: k - 1]),
        "words as one phrase": lambda k: '"' + "".join(common[:k]) + '"',
        "words run together": lambda k: "".join(rare[:k]),
        "single characters": lambda k: " ".join(singles[:k]),
        "dates": lambda k: " ".join(["date:2021..2022"] * k),
        "one code of many pieces": lambda k: "-".join(["2022"] * k),
        "one long code": lambda k: "a" * q.MAX_QUERY_CHARS,
        "levels of parentheses": lambda k: "(" * q.MAX_NESTING + "韶关 改革" + ")" * q.MAX_NESTING,
        "levels of OR": lambda k: "".join(f"({w} OR " for w in common[: min(k, q.MAX_NESTING) - 1])
                                  + "山" + ")" * (min(k, q.MAX_NESTING) - 1),
        "refused: too many characters": lambda k: "韶关" * q.MAX_QUERY_CHARS,
        "refused: too many words": lambda k: " ".join(common[: 2 * q.MAX_QUERY_WORDS]),
        "refused: too deeply nested": lambda k: "(" * (q.MAX_NESTING + 1) + "韶关" + ")" * (q.MAX_NESTING + 1),
    }


def largest_accepted(index: SearchIndex, make: Callable[[int], str]) -> str:
    """make(k) for the largest k up to MAX_QUERY_WORDS that the index accepts (else k=MAX)."""
    for k in range(q.MAX_QUERY_WORDS, 0, -1):
        try:
            index.search(make(k), limit=1)
            return make(k)
        except QueryTooLongError:
            continue
    return make(q.MAX_QUERY_WORDS)


def time_query(index: SearchIndex, text: str, rounds: int) -> str:
    """One line: the query's hits and median time, or the error that refused it."""
    try:
        results = index.search(text, limit=10)  # warm-up
    except SearchkitError as exc:
        started = time.perf_counter()
        try:
            index.search(text, limit=10)
        except SearchkitError:
            pass
        return f"refused in {(time.perf_counter() - started) * 1000:7.1f} ms: {exc}"
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        index.search(text, limit=10)
        times.append(time.perf_counter() - started)
    partial = " (partial)" if results.partial else ""
    return f"{statistics.median(times) * 1000:7.1f} ms, {results.total} hits{partial}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--copies", type=int, default=0, help="build INDEX from N copies of the seeds")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.copies and not args.index.exists():
        started = time.perf_counter()
        build_copies(args.index, args.copies)
        print(f"built {args.index} from {args.copies} copies of the seeds in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    with SearchIndex.open(args.index) as index:
        print(f"{index.stats().documents} documents in {args.index}; limits: "
              f"{q.MAX_QUERY_CHARS} characters, {q.MAX_QUERY_WORDS} words, {q.MAX_NESTING} levels")
        for name, make in queries(seed_words()).items():
            text = make(q.MAX_QUERY_WORDS) if name.startswith("refused") else largest_accepted(index, make)
            print(f"{name:30} {len(text):5} chars  {time_query(index, text, args.rounds)}")


if __name__ == "__main__":
    main()
