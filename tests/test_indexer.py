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
    assert ids(results) == expected
    assert results.total == len(expected)
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
    with pytest.raises(IndexNotFoundError, match="searchkit index"):
        SearchIndex.open(tmp_path / "nowhere")
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
    assert len(summary) == 1, result.stdout
    assert re.fullmatch(
        r"5 added, 0 updated, 0 removed, 0 unchanged, 2 skipped; \d+\.\d\d MB in \d+\.\d\d s",
        summary[0]), summary[0]
    assert "\r" not in result.stdout + result.stderr  # no progress bar on a pipe
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2, result.stderr
    assert sum("picture.png" in line for line in warnings) == 1
    assert sum("garbled.txt" in line for line in warnings) == 1
    assert "Traceback" not in result.stderr
    with SearchIndex.open(index_dir) as index:
        assert index.stats().documents == 5
        assert ids(index.search('"数据中心集群"')) == {"000", "001"}


def test_unreadable_files_through_the_api(tmp_path, corpus_copy):
    (corpus_copy / "blob.bin").write_bytes(bytes(range(256)) * 8)
    (corpus_copy / "empty.txt").write_text("  \n", encoding="utf-8")
    warnings: list[str] = []
    report = SearchIndex.build(tmp_path / "index", [corpus_copy], warn=warnings.append)
    assert (report.added, report.skipped) == (5, 2)
    assert len(warnings) == 2
    assert any("blob.bin" in w for w in warnings) and any("empty.txt" in w for w in warnings)
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
