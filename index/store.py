"""Chroma storage: reading and writing an index's chunks and article records.

:class:`ChromaStore` reads and writes the two collections that
:class:`index.collections.ChromaCollections` opens (and keeps current across processes); the
record types are in index/records.py and the client in index/chroma_client.py.

Crash safety: an article is written in steps that each leave a state :meth:`ChromaStore.repair`
can finish or undo. Its record is marked ``pending`` with the new content hash, the new chunks
are added (their ids carry the hash), the record is committed with the new hash, old chunks are
deleted, and the mark is cleared. Repair, run before every ingest, deletes the chunks of a
marked article whose hash is not the committed one, and drops records never committed.
Readers never wait for that repair: :meth:`ChromaStore.committed_versions` tells which chunks
belong to a committed article version, and retrieval keeps only those.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from index.chunking import ChunkedArticle
from index.collections import ChromaCollections
from index.errors import ConfigError, StoreError
from index.lexical import LexicalArticle, LexicalChunk, LexicalIndex
from index.records import (
    ArticleRecord,
    ChunkHit,
    StoreStats,
    article_record,
    chunk_metadata,
    newest_first,
    record_metadata,
    tally,
)

log = logging.getLogger(__name__)

_PAGE = 2000


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


class ChromaStore(ChromaCollections):
    """Chunks and article records of one collection."""

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

    def list_articles(
        self, source: str | None = None, author: str | None = None
    ) -> list[ArticleRecord]:
        """Committed articles, newest first; only ``source``'s, ``author``'s when given."""
        return newest_first(self._iter_records({"source": source} if source else None), author)

    def article_ids_where(self, where: dict[str, Any]) -> list[str]:
        """The ids of the committed articles whose records match ``where``."""
        return [rid for rid, m in self._iter_records(where) if m.get("hash")]

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
        return article_record(article_id, dict(got["metadatas"][0]), text)

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
        records = list(self._iter_records())
        return tally(
            records,
            int(self.chunks.count()),
            self.embedding_model,
            self.dimension,
            self.built_precision,
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
                metadatas=[record_metadata(i) for i in items[part]],
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

    def follow(self) -> int:
        """Bring the lexical index in line with what other processes on the same Chroma
        server wrote, when the write marker moved since the last look; returns how many
        articles it fixed. In step, it costs one small request (no records are read)."""
        marker = self.written_marker()
        if marker == self._followed:
            return 0
        fixed = self.sync_lexical()
        # only now: a write after the marker was read moved it again, so it is seen next time
        self._followed = marker
        if fixed:
            log.info("the lexical index followed other processes' writes: %d article(s)", fixed)
        return fixed

    def sync_lexical(self) -> int:
        """Bring the lexical index in line with the committed articles (it may lag after a
        crash, not exist yet for an older index, or miss another process's writes through a
        Chroma server); returns how many articles it fixed."""
        if self.lexical is None:
            return 0
        with self._sync_lock:
            return self._sync_lexical(self.lexical)

    def _sync_lexical(self, lexical: LexicalIndex) -> int:
        # what the lexical index holds is read before what Chroma holds: an article this
        # process commits meanwhile is then at worst written twice, never deleted as "extra"
        held = lexical.versions()
        committed = self.committed_hashes()
        extra = [a for a in held if a not in committed]
        missing = [a for a, v in committed.items() if held.get(a) != v]
        lexical.delete(extra)
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
            lexical.replace(
                [_lexical_article(a, committed[a], rows) for a, rows in by_article.items()]
            )
        return len(extra) + len(missing)
