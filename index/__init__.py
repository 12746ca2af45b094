"""Getting articles in: load → normalise → chunk → embed → store.

This package never imports :mod:`assistant`; everything it needs is passed in.
"""

from index.articles import Article
from index.chunking import Chunk, Chunker
from index.errors import AssistantError, ConfigError, IngestError, LoadError, StoreError

__all__ = [
    "Article",
    "AssistantError",
    "Chunk",
    "Chunker",
    "ConfigError",
    "IngestError",
    "LoadError",
    "StoreError",
]
