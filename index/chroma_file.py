"""An embedded collection's article records and figures, read straight from Chroma's SQLite
file without importing chromadb (its import is ~0.4 s of a cold `assistant stats`).

An embedded Chroma keeps every record's id and metadata in ``chroma/chroma.sqlite3`` (the
vectors are in HNSW files beside it). :func:`read_index` reads them with the queries
chromadb's own reader runs (chroma's ``rust/segment/src/sqlite_metadata.rs``: a collection's
rows of ``embeddings`` in its metadata segment, in ``embeddings.id`` order, their values from
``embedding_metadata``), all in one read transaction, so a writer in another process is seen
whole or not at all. The store's answers are then computed by the same functions
(index/records.py), so they are the answers chromadb gives.

It answers None, and the caller opens chromadb, whenever the file might read otherwise:

- no file, or no such collection: chromadb creates them, so it should;
- a schema other than the one this was written against (the ``migrations`` table): chromadb
  migrates an older file when it opens it, and a newer schema may keep things elsewhere;
- a write in Chroma's log (``embeddings_queue``) past what the collection's metadata segment
  has applied (``max_seq_id``): chromadb commits the log, then applies it in a second
  transaction, and a process killed in between leaves the rest for the next reader to apply;
- anything SQLite refuses, such as a hot journal left by a killed writer (which only a
  writer may roll back) or a lock held past the timeout.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.chroma_client import local_path
from index.collections import RECORDS_SUFFIX, built_precision, check_built_model
from index.records import ArticleRecord, StoreStats, newest_first, tally

log = logging.getLogger(__name__)

FILE = "chroma.sqlite3"
# the highest migration of each part of the file, as chromadb 1.5 leaves it
SCHEMA = {"embeddings_queue": 2, "metadb": 6, "sysdb": 10}
_TENANT, _DATABASE = "default_tenant", "default_database"
_METADATA_SEGMENT = "urn:chroma:segment/metadata/sqlite"
_DOCUMENT = "chroma:document"  # a record's text, kept among its metadata
_WAIT_S = 5.0


@dataclass(frozen=True)
class IndexFile:
    """What one embedded collection holds, as chromadb would read it."""

    collection: str
    metadata: dict[str, Any]  # the chunk collection's: model, dimension, precision
    chunks: int
    records: list[tuple[str, dict[str, Any]]]  # every article record, in Chroma's order

    def list_articles(
        self, source: str | None = None, author: str | None = None
    ) -> list[ArticleRecord]:
        """As :meth:`index.store.ChromaStore.list_articles`."""
        chosen = (r for r in self.records if not source or r[1].get("source") == source)
        return newest_first(chosen, author)

    def stats(self, embedding_model: str) -> StoreStats:
        """As :meth:`index.store.ChromaStore.stats` on a store opened without the model."""
        return tally(
            self.records,
            self.chunks,
            embedding_model,
            int(self.metadata.get("dimension") or 0),
            built_precision(self.metadata),
        )


def read_index(data_dir: Path | str, collection: str, embedding_model: str) -> IndexFile | None:
    """The collection ``collection`` of the embedded index under ``data_dir``, or None when
    only chromadb can say (see the module's docstring). Raises the store's ConfigError when
    the collection was built with another embedding model than ``embedding_model``."""
    path = local_path(data_dir) / FILE
    if len(collection) < 3 or not path.is_file():
        return None
    try:
        db = sqlite3.connect(
            path.resolve().as_uri() + "?mode=ro", uri=True, timeout=_WAIT_S, isolation_level=None
        )
    except sqlite3.Error as exc:
        log.debug("cannot read %s (%s): chromadb will", path, exc)
        return None
    try:
        db.execute("BEGIN")  # one snapshot for every query below
        found = _read(db, collection)
    except sqlite3.Error as exc:
        log.debug("cannot read %s (%s): chromadb will", path, exc)
        return None
    finally:
        db.close()
    if found is not None:
        check_built_model(collection, found.metadata, embedding_model, None)
    return found


def _read(db: sqlite3.Connection, collection: str) -> IndexFile | None:
    schema = dict(db.execute("SELECT dir, max(version) FROM migrations GROUP BY dir"))
    if schema != SCHEMA:
        log.debug("Chroma's file has the schema %s, not %s: chromadb reads it", schema, SCHEMA)
        return None
    chunks = _metadata_segment(db, collection)
    records = _metadata_segment(db, collection + RECORDS_SUFFIX)
    if chunks is None or records is None or _log_ahead(db, *chunks) or _log_ahead(db, *records):
        return None
    (count,) = db.execute(
        "SELECT count(id) FROM embeddings WHERE segment_id = ?", (chunks[1],)
    ).fetchone()
    return IndexFile(
        collection, _collection_metadata(db, chunks[0]), int(count), _records(db, records[1])
    )


def _metadata_segment(db: sqlite3.Connection, name: str) -> tuple[str, str] | None:
    """(collection id, metadata segment id) of the collection ``name``, if there is one."""
    row = db.execute(
        "SELECT c.id, s.id FROM collections c "
        "JOIN databases d ON d.id = c.database_id "
        "JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA' AND s.type = ? "
        "WHERE c.name = ? AND d.name = ? AND d.tenant_id = ?",
        (_METADATA_SEGMENT, name, _DATABASE, _TENANT),
    ).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def _log_ahead(db: sqlite3.Connection, collection_id: str, segment_id: str) -> bool:
    """Whether Chroma's log holds a write to the collection that its metadata segment has
    not applied (the log's topic for a collection ends with its id)."""
    row = db.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment_id,)).fetchone()
    applied = int(row[0]) if row and row[0] is not None else 0
    ahead = db.execute(
        "SELECT 1 FROM embeddings_queue WHERE seq_id > ? AND topic LIKE ? LIMIT 1",
        (applied, f"%/{collection_id}"),
    ).fetchone()
    if ahead:
        log.debug("collection %s has writes not yet applied: chromadb applies them", collection_id)
    return ahead is not None


def _value(row: tuple[Any, ...]) -> Any:
    """A metadata value as chromadb reads it: the first set of string, int, float, bool."""
    string, integer, real, boolean = row
    if string is not None:
        return string
    if integer is not None:
        return integer
    if real is not None:
        return real
    return None if boolean is None else bool(boolean)


def _collection_metadata(db: sqlite3.Connection, collection_id: str) -> dict[str, Any]:
    rows = db.execute(
        "SELECT key, str_value, int_value, float_value, bool_value FROM collection_metadata "
        "WHERE collection_id = ?",
        (collection_id,),
    )
    values = {key: _value(tuple(rest)) for key, *rest in rows}
    return {key: value for key, value in values.items() if value is not None}


def _records(db: sqlite3.Connection, segment_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every record of a metadata segment with its metadata (not its text), in Chroma's
    order. Our records hold scalar values only (lists go in as JSON strings), so Chroma's
    table of array values has nothing of theirs."""
    rows = db.execute(
        "SELECT e.id, e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, "
        "m.bool_value FROM embeddings e "
        "LEFT JOIN embedding_metadata m ON m.id = e.id AND m.key <> ? "
        "WHERE e.segment_id = ? ORDER BY e.id",
        (_DOCUMENT, segment_id),
    )
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    for offset, rid, key, *rest in rows:
        _, meta = out.setdefault(offset, (str(rid), {}))
        value = _value(tuple(rest)) if key is not None else None
        if value is not None:
            meta[key] = value
    return list(out.values())
