"""The roots of an index: the files and directories it is built from, and its document ids.

An index records its roots in its manifest: absolute, resolved paths, each
with a short label, and the ``include``/``exclude`` globs its walks use. A run
that names no path re-scans every root; naming paths updates those paths only:

- a path inside a recorded root updates that subtree of the root (the root is
  walked, so its sidecar applies, but only files under the path are read, and
  only vanished files under it are removed);
- any other path becomes a new root (recorded roots inside it become part of it);
- ``remove`` forgets roots and removes their documents.

Document ids: in an index of one root, a document's id is its file's path
relative to that root (its file name for a root that is a file), as the loader
gives it; in an index of several roots, it is ``label/`` followed by that id.
A label is the root's name (for a root that is a file, its directory's name),
with ``~2``, ``~3``... added when another root has that name already, and it
never changes while the root is recorded. So ids are stable across runs; they
change only when an index goes from one root to several or back, and the
documents concerned are re-indexed then.

Each indexed file records, beside its checksum, the stamp ``@label`` (one
root) or ``@label/`` (several roots): which root it came from and whether its
ids carry the label. A file recorded before roots were has no stamp.
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SearchkitError


@dataclass
class Root:
    """One corpus root of an index.

    ``label`` is None for a root read from a manifest written before roots
    were recorded: its path is then the path as it was given.
    """

    path: str
    label: str | None = None
    aliases: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # its sidecar's

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path}
        if self.label is not None:
            data["label"] = self.label
        if self.aliases:
            data["aliases"] = self.aliases
        return data

    @classmethod
    def from_json(cls, data: Any) -> "Root":
        """A root from its manifest entry (ValueError if it cannot be one)."""
        if isinstance(data, str):  # the old form: the path as given
            return cls(data)
        if not (isinstance(data, dict) and isinstance(data.get("path"), str)
                and isinstance(data.get("label", ""), str) and isinstance(data.get("aliases", {}), dict)):
            raise ValueError("a root that is not a path and a label")
        return cls(data["path"], data.get("label"), data.get("aliases", {}))

    def stamp(self, several: bool) -> str:
        """What the files indexed from this root record: its label, and ``/`` if ids carry it."""
        return f"{self.label}/" if several else str(self.label)

    def holds(self, path: Path) -> bool:
        """Whether path is this root or lies under it."""
        return path.is_relative_to(self.path)


@dataclass
class Corpus:
    """What an index is built from: its roots and the globs that select files under them."""

    roots: list[Root] = dataclasses.field(default_factory=list)
    include: list[str] = dataclasses.field(default_factory=list)
    exclude: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"roots": [root.to_json() for root in self.roots]}
        if self.include:
            data["include"] = self.include
        if self.exclude:
            data["exclude"] = self.exclude
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], aliases: dict[str, list[str]]) -> "Corpus":
        """The corpus a manifest records; an old manifest's ``corpus`` list gives legacy roots.

        Those get the manifest's aliases, so that the index keeps them until
        their root is re-scanned.
        """
        if "roots" not in data:
            entries = data.get("corpus", [])
            if not isinstance(entries, list) or not all(isinstance(p, str) for p in entries):
                raise ValueError("a corpus that is not a list of paths")
            return cls([Root(path, None, dict(aliases)) for path in entries])
        roots, include, exclude = data["roots"], data.get("include", []), data.get("exclude", [])
        if not (isinstance(roots, list) and _strings(include) and _strings(exclude)):
            raise ValueError("roots or globs of the wrong types")
        return cls([Root.from_json(entry) for entry in roots], list(include), list(exclude))

    @property
    def aliases(self) -> dict[str, list[str]]:
        """The alias tables of every root's sidecar, together."""
        union: dict[str, list[str]] = {}
        for root in self.roots:
            for name, names in root.aliases.items():
                known = union.setdefault(name, [])
                known.extend(alias for alias in names if alias not in known)
        return union


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# -- what the index records per file ---------------------------------------------------


def file_record(checksum: str, stamp: str) -> str:
    """What the index records for a file beside its key: its checksum and its root's stamp."""
    return f"{checksum}\t@{stamp}"


def parse_file_term(term: str) -> tuple[str, str]:
    """(key, record) of an indexed file's term ``key<TAB>record``; the key may hold tabs."""
    parts = term.rsplit("\t", 2)
    if len(parts) == 3 and parts[2].startswith("@"):
        return parts[0], f"{parts[1]}\t{parts[2]}"
    key, checksum = term.rsplit("\t", 1)
    return key, checksum


def record_stamp(record: str) -> str | None:
    """The root stamp of a file record (None: recorded before roots were)."""
    _, _, stamp = record.partition("\t@")
    return stamp or None


def id_prefix(record: str) -> str:
    """What the ids of a file's documents start with: ``label/`` in an index of several roots."""
    stamp = record_stamp(record) or ""
    return stamp if stamp.endswith("/") else ""


# -- choosing what a run scans -----------------------------------------------------------


@dataclass
class Scan:
    """A root a run walks; ``scopes`` (None: the whole root) are the paths under it it updates."""

    root: Root
    scopes: list[Path] | None = None

    def covers(self, path: Path) -> bool:
        return self.scopes is None or any(path.is_relative_to(scope) for scope in self.scopes)


@dataclass
class Plan:
    """A run's roots after it, the roots it walks, and whether ids carry labels."""

    roots: list[Root]
    scans: list[Scan]
    several: bool


def resolved_roots(roots: list[Root]) -> list[Root]:
    """The roots with legacy ones (paths as given) resolved and labelled, nested ones merged.

    A legacy path is resolved against the working directory, as the old
    index command was most likely run from there.
    """
    taken = {root.label for root in roots if root.label is not None}
    result: list[Root] = []
    for root in roots:
        if root.label is None:
            path = Path(root.path).resolve()
            root = Root(str(path), new_label(Path(os.path.abspath(root.path)), path, taken), root.aliases)
            taken.add(root.label)
        result.append(root)
    kept: list[Root] = []
    for root in sorted(result, key=lambda r: len(Path(r.path).parts)):  # outer roots first
        if not any(Path(root.path).is_relative_to(other.path) for other in kept):
            kept.append(root)
    return sorted(kept, key=result.index)


def plan_run(recorded: list[Root], previous_several: bool, named: list[Path],
             remove: list[str], *, rescan_all: bool, index_dir: Path) -> Plan:
    """Which roots a run ends with and which it walks (see the module docstring).

    ``named`` are the paths given (absolute, not resolved), ``remove`` roots to
    forget (a path or a label). ``rescan_all`` walks every root whole (a
    rebuild, changed globs, or no path named).
    """
    roots = list(recorded)
    for name in remove:
        root = _find_root(roots, name, index_dir)
        roots.remove(root)
    taken = {root.label for root in recorded} | {root.label for root in roots}
    scopes: dict[int, list[Path] | None] = {}  # id(root) -> scopes
    for given in sorted(named, key=lambda p: len(p.resolve().parts)):
        path = given.resolve()
        home = next((root for root in roots if root.holds(path)), None)
        if home is None:
            home = Root(str(path), new_label(given, path, taken))
            taken.add(home.label)
            inside = [root for root in roots if Path(root.path).is_relative_to(path)]
            roots = [root for root in roots if root not in inside] + [home]
            scopes[id(home)] = None
        elif path == Path(home.path):
            scopes[id(home)] = None
        elif scopes.get(id(home), []) is not None:
            scopes.setdefault(id(home), []).append(path)
    several = len(roots) > 1
    if rescan_all or several != previous_several:  # every root's ids or selection change
        scopes = {id(root): None for root in roots}
    scans = [Scan(root, scopes[id(root)]) for root in roots if id(root) in scopes]
    return Plan(roots, scans, several)


def _find_root(roots: list[Root], name: str, index_dir: Path) -> Root:
    """The recorded root a ``remove`` names, by path or by label."""
    path = Path(name).resolve()
    for root in roots:
        if Path(root.path) == path or root.label == name:
            return root
    home = next((root for root in roots if root.holds(path)), None)
    known = ", ".join(root.path for root in roots) or "none"
    if home is not None:
        raise SearchkitError(f"{name} is not a root of the index at {index_dir} but lies inside "
                             f"its root {home.path}; only whole roots can be removed")
    raise SearchkitError(f"{name} is not a root of the index at {index_dir} (its roots: {known})")


def new_label(given: Path, path: Path, taken: set[str | None]) -> str:
    """A label for a new root: its name (a file's: its directory's), made unique among taken."""
    given = Path(os.path.abspath(given))
    if path.is_file():
        given, path = given.parent, path.parent
    base = _printable(given.name or path.name) or "root"
    label, number = base, 1
    while label in taken:
        number += 1
        label = f"{base}~{number}"
    return label


def _printable(name: str) -> str:
    """A name without control characters, tabs or undecodable bytes (a label goes into terms)."""
    return "".join("_" if unicodedata.category(char) in ("Cc", "Cs") else char for char in name)
