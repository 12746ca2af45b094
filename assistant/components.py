"""Builds the index components (store, embedder, chunker, ingestor) from the settings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from assistant.settings import Settings
from index.chunking import Chunker
from index.embeddings import SentenceTransformerEmbedder, load_embedder, offline_environment
from index.lexical import LexicalIndex
from index.loaders import LoadOptions
from index.lock import IndexGuard
from index.pipeline import Ingestor
from index.store import ChromaStore, make_client

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


def store(
    settings: Settings, collection: str | None = None, load_model: bool = True
) -> ChromaStore:
    """The configured store. ``load_model=False`` skips loading the embedding model, for
    commands that only read records (list, show, delete, stats)."""
    offline_environment()
    model = embedder(settings) if load_model else None
    client = make_client(settings.data_dir, settings.chroma_host, settings.chroma_port)
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


def chunker(settings: Settings) -> Chunker:
    return Chunker(
        embedder(settings),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        title_prefix=settings.chunk_title_prefix,
    )


def ingestor(settings: Settings, collection: str | None = None) -> Ingestor:
    return Ingestor(
        store(settings, collection),
        embedder(settings),
        chunker(settings),
        batch_chunks=settings.ingest_batch_chunks,
    )


def load_options(settings: Settings) -> LoadOptions:
    return LoadOptions(
        field_map=dict(settings.field_map),
        max_file_bytes=settings.max_file_mb * 1024 * 1024,
        max_article_chars=settings.max_article_chars,
    )
