"""Source names: the alias table, and what a name a person types stands for.

Documents name their outlet in many ways (``澎湃号``, ``thepaper.cn``); the
alias table ``searchkit/data/sources.json`` maps each to one canonical name,
and a corpus's sidecar ``[aliases]`` table extends it (the index keeps those).
``SourceTable`` answers the one question every face asks, "which source does
this name mean?", with the same rules for the CLI's ``--source``, the shell's
``:source`` and ``source:`` inside a query.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import UnknownSourceError
from .normalize import normalize_query

__all__ = ["Aliases", "SourceTable", "canonical_source", "combine_aliases"]

_SOURCES_FILE = Path(__file__).with_name("data") / "sources.json"
MAX_SUGGESTIONS = 5

Aliases = Mapping[str, Iterable[str]]


# --- the alias table -----------------------------------------------------


def alias_key(name: str) -> str:
    """What two spellings of one name share: case, width and script are ignored."""
    return normalize_query(name).casefold()


@functools.cache
def _builtin_aliases() -> dict[str, list[str]]:
    with _SOURCES_FILE.open(encoding="utf-8") as file:
        return json.load(file)


def combine_aliases(*tables: Aliases | None) -> dict[str, list[str]] | None:
    """Alias tables (``canonical -> [alias, ...]``) merged into one; None if all are empty."""
    combined: dict[str, list[str]] = {}
    for table in tables:
        for name, aliases in (table or {}).items():
            combined.setdefault(name, []).extend(aliases)
    return combined or None


def _alias_lookup(aliases: Aliases) -> dict[str, str]:
    lookup = {}
    for canonical, names in aliases.items():
        for name in (canonical, *names):
            lookup[alias_key(name)] = canonical
    return lookup


@functools.cache
def _builtin_lookup() -> dict[str, str]:
    return _alias_lookup(_builtin_aliases())


def lookup_for(aliases: Aliases | None) -> dict[str, str]:
    """``alias_key(name) -> canonical`` for the built-in table extended by aliases."""
    if not aliases:
        return _builtin_lookup()
    return _alias_lookup(combine_aliases(_builtin_aliases(), aliases) or {})


def canonical_source(name: str, aliases: Aliases | None = None) -> str:
    """The canonical name of a source, e.g. ``澎湃号`` -> ``澎湃新闻``.

    Matching ignores case, width and script. ``aliases`` (``canonical ->
    [alias, ...]``) extends the built-in table. A name with ``·`` parts that is
    not itself known is looked up by its first part; unknown names come back
    normalized.
    """
    return lookup_source(name, lookup_for(aliases))


def _known_canonical(name: str, lookup: Mapping[str, str]) -> str | None:
    name = normalize_query(name)
    for candidate in (name, name.split("·")[0]):
        canonical = lookup.get(alias_key(candidate))
        if canonical:
            return canonical
    return None


def lookup_source(name: str, lookup: Mapping[str, str]) -> str:
    """The canonical name of name in lookup (see canonical_source)."""
    return _known_canonical(name, lookup) or normalize_query(name)


def known_source(names: Iterable[str], lookup: Mapping[str, str]) -> str | None:
    """The canonical name of the first of names that lookup knows exactly, if any."""
    for name in names:
        canonical = lookup.get(alias_key(name))
        if canonical:
            return canonical
    return None


def checked_aliases(table: object) -> dict[str, list[str]]:
    """The ``canonical -> [alias, ...]`` entries of table that are strings (for data read back)."""
    if not isinstance(table, dict):
        return {}
    return {name: list(aliases) for name, aliases in table.items()
            if isinstance(name, str) and isinstance(aliases, list)
            and all(isinstance(alias, str) for alias in aliases)}


# --- resolving a name ------------------------------------------------------------


class SourceTable:
    """An index's sources (names and document counts) and how names resolve to them.

    ``resolve(name)`` applies, in order: the name of one of the index's sources
    (ignoring case, width and script); an alias (the built-in table plus
    ``aliases``) of an outlet; a prefix of exactly one of the index's names
    (``羊城`` -> ``羊城晚报``). An outlet the alias table knows but the index has
    no document from resolves to its name (it finds nothing); anything else
    raises UnknownSourceError naming the closest known names.
    """

    def __init__(self, counts: Mapping[str, int], aliases: Aliases | None = None) -> None:
        self.counts = dict(counts)  # most documents first, as SearchIndex.sources() gives them
        self._names = {alias_key(name): name for name in reversed(self.counts)}
        self._lookup = lookup_for(aliases)

    def resolve(self, name: str) -> str:
        """The source name (as the index spells it) that name means; UnknownSourceError if none."""
        key = alias_key(name.strip())
        if key in self._names:
            return self._names[key]
        canonical = _known_canonical(name.strip(), self._lookup)
        if canonical is not None:
            return self._names.get(alias_key(canonical), canonical)
        if key:
            starting = [real for low, real in self._names.items() if low.startswith(key)]
            if len(starting) == 1:
                return starting[0]
            if starting:
                raise UnknownSourceError(name, self._by_count(starting), ambiguous=True)
        raise UnknownSourceError(name, self.suggestions(name))

    def suggestions(self, name: str) -> list[str]:
        """At most MAX_SUGGESTIONS of the index's names, the closest to name first.

        Closeness counts the outlet's aliases too (``ycwbb`` is close to ``ycwb``,
        so to 羊城晚报); ties go to the source with more documents.
        """
        key = alias_key(name.strip())
        closeness = {real: _similarity(key, low) for low, real in self._names.items()}
        for alias, canonical in self._lookup.items():
            real = self._names.get(alias_key(canonical))
            if real is not None:
                closeness[real] = max(closeness[real], _similarity(key, alias))
        return sorted(self.counts, key=lambda real: (-round(closeness[real], 2), -self.counts[real])
                      )[:MAX_SUGGESTIONS]

    def _by_count(self, names: list[str]) -> list[str]:
        return sorted(names, key=lambda real: -self.counts[real])


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()
