"""searchkit: full-text search for Chinese documents, in Simplified and Traditional script.

>>> from searchkit import SearchIndex
>>> with SearchIndex.open("index") as index:          # doctest: +SKIP
...     results = index.search("数据中心", limit=3)
"""

import warnings

# Whoosh 2.7.4's and jieba 0.42.1's sources hold invalid escape sequences, which
# Python reports when it compiles them (no cached bytecode yet): SyntaxWarning
# from 3.12 on, DeprecationWarning before; nine lines on `import searchkit`. A
# compile-time warning names the file, not the module, so the filters match
# paths, and they must be in place before the first import of either package.
for _category in (SyntaxWarning, DeprecationWarning):
    warnings.filterwarnings("ignore", category=_category, module=r".*[\\/](whoosh|jieba)[\\/]")

from . import internals  # noqa: E402,F401  checks the Whoosh version first
from .engine import SearchIndex  # noqa: E402
from .errors import (  # noqa: E402
    BadDateError,
    IndexDamagedError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    LoadError,
    QuerySyntaxError,
    QueryTooLongError,
    SearchkitError,
    ShardUnavailableError,
    UnknownSourceError,
)
from .models import (  # noqa: E402
    Document,
    DuplicateCluster,
    DuplicateDocument,
    Facets,
    Hit,
    IndexReport,
    IndexStats,
    SearchResults,
)

__version__ = "0.1.0"

__all__ = [
    "SearchIndex",
    "Document",
    "Hit",
    "SearchResults",
    "Facets",
    "IndexStats",
    "IndexReport",
    "DuplicateCluster",
    "DuplicateDocument",
    "SearchkitError",
    "IndexNotFoundError",
    "IndexMismatchError",
    "IndexDamagedError",
    "IndexLockedError",
    "QuerySyntaxError",
    "QueryTooLongError",
    "BadDateError",
    "LoadError",
    "UnknownSourceError",
    "ShardUnavailableError",
]
