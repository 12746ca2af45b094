"""The ingest run against a real Chroma, embedded and as a `chroma run` server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    SAMPLE,
    corpus_rows,
    crash_at_write,
    index_state,
    write_jsonl,
)

from index.articles import Article
from index.chunking import Chunker
from index.embeddings import SentenceTransformerEmbedder
from index.errors import ConfigError
from index.loaded import Loaded
from index.loaders import load_path
from index.pipeline import Ingestor
from index.store import ChromaStore


def _assert_consistent(store: ChromaStore) -> None:
    hashes, chunk_ids, pending = index_state(store)
    assert pending == 0
    expected: set[str] = set()
    for record in store.list_articles():
        expected.update(record.chunk_ids)
        assert record.version == hashes[record.id]
    assert chunk_ids == expected


def test_ingest_sample_and_query(ingestor: Ingestor, embedder: SentenceTransformerEmbedder) -> None:
    report = ingestor.ingest_paths([SAMPLE])
    assert report.ok and len(report.new) == 1 and report.chunks == 3
    store = ingestor.store
    hits = store.query(embedder.embed_query("How many Guard members were deployed?"), k=3)
    top = hits[0]
    assert "deploy 2,000 National Guard members" in top.text
    sentences = json.loads(top.metadata["sentences"])
    start, end = top.metadata["start"], top.metadata["end"]
    record = store.get_article(top.metadata["article_id"])
    assert record is not None and record.text is not None
    assert record.text[start:end] == top.text
    quoted = [record.text[s:e] for s, e in sentences if "2,000" in record.text[s:e]]
    assert quoted == [
        "Following clashes between demonstrators and law enforcement, President Donald Trump "
        "announced plans to deploy 2,000 National Guard members to help restore order."
    ]
    _assert_consistent(store)


def test_rerun_is_unchanged_and_embeds_nothing(ingestor: Ingestor) -> None:
    first = ingestor.ingest_paths([FIXTURES / "articles", SAMPLE])
    assert len(first.new) == 7 and first.unchanged == 0
    before = index_state(ingestor.store)
    second = ingestor.ingest_paths([FIXTURES / "articles", SAMPLE])
    assert second.unchanged == 7 and not second.new and not second.updated
    assert second.chunks == 0 and second.tokens == 0
    assert index_state(ingestor.store) == before


def test_changed_article_replaces_its_chunks(ingestor: Ingestor, tmp_path: Path) -> None:
    rows = corpus_rows(5)
    ingestor.ingest_paths([write_jsonl(tmp_path / "v1.jsonl", rows)])
    old = ingestor.store.get_article(rows[2]["id"])
    assert old is not None
    rows[2] = {**rows[2], "text": rows[2]["text"] + "\n\nA correction was appended on Friday."}
    report = ingestor.ingest_paths([write_jsonl(tmp_path / "v2.jsonl", rows)])
    assert report.updated == [rows[2]["id"]] and report.unchanged == 4
    new = ingestor.store.get_article(rows[2]["id"])
    assert new is not None and new.version != old.version
    assert not set(old.chunk_ids) & set(new.chunk_ids)
    assert ingestor.store.get_chunks(old.chunk_ids) == []
    assert "correction was appended" in (new.text or "")
    _assert_consistent(ingestor.store)


def test_list_show_delete_and_stats(ingestor: Ingestor) -> None:
    ingestor.ingest_paths([FIXTURES / "articles"])
    store = ingestor.store
    records = store.list_articles()
    assert len(records) == 6
    assert records[0].title == "Observatory spots new comet"  # newest first
    assert [r.title for r in store.list_articles(source="Harbor Daily")] == [
        "Fish market moves to new pier",
        "Ferry service resumes after storm",
    ]
    stats = store.stats()
    assert stats.articles == 6 and stats.sources["Harbor Daily"] == 2
    assert stats.earliest is not None and stats.earliest.date().isoformat() == "2025-01-20"
    assert stats.latest is not None and stats.latest.date().isoformat() == "2025-04-02"
    victim = records[0]
    assert store.delete_articles([victim.id, "no-such-id"]) == 1
    assert store.get_article(victim.id) is None
    assert store.get_chunks(victim.chunk_ids) == []
    assert store.stats().articles == 5
    _assert_consistent(store)


def test_date_and_outlet_filters_use_integer_timestamps(
    ingestor: Ingestor, embedder: SentenceTransformerEmbedder
) -> None:
    ingestor.ingest_paths([FIXTURES / "articles"])
    since = 1738972800  # 2025-02-08
    hits = ingestor.store.query(
        embedder.embed_query("ferry"), k=20, where={"published_ts": {"$gte": since}}
    )
    assert hits and all(h.metadata["published_ts"] >= since for h in hits)
    assert {h.metadata["source"] for h in hits} >= {"Harbor Daily"}
    assert "Lakeside Ledger" not in {h.metadata["source"] for h in hits}


def test_same_article_twice_in_one_run(ingestor: Ingestor) -> None:
    article = Article.create(text="A short note about the harbor.", url="https://h.example/1")
    changed = Article.create(text="A different note.", url="https://h.example/1")
    report = ingestor.ingest(
        [
            Loaded("a:1", article=article),
            Loaded("a:2", article=article),
            Loaded("b:1", article=changed),
        ]
    )
    assert report.new == [article.id] and report.unchanged == 1
    (failure,) = report.failed
    assert failure.origin == "b:1" and "duplicate id" in failure.reason and "a:1" in failure.reason
    record = ingestor.store.get_article(article.id)
    assert record is not None and record.text == article.text


def test_other_embedding_model_is_a_clear_error(store: ChromaStore) -> None:
    with pytest.raises(ConfigError, match="re-index"):
        ChromaStore(store.client, store.name, "some/other-model", 768)
    with pytest.raises(ConfigError, match="3 characters"):
        ChromaStore(store.client, "ab", store.embedding_model, store.dimension)


@pytest.mark.parametrize("crash_at", range(1, 7))
def test_crash_at_every_write_step_is_repaired(
    ingestor: Ingestor, tmp_path: Path, crash_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail the n-th Chroma write of a batch that both adds and replaces articles; the next
    run must end exactly where an uninterrupted run ends."""
    rows = corpus_rows(4)
    ingestor.ingest_paths([write_jsonl(tmp_path / "v1.jsonl", rows[:2])])
    rows[0] = {**rows[0], "text": rows[0]["text"] + "\n\nUpdated paragraph."}
    v2 = write_jsonl(tmp_path / "v2.jsonl", rows)
    store = ingestor.store
    writes = crash_at_write(store, crash_at, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ingestor.ingest_paths([v2])
    monkeypatch.undo()
    report = ingestor.ingest_paths([v2])
    assert report.ok
    _assert_consistent(store)
    hashes = store.committed_hashes()
    expected = {
        i.article.id: ingestor.chunker.version(i.article) for i in load_path(v2) if i.article
    }
    assert hashes == expected
    assert writes() >= crash_at


def test_new_chunk_settings_rechunk_on_the_next_ingest(
    ingestor: Ingestor, embedder: SentenceTransformerEmbedder
) -> None:
    ingestor.ingest_paths([SAMPLE])
    (before,) = ingestor.store.list_articles()
    smaller = Ingestor(
        ingestor.store, embedder, Chunker(embedder, chunk_tokens=64, overlap_tokens=0)
    )
    report = smaller.ingest_paths([SAMPLE])
    assert report.updated == [before.id]
    (after,) = ingestor.store.list_articles()
    assert len(after.chunk_ids) > len(before.chunk_ids)
    assert ingestor.store.get_chunks(before.chunk_ids) == []
    _assert_consistent(ingestor.store)
    assert smaller.ingest_paths([SAMPLE]).unchanged == 1
