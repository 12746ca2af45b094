"""Answerers behind one interface (the extractive answerer, the offline default, and LLM
backends), and the condensers that rewrite chat follow-ups before retrieval."""

from __future__ import annotations

from assistant.answering.backends import backend_for
from assistant.answering.base import Answerer, citation
from assistant.answering.condense import Condenser, LLMCondenser, RuleCondenser
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.refusal import refusal_text
from assistant.settings import Settings
from index.embeddings import Embedder
from index.store import ChromaStore

__all__ = [
    "Answerer",
    "Condenser",
    "ExtractiveAnswerer",
    "LLMCondenser",
    "RuleCondenser",
    "citation",
    "make_answerer",
    "make_condenser",
    "refusal_text",
]


def make_answerer(
    settings: Settings, store: ChromaStore | None = None, embedder: Embedder | None = None
) -> Answerer:
    """The answerer the settings name; IDF weights come from the store's lexical index, and
    the reader's sentence similarity from ``embedder`` (the index's model, already loaded).
    The extractive answerer is built for every backend: it is the LLM answerer's fallback."""
    backend = backend_for(settings)  # ConfigError for names no backend has
    doc_freq = store.lexical.document_frequencies if store and store.lexical else None
    extractive = ExtractiveAnswerer(
        doc_freq,
        refuse_below=settings.refuse_below,
        embedder=embedder,
        model_path=settings.reader_model or None,
        sentence_encoder=settings.sentence_encoder,
        ner_model=settings.ner_model,
        short_answer_min=settings.short_answer_min,
        cross_encoder=settings.reader_cross_encoder or None,
    )
    if not backend.writes_with_llm:
        return extractive
    # imported here so the extractive default never loads the LLM integrations
    from assistant.answering.llm import LLMAnswerer

    return LLMAnswerer.from_settings(settings, fallback=extractive)


def make_condenser(settings: Settings, answerer: Answerer) -> Condenser:
    """The condenser for ``answerer``: the LLM answerer's model rewrites follow-ups, with
    the rules as fallback; the extractive answerer uses the rules."""
    if not backend_for(settings).writes_with_llm:
        # and no import of the LLM answerer's module (llama-index): a second of a cold start
        return RuleCondenser()
    from assistant.answering.llm import LLMAnswerer

    if isinstance(answerer, LLMAnswerer):
        return LLMCondenser(answerer.llm, label=answerer.label, prompts_dir=settings.prompts_dir)
    return RuleCondenser()
