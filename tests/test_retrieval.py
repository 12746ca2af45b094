"""Unit tests of retrieval's pure logic over an in-memory store that answers like
ChromaStore and the lexical index do: reciprocal rank fusion, filters, the as-of bound,
recency, committed versions and near-copy collapse. No model, no Chroma."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest

from assistant.retrieval import Filters, Retriever, as_of_bound
from index.records import ChunkHit


def hit(cid: str, text: str, *, article: str | None = None, day: int | None = None,
        source: str = "Wire", score: float = 0.5, version: str = "v1") -> ChunkHit:  # fmt: skip
    meta: dict[str, Any] = {"article_id": article or cid, "title": cid, "source": source,
                            "start": 0, "end": len(text), "version": version}  # fmt: skip
    if day is not None:
        published = datetime(2025, 6, day, tzinfo=UTC)
        meta["published"] = published.isoformat()
        meta["published_ts"] = int(published.timestamp())
    return ChunkHit(cid, text, meta, score)


class FakeLexical:
    """BM25 hits in a fixed order; like the real index it drops chunks after ``as_of_ts``."""

    def __init__(self, ranked: list[tuple[str, float]], hits: dict[str, ChunkHit]) -> None:
        self.ranked = ranked
        self.hits = hits
        self.calls: list[dict[str, Any]] = []

    def search(self, terms: Sequence[str], k: int = 20, sources: Sequence[str] | None = None,
               since_ts: int | None = None, until_ts: int | None = None,
               as_of_ts: int | None = None) -> list[tuple[str, float]]:  # fmt: skip
        self.calls.append({"terms": list(terms), "k": k, "as_of_ts": as_of_ts})

        def eligible(cid: str) -> bool:
            ts = self.hits[cid].metadata.get("published_ts")
            return as_of_ts is None or ts is None or ts <= as_of_ts

        return [(c, s) for c, s in self.ranked if eligible(c)][:k]


class FakeStore:
    """Dense hits in a fixed order (``where`` filters applied as Chroma would)."""

    def __init__(
        self,
        dense: list[ChunkHit],
        lexical: list[tuple[str, float]],
        extra: Sequence[ChunkHit] = (),
        committed: dict[str, str] | None = None,
    ) -> None:
        self.dense = dense
        self.all = {h.id: h for h in [*dense, *extra]}
        self.lexical = FakeLexical(lexical, self.all)
        self.committed = committed
        self.wheres: list[Any] = []

    def query(
        self, embedding: Any, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[ChunkHit]:
        self.wheres.append(where)
        return [h for h in self.dense if _matches(h.metadata, where)][:k]

    def get_chunks(self, ids: Sequence[str]) -> list[ChunkHit]:
        return [self.all[i] for i in ids if i in self.all]

    def committed_versions(self, article_ids: Sequence[str]) -> dict[str, str]:
        if self.committed is not None:
            return {a: v for a, v in self.committed.items() if a in article_ids}
        return {a: "v1" for a in article_ids}


def _matches(meta: dict[str, Any], where: dict[str, Any] | None) -> bool:
    if not where:
        return True
    if "$and" in where:
        return all(_matches(meta, w) for w in where["$and"])
    ((field, cond),) = where.items()
    ((op, value),) = cond.items()
    have = meta.get(field)
    if have is None:
        return False
    return {"$in": lambda: have in value, "$gte": lambda: have >= value,
            "$lte": lambda: have <= value}[op]()  # fmt: skip


class FakeEmbedder:
    name = "fake"
    dimension = 2

    def embed_query(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0], dtype=np.float32)


def retriever(store: FakeStore, **options: Any) -> Retriever:
    return Retriever(store, FakeEmbedder(), **options)  # type: ignore[arg-type]


def test_reciprocal_rank_fusion() -> None:
    a, b, c = hit("a", "alpha one"), hit("b", "beta two"), hit("c", "gamma three")
    store = FakeStore([a, b], [("c", 9.0), ("b", 5.0)], extra=[c])
    got = retriever(store).retrieve("question", k=3).passages
    # b is second on both sides: 2/62 beats a's 1/61 and c's 1/61 (a first: dense wins ties)
    assert [p.chunk_id for p in got] == ["b", "a", "c"]
    assert got[0].score == pytest.approx(2 / 62)
    assert (got[0].dense_score, got[0].lexical_score) == (0.5, 5.0)
    assert got[2].dense_score is None and got[2].lexical_score == 9.0
    dense_only = retriever(store, mode="dense").retrieve("question", k=3).passages
    assert [p.chunk_id for p in dense_only] == ["a", "b"] and not store.lexical.calls[1:]


def test_uncommitted_chunks_are_never_read() -> None:
    a, b = hit("a", "alpha", version="v2"), hit("b", "beta")
    store = FakeStore([a, b], [], committed={"a": "v1", "b": "v1"})
    assert [p.chunk_id for p in retriever(store, mode="dense").retrieve("q").passages] == ["b"]


def test_filters() -> None:
    f = Filters(sources=["Wire"], since="2025-06-01", until=date(2025, 6, 8))
    lo, hi = f.bounds()
    assert lo == int(datetime(2025, 6, 1, tzinfo=UTC).timestamp())
    assert hi == int(datetime(2025, 6, 8, 23, 59, 59, tzinfo=UTC).timestamp())  # whole day
    assert f.chroma_where() == {"$and": [{"source": {"$in": ["Wire"]}},
                                         {"published_ts": {"$gte": lo}},
                                         {"published_ts": {"$lte": hi}}]}  # fmt: skip
    assert Filters().empty and Filters().chroma_where() is None
    assert Filters(sources=["Wire"]).chroma_where() == {"source": {"$in": ["Wire"]}}
    with pytest.raises(ValueError, match="date"):
        Filters(since="someday")
    store = FakeStore([hit("a", "x", source="Wire"), hit("b", "y", source="Post")], [])
    got = retriever(store, mode="dense").retrieve("q", filters=Filters(sources=["Post"]))
    assert [p.chunk_id for p in got.passages] == ["b"]


def test_as_of_is_a_hard_bound() -> None:
    assert as_of_bound(datetime(2025, 6, 8)) == as_of_bound(datetime(2025, 6, 8, 23, 59, 59))
    assert as_of_bound(datetime(2025, 6, 8, 12, 0)) < as_of_bound(datetime(2025, 6, 8))
    later, earlier, undated = hit("later", "x", day=12), hit("earlier", "y", day=5), hit("u", "z")
    store = FakeStore([later, earlier, undated], [("later", 3.0)], extra=[])
    got = retriever(store, recency_days=0).retrieve("q", k=5, as_of=datetime(2025, 6, 8))
    ids = [p.chunk_id for p in got.passages]
    assert "later" not in ids and set(ids) == {"earlier", "u"}  # undated stays eligible
    assert store.lexical.calls[-1]["as_of_ts"] == as_of_bound(datetime(2025, 6, 8))


def test_recency_favours_the_days_before() -> None:
    old, recent = hit("old", "x", day=1), hit("recent", "y", day=7)
    store = FakeStore([old, recent], [])
    plain = retriever(store, mode="dense", recency_days=0).retrieve("q", as_of=datetime(2025, 6, 8))
    assert [p.chunk_id for p in plain.passages] == ["old", "recent"]
    near = retriever(store, mode="dense").retrieve("q", as_of=datetime(2025, 6, 8))
    assert [p.chunk_id for p in near.passages] == ["recent", "old"]


def test_near_copies_collapse_into_also_in() -> None:
    story = "The governor said two thousand Guard members would arrive in the city on Sunday."
    a = hit("a", story, article="wire", source="Wire")
    b = hit("b", "Updated: " + story, article="paper", source="Paper")
    c = hit("c", "Something else entirely happened at the council meeting.", article="other")
    got = retriever(FakeStore([a, b, c], []), mode="dense").retrieve("q", k=2).passages
    assert [p.chunk_id for p in got] == ["a", "c"]
    assert [r.article_id for r in got[0].also_in] == ["paper"]
