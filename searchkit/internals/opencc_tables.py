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


REGIONAL_PHRASE_FILES = ("TWPhrases.txt", "TWPhrasesRev.txt")
"""OpenCC's Taiwan wording tables: mainland term -> Taiwan term, and back.

Both are in Traditional script (s2twp converts to Traditional first, then
applies TWPhrases; tw2sp applies TWPhrasesRev before converting to
Simplified). About 510 entries each, mostly computing terms (软件/軟體,
服务器/伺服器, 打印机/印表機, 函数/函式)."""


def regional_phrase_pairs() -> list[tuple[str, str]]:
    """(one wording, another) pairs from OpenCC's Taiwan phrase tables, in Traditional script.

    Read from the data files inside opencc-python-reimplemented 0.1.7; [] if
    this release keeps them elsewhere (regional wording then does not cross,
    nothing else changes). A value may list alternatives; each is a pair.
    """
    import importlib.resources

    pairs: list[tuple[str, str]] = []
    try:
        folder = importlib.resources.files("opencc") / "dictionary"
        for name in REGIONAL_PHRASE_FILES:
            for line in (folder / name).read_text(encoding="utf-8").splitlines():
                key, _, values = line.partition("\t")
                pairs.extend((key, value) for value in values.split() if value != key)
    except (OSError, ValueError):
        return []
    return pairs
