"""Fetch the public Chinese text the search-quality harness judges queries on.

Usage::

    python benchmarks/quality/fetch.py [--cache DIR] [--tree-root DIR] [--debs DIR]
                                       [--poetry PATH]

What it gets, into a git-ignored cache directory (default ``benchmarks/data/quality/``),
skipping whatever is already there:

* Debian's ``manpages-zh`` and ``debian-handbook``: ``apt-get download PACKAGE`` into
  ``CACHE/debs/``, unpacked with ``dpkg-deb -x`` into ``CACHE/trees/PACKAGE/``.
  ``--debs DIR`` unpacks the ``.deb`` files found there instead of downloading;
  ``--tree-root DIR`` uses a directory where both packages are already unpacked
  (``DIR/usr/share/man/zh_CN`` ...) and copies nothing.
* The npm package ``chinese-poetry`` (through ``benchmarks/corpus.py``: ``npm pack``, the
  poem collections as JSON Lines). ``--poetry PATH`` names an existing ``poetry.jsonl``
  (default: ``benchmarks/data/poetry.jsonl`` when it exists). Its first 100,000 poems are
  written to ``CACHE/poems-100000.jsonl``, the poem corpus of the harness.

Then it writes ``CACHE/sources.json``: where each corpus is, the package version and the
licence read from the package itself (Debian's ``copyright`` file, npm's ``package.json``
and ``LICENSE``), and prints it. Nothing fetched is ever committed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = HERE.parent
sys.path.insert(0, str(BENCHMARKS))

import corpus  # noqa: E402  (the chinese-poetry tarball and its licence)

DEFAULT_CACHE = BENCHMARKS / "data" / "quality"
DEFAULT_POETRY = BENCHMARKS / "data" / "poetry.jsonl"
POEMS = 100_000
DEBIAN_PACKAGES = ("manpages-zh", "debian-handbook")
# Directories of each package the harness reads, relative to the unpacked tree.
TREE_PARTS = {
    "man-zh_CN": ("manpages-zh", "usr/share/man/zh_CN"),
    "man-zh_TW": ("manpages-zh", "usr/share/man/zh_TW"),
    "handbook-zh-CN": ("debian-handbook", "usr/share/doc/debian-handbook/html/zh-CN"),
    "handbook-zh-TW": ("debian-handbook", "usr/share/doc/debian-handbook/html/zh-TW"),
}
SOURCES_FILE = "sources.json"


def log(message: str) -> None:
    """Progress to standard error."""
    print(f"[fetch] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Debian packages
# --------------------------------------------------------------------------


def download_deb(package: str, debs: Path) -> Path:
    """The package's .deb in ``debs``, downloaded with ``apt-get download`` if missing."""
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    debs.mkdir(parents=True, exist_ok=True)
    log(f"apt-get download {package}")
    subprocess.run(["apt-get", "download", package], cwd=debs, check=True, stdout=subprocess.DEVNULL)
    return sorted(debs.glob(f"{package}_*.deb"))[-1]


def unpack_deb(deb: Path, target: Path) -> Path:
    """``dpkg-deb -x`` into target (once: an existing target is kept)."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
    staging.rename(target)  # complete or absent: an interrupted run leaves only a temp dir
    return target


def debian_tree(package: str, args: argparse.Namespace) -> Path:
    """The root (holding ``usr/share``) where the package is unpacked."""
    if args.tree_root:
        return args.tree_root
    target = args.cache / "trees" / package
    if target.is_dir():
        return target
    deb = download_deb(package, args.debs or args.cache / "debs")
    log(f"unpacking {deb.name}")
    return unpack_deb(deb, target)


def debian_licence(root: Path, package: str) -> str:
    """The licence of the package's main files (the ``Files: *`` stanza of its copyright file)."""
    text = (root / "usr/share/doc" / package / "copyright").read_text(encoding="utf-8")
    stanza = re.search(r"^Files: \*\n(?:.+\n)*?License: (.+)$", text, re.MULTILINE)
    return stanza.group(1).strip() if stanza else "unknown"


def debian_version(root: Path, package: str) -> str:
    """The version from the first line of the package's Debian changelog (a native package has
    only ``changelog.gz``)."""
    for name in ("changelog.Debian.gz", "changelog.gz"):
        changelog = root / "usr/share/doc" / package / name
        if changelog.is_file():
            with gzip.open(changelog, "rt", encoding="utf-8") as handle:
                match = re.match(r"\S+ \(([^)]+)\)", handle.readline())
            return match.group(1) if match else "unknown"
    return "unknown"


# --------------------------------------------------------------------------
# Poems
# --------------------------------------------------------------------------


def poetry_source(args: argparse.Namespace) -> Path:
    """The whole poetry.jsonl: the one named, the benchmark's, or one built in the cache."""
    if args.poetry:
        if not args.poetry.is_file():
            raise SystemExit(f"fetch: {args.poetry}: no such file")
        return args.poetry
    if DEFAULT_POETRY.is_file():
        return DEFAULT_POETRY
    tarball = corpus.fetch_tarball(args.cache)
    out = args.cache / "poetry.jsonl"
    if not out.is_file():
        corpus.write_jsonl(corpus.iter_poems(tarball), out)
    return out


def first_poems(source: Path, cache: Path, count: int = POEMS) -> Path:
    """The first ``count`` lines of source, as their own file (written once)."""
    out = cache / f"poems-{count}.jsonl"
    if out.is_file():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".part")
    with source.open("rb") as src, partial.open("wb") as dst:
        for number, line in enumerate(src):
            if number >= count:
                break
            dst.write(line)
    partial.rename(out)
    return out


def poetry_licence(source: Path) -> str:
    """The npm package's licence, when its tarball lies beside the corpus (corpus.py's layout)."""
    tarball = corpus.tarball_path(source.parent)
    return corpus.licence(tarball) if tarball.is_file() else "MIT (chinese-poetry, see benchmarks/corpus.py)"


# --------------------------------------------------------------------------
# All of it
# --------------------------------------------------------------------------


def fetch_all(args: argparse.Namespace) -> dict:
    """Every corpus in place; returns (and writes) the sources record."""
    args.cache.mkdir(parents=True, exist_ok=True)
    record: dict = {"corpora": {}, "packages": {}}
    roots = {package: debian_tree(package, args) for package in DEBIAN_PACKAGES}
    for package, root in roots.items():
        record["packages"][package] = {"registry": "Debian", "version": debian_version(root, package),
                                       "licence": debian_licence(root, package)}
    for name, (package, part) in TREE_PARTS.items():
        path = roots[package] / part
        if not path.is_dir():
            raise SystemExit(f"fetch: {path}: not found in the unpacked {package}")
        record["corpora"][name] = str(path)
    source = poetry_source(args)
    record["corpora"]["poems"] = str(first_poems(source, args.cache))
    record["packages"]["chinese-poetry"] = {"registry": "npm", "version": corpus.VERSION,
                                            "licence": poetry_licence(source)}
    (args.cache / SOURCES_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
    return record


def load_sources(cache: Path) -> dict | None:
    """The sources record of a previous fetch, if every corpus in it still exists."""
    path = cache / SOURCES_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if all(Path(p).exists() for p in record["corpora"].values()):
        return record
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    return parser.parse_args(argv)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """The options that say where the data is (shared with run.py)."""
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where fetched data goes (default {DEFAULT_CACHE})")
    parser.add_argument("--tree-root", type=Path,
                        help="a directory where manpages-zh and debian-handbook are already unpacked "
                             "(holding usr/share/...); nothing is downloaded")
    parser.add_argument("--debs", type=Path, help="a directory holding the two .deb files already downloaded")
    parser.add_argument("--poetry", type=Path,
                        help=f"an existing poetry.jsonl (default {DEFAULT_POETRY} if present, else npm pack)")


def main(argv: list[str] | None = None) -> None:
    """Fetch what is missing and print the sources record."""
    args = parse_args(argv)
    record = fetch_all(args)
    print(json.dumps(record, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
