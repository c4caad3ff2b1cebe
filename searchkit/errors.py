"""The errors searchkit raises; each carries a one-line message for people."""


class SearchkitError(Exception):
    """Base class of every error searchkit reports to its user."""


class _AboutAnIndex(SearchkitError):
    """A problem with the index at ``index_dir`` (for a face to add its own hint)."""

    def __init__(self, index_dir, message: str) -> None:
        self.index_dir = index_dir
        super().__init__(message)

    def __reduce__(self):  # survives pickling (between processes) despite its two arguments
        return type(self), (self.index_dir, str(self))


class IndexNotFoundError(_AboutAnIndex):
    """No index exists at the given location."""


class IndexMismatchError(_AboutAnIndex):
    """The index was built with a different analyzer configuration or version: rebuild it."""


class IndexDamagedError(IndexMismatchError):
    """A file of the index is missing, cut short or changed since it was written.

    A kind of mismatch (the index on disk is not the one that was built), so
    code that already catches IndexMismatchError to offer a rebuild keeps
    doing so. ``index_dir`` names the index, for a face to add its own hint.
    """

    def __init__(self, index_dir, reason: str) -> None:
        self.reason = " ".join(str(reason).split())  # one line, whatever the cause said
        super().__init__(index_dir, f"index at {index_dir} is damaged ({self.reason}); rebuild it")

    def __reduce__(self):  # survives pickling (between processes) despite its two arguments
        return type(self), (self.index_dir, self.reason)


class IndexLockedError(SearchkitError):
    """Another process is writing to the index."""


class QuerySyntaxError(SearchkitError):
    """The query cannot be parsed; the message says where and why."""


class QueryTooLongError(QuerySyntaxError):
    """The query is longer, or more deeply nested, than searchkit accepts."""


class BadDateError(SearchkitError):
    """A date given by the user cannot be understood."""


class LoadError(SearchkitError):
    """A file could not be read as a document."""


class UnknownSourceError(SearchkitError):
    """A source name that is none of the index's sources, nor an alias of one.

    ``name`` is the name given; ``suggestions`` the index's names closest to
    it (or, when ``ambiguous``, the names it is the start of).
    """

    def __init__(self, name: str, suggestions: list[str], *, ambiguous: bool = False) -> None:
        self.name, self.suggestions, self.ambiguous = name, list(suggestions), ambiguous
        listing = ", ".join(self.suggestions)
        if ambiguous:
            message = (f"no source '{name}' in this index; several begin with it: {listing} "
                       "(give more of the name)")
        elif listing:
            message = f"no source '{name}' in this index; known sources, closest first: {listing}"
        else:
            message = f"no source '{name}' in this index; it has no sources"
        super().__init__(message)

    def __reduce__(self):  # survives pickling despite its keyword argument
        return _unknown_source, (self.name, self.suggestions, self.ambiguous)


def _unknown_source(name: str, suggestions: list[str], ambiguous: bool) -> "UnknownSourceError":
    return UnknownSourceError(name, suggestions, ambiguous=ambiguous)


class ShardUnavailableError(SearchkitError):
    """A shard of a sharded index cannot be read; ``shard`` names it."""

    def __init__(self, shard: str, reason: str) -> None:
        self.shard, self.reason = shard, " ".join(str(reason).split())
        super().__init__(f"shard {shard} cannot be read ({self.reason}); "
                         "search the other shards with --allow-partial")

    def __reduce__(self):  # survives pickling despite its two arguments
        return type(self), (self.shard, self.reason)
