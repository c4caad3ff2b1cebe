"""Tests of searchkit.analysis: the jieba tokenizers and Whoosh's tokenizer contract."""

from __future__ import annotations

import re
import zlib

import pytest

from searchkit.analysis import (
    CharTokenizer,
    Pretokenized,
    WordTokenizer,
    analyzer_config,
    char_tokens,
    is_cjk,
    register_segmenter,
    segmenter_for,
)
from searchkit.loaders import load_corpus

MIXED = "Running 5G 版本3.6.3，型号PD1728_A_1；营收1554亿元。第1名！"
PUNCTUATION = "，。！？；：、“”‘’（）《》【】…—·「」『』"


def tokens(tokenizer, value, **options):
    """(text, pos, startchar, endchar) of every token, copied out of Whoosh's reused Token."""
    options = {"positions": True, "chars": True, **options}
    return [(t.text, t.pos, t.startchar, t.endchar) for t in tokenizer(value, **options)]


def texts(tokenizer, value, **options):
    return [t[0] for t in tokens(tokenizer, value, **options)]


@pytest.fixture(scope="module")
def seed_texts(seeds_dir) -> dict[str, str]:
    """The normalized text and title of every seed, by seed number."""
    found = {}
    for doc in load_corpus([seeds_dir], warn=pytest.fail):
        found[doc.id[:3] + ":text"] = doc.text
        found[doc.id[:3] + ":title"] = doc.title
    assert len(found) == 10
    return found


# --- Whoosh's tokenizer contract -------------------------------------------


@pytest.mark.parametrize("mode", ["index", "query"])
def test_word_positions_are_ordinals_of_precise_words(mode):
    text = "韶关市委书记说，要坚持高质量发展。Data center 5G"
    found = tokens(WordTokenizer(), text, mode=mode)
    # The precise words (one per position) are consecutive ordinals from 0.
    first_at = {}
    for token in found:
        first_at.setdefault(token[1], token)
    assert sorted(first_at) == list(range(len(first_at)))
    # Precise words tile the text: each starts where the previous one ended, less skipped punctuation.
    precise = [first_at[p] for p in sorted(first_at)]
    for before, after in zip(precise, precise[1:]):
        assert before[3] <= after[2]
        assert text[before[3]:after[2]].strip("，。 ") == ""


def test_index_mode_subwords_share_their_parent_position():
    found = tokens(WordTokenizer(), "中华人民共和国成立了", mode="index")
    parent = next(t for t in found if t[0] == "中华人民共和国")
    for word in ("中华", "人民", "共和国"):
        sub = next(t for t in found if t[0] == word)
        assert sub[1] == parent[1]
        assert parent[2] <= sub[2] < sub[3] <= parent[3]
    # The word after the long word comes right after it, not after its sub-words.
    after = next(t for t in found if t[0] == "成立")
    assert after[1] == parent[1] + 1


def test_query_mode_has_no_subwords():
    found = tokens(WordTokenizer(), "中华人民共和国成立了", mode="query")
    assert [t[0] for t in found] == ["中华人民共和国", "成立", "了"]
    assert [t[1] for t in found] == [0, 1, 2]


@pytest.mark.parametrize("tokenizer", [WordTokenizer(), CharTokenizer()], ids=["words", "chars"])
@pytest.mark.parametrize("mode", ["index", "query"])
def test_start_pos_and_start_char_are_honoured(tokenizer, mode):
    text = "韶关打开改革新局面 5G"
    plain = tokens(tokenizer, text, mode=mode)
    shifted = tokens(tokenizer, text, mode=mode, start_pos=7, start_char=100)
    assert plain
    assert shifted == [(t, p + 7, s + 100, e + 100) for t, p, s, e in plain]


@pytest.mark.parametrize("tokenizer", [WordTokenizer(), CharTokenizer()], ids=["words", "chars"])
def test_tokenize_false_yields_the_whole_value(tokenizer):
    found = tokens(tokenizer, "韶关 改革", tokenize=False, start_pos=3, start_char=10)
    assert found == [("韶关 改革", 3, 10, 15)]


def test_positions_and_chars_are_optional():
    found = list(WordTokenizer()("韶关改革", mode="query"))
    assert found  # Whoosh calls tokenizers without positions/chars when indexing plain fields


def test_char_positions_are_consecutive_over_the_whole_text():
    text = "韶关，改革 5G-2022年"
    found = tokens(CharTokenizer(), text)
    assert [t[0] for t in found] == ["韶", "关", "改", "革", "5g", "2022", "年"]
    assert [t[1] for t in found] == list(range(len(found)))


def test_bigrams_cover_each_run_of_chinese_characters():
    from searchkit.analysis import bigram_tokens

    text = "入桂宫。\n莺啼正隐叶"
    found = bigram_tokens(text)
    assert [t[0] for t in found] == ["入桂", "桂宫", "莺啼", "啼正", "正隐", "隐叶"]
    assert [t[1] for t in found] == [0, 1, 3, 4, 5, 6]
    assert all(text[start:end] == bigram for bigram, _, start, end in found)


# --- offsets index the text exactly ---------------------------------------


def _assert_offsets(text: str, found: list[tuple[str, int, int, int]], where: str) -> None:
    assert found, where
    for token, _, start, end in found:
        assert text[start:end].lower() == token, f"{where}: {token!r} at {start}:{end} is {text[start:end]!r}"


@pytest.mark.parametrize("mode", ["index", "query"])
def test_word_offsets_round_trip_on_the_seeds(seed_texts, mode):
    tokenizer = WordTokenizer()
    for key, text in seed_texts.items():
        _assert_offsets(text, tokens(tokenizer, text, mode=mode), f"{key} ({mode})")


def test_char_offsets_round_trip_on_the_seeds(seed_texts):
    for key, text in seed_texts.items():
        found = tokens(CharTokenizer(), text)
        _assert_offsets(text, found, key)
        # Every Chinese character of the text is a char token, in order.
        assert "".join(t for t, *_ in found if is_cjk(t)) == "".join(re.findall(r"[\u4e00-\u9fff]", text))


def test_word_tokens_cover_every_chinese_character_of_the_seeds(seed_texts):
    """Precise words (query mode) lose no Chinese character: nothing is dropped as a stop word."""
    tokenizer = WordTokenizer()
    for key, text in seed_texts.items():
        words = "".join(t for t in texts(tokenizer, text, mode="query") if is_cjk(t))
        assert words == "".join(re.findall(r"[\u4e00-\u9fff]", text)), key


# --- mixed text --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["index", "query"])
def test_latin_words_are_lowercased_and_not_stemmed(mode):
    words = texts(WordTokenizer(), "Running Data Centers ran", mode=mode)
    assert words == ["running", "data", "centers", "ran"]


@pytest.mark.parametrize("mode", ["index", "query"])
def test_numbers_versions_and_codes_stay_whole(mode):
    words = texts(WordTokenizer(), MIXED, mode=mode)
    for whole in ("5g", "3.6.3", "pd1728_a_1", "1554", "亿元", "1"):
        assert whole in words, (whole, words)
    # 1554亿元 is a number and a unit, never glued or split further.
    assert words[words.index("1554") + 1] == "亿元"
    for fragment in ("5", "g", "3", "6", "pd1728", "a", "155", "554"):
        assert fragment not in words, (fragment, words)


def test_single_digits_and_letters_are_kept():
    assert texts(WordTokenizer(), "第1名和第2名，A股", mode="index").count("1") == 1
    assert "2" in texts(WordTokenizer(), "第1名和第2名，A股", mode="query")
    assert "a" in texts(WordTokenizer(), "A股", mode="query")
    assert "1" in texts(CharTokenizer(), "第1名")


@pytest.mark.parametrize("tokenizer", [WordTokenizer(), CharTokenizer()], ids=["words", "chars"])
@pytest.mark.parametrize("mode", ["index", "query"])
def test_punctuation_never_produces_tokens(tokenizer, mode):
    assert texts(tokenizer, PUNCTUATION, mode=mode) == []
    found = texts(tokenizer, "韶关，“改革”！（2022）", mode=mode)
    assert found
    assert not any(ch in PUNCTUATION for token in found for ch in token)


def test_char_tokens_function_matches_the_tokenizer():
    assert [tuple(t) for t in char_tokens(MIXED)] == tokens(CharTokenizer(), MIXED)


# --- pretokenized strings --------------------------------------------------------


@pytest.mark.parametrize("tokenizer", [WordTokenizer(), CharTokenizer()], ids=["words", "chars"])
@pytest.mark.parametrize("mode", ["index", "query"])
def test_pretokenized_strings_carry_their_tokens(tokenizer, mode):
    carried = [("甲乙", 0, 0, 2), ("丙", 5, 2, 3), ("made-up", 6, 3, 4)]
    value = Pretokenized("韶关改革", carried)
    assert value == "韶关改革"
    assert tokens(tokenizer, value, mode=mode) == carried
    shifted = tokens(tokenizer, value, mode=mode, start_pos=10, start_char=20)
    assert shifted == [(t, p + 10, s + 20, e + 20) for t, p, s, e in carried]


def test_pretokenized_index_words_are_what_the_tokenizer_would_make():
    text = "中华人民共和国成立了，韶关5G发展"
    computed = segmenter_for("default").index_words(text)
    assert tokens(WordTokenizer(), Pretokenized(text, computed), mode="index") == tokens(
        WordTokenizer(), text, mode="index")


# --- configuration ------------------------------------------------------------------


def test_analyzer_config_changes_with_the_user_dictionary(tmp_path):
    first = tmp_path / "a.txt"
    second = tmp_path / "b.txt"
    first.write_text("韶关高新区 100 n\n", encoding="utf-8")
    second.write_text("韶关高新区 100 n\n粤北生态 50 n\n", encoding="utf-8")
    none = analyzer_config(None)
    one = analyzer_config(first)
    two = analyzer_config(second)
    assert none["userdict"] == ""
    assert one != none and two != one
    assert {k: v for k, v in one.items() if k != "userdict"} == {
        k: v for k, v in none.items() if k != "userdict"}
    # Same bytes, another file: same configuration.
    copy = tmp_path / "copy.txt"
    copy.write_bytes(first.read_bytes())
    assert analyzer_config(copy) == one


def test_user_dictionary_words_are_single_tokens(tmp_path):
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("韶冶霞山片区 1000 n\n", encoding="utf-8")
    profile = register_segmenter(userdict)
    text = "韶冶霞山片区改造"
    assert "韶冶霞山片区" not in texts(WordTokenizer(), text, mode="query")
    assert "韶冶霞山片区" in texts(WordTokenizer(profile), text, mode="query")
    assert "韶冶霞山片区" in texts(WordTokenizer(profile), text, mode="index")


# --- the query lexicon -------------------------------------------------------------


def test_query_lexicon_segments_exactly_like_jieba(tmp_path, seed_texts):
    from searchkit.analysis import QueryLexicon, Segmenter, write_query_lexicon

    full = segmenter_for(register_segmenter(None))
    write_query_lexicon(full, tmp_path / "lexicon.bin")
    light = Segmenter()  # jieba's dictionary never loaded: every query goes through the lexicon
    light.lexicon = QueryLexicon(tmp_path / "lexicon.bin")
    rng = __import__("random").Random(5)
    queries = ["数据中心集群", "韶关 改革 攻坚", "中华人民共和国", "陈少荣书记", "5G+工业互联网", "足球比赛"]
    for text in seed_texts.values():
        for _ in range(150):
            start = rng.randrange(len(text))
            queries.append(text[start : start + rng.randint(1, 40)])
    for query in queries:
        assert light.words(query) == full.words(query), query
    assert light._jieba is None


def test_an_unregistered_profile_is_an_error_not_the_default_segmenter():
    assert segmenter_for("default") is segmenter_for("default")
    with pytest.raises(LookupError, match="user-0123456789abcdef"):
        segmenter_for("user-0123456789abcdef")


def test_query_lexicon_of_a_user_dictionary_segments_like_jieba(tmp_path):
    from searchkit.analysis import QueryLexicon, Segmenter, write_query_lexicon

    userdict = tmp_path / "userdict.txt"
    # a new word, a word made rare, one with Latin letters, one given no frequency
    userdict.write_text("韶冶霞山片区 1000 n\n中华 0\n5G网络 50\n霞山景区\n", encoding="utf-8")
    full = segmenter_for(register_segmenter(userdict))
    write_query_lexicon(full, tmp_path / "lexicon.bin")
    light = Segmenter(userdict)
    light.lexicon = QueryLexicon(tmp_path / "lexicon.bin")
    queries = ["韶冶霞山片区的霞山景区", "中华人民共和国", "中华文化", "5G网络建设", "韶冶霞山片区中华"]
    for query in queries:
        assert light.words(query) == full.words(query), query
    assert "韶冶霞山片区" in [word for word, *_ in light.words(queries[0])]
    assert light._jieba is None


def test_a_damaged_query_lexicon_is_refused_not_misread(tmp_path):
    from searchkit.analysis import QueryLexicon, write_query_lexicon

    path = tmp_path / "lexicon.bin"
    write_query_lexicon(segmenter_for(register_segmenter(None)), path)
    data = bytearray(path.read_bytes())
    path.write_bytes(b"\0" * 16 + data[16:])
    with pytest.raises(ValueError, match="not a query lexicon"):
        QueryLexicon(path)
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64  # inside a group
    path.write_bytes(data)
    lexicon = QueryLexicon(path)
    with pytest.raises((zlib.error, ValueError)):  # what integrity.guard reports as damage
        for code in range(0x4E00, 0x9FA6):
            lexicon.lookup(chr(code))
