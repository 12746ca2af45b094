"""What the index keeps about articles and chunks, and the flat Chroma metadata it keeps it as.

:class:`ArticleRecord` (one article besides its chunks), :class:`StoreStats` (the index's
figures) and :class:`ChunkHit` (a chunk a query returned) are the types the store hands out;
the functions here turn an ingested article into Chroma metadata, metadata back into a
record, and a collection's records into the list and the figures the store answers with.
Nothing here talks to Chroma, so a reader of its files (index/chroma_file.py) shares them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from index.bylines import author_fields, wrote
from index.chunking import Chunk, ChunkedArticle
from index.corrections import Correction, find_correction


class ArticleRecord(BaseModel):
    """What the index keeps about one article besides its chunks."""

    id: str
    title: str
    url: str | None = None
    source: str = ""
    authors: list[str] = Field(default_factory=list)
    published: datetime | None = None
    correction: Correction | None = None  # the correction or update note the text carries
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


def to_ts(value: datetime | None) -> int | None:
    """A date as the integer timestamp Chroma filters on."""
    return int(value.timestamp()) if value else None


def from_ts(value: Any) -> datetime | None:
    """The date of an integer timestamp (None for anything else)."""
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
        **author_fields(article.authors),
        **_note_fields(article.text),
    }
    if article.published is not None:
        meta["published_ts"] = to_ts(article.published)
        meta["published"] = article.published.isoformat()
    return meta


def _note_fields(text: str) -> dict[str, str]:
    found = find_correction(text)
    return found.fields() if found else {}


def record_metadata(item: ChunkedArticle) -> dict[str, Any]:
    """Flat Chroma metadata of an article's record, committed (``hash``) and still marked
    ``pending`` until its old chunks are gone (see index/store.py)."""
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
        **author_fields(article.authors),
        **_note_fields(article.text),
    }
    if article.published is not None:
        meta["published_ts"] = to_ts(article.published)
    return meta


def article_record(id: str, meta: dict[str, Any], text: str | None = None) -> ArticleRecord:
    """The record of an article from its record's metadata (and text, when read)."""
    return ArticleRecord(
        id=id,
        title=str(meta.get("title", "")),
        url=str(meta.get("url") or "") or None,
        source=str(meta.get("source", "")),
        authors=json.loads(str(meta.get("authors") or "[]")),
        published=from_ts(meta.get("published_ts")),
        correction=Correction.from_fields(meta),
        version=str(meta.get("hash", "")),
        chunk_ids=json.loads(str(meta.get("chunk_ids") or "[]")),
        ingested_at=from_ts(meta.get("ingested_ts")),
        origin=str(meta.get("origin", "")),
        text=text,
    )


def newest_first(
    records: Iterable[tuple[str, dict[str, Any]]], author: str | None = None
) -> list[ArticleRecord]:
    """The committed articles among ``records`` (id and record metadata), newest first; with
    ``author``, only those that author wrote (or co-wrote)."""
    out = [article_record(rid, m) for rid, m in records if m.get("hash")]
    if author:
        out = [r for r in out if wrote(r.authors, [author])]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(out, key=lambda r: (r.published or oldest, r.id), reverse=True)


def tally(
    records: Iterable[tuple[str, dict[str, Any]]],
    chunks: int,
    embedding_model: str,
    dimension: int,
    precision: str,
) -> StoreStats:
    """The figures of a collection from its records (id and record metadata, in the
    collection's order, which orders outlets of equal counts) and its chunk count."""
    sources: Counter[str] = Counter()
    dates: list[int] = []
    articles = 0
    for _, meta in records:
        if not meta.get("hash"):
            continue
        articles += 1
        sources[str(meta.get("source") or "unknown")] += 1
        if isinstance(meta.get("published_ts"), int):
            dates.append(int(meta["published_ts"]))
    return StoreStats(
        articles=articles,
        chunks=chunks,
        sources=dict(sources.most_common()),
        earliest=from_ts(min(dates)) if dates else None,
        latest=from_ts(max(dates)) if dates else None,
        embedding_model=embedding_model,
        dimension=dimension,
        precision=precision,
    )
