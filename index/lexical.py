"""The lexical (BM25) side of the index: SQLite FTS5 beside the Chroma data.

FTS5 ranks with Okapi BM25, updates in place (an ingest or a delete touches only its own
articles, nothing is rebuilt per query or per ingest) and commits atomically, so the lexical
index can be kept in step with Chroma article by article. It records the version of every
article it holds; :meth:`index.store.ChromaStore.sync_lexical` compares those with Chroma's
committed versions and fixes any difference (a crash between the two writes, an index built
before this file existed, a collection shared through a Chroma server).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.bm25 import CANDIDATES, PRUNE_ABOVE, RARE_ROWS, Pruner
from index.errors import StoreError
from index.text import stem

_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
    text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS chunk_meta (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    published_ts INTEGER
);
CREATE INDEX IF NOT EXISTS chunk_meta_article ON chunk_meta(article_id);
CREATE TABLE IF NOT EXISTS articles (article_id TEXT PRIMARY KEY, version TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(chunks, row);
"""


@dataclass(frozen=True)
class LexicalChunk:
    chunk_id: str
    text: str
    source: str = ""
    published_ts: int | None = None


@dataclass(frozen=True)
class LexicalArticle:
    article_id: str
    version: str
    chunks: Sequence[LexicalChunk]


class LexicalIndex:
    """An FTS5 index of chunk texts; safe to share between threads."""

    def __init__(
        self,
        path: Path | str,
        prune_above: int | None = PRUNE_ABOVE,
        rare_rows: int = RARE_ROWS,
        candidates: int = CANDIDATES,
    ) -> None:
        """``prune_above``: on an index of more rows than this, searches are pruned (see
        :meth:`index.bm25.Pruner.search`); None never prunes. ``rare_rows`` and ``candidates`` are
        the pruned search's two knobs."""
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the lexical index {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self._pruner = Pruner(self._db, prune_above, rare_rows, candidates)

    @property
    def last_exact(self) -> bool:
        """Whether this connection's last search was provably the full query's top k."""
        return self._pruner.last_exact

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading ---------------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT article_id, version FROM articles").fetchall())

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM chunk_meta").fetchone()[0])

    def search(
        self,
        terms: Sequence[str],
        k: int = 20,
        sources: Sequence[str] | None = None,
        since_ts: int | None = None,
        until_ts: int | None = None,
        as_of_ts: int | None = None,
        article_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Chunk ids and BM25 scores (higher is better) of chunks holding any of ``terms``.
        ``as_of_ts`` excludes chunks of articles published after it but keeps undated ones;
        ``article_ids`` (not None) keeps only those articles' chunks.

        On a large index the query is answered in two steps that give the same result as
        one FTS5 query over all terms (see :meth:`index.bm25.Pruner.search`); when that cannot be
        shown for a query, the one full query runs."""
        if not terms:
            return []
        if article_ids is not None and not article_ids:
            return []
        where, args = _filter_sql(sources, since_ts, until_ts)
        if article_ids:
            where += f" AND m.article_id IN ({','.join('?' * len(article_ids))})"
            args.extend(article_ids)
        if as_of_ts is not None:
            where += " AND (m.published_ts <= ? OR m.published_ts IS NULL)"
            args.append(as_of_ts)
        with self._lock:
            ranked = self._pruner.search(terms, k, where, args, self._ranked)
            if ranked is None:
                ranked = self._ranked(terms, k, where, args)
            return self._chunk_ids(ranked)

    def _ranked(
        self, terms: Sequence[str], limit: int, where: str, args: Sequence[object]
    ) -> list[tuple[int, float]]:
        """(rowid, BM25 score) of the ``limit`` best rows holding any of ``terms``."""
        if where:  # filters need each matching row's metadata
            sql = (
                "SELECT chunks.rowid, -bm25(chunks) AS score FROM chunks "
                "JOIN chunk_meta m ON m.rowid = chunks.rowid WHERE chunks MATCH ?"
                f"{where} ORDER BY score DESC LIMIT ?"
            )
        else:  # without, the metadata join would cost a lookup for every matching row
            sql = (
                "SELECT rowid, -bm25(chunks) AS score FROM chunks WHERE chunks MATCH ? "
                "ORDER BY score DESC LIMIT ?"
            )
        rows = self._db.execute(sql, [_match(terms), *args, limit])
        return [(int(r), float(s)) for r, s in rows]

    def _chunk_ids(self, ranked: list[tuple[int, float]]) -> list[tuple[str, float]]:
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        ids = dict(
            self._db.execute(
                f"SELECT rowid, chunk_id FROM chunk_meta WHERE rowid IN ({marks})",
                [r for r, _ in ranked],
            ).fetchall()
        )
        return [(str(ids[r]), s) for r, s in ranked if r in ids]

    def document_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each term (after stemming, as FTS5 indexes it), and the
        number of chunks: what an IDF weight needs."""
        stems = {t: stem(t) for t in terms}
        with self._lock:
            total = self._pruner.totals()[0]
            df = self._pruner.doc_counts(sorted(set(stems.values())))
        return {t: int(df.get(s, 0)) for t, s in stems.items()}, total

    # -- writing ---------------------------------------------------------------------------
    def replace(self, articles: Sequence[LexicalArticle]) -> None:
        """Add articles, replacing any chunks they had, in one transaction."""
        if not articles:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._delete([a.article_id for a in articles])
                for art in articles:
                    for c in art.chunks:
                        cur = self._db.execute(
                            "INSERT INTO chunk_meta(chunk_id, article_id, source, published_ts) "
                            "VALUES (?, ?, ?, ?)",
                            (c.chunk_id, art.article_id, c.source, c.published_ts),
                        )
                        self._db.execute(
                            "INSERT INTO chunks(rowid, text) VALUES (?, ?)", (cur.lastrowid, c.text)
                        )
                    self._db.execute(
                        "INSERT INTO articles(article_id, version) VALUES (?, ?)",
                        (art.article_id, art.version),
                    )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"lexical index write failed: {exc}") from exc
            finally:
                self._pruner.forget()

    def delete(self, article_ids: Sequence[str]) -> None:
        if not article_ids:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._delete(article_ids)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"lexical index delete failed: {exc}") from exc
            finally:
                self._pruner.forget()

    def _delete(self, article_ids: Sequence[str]) -> None:
        for i in range(0, len(article_ids), 500):
            part = list(article_ids[i : i + 500])
            marks = ",".join("?" * len(part))
            self._db.execute(
                "DELETE FROM chunks WHERE rowid IN "
                f"(SELECT rowid FROM chunk_meta WHERE article_id IN ({marks}))",
                part,
            )
            self._db.execute(f"DELETE FROM chunk_meta WHERE article_id IN ({marks})", part)
            self._db.execute(f"DELETE FROM articles WHERE article_id IN ({marks})", part)


def _match(terms: Sequence[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _filter_sql(
    sources: Sequence[str] | None, since_ts: int | None, until_ts: int | None
) -> tuple[str, list[object]]:
    sql, args = "", list[object]()
    if sources:
        sql += f" AND m.source IN ({','.join('?' * len(sources))})"
        args.extend(sources)
    if since_ts is not None:
        sql += " AND m.published_ts >= ?"
        args.append(since_ts)
    if until_ts is not None:
        sql += " AND m.published_ts <= ?"
        args.append(until_ts)
    return sql, args
