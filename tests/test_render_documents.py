"""Documents for reading: lines and paragraphs kept, wrapped to the terminal between words."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import render
from searchkit.models import Document
from searchkit.render import PLAIN_MARKS, display_width, document_body, document_text, wrap_spans

LATIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]*")
TEXT = ("在 /etc/network/interfaces 檔案裡，每個 network interface 都有一段設定：auto 表示開機時啟用，"
        "iface 之後是介面名稱、位址族與 dhcp 或 static 方法。\n"
        "\n"
        "auto enp0s31f6\n"
        "iface enp0s31f6 inet static\n"
        "  address 192.168.0.3/24\n"
        "\n"
        "設定完成後執行 systemctl restart networking 讓新的組態生效。")

FUZZ = settings(max_examples=200, deadline=None, derandomize=True)


def lines_of(text: str, width: int | None) -> list[str]:
    return [text[start:end] for start, end in wrap_spans(text, width)]


def test_lines_stay_lines_and_paragraphs_stay_apart():
    assert lines_of(TEXT, None) == TEXT.split("\n")
    wrapped = lines_of(TEXT, 40)
    assert wrapped[wrapped.index("auto enp0s31f6") - 1] == ""  # the paragraph break
    assert "  address 192.168.0.3/24" in wrapped  # indentation kept


def test_wrapping_breaks_between_latin_words_never_inside_one():
    for width in (30, 40, 50, 80, 120):  # the longest word, a path, takes 23 columns
        wrapped = lines_of(TEXT, width)
        assert all(display_width(line) <= width for line in wrapped), width
        words = {word for line in wrapped for word in LATIN_WORD.findall(line)}
        assert words == set(LATIN_WORD.findall(TEXT)), width


def test_closing_punctuation_never_starts_a_line():
    text = "甲" * 39 + "，乙丙。" + "丁" * 39 + "」戊"
    for line in lines_of(text, 80):
        assert line[0] not in "，。」", line


def test_a_word_wider_than_the_terminal_is_cut_to_fit():
    url = "https://example.org/" + "a" * 100
    wrapped = lines_of(f"见 {url} 。", 40)
    assert all(display_width(line) <= 40 for line in wrapped)
    assert "".join(wrapped).replace(" ", "") == f"见{url}。"


def test_a_match_cut_by_a_wrap_is_marked_on_both_lines():
    text = "数" * 38 + "数据中心"  # 80 columns take 40 characters: the match is cut in two
    start = text.index("数据中心")
    body = document_body(text, [(start, start + 4)], color=False, width=80)
    assert body.split("\n") == ["数" * 38 + "【数据】", "【中心】"]


def test_document_text_wraps_the_title_and_body_and_shows_the_original_script():
    document = Document(id="a.html", text="组态网路\n\n正文。", original="組態網路\n\n正文。",
                        title="组态网路", original_title="組態網路")
    shown = document_text(document, color=False, original=True, width=80)
    assert shown.split("\n") == ["組態網路", "id: a.html", "date: unknown", "", "組態網路", "",
                                 "正文。"]
    assert document_text(document, color=False).split("\n")[0] == "组态网路"


@FUZZ
@given(st.lists(st.sampled_from(["network", "eth0", " ", "  ", "\n", "\n\n", "网", "络", "，", "。",
                                 "「", "」", "/etc/network/interfaces", "a" * 30, "设定"]),
                max_size=60).map("".join),
       st.integers(min_value=4, max_value=120))
def test_wrapped_lines_fit_and_lose_nothing_but_spaces_at_breaks(text, width):
    wrapped = lines_of(text, width)
    for line in wrapped:
        # one character may stand alone where even it does not fit (a wide one at 1 column)
        assert display_width(line) <= width or len(line) == 1
    assert "".join(wrapped).replace(" ", "") == text.replace(" ", "").replace("\n", "")
    assert len([line for line in lines_of(text, None)]) == text.count("\n") + 1
    spans = wrap_spans(text, width)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    marked = document_body(text, [(0, len(text))], color=False, width=width)
    assert marked.replace(PLAIN_MARKS[0], "").replace(PLAIN_MARKS[1], "") == \
        document_body(text, color=False, width=width)


@pytest.mark.parametrize("keep", [[], [(7, 9)]])
def test_closing_punctuation_never_starts_a_snippet_line(keep):
    # 18 columns hold eight characters and the ninth would end the line; 、 must not
    # start the next one, so it goes down with the character before it (or the
    # highlight that ends there, whole).
    text = "一二三四五六七八九、十一二三四"
    lines = [text[a:b] for a, b in render.wrap_ranges(text, 18, keep)]
    assert "".join(lines) == text
    assert not any(line.startswith("、") for line in lines)
    assert all(render.display_width(line) <= 18 for line in lines)
    assert lines[1].startswith("八九" if keep else "九")
