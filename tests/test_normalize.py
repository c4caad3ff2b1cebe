"""Tests of searchkit.normalize: cleanup, width folding, script conversion."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opencc import OpenCC

from searchkit.analysis import CJK_RANGES

from searchkit.normalize import (
    NORMALIZER_VERSION,
    clean_text,
    fold_width,
    is_site_chrome,
    normalize_query,
    normalize_text,
    remove_pinyin_annotations,
    to_simplified,
)

SEEDS = Path(__file__).parent.parent / "seeds"
SEED_003 = next(SEEDS.glob("003_*.txt"))

PINYIN = "[a-züāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ]{1,6}"
PROPER_ANNOTATION = re.compile(rf"\({PINYIN}\)")
BROKEN_ANNOTATION = re.compile(rf"\?{PINYIN}\)")


@pytest.fixture(scope="module")
def reference() -> OpenCC:
    return OpenCC("t2s")


def test_version_is_a_nonempty_string():
    assert isinstance(NORMALIZER_VERSION, str) and NORMALIZER_VERSION


# --- pinyin annotations -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("南嶺國(guó)家公園", "南嶺國家公園"),
        ("韶關(guān)生態(tài)區位", "韶關生態區位"),
        ("發(fā)展(zhǎn)", "發展"),
        ("受南方日?qǐng)?bào)專訪", "受南方日專訪"),
        ("開展?fàn)I商環境", "開展商環境"),
        ("任務?!斑M(jìn)入新時代", "任務?!斑入新時代"),
        ("全角（guó）括號", "全角括號"),
    ],
)
def test_pinyin_annotations_are_removed(text, expected):
    assert remove_pinyin_annotations(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "各鄉鎮(街道)經濟",
        "規劃(2020-2035年)實施",
        "增長(GDP)明顯",
        "維生素C(Vc)含量",
        "型號C(de)說明",
        "見附件(a b)說明",
        "English (word) here",
        "他說:(hello world)",
        "太長(zhuangzhuang)不算",
    ],
)
def test_real_parentheses_are_kept(text):
    assert remove_pinyin_annotations(text) == text


def test_seed_003_keeps_no_annotation():
    raw = SEED_003.read_text(encoding="utf-8")
    assert len(PROPER_ANNOTATION.findall(raw)) == 720
    cleaned = clean_text(raw)
    assert not PROPER_ANNOTATION.search(cleaned)
    assert not BROKEN_ANNOTATION.search(cleaned)
    assert "南嶺國家公園" in cleaned
    assert "(街道)" in cleaned


# --- site chrome and whitespace ---------------------------------------------


PAGE = """澎湃Logo
下载客户端

登录

  • +1

韶关:打开改革新局面

全文3500字,阅读需要8分钟
字号
登录后可以收藏文章，下载客户端也可以。
阅读原文
    本文为澎湃号作者或机构在澎湃新闻上传并发布,仅代表该作者或机构观点,不代表澎湃新闻的观点或立场。
    +1
    收藏
    我要举报
            扫码下载澎湃新闻客户端
            沪ICP备14003370号
            沪公网安备31010602000299号
            互联网新闻信息服务许可证:31120170006
            增值电信业务经营许可证:沪B2-2017116
            © 2014-2024 上海东方报业有限公司
            反馈
<http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW1>

[返回羊城晚报新闻](//finews.withounder.com/category/yangchengwanbao.html)｜[返回首页](//finews.withounder.com/)
© 2014年，韶关市的备案数量增长了一倍，这一句是正文。
"""


def test_site_chrome_lines_are_dropped_and_content_kept():
    assert clean_text(PAGE).splitlines() == [
        "韶关:打开改革新局面",
        "",
        "登录后可以收藏文章，下载客户端也可以。",
        "",
        "© 2014年，韶关市的备案数量增长了一倍，这一句是正文。",
    ]


@pytest.mark.parametrize("line", ["返回首页", "返回羊城晚报新闻", "  +1  ", "京ICP证030173号", "扫码下载澎湃新闻客户端"])
def test_is_site_chrome(line):
    assert is_site_chrome(line)


@pytest.mark.parametrize("line", ["登录人数创新高", "韶关", "2021-04-12 23:00", "来源:澎湃新闻·澎湃号·政务"])
def test_content_lines_are_not_site_chrome(line):
    assert not is_site_chrome(line)


def test_whitespace_is_collapsed_and_blank_lines_are_one_paragraph_break():
    text = "  第一段\u3000\u3000有\xa0空格\t和  制表符  \r\n\r\n\n\n 第二段 \n\u3000\n第三段"
    assert clean_text(text) == "第一段 有 空格 和 制表符\n\n第二段\n\n第三段"


# --- width and script -------------------------------------------------------


def test_fold_width_maps_letters_and_digits_only():
    text = "ＧＤＰ增长１２．７％，ａｚ（ＡＺ）：“０９”！"
    folded = fold_width(text)
    assert folded == "GDP增长12．7％，az（AZ）：“09”！"
    assert len(folded) == len(text)


def test_to_simplified_converts_traditional():
    assert to_simplified("韶關經濟總量邁上新臺階") == "韶关经济总量迈上新台阶"


def test_to_simplified_keeps_simplified_text():
    text = "韶关经济总量迈上新台阶，干部群众干劲十足。"
    assert to_simplified(text) == text


def test_to_simplified_matches_opencc_on_seeds(reference):
    for seed in sorted(SEEDS.glob("*.txt")):
        raw = seed.read_text(encoding="utf-8")
        for text in (raw, clean_text(raw)):
            assert to_simplified(text) == reference.convert(text), seed.name


def _alphabet(reference: OpenCC) -> list[str]:
    """Traditional characters and phrases, Simplified text, pinyin, punctuation, ASCII."""
    chain = reference._dict_chain_data  # test-only: sample the dictionaries' own keys
    dictionaries = [entry[2] for group in chain for entry in (group if isinstance(group, list) else [group])]
    keys = sorted(key for mapping in dictionaries for key in mapping)
    rng = random.Random(7)
    sample = rng.sample(keys, 400)
    return [
        *sample,
        *"韶关经济发展干部于后里面的是了在和有",
        *"guānzhǎnxíqǐngbào",
        *"，。、；：？！“”（）《》—…-,.?!  \n\t\u3000",
        *"abcXYZ0123456789ＡＢＣ１２３",
        "𨭖", "𠮷", "(guó)", "?qǐng)",
    ]


def test_to_simplified_matches_opencc_on_generated_text(reference):
    alphabet = _alphabet(reference)
    rng = random.Random(20240501)
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert to_simplified(text) == reference.convert(text), repr(text)


def test_to_simplified_matches_opencc_where_phrases_overlap(reference):
    # Phrase matches decide how the rest of a piece is cut: pieces built from
    # whole phrases, their prefixes and suffixes, Traditional characters and
    # separators exercise the longest-match-first order and its length hints.
    phrases_entry, characters_entry = reference._dict_chain_data[0]  # test-only
    phrases, characters = sorted(phrases_entry[2]), sorted(characters_entry[2])
    rng = random.Random(11)
    for _ in range(2000):
        pieces = []
        for _ in range(rng.randint(1, 10)):
            phrase = rng.choice(phrases)
            pieces.append(rng.choice([phrase, phrase[: rng.randint(1, len(phrase))],
                                      phrase[rng.randint(0, len(phrase) - 1):],
                                      rng.choice(characters), rng.choice("，。 -!?、\u3000\n")]))
        text = "".join(pieces)
        assert to_simplified(text) == reference.convert(text), repr(text)


def test_normalize_text_is_char_for_char():
    original = "韶關ＧＤＰ增長１２．７％，發展(2020年)。"
    normalized = normalize_text(original)
    assert normalized == "韶关GDP增长12．7％，发展(2020年)。"
    assert len(normalized) == len(original)


def test_seed_003_normalizes_to_simplified():
    original = clean_text(SEED_003.read_text(encoding="utf-8"))
    normalized = normalize_text(original)
    assert len(normalized) == len(original)
    assert to_simplified(normalized) == normalized
    assert "韶關" in original and "韶关" in normalized and "韶關" not in normalized


def test_normalize_query_collapses_whitespace():
    assert normalize_query("  韶關\u3000ＧＤＰ \t 增長 ") == "韶关 GDP 增长"


# --- the position invariant, on any text (property tests) -------------------------

# Modest and reproducible in CI; SEARCHKIT_FUZZ_EXAMPLES=20000 for a long session.
FUZZ = settings(
    max_examples=int(os.environ.get("SEARCHKIT_FUZZ_EXAMPLES") or 300),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
_HAN = re.compile(f"[{CJK_RANGES}]")


def _converter_keys() -> list[str]:
    """Traditional phrases and characters OpenCC's t2s converts (test-only access)."""
    phrases_entry, characters_entry = OpenCC("t2s")._dict_chain_data[0]
    return sorted({*phrases_entry[2], *characters_entry[2]})


# Text that exercises every path: t2s phrases (whole and cut), characters,
# full-width forms, pinyin annotations, separators, controls, invisible
# characters, combining marks, lone surrogates, characters beyond the BMP.
texts = st.lists(
    st.one_of(
        st.sampled_from(_converter_keys()),
        st.sampled_from(["(guó)", "?qǐng)", "（guān）", "Ｇ", "ｚ", "９", "．", "\u3000", "\n", "\r\n",
                         "\t", " ", "-", "，", "…", "\u200b", "\ufeff", "\x00", "\x1b", "\u0301", "𠮷"]),
        st.text(max_size=4),
        st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=1),
    ),
    max_size=40,
).map("".join)


def assert_char_for_char(original: str) -> None:
    """The invariant of normalize_text: same length, each character mapped in place.

    A character OpenCC does not convert (anything but a Han character) stays
    where it was, full-width letters and digits folded to half-width; a Han
    character becomes one Han character at the same position.
    """
    normalized = normalize_text(original)
    assert len(normalized) == len(original)
    for before, after in zip(original, normalized):
        if _HAN.fullmatch(before):
            assert _HAN.fullmatch(after), (before, after)
        else:
            assert after == fold_width(before), (before, after)


@FUZZ
@given(texts)
def test_normalize_text_keeps_every_position(text):
    assert_char_for_char(text)


@FUZZ
@given(texts)
def test_normalize_text_keeps_every_position_of_cleaned_text(text):
    assert_char_for_char(clean_text(text))



# --- escape sequences and control characters (issue 12) ----------------------


FORTUNE = ("\x1b[1;36m知足常乐\x1b[0m\n"
           "\x1b[33m    -- Debian \x1b[32m《行为准则》\x1b[m第一条\x1b[m\n"
           "\x1b]0;窗口标题\x07正文\x1b(B结束。\n")


def test_ansi_colour_codes_and_osc_titles_are_removed():
    assert clean_text(FORTUNE) == "知足常乐\n-- Debian 《行为准则》第一条\n正文结束。"


def test_colour_codes_in_caret_notation_are_removed():
    # fortunes-zh holds a few, pasted from ``cat -v`` output.
    assert clean_text("离天三尺三。 ^[[32m其二\n^[[1;32mapt update^[[;m 命令") == "离天三尺三。 其二\napt update 命令"


def test_backspace_overstrikes_keep_the_letter():
    # nroff: bold is "X\bX", underline "_\bX".
    assert clean_text("N\bNA\bAM\bME\bE _\bl_\bs 命令") == "NAME ls 命令"


def test_other_control_characters_go_and_whitespace_stays():
    assert clean_text("甲\x00乙\x07丙\x7f丁\x85戊\t己\r\n庚") == "甲乙丙丁戊 己\n庚"


def test_an_unterminated_osc_stops_at_the_line_end():
    assert clean_text("\x1b]0;标题\n正文。") == "正文。"


@FUZZ
@given(st.lists(st.sampled_from(["\x1b[", "32m", "\x1b]", "\x07", "\x1b\\", "\x08", "甲", "a",
                                 "\n", "\x9b", "1;"]), max_size=30).map("".join))
def test_no_escape_or_control_character_survives_cleanup(text):
    cleaned = clean_text(text)
    assert not re.search("[\x00-\x08\x0e-\x1f\x7f-\x9f]", cleaned)
    assert_char_for_char(cleaned)
