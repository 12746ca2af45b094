"""The ``Library``: the articles in the index, for everything that is not answering.

Ingest, list, show, delete and the index's figures. The :class:`~assistant.Assistant` keeps
one and hands its index methods to it; a face that only reads or deletes records opens one
without the embedding model (``Assistant.open_library(settings, with_model=False)``), which
takes a fraction of a second instead of the model's load. Such a library opens the store at
its first use, and lists articles or counts them from an embedded index's files without
opening it (index/chroma_file.py: no chromadb import) when those files read as chromadb would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from assistant import components
from assistant.errors import EmptyIndexError, IngestError, StoreError
from assistant.settings import Settings
from index.chroma_client import local_path
from index.chroma_file import IndexFile, read_index
from index.json_files import record_item
from index.loaded import Loaded
from index.pipeline import Ingestor, IngestReport, ProgressFn, count_items
from index.records import ArticleRecord, StoreStats
from index.store import ChromaStore

__all__ = ["Library", "count_items"]


class Library:
    """The index's articles behind one thread-safe object: writes take turns."""

    def __init__(
        self,
        settings: Settings,
        store: ChromaStore | None = None,
        ingestor: Ingestor | None = None,
        collection: str | None = None,
    ) -> None:
        """Without ``store``, the store of ``collection`` (default: the settings') opens
        without the model when first needed."""
        self.settings = settings
        self._store = store
        self._collection = collection
        self.ingestor = ingestor
        self._lock = threading.Lock()
        self._opening = threading.Lock()

    @classmethod
    def open(
        cls, settings: Settings, collection: str | None = None, *, with_model: bool = True
    ) -> Library:
        """The configured index; without the model it can do all but ingest."""
        if with_model:
            ingestor = components.ingestor(settings, collection)
            return cls(settings, ingestor.store, ingestor)
        return cls(settings, collection=collection)

    @staticmethod
    def require_index(settings: Settings) -> None:
        """Raise EmptyIndexError when the embedded index was never created, before anything
        heavy loads (a server's collections are checked when the store opens)."""
        if not settings.chroma_host and not local_path(settings.data_dir).exists():
            raise EmptyIndexError(
                f"no index in {settings.data_dir}: add articles first with `assistant ingest "
                "PATH` (or set ASSISTANT_DATA_DIR)"
            )

    @property
    def store(self) -> ChromaStore:
        """The store; opened here, without the model, for a library opened without one."""
        with self._opening:
            if self._store is None:
                self._store = components.store(self.settings, self._collection, load_model=False)
            return self._store

    @property
    def collection(self) -> str:
        if self._store is not None:
            return self._store.name
        return self._collection or self.settings.collection

    @property
    def location(self) -> str:
        """Where the index lives: the data dir, or the Chroma server's address."""
        if self.settings.chroma_host:
            return f"{self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.settings.data_dir)

    def _ingestor(self) -> Ingestor:
        if self.ingestor is None:
            raise StoreError("this library was opened without the embedding model: cannot ingest")
        return self.ingestor

    # -- writing -------------------------------------------------------------------------------
    def ingest_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest files, folders or http(s) URLs (a feed, a sitemap or an article page: its
        articles fetched politely, see index/feeds/); the new articles are searchable when
        this returns."""
        ingestor = self._ingestor()
        with self._lock:
            return ingestor.ingest_paths(paths, components.load_options(self.settings), progress)

    def ingest_loaded(self, items: Iterable[Loaded]) -> IngestReport:
        """Ingest items a loader made (the feed poller's pages), as any other ingest."""
        ingestor = self._ingestor()
        with self._lock:
            return ingestor.ingest(items)

    def ingest_records(
        self,
        records: Iterable[dict[str, Any]],
        origin: str = "request",
        *,
        all_or_none: bool = False,
    ) -> IngestReport:
        """Ingest article records (``{"title", "text", "url", "source", "published"}``),
        each read as a record of a JSON file is (index/json_files.py ``record_item``: the
        field map, ``max_article_chars``, dates). A bad record is reported and the others go
        in; with ``all_or_none`` (one request, one outcome: the API) a bad record is an
        IngestError naming every bad one, raised before anything is written."""
        options = components.load_options(self.settings)
        items: Iterable[Loaded] = (
            record_item(record, origin, options, index=i) for i, record in enumerate(records)
        )
        if all_or_none:
            items = list(items)
            bad = [item.error for item in items if item.error is not None]
            if bad:
                more = f"; and {len(bad) - 10} more" if len(bad) > 10 else ""
                raise IngestError(
                    f"no article was added: {len(bad)} of {len(items)} records refused: "
                    f"{'; '.join(str(e) for e in bad[:10])}{more}"
                )
        return self.ingest_loaded(items)

    def delete_articles(self, article_ids: list[str]) -> int:
        with self._lock:
            return self.store.delete_articles(article_ids)

    def ensure_sample(self) -> int:
        """Ingest the built-in sample articles when the index is empty; returns how many
        went in."""
        if not self.store.is_empty():
            return 0
        return len(self.ingest_paths([components.SAMPLES_DIR]).new)

    def close(self) -> None:
        """Let a background compile of the embedding model finish: a thread still inside
        torch at interpreter exit can crash the process after the work is done."""
        if self.ingestor is not None:
            close = getattr(self.ingestor.embedder, "close", None)
            if close is not None:
                close()

    # -- reading -------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return self.store.is_empty()

    def _index_file(self) -> IndexFile | None:
        """The embedded index read from its files, before the store is opened (a store
        already open answers itself); None when only chromadb can answer, and always for a
        Chroma server, whose collections no local file mirrors."""
        if self._store is not None or self.settings.chroma_host:
            return None
        return read_index(self.settings.data_dir, self.collection, self.settings.embed_model)

    def list_articles(
        self, source: str | None = None, author: str | None = None
    ) -> list[ArticleRecord]:
        found = self._index_file()
        if found is None:
            return self.store.list_articles(source, author)
        return found.list_articles(source, author)

    def get_article(self, article_id: str) -> ArticleRecord | None:
        return self.store.get_article(article_id)

    def stats(self) -> StoreStats:
        found = self._index_file()
        return self.store.stats() if found is None else found.stats(self.settings.embed_model)
