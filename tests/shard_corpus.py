"""A generated corpus and query set for comparing a sharded index with one index.

Deterministic (seeded): documents of common words, some very frequent (so a
query of one of them is ranked by bounds, see ranking.best_bounded), dated
over three years or undated, from a handful of sources, with duplicate
titles and dates so that ties are broken by date and id. On request
(``copies``), some documents are reprinted under other ids (so in other
shards), as another paper would: another title, source and date, and small
edits, for folding copies (see duplicates.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ("发展 经济 城市 数据 中心 政府 学校 学生 老师 医院 医生 公司 市场 技术 网络 安全 系统 "
         "管理 服务 文化 历史 山水 河流 天气 春天 秋天 新闻 报告 会议 北京 上海 广州 韶关 民政 "
         "农业 工业 交通 铁路 机场 电影 音乐 体育 足球 研究 科学 环境 能源 水利 教育 旅游").split()
RARE = "飞机 火车 轮船 汽车 地铁 公交 码头 桥梁".split()  # two of them in a few documents
SOURCES = ["新华社", "人民日报", "南方日报", "韶关日报", "澎湃新闻"]
TITLES = ["城市发展报告", "数据中心建设", "春天的河流", "韶关新闻", "教育会议", "铁路交通"]


def _word(rng: random.Random) -> str:
    # Zipf-like: the first words are in most documents.
    return WORDS[min(int(rng.paretovariate(0.9)) - 1, len(WORDS) - 1)] if rng.random() < 0.7 \
        else rng.choice(WORDS)


def _text(rng: random.Random, words: int) -> str:
    sentences, sentence = [], []
    for _ in range(words):
        sentence.append(_word(rng))
        if rng.random() < 0.15:
            sentences.append("".join(sentence) + rng.choice("，。"))
            sentence = []
    sentences.append("".join(sentence) + "。")
    return "".join(sentences)


def record(rng: random.Random, number: int) -> dict:
    """One JSON Lines record."""
    long = rng.random() < 0.03  # indexed as passages when PASSAGE_CHARS is made small
    day = rng.randrange(1, 120)
    return {
        "id": f"doc-{number:05d}",
        "title": rng.choice(TITLES) if rng.random() < 0.5 else _text(rng, 3).rstrip("。"),
        "text": _text(rng, rng.randrange(200, 400) if long else rng.randrange(5, 40))
        + ("".join(rng.sample(RARE, 2)) + "。" if rng.random() < 0.2 else ""),
        "date": None if rng.random() < 0.15 else f"{rng.choice([2021, 2022, 2023])}-"
                                                   f"{1 + day % 12:02d}-{1 + day % 28:02d}",
        "source": rng.choice(SOURCES),
    }


def reprint(rng: random.Random, original: dict, number: int) -> dict:
    """original as another paper prints it: id, title, source and date changed, and one or two
    small edits (a word changed, the last sentence cut, a line added before or a paragraph after)."""
    text = original["text"]
    for edit in rng.sample(["word", "cut", "lead", "more"], rng.randrange(1, 3)):
        if edit == "word":
            word = rng.choice([w for w in WORDS if w in text] or [text[:2]])
            text = text.replace(word, rng.choice(WORDS), 1)
        elif edit == "cut" and text.count("。") + text.count("，") > 2:
            text = text[:max(text.rfind("，", 0, len(text) - 1), text.rfind("。", 0, len(text) - 1)) + 1]
        elif edit == "lead":
            text = f"{rng.choice(SOURCES)}讯\n{text}"
        elif edit == "more":
            text = f"{text}\n{_text(rng, rng.randrange(5, 30))}"
    day = rng.randrange(1, 120)
    return {
        "id": f"{original['id']}-{number}",
        "title": rng.choice(TITLES),
        "text": text,
        "date": None if rng.random() < 0.1 else f"{rng.choice([2021, 2022, 2023])}-"
                                                  f"{1 + day % 12:02d}-{1 + day % 28:02d}",
        "source": rng.choice(SOURCES),
    }


def write_corpus(directory: Path, documents: int = 1200, files: int = 3, seed: int = 17,
                 copies: float = 0.0) -> Path:
    """The corpus as files JSON Lines files under directory.

    copies: the share of documents reprinted once or twice (``reprint``); the
    documents of the corpus without copies are the same.
    """
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    records = [record(rng, number) for number in range(documents)]
    copier = random.Random(f"copies-{seed}")  # its own draws: the originals stay as they are
    records += [reprint(copier, original, number) for original in records if copier.random() < copies
                for number in range(1, copier.randrange(2, 4))]
    for part in range(files):
        lines = [json.dumps(r, ensure_ascii=False) for r in records[part::files]]
        (directory / f"part-{part}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def queries(count: int, seed: int = 5) -> list[tuple[str, dict]]:
    """(query, search options) pairs: words, OR, NOT, phrases, fields, filters, date sort, pages."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        shape = rng.random()
        words = [rng.choice(WORDS) for _ in range(rng.randrange(1, 5))]
        if shape < 0.1:  # one of the most frequent words: ranked by bounds
            text = rng.choice(WORDS[:3])
        elif shape < 0.35:
            text = " ".join(words)
        elif shape < 0.5:
            text = " OR ".join(words[:2]) + (f" -{words[2]}" if len(words) > 2 else "")
        elif shape < 0.6:
            text = f'"{"".join(words[:2])}"'
        elif shape < 0.7:
            text = f"title:{rng.choice(TITLES)[:2]} {words[0]}"
        elif shape < 0.8:
            text = f"{words[0]} source:{rng.choice(SOURCES)}"
        elif shape < 0.9:
            text = f"{words[0]} date:{rng.choice(['2021', '2022-03', '2022-01..2023-06'])}"
        else:  # no document has them all: partial matching
            text = " ".join(rng.sample(RARE, 4))
        options: dict = {"limit": rng.choice([5, 10, 20])}
        if rng.random() < 0.3:
            options["sort"] = "date"
        if rng.random() < 0.3:
            options["offset"] = rng.choice([5, 10, 40])
        if rng.random() < 0.15:
            options["sources"] = [rng.choice(SOURCES)]
        if rng.random() < 0.15:
            options["since"], options["until"] = "2022", "2023-02"
        found.append((text, options))
    return found
