"""Judged query sets, built by code from the fetched corpora: deterministic, no hand-picking.

Every set is known-item: each query has one relevant document (grade 1), the page or poem
it was taken from, identified by the id searchkit gives it in an index of that corpus
alone (the path relative to the corpus directory, ``man1/ls.1.gz``, ``sect.apt-get.html``;
a poem's ``id`` field). Document ids come from ``searchkit.loaders.load_corpus``, the same
walk the index makes, so a page reached through a symbolic link is judged under the one
id it is indexed by. The texts queries are cut from are read here, independently of
searchkit's parsers, so a change to searchkit's loaders cannot move the judgments.

A query text that several documents would supply (the same description on two man pages,
``简介`` heading many handbook sections, a line found in two poems) is ambiguous for a
known-item query: it is dropped, not judged with several relevant documents. Queries
without a Chinese character (pure Latin, e.g. ``APT Patterns``) and empty ones are
dropped too. Each set counts what it dropped, by reason.

The sets:

``man-s`` Simplified keywords → Simplified pages
    manpages-zh, ``zh_CN``: the description of each page's NAME line (the text after
    ``\\-`` in the NAME section, roff escapes removed: ``ls \\- 列出目录内容`` gives
    ``列出目录内容``) is the query for that page, over an index of every ``zh_CN`` page.
``man-t`` Traditional keywords → Traditional pages
    The same for ``zh_TW``.
``hb-s2t`` Simplified title → Traditional page
    debian-handbook. Every titled heading of a page (``<h1>``-``<h6>`` with
    ``class="title"``: the page's own title, chapter and section titles) is paired, by its
    anchor id, with the heading of the same id in the page of the same file name in the
    other script. The zh-CN heading, its number removed (``6.2.1.``, ``第 6 章``, ``章 6.``,
    ``附录 A.``), is the query; the zh-TW page is the relevant document, over an index of
    every zh-TW page. A heading found in only one script is left out, and so is one whose
    counterpart has no Chinese character (a section the other script left untranslated).
``hb-t2s`` Traditional title → Simplified page
    The reverse: zh-TW headings as queries over the zh-CN pages.
``hb-s2t-wording``, ``hb-t2s-wording``
    The queries of ``hb-s2t`` / ``hb-t2s`` whose two headings differ in wording, not only
    in script: OpenCC ``t2s`` of the zh-TW heading differs from the zh-CN heading once
    both are lower-cased and stripped of everything but letters, digits and Han
    characters (``網路`` against ``网络``, not ``維護`` against ``维护``).
``poem-line`` poem line → poem, ``poem-title`` title + author → poem
    The first 100,000 poems of ``poetry.jsonl``. Poems are drawn with a seeded generator
    and given to ``benchmarks/corpus.py``'s natural query makers: a pasted line of verse
    with its punctuation, in the poem's own script (``line``), or ``title author``
    (``title_author``), until 300 queries are kept. A line is ambiguous when its Han
    characters and digits (in Simplified script) occur in another poem; a title and
    author when another poem has the same pair.
"""

from __future__ import annotations

import bisect
import gzip
import html
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

POEM_QUERIES = 300
POEM_SEED = 15
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Query:
    """One judged query: its text and the ids of the documents relevant to it (grade 1)."""

    qid: str
    text: str
    relevant: tuple[str, ...]


@dataclass
class QuerySet:
    """Queries over one corpus, with how many candidate queries were dropped and why."""

    key: str
    label: str
    corpus: str
    queries: list[Query]
    dropped: dict[str, int] = field(default_factory=dict)

    def qrels(self) -> dict[str, dict[str, int]]:
        """The judgments as {query id: {document id: grade}}."""
        return {q.qid: {doc: 1 for doc in q.relevant} for q in self.queries}

    def sample(self, limit: int | None, seed: int = 1) -> "QuerySet":
        """At most ``limit`` queries, a seeded sample in the set's order (None: all)."""
        if limit is None or limit >= len(self.queries):
            return self
        chosen = sorted(random.Random(seed).sample(range(len(self.queries)), limit))
        return QuerySet(self.key, self.label, self.corpus, [self.queries[i] for i in chosen], self.dropped)


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def has_han(text: str) -> bool:
    """Whether text holds a Chinese character."""
    return HAN.search(text) is not None


def comparable(text: str) -> str:
    """Lower-cased letters, digits and Han characters only: wording without punctuation or space."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def t2s(text: str) -> str:
    """OpenCC's Traditional → Simplified conversion (searchkit's fast copy, identical output)."""
    from searchkit.normalize import to_simplified

    return to_simplified(text)


def known_items(key: str, candidates: Iterable[tuple[str, str]], dropped: Counter) -> list[Query]:
    """Queries from (document id, query text) pairs: empty, Latin-only and ambiguous texts dropped.

    Candidates with the same text and the same document are one query; the same text
    for several documents is ambiguous and dropped (counted once per document).
    """
    targets: dict[str, set[str]] = defaultdict(set)
    for doc_id, text in candidates:
        text = " ".join(text.split())
        if not text:
            dropped["empty"] += 1
        elif not has_han(text):
            dropped["no Chinese character"] += 1
        else:
            targets[text].add(doc_id)
    queries = []
    for text, docs in targets.items():
        if len(docs) > 1:
            dropped["ambiguous"] += len(docs)
            continue
        queries.append(Query(f"{key}/{len(queries)}", text, (next(iter(docs)),)))
    return queries


def corpus_documents(root: Path) -> list[tuple[str, Path]]:
    """(id, file) of each document searchkit finds under root, in its order."""
    from searchkit.loaders import load_corpus

    return [(doc.id, Path(doc.path)) for doc in load_corpus([root], warn=lambda _message: None)]


# --------------------------------------------------------------------------
# Man pages: the NAME line's description
# --------------------------------------------------------------------------

ROFF_FONT = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)")
ROFF_NAMED = re.compile(r"\\\((..)")
ROFF_NAMED_CHARS = {"em": "—", "en": "–", "hy": "-", "aq": "'", "dq": '"', "lq": "“", "rq": "”"}
ROFF_DROP = re.compile(r"\\[,/&:|^%)]")


def read_man(path: Path) -> str:
    """A man page's roff text (gunzipped when needed; UTF-8, else GB18030, else Big5)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    for encoding in ("utf-8", "gb18030", "big5"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def roff_text(line: str) -> str:
    """A roff line's text: font changes, zero-width escapes and comments removed."""
    line = re.sub(r'\\".*', "", line)
    if line.startswith((".", "'")):  # a request: keep the arguments of font macros (.B, .BR ...)
        macro, _, rest = line[1:].partition(" ")
        line = rest.replace('"', "") if macro in ("B", "I", "BR", "BI", "IR", "RB", "IB", "RI", "SM") else ""
    line = ROFF_FONT.sub("", line)
    line = ROFF_NAMED.sub(lambda m: ROFF_NAMED_CHARS.get(m.group(1), ""), line)
    line = ROFF_DROP.sub("", line)
    return line.replace("\\e", "\\").replace("\\ ", " ").replace("\\~", " ")


SECTION = re.compile(r"^\.S[Hh]\b")
NAME_HEADING = re.compile(r"NAME|名称|名字|名稱", re.IGNORECASE)
DASH = re.compile(r"\\\s*-|\s-\s")  # roff's \- (also written "\ -"), or a plain " - "


def name_description(roff: str) -> str | None:
    """The description of a page's NAME line: the text after its dash, in its NAME section.

    The dash is roff's ``\\-`` (also ``\\ -``) or a plain `` - ``; mdoc pages give it as
    ``.Nd``. The NAME section is the first whose heading says NAME (名称, 名字, 名稱), else the
    first section. None when it has no dash (no NAME line to take a query from).
    """
    lines = roff.splitlines()
    sections = [i for i, line in enumerate(lines) if SECTION.match(line)]
    named = [i for i in sections if NAME_HEADING.search(lines[i])]
    start = (named or sections or [None])[0]
    if start is None:
        return None
    body = []
    for line in lines[start + 1:]:
        if SECTION.match(line) or line.startswith((".SS", ".Ss")):
            break
        if line.startswith(".Nd "):
            return " ".join(roff_text(line[4:]).split())
        body.append(roff_text(line))
    parts = DASH.split(" ".join(body), maxsplit=1)
    if len(parts) != 2:
        return None
    return " ".join(parts[1].replace("\\-", "-").split()).lstrip("-–— ")  # "x \\- - text" has a spare dash


def manpage_set(key: str, label: str, corpus: str, root: Path) -> QuerySet:
    """Known-item queries from the NAME lines of every page under root."""
    dropped: Counter = Counter()
    candidates = []
    for doc_id, path in corpus_documents(root):
        description = name_description(read_man(path))
        if description is None:
            dropped["no NAME description"] += 1
        else:
            candidates.append((doc_id, description))
    return QuerySet(key, label, corpus, known_items(key, candidates, dropped), dict(dropped))


# --------------------------------------------------------------------------
# debian-handbook: headings paired across scripts
# --------------------------------------------------------------------------

HEADING = re.compile(r'<h([1-6])\b[^>]*class="title"[^>]*>(.*?)</h\1>', re.DOTALL)
ANCHOR = re.compile(r'\bid="([^"]+)"')
TAG = re.compile(r"<[^>]+>")
NUMBER = re.compile(r"^\s*(?:第\s*\w+\s*章|章\s*\w+\.|附[录錄]\s*\w+\.|[0-9A-Z]+(?:\.[0-9]+)*\.)\s*")


def strip_number(title: str) -> str:
    """A heading without its chapter or section number (``6.2.1. 初始化`` → ``初始化``)."""
    return NUMBER.sub("", title, count=1).strip()


def page_headings(path: Path) -> dict[str, str]:
    """{anchor id: heading text without its number} of an HTML page's titled headings."""
    headings = {}
    for match in HEADING.finditer(path.read_text(encoding="utf-8", errors="replace")):
        anchor = ANCHOR.search(match.group(2))
        if anchor:
            text = " ".join(html.unescape(TAG.sub("", match.group(2))).split())
            headings.setdefault(anchor.group(1), strip_number(text))
    return headings


@dataclass(frozen=True)
class HeadingPair:
    """One heading in both scripts, and the page (file name) holding it."""

    page: str
    simplified: str
    traditional: str

    def wording_differs(self) -> bool:
        """Whether the headings differ beyond script (t2s of the Traditional one is not the other)."""
        return comparable(t2s(self.traditional)) != comparable(self.simplified)


def heading_pairs(cn_root: Path, tw_root: Path) -> list[HeadingPair]:
    """Headings of the same anchor in the same file name under both roots, in file order."""
    pairs = []
    for doc_id, cn_path in corpus_documents(cn_root):
        tw_path = tw_root / doc_id
        if not cn_path.suffix.startswith(".htm") or not tw_path.is_file():
            continue
        tw_headings = page_headings(tw_path)
        for anchor, simplified in page_headings(cn_path).items():
            if anchor in tw_headings:
                pairs.append(HeadingPair(doc_id, simplified, tw_headings[anchor]))
    return pairs


def heading_set(key: str, label: str, corpus: str, pairs: list[HeadingPair], query_side: str) -> QuerySet:
    """Known-item queries: one script's heading for the page of the other script.

    A heading whose counterpart has no Chinese character is dropped: the other script's
    page left that section untranslated (most of zh-TW's network-services.html is
    English), so no system could match it but by chance. Ambiguity is judged first,
    over every heading.
    """
    dropped: Counter = Counter()
    other_side = "traditional" if query_side == "simplified" else "simplified"
    candidates = [(pair.page, getattr(pair, query_side)) for pair in pairs]
    translated = {(pair.page, " ".join(getattr(pair, query_side).split()))
                  for pair in pairs if has_han(getattr(pair, other_side))}
    queries = []
    for query in known_items(key, candidates, dropped):
        if (query.relevant[0], query.text) in translated:
            queries.append(query)
        else:
            dropped["untranslated in the other script"] += 1
    return QuerySet(key, label, corpus, queries, dict(dropped))


def wording_subset(key: str, label: str, parent: QuerySet, pairs: list[HeadingPair],
                   query_side: str) -> QuerySet:
    """The parent's queries (same ids) whose heading differs from its counterpart beyond script."""
    differs = {(pair.page, " ".join(getattr(pair, query_side).split()))
               for pair in pairs if pair.wording_differs()}
    queries = [q for q in parent.queries if (q.relevant[0], q.text) in differs]
    return QuerySet(key, label, parent.corpus, queries, dict(parent.dropped))


# --------------------------------------------------------------------------
# Poems
# --------------------------------------------------------------------------


class PoemIndex:
    """The poems' Simplified Han text, to tell whether a line occurs in more than one poem."""

    def __init__(self, poems: list[dict]) -> None:
        texts = [comparable(t2s(poem["text"])) for poem in poems]
        self.starts = []
        offset = 0
        for text in texts:
            self.starts.append(offset)
            offset += len(text) + 1
        self.joined = "\n".join(texts)
        self.pairs = Counter(self.title_author(poem) for poem in poems)

    @staticmethod
    def title_author(poem: dict) -> tuple[str, str]:
        """A poem's title and author, compared without script or punctuation."""
        return comparable(t2s(poem.get("title") or "")), comparable(t2s(poem.get("author") or ""))

    def poems_holding(self, line: str, stop: int = 2) -> int:
        """How many poems hold the line's Simplified letters and Han characters (up to stop)."""
        needle, found, at = comparable(t2s(line)), set(), 0
        while needle and len(found) < stop:
            at = self.joined.find(needle, at)
            if at < 0:
                break
            found.add(bisect.bisect_right(self.starts, at) - 1)
            at += 1
        return len(found)


def poem_sets(jsonl: Path, count: int = POEM_QUERIES, seed: int = POEM_SEED) -> list[QuerySet]:
    """``poem-line`` and ``poem-title`` over the poems of jsonl (see the module docstring)."""
    import json

    import corpus

    poems = [json.loads(line) for line in jsonl.open(encoding="utf-8")]
    index = PoemIndex(poems)
    made = []
    for key, label, kind in (("poem-line", "poem line → poem", "line"),
                             ("poem-title", "title + author → poem", "title_author")):
        rng, dropped, queries, seen = random.Random(f"{seed}/{kind}"), Counter(), [], set()
        for number in rng.sample(range(len(poems)), min(len(poems), 4 * count)):
            if len(queries) >= count:
                break
            poem = poems[number]
            text = corpus._natural_query(kind, poem, rng, _T2S)
            if not text or not has_han(text):
                dropped["poem cannot supply one"] += 1
            elif text in seen:
                dropped["duplicate"] += 1
            elif (index.poems_holding(text) > 1 if kind == "line"
                  else index.pairs[index.title_author(poem)] > 1):
                dropped["ambiguous"] += 1
            else:
                seen.add(text)
                queries.append(Query(f"{key}/{len(queries)}", text, (str(poem["id"]),)))
        made.append(QuerySet(key, label, "poems", queries, dict(dropped)))
    return made


class _FastT2S:
    """corpus.py's query makers take an OpenCC-like object; this one is searchkit's fast copy."""

    @staticmethod
    def convert(text: str) -> str:
        return t2s(text)


_T2S = _FastT2S()


# --------------------------------------------------------------------------
# All sets
# --------------------------------------------------------------------------

SET_KEYS = ("man-s", "man-t", "hb-s2t", "hb-s2t-wording", "hb-t2s", "hb-t2s-wording",
            "poem-line", "poem-title")


def build_sets(corpora: dict[str, str], keys: Iterable[str] = SET_KEYS) -> list[QuerySet]:
    """The sets named by keys, from the corpora of fetch.py's sources record."""
    keys = list(keys)
    built: dict[str, QuerySet] = {}
    if "man-s" in keys:
        built["man-s"] = manpage_set("man-s", "Simplified keywords → Simplified pages", "man-zh_CN",
                                     Path(corpora["man-zh_CN"]))
    if "man-t" in keys:
        built["man-t"] = manpage_set("man-t", "Traditional keywords → Traditional pages", "man-zh_TW",
                                     Path(corpora["man-zh_TW"]))
    if any(key.startswith("hb-") for key in keys):
        pairs = heading_pairs(Path(corpora["handbook-zh-CN"]), Path(corpora["handbook-zh-TW"]))
        for side, corpus_name, key, label in (
                ("simplified", "handbook-zh-TW", "hb-s2t", "Simplified title → Traditional page"),
                ("traditional", "handbook-zh-CN", "hb-t2s", "Traditional title → Simplified page")):
            parent = heading_set(key, label, corpus_name, pairs, side)
            built[key] = parent
            built[f"{key}-wording"] = wording_subset(f"{key}-wording", "… where the two titles differ in wording",
                                                     parent, pairs, side)
    if "poem-line" in keys or "poem-title" in keys:
        for made in poem_sets(Path(corpora["poems"])):
            if made.key in keys:
                built[made.key] = made
    return [built[key] for key in keys]
