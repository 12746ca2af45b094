"""Answerers behind one interface: the extractive answerer (offline default), LLM backends."""

from __future__ import annotations

from assistant.answering.base import Answerer, citation, refusal_text
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.settings import Settings
from index.embeddings import Embedder
from index.errors import ConfigError
from index.store import ChromaStore

__all__ = ["Answerer", "ExtractiveAnswerer", "citation", "make_answerer", "refusal_text"]


def make_answerer(
    settings: Settings, store: ChromaStore | None = None, embedder: Embedder | None = None
) -> Answerer:
    """The answerer the settings name; IDF weights come from the store's lexical index, and
    the reader's sentence similarity from ``embedder`` (the index's model, already loaded)."""
    doc_freq = store.lexical.document_frequencies if store and store.lexical else None
    extractive = ExtractiveAnswerer(
        doc_freq,
        refuse_below=settings.refuse_below,
        embedder=embedder,
        model_path=settings.reader_model or None,
        ner_model=settings.ner_model,
        short_answer_min=settings.short_answer_min,
    )
    if settings.answerer == "extractive":
        return extractive
    if settings.answerer == "llm":
        # imported here so the extractive default never loads the LLM integrations
        from assistant.answering.llm import LLMAnswerer

        return LLMAnswerer.from_settings(settings, fallback=extractive)
    raise ConfigError(
        f"unknown answerer {settings.answerer!r}: use 'extractive' or 'llm' (ASSISTANT_ANSWERER)"
    )
