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
    extractive = ExtractiveAnswerer(doc_freq, refuse_below=settings.refuse_below)
    if settings.answerer == "extractive":
        return extractive
    if settings.answerer == "llm":
        # imported here so the extractive default never loads the LLM integrations
        from assistant.answering.llm import LLMAnswerer

        return LLMAnswerer.from_settings(settings, fallback=extractive)
    raise ConfigError(
        f"unknown answerer {settings.answerer!r}: use 'extractive' or 'llm' (ASSISTANT_ANSWERER)"
    )
