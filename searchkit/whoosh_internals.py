"""What searchkit takes from Whoosh beyond its public API, fenced in one place.

searchkit relies on private parts of Whoosh 2.7.4 (its segment writer, codec,
term records and table of contents). They are not promised to stay, so the
version is pinned in pyproject.toml and checked here, once, on import: a
different Whoosh (a fork installs a ``whoosh`` module too) is refused with one
clear line instead of giving wrong indexes.
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
