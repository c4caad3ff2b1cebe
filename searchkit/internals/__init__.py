"""What searchkit takes from its libraries beyond their public APIs, fenced in one place.

- ``writer``, ``queries``, ``storage``: private parts of Whoosh 2.7.4 (its
  segment writer and codec, term records, matchers and scoring hooks, table
  of contents and file clean-up).
- ``opencc_tables``: the conversion tables inside opencc-python-reimplemented
  0.1.7, for a faster converter with OpenCC's exact output.
- ``codec``: searchkit's own terms and postings files behind Whoosh's codec
  interface.
- jieba 0.42.1 is imported here without ``pkg_resources`` (see
  ``import_jieba``).

These parts are not promised to stay, so the versions are pinned in
pyproject.toml. Whoosh's is checked here, once, on import: a different Whoosh
(a fork installs a ``whoosh`` module too) is refused with one clear line
instead of giving wrong indexes. OpenCC's tables are checked where they are
read, and a release without them falls back to OpenCC itself (slower, the
same output). No module outside this package reaches into another object's
private parts (tests/test_internals.py checks it).
"""

from __future__ import annotations

import sys

import whoosh

PROVEN_VERSION = (2, 7, 4)

if tuple(whoosh.__version__[:3]) != PROVEN_VERSION:
    raise ImportError(
        f"searchkit needs Whoosh {'.'.join(map(str, PROVEN_VERSION))}, found "
        f"{whoosh.versionstring()} ({whoosh.__file__}); install it with: "
        f"pip install 'whoosh=={'.'.join(map(str, PROVEN_VERSION))}'"
    )


def import_jieba():
    """Import jieba without setuptools' ``pkg_resources``, which it only uses to find its files.

    jieba 0.42.1 imports ``pkg_resources`` if it can and otherwise opens its
    dictionary and model files by path, the same files. Importing
    ``pkg_resources`` took 96 ms of a one-shot search's 340 ms of imports, and
    a one-shot ``searchkit search`` on the seeds went from 0.65 s to 0.48 s
    (medians of 6, loaded machine). If something imported ``pkg_resources``
    already, jieba uses it as usual.
    """
    if "jieba" in sys.modules or "pkg_resources" in sys.modules:
        import jieba
        return jieba
    sys.modules["pkg_resources"] = None  # makes `import pkg_resources` raise ImportError
    try:
        import jieba
    finally:
        del sys.modules["pkg_resources"]
    return jieba


import_jieba()
