"""A damaged index file is reported in one line naming the index; it never gives a
traceback or a silently different answer, and a rebuild repairs it."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from searchkit import SearchIndex, SearchkitError
from searchkit.errors import IndexDamagedError, IndexMismatchError
from searchkit.indexer import LEXICON, MANIFEST, USERDICT

COPIES = 3  # renamed copies of each seed: posting lists long enough to leave the terms file

QUERIES = [
    ("数据中心", {}),
    ("韶关 改革", {"limit": 50}),
    ("改革 发展", {"sort": "date", "limit": 50}),
    ('"数据中心集群"', {}),
    ("数据 OR 公园", {"limit": 50}),
    ("南岭 林长制 火星", {}),  # partial matches
    ("发展", {"sources": ["澎湃新闻"]}),
    ("发展", {"since": "2022"}),
    ("改", {}),  # one character: the character field and its lengths
]


def answers(index_dir: Path) -> dict:
    """Everything a user sees of the index: hits (scores included), a document, sources, stats."""
    found = {}
    with SearchIndex.open(index_dir) as index:
        for query, options in QUERIES:
            results = index.search(query, **options)
            found[query + repr(options)] = (
                results.total, results.partial, results.undated_excluded,
                [(h.id, h.title, h.date, h.source, round(h.score, 6), h.snippet, h.highlights)
                 for h in results.hits])
        found["document"] = index.document(results.hits[0].id)
        found["sources"] = index.sources()
        stats = index.stats()
        found["stats"] = (stats.documents, stats.earliest, stats.latest, stats.undated)
    return found


@pytest.fixture(scope="module")
def corpus(seeds_dir, tmp_path_factory) -> Path:
    """The seeds and a few renamed copies of them (20 documents)."""
    target = tmp_path_factory.mktemp("integrity-corpus")
    shutil.copytree(seeds_dir, target, dirs_exist_ok=True)
    for n in range(COPIES):
        for seed in sorted(seeds_dir.glob("0*.txt")):
            shutil.copy(seed, target / f"copy{n}_{seed.name}")
    return target


@pytest.fixture(scope="module")
def pristine(corpus, tmp_path_factory) -> Path:
    """An index of the corpus, built once (copy it before changing anything)."""
    index_dir = tmp_path_factory.mktemp("integrity-index") / "index"
    SearchIndex.build(index_dir, [corpus])
    return index_dir


@pytest.fixture(scope="module")
def pristine_with_userdict(corpus, tmp_path_factory) -> Path:
    """An index of the corpus built with a user dictionary, which the index keeps a copy of."""
    base = tmp_path_factory.mktemp("integrity-userdict")
    userdict = base / "words.txt"
    userdict.write_text("数据中心集群 10 n\n南岭国家公园 10 n\n", encoding="utf-8")
    SearchIndex.build(base / "index", [corpus], userdict=userdict)
    return base / "index"


@pytest.fixture(scope="module")
def expected(pristine, pristine_with_userdict) -> dict[Path, dict]:
    return {pristine: answers(pristine), pristine_with_userdict: answers(pristine_with_userdict)}


def copy_of(index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(index_dir, target)  # times kept: an unchanged copy is read as little as the original
    return target


# --- the damage matrix ---------------------------------------------------------------


def kind_of(name: str) -> str:
    """The kind of an index file: its name without the Whoosh segment and generation ids."""
    if re.fullmatch(r"_g\d+_\d+\.toc", name):
        return "toc"
    match = re.fullmatch(r"g\d+_[0-9a-z]+\.(.+)", name)
    if match:
        return match.group(1)
    return re.sub(r"^g\d+_", "", name)


# Every kind of file an index holds (test_the_matrix_covers_every_file keeps this complete).
KINDS = ["toc", "trm", "pst", "_stored.col", "_title_len.col", "_content_len.col",
         "_bigrams_len.col", "_chars_len.col", "_title_exactlen.col", "_content_exactlen.col",
         "_bigrams_exactlen.col", "_chars_exactlen.col", "daynumber.col", "date.col", "id.col",
         "sourcekey.col", "fingerprint.col",
         LEXICON, MANIFEST, USERDICT, "WRITELOCK", "searchkit.lock"]
# Lock files, not data: empty, and nothing reads them but a writer taking the lock
# (which recreates them). Damaging them cannot change an answer; they are not checksummed.
LOCKS = {"WRITELOCK", "searchkit.lock"}


def _garble(data: bytes) -> bytes:
    """A range in the middle (half the file, at most 4 KiB) overwritten with random
    bytes, each different from the one it replaces."""
    if not data:
        return data
    length = max(1, min(len(data) // 2, 4096))
    start = (len(data) - length) // 2
    noise = random.Random(len(data)).randbytes(length)
    middle = bytes(b ^ (r or 1) for b, r in zip(data[start:start + length], noise))
    return data[:start] + middle + data[start + length:]


DAMAGES = {
    "delete": lambda path: path.unlink(),
    "truncate-half": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "truncate-zero": lambda path: path.write_bytes(b""),
    "zero-fill": lambda path: path.write_bytes(bytes(path.stat().st_size)),
    "garble": lambda path: path.write_bytes(_garble(path.read_bytes())),
}


def file_of_kind(index_dir: Path, kind: str) -> Path:
    (name,) = [p.name for p in index_dir.iterdir() if kind_of(p.name) == kind]
    return index_dir / name


def assert_damage_reported(error: IndexDamagedError, index_dir: Path) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"index at {index_dir} is damaged (")
    assert message.endswith("); rebuild it")


def test_the_matrix_covers_every_file(pristine, pristine_with_userdict):
    kinds = {kind_of(p.name) for index in (pristine, pristine_with_userdict) for p in index.iterdir()}
    assert kinds == set(KINDS)
    sizes = {kind_of(p.name): p.stat().st_size for p in pristine.iterdir()}
    # The damage hits data: only the lock files are empty (the postings too hold some).
    assert {kind for kind, size in sizes.items() if size == 0} == LOCKS


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_damage_is_reported_or_changes_nothing(kind, damage, pristine, pristine_with_userdict,
                                               expected, tmp_path):
    source = pristine_with_userdict if kind == USERDICT else pristine
    index_dir = copy_of(source, tmp_path)
    DAMAGES[damage](file_of_kind(index_dir, kind))
    if kind in LOCKS:
        assert answers(index_dir) == expected[source]
        return
    with pytest.raises(IndexDamagedError) as error:
        answers(index_dir)
    assert_damage_reported(error.value, index_dir)


SAME_SIZE_DAMAGES = ["zero-fill", "garble"]


@pytest.mark.parametrize("damage", SAME_SIZE_DAMAGES)
@pytest.mark.parametrize("kind", sorted(set(KINDS) - LOCKS - {MANIFEST, USERDICT}))
def test_damage_that_keeps_size_and_time_is_found_by_verify(kind, damage, pristine, tmp_path):
    """Bit rot: opening reads only the small files and those whose time changed,
    but verify() reads all, and names the file."""
    index_dir = copy_of(pristine, tmp_path)
    path = file_of_kind(index_dir, kind)
    before = path.stat()
    DAMAGES[damage](path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(IndexDamagedError, match=re.escape(f"({path.name}: checksum mismatch)")) as error:
        with SearchIndex.open(index_dir) as index:  # may already fail, naming the file
            index.verify()
    assert_damage_reported(error.value, index_dir)


def test_columns_that_rank_are_checked_on_every_open(pristine, tmp_path):
    """Damaged day numbers or lengths would silently reorder hits (and source keys miscount the
    overview): found even with the time kept."""
    index_dir = copy_of(pristine, tmp_path)
    for kind in ("daynumber.col", "_content_len.col", "sourcekey.col"):
        path = file_of_kind(index_dir, kind)
        before = path.stat()
        data = bytearray(path.read_bytes())
        data[0] ^= 1
        path.write_bytes(data)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        with pytest.raises(IndexDamagedError, match=re.escape(path.name)):
            SearchIndex.open(index_dir)
        data[0] ^= 1
        path.write_bytes(data)
    assert answers(index_dir) == answers(pristine)


def test_verify_reads_every_file(pristine):
    with SearchIndex.open(pristine) as index:
        verified = index.verify()
    files = json.loads((pristine / MANIFEST).read_text(encoding="utf-8"))["files"]
    assert verified.files == len(files) and verified.bytes == sum(f["size"] for f in files.values())
    assert verified.bytes > (pristine / LEXICON).stat().st_size


# --- repairing, updating --------------------------------------------------------------


@pytest.mark.parametrize("kind, damage", [(MANIFEST, "garble"), (MANIFEST, "delete"),
                                          ("toc", "delete"), (LEXICON, "zero-fill")])
def test_a_rebuild_repairs_the_damage(kind, damage, pristine, corpus, tmp_path):
    index_dir = copy_of(pristine, tmp_path)
    DAMAGES[damage](file_of_kind(index_dir, kind))
    with pytest.raises(IndexDamagedError):
        SearchIndex.build(index_dir, [corpus])  # an update refuses: it would keep the damage
    SearchIndex.build(index_dir, [corpus], rebuild=True)
    assert answers(index_dir) == answers(pristine)
    with SearchIndex.open(index_dir) as index:
        index.verify()


def test_an_update_never_records_damage_as_sound(pristine, corpus, tmp_path):
    index_dir = copy_of(pristine, tmp_path)
    manifest = (index_dir / MANIFEST).read_bytes()
    path = file_of_kind(index_dir, "pst")
    DAMAGES["garble"](path)
    with pytest.raises(IndexDamagedError, match=re.escape(path.name)):
        SearchIndex.build(index_dir, [corpus])
    assert (index_dir / MANIFEST).read_bytes() == manifest


def test_a_damaged_default_index_is_reported_not_built_over(pristine, corpus, tmp_path):
    index_dir = copy_of(pristine, tmp_path)
    (index_dir / MANIFEST).unlink()
    notices = []
    with pytest.raises(IndexDamagedError, match=re.escape(f"({MANIFEST}: missing)")):
        SearchIndex.open(index_dir, build_from=corpus, notice=notices.append)
    assert notices == []


def test_added_documents_are_recorded(pristine, tmp_path):
    from searchkit import Document

    index_dir = copy_of(pristine, tmp_path)
    with SearchIndex.open(index_dir) as index:
        index.add_documents([Document(id="n1", title="新闻", text="韶关数据中心集群今日开工。")])
        assert index.verify().files > 0
    with SearchIndex.open(index_dir) as index:
        assert "n1" in {hit.id for hit in index.search("数据中心集群", limit=50).hits}
        index.verify()


def test_a_commit_the_manifest_missed_is_usable_and_recorded_by_the_next_update(pristine, corpus, tmp_path):
    """An update killed after its commit but before it wrote the manifest: the index
    opens (the files it replaced are not damage), verify() says what is unrecorded,
    and the next update records it."""
    from searchkit import Document

    index_dir = copy_of(pristine, tmp_path)
    manifest = (index_dir / MANIFEST).read_bytes()
    with SearchIndex.open(index_dir) as index:
        index.add_documents([Document(id="n1", title="新闻", text="韶关数据中心集群今日开工。")])
    (index_dir / MANIFEST).write_bytes(manifest)  # as if the manifest had not been switched
    with SearchIndex.open(index_dir) as index:
        assert "n1" in {hit.id for hit in index.search("数据中心集群", limit=50).hits}
        with pytest.raises(IndexDamagedError, match="a commit the manifest does not record"):
            index.verify()
    SearchIndex.build(index_dir, [corpus])
    with SearchIndex.open(index_dir) as index:
        index.verify()


def test_an_index_from_before_checksums_still_opens(pristine, corpus, tmp_path):
    index_dir = copy_of(pristine, tmp_path)
    manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    del manifest["files"], manifest["checksum"]
    (index_dir / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert answers(index_dir) == answers(pristine)
    with SearchIndex.open(index_dir) as index:
        with pytest.raises(SearchkitError, match="records no checksums"):
            index.verify()
    # Damage Whoosh trips over is still one line, not a traceback.
    broken = copy_of(index_dir, tmp_path / "broken")
    DAMAGES["zero-fill"](file_of_kind(broken, "trm"))
    with pytest.raises(IndexDamagedError, match="unreadable") as error:
        answers(broken)
    assert_damage_reported(error.value, broken)
    # The next update records the checksums.
    SearchIndex.build(index_dir, [corpus])
    with SearchIndex.open(index_dir) as index:
        index.verify()


def test_a_changed_setting_in_the_manifest_is_named_not_called_damage(pristine, tmp_path):
    index_dir = copy_of(pristine, tmp_path)
    manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    manifest["corpus"] = ["elsewhere"]
    (index_dir / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexDamagedError, match=re.escape(f"({MANIFEST}: checksum mismatch)")):
        SearchIndex.open(index_dir)
    manifest["config"]["normalizer"] = "0"
    (index_dir / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="normalizer changed"):
        SearchIndex.open(index_dir)


# --- the command line -----------------------------------------------------------------


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchkit", *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


@pytest.mark.parametrize("kind, damage, keep_time", [
    ("toc", "zero-fill", False),  # found when opening
    ("pst", "zero-fill", True),  # found while searching: Whoosh fails on the postings it reads
])
def test_cli_reports_a_damaged_index_in_one_line(kind, damage, keep_time, pristine, tmp_path):
    index_dir = copy_of(pristine, tmp_path)
    path = file_of_kind(index_dir, kind)
    before = path.stat()
    DAMAGES[damage](path)
    if keep_time:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    result = run("search", "数据中心", "--index", index_dir)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr == (f"searchkit: error: index at {index_dir} is damaged ({path.name}: "
                             f"checksum mismatch); rebuild it: searchkit index --rebuild --index {index_dir}\n")


def test_cli_rebuild_repairs_a_damaged_index(pristine, corpus, tmp_path):
    index_dir = copy_of(pristine, tmp_path)
    DAMAGES["truncate-half"](file_of_kind(index_dir, "trm"))
    assert run("search", "数据中心", "--index", index_dir).returncode == 1
    rebuilt = run("index", corpus, "--rebuild", "--index", index_dir)
    assert rebuilt.returncode == 0, rebuilt.stderr
    searched = run("search", "数据中心", "--index", index_dir, "--json")
    assert searched.returncode == 0 and json.loads(searched.stdout)["total"] > 0
