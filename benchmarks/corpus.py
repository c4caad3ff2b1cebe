"""Build the benchmark corpus: classical Chinese poetry from the npm package
``chinese-poetry`` (MIT licence, Copyright (c) 2016 JackeyGao).

Usage::

    python benchmarks/corpus.py [--out benchmarks/data/poetry.jsonl] [--limit N]
                                [--queries benchmarks/data/queries.txt]
                                [--n-queries 300] [--seed 1] [--query-docs N]

Steps:

1. ``npm pack chinese-poetry@VERSION`` into ``benchmarks/data/`` (skipped when
   the tarball is already there);
2. extract the poem collections (only those, not the rank/strains/error
   side tables) next to the tarball, once;
3. stream one JSON object per poem to the output file, in a deterministic
   order (collections in ``COLLECTIONS`` order, files in natural sort order)::

       {"id": ..., "title": ..., "text": ..., "source": ..., "author": ..., "date": null}

4. sample a deterministic query set from the written corpus (``make_queries``).

Importable helpers: ``fetch_tarball``, ``iter_poems``, ``make_queries``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
PACKAGE = "chinese-poetry"
VERSION = "2.0.1"  # pinned so that ids and benchmark numbers are reproducible
DEFAULT_OUT = DATA_DIR / "poetry.jsonl"
DEFAULT_QUERIES = DATA_DIR / "queries.txt"
DEFAULT_NATURAL = DATA_DIR / "queries-natural.txt"


@dataclass(frozen=True)
class Collection:
    """One poem collection inside the tarball's ``package/dist/`` tree."""

    key: str  # short ASCII name, used as the id prefix
    source: str  # Chinese collection name written to the "source" field
    glob: str  # file pattern relative to package/dist/
    title_field: str = "title"
    text_field: str = "paragraphs"
    author: str | None = None  # fixed author when the files have none


# Poetry collections only. Deliberately left out: quantangshi/authors.*,
# songci/author.song.json (biographies), quantangshi/error/ (8,997 poems that
# duplicate the main files, with error annotations), strains/ (tone patterns),
# rank/ (search-engine hit counts), and the prose/primer collections
# (lunyu, sishuwujing, mengxue, youmengying).
COLLECTIONS: tuple[Collection, ...] = (
    Collection("tang", "全唐诗", "quantangshi/poet.tang.*.json"),
    Collection("song", "全宋诗", "quantangshi/poet.song.*.json"),
    Collection("ci", "宋词", "songci/ci.song.*.json", title_field="rhythmic"),
    Collection("yuding", "御定全唐诗", "yudingquantangshi/json/*.json"),
    Collection("qu", "元曲", "yuanqu/yuanqu.json"),
    Collection("shijing", "诗经", "shijing/shijing.json", text_field="content"),
    Collection("chuci", "楚辞", "chuci/chuci.json", text_field="content"),
    Collection("huajian", "花间集", "wudaishici/huajianji/huajianji-*-juan.json"),
    Collection("nantang", "南唐二主词", "wudaishici/nantang/poetrys.json"),
    Collection("caocao", "曹操诗集", "caocaoshiji/caocao.json", author="曹操"),
    Collection("nalan", "纳兰性德诗集", "nalanxingde/*.json", text_field="para"),
    Collection("shuimo", "水墨唐诗", "shuimotangshi/shuimotangshi.json"),
)


# --------------------------------------------------------------------------
# Download and extraction
# --------------------------------------------------------------------------


def tarball_path(data_dir: Path = DATA_DIR, version: str = VERSION) -> Path:
    """Where ``npm pack`` leaves the tarball for ``version``."""
    return data_dir / f"{PACKAGE}-{version}.tgz"


def fetch_tarball(data_dir: Path = DATA_DIR, version: str = VERSION) -> Path:
    """Download the package tarball with ``npm pack`` unless it is cached."""
    path = tarball_path(data_dir, version)
    if path.exists():
        print(f"using cached {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{version}", "--silent", "--pack-destination", str(data_dir)],
        check=True,
        capture_output=True,  # npm lists every file of the package
    )
    elapsed = time.perf_counter() - start
    print(f"downloaded {path.name}: {path.stat().st_size / 1e6:.1f} MB in {elapsed:.1f} s", file=sys.stderr)
    return path


def extracted_dir(tarball: Path) -> Path:
    """Directory the tarball's contents are extracted to (next to it)."""
    return tarball.with_suffix("")  # chinese-poetry-2.0.1.tgz -> chinese-poetry-2.0.1


def _wanted(member: tarfile.TarInfo) -> bool:
    """True for the files ``iter_poems`` and the licence check read."""
    name = member.name
    if name in ("package/package.json", "package/LICENSE"):
        return True
    rel = name.removeprefix("package/dist/")
    return member.isfile() and any(Path(rel).match(c.glob) for c in COLLECTIONS)


def extract(tarball: Path) -> Path:
    """Extract the poem files once (a marker file records completion).

    Reading members straight from the gzip stream in sorted order would seek
    backwards, i.e. decompress the archive over and over; extracting is
    simpler and keeps memory flat.
    """
    dest = extracted_dir(tarball)
    marker = dest / ".complete"
    if marker.exists():
        return dest
    with tarfile.open(tarball, "r:gz") as tar:
        members = [m for m in tar if _wanted(m)]
        tar.extractall(dest, members=members, filter="data")
    marker.touch()
    return dest


def licence(tarball: Path) -> str:
    """Licence of the package, from package.json and the LICENSE copyright line."""
    root = extract(tarball) / "package"
    spdx = json.loads((root / "package.json").read_text(encoding="utf-8"))["license"]
    lines = (root / "LICENSE").read_text(encoding="utf-8").splitlines()
    copyright_line = next((line for line in lines if line.startswith("Copyright")), "")
    return f"{spdx} ({copyright_line})" if copyright_line else spdx


# --------------------------------------------------------------------------
# Poems
# --------------------------------------------------------------------------


def natural_key(path: Path) -> list:
    """Sort key that orders poet.tang.2000.json before poet.tang.10000.json."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def collection_files(root: Path, collection: Collection) -> list[Path]:
    """The collection's JSON files under ``root`` (package/dist), naturally sorted."""
    return sorted(root.glob(collection.glob), key=natural_key)


def to_poem(record: dict, collection: Collection, poem_id: str) -> dict | None:
    """Map one raw record to the corpus schema; None when it has no text."""
    lines = record.get(collection.text_field) or []
    if isinstance(lines, str):
        lines = [lines]
    text = "\n".join(line.strip() for line in lines if line and line.strip())
    if not text:
        return None
    return {
        "id": poem_id,
        "title": (record.get(collection.title_field) or "").strip(),
        "text": text,
        "source": collection.source,
        "author": record.get("author") or collection.author,
        "date": None,
    }


def iter_poems(tarball: Path | str) -> Iterator[dict]:
    """Yield every poem of the package, one dict per poem, in a stable order.

    Ids are ``<collection key>/<file stem>/<index in file>`` (e.g.
    ``tang/poet.tang.0/17``): stable for a given package version. Only one
    JSON file (at most a few MB) is held in memory at a time.
    """
    root = extract(Path(tarball)) / "package" / "dist"
    for collection in COLLECTIONS:
        for path in collection_files(root, collection):
            records = json.loads(path.read_text(encoding="utf-8"))
            stem = path.name.removesuffix(".json")
            for index, record in enumerate(records):
                poem = to_poem(record, collection, f"{collection.key}/{stem}/{index}")
                if poem is not None:
                    yield poem


def write_jsonl(poems: Iterator[dict], out: Path, limit: int | None = None) -> tuple[int, int]:
    """Stream poems to ``out`` as JSON Lines; return (docs, bytes written)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    docs = size = 0
    with out.open("w", encoding="utf-8") as fh:
        for poem in poems:
            if limit is not None and docs >= limit:
                break
            line = json.dumps(poem, ensure_ascii=False) + "\n"
            fh.write(line)
            docs += 1
            size += len(line.encode("utf-8"))
    return docs, size


def iter_jsonl(path: Path | str, limit: int | None = None) -> Iterator[dict]:
    """Read back a JSON Lines corpus, optionally only the first ``limit`` docs."""
    with open(path, encoding="utf-8") as fh:
        for count, line in enumerate(fh):
            if limit is not None and count >= limit:
                return
            yield json.loads(line)


# --------------------------------------------------------------------------
# Query set
# --------------------------------------------------------------------------

HAN = re.compile(r"^[\u4e00-\u9fff]+$")
HAN_RUN = re.compile(r"[\u4e00-\u9fff]{4,}")

# Share of each query kind; the remainder are Traditional-script queries.
QUERY_MIX = (("word", 0.40), ("multi", 0.25), ("phrase", 0.15))


def _sample_docs(jsonl: Path | str, k: int, rng: random.Random, limit: int | None) -> list[dict]:
    """Reservoir-sample ``k`` docs from the corpus in one streaming pass."""
    sample: list[dict] = []
    for seen, doc in enumerate(iter_jsonl(jsonl, limit)):
        if seen < k:
            sample.append(doc)
        else:
            slot = rng.randrange(seen + 1)
            if slot < k:
                sample[slot] = doc
    return sample


def _words(text: str) -> list[str]:
    """jieba words of 2-3 Han characters, in order of appearance."""
    import jieba

    jieba.setLogLevel(60)
    return [w for w in jieba.cut(text) if 2 <= len(w) <= 3 and HAN.match(w)]


def _phrase(text: str, rng: random.Random) -> str | None:
    """A random run of 4 consecutive Han characters from one line."""
    runs = HAN_RUN.findall(text)
    if not runs:
        return None
    run = rng.choice(runs)
    start = rng.randrange(len(run) - 3)
    return run[start : start + 4]


def _make_query(kind: str, doc: dict, rng: random.Random, t2s, s2t) -> str | None:
    """Build one query of ``kind`` from ``doc``; None if the doc cannot supply it."""
    if kind == "trad":
        base = _make_query(rng.choice(["word", "multi", "phrase"]), doc, rng, t2s, s2t)
        if base is None:
            return None
        trad = s2t.convert(base)
        return trad if trad != base else None  # only keep queries that differ
    simplified = t2s.convert(doc["text"])
    if kind == "phrase":
        phrase = _phrase(simplified, rng)
        return f'"{phrase}"' if phrase else None
    words = list(dict.fromkeys(_words(simplified)))  # unique, stable order
    if kind == "word":
        return rng.choice(words) if words else None
    size = rng.choice([2, 3])  # "multi": words co-occurring in one poem
    return " ".join(rng.sample(words, size)) if len(words) >= size else None


def _kinds(n: int) -> list[str]:
    """Query kinds for ``n`` queries following ``QUERY_MIX``."""
    kinds = [kind for kind, share in QUERY_MIX for _ in range(round(n * share))]
    return kinds + ["trad"] * (n - len(kinds))


def make_queries(jsonl: Path | str, n: int = 300, seed: int = 1, limit: int | None = None) -> list[str]:
    """Deterministically sample ``n`` distinct real queries from the corpus.

    Mix: 40% single words (2-3 chars), 25% two or three words from the same
    poem separated by a space, 15% quoted 4-char phrases, 20% Traditional
    script (any of the above converted s2t, kept only if it changed).
    Words come from jieba on the t2s-converted text. ``limit`` restricts the
    sampling to the first ``limit`` docs (e.g. the part that gets indexed).
    """
    from opencc import OpenCC

    rng = random.Random(seed)
    t2s, s2t = OpenCC("t2s"), OpenCC("s2t")
    docs = _sample_docs(jsonl, 4 * n, rng, limit)
    queries: list[str] = []
    seen: set[str] = set()
    for kind in _kinds(n):
        for _ in range(50):  # docs that cannot supply this kind are skipped
            query = _make_query(kind, rng.choice(docs), rng, t2s, s2t)
            if query and query not in seen:
                seen.add(query)
                queries.append(query)
                break
    return queries


# Kinds of the queries people paste or type whole, with their shares.
NATURAL_MIX = (("line", 0.35), ("title_author", 0.25), ("keywords", 0.25), ("line_words", 0.15))
LINE = re.compile(r"[^，。！？；：\n]*[，。！？；][^，。！？；：\n]*[。！？；]?")


def _natural_query(kind: str, doc: dict, rng: random.Random, t2s) -> str | None:
    """One query of ``kind`` from ``doc`` as a reader would type or paste it."""
    text = doc["text"]
    if kind == "title_author":
        return f"{doc['title']} {doc['author']}" if doc.get("title") and doc.get("author") else None
    if kind in ("line", "line_words"):
        lines = [x.strip() for x in LINE.findall(text) if len(x.strip()) >= 8]
        if not lines:
            return None
        line = rng.choice(lines)  # a pasted couplet, in the poem's own script, with its punctuation
        return line if kind == "line" else " ".join(_words(t2s.convert(line))) or None
    words = list(dict.fromkeys(_words(t2s.convert(text))))  # "keywords": 4-8 words of one poem
    size = rng.randint(4, 8)
    return " ".join(rng.sample(words, size)) if len(words) >= size else None


def make_natural_queries(jsonl: Path | str, n: int = 200, seed: int = 2,
                         limit: int | None = None) -> list[str]:
    """Deterministically sample ``n`` long, natural queries from the corpus.

    Mix: 35% a pasted line of verse with its punctuation (``坐看红树不知远，行尽青溪忽视人。``),
    25% title and author (``梦李白・其一 杜甫``), 25% four to eight words of one poem,
    15% a line's words separated by spaces. Lines and titles keep the poem's own
    script (mostly Traditional), as a pasted text would.
    """
    from opencc import OpenCC

    rng = random.Random(seed)
    t2s = OpenCC("t2s")
    docs = _sample_docs(jsonl, 4 * n, rng, limit)
    kinds = [kind for kind, share in NATURAL_MIX for _ in range(round(n * share))]
    queries: list[str] = []
    seen: set[str] = set()
    for kind in kinds[:n]:
        for _ in range(50):
            query = _natural_query(kind, rng.choice(docs), rng, t2s)
            if query and query not in seen:
                seen.add(query)
                queries.append(query)
                break
    return queries


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON Lines output")
    parser.add_argument("--limit", type=int, help="write only the first N poems")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="query set output")
    parser.add_argument("--n-queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--query-docs", type=int, help="sample queries from the first N poems only")
    parser.add_argument("--natural-queries", type=Path, default=DEFAULT_NATURAL,
                        help="long natural query set output (sampled from the first 100,000 poems)")
    parser.add_argument("--n-natural", type=int, default=200)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Download, convert, and write the corpus and the query set."""
    args = parse_args(argv)
    tarball = fetch_tarball()
    start = time.perf_counter()
    docs, size = write_jsonl(iter_poems(tarball), args.out, args.limit)
    elapsed = time.perf_counter() - start
    queries = make_queries(args.out, args.n_queries, args.seed, args.query_docs)
    args.queries.parent.mkdir(parents=True, exist_ok=True)
    args.queries.write_text("\n".join(queries) + "\n", encoding="utf-8")
    natural = make_natural_queries(args.out, args.n_natural, args.seed + 1, 100_000)
    args.natural_queries.write_text("\n".join(natural) + "\n", encoding="utf-8")
    summary = {
        "package": f"{PACKAGE}@{VERSION}",
        "licence": licence(tarball),
        "tarball_mb": round(tarball.stat().st_size / 1e6, 1),
        "out": str(args.out),
        "docs": docs,
        "mb": round(size / 1e6, 1),
        "seconds": round(elapsed, 1),
        "queries": len(queries),
        "queries_out": str(args.queries),
        "natural_queries": len(natural),
        "natural_queries_out": str(args.natural_queries),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
