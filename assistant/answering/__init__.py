"""Answerers behind one interface: the extractive answerer (offline default), LLM backends."""

from __future__ import annotations

from assistant.answering.base import Answerer, citation, refusal_text
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.settings import Settings
from index.errors import ConfigError
from index.store import ChromaStore

__all__ = ["Answerer", "ExtractiveAnswerer", "citation", "make_answerer", "refusal_text"]


def make_answerer(settings: Settings, store: ChromaStore | None = None) -> Answerer:
    """The answerer the settings name; IDF weights come from the store's lexical index."""
    doc_freq = store.lexical.document_frequencies if store and store.lexical else None
    if settings.answerer == "extractive":
        return ExtractiveAnswerer(doc_freq, refuse_below=settings.refuse_below)
    raise ConfigError(
        f"unknown answerer {settings.answerer!r}: use 'extractive' (ASSISTANT_ANSWERER)"
    )
