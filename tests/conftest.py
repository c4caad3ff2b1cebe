"""Shared fixtures: the seeds, an index of them, small indexes of pages, and isolation from the user's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """Point XDG directories, the default index and jieba's cache away from the user's.

    Subprocesses started by tests inherit this environment too.
    """
    home = tmp_path_factory.getbasetemp() / "home"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            patch.setenv(name, str(home / name.lower()))
        patch.setenv("SEARCHKIT_CACHE_DIR", str(home / "cache"))
        patch.setenv("SEARCHKIT_INDEX", str(home / "default-index"))
        yield home


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The shared seed corpus."""
    return SEEDS


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    """An index of the seeds, built once per test session (do not modify it)."""
    from searchkit import SearchIndex

    path = tmp_path_factory.mktemp("seed-index")
    SearchIndex.build(path, [SEEDS])
    return path


@pytest.fixture(scope="session")
def seed_index(seed_index_dir):
    """The seed index, opened once per test session."""
    from searchkit import SearchIndex

    with SearchIndex.open(seed_index_dir) as index:
        yield index


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the seeds, for tests that change the corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def index_of_pages(tmp_path_factory):
    """Builds an index of Markdown pages {file name: (title, text)}; gives its directory."""
    def build(pages: dict[str, tuple[str, str]]) -> Path:
        from searchkit import SearchIndex

        root = tmp_path_factory.mktemp("pages")
        for name, (title, text) in pages.items():
            (root / name).write_text(f"---\ntitle: {title}\n---\n{text}\n", encoding="utf-8")
        SearchIndex.build(root / "index", [root], workers=1, exclude=["index/*"])
        return root / "index"
    return build


CROWDED_QUERY = "防火墙"


@pytest.fixture(scope="session")
def crowded_index_dir(tmp_path_factory) -> Path:
    """An index of 14 documents that all match CROWDED_QUERY: long titles, Latin words, and
    three documents long enough to be indexed as passages (over 50,000 characters)."""
    import json

    from searchkit import SearchIndex

    corpus = tmp_path_factory.mktemp("crowded-corpus")
    filler = "网络管理员每天检查服务器的日志，记录流量的变化，并且定期更新软件包。"
    records = []
    for number in range(14):
        body = (filler * (3 + number) + f"第{number}台{CROWDED_QUERY}过滤流入和流出的数据包，"
                "只允许符合预定义条件的包通过。Current computers are powerful enough to filter "
                "packets at line rate with nftables. " + filler * 5)
        if number % 5 == 0:  # several passages, with matches all over them
            body = (filler * 600 + f"边界{CROWDED_QUERY}。") * 3 + body
        records.append({
            "id": f"doc{number:02d}",
            "title": f"第{number}章 {CROWDED_QUERY}或者包过滤：一个很长很长的标题，长到在八十列宽的终端上一行放不下，要截短"
                     if number % 3 == 0 else f"{number}. 安全与{CROWDED_QUERY}",
            "text": body, "date": f"20{10 + number}-0{1 + number % 9}-15",
            "source": ["南方日报", "澎湃新闻", "羊城晚报"][number % 3],
        })
    (corpus / "crowded.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    path = tmp_path_factory.mktemp("crowded-index")
    SearchIndex.build(path, [corpus], workers=1)
    return path
