"""searchkit: full-text search for Chinese documents, in Simplified and Traditional script.

>>> from searchkit import SearchIndex
>>> with SearchIndex.open("index") as index:          # doctest: +SKIP
...     results = index.search("数据中心", limit=3)
"""

from .engine import SearchIndex
from .errors import (
    BadDateError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    LoadError,
    QuerySyntaxError,
    QueryTooLongError,
    SearchkitError,
)
from .models import Document, Hit, IndexReport, IndexStats, SearchResults

__version__ = "0.1.0"

__all__ = [
    "SearchIndex",
    "Document",
    "Hit",
    "SearchResults",
    "IndexStats",
    "IndexReport",
    "SearchkitError",
    "IndexNotFoundError",
    "IndexMismatchError",
    "IndexLockedError",
    "QuerySyntaxError",
    "QueryTooLongError",
    "BadDateError",
    "LoadError",
]
