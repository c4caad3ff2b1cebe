"""Tests of building, updating and opening indexes: searchkit.indexer via SearchIndex and the CLI."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from searchkit import SearchIndex
from searchkit.analysis import analyzer_config, char_tokens, is_cjk
from searchkit.errors import IndexLockedError, IndexMismatchError, IndexNotFoundError
from searchkit.indexer import HOLD_ENV, MANIFEST, open_whoosh_index, writer_lock
from searchkit.loaders import iter_corpus_files, load_corpus

SEED_A, SEED_B = "000_150bae6b94f5f664.txt", "001_cbd37f1b4b68be5e.txt"
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def ids(results) -> set[str]:
    """The seed numbers ("000" ...) of the hits."""
    return {hit.id[:3] for hit in results.hits}


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real searchkit command, with stdout and stderr on pipes."""
    return subprocess.run([sys.executable, "-m", "searchkit", *args], capture_output=True,
                          text=True, timeout=timeout)


def counts(report) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.removed, report.unchanged


@pytest.fixture(scope="module")
def seed_docs(seeds_dir):
    return list(load_corpus([seeds_dir], warn=pytest.fail))


# --- the acceptance list -----------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ('"数据中心集群"', {"000", "001"}),
    ("韶冶", {"000", "001", "002"}),
    ("南岭国家公园", {"002", "003"}),
    ("陳少榮", {"003"}),
    ("５Ｇ", {"002"}),
])
def test_acceptance_queries(seed_index, query, expected):
    results = seed_index.search(query, limit=50)
    complete = results.hits[: results.partial_from]  # those with every word (some-word ones follow)
    assert {hit.id[:3] for hit in complete} == expected
    assert (results.complete or results.total) == len(expected)
    assert not results.partial


# --- guaranteed recall ---------------------------------------------------------------------


def _sample_substrings(docs, count: int, accept, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    sample: list[tuple[str, str]] = []
    while len(sample) < count:
        doc = rng.choice(docs)
        size = rng.randint(2, 6)
        start = rng.randrange(0, len(doc.text) - size)
        piece = doc.text[start:start + size]
        if accept(doc.text, start, piece):
            sample.append((doc.id, piece))
    return sample


def _cjk_only(text: str, start: int, piece: str) -> bool:
    return is_cjk(piece)


def _non_whitespace(text: str, start: int, piece: str) -> bool:
    """Any non-whitespace substring that does not cut a Latin/digit run in two.

    (Half a number or a word is not something the character index promises
    to find: ``019`` inside ``2019`` is not a token.) The query syntax's own
    characters are left out.
    """
    if any(ch.isspace() for ch in piece) or set(piece) & set('"“”「」『』()（）:：\\-'):
        return False
    end = start + len(piece)
    if start > 0 and text[start - 1].isascii() and text[start - 1].isalnum() and piece[0].isascii() and piece[0].isalnum():
        return False
    if end < len(text) and text[end].isascii() and text[end].isalnum() and piece[-1].isascii() and piece[-1].isalnum():
        return False
    words = [t[0] for t in char_tokens(piece)]
    return bool(words) and not any(w.upper() in {"OR", "AND", "NOT"} for w in words)


@pytest.mark.parametrize(("form", "size"), [("phrase", 1000), ("bare", 300)])
def test_any_chinese_substring_finds_its_document(seed_index, seed_docs, form, size):
    """Bare words are ANDed, so the substring's own document must be among the hits too."""
    sample = _sample_substrings(seed_docs, size, _cjk_only, seed=20240601)
    failures = []
    for doc_id, piece in sample:
        query = f'"{piece}"' if form == "phrase" else piece
        found = {hit.id for hit in seed_index.search(query, limit=50).hits}
        if doc_id not in found:
            failures.append((doc_id[:3], piece))
    assert not failures, f"{len(failures)} of {len(sample)} substrings not found: {failures[:30]}"


def test_any_non_whitespace_substring_finds_its_document_as_a_phrase(seed_index, seed_docs):
    sample = _sample_substrings(seed_docs, 300, _non_whitespace, seed=7)
    failures = []
    for doc_id, piece in sample:
        found = {hit.id for hit in seed_index.search(f'"{piece}"', limit=50).hits}
        if doc_id not in found:
            failures.append((doc_id[:3], piece))
    assert not failures, f"{len(failures)} of {len(sample)} substrings not found: {failures[:30]}"


def test_phrases_across_word_boundaries(seed_index):
    # 数据中心集群 is segmented into whole words; these phrases start and/or end inside them.
    for phrase in ("据中心集", "据中心集群", "数据中心集", "心集"):
        assert {"000", "001"} <= ids(seed_index.search(f'"{phrase}"', limit=50)), phrase


def test_phrases_starting_and_ending_inside_jieba_words(seed_index, seed_docs):
    from searchkit.analysis import segmenter_for

    segmenter = segmenter_for("default")
    checked = 0
    for doc in seed_docs:
        words = [w for w in segmenter.words(doc.text) if len(w[0]) >= 2 and is_cjk(w[0])]
        for first, second in zip(words, words[1:]):
            if first[3] != second[2] or checked >= 40 * (seed_docs.index(doc) + 1):
                continue
            phrase = doc.text[first[2] + 1:second[3] - 1]  # cut both words in the middle
            if len(phrase) < 2:
                continue
            found = {hit.id for hit in seed_index.search(f'"{phrase}"', limit=50).hits}
            assert doc.id in found, phrase
            checked += 1
    assert checked >= 100


def test_phrase_is_a_literal_substring(seed_index, seed_docs):
    """A phrase finds exactly the documents that contain it (title or text)."""
    for phrase in ("数据中心", "高质量发展", "南岭国家公园", "韶关市委"):
        expected = {d.id for d in seed_docs if phrase in d.text or phrase in d.title}
        assert expected
        assert {h.id for h in seed_index.search(f'"{phrase}"', limit=50).hits} == expected, phrase


# --- scripts ---------------------------------------------------------------------


def test_traditional_queries_find_simplified_text(seed_index):
    assert ids(seed_index.search("韶關", limit=50)) == ids(seed_index.search("韶关", limit=50))
    assert ids(seed_index.search("韶關", limit=50)) == {"000", "001", "002", "003", "004"}
    assert {"000", "001"} <= ids(seed_index.search("數據中心", limit=50))
    assert ids(seed_index.search('"數據中心"', limit=50)) == ids(seed_index.search('"数据中心"', limit=50))


def test_simplified_query_finds_the_traditional_seed(seed_index, seed_docs):
    doc = next(d for d in seed_docs if d.id.startswith("003"))
    assert doc.original != doc.text, "seed 003 is expected to be in Traditional script"
    # A stretch of Chinese whose Simplified form differs from the original.
    windows = [
        doc.text[i:i + 4] for i in range(len(doc.text) - 4)
        if is_cjk(doc.text[i:i + 4]) and doc.text[i:i + 4] != doc.original[i:i + 4]
    ]
    assert len(windows) > 10
    for window in windows[:: max(1, len(windows) // 10)]:
        assert "003" in ids(seed_index.search(f'"{window}"', limit=50)), window
        assert "003" in ids(seed_index.search(window, limit=50)), window


# --- incremental indexing --------------------------------------------------------


def test_incremental_runs(tmp_path, corpus_copy):
    index_dir = tmp_path / "index"
    first = SearchIndex.build(index_dir, [corpus_copy])
    assert counts(first) == (5, 0, 0, 0)
    assert first.skipped == 0

    again = SearchIndex.build(index_dir, [corpus_copy])
    assert counts(again) == (0, 0, 0, 5)

    # Modify a file: it is replaced; the new text is found, the old one no longer.
    path = corpus_copy / SEED_A
    text = path.read_text(encoding="utf-8")
    assert "开足马力冲刺" in text
    path.write_text(text.replace("开足马力冲刺", "全力以赴攀登"), encoding="utf-8")
    changed = SearchIndex.build(index_dir, [corpus_copy])
    assert counts(changed) == (0, 1, 0, 4)
    with SearchIndex.open(index_dir) as index:
        assert ids(index.search('"全力以赴攀登"')) == {"000"}
        assert "000" not in ids(index.search('"开足马力冲刺"'))
        assert "001" in ids(index.search('"开足马力冲刺"'))  # the other copy of the article
        assert index.stats().documents == 5

    # Delete a file.
    (corpus_copy / SEED_B).unlink()
    removed = SearchIndex.build(index_dir, [corpus_copy])
    assert counts(removed) == (0, 0, 1, 4)
    with SearchIndex.open(index_dir) as index:
        assert "001" not in ids(index.search('"数据中心集群"', limit=50))
        assert index.stats().documents == 4

    # Add a plain file and a JSON Lines file of two records.
    (corpus_copy / "new.txt").write_text("粤北新闻\n\n独一无二的测试短语出现在这里。\n", encoding="utf-8")
    records = [{"id": "rec-1", "title": "第一条", "text": "第一条记录讲述翁源兰花产业。"},
               {"id": "rec-2", "title": "第二条", "text": "第二条记录讲述乐昌黄金柰李。"}]
    (corpus_copy / "bulk.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    added = SearchIndex.build(index_dir, [corpus_copy])
    assert counts(added) == (3, 0, 0, 4)
    with SearchIndex.open(index_dir) as index:
        assert [h.id for h in index.search('"独一无二的测试短语"').hits] == ["new.txt"]
        assert [h.id for h in index.search('"第一条记录"').hits] == ["rec-1"]
        assert [h.id for h in index.search('"第二条记录"').hits] == ["rec-2"]
        assert index.stats().documents == 7

    settled = SearchIndex.build(index_dir, [corpus_copy])
    assert counts(settled) == (0, 0, 0, 6)  # six files, seven documents


def test_a_changed_jsonl_file_replaces_all_its_records(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bulk = corpus / "bulk.jsonl"
    bulk.write_text('{"id": "a", "text": "仁化丹霞山"}\n{"id": "b", "text": "南雄梅关古道"}\n',
                    encoding="utf-8")
    index_dir = tmp_path / "index"
    assert counts(SearchIndex.build(index_dir, [corpus])) == (2, 0, 0, 0)
    bulk.write_text('{"id": "a", "text": "仁化丹霞山"}\n', encoding="utf-8")
    report = SearchIndex.build(index_dir, [corpus])
    assert report.updated == 1 and report.added == 0
    with SearchIndex.open(index_dir) as index:
        assert index.stats().documents == 1
        assert index.search("梅关古道").total == 0


def _checksum(corpus: Path, name: str) -> str:
    return next(f.checksum() for f in iter_corpus_files([corpus]) if f.path.name == name)


def test_rerun_after_a_change_is_unchanged(tmp_path, corpus_copy):
    """After a file changed and was re-indexed, the next run must see it as unchanged.

    The modification is chosen so that its checksum sorts before the original's
    (the order of terms in the index's file-key lexicon), which is the case an
    index that still lists the replaced version gets wrong.
    """
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    _append_sorting_first(corpus_copy, "补记第{n}条。")
    assert counts(SearchIndex.build(index_dir, [corpus_copy])) == (0, 1, 0, 4)
    assert counts(SearchIndex.build(index_dir, [corpus_copy])) == (0, 0, 0, 5)


def _append_sorting_first(corpus: Path, sentence: str) -> bytes:
    """Append a numbered sentence to SEED_A so that its new checksum sorts before the old one.

    Returns the file's original bytes.
    """
    path = corpus / SEED_A
    original = path.read_bytes()
    before = _checksum(corpus, SEED_A)
    for n in range(100):
        path.write_bytes(original + f"\n{sentence.format(n=n)}\n".encode("utf-8"))
        if _checksum(corpus, SEED_A) < before:
            break
    return original


def test_reverting_a_file_restores_its_text(tmp_path, corpus_copy):
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    original = _append_sorting_first(corpus_copy, "临时插入的句子第{n}条。")
    SearchIndex.build(index_dir, [corpus_copy])
    (corpus_copy / SEED_A).write_bytes(original)
    SearchIndex.build(index_dir, [corpus_copy])
    with SearchIndex.open(index_dir) as index:
        assert index.search('"临时插入的句子"').total == 0
        assert ids(index.search('"数据中心集群"', limit=50)) == {"000", "001"}
        assert index.stats().documents == 5


def test_a_file_removed_and_put_back_is_indexed_again(tmp_path, corpus_copy):
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    path = corpus_copy / SEED_A
    kept = path.read_bytes()
    path.unlink()
    assert SearchIndex.build(index_dir, [corpus_copy]).removed == 1
    path.write_bytes(kept)
    report = SearchIndex.build(index_dir, [corpus_copy])
    assert report.added == 1, report.summary()
    with SearchIndex.open(index_dir) as index:
        assert index.stats().documents == 5
        assert ids(index.search('"数据中心集群"', limit=50)) == {"000", "001"}


def test_update_through_an_open_index_sees_the_change(tmp_path, corpus_copy):
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    with SearchIndex.open(index_dir) as index:
        assert index.search('"翁源兰花产业园"').total == 0
        (corpus_copy / "new.txt").write_text("翁源兰花产业园开园。\n", encoding="utf-8")
        report = index.update([corpus_copy])
        assert counts(report) == (1, 0, 0, 5)
        assert [h.id for h in index.search('"翁源兰花产业园"').hits] == ["new.txt"]


# --- user dictionaries and analyzer configuration ------------------------------------


def _terms(index_dir: Path, field: str = "content") -> set[str]:
    ix, _ = open_whoosh_index(index_dir)
    with ix.reader() as reader:
        return {term.decode("utf-8") for term in reader.lexicon(field)}


def test_user_dictionary_words_are_single_tokens(tmp_path, seeds_dir, seed_index_dir):
    word = "韶关高新区"
    assert word not in _terms(seed_index_dir)  # jieba alone splits it
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(seeds_dir / SEED_B, corpus)
    userdict = tmp_path / "words.txt"
    userdict.write_text(f"{word} 1000 n\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus], userdict=userdict)
    assert word in _terms(index_dir)
    with SearchIndex.open(index_dir) as index:
        assert ids(index.search(word)) == {"001"}
        assert ids(index.search(f'"{word}"')) == {"001"}
        assert index.stats().analyzer["userdict"]
    # Updating with the same dictionary (or none) keeps it.
    assert counts(SearchIndex.build(index_dir, [corpus], userdict=userdict)) == (0, 0, 0, 1)
    assert counts(SearchIndex.build(index_dir, [corpus])) == (0, 0, 0, 1)

    # Another dictionary without rebuilding is refused, with the way out in the message.
    other = tmp_path / "other.txt"
    other.write_text("韶冶霞山片区 1000 n\n", encoding="utf-8")  # as in test_analysis: one jieba load
    with pytest.raises(IndexMismatchError, match="rebuild"):
        SearchIndex.build(index_dir, [corpus], userdict=other)
    with SearchIndex.open(index_dir) as index:  # and the index is left as it was
        assert ids(index.search(word)) == {"001"}

    report = SearchIndex.build(index_dir, [corpus], userdict=other, rebuild=True)
    assert report.added == 1
    terms = _terms(index_dir)
    assert word not in terms
    with SearchIndex.open(index_dir) as index:
        assert index.stats().analyzer["userdict"] == analyzer_config(other)["userdict"]
        assert ids(index.search(word)) == {"001"}  # still found, through its words and characters


def test_changed_user_dictionary_in_the_index_is_refused(tmp_path, seeds_dir):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(seeds_dir / SEED_B, corpus)
    userdict = tmp_path / "words.txt"
    userdict.write_text("韶关高新区 1000 n\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus], userdict=userdict)
    stored = index_dir / "userdict.txt"
    assert stored.exists()
    stored.write_text("别的词 1000 n\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="rebuild"):
        SearchIndex.open(index_dir)


@pytest.fixture
def seed_index_copy(tmp_path, seed_index_dir) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index_dir, target)
    return target


@pytest.mark.parametrize("key", ["normalizer", "segmenter", "dictionary", "schema"])
def test_tampered_manifest_is_refused(seed_index_copy, key):
    manifest_path = seed_index_copy / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["config"][key] = "something else"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="rebuild") as error:
        SearchIndex.open(seed_index_copy)
    assert key in str(error.value)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        SearchIndex.build(seed_index_copy, [])


def test_corrupt_manifest_is_refused(seed_index_copy):
    (seed_index_copy / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="rebuild"):
        SearchIndex.open(seed_index_copy)


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError, match="no index at") as error:
        SearchIndex.open(tmp_path / "nowhere")
    assert error.value.index_dir == tmp_path / "nowhere"  # for a face to say how to build one
    assert not (tmp_path / "nowhere").exists()  # opening never creates anything


def test_rebuild_replaces_the_generation(seed_index_copy, seeds_dir):
    before = json.loads((seed_index_copy / MANIFEST).read_text(encoding="utf-8"))["generation"]
    report = SearchIndex.build(seed_index_copy, [seeds_dir / SEED_A], rebuild=True)
    assert report.added == 1
    after = json.loads((seed_index_copy / MANIFEST).read_text(encoding="utf-8"))["generation"]
    assert after != before
    assert not any(p.name.startswith((f"{before}_", f"_{before}_")) for p in seed_index_copy.iterdir())
    with SearchIndex.open(seed_index_copy) as index:
        assert index.stats().documents == 1


# --- locking -----------------------------------------------------------------------------


def test_second_writer_is_refused(seed_index_copy, seeds_dir):
    with writer_lock(seed_index_copy):
        with pytest.raises(IndexLockedError, match="locked"):
            SearchIndex.build(seed_index_copy, [seeds_dir])
        result = cli("index", str(seeds_dir), "--index", str(seed_index_copy))
        # Readers are not blocked by a writer.
        with SearchIndex.open(seed_index_copy) as index:
            assert index.search("韶关").total == 5
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "locked" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    # Once the lock is released, writing works again.
    assert counts(SearchIndex.build(seed_index_copy, [seeds_dir])) == (0, 0, 0, 5)


# --- interrupted runs -----------------------------------------------------------------


QUERIES = ("韶关", '"数据中心集群"', "南岭国家公园", "改革 发展", "５Ｇ")


def _answers(index_dir: Path) -> dict[str, tuple[int, list[str]]]:
    with SearchIndex.open(index_dir) as index:
        return {q: (r.total, sorted(h.id for h in r.hits))
                for q in QUERIES for r in [index.search(q, limit=50)]}


def _lock_held(index_dir: Path) -> bool:
    try:
        with writer_lock(index_dir):
            return False
    except IndexLockedError:
        return True


def _interrupt(args: list[str], index_dir: Path, sig: int, step: str = "indexing") -> subprocess.CompletedProcess:
    """Run `searchkit index` until it holds at step (a hook in the indexer), then send it sig."""
    process = subprocess.Popen([sys.executable, "-m", "searchkit", "index", *args,
                                "--index", str(index_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, HOLD_ENV: step})
    held = process.stderr.readline()  # blocks until the run is at step, or ends
    assert held == f"searchkit: holding at {step}\n", (held, process.communicate())
    assert _lock_held(index_dir)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture
def big_corpus(corpus_copy) -> Path:
    """The seeds plus 100 renamed copies of them, in extra/ (about ten seconds of indexing)."""
    extra = corpus_copy / "extra"
    extra.mkdir()
    for n in range(20):
        for seed in sorted(corpus_copy.glob("0*.txt")):
            shutil.copy(seed, extra / f"copy{n:03d}_{seed.name}")
    return corpus_copy


def test_interrupted_runs_leave_the_previous_index_usable(tmp_path, big_corpus):
    index_dir = tmp_path / "index"
    extra = big_corpus / "extra"
    hidden = tmp_path / "extra"
    shutil.move(extra, hidden)  # index the five seeds first
    assert counts(SearchIndex.build(index_dir, [big_corpus])) == (5, 0, 0, 0)
    before = _answers(index_dir)
    shutil.move(hidden, extra)

    killed = _interrupt([str(big_corpus)], index_dir, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert _answers(index_dir) == before

    interrupted = _interrupt([str(big_corpus)], index_dir, signal.SIGINT)
    assert interrupted.returncode != 0
    assert "Traceback" not in interrupted.stderr
    assert "interrupted" in interrupted.stderr
    assert _answers(index_dir) == before

    rebuild = _interrupt([str(big_corpus), "--rebuild"], index_dir, signal.SIGKILL)
    assert rebuild.returncode == -signal.SIGKILL
    assert _answers(index_dir) == before

    # A following normal run completes (a few of the new files, to keep it quick).
    for path in sorted(extra.iterdir())[3:]:
        path.unlink()
    report = SearchIndex.build(index_dir, [big_corpus])
    assert counts(report) == (3, 0, 0, 5)
    with SearchIndex.open(index_dir) as index:
        assert index.stats().documents == 8
        with_phrase = sum("数据中心集群" in p.read_text(encoding="utf-8") for p in extra.iterdir())
        assert index.search('"数据中心集群"', limit=50).total == before['"数据中心集群"'][0] + with_phrase


# --- the command line ------------------------------------------------------------------


def test_cli_index_summary_and_unreadable_files(tmp_path, corpus_copy):
    (corpus_copy / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (corpus_copy / "garbled.txt").write_bytes(b"abc \x80\xff\x80\xff def \xff\x80\n")
    index_dir = tmp_path / "index"
    result = cli("index", str(corpus_copy), "--index", str(index_dir))
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()
    # The image is not text: counted on a line of the summary, not warned about.
    assert len(summary) == 2, result.stdout
    assert re.fullmatch(
        r"5 added, 0 updated, 0 removed, 0 unchanged, 1 skipped; \d+\.\d\d MB in \d+\.\d\d s",
        summary[0]), summary[0]
    assert summary[1] == "1 file not text (png 1)"
    assert "\r" not in result.stdout + result.stderr  # no progress bar on a pipe
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 1, result.stderr
    assert sum("picture.png" in line for line in warnings) == 0
    assert sum("garbled.txt" in line for line in warnings) == 1
    assert "Traceback" not in result.stderr
    with SearchIndex.open(index_dir) as index:
        assert index.stats().documents == 5
        assert ids(index.search('"数据中心集群"')) == {"000", "001"}


def test_unreadable_files_through_the_api(tmp_path, corpus_copy):
    (corpus_copy / "blob.bin").write_bytes(bytes(range(256)) * 8)  # not text by its name
    (corpus_copy / "blob.txt").write_bytes(bytes(range(256)) * 8)  # binary behind a text name
    (corpus_copy / "empty.txt").write_text("  \n", encoding="utf-8")
    warnings: list[str] = []
    report = SearchIndex.build(tmp_path / "index", [corpus_copy], warn=warnings.append)
    assert (report.added, report.skipped) == (5, 2)
    assert report.not_text == {"bin": 1}
    assert len(warnings) == 2
    assert any("blob.txt" in w for w in warnings) and any("empty.txt" in w for w in warnings)
    assert all("\n" not in w for w in warnings)


def test_cli_index_of_a_missing_path(tmp_path):
    result = cli("index", str(tmp_path / "nope"), "--index", str(tmp_path / "index"))
    assert result.returncode != 0
    assert "nope" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_literal_matches_never_span_punctuation(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "poem.txt").write_text("余寒入桂宫。\n莺啼正隐叶，鸡鬬始开笼。", encoding="utf-8")
    SearchIndex.build(tmp_path / "index", [corpus])
    with SearchIndex.open(tmp_path / "index") as index:
        assert index.search("宫莺").total == 0
        assert index.search('"叶鸡"').total == 0
        assert index.search('"隐叶，鸡"').total == 1
        assert index.search("莺啼").total == 1


# --- bad options: one accurate line each ------------------------------------------------


def test_cli_userdict_missing_or_not_utf8(tmp_path, seeds_dir, seed_index_dir):
    missing = cli("index", str(seeds_dir), "--index", str(tmp_path / "new"), "--userdict",
                  str(tmp_path / "nope.dict"))
    existing = tmp_path / "existing"
    shutil.copytree(seed_index_dir, existing)
    missing_on_existing = cli("index", str(seeds_dir), "--index", str(existing), "--userdict",
                              str(tmp_path / "nope.dict"))
    gbk = tmp_path / "gbk.dict"
    gbk.write_bytes("云计算 5\n".encode() + "数据中心 10 n\n".encode("gbk"))
    not_utf8 = cli("index", str(seeds_dir), "--index", str(tmp_path / "new"), "--userdict", str(gbk))
    for result, words in ((missing, "no such user dictionary"),
                          (missing_on_existing, "no such user dictionary"),
                          (not_utf8, "not UTF-8 text (line 2)")):
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
        assert words in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").glob("*.toc"))
    with SearchIndex.open(existing) as index:
        assert index.stats().documents == 5


# --- a long-lived reader sees other writers' commits -------------------------------------


def test_an_open_index_sees_commits_by_other_processes(tmp_path, corpus_copy):
    index_dir = tmp_path / "index"
    hidden = tmp_path / "later.txt"  # moved into the corpus once the index is open
    hidden.write_text("冰川考察队今天抵达韶关。", encoding="utf-8")
    SearchIndex.build(index_dir, [corpus_copy])
    with SearchIndex.open(index_dir) as index:
        assert index.search("冰川").total == 0
        assert index.refresh() is False
        shutil.move(hidden, corpus_copy / "later.txt")
        assert cli("index", str(corpus_copy), "--index", str(index_dir)).returncode == 0
        assert [hit.id for hit in index.search("冰川").hits] == ["later.txt"]
        assert index.stats().documents == 6
        (corpus_copy / SEED_A).unlink()
        assert cli("index", str(corpus_copy), "--index", str(index_dir), "--rebuild").returncode == 0
        assert index.stats().documents == 5
        with pytest.raises(KeyError):
            index.document(SEED_A)
        assert index.refresh() is False


# === Faults: full disks, read-only indexes, Ctrl-C, dead workers, kills at each commit step ===
# (issue 10, rows 5, 6, 11, 12 and 13). Runs are stopped at named hold points (hold_point in
# searchkit/indexer.py), never after a sleep.

import contextlib  # noqa: E402
import errno  # noqa: E402

from searchkit import cli as cli_module  # noqa: E402
from searchkit import indexer  # noqa: E402
from searchkit.errors import SearchkitError  # noqa: E402
from whoosh.filedb.filestore import FileStorage  # noqa: E402

# Commit steps in the order a run passes them, and the first step at which its change is live.
COMMIT_STEPS = {
    "update": ["segments-written", "toc-written", "toc-renamed", "old-removed", "manifest-written"],
    "rebuild": ["segments-written", "toc-written", "toc-renamed", "manifest-written", "old-removed"],
}
LIVE_FROM = {"update": "toc-renamed", "rebuild": "manifest-written"}


def _listing(index_dir: Path) -> list[str]:
    """The names in an index directory, but for the lock file (a failed first run may leave it)."""
    return sorted(name for name in os.listdir(index_dir) if name != indexer.LOCKFILE)


def _kind(name: str) -> str:
    """A file name without its generation and segment numbers: what kind of file it is."""
    if re.fullmatch(r"_g\d+_\d+\.toc", name):
        return "table of contents"
    segment = re.fullmatch(r"g\d+_[0-9a-z]{12,}(\..+)", name)
    if segment:
        return "segment file " + segment.group(1)
    return re.sub(r"^g\d+_", "gN_", name)


def _only_live_files(index_dir: Path) -> set[str]:
    """The kinds of file in index_dir, after checking they all belong to the live index."""
    names = _listing(index_dir)
    live = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["generation"]
    strays = [n for n in names if re.match(r"_?g\d+", n) and not re.match(rf"_?{live}[_.]", n)]
    assert not strays, strays
    assert not [n for n in names if n.endswith(".tmp") or ".toc." in n], names
    assert sum(_kind(n) == "table of contents" for n in names) == 1, names
    return {_kind(n) for n in names}


def _after_corpus(corpus: Path) -> None:
    """Change the seed corpus: one file changed, one removed, one added."""
    path = corpus / SEED_A
    path.write_text(path.read_text(encoding="utf-8").replace("开足马力冲刺", "全力以赴攀登"),
                    encoding="utf-8")
    (corpus / SEED_B).unlink()
    (corpus / "new.txt").write_text("粤北新闻\n\n独一无二的测试短语出现在这里。\n", encoding="utf-8")


FAULT_QUERIES = QUERIES + ('"全力以赴攀登"', '"开足马力冲刺"', '"独一无二的测试短语"')


def _all_answers(index_dir: Path) -> dict[str, tuple[int, list[str]]]:
    with SearchIndex.open(index_dir) as index:
        return {q: (r.total, sorted(h.id for h in r.hits))
                for q in FAULT_QUERIES for r in [index.search(q, limit=50)]}


@pytest.fixture
def before_and_after(tmp_path, corpus_copy):
    """An index of the seeds (with its answers), the changed corpus, and a clean index of it."""
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    before = _all_answers(index_dir)
    _after_corpus(corpus_copy)
    clean = tmp_path / "clean"
    SearchIndex.build(clean, [corpus_copy])
    after = _all_answers(clean)
    assert after != before
    return index_dir, corpus_copy, before, after, clean


# --- row 5: a full disk ---------------------------------------------------------------


class _FullFile:
    """A file of the simulated disk: its writes fail once the disk is full."""

    def __init__(self, file, disk: "_FullDisk") -> None:
        self._file, self._disk = file, disk

    def write(self, data) -> int:
        self._disk.take(len(data))
        return self._file.write(data)

    def close(self) -> None:
        self._file.close()
        if self._disk.full:  # a full disk cannot take the buffers closing writes either
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getattr__(self, name):
        return getattr(self._file, name)


class _FullDisk:
    """Whoosh's file storage on a disk that has room for ``room`` more bytes.

    Once a write has failed, the disk stays full: closing a file fails too, as
    it does when its buffered bytes cannot be written. Worker processes forked
    while it is installed write to the same simulated disk (each its own room).
    """

    def __init__(self, monkeypatch, room: float = float("inf")) -> None:
        self.room, self.full, self.written = room, False, 0
        create_file = FileStorage.create_file

        def create_full_file(storage, name, *args, **kwargs):
            structfile = create_file(storage, name, *args, **kwargs)
            structfile.file = _FullFile(structfile.file, self)
            return structfile

        monkeypatch.setattr(FileStorage, "create_file", create_full_file)

    def take(self, size: int) -> None:
        if self.full or size > self.room:
            self.full = True
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= size
        self.written += size


def _bytes_written(monkeypatch, tmp_path, index_dir: Path, corpus: Path, **options) -> int:
    """How many bytes Whoosh's storage writes to update (a copy of) index_dir from corpus."""
    trial = tmp_path / "trial"
    shutil.copytree(index_dir, trial)
    with monkeypatch.context() as patch:
        disk = _FullDisk(patch)
        SearchIndex.build(trial, [corpus], **options)
    return disk.written


def _assert_nothing_changed(error, index_dir: Path, listing: list[str], answers) -> None:
    message = str(error.value)
    assert message == (f"no space left on device while writing index at {index_dir}; "
                       "nothing was changed")
    assert error.value.__cause__.__context__ is None  # no second error while cleaning up
    assert _listing(index_dir) == listing  # everything the run wrote is gone
    assert _all_answers(index_dir) == answers


@pytest.mark.parametrize("rebuild", [False, True], ids=["update", "rebuild"])
@pytest.mark.parametrize("at", [0.0, 0.5, 0.99])
def test_a_full_disk_changes_nothing(monkeypatch, tmp_path, before_and_after, rebuild, at):
    """The disk fills up at the first byte, half-way, or at the very end of the run's writes."""
    index_dir, corpus, before, after, _ = before_and_after
    total = _bytes_written(monkeypatch, tmp_path, index_dir, corpus, rebuild=rebuild)
    listing = _listing(index_dir)
    with monkeypatch.context() as patch:
        _FullDisk(patch, room=int(total * at))
        with pytest.raises(SearchkitError) as error:
            SearchIndex.build(index_dir, [corpus], rebuild=rebuild)
    _assert_nothing_changed(error, index_dir, listing, before)
    # With room again, the same run succeeds.
    SearchIndex.build(index_dir, [corpus], rebuild=rebuild)
    assert _all_answers(index_dir) == after


@pytest.mark.parametrize("target", ["table of contents", "query lexicon", "manifest"])
def test_a_full_disk_at_the_last_writes_of_a_rebuild_changes_nothing(monkeypatch, before_and_after, target):
    index_dir, corpus, before, after, _ = before_and_after
    listing = _listing(index_dir)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with monkeypatch.context() as patch:
        if target == "table of contents":
            create_file = FileStorage.create_file

            def create_file_but_toc(storage, name, *args, **kwargs):
                made = create_file(storage, name, *args, **kwargs)
                if ".toc." in name:  # the temporary table of contents: made, then the disk is full
                    made.close()
                    raise full
                return made

            patch.setattr(FileStorage, "create_file", create_file_but_toc)
        elif target == "query lexicon":
            copyfile = shutil.copyfile

            def copy_but_lexicon(source, target_path, *args, **kwargs):
                if Path(target_path).name == indexer.LEXICON + ".tmp":
                    Path(target_path).write_bytes(b"half")
                    raise full
                return copyfile(source, target_path, *args, **kwargs)

            patch.setattr(shutil, "copyfile", copy_but_lexicon)
        else:
            write_text = Path.write_text

            def write_text_but_manifest(path, text, *args, **kwargs):
                if path.name == MANIFEST + ".tmp":
                    write_text(path, text[:10], *args, **kwargs)
                    raise full
                return write_text(path, text, *args, **kwargs)

            patch.setattr(Path, "write_text", write_text_but_manifest)
        with pytest.raises(SearchkitError) as error:
            SearchIndex.build(index_dir, [corpus], rebuild=True)
    _assert_nothing_changed(error, index_dir, listing, before)


def test_a_full_disk_in_a_worker_changes_nothing(monkeypatch, tmp_path, before_and_after):
    index_dir, corpus, before, after, _ = before_and_after
    monkeypatch.setattr(indexer, "LARGE_BYTES", 0)  # workers even for the seeds
    listing = _listing(index_dir)
    with monkeypatch.context() as patch:
        _FullDisk(patch, room=20_000)  # each worker fills its segment's first files
        with pytest.raises(SearchkitError) as error:
            SearchIndex.build(index_dir, [corpus], workers=2)
    _assert_nothing_changed(error, index_dir, listing, before)


def test_a_failure_after_the_switch_keeps_the_new_index(monkeypatch, before_and_after):
    """Once the manifest names the new generation, a failure removing the old one undoes nothing."""
    index_dir, corpus, _, after, clean = before_and_after

    live = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["generation"]
    remove_leftovers = indexer.remove_leftovers

    def refuse_after_the_switch(directory, generation):
        if generation == live:  # the clean-up before the run: it goes through
            return remove_leftovers(directory, generation)
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(index_dir / "_g1_1.toc"))

    with monkeypatch.context() as patch:
        patch.setattr(indexer, "remove_leftovers", refuse_after_the_switch)
        with pytest.raises(SearchkitError, match=r"was updated, but removing what the update replaced "
                                                 r"failed \(Permission denied\); the next run removes it$"):
            SearchIndex.build(index_dir, [corpus], rebuild=True)
    assert _all_answers(index_dir) == after
    SearchIndex.build(index_dir, [corpus])
    assert _only_live_files(index_dir) == _only_live_files(clean)


def test_cli_full_disk_is_one_line(monkeypatch, capsys, before_and_after):
    index_dir, corpus, before, _, _ = before_and_after
    listing = _listing(index_dir)
    _FullDisk(monkeypatch, room=50_000)
    code = cli_module.main(["index", str(corpus), "--index", str(index_dir)])
    captured = capsys.readouterr()
    assert code == cli_module.EXIT_ERROR
    assert captured.err.splitlines() == [
        f"searchkit: error: no space left on device while writing index at {index_dir}; nothing was changed"]
    assert captured.out == ""
    assert _listing(index_dir) == listing
    assert _all_answers(index_dir) == before


def test_cli_full_disk_on_a_terminal_clears_the_progress_bar(monkeypatch, capsys, before_and_after):
    index_dir, corpus, _, _, _ = before_and_after
    _FullDisk(monkeypatch, room=50_000)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli_module.main(["index", str(corpus), "--index", str(index_dir)]) == cli_module.EXIT_ERROR
    err = capsys.readouterr().err
    assert "indexing [" in err  # the bar was drawn ...
    bar, error = err.rsplit("\r\x1b[K", 1)  # ... and cleared before the error line
    assert error == (f"searchkit: error: no space left on device while writing index at {index_dir}; "
                     "nothing was changed\n")


def test_a_full_disk_while_adding_documents_from_python_changes_nothing(monkeypatch, seed_index_copy):
    from searchkit.models import Document

    listing = _listing(seed_index_copy)
    with monkeypatch.context() as patch:
        _FullDisk(patch, room=1000)
        with pytest.raises(SearchkitError, match="^no space left on device while writing index at "):
            with SearchIndex.open(seed_index_copy) as index:
                index.add_documents([Document(id="n1", title="新闻", text="翁源兰花产业园开园。")])
    assert _listing(seed_index_copy) == listing
    with SearchIndex.open(seed_index_copy) as index:
        assert index.search('"翁源兰花产业园"').total == 0
        assert index.add_documents([Document(id="n1", title="新闻", text="翁源兰花产业园开园。")]) == 1
        assert index.search('"翁源兰花产业园"').total == 1


@contextlib.contextmanager
def _small_tmpfs(path: Path, size: str):
    """A tmpfs of size mounted at path (root only), or a skip."""
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                            capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_really_full_disk(tmp_path, corpus_copy):
    """On a real (tmpfs) disk filled to the last 64 KB: one line, and the disk as it was."""
    with _small_tmpfs(tmp_path / "disk", "24m") as disk:
        index_dir = disk / "index"
        SearchIndex.build(index_dir, [corpus_copy])
        before = _all_answers(index_dir)
        listing = _listing(index_dir)
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"\0" * (free - 64 * 1024))
        extra = corpus_copy / "extra"
        extra.mkdir()
        for n in range(10):  # a few hundred KB of text: more index than the disk has room for
            for seed in sorted(corpus_copy.glob("0*.txt")):
                shutil.copy(seed, extra / f"copy{n}_{seed.name}")
        free_before = os.statvfs(disk).f_bfree
        result = cli("index", str(corpus_copy), "--index", str(index_dir), "--workers", "1")
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"searchkit: error: no space left on device while writing index at {index_dir}; nothing was changed"]
        assert _listing(index_dir) == listing
        assert os.statvfs(disk).f_bfree == free_before  # every byte the run wrote is free again
        assert _all_answers(index_dir) == before
        (disk / "filler").unlink()
        assert cli("index", str(corpus_copy), "--index", str(index_dir)).returncode == 0
        with SearchIndex.open(index_dir) as index:
            assert index.stats().documents == 55


# --- row 6: a read-only index ------------------------------------------------------------


@contextlib.contextmanager
def _read_only(path: Path):
    """Make directory path read-only for real: by its mode, or (as root) by a read-only bind mount."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode != 0:
        pytest.skip("root cannot be refused a write without a read-only mount, which needs privileges")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchkit", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_a_read_only_index_is_searched_but_not_updated(seed_index_copy, seeds_dir):
    listing = _listing(seed_index_copy)
    with _read_only(seed_index_copy):
        updated = _run("index", str(seeds_dir), "--index", str(seed_index_copy))
        searched = _run("search", "韶关", "--json", "--index", str(seed_index_copy))
        # The default index (built on first use when missing) is only read when it exists...
        by_default = _run("search", "韶关", "--json", env={"SEARCHKIT_INDEX": str(seed_index_copy)})
        # ... and cannot be built where nothing can be written.
        missing = seed_index_copy / "new"
        first_use = _run("search", "韶关", env={"SEARCHKIT_INDEX": str(missing)})
        assert _listing(seed_index_copy) == listing
    assert updated.returncode == 1
    assert re.fullmatch(rf"searchkit: error: index at {re.escape(str(seed_index_copy))} is read-only "
                        r"\([^)]+\): it can be searched, not updated\n", updated.stderr), updated.stderr
    assert updated.stdout == ""
    for result in (searched, by_default):
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["total"] == 5
    assert first_use.returncode == 1
    lines = first_use.stderr.splitlines()
    assert lines[-1].startswith(f"searchkit: error: index at {missing} is read-only"), first_use.stderr
    assert "Traceback" not in first_use.stderr and len(lines) == 2  # the first-use notice, the error


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_lock_file_is_one_line(monkeypatch, capsys, seed_index_copy, seeds_dir, code):
    """Where the directory cannot be made read-only for real (root without mounts), its lock file is."""
    real_open = open

    def read_only_open(file, mode="r", *args, **kwargs):
        if Path(file).name == indexer.LOCKFILE:
            raise OSError(code, os.strerror(code), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(indexer, "open", read_only_open, raising=False)
    listing = _listing(seed_index_copy)
    assert cli_module.main(["index", str(seeds_dir), "--index", str(seed_index_copy)]) == cli_module.EXIT_ERROR
    assert capsys.readouterr().err == (f"searchkit: error: index at {seed_index_copy} is read-only "
                                       f"({os.strerror(code)}): it can be searched, not updated\n")
    assert _listing(seed_index_copy) == listing
    with SearchIndex.open(seed_index_copy) as index:  # searching needs no lock
        assert index.search("韶关").total == 5


# --- rows 11 and 13: Ctrl-C as workers finish; a worker that dies -------------------------------


@pytest.fixture
def parallel_job(tmp_path, corpus_copy):
    """An index of the seeds, and a corpus whose update is shared by two workers.

    The new file is a JSON Lines file of one short record and a megabyte of
    blank lines: enough bytes for workers to be used, next to no text to index.
    """
    index_dir = tmp_path / "index"
    SearchIndex.build(index_dir, [corpus_copy])
    record = json.dumps({"id": "pad", "text": "独一无二的测试短语在这里。"}, ensure_ascii=False)
    (corpus_copy / "pad.jsonl").write_text(record + "\n" + "\n" * indexer.LARGE_BYTES, encoding="utf-8")
    return index_dir, corpus_copy


def _start_held(args: list[str], index_dir: Path, step: str) -> tuple[subprocess.Popen, str]:
    """Start `searchkit index` in a process group of its own (as a terminal would); wait until it holds at step."""
    process = subprocess.Popen([sys.executable, "-m", "searchkit", "index", *args, "--index", str(index_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, HOLD_ENV: step}, start_new_session=True)
    held = process.stderr.readline()
    assert held.startswith(f"searchkit: holding at {step}"), (held, process.communicate())
    return process, held


def test_ctrl_c_as_the_workers_finish_stops_cleanly(parallel_job):
    index_dir, corpus = parallel_job
    before, listing = _all_answers(index_dir), _listing(index_dir)
    # Every worker has handed back its segment and is on its way out.
    process, _ = _start_held([str(corpus), "--workers", "2"], index_dir, "workers-done")
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr == "searchkit: interrupted\n"  # from the parent only, no worker tracebacks
    assert stdout == ""
    assert _listing(index_dir) == listing
    assert _all_answers(index_dir) == before


def test_a_dead_worker_stops_the_run_at_once(parallel_job):
    index_dir, corpus = parallel_job
    before, listing = _all_answers(index_dir), _listing(index_dir)
    process, held = _start_held([str(corpus), "--workers", "2"], index_dir, "worker")
    os.kill(int(re.search(r"\(pid (\d+)\)", held).group(1)), signal.SIGKILL)
    # The other worker holds too and is never released: the run can only end
    # if the parent notices the death by itself.
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    lines = [line for line in stderr.splitlines() if not line.startswith("searchkit: holding at worker")]
    assert lines == ["searchkit: error: a worker process died (signal 9) while indexing; nothing was changed"]
    assert stdout == ""
    assert _listing(index_dir) == listing
    assert _all_answers(index_dir) == before


# --- row 12 and every commit step: a killed run, then the next one ------------------------


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(seed_index_copy, seeds_dir):
    live = json.loads((seed_index_copy / MANIFEST).read_text(encoding="utf-8"))["generation"]
    kinds = _only_live_files(seed_index_copy)
    leftovers = [f"_{live}_2.toc.1764480000.25", f"{live}_0123456789abcdefgh.trm",
                 "_g9_1.toc", "g9_0123456789abcdefgh._stored.col", "g9_WRITELOCK",
                 "searchkit.json.tmp", "query-lexicon.bin.tmp",
                 "query-lexicon.sqlite"]  # the query lexicon of an earlier index format
    for name in leftovers:
        (seed_index_copy / name).write_bytes(b"left over")
    (seed_index_copy / f"{live}.0123456789abcdef.tmp").mkdir()
    (seed_index_copy / f"{live}.0123456789abcdef.tmp" / "run.run").write_bytes(b"left over")
    ours = ["notes.txt", "g1.txt", "g1_tmp"]  # not of a shape searchkit or Whoosh writes: never touched
    for name in ours:
        (seed_index_copy / name).write_text("保留", encoding="utf-8")
    assert counts(SearchIndex.build(seed_index_copy, [seeds_dir])) == (0, 0, 0, 5)
    for name in ours:
        (seed_index_copy / name).unlink()
    assert _only_live_files(seed_index_copy) == kinds
    with SearchIndex.open(seed_index_copy) as index:
        assert index.search("韶关").total == 5


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["update", "rebuild"])
def test_a_run_killed_at_any_commit_step(tmp_path, before_and_after, mode):
    """Killed at each step, a run leaves the old answers (or, once live, the new ones); the next run cleans up."""
    base, corpus, before, after, clean = before_and_after
    clean_kinds = _only_live_files(clean)
    args = [str(corpus)] + (["--rebuild"] if mode == "rebuild" else [])
    steps = COMMIT_STEPS[mode]
    for step in steps:
        index_dir = tmp_path / f"{mode}-{step}"
        shutil.copytree(base, index_dir)
        killed = _interrupt(args, index_dir, signal.SIGKILL, step=step)
        assert killed.returncode == -signal.SIGKILL
        live = steps.index(step) >= steps.index(LIVE_FROM[mode])
        assert _all_answers(index_dir) == (after if live else before), step
        names = _listing(index_dir)
        if steps.index(step) < steps.index("old-removed"):  # the killed run left temporary files...
            assert any(name.endswith(".tmp") for name in names), (step, names)
        if step == "toc-written":  # ... and here its table of contents under a temporary name
            assert any(".toc." in name for name in names), names
        SearchIndex.build(index_dir, [corpus])
        assert _all_answers(index_dir) == after, step
        assert _only_live_files(index_dir) == clean_kinds, step


# === Issue 12: an index knows its roots (the command's behaviour is in test_cli.py) =====



def test_an_index_with_the_old_manifest_form_opens_and_keeps_its_roots(tmp_path, corpus_copy, monkeypatch):
    from searchkit import indexer, integrity

    index_dir = tmp_path / "index"
    with monkeypatch.context() as old:  # an index as searchkit wrote it before roots
        old.setattr(indexer, "file_record", lambda checksum, stamp: checksum)
        old.chdir(tmp_path)
        SearchIndex.build(index_dir, ["corpus"])
    manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    del manifest["roots"], manifest["checksum"]
    manifest["corpus"] = ["corpus"]  # the paths as they were given
    manifest["checksum"] = integrity.json_crc32(manifest)
    (index_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    with SearchIndex.open(index_dir) as index:
        assert ids(index.search('"数据中心集群"')) == {"000", "001"}
        assert index.document(SEED_A).id == SEED_A
    monkeypatch.chdir(tmp_path)  # where the old command ran: relative roots are resolved from there
    assert counts(SearchIndex.build(index_dir, [])) == (0, 0, 0, 5)
    roots = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["roots"]
    assert [(root["path"], root["label"]) for root in roots] == [(str(corpus_copy.resolve()), "corpus")]
    other = tmp_path / "other"
    other.mkdir()
    (other / SEED_A).write_text("另一个目录\n\n同名文件的正文。", encoding="utf-8")
    assert counts(SearchIndex.build(index_dir, [other])) == (1, 5, 0, 0)  # ids take labels now
    with SearchIndex.open(index_dir) as index:
        assert "同名文件" in index.document(f"other/{SEED_A}").text
        assert "数据中心" in index.document(f"corpus/{SEED_A}").text


def test_include_and_exclude_are_recorded_and_kept_by_rescans(tmp_path, corpus_copy, monkeypatch):
    """The globs reach the walker on every run until they are named again ('' clears them)."""
    from fnmatch import fnmatch

    from searchkit import indexer

    calls = []
    real_walk = indexer.iter_corpus_files

    def walk(paths, *, warn=None, include=(), exclude=(), summary=None):
        calls.append((list(include), list(exclude)))
        for corpus_file in real_walk(paths, warn=warn, summary=summary):
            name = corpus_file.path.name
            if any(fnmatch(name, g) for g in exclude) or include and not any(fnmatch(name, g) for g in include):
                continue
            yield corpus_file

    monkeypatch.setattr(indexer, "iter_corpus_files", walk)
    (corpus_copy / "note.md").write_text("笔记\n\n一条笔记。", encoding="utf-8")
    index_dir = tmp_path / "index"
    assert counts(SearchIndex.build(index_dir, [corpus_copy], exclude=["*.md"])) == (5, 0, 0, 0)
    assert counts(SearchIndex.build(index_dir, [])) == (0, 0, 0, 5)
    assert calls[-1] == ([], ["*.md"])
    manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    assert (manifest.get("include"), manifest["exclude"]) == (None, ["*.md"])
    # New globs replace the recorded ones (of their kind) and re-scan every root.
    assert counts(SearchIndex.build(index_dir, [], include=["000_*"])) == (0, 0, 4, 1)
    assert calls[-1] == (["000_*"], ["*.md"])
    assert counts(SearchIndex.build(index_dir, [], include=[], exclude=[])) == (5, 0, 0, 1)
    assert calls[-1] == ([], [])
# --- odd trees through the real command (issue 12) ---------------------------------


PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))


def odd_tree(tmp_path: Path) -> Path:
    """A corpus with links, a loop, a name that is not UTF-8, a FIFO and non-text files."""
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (corpus / "chinese").write_text("人生如梦，一樽还酹江月。\n%\n", encoding="utf-8")
    (corpus / "chinese.u8").symlink_to("chinese")
    (corpus / "dangling.txt").symlink_to("missing.txt")
    (corpus / "sub" / "up").symlink_to("..")
    (tmp_path / "shared" / "共享.txt").write_text("共享目录里的文章。", encoding="utf-8")
    (corpus / "shared").symlink_to(tmp_path / "shared")
    with open(os.path.join(os.fsencode(corpus), "新闻.txt".encode("gbk")), "wb") as file:
        file.write("今日新闻：咖啡馆开业。".encode("utf-8"))
    os.mkfifo(corpus / "pipe")
    for number in range(3):
        (corpus / f"figure{number}.png").write_bytes(PNG_BYTES)
    (corpus / "style.css").write_text("* { margin: 0 }", encoding="utf-8")
    return corpus


def test_cli_indexes_an_odd_tree_with_one_line_per_problem(tmp_path):
    corpus = odd_tree(tmp_path)
    index_dir = tmp_path / "index"
    result = cli("index", str(corpus), "--index", str(index_dir))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(result.stderr.splitlines()) == [
        f"searchkit: {corpus / 'dangling.txt'}: skipped, cannot read (No such file or directory)",
        f"searchkit: {corpus / 'pipe'}: skipped, not a regular file (a FIFO)",
        f"searchkit: {corpus / 'sub' / 'up'}: skipped, symbolic link loop (to {corpus}, which holds it)",
    ]
    summary = result.stdout.splitlines()
    assert re.fullmatch(r"3 added, 0 updated, 0 removed, 0 unchanged, 3 skipped; "
                        r"0\.00 MB in \d+\.\d\d s", summary[0]), summary
    assert summary[1:] == ["4 files not text (png 3, css 1)"]
    with SearchIndex.open(index_dir) as index:
        assert sorted(hit.id for hit in index.search("人生如梦").hits) == ["chinese"]
        assert {hit.id for hit in index.search("共享").hits} == {"shared/共享.txt"}
    shown = cli("show", "%D0%C2%CE%C5.txt", "--index", str(index_dir))
    assert shown.returncode == 0, shown.stderr
    assert "咖啡馆" in shown.stdout
    again = cli("index", str(corpus), "--index", str(index_dir))
    assert again.returncode == 0 and "Traceback" not in again.stderr
    assert again.stdout.startswith("0 added, 0 updated, 0 removed, 3 unchanged, 3 skipped; 0.00 MB")


def test_file_vanished_between_walk_and_read_is_reported_and_the_rest_indexed(
        tmp_path, corpus_copy, monkeypatch):
    walk = indexer.iter_corpus_files
    victim = corpus_copy / "extra.txt"
    victim.write_text("将要消失的文章。", encoding="utf-8")

    def walk_then_remove(*args, **kwargs):
        yield from walk(*args, **kwargs)
        victim.unlink()  # walked, not yet read

    monkeypatch.setattr(indexer, "iter_corpus_files", walk_then_remove)
    warnings: list[str] = []
    report = SearchIndex.build(tmp_path / "index", [corpus_copy], warn=warnings.append, workers=1)
    assert (report.added, report.skipped) == (5, 1)
    assert warnings == [f"{victim}: skipped, cannot read (No such file or directory)"]
