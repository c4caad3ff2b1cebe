"""Parallel indexing gives exactly the results of indexing in one process."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from searchkit import SearchIndex, indexer
from searchkit.loaders import load_corpus

QUERIES = [
    "韶关", "韶關", "数据中心", '"数据中心集群"', "改革 攻坚", "预制菜 OR 林长制", "韶关 NOT 民政",
    "南岭国家公园", "陳少榮", "5G", "营商环境", "title:改革", "source:澎湃新闻 韶关",
    "date:2022 改革", "高质量 发展 足球", "生态", "产业 转型 升级", "1554亿元", "GDP",
]


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory, seeds_dir):
    """Seeds, renamed copies of them, and a JSON Lines file of their sentences."""
    root = tmp_path_factory.mktemp("mixed")
    shutil.copytree(seeds_dir, root / "seeds")
    for n in range(6):
        for seed in sorted(seeds_dir.glob("0*.txt")):
            shutil.copy(seed, root / f"copy{n}_{seed.name}")
    with open(root / "sentences.jsonl", "w", encoding="utf-8") as out:
        for document in load_corpus([seeds_dir]):
            for i, sentence in enumerate(re.split(r"(?<=[。！？])", document.text)):
                if sentence.strip():
                    record = {"id": f"{document.id}/{i}", "title": sentence[:12], "text": sentence,
                              "source": document.source, "date": str(document.date or "") or None}
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return root


def _answers(index_dir):
    with SearchIndex.open(index_dir) as index:
        answers = {}
        for query in QUERIES:
            results = index.search(query, limit=20)
            answers[query] = (results.total, results.partial,
                              [(h.id, round(h.score, 6), h.snippet, h.highlights) for h in results.hits])
        return answers, index.stats().documents, index.sources()


def test_parallel_index_answers_exactly_like_serial(tmp_path, mixed_corpus, monkeypatch):
    serial = SearchIndex.build(tmp_path / "serial", [mixed_corpus], workers=1)
    # Small parts, so the JSON Lines file is dealt out to both workers; the
    # parallel build also cuts text with the fast segmenter.
    monkeypatch.setattr(indexer, "LARGE_BYTES", 0)
    monkeypatch.setattr(indexer, "PART_BYTES", 4000)
    parallel = SearchIndex.build(tmp_path / "parallel", [mixed_corpus], workers=2)
    assert (parallel.added, parallel.skipped) == (serial.added, serial.skipped)
    assert serial.added > 200
    assert _answers(tmp_path / "parallel") == _answers(tmp_path / "serial")


def test_parallel_update_replaces_changed_files(tmp_path, mixed_corpus, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(mixed_corpus, corpus)
    monkeypatch.setattr(indexer, "LARGE_BYTES", 0)
    SearchIndex.build(tmp_path / "index", [corpus], workers=2)
    changed = corpus / "copy0_000_150bae6b94f5f664.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n独一无二的测试句子。", encoding="utf-8")
    (corpus / "copy1_000_150bae6b94f5f664.txt").unlink()
    report = SearchIndex.build(tmp_path / "index", [corpus], workers=2)
    assert (report.added, report.updated, report.removed) == (0, 1, 1)
    with SearchIndex.open(tmp_path / "index") as index:
        assert [h.id for h in index.search('"独一无二的测试句子"').hits] == [changed.name]
        assert index.stats().documents == len(list(load_corpus([corpus])))


# === Faults: a worker that dies or fails ends the run at once (issue 10, row 13) ===

import errno  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

from searchkit import parallel  # noqa: E402
from searchkit.errors import SearchkitError  # noqa: E402


class _NoSegment:
    """A writer that writes nothing (the workers below never finish a segment)."""

    def finish_segment(self) -> None:
        return None


def _faulty_unit(unit: parallel.Unit, writer, segmenter) -> parallel.UnitResult:
    """'wait' never returns; 'die' kills its worker; 'full' meets a full disk; others are done."""
    if unit.key == "wait":
        while True:
            signal.pause()
    if unit.key == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if unit.key == "full":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return parallel.UnitResult(unit.key, 1, 0.0)


def _run_units(*keys: str) -> list[str]:
    done: list[str] = []
    units = [parallel.Unit(None, key, "") for key in keys]
    parallel.index_in_parallel(_NoSegment, _faulty_unit, None, units, 2, lambda r: done.append(r.key))
    return done


def test_a_worker_that_dies_ends_the_run_while_the_other_still_works():
    # The other worker never finishes its unit: the run ends only because the death was noticed.
    with pytest.raises(SearchkitError, match=r"^a worker process died \(signal 9\) while indexing; "
                                             r"nothing was changed$"):
        _run_units("wait", "die")


def test_a_full_disk_in_a_worker_is_the_same_error_here():
    with pytest.raises(OSError) as error:
        _run_units("wait", "full")
    assert error.value.errno == errno.ENOSPC


def test_every_unit_is_indexed_exactly_once():
    assert sorted(_run_units(*(f"unit{n}" for n in range(20)))) == sorted(f"unit{n}" for n in range(20))
