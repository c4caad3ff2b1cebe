"""The search-quality harness (benchmarks/quality/): its metrics against values computed by
hand, and its query sets' judgments on small manpage, handbook and poem trees."""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks" / "quality"))

import metrics  # noqa: E402
import sets as query_sets  # noqa: E402


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def test_measures_match_values_computed_by_hand():
    qrels = {
        "first": {"d1": 1},  # found at rank 1
        "third": {"d2": 1},  # rank 3
        "twelfth": {"d3": 1},  # rank 12: past the first 10, within 100
        "nothing": {"d4": 1},  # the system returns nothing: it still counts, as 0
        "two": {"a": 1, "b": 1},  # two relevant documents, at ranks 2 and 5
    }
    rankings = {
        "first": ["d1", "x1", "x2"],
        "third": ["x1", "x2", "d2"],
        "twelfth": [f"x{i}" for i in range(11)] + ["d3"],
        "nothing": [],
        "two": ["x1", "a", "x2", "x3", "b"],
    }
    # nDCG@10 with one relevant document at rank r is 1 / log2(r + 1).
    two_dcg = 1 / math.log2(3) + 1 / math.log2(6)
    two_ideal = 1 + 1 / math.log2(3)
    expected_ndcg = {"first": 1.0, "third": 0.5, "twelfth": 0.0, "nothing": 0.0, "two": two_dcg / two_ideal}
    expected_rr = {"first": 1.0, "third": 1 / 3, "twelfth": 0.0, "nothing": 0.0, "two": 0.5}
    expected_recall = {"first": 1.0, "third": 1.0, "twelfth": 1.0, "nothing": 0.0, "two": 1.0}

    result = metrics.evaluate(qrels, rankings)

    for qid in qrels:
        assert result.per_query[qid]["nDCG@10"] == pytest.approx(expected_ndcg[qid], abs=1e-4)
        assert result.per_query[qid]["MRR@10"] == pytest.approx(expected_rr[qid], abs=1e-4)
        assert result.per_query[qid]["R@100"] == pytest.approx(expected_recall[qid], abs=1e-4)
    assert result.means["nDCG@10"] == pytest.approx((1 + 0.5 + two_dcg / two_ideal) / 5, abs=1e-4)
    assert result.means["MRR@10"] == pytest.approx((1 + 1 / 3 + 0.5) / 5, abs=1e-4)
    assert result.means["R@100"] == pytest.approx(4 / 5, abs=1e-4)


def test_a_relevant_document_past_the_hundredth_is_not_recalled():
    ranking = [f"x{i}" for i in range(100)] + ["target"]
    result = metrics.evaluate({"q": {"target": 1}}, {"q": ranking})
    assert result.means == {"nDCG@10": 0.0, "MRR@10": 0.0, "R@100": 0.0}
    assert metrics.first_relevant_rank(ranking, ["target"]) == 101
    assert metrics.first_relevant_rank(["a"], ["target"]) is None


def test_the_order_evaluated_is_the_systems_order_not_the_ids():
    # Ties in score would let trec_eval reorder by document id; ranks never tie.
    result = metrics.evaluate({"q": {"a": 1}}, {"q": ["z", "y", "a"]})
    assert result.per_query["q"]["MRR@10"] == pytest.approx(1 / 3, abs=1e-4)


# --------------------------------------------------------------------------
# Man pages: the NAME line's description
# --------------------------------------------------------------------------


def write_man(path: Path, roff: str, compress: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = roff.encode("utf-8")
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def test_manpage_queries_are_the_name_descriptions_of_their_pages(tmp_path):
    root = tmp_path / "zh_CN"
    write_man(root / "man1/ls.1", ".TH LS 1\n.SH 名称\nls \\- 列出目录内容\n.SH 概述\n\\fBls\\fP [选项]\n")
    write_man(root / "man1/who.1", '.SH "NAME"\n\\fBwho\\fR \\- 显示\\fI已登录\\fP用户\n.SH 描述\n显示谁在线。\n',
              compress=False)
    # Tcl pages put a section before NAME; mdoc pages give the description as .Nd.
    write_man(root / "man3/after.3tcl", '.SH "STANDARD OPTIONS"\n.LP\n.SH NAME\nafter \\- 延迟一段时间之后执行一个命令\n')
    write_man(root / "man1/biff.1", ".Dd 1990\n.Sh NAME\n.Nm biff\n.Nd 新邮件到达时通知\n.Sh SYNOPSIS\n")
    # Two pages with one description: ambiguous, both dropped.
    write_man(root / "man1/cp.1", ".SH NAME\ncp \\- 复制文件\n.SH 描述\n复制。\n")
    write_man(root / "man1/copy.1", ".SH NAME\ncopy \\- 复制文件\n.SH 描述\n复制。\n")
    # No Chinese character, and no NAME line: dropped.
    write_man(root / "man1/foo.1", ".SH NAME\nfoo \\- Foo tool\n.SH 描述\n工具。\n")
    write_man(root / "man1/bar.1", ".SH 描述\n没有名称行的页面。\n")

    built = query_sets.manpage_set("man-s", "keywords", "man-zh_CN", root)

    judged = {q.text: q.relevant for q in built.queries}
    assert judged == {
        "列出目录内容": ("man1/ls.1.gz",),
        "显示已登录用户": ("man1/who.1",),
        "延迟一段时间之后执行一个命令": ("man3/after.3tcl.gz",),
        "新邮件到达时通知": ("man1/biff.1.gz",),
    }
    assert built.dropped == {"ambiguous": 2, "no Chinese character": 1, "no NAME description": 1}
    assert len({q.qid for q in built.queries}) == len(built.queries)


# --------------------------------------------------------------------------
# debian-handbook: headings across scripts
# --------------------------------------------------------------------------


def write_page(path: Path, title: str, headings: list[tuple[int, str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'<div class="titlepage"><h{level} class="title"><a id="{anchor}"></a>{text}</h{level}></div>'
                   f'<div class="para">{text}的正文。</div>'
                   for level, anchor, text in headings)
    path.write_text(f'<html><head><meta charset="utf-8"/><title>{title}</title></head><body>{body}</body></html>',
                    encoding="utf-8")


@pytest.fixture
def handbook(tmp_path) -> tuple[Path, Path]:
    cn, tw = tmp_path / "zh-CN", tmp_path / "zh-TW"
    write_page(cn / "network.html", "第 1 章 网络配置",
               [(1, "network", "第 1 章 网络配置"), (2, "n-intro", "1.1. 简介"), (2, "fw", "1.2. Firewall")])
    write_page(tw / "network.html", "章 1. 網路組態",
               [(1, "network", "章 1. 網路組態"), (2, "n-intro", "1.1. 簡介"), (2, "fw", "1.2. Firewall")])
    write_page(cn / "packages.html", "第 2 章 软件包",
               [(1, "packages", "第 2 章 软件包"), (2, "p-intro", "2.1. 简介"), (2, "only-cn", "2.2. 仅简体")])
    write_page(tw / "packages.html", "章 2. 軟體套件",
               [(1, "packages", "章 2. 軟體套件"), (2, "p-intro", "2.1. 簡介")])
    write_page(cn / "upkeep.html", "3.1. 系统维护", [(2, "upkeep", "3.1. 系统维护"), (3, "mail", "3.1.1. 邮件服务器")])
    write_page(tw / "upkeep.html", "3.1. 系統維護", [(2, "upkeep", "3.1. 系統維護"), (3, "mail", "3.1.1. Mail Server")])
    return cn, tw


def test_handbook_headings_query_the_page_of_the_same_name_in_the_other_script(handbook):
    cn, tw = handbook
    pairs = query_sets.heading_pairs(cn, tw)

    s2t = query_sets.heading_set("hb-s2t", "s2t", "handbook-zh-TW", pairs, "simplified")
    t2s = query_sets.heading_set("hb-t2s", "t2s", "handbook-zh-CN", pairs, "traditional")

    # 简介 heads a section of two pages (ambiguous); Firewall has no Chinese; 仅简体 has no pair;
    # 邮件服务器's section is untranslated in zh-TW.
    assert {q.text: q.relevant for q in s2t.queries} == {
        "网络配置": ("network.html",), "软件包": ("packages.html",), "系统维护": ("upkeep.html",)}
    assert {q.text: q.relevant for q in t2s.queries} == {
        "網路組態": ("network.html",), "軟體套件": ("packages.html",), "系統維護": ("upkeep.html",)}
    assert s2t.dropped == {"ambiguous": 2, "no Chinese character": 1, "untranslated in the other script": 1}
    assert t2s.dropped == {"ambiguous": 2, "no Chinese character": 2}


def test_the_wording_subsets_keep_headings_that_differ_beyond_script(handbook):
    cn, tw = handbook
    pairs = query_sets.heading_pairs(cn, tw)
    s2t = query_sets.heading_set("hb-s2t", "s2t", "handbook-zh-TW", pairs, "simplified")

    wording = query_sets.wording_subset("hb-s2t-wording", "wording", s2t, pairs, "simplified")

    # 網路組態 is 网路组态 in Simplified script, not 网络配置; 系統維護 is 系统维护 exactly.
    assert [q.text for q in wording.queries] == ["网络配置", "软件包"]
    assert {q.qid for q in wording.queries} <= {q.qid for q in s2t.queries}


def test_numbers_are_taken_off_headings():
    assert query_sets.strip_number("6.2.1. 初始化") == "初始化"
    assert query_sets.strip_number("第 6 章 维护和更新：APT 工具") == "维护和更新：APT 工具"
    assert query_sets.strip_number("章 6. 維護與更新：APT 工具") == "維護與更新：APT 工具"
    assert query_sets.strip_number("A.1. 安装") == "安装"
    assert query_sets.strip_number("APT 工具") == "APT 工具"


# --------------------------------------------------------------------------
# Poems
# --------------------------------------------------------------------------


def test_poem_queries_name_one_poem_each(tmp_path):
    poems = [
        {"id": "p/0", "title": "靜夜思", "author": "李白", "text": "床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。"},
        {"id": "p/1", "title": "靜夜思", "author": "李白", "text": "床前看月光，疑是地上霜。\n舉頭望山月，低頭思故鄉。"},
        {"id": "p/2", "title": "春曉", "author": "孟浩然", "text": "春眠不覺曉，處處聞啼鳥。\n夜來風雨聲，花落知多少。"},
        {"id": "p/3", "title": "登鸛雀樓", "author": "王之渙", "text": "白日依山盡，黃河入海流。\n欲窮千里目，更上一層樓。"},
        {"id": "p/4", "title": "相思", "author": "王維", "text": "紅豆生南國，春來發幾枝。\n願君多採擷，此物最相思。"},
    ]
    jsonl = tmp_path / "poems.jsonl"
    jsonl.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in poems), encoding="utf-8")

    line_set, title_set = query_sets.poem_sets(jsonl, count=5, seed=3)

    by_id = {p["id"]: p for p in poems}
    index = query_sets.PoemIndex(poems)
    assert line_set.queries and title_set.queries
    for query in line_set.queries:
        (target,) = query.relevant
        assert query.text.replace("，", "").replace("。", "") in by_id[target]["text"].replace("，", "").replace("。", "")
        assert index.poems_holding(query.text) == 1  # 疑是地上霜 is in two poems: never a query
    for query in title_set.queries:
        (target,) = query.relevant
        assert query.text == f"{by_id[target]['title']} {by_id[target]['author']}"
        assert target not in ("p/0", "p/1")  # 靜夜思 李白 names two poems
    assert index.poems_holding("疑是地上霜。") == 2
    assert index.poems_holding("疑是地上霜") == 2
    assert index.poems_holding("春眠不覺曉") == 1


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------


@pytest.mark.parametrize("arguments, message", [
    (["--systems", "lucene"], "unknown system lucene: choose from searchkit, whoosh-or, whoosh-and, bm25s, fts5"),
    (["--sets", "man-x"], "unknown set man-x"),
    (["--limit", "0"], "--limit must be at least 1"),
    (["--systems", "searchkit", "--dump", "fts5"], "--dump fts5: not among --systems"),
])
def test_bad_options_get_one_line_and_exit_status_2(arguments, message):
    import subprocess

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "quality" / "run.py"
    done = subprocess.run([sys.executable, str(script), *arguments], capture_output=True, text=True)
    assert done.returncode == 2
    assert message in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr
