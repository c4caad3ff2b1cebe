"""The fast segmenter cuts text into exactly jieba's words."""

from __future__ import annotations

import random

import jieba
import pytest
from jieba import finalseg

from searchkit import analysis, segmentation
from searchkit.loaders import load_corpus


TRICKY = [
    "常在此山头", "白云常在眼", "依依常在永禅师",  # the HMM guesses of jieba-rs differ here
    "白马𫎺𧽼赤尘起", "㶉𫛶自浮沈", "雁塔𬸣金地",  # characters outside jieba's HMM range
    "中华人民共和国", "我来到北京清华大学", "他来到了网易杭研大厦", "韶关", "一",
]


@pytest.fixture(scope="module")
def tokenizer() -> jieba.Tokenizer:
    return analysis.segmenter_for(analysis.register_segmenter(None)).jieba


@pytest.fixture(scope="module")
def seed_runs(seeds_dir) -> list[str]:
    """Every run of Chinese characters in the seeds' titles and texts."""
    return [run for document in load_corpus([seeds_dir])
            for run in analysis._CJK_RE.findall(document.title + "\n" + document.text)]


def test_cuts_every_run_of_the_seeds_like_jieba(tokenizer, seed_runs):
    cutter = segmentation.fast_cutter(tokenizer)
    assert isinstance(cutter, segmentation.FastCutter)
    assert len(seed_runs) > 300
    for run in seed_runs + TRICKY:
        assert cutter.cut(run) == list(tokenizer.cut(run, HMM=True)), run


def test_hmm_guesses_like_jieba_on_random_strings(seed_runs):
    characters = sorted({c for run in seed_runs for c in run if segmentation._JIEBA_HAN.match(c)})
    rng = random.Random(7)
    for _ in range(3000):
        chars = "".join(rng.choice(characters) for _ in range(rng.randint(2, 9)))
        assert segmentation.hmm_words(chars) == list(finalseg.cut(chars)), chars


def test_forced_splits_are_honoured(tokenizer):
    cutter = segmentation.fast_cutter(tokenizer)
    expected_before = list(tokenizer.cut("他来到了网易杭研大厦"))
    assert "杭研" in expected_before  # an HMM guess
    finalseg.add_force_split("杭研")
    try:
        assert cutter.cut("他来到了网易杭研大厦") == list(tokenizer.cut("他来到了网易杭研大厦"))
        assert "杭研" not in cutter.cut("他来到了网易杭研大厦")
    finally:
        finalseg.Force_Split_Words.discard("杭研")


def test_user_words_cut_alike(tmp_path):
    # New words, and a redefined one: jieba adds the new count to its total
    # without taking the old one out, and the fast cutter must use that total.
    userdict = tmp_path / "words.txt"
    userdict.write_text("杭研大厦 50\n常在此 3\n中国 1\n", encoding="utf-8")
    tokenizer = analysis.Segmenter(userdict).jieba
    cutter = segmentation.fast_cutter(tokenizer)
    assert isinstance(cutter, segmentation.FastCutter)
    for run in ["他来到了网易杭研大厦", "常在此山头", "我爱中国人民", "中国", *TRICKY]:
        assert cutter.cut(run) == list(tokenizer.cut(run, HMM=True)), run
    assert "杭研大厦" in cutter.cut("他来到了网易杭研大厦")


def test_falls_back_to_jieba_when_the_totals_cannot_agree():
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = {"中国": 5, "中": 0}, 3, True
    assert segmentation.fast_cutter(tokenizer) is tokenizer
