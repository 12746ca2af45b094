"""Getting answers out of the news index: retrieve → answer → cite → present."""

from assistant.answers import Answer, Citation, Passage, Source, SourceRef
from assistant.core import Assistant
from assistant.retrieval import Filters
from assistant.settings import Settings
from index.errors import (
    AssistantError,
    ConfigError,
    EmptyIndexError,
    IngestError,
    LoadError,
    QuestionError,
    StoreError,
)

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Citation",
    "ConfigError",
    "EmptyIndexError",
    "Filters",
    "IngestError",
    "LoadError",
    "Passage",
    "QuestionError",
    "Settings",
    "Source",
    "SourceRef",
    "StoreError",
]
