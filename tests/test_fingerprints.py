"""Fingerprints: sampled shingles of the normalized text, the same for every copy of a text."""

from __future__ import annotations

import opencc
from hypothesis import given, settings, strategies as st

from searchkit import fingerprints as fp
from searchkit.normalize import normalize_text

ARTICLE = ("国家发改委等部门近日复函，粤港澳大湾区枢纽设立韶关数据中心集群，构建辐射华南乃至全国的实时性算力中心。"
           "2月15日召开的中共韶关市委十三届二次全会上，韶关总结2021年全面深化改革工作情况，研究部署2022年改革攻坚、"
           "规范治理工作，确定2022年为“改革攻坚规范治理年”，动员全市上下以更高的视野、更大的魄力、更实的举措。")


def fingerprint(text: str) -> fp.Fingerprint:
    return fp.decode(fp.fingerprint_bytes(text))


def test_traditional_and_simplified_copies_have_one_fingerprint():
    traditional = opencc.OpenCC("s2t").convert(ARTICLE)
    normalized = normalize_text(traditional)  # what the index fingerprints
    assert fp.fingerprint_bytes(normalized) != fp.fingerprint_bytes(traditional)
    # The round trip is not exact (复函 -> 覆函 -> 覆函): one character's shingles differ.
    assert sum(a != b for a, b in zip(normalized, ARTICLE)) == 1
    copy, source = fingerprint(normalized), fingerprint(ARTICLE)
    assert fp.containment(copy.hashes, copy.rate, source, 1) >= 0.9


def test_punctuation_spaces_and_line_breaks_do_not_change_the_hashes():
    respaced = ARTICLE.replace("，", ",\n  ").replace("。", ". ")
    assert list(fingerprint(respaced).hashes) == list(fingerprint(ARTICLE).hashes)


def test_positions_point_at_the_shingles_in_the_text():
    found = fingerprint(ARTICLE)
    every = fp.decode(fp.fingerprint_bytes(ARTICLE))
    assert len(found.hashes) == len(found.positions) >= fp.MIN_SAMPLES
    assert list(found.positions) == sorted(found.positions)
    assert list(every.between(0, len(ARTICLE))) == list(found.hashes)
    assert all(ARTICLE[p].isalnum() for p in found.positions)


def test_short_and_empty_texts():
    assert fingerprint("").hashes.tolist() == []
    assert len(fingerprint("韶关").hashes) == 1  # shorter than a shingle: one of its own
    assert fingerprint("，。！").hashes.tolist() == []


def test_rate_grows_with_length_within_bounds():
    assert fp.sample_rate(10) == 0
    assert fp.sample_rate(fp.MIN_SAMPLES * 2) == 1
    assert fp.sample_rate(10**7) == fp.MAX_RATE
    long_text = ARTICLE * 40
    assert fingerprint(long_text).rate == fp.MAX_RATE


def test_wide_gaps_between_samples_survive_encoding():
    text = "数据中心集群" + "。" * 70_000 + "算力网络枢纽"
    found = fingerprint(text)
    assert found.positions[-1] >= 70_000


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, len(ARTICLE) - 60), st.integers(60, len(ARTICLE)))
def test_an_excerpt_is_contained_in_its_source(start, size):
    """Sampling is consistent: an excerpt's samples are samples of the whole text too."""
    excerpt = ARTICLE[start:start + size]
    part, whole = fingerprint(excerpt), fingerprint(ARTICLE)
    share = fp.containment(part.hashes, part.rate, whole, 1)
    assert share is None or share == 1.0


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet="韶关數据中心集群算力AbZz09 ，。\n", max_size=120), max_size=12))
def test_fingerprints_of_many_texts_are_each_texts_own(texts):
    """The batched fast path gives exactly what one text at a time gives."""
    assert fp.fingerprints_of(texts) == [fp.fingerprint_bytes(text) for text in texts]


def test_fingerprints_of_texts_with_wide_gaps_and_long_ones():
    texts = ["数据中心集群" + "。" * 70_000 + "算力网络枢纽", ARTICLE * 30, "韶", ""]
    assert fp.fingerprints_of(texts) == [fp.fingerprint_bytes(text) for text in texts]


def test_latin_letters_do_not_count():
    """Four letters are a piece of an English word: a short English page is no copy of a long one."""
    assert fingerprint("Kali Linux is a Debian-based distribution").hashes.tolist() == []
    mixed = fingerprint("5G网络 in 韶关数据中心 cluster")
    assert list(mixed.hashes) == list(fingerprint("5G网络，韶关数据中心。").hashes)
