"""The assembly: the index's components built from the settings, and nothing else.

An ``Assistant`` (core.py) and a ``Library`` (library.py) are put together from these:

- :func:`embedders`: the embedder component (index/embedders.py), which gives the ingest,
  query and reader embedders of the configured model;
- :func:`store`: the Chroma store with its BM25 side (:func:`lexical_path`) and, on an
  embedded index, the cross-process locks (:func:`guard`);
- :func:`chunker` and :func:`ingestor`: the ingest pipeline on that store;
- :func:`load_options` and :func:`fetch_options`: the limits every way into the index obeys.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from assistant.settings import Settings
from index.chroma_client import make_client
from index.chunking import Chunker
from index.embedders import EmbedderConfig, Embedders
from index.embeddings import Embedder
from index.feeds.http import FetchOptions
from index.lexical import LexicalIndex
from index.loaded import LoadOptions
from index.lock import IndexGuard
from index.pipeline import Ingestor
from index.sentence_model import offline_environment
from index.store import ChromaStore

SAMPLES_DIR = Path(__file__).parent / "samples"


def embedders(settings: Settings) -> Embedders:
    """The embedder component of the configured model."""
    return Embedders(
        EmbedderConfig(
            model=settings.embed_model,
            device=settings.embed_device,
            batch_size=settings.embed_batch_size,
            precision=settings.embed_precision,
            compile=settings.embed_compile,
            cache_dir=Path(settings.cache_dir) if settings.cache_dir else None,
            query_engine=settings.query_engine,
            reader_int8=settings.reader_int8,
            reader_embeds=settings.sentence_encoder != "e5" or bool(settings.reader_model),
        )
    )


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
        model = embedders(settings).full()
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
        model or embedders(settings).full(),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        title_prefix=settings.chunk_title_prefix,
    )


def ingestor(
    settings: Settings, collection: str | None = None, model: Embedder | None = None
) -> Ingestor:
    """The ingest pipeline into the configured store, on ``model`` (a process that answers
    questions gives its query embedder) or else the ingest embedder."""
    model = model or embedders(settings).ingest()
    return Ingestor(
        store(settings, collection, model=model),
        model,
        chunker(settings, model),
        batch_chunks=settings.ingest_batch_chunks,
    )


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
