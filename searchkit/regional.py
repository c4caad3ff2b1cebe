"""Regional wording: the mainland and the Taiwan word for the same thing.

Script conversion (normalize.py) makes 軟體 into 软体, but a mainland page
says 软件: the same software in other words. A query word is looked up here
for the other region's wording, in Simplified script as the index holds it,
and the compiler searches both, the variant at a lower weight so that pages
in the query's own wording rank first (see compiler.VARIANT_WEIGHT).

The pairs are OpenCC's Taiwan phrase tables (internals.opencc_tables), read
in both directions: a query cannot say which region it is from.
"""

from __future__ import annotations

import functools

from .internals.opencc_tables import regional_phrase_pairs
from .normalize import to_simplified


@functools.cache
def variant_table() -> dict[str, tuple[str, ...]]:
    """Each word (Simplified) with its other-region wordings (Simplified), both ways."""
    variants: dict[str, set[str]] = {}
    for one, other in regional_phrase_pairs():
        a, b = to_simplified(one), to_simplified(other)
        if a != b:
            variants.setdefault(a, set()).add(b)
            variants.setdefault(b, set()).add(a)
    return {word: tuple(sorted(others)) for word, others in variants.items()}


def variants(word: str) -> tuple[str, ...]:
    """The other-region wordings of word (normalized text), () if it has none."""
    return variant_table().get(word, ())
