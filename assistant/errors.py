"""The project's one exception hierarchy: the index's errors (index/errors.py) and the
answering errors raised here; ``assistant`` re-exports them all."""

from index.errors import (
    AssistantError,
    ConfigError,
    IngestError,
    LoadError,
    StoreError,
    StoreUnavailableError,
)

__all__ = [
    "AssistantError",
    "ConfigError",
    "EmptyIndexError",
    "IngestError",
    "LoadError",
    "QuestionError",
    "StoreError",
    "StoreUnavailableError",
]


class QuestionError(AssistantError):
    """A question cannot be answered as asked (empty, too long, ...)."""


class EmptyIndexError(AssistantError):
    """There are no articles to answer from."""
