"""Builds the index components (store, embedder, chunker, ingestor) from the settings."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from assistant.settings import Settings
from index.chroma_client import make_client
from index.chunking import Chunker
from index.embeddings import Embedder, SentenceTransformerEmbedder, load_embedder
from index.errors import ConfigError
from index.feeds.http import FetchOptions
from index.lexical import LexicalIndex
from index.light import load_light
from index.loaded import LoadOptions
from index.lock import IndexGuard
from index.onnx_exports import OnnxExports
from index.pipeline import Ingestor
from index.sentence_model import default_cache_dir, offline_environment, resolve_model
from index.store import ChromaStore

log = logging.getLogger(__name__)

SAMPLES_DIR = Path(__file__).parent / "samples"


def embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return load_embedder(
        settings.embed_model,
        settings.embed_device,
        settings.embed_batch_size,
        settings.embed_precision,
        cache_dir=str(settings.cache_dir) if settings.cache_dir else None,
        compile=settings.embed_compile,
    )


def query_embedder(settings: Settings) -> Embedder:
    """The embedder of a process that answers questions (``query_engine``): the light ONNX
    path (index/light.py: no torch import) when its checked export is in the cache dir, else
    the torch model, which then writes that export for the next start. The light embedder
    hands long document lists (ingest work) to the torch model, loaded at that point. With
    ``auto``, an ``embed_precision`` of bf16 or int8 asked for by name keeps queries on it."""
    engine = settings.query_engine
    named = settings.embed_precision not in ("auto", "fp32")  # bf16/int8 asked for by name
    if engine == "torch" or settings.embed_device != "cpu" or (engine == "auto" and named):
        return embedder(settings)
    offline_environment()
    model_dir = resolve_model(settings.embed_model)
    exports = _exports(settings, model_dir)
    exported = exports.kept(exports.fp32)  # only an export that passed its check runs
    light = None
    if exported is not None:
        try:
            light = load_light(
                settings.embed_model,
                model_dir,
                exported,
                heavy=lambda: embedder(settings),
                batch_size=settings.embed_batch_size,
            )
        except Exception as exc:  # an unreadable export, a broken runtime: torch answers
            log.warning("cannot run the light query model (%s); using torch, exporting anew", exc)
            exports.discard(exported)
    if light is not None:
        return light
    full = embedder(settings)
    written = full.ensure_light_export()
    if engine == "onnx":
        if written is None:
            raise ConfigError(
                f"query_engine onnx: no checked ONNX export of {settings.embed_model!r} (a "
                "model other than mean-pooling, or the export failed: see the log); use auto"
            )
        found = load_light(
            settings.embed_model,
            model_dir,
            written,
            heavy=lambda: full,
            batch_size=settings.embed_batch_size,
        )
        if found is not None:
            return found
    return full


def store(
    settings: Settings,
    collection: str | None = None,
    load_model: bool = True,
    model: Embedder | None = None,
) -> ChromaStore:
    """The configured store. ``load_model=False`` skips loading the embedding model, for
    commands that only read records (list, show, delete, stats); ``model`` is the embedder
    already chosen (else the configured torch one)."""
    offline_environment()
    if model is None and load_model:
        model = embedder(settings)
    client = make_client(
        settings.data_dir,
        settings.chroma_host,
        settings.chroma_port,
        timeout=settings.chroma_timeout,
    )
    name = collection or settings.collection
    lexical = LexicalIndex(lexical_path(settings, name))
    embedded = not settings.chroma_host  # a Chroma server coordinates its own writers
    return ChromaStore(
        client,
        name,
        settings.embed_model,
        model.dimension if model else None,
        lexical,
        precision=model.precision if model else None,
        guard=guard(settings) if embedded else None,
        reopen=(lambda: make_client(settings.data_dir, fresh=True)) if embedded else None,
    )


def guard(settings: Settings) -> IndexGuard:
    """The cross-process locks of the embedded index under the data dir (index/lock.py);
    one per data dir in a process, so that two stores of one process on the same index
    take turns instead of waiting for each other as for another process."""
    shared = _guard(str(Path(settings.data_dir).resolve()))
    shared.wait = settings.index_wait
    return shared


@cache
def _guard(data_dir: str) -> IndexGuard:
    return IndexGuard(data_dir)


def lexical_path(settings: Settings, collection: str) -> Path:
    """The BM25 index of a collection lives beside the Chroma data, one file per collection
    (and per server, so that two servers' collections of one name do not mix)."""
    where = f"{settings.chroma_host}-{settings.chroma_port}-" if settings.chroma_host else ""
    return Path(settings.data_dir) / "lexical" / f"{where}{collection}.sqlite3"


def chunker(settings: Settings, model: Embedder | None = None) -> Chunker:
    return Chunker(
        model or embedder(settings),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        title_prefix=settings.chunk_title_prefix,
    )


def reader_embedder(settings: Settings, model: Embedder) -> Embedder:
    """What the reader embeds its sentences with: the int8 quantisation of the checked fp32
    ONNX export (``reader_int8``; the reader's similarity for 16 sentences in ~55 ms instead
    of ~115 ms, and the packaged reader model is fitted on it), else ``model`` itself. Not
    loaded for the e5 reader, which compares by e5 alone."""
    if (
        not settings.reader_int8
        or settings.query_engine == "torch"
        or settings.embed_device != "cpu"
        or (settings.sentence_encoder == "e5" and not settings.reader_model)
    ):
        return model
    model_dir = resolve_model(settings.embed_model)
    exports = _exports(settings, model_dir)
    path = exports.ensure_int8()  # checked against the fp32 export before it was kept
    if path is None:
        return model
    try:
        light = load_light(settings.embed_model, model_dir, path)
    except Exception as exc:  # an unreadable file: the reader still has the index's model
        log.warning("cannot run the int8 reader model (%s); using the index's embedder", exc)
        exports.discard(path)
        return model
    return light or model


def ingestor(
    settings: Settings, collection: str | None = None, for_questions: bool = False
) -> Ingestor:
    """``for_questions``: a process that answers questions, with :func:`query_embedder`."""
    if for_questions:
        model: Embedder = query_embedder(settings)
    else:
        full = embedder(settings)
        if settings.query_engine != "torch" and settings.embed_device == "cpu":
            exported = full.ensure_light_export()  # once per model: questions skip torch
            if exported is not None and settings.reader_int8:
                full.exports.ensure_int8()  # and the reader's copy (~2 s, once)
        model = full
    return Ingestor(
        store(settings, collection, model=model),
        model,
        chunker(settings, model),
        batch_chunks=settings.ingest_batch_chunks,
    )


def _exports(settings: Settings, model_dir: str) -> OnnxExports:
    cache = Path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
    return OnnxExports(model_dir, cache)


def load_options(settings: Settings) -> LoadOptions:
    return LoadOptions(
        field_map=dict(settings.field_map),
        max_file_bytes=settings.max_file_mb * 1024 * 1024,
        max_article_chars=settings.max_article_chars,
        fetch=fetch_options(settings),
        max_feed_items=settings.feed_max_items,
    )


def fetch_options(settings: Settings) -> FetchOptions:
    """How politely URLs are fetched (``feed_*``)."""
    return FetchOptions(
        user_agent=settings.feed_user_agent,
        timeout=settings.feed_timeout,
        host_delay=settings.feed_host_delay,
        retries=settings.feed_retries,
        backoff=settings.feed_backoff,
    )
