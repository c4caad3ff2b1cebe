"""Shared fixtures: the seeds, an index of them, and isolation from the user's files."""

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
