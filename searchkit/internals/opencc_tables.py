"""OpenCC's Traditional-to-Simplified tables, read from inside opencc-python-reimplemented 0.1.7."""

from __future__ import annotations

from opencc import OpenCC


def t2s_tables(converter: OpenCC) -> tuple[dict[str, str], dict[str, str]] | None:
    """(phrases, characters) of a t2s converter, or None if this release keeps them elsewhere.

    Its one dictionary chain holds a phrase table and a one-character table;
    normalize.py converts with them the way OpenCC does, a hundred times faster.
    """
    try:
        ((phrases_entry, characters_entry),) = converter._dict_chain_data
        phrases, characters = phrases_entry[2], characters_entry[2]
    except (AttributeError, ValueError, TypeError, IndexError):
        return None
    if not (isinstance(phrases, dict) and isinstance(characters, dict)
            and all(len(key) == 1 for key in characters)):
        return None
    return phrases, characters
