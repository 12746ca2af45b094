"""Chroma storage: a collection of chunk vectors and a collection of article records.

Embedded ``PersistentClient`` under the data dir by default; ``HttpClient`` when a server host
is configured. We always pass our own embeddings (Chroma's default embedding function would
download a model) and telemetry is off.

Crash safety: an article is written in steps that each leave a state :meth:`ChromaStore.repair`
can finish or undo. Its record is marked ``pending`` with the new content hash, the new chunks
are added (their ids carry the hash), the record is committed with the new hash, old chunks are
deleted, and the mark is cleared. Repair, run before every ingest, deletes the chunks of a
marked article whose hash is not the committed one, and drops records never committed.
Readers never wait for that repair: :meth:`ChromaStore.committed_versions` tells which chunks
belong to a committed article version, and retrieval keeps only those.

Several processes on one embedded index: every write runs under the writer and batch locks
of :class:`index.lock.IndexGuard`, and a process reopens its collections when another one
has written since it loaded them (see index/lock.py and docs/cross-process.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from index.chunking import Chunk, ChunkedArticle
from index.errors import ConfigError, StoreError
from index.lexical import LexicalArticle, LexicalChunk, LexicalIndex
from index.lock import IndexGuard

log = logging.getLogger(__name__)

RECORDS_SUFFIX = "-articles"
_PAGE = 2000
# how often a reader looks whether another process has written (a file read, ~10 µs)
RELOAD_CHECK_S = 0.5


class ArticleRecord(BaseModel):
    """What the index keeps about one article besides its chunks."""

    id: str
    title: str
    url: str | None = None
    source: str = ""
    authors: list[str] = Field(default_factory=list)
    published: datetime | None = None
    version: str
    chunk_ids: list[str] = Field(default_factory=list)
    ingested_at: datetime | None = None
    origin: str = ""
    text: str | None = None


@dataclass
class StoreStats:
    articles: int
    chunks: int
    sources: dict[str, int]
    earliest: datetime | None
    latest: datetime | None
    embedding_model: str
    dimension: int
    precision: str = "fp32"  # recorded when the index was built


@dataclass
class ChunkHit:
    """A chunk returned by a vector query, with its cosine similarity."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def _from_ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if isinstance(value, int) else None


def chunk_metadata(item: ChunkedArticle, chunk: Chunk) -> dict[str, Any]:
    """Flat Chroma metadata of a chunk; the date as an integer timestamp so it can be filtered."""
    article = item.article
    meta: dict[str, Any] = {
        "article_id": article.id,
        "chunk_index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "sentences": json.dumps(chunk.sentences),
        "title": article.title,
        "source": article.source,
        "url": article.url or "",
        "version": item.version,
        "token_count": chunk.token_count,
    }
    if article.published is not None:
        meta["published_ts"] = _ts(article.published)
        meta["published"] = article.published.isoformat()
    return meta


def _record_metadata(item: ChunkedArticle) -> dict[str, Any]:
    article = item.article
    meta: dict[str, Any] = {
        "title": article.title,
        "url": article.url or "",
        "source": article.source,
        "authors": json.dumps(article.authors, ensure_ascii=False),
        "hash": item.version,
        "pending": item.version,
        "chunk_ids": json.dumps([c.id for c in item.chunks]),
        "n_chunks": len(item.chunks),
        "ingested_ts": int(datetime.now(tz=UTC).timestamp()),
        "origin": item.origin,
        "extra": json.dumps(article.metadata, ensure_ascii=False),
    }
    if article.published is not None:
        meta["published_ts"] = _ts(article.published)
    return meta


def _record(id: str, meta: dict[str, Any], text: str | None = None) -> ArticleRecord:
    return ArticleRecord(
        id=id,
        title=str(meta.get("title", "")),
        url=str(meta.get("url") or "") or None,
        source=str(meta.get("source", "")),
        authors=json.loads(str(meta.get("authors") or "[]")),
        published=_from_ts(meta.get("published_ts")),
        version=str(meta.get("hash", "")),
        chunk_ids=json.loads(str(meta.get("chunk_ids") or "[]")),
        ingested_at=_from_ts(meta.get("ingested_ts")),
        origin=str(meta.get("origin", "")),
        text=text,
    )


def local_path(data_dir: Path | str) -> Path:
    """Where the embedded Chroma index of ``data_dir`` lives."""
    return Path(data_dir) / "chroma"


def make_client(
    data_dir: Path | str, host: str | None = None, port: int = 8000, fresh: bool = False
) -> Any:
    """A Chroma client: a server at ``host:port`` when a host is given, else embedded on disk.
    ``fresh``: an embedded client of its own, which loads the collections from disk again
    (chromadb otherwise hands out one shared instance per path and process)."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        path = str(local_path(data_dir))
        if fresh:
            return _fresh_persistent_client(path, settings)
        return chromadb.PersistentClient(path=path, settings=settings)
    except Exception as exc:  # chromadb raises bare ValueError/ConnectError and friends
        where = f"the Chroma server at {host}:{port}" if host else f"the index under {data_dir}"
        raise StoreError(f"cannot open {where}: {exc}") from exc


def _fresh_persistent_client(path: str, settings: Any) -> Any:
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.config import Settings, System

    system = System(
        Settings(**{**settings.model_dump(), "is_persistent": True, "persist_directory": path})
    )
    system.instance(ServerAPI)  # type: ignore[type-abstract]
    system.start()
    return Client.from_system(system)


def _lexical_article(
    article_id: str, version: str, chunks: Sequence[tuple[str, dict[str, Any], str]]
) -> LexicalArticle:
    """What the lexical index keeps of an article: each chunk's text under its title."""
    return LexicalArticle(
        article_id,
        version,
        [
            LexicalChunk(
                cid,
                f"{meta.get('title', '')}\n{text}",
                str(meta.get("source", "")),
                meta.get("published_ts") if isinstance(meta.get("published_ts"), int) else None,
            )
            for cid, meta, text in sorted(chunks, key=lambda c: int(c[1].get("chunk_index", 0)))
        ],
    )


def _check_built_model(
    collection: str, built: dict[str, Any], embedding_model: str, dimension: int | None
) -> None:
    """Refuse a collection built with another embedding model or dimension (``built``: its
    metadata): its vectors cannot be searched with this one."""
    built_with, built_dim = built.get("embedding_model"), built.get("dimension")
    if built_with != embedding_model or (dimension and built_dim and built_dim != dimension):
        raise ConfigError(
            f"collection {collection!r} was built with the embedding model {built_with!r} "
            f"({built_dim} dimensions), not {embedding_model!r}: its vectors cannot be "
            f"searched with another model. Set ASSISTANT_EMBED_MODEL={built_with} to use "
            "it as it is, or re-index your articles with the new model into a new "
            "collection: `assistant ingest PATH --collection NEW` (or delete the data "
            "dir and run `assistant ingest PATH` again)."
        )


class ChromaStore:
    """Chunks and article records of one collection."""

    def __init__(
        self,
        client: Any,
        collection: str,
        embedding_model: str,
        dimension: int | None = None,
        lexical: LexicalIndex | None = None,
        precision: str | None = None,
        guard: IndexGuard | None = None,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        """Open (or create) a collection. ``dimension`` may be None for read-only use; the
        model name and dimension the collection was built with must match what is given.
        ``precision`` (fp32, bf16, int8) is recorded when the collection is created; another
        precision than the recorded one is allowed (see :meth:`_check_precision`).
        ``lexical``, when given, is kept in step with every write and delete. ``guard`` and
        ``reopen`` (a fresh client of the same index) are for an embedded index that other
        processes may open too: writes take its locks, and the collections are reopened
        when another process has written."""
        if len(collection) < 3:
            raise ConfigError("a collection name needs at least 3 characters")
        self.client = client
        self.name = collection
        self.lexical = lexical
        self.guard = guard
        self._reopen = reopen
        self._seen = guard.generation() if guard else 0
        self._checked = time.monotonic()
        self._reload_lock = threading.Lock()
        self._open_chunk_collection(embedding_model, dimension, precision)
        # Records carry no meaningful vector; Chroma wants one, so they get a 1-d placeholder.
        self.records = client.get_or_create_collection(
            collection + RECORDS_SUFFIX, embedding_function=None
        )
        self.max_batch = int(client.get_max_batch_size())

    def _open_chunk_collection(
        self, embedding_model: str, dimension: int | None, precision: str | None
    ) -> None:
        """Open (or create) the chunk collection and take its model, dimension and
        precision, checked against the ones it was built with."""
        meta: dict[str, Any] = {"embedding_model": embedding_model}
        if dimension:
            meta["dimension"] = dimension
        if precision:
            meta["embedding_precision"] = precision
        self.chunks = self.client.get_or_create_collection(
            self.name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=meta,
        )
        built = dict(self.chunks.metadata or {})
        built_dim = built.get("dimension")
        _check_built_model(self.name, built, embedding_model, dimension)
        # an index that recorded no precision was built before precisions existed: in fp32
        self.built_precision = str(built.get("embedding_precision") or "fp32")
        self.precision = precision or self.built_precision
        self._check_precision()
        if dimension and not built_dim:
            self.chunks.modify(metadata={**built, "dimension": dimension})
        self.embedding_model = embedding_model
        self.dimension = int(dimension or built_dim or 0)

    def _check_precision(self) -> None:
        """Another precision of the same model is allowed: bf16 vectors agree with fp32 ones
        to a mean cosine of ~0.9999 and int8 ones to ~0.99 (bench/RESULTS.md), so queries
        still find the same passages; the recorded value is left as it was (opening an index
        never rewrites its metadata) and the difference is logged."""
        if self.precision != self.built_precision:
            log.info(
                "collection %r was built with %s embeddings; this process embeds in %s (same "
                "model, so queries and new articles still match; re-index to make it uniform)",
                self.name,
                self.built_precision,
                self.precision,
            )

    # -- other processes -------------------------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """Reopen the collections when another process has written to the index since this
        one loaded them (checked at most every RELOAD_CHECK_S unless ``force``); returns
        whether it reopened. Calls in flight keep the old collections and finish."""
        if self.guard is None or self._reopen is None:
            return False
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_CHECK_S:
            return False
        self._checked = now
        if self.guard.generation() == self._seen:
            return False
        with self._reload_lock, self.guard.reading() as generation:
            if generation == self._seen:
                return False  # another thread reloaded meanwhile
            self._open_collections()
            self._seen = generation
        log.info("the index was written by another process: collection %r reopened", self.name)
        return True

    def _open_collections(self) -> None:
        """A new client, its collections, and their vector index loaded now (while the
        caller keeps writers out), not at the first query."""
        assert self._reopen is not None
        client = self._reopen()
        chunks = client.get_collection(self.name, embedding_function=None)
        records = client.get_collection(self.name + RECORDS_SUFFIX, embedding_function=None)
        if self.dimension:
            chunks.query(query_embeddings=[[1.0] + [0.0] * (self.dimension - 1)], n_results=1)
        records.query(query_embeddings=[[1.0]], n_results=1)
        self.client, self.chunks, self.records = client, chunks, records

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A write session: no other process writes to this index until it ends (a no-op
        on a Chroma server, which takes several writers)."""
        if self.guard is None:
            yield
            return
        with self.guard.writing():
            yield

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """One batch of writes under the index lock, on collections that hold every
        earlier write of every process (a stale copy written back would lose them)."""
        if self.guard is None:
            yield
            return
        with self.writing(), self._reload_lock, self.guard.batch() as before:
            if before != self._seen:
                self._open_collections()
            try:
                yield
            finally:
                self._seen = before + 1  # our own write: our copy holds it

    # -- reading ---------------------------------------------------------------------------
    def _iter_records(
        self, where: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        self.refresh()
        offset = 0
        while True:
            page = self.records.get(where=where, include=["metadatas"], limit=_PAGE, offset=offset)
            for rid, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
                yield rid, dict(meta or {})
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def committed_hashes(self) -> dict[str, str]:
        """id → version of every committed article (fast: no text, no vectors)."""
        return {rid: str(m["hash"]) for rid, m in self._iter_records() if m.get("hash")}

    def list_articles(self, source: str | None = None) -> list[ArticleRecord]:
        where = {"source": source} if source else None
        out = [_record(rid, m) for rid, m in self._iter_records(where) if m.get("hash")]
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(out, key=lambda r: (r.published or oldest, r.id), reverse=True)

    def committed_versions(self, article_ids: Sequence[str]) -> dict[str, str]:
        """id → committed version of those of ``article_ids`` that have a committed record.
        A chunk is readable when its ``version`` is its article's committed version: the
        chunks of an article written halfway (no record, or a pending new version), whatever
        process crashed, are not, even before a repair removes them."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        got = self.records.get(ids=ids, include=["metadatas"])
        return {
            rid: str(m["hash"])
            for rid, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            if m and m.get("hash")
        }

    def get_article(self, article_id: str, with_text: bool = True) -> ArticleRecord | None:
        self.refresh()
        got = self.records.get(ids=[article_id], include=["metadatas", "documents"])
        if not got["ids"] or not (got["metadatas"][0] or {}).get("hash"):
            return None
        text = got["documents"][0] if with_text and got["documents"] else None
        return _record(article_id, dict(got["metadatas"][0]), text)

    def get_chunks(self, ids: Sequence[str]) -> list[ChunkHit]:
        self.refresh()
        got = self.chunks.get(ids=list(ids), include=["metadatas", "documents"])
        by_id = {
            cid: ChunkHit(cid, doc or "", dict(meta or {}), 1.0)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[c] for c in ids if c in by_id]

    def query(
        self, embedding: np.ndarray, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[ChunkHit]:
        # no count() first: an empty collection answers with empty lists, and count() costs
        # ~75 ms at 1M chunks on a server (bench/RESULTS.md, "Scale")
        self.refresh()
        res = self.chunks.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
            n_results=k,
            where=where,
            include=["metadatas", "documents", "distances"],
        )
        return [
            ChunkHit(cid, doc or "", dict(meta or {}), 1.0 - float(dist))
            for cid, doc, meta, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            )
        ]

    def is_empty(self) -> bool:
        self.refresh()
        return int(self.chunks.count()) == 0

    def stats(self) -> StoreStats:
        sources: Counter[str] = Counter()
        dates: list[int] = []
        articles = 0
        for _, meta in self._iter_records():
            if not meta.get("hash"):
                continue
            articles += 1
            sources[str(meta.get("source") or "unknown")] += 1
            if isinstance(meta.get("published_ts"), int):
                dates.append(int(meta["published_ts"]))
        return StoreStats(
            articles=articles,
            chunks=int(self.chunks.count()),
            sources=dict(sources.most_common()),
            earliest=_from_ts(min(dates)) if dates else None,
            latest=_from_ts(max(dates)) if dates else None,
            embedding_model=self.embedding_model,
            dimension=self.dimension,
            precision=self.built_precision,
        )

    # -- writing ---------------------------------------------------------------------------
    def _batches(self, n: int) -> Iterator[slice]:
        for i in range(0, n, self.max_batch):
            yield slice(i, min(n, i + self.max_batch))

    def write_articles(
        self, items: Sequence[ChunkedArticle], embeddings: np.ndarray, previous: dict[str, str]
    ) -> None:
        """Add or replace articles with their chunks. ``embeddings`` has one row per chunk, in
        order; ``previous`` maps ids of articles that already exist to their committed version."""
        if not items:
            return
        existing = [i for i in items if i.article.id in previous]
        fresh = [i for i in items if i.article.id not in previous]
        chunks = [c for i in items for c in i.chunks]
        if len(chunks) != len(embeddings):
            raise StoreError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        if self.dimension and embeddings.shape[1] != self.dimension:
            raise ConfigError(
                f"embeddings have {embeddings.shape[1]} dimensions; collection {self.name!r} "
                f"holds {self.dimension}"
            )
        with self._batch():
            self._write(items, embeddings, existing, fresh)

    def _write(
        self,
        items: Sequence[ChunkedArticle],
        embeddings: np.ndarray,
        existing: list[ChunkedArticle],
        fresh: list[ChunkedArticle],
    ) -> None:
        ids = [i.article.id for i in items]
        chunks = [c for i in items for c in i.chunks]
        # Every Chroma call below stays within the client's maximum batch size.
        # 1. mark: existing records keep their committed version; new ones get an empty one
        for part in self._batches(len(existing)):
            self.records.update(
                ids=[i.article.id for i in existing[part]],
                metadatas=[{"pending": i.version} for i in existing[part]],
            )
        for part in self._batches(len(fresh)):
            self.records.upsert(
                ids=[i.article.id for i in fresh[part]],
                embeddings=[[0.0]] * len(fresh[part]),
                metadatas=[
                    {"hash": "", "pending": i.version, "title": i.article.title}
                    for i in fresh[part]
                ],
            )
        # 2. the new chunks
        metas = [chunk_metadata(i, c) for i in items for c in i.chunks]
        for part in self._batches(len(chunks)):
            self.chunks.upsert(
                ids=[c.id for c in chunks[part]],
                embeddings=embeddings[part],
                documents=[c.text for c in chunks[part]],
                metadatas=metas[part],
            )
        # 3. commit the records (full text kept so articles can be shown and re-indexed)
        for part in self._batches(len(items)):
            self.records.upsert(
                ids=ids[part],
                embeddings=[[0.0]] * len(ids[part]),
                documents=[i.article.text for i in items[part]],
                metadatas=[_record_metadata(i) for i in items[part]],
            )
        # 4. drop the chunks of the replaced versions, update the lexical index, 5. clear marks
        for i in existing:
            self._drop_stale_chunks(i.article.id, i.version)
        if self.lexical is not None:
            self.lexical.replace(
                [
                    _lexical_article(
                        i.article.id,
                        i.version,
                        [(c.id, chunk_metadata(i, c), c.text) for c in i.chunks],
                    )
                    for i in items
                ]
            )
        for part in self._batches(len(ids)):
            self.records.update(ids=ids[part], metadatas=[{"pending": ""}] * len(ids[part]))

    def _drop_stale_chunks(self, article_id: str, keep_version: str) -> None:
        self.chunks.delete(
            where={"$and": [{"article_id": article_id}, {"version": {"$ne": keep_version}}]}
        )

    def delete_articles(self, article_ids: Sequence[str]) -> int:
        """Delete articles and their chunks; returns how many existed."""
        with self._batch():
            return self._delete_articles(article_ids)

    def _delete_articles(self, article_ids: Sequence[str]) -> int:
        found = self.records.get(ids=list(article_ids), include=["metadatas"])["ids"]
        if not found:
            return 0
        # an uncommitted record is what repair removes, chunks first
        self.records.update(ids=found, metadatas=[{"hash": "", "pending": "delete"}] * len(found))
        self.chunks.delete(where={"article_id": {"$in": list(found)}})
        if self.lexical is not None:
            self.lexical.delete(found)
        self.records.delete(ids=found)
        return len(found)

    def repair(self) -> int:
        """Finish or undo article writes an earlier run left half-done; returns how many."""
        marked = list(self._iter_records(where={"pending": {"$ne": ""}}))
        if marked:
            with self._batch():
                self._finish(marked)
        self.sync_lexical()
        return len(marked)

    def _finish(self, marked: list[tuple[str, dict[str, Any]]]) -> None:
        for rid, meta in marked:
            committed = str(meta.get("hash") or "")
            if committed:
                self._drop_stale_chunks(rid, committed)
                self.records.update(ids=[rid], metadatas=[{"pending": ""}])
            else:
                self.chunks.delete(where={"article_id": rid})
                self.records.delete(ids=[rid])

    def sync_lexical(self) -> int:
        """Bring the lexical index in line with the committed articles (it may lag after a
        crash, or not exist yet for an older index); returns how many articles it fixed."""
        if self.lexical is None:
            return 0
        committed = self.committed_hashes()
        held = self.lexical.versions()
        extra = [a for a in held if a not in committed]
        missing = [a for a, v in committed.items() if held.get(a) != v]
        self.lexical.delete(extra)
        for i in range(0, len(missing), 200):
            part = missing[i : i + 200]
            got = self.chunks.get(
                where={"article_id": {"$in": part}}, include=["metadatas", "documents"]
            )
            by_article: dict[str, list[tuple[str, dict[str, Any], str]]] = {a: [] for a in part}
            for cid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True):
                m = dict(meta or {})
                aid = str(m.get("article_id"))
                if m.get("version") == committed.get(aid):
                    by_article[aid].append((cid, m, doc or ""))
            self.lexical.replace(
                [_lexical_article(a, committed[a], rows) for a, rows in by_article.items()]
            )
        return len(extra) + len(missing)
