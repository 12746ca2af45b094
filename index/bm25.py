"""Pruned BM25 search over the lexical index's FTS5 table, for indexes of millions of chunks.

A full FTS5 BM25 query scores every row that holds any query word: at 1M chunks a question
matches hundreds of thousands of rows and takes a large part of a second here. FTS5's
bm25() is a sum over the query terms, each term's part depending only on that term, the row
and whole-index counts, so a query can be split: the rarest terms find and score the
candidates, the common terms' part is added for just those rows, and a MaxScore bound says
when nothing outside the candidates can reach the top k. See :meth:`Pruner.search`.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence

Ranked = Callable[[Sequence[str], int, str, Sequence[object]], list[tuple[int, float]]]

_PROBE = """
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe USING fts5(
    text, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_vocab USING fts5vocab(temp, probe, instance);
"""

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


class Pruner:
    """The pruned search and the whole-index counts it needs, over one connection (the
    caller serialises use, as :class:`index.lexical.LexicalIndex` does with its lock)."""

    def __init__(
        self, db: sqlite3.Connection, prune_above: int | None, rare_rows: int, candidates: int
    ) -> None:
        self.db = db
        self.prune_above = prune_above
        self.rare_rows = rare_rows
        self.candidates = candidates
        self.last_exact = True
        self._has_probe = False
        self._stems: dict[str, str] = {}
        self._df: dict[str, int] = {}
        self._df_version = -1

    def forget(self) -> None:
        """Drop the document counts (this connection wrote)."""
        self._df.clear()

    def search(
        self, terms: Sequence[str], k: int, where: str, args: Sequence[object], ranked: Ranked
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
        (``last_exact`` tells which; bench/scale.py measures how often and what it
        costs in recall)."""
        self.last_exact = True
        if self.prune_above is None:
            return None
        n_row, n_tok = self.totals()
        if n_row <= self.prune_above or n_tok <= 0:
            return None
        low = {t: t.lower() for t in terms}
        folded = self.fts_stems(list(low.values()))
        if folded is None:
            return None
        stems = {t: folded[low[t]] for t in terms}
        df = self.doc_counts(sorted(set(stems.values())))
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
            idf[stems[t]] = idf.get(stems[t], 0.0) + bm25_idf(n_row, df.get(stems[t], 0))
        m = max(self.candidates, 4 * k)
        cands = ranked(rare, m, where, args)
        if not cands:
            return None
        extra = self.common_part([r for r, _ in cands], idf, n_tok / n_row)
        if extra is None:
            return None
        scored = sorted(((r, s + extra.get(r, 0.0)) for r, s in cands), key=lambda x: -x[1])
        bound = sum(v * (_K1 + 1) for v in idf.values())
        if len(cands) == m:
            bound += cands[-1][1]
        self.last_exact = len(scored) >= k and scored[k - 1][1] >= bound
        return scored[:k]

    def fts_stems(self, words: Sequence[str]) -> dict[str, str] | None:
        """Each word as FTS5 indexes it (its own tokenizer, not a copy of it: one row of the
        words goes through a scratch table), or None when a word is not exactly one token.
        Remembered per connection."""
        todo = sorted({w for w in words if w not in self._stems})
        if todo:
            if not self._has_probe:
                self.db.executescript(_PROBE)
                self._has_probe = True
            self.db.execute("INSERT INTO temp.probe(rowid, text) VALUES (1, ?)", [" ".join(todo)])
            got = dict(self.db.execute("SELECT offset, term FROM temp.probe_vocab"))
            self.db.execute("INSERT INTO temp.probe(probe) VALUES ('delete-all')")
            if len(got) != len(todo) or set(got) != set(range(len(todo))):
                return None
            if len(self._stems) > 100_000:
                self._stems.clear()
            self._stems.update({w: str(got[i]) for i, w in enumerate(todo)})
        return {w: self._stems[w] for w in words}

    def common_part(
        self, rowids: list[int], idf: dict[str, float], avgdl: float
    ) -> dict[int, float] | None:
        """The common terms' bm25 part of each of ``rowids`` (FTS5's formula), or None when
        a word could not be matched to FTS5's tokens.

        Term counts: the rows' words that could stem to a common term (same start) are
        looked up in FTS5's tokenizer; row lengths are FTS5's own."""
        marks = ",".join("?" * len(rowids))
        texts = self.db.execute(
            f"SELECT id, c0 FROM chunks_content WHERE id IN ({marks})", rowids
        ).fetchall()
        lengths = {
            int(i): varint(bytes(sz), 0)[0]
            for i, sz in self.db.execute(
                f"SELECT id, sz FROM chunks_docsize WHERE id IN ({marks})", rowids
            )
        }
        # str.find over all the rows' text at once (much faster than a regex here) for the
        # start a word must have to stem to a common term; the tokenizer then decides
        starts = sorted({s for t in idf for s in word_starts(t)})
        docs = [int(i) for i, _ in texts]
        parts = [fold(str(t or "")).lower() for _, t in texts]
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
        stems = self.fts_stems(sorted({w for ws in found.values() for w in ws}))
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

    def totals(self) -> tuple[int, int]:
        """Rows and tokens in the index, from FTS5's own averages record (what bm25 uses)."""
        row = self.db.execute("SELECT block FROM chunks_data WHERE id = 1").fetchone()
        if row is None or not row[0]:
            return 0, 0
        n_row, pos = varint(bytes(row[0]), 0)
        n_tok, _ = varint(bytes(row[0]), pos)
        return n_row, n_tok

    def doc_counts(self, stems: Sequence[str]) -> dict[str, int]:
        """Rows holding each stem. FTS5 counts them by walking the term's whole list (20 ms
        for a few common words at 1M chunks), so counts are kept until the index changes:
        a write here clears them, a commit by another connection moves ``data_version``."""
        version = int(self.db.execute("PRAGMA data_version").fetchone()[0])
        if version != self._df_version:
            self._df.clear()
            self._df_version = version
        todo = sorted({s for s in stems if s not in self._df})
        if todo:
            rows = dict(
                self.db.execute(
                    f"SELECT term, doc FROM vocab WHERE term IN ({','.join('?' * len(todo))})",
                    todo,
                ).fetchall()
            )
            if len(self._df) > 100_000:
                self._df.clear()
            self._df.update({t: int(rows.get(t, 0)) for t in todo})
        return {t: self._df[t] for t in stems if self._df[t]}


def bm25_idf(n_row: int, df: int) -> float:
    """FTS5's bm25() idf, floored as it floors it."""
    return max(1e-6, math.log((n_row - df + 0.5) / (df + 0.5)))


def word_starts(stem: str) -> tuple[str, ...]:
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


def fold(text: str) -> str:
    """Without diacritics, as FTS5's ``remove_diacritics`` sees letters."""
    if text.isascii():
        return text
    return _MARKS.sub("", unicodedata.normalize("NFD", text))


def varint(blob: bytes, pos: int) -> tuple[int, int]:
    """SQLite's variable-length integer at ``pos`` (FTS5 stores its counts in it)."""
    value = 0
    for i in range(8):
        byte = blob[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos + i + 1
    return (value << 8) | blob[pos + 8], pos + 9
