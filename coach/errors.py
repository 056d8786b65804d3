"""The one exception family a user may see.

Every error raised on purpose inside ``coach`` is a :class:`CoachError`: its
message is one sentence that is safe to show a user, and ``hint`` says what to
do next. Front ends print ``str(error)`` and never a traceback.
"""

from __future__ import annotations


class CoachError(Exception):
    """An error whose message is safe to show to a user."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class CorpusError(CoachError):
    """The corpus folder is missing, empty or unreadable."""


class IndexMissingError(CoachError):
    """No index has been built for this corpus yet."""


class StaleIndexError(CoachError):
    """The index on disk was built from another corpus or model."""


class CorruptIndexError(CoachError):
    """The index on disk cannot be read."""


class ModelError(CoachError):
    """The embedding or reranking model cannot be loaded."""
