"""What searchkit takes from its libraries beyond their public APIs, fenced in one place.

- ``writer``, ``queries``, ``storage``: private parts of Whoosh 2.7.4 (its
  segment writer and codec, term records, matchers and scoring hooks, table
  of contents and file clean-up).
- ``opencc_tables``: the conversion tables inside opencc-python-reimplemented
  0.1.7, for a faster converter with OpenCC's exact output.

These parts are not promised to stay, so the versions are pinned in
pyproject.toml. Whoosh's is checked here, once, on import: a different Whoosh
(a fork installs a ``whoosh`` module too) is refused with one clear line
instead of giving wrong indexes. OpenCC's tables are checked where they are
read, and a release without them falls back to OpenCC itself (slower, the
same output). No module outside this package reaches into another object's
private parts (tests/test_internals.py checks it).
"""

from __future__ import annotations

import whoosh

PROVEN_VERSION = (2, 7, 4)

if tuple(whoosh.__version__[:3]) != PROVEN_VERSION:
    raise ImportError(
        f"searchkit needs Whoosh {'.'.join(map(str, PROVEN_VERSION))}, found "
        f"{whoosh.versionstring()} ({whoosh.__file__}); install it with: "
        f"pip install 'whoosh=={'.'.join(map(str, PROVEN_VERSION))}'"
    )
