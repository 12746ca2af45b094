"""The lexical (BM25) side of the index: SQLite FTS5 beside the Chroma data.

FTS5 ranks with Okapi BM25, updates in place (an ingest or a delete touches only its own
articles, nothing is rebuilt per query or per ingest) and commits atomically, so the lexical
index can be kept in step with Chroma article by article. It records the version of every
article it holds; :meth:`index.store.ChromaStore.sync_lexical` compares those with Chroma's
committed versions and fixes any difference (a crash between the two writes, an index built
before this file existed, a collection shared through a Chroma server).
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from index.errors import StoreError

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

_PROBE = """
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe USING fts5(
    text, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_vocab USING fts5vocab(temp, probe, instance);
"""

_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r"[^\W_]+")  # a unicode61 token: letters and digits
_MARKS = re.compile("[\u0300-\u036f]")
_K1, _B = 1.2, 0.75  # FTS5's bm25() defaults
# Up to this many rows every search is the one full FTS5 query (exact BM25; ~40 ms at
# 100k chunks here). Above it searches are pruned (bench/RESULTS.md, "Scale").
PRUNE_ABOVE = 200_000
# The rare terms of a pruned query: the rarest ones whose rows add up to at most this many.
RARE_ROWS = 20_000
# Candidate rows a pruned query re-scores (at least; 4 × k when larger).
CANDIDATES = 200


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


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopwords, from the copy llama-index ships (no download)."""
    import llama_index.core
    import nltk
    from nltk.corpus import stopwords

    bundled = Path(llama_index.core.__file__).parent / "_static" / "nltk_cache"
    if str(bundled) not in nltk.data.path:
        nltk.data.path.append(str(bundled))
    return frozenset(stopwords.words("english"))


def query_terms(text: str, stopwords: Iterable[str] | None = None) -> list[str]:
    """Lower-cased words of ``text`` without stopwords, in first-occurrence order."""
    stop = set(english_stopwords() if stopwords is None else stopwords)
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in stop and word not in seen:
            seen[word] = None
    return list(seen)


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
        :meth:`_search_pruned`); None never prunes. ``rare_rows`` and ``candidates`` are
        the pruned search's two knobs."""
        self.path = Path(path)
        self.prune_above = prune_above
        self.rare_rows = rare_rows
        self.candidates = candidates
        self.last_exact = True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the lexical index {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self._has_probe = False
        self._stems: dict[str, str] = {}
        self._df: dict[str, int] = {}
        self._df_version = -1

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
    ) -> list[tuple[str, float]]:
        """Chunk ids and BM25 scores (higher is better) of chunks holding any of ``terms``.

        On a large index the query is answered in two steps that give the same result as
        one FTS5 query over all terms (see :meth:`_search_pruned`); when that cannot be
        shown for a query, the one full query runs."""
        if not terms:
            return []
        where, args = _filter_sql(sources, since_ts, until_ts)
        with self._lock:
            ranked = self._search_pruned(terms, k, where, args)
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

    def _search_pruned(
        self, terms: Sequence[str], k: int, where: str, args: Sequence[object]
    ) -> list[tuple[int, float]] | None:
        """On an index of more than ``prune_above`` rows, the top ``k`` without scoring
        every row that holds a common word; None means: run the full query.

        FTS5's bm25() is a sum over the query terms, each term's part depending only on the
        term, the row and whole-index counts. So: (1) the query of the rarest terms (those
        whose rows add up to at most ``rare_rows``) gives the best candidate rows with
        their rare part; (2) the common terms' part of just those rows is added with
        FTS5's formula (their term counts from a scratch FTS5 table with the same
        tokenizer, their lengths from the index), giving each candidate its full score.
        A row that is not a candidate scores at most (the last candidate's rare part, or
        nothing when all rows holding a rare term are candidates) + idf × (k1 + 1) for each
        common term. When the k-th candidate reaches that bound the top k is exactly the
        full query's (the "MaxScore" argument); otherwise it is the best of the candidates,
        which are re-scored exactly but may miss a row that holds only common words
        (``self.last_exact`` tells which; bench/scale.py measures how often and what it
        costs in recall)."""
        self.last_exact = True
        if self.prune_above is None:
            return None
        n_row, n_tok = self._totals()
        if n_row <= self.prune_above or n_tok <= 0:
            return None
        low = {t: t.lower() for t in terms}
        folded = self._fts_stems(list(low.values()))
        if folded is None:
            return None
        stems = {t: folded[low[t]] for t in terms}
        df = self._doc_counts(sorted(set(stems.values())))
        by_df = sorted(terms, key=lambda t: df.get(stems[t], 0))
        rare: list[str] = []
        spent = 0
        for t in by_df:
            if rare and spent + df.get(stems[t], 0) > self.rare_rows:
                break
            rare.append(t)
            spent += df.get(stems[t], 0)
        common = by_df[len(rare) :]
        if not common:
            return None  # the rare query is the full query
        # two query words of one stem ("use", "us") are two phrases to FTS5: counted twice
        idf: dict[str, float] = {}
        for t in common:
            idf[stems[t]] = idf.get(stems[t], 0.0) + _idf(n_row, df.get(stems[t], 0))
        m = max(self.candidates, 4 * k)
        cands = self._ranked(rare, m, where, args)
        if not cands:
            return None
        extra = self._common_part([r for r, _ in cands], idf, n_tok / n_row)
        if extra is None:
            return None
        scored = sorted(((r, s + extra.get(r, 0.0)) for r, s in cands), key=lambda x: -x[1])
        bound = sum(v * (_K1 + 1) for v in idf.values())
        if len(cands) == m:
            bound += cands[-1][1]
        self.last_exact = len(scored) >= k and scored[k - 1][1] >= bound
        return scored[:k]

    def _fts_stems(self, words: Sequence[str]) -> dict[str, str] | None:
        """Each word as FTS5 indexes it (its own tokenizer, not a copy of it: one row of the
        words goes through a scratch table), or None when a word is not exactly one token.
        Remembered per connection."""
        todo = sorted({w for w in words if w not in self._stems})
        if todo:
            if not self._has_probe:
                self._db.executescript(_PROBE)
                self._has_probe = True
            self._db.execute("INSERT INTO temp.probe(rowid, text) VALUES (1, ?)", [" ".join(todo)])
            got = dict(self._db.execute("SELECT offset, term FROM temp.probe_vocab"))
            self._db.execute("INSERT INTO temp.probe(probe) VALUES ('delete-all')")
            if len(got) != len(todo) or set(got) != set(range(len(todo))):
                return None
            if len(self._stems) > 100_000:
                self._stems.clear()
            self._stems.update({w: str(got[i]) for i, w in enumerate(todo)})
        return {w: self._stems[w] for w in words}

    def _common_part(
        self, rowids: list[int], idf: dict[str, float], avgdl: float
    ) -> dict[int, float] | None:
        """The common terms' bm25 part of each of ``rowids`` (FTS5's formula), or None when
        a word could not be matched to FTS5's tokens.

        Term counts: the rows' words that could stem to a common term (same start) are
        looked up in FTS5's tokenizer; row lengths are FTS5's own."""
        marks = ",".join("?" * len(rowids))
        texts = self._db.execute(
            f"SELECT id, c0 FROM chunks_content WHERE id IN ({marks})", rowids
        ).fetchall()
        lengths = {
            int(i): _varint(bytes(sz), 0)[0]
            for i, sz in self._db.execute(
                f"SELECT id, sz FROM chunks_docsize WHERE id IN ({marks})", rowids
            )
        }
        # str.find over all the rows' text at once (much faster than a regex here) for the
        # start a word must have to stem to a common term; the tokenizer then decides
        starts = sorted({s for t in idf for s in _word_starts(t)})
        docs = [int(i) for i, _ in texts]
        parts = [_fold(str(t or "")).lower() for _, t in texts]
        text = "\n".join(parts)
        bounds = list(itertools.accumulate((len(p) + 1 for p in parts), initial=0))
        at: dict[int, str] = {}
        for start in starts:
            i = text.find(start)
            while i != -1:
                if (i == 0 or not text[i - 1].isalnum()) and i not in at:
                    token = _TOKEN.match(text, i)
                    if token:
                        at[i] = token.group()
                i = text.find(start, i + 1)
        found: dict[int, list[str]] = {d: [] for d in docs}
        for i, word in at.items():
            found[docs[bisect.bisect_right(bounds, i) - 1]].append(word)
        stems = self._fts_stems(sorted({w for ws in found.values() for w in ws}))
        if stems is None:
            return None
        out: dict[int, float] = {}
        for doc, words in found.items():
            counts: dict[str, int] = {}
            for w in words:
                if stems[w] in idf:
                    counts[stems[w]] = counts.get(stems[w], 0) + 1
            norm = _K1 * (1 - _B + _B * lengths.get(doc, 0) / avgdl)
            out[doc] = sum(idf[t] * tf * (_K1 + 1) / (tf + norm) for t, tf in counts.items())
        return out

    def _totals(self) -> tuple[int, int]:
        """Rows and tokens in the index, from FTS5's own averages record (what bm25 uses)."""
        row = self._db.execute("SELECT block FROM chunks_data WHERE id = 1").fetchone()
        if row is None or not row[0]:
            return 0, 0
        n_row, pos = _varint(bytes(row[0]), 0)
        n_tok, _ = _varint(bytes(row[0]), pos)
        return n_row, n_tok

    def _doc_counts(self, stems: Sequence[str]) -> dict[str, int]:
        """Rows holding each stem. FTS5 counts them by walking the term's whole list (20 ms
        for a few common words at 1M chunks), so counts are kept until the index changes:
        a write here clears them, a commit by another connection moves ``data_version``."""
        version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        if version != self._df_version:
            self._df.clear()
            self._df_version = version
        todo = sorted({s for s in stems if s not in self._df})
        if todo:
            rows = dict(
                self._db.execute(
                    f"SELECT term, doc FROM vocab WHERE term IN ({','.join('?' * len(todo))})",
                    todo,
                ).fetchall()
            )
            if len(self._df) > 100_000:
                self._df.clear()
            self._df.update({t: int(rows.get(t, 0)) for t in todo})
        return {t: self._df[t] for t in stems if self._df[t]}

    def document_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each term (after stemming, as FTS5 indexes it), and the
        number of chunks: what an IDF weight needs."""
        stems = {t: self._stem(t) for t in terms}
        with self._lock:
            total = self._totals()[0]
            df = self._doc_counts(sorted(set(stems.values())))
        return {t: int(df.get(s, 0)) for t, s in stems.items()}, total

    def _stem(self, term: str) -> str:
        return stem(term)

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
                self._df.clear()

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
                self._df.clear()

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


def _idf(n_row: int, df: int) -> float:
    """FTS5's bm25() idf, floored as it floors it."""
    return max(1e-6, math.log((n_row - df + 0.5) / (df + 0.5)))


def _word_starts(stem: str) -> tuple[str, ...]:
    """What every word that Porter's algorithm stems to ``stem`` starts with: the stem less
    its last letter, which may have been added or rewritten ("facing" → "face", "day" →
    "dai"), or less two for a longer stem ("agreed" → "agre"); a two-letter stem whole,
    or with "y" for a final "i" ("eyed" → "ei"). tests/test_lexical.py checks this on
    every word of 400 real articles."""
    if len(stem) > 4:
        return (stem[:-2],)
    if len(stem) > 2:
        return (stem[:-1],)
    return (stem, stem[:-1] + "y") if stem.endswith("i") else (stem,)


def _fold(text: str) -> str:
    """Without diacritics, as FTS5's ``remove_diacritics`` sees letters."""
    if text.isascii():
        return text
    return _MARKS.sub("", unicodedata.normalize("NFD", text))


def _varint(blob: bytes, pos: int) -> tuple[int, int]:
    """SQLite's variable-length integer at ``pos`` (FTS5 stores its counts in it)."""
    value = 0
    for i in range(8):
        byte = blob[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos + i + 1
    return (value << 8) | blob[pos + 8], pos + 9


@lru_cache(maxsize=1)
def _porter() -> Any:
    """Porter's original algorithm, the one FTS5's ``porter`` tokenizer applies."""
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM)


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """A word as the lexical index stems it."""
    return str(_porter().stem(word.lower()))
