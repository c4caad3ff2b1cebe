"""A generated set of near-duplicates, and the precision and recall of finding their pairs.

Base articles are cut from real text (the seeds: news about one city's reforms,
so two bases are unrelated documents on the same topic, the hard negatives).
Each base gets variants as archives hold them: a changed number, a missing
line, another headline, paragraphs reordered, an excerpt, a Traditional-script
copy, and a page that carries it plus other material. Every two documents of
one family (a base and its variants) are a true pair; any other pair is not.

Used by tests/test_duplicates.py (thresholds the figures clear) and
benchmarks/duplicates_cost.py (which prints them).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from itertools import combinations

import opencc

from searchkit import duplicates, fingerprints
from searchkit.normalize import normalize_text

KINDS = ("number", "missing line", "headline", "reordered", "excerpt", "traditional", "inside a page")


@dataclass(frozen=True)
class Variant:
    """One generated document: its family (the base it comes from) and how it was made."""

    family: int
    kind: str
    text: str


def base_articles(texts: list[str], paragraphs: int = 4, min_chars: int = 300) -> list[list[str]]:
    """Articles of consecutive paragraphs cut from texts (each a list of paragraphs)."""
    articles = []
    for text in texts:
        lines = [line.strip() for line in text.split("\n") if len(line.strip()) >= 20]
        for start in range(0, len(lines) - paragraphs + 1, paragraphs):
            article = lines[start:start + paragraphs]
            if sum(map(len, article)) >= min_chars:
                articles.append(article)
    return articles


def variants(articles: list[list[str]], filler: list[str], seed: int = 14) -> list[Variant]:
    """Each article and one variant of every kind (filler: paragraphs of other material,
    cut into sentences; three for each page, none used twice while there are some left)."""
    rng = random.Random(seed)
    to_traditional = opencc.OpenCC("s2t")
    # Each page gets sentences of its own, so that two pages share no material.
    filler = [f"{sentence}。" for line in filler for sentence in line.split("。") if len(sentence) >= 10]
    rng.shuffle(filler)
    made = []
    for family, article in enumerate(articles):
        made.append(Variant(family, "base", "\n".join(article)))
        for kind in KINDS:
            made.append(Variant(family, kind, _variant(kind, article, filler, rng, to_traditional)))
    return made


def _variant(kind: str, article: list[str], filler: list[str], rng: random.Random, converter) -> str:
    lines = list(article)
    if kind == "number":
        text = "\n".join(lines)
        numbers = list(re.finditer(r"\d+", text))
        if numbers:
            found = rng.choice(numbers)
            return text[:found.start()] + str(int(found.group()) + rng.randint(1, 99)) + text[found.end():]
        return text.replace("，", "。", 1)
    if kind == "missing line":
        del lines[rng.randrange(len(lines))]
    elif kind == "headline":
        lines.insert(0, "本报讯 " + rng.choice(["改革新局面", "高质量发展", "一线观察", "记者手记"]))
    elif kind == "reordered":
        rng.shuffle(lines)
    elif kind == "excerpt":
        size = max(2, len(lines) // 2)
        start = rng.randrange(len(lines) - size + 1)
        lines = lines[start:start + size]
    elif kind == "traditional":
        return normalize_text(converter.convert("\n".join(lines)))
    elif kind == "inside a page":
        extra = [filler.pop() for _ in range(min(3, len(filler)))]
        lines = extra[:1] + lines + extra[1:]
    return "\n".join(lines)


@dataclass(frozen=True)
class Figures:
    """How well pair detection did on a generated set."""

    documents: int
    true_pairs: int
    found_pairs: int
    correct: int
    missed_by_kind: dict[str, int]
    """Family pairs not found, by the kind of variant in them."""
    base_pairs: int
    """True pairs of a base and one of its variants (the others pair two variants,
    such as an excerpt and a copy missing a line of it: less alike)."""
    base_correct: int
    worst_negative: float
    """The highest similarity of two documents of different families."""

    @property
    def precision(self) -> float:
        return self.correct / self.found_pairs if self.found_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_pairs if self.true_pairs else 1.0

    @property
    def base_recall(self) -> float:
        return self.base_correct / self.base_pairs if self.base_pairs else 1.0


def measure(documents: list[Variant], threshold: float = duplicates.DEFAULT_THRESHOLD) -> Figures:
    """Pairs found by the clustering's pair step against the families' pairs."""
    prints = [fingerprints.decode(fingerprints.fingerprint_bytes(d.text)) for d in documents]
    found = {(p.first, p.second) for p in duplicates.similar_pairs(prints, threshold)}
    truth = {(a, b) for a, b in combinations(range(len(documents)), 2)
             if documents[a].family == documents[b].family}
    missed: dict[str, int] = {}
    for a, b in truth - found:
        for kind in {documents[a].kind, documents[b].kind} - {"base"}:
            missed[kind] = missed.get(kind, 0) + 1
    with_base = {(a, b) for a, b in truth if "base" in (documents[a].kind, documents[b].kind)}
    negatives = [duplicates.similarity(prints[a], prints[b]) or 0.0 for a, b in found - truth]
    negatives += [duplicates.similarity(prints[a], prints[b]) or 0.0
                  for a, b in duplicates.candidate_pairs(prints) if (a, b) not in truth]
    return Figures(len(documents), len(truth), len(found), len(found & truth), missed,
                   len(with_base), len(found & with_base), max(negatives, default=0.0))
