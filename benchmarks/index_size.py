"""Where an index's bytes go: per kind of file and, in the terms and postings files, per field.

Usage::

    python benchmarks/index_size.py INDEX [INDEX ...]

Prints, for each index, the bytes of each kind of file (terms, postings,
stored documents, length and sort columns, query lexicon, the rest), then
for each field its number of terms, its bytes in the terms file (keys,
frequencies and short posting lists) and in the postings file (long lists),
and bytes per term. Text size is not known here: compare with the corpus.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from searchkit import indexer

KINDS = ((".trm", "terms"), (".pst", "postings"), ("_stored.col", "stored documents"),
         ("len.col", "field lengths"), (".col", "sort columns"), ("query-lexicon.bin", "query lexicon"),
         (".sqlite", "query lexicon (earlier format)"))


def file_kinds(index_dir: Path) -> Counter:
    """Bytes per kind of file."""
    sizes: Counter = Counter()
    for path in index_dir.iterdir():
        if path.is_file():
            kind = next((name for suffix, name in KINDS if path.name.endswith(suffix)), "other")
            sizes[kind] += path.stat().st_size
    return sizes


def field_sizes(index_dir: Path) -> dict[str, list[int]]:
    """Field -> [terms, terms-file bytes, postings-file bytes], summed over segments."""
    totals: dict[str, list[int]] = {}
    ix, _ = indexer.open_whoosh_index(index_dir)
    with ix.reader() as reader:
        leaves = [leaf for leaf, _ in reader.leaf_readers()] if not reader.is_atomic() else [reader]
        for leaf in leaves:
            for fieldname, sizes in leaf._terms.field_sizes().items():
                total = totals.setdefault(fieldname, [0, 0, 0])
                for i, value in enumerate(sizes):
                    total[i] += value
    return totals


def report(index_dir: Path) -> str:
    """The Markdown report of one index."""
    kinds = file_kinds(index_dir)
    total = sum(kinds.values())
    lines = [f"## {index_dir}: {total / 1e6:.1f} MB", "", "| file kind | MB | share |", "|---|---:|---:|"]
    for kind, size in kinds.most_common():
        lines.append(f"| {kind} | {size / 1e6:.2f} | {size / total:.0%} |")
    fields = field_sizes(index_dir)
    lines += ["", "| field | terms | terms-file MB | postings-file MB | bytes/term |", "|---|---:|---:|---:|---:|"]
    for fieldname, (terms, in_terms, in_posts) in sorted(fields.items(), key=lambda item: -sum(item[1][1:])):
        per_term = (in_terms + in_posts) / terms if terms else 0
        lines.append(f"| {fieldname} | {terms:,} | {in_terms / 1e6:.2f} | {in_posts / 1e6:.2f} | {per_term:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("indexes", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print("\n\n".join(report(path) for path in args.indexes))


if __name__ == "__main__":
    main()
