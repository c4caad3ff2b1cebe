"""The errors searchkit raises; each carries a one-line message for people."""


class SearchkitError(Exception):
    """Base class of every error searchkit reports to its user."""


class IndexNotFoundError(SearchkitError):
    """No index exists at the given location."""


class IndexMismatchError(SearchkitError):
    """The index was built with a different analyzer configuration or version."""


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
