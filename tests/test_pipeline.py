"""The pipelined ingest: stages overlap in their own threads, memory is bounded by back
pressure, Chroma calls respect the client's batch limit, and failures stay per batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import corpus_rows, index_state, write_jsonl

from index.articles import Article
from index.chunking import ChunkedArticle, Chunker
from index.embeddings import SentenceTransformerEmbedder
from index.loaded import Loaded
from index.pipeline import Ingestor
from index.store import ChromaStore


def _short_articles(n: int) -> list[Loaded]:
    return [
        Loaded(
            origin=f"gen:{i}",
            article=Article.create(
                title=f"Item {i}",
                text=f"Short news item number {i} about the harbor.",
                source="Gen",
            ),
        )
        for i in range(n)
    ]


def _ingest_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ingest-")]


def test_stages_run_in_their_own_threads_and_overlap(
    ingestor: Ingestor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans: dict[str, list[tuple[float, float, str]]] = {"prepare": [], "embed": [], "write": []}

    def timed(kind: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                spans[kind].append((start, time.perf_counter(), threading.current_thread().name))

        return wrapper

    monkeypatch.setattr(ingestor.chunker, "prepare", timed("prepare", ingestor.chunker.prepare))
    monkeypatch.setattr(
        ingestor.embedder, "embed_documents", timed("embed", ingestor.embedder.embed_documents)
    )
    monkeypatch.setattr(
        ingestor.store, "write_articles", timed("write", ingestor.store.write_articles)
    )
    ingestor.batch_chunks = 16
    report = ingestor.ingest_paths([write_jsonl(tmp_path / "c.jsonl", corpus_rows(12))])
    assert report.ok and len(report.new) == 12
    assert {name for *_, name in spans["prepare"]} == {"ingest-prepare"}
    assert {name for *_, name in spans["embed"]} == {"ingest-embed"}
    assert {name for *_, name in spans["write"]} == {threading.current_thread().name}
    assert len(spans["embed"]) >= 3
    overlapping = [
        p for p in spans["prepare"] for e in spans["embed"] if p[0] < e[1] and e[0] < p[1]
    ]
    assert overlapping, "chunking never ran while a batch was being embedded"
    assert _ingest_threads() == []


def test_memory_is_bounded_by_back_pressure(ingestor: Ingestor) -> None:
    """However long the input, only a few batches are in flight: the reader waits."""
    ingestor.batch_chunks, ingestor.queue_batches = 4, 1
    items = _short_articles(200)
    pulled = 0
    in_flight: list[int] = []
    real_write = ingestor.store.write_articles

    def stream() -> Iterator[Loaded]:
        nonlocal pulled
        for item in items:
            pulled += 1
            yield item

    def write(batch: list[ChunkedArticle], vectors: np.ndarray, previous: dict[str, str]) -> None:
        in_flight.append(pulled - len(ingestor.store.committed_hashes()))
        real_write(batch, vectors, previous)

    ingestor.store.write_articles = write  # type: ignore[method-assign]
    report = ingestor.ingest(stream())
    assert report.ok and len(report.new) == 200
    # being built, queued (1 + 1), embedding, writing, and one waiting in each put: 7 batches
    assert max(in_flight) <= 7 * 4, in_flight


def test_chroma_calls_stay_within_the_client_batch_limit(
    ingestor: Ingestor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ingestor.store
    sizes: list[int] = []

    def sized(real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            sizes.append(len(kwargs.get("ids") or []))
            return real(*args, **kwargs)

        return wrapper

    for coll in (store.records, store.chunks):
        for method in ("upsert", "update"):
            monkeypatch.setattr(coll, method, sized(getattr(coll, method)))
    store.max_batch = 5  # as if the client allowed only 5 rows per call
    ingestor.batch_chunks = 40
    report = ingestor.ingest_paths([write_jsonl(tmp_path / "c.jsonl", corpus_rows(6))])
    assert report.ok and report.chunks > 5
    assert sizes and max(sizes) <= 5
    hashes, chunk_ids, pending = index_state(store)
    assert len(hashes) == 6 and len(chunk_ids) == report.chunks and pending == 0


def test_embedding_batches_are_length_sorted(tmp_path: Path) -> None:
    emb = SentenceTransformerEmbedder(precision="bf16", batch_size=4)
    forward = emb.encoding.forward
    assert forward is not None
    widths: list[int] = []

    def spy(inputs: dict[str, np.ndarray]) -> np.ndarray:
        widths.append(int(inputs["input_ids"].shape[1]))
        return forward(inputs)

    emb.encoding.forward = spy
    texts = [" ".join(["word"] * n) for n in (3, 90, 12, 40, 7, 120, 25, 60, 1, 80)]
    vectors = emb.embed_documents(texts)
    assert widths == sorted(widths, reverse=True) and len(widths) == 3
    # rows come back in input order
    emb.encoding.forward = forward
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(emb.embed_documents([text])[0], vector, atol=2e-2)


def test_unchanged_articles_are_never_chunked(
    ingestor: Ingestor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", corpus_rows(5))
    assert len(ingestor.ingest_paths([path]).new) == 5

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an unchanged article was tokenised")

    monkeypatch.setattr(ingestor.chunker, "prepare", refuse)
    monkeypatch.setattr(ingestor.embedder, "embed_documents", refuse)
    report = ingestor.ingest_paths([path])
    assert report.ok and report.unchanged == 5 and report.chunks == 0


def test_a_failed_embedding_batch_is_reported_and_the_run_goes_on(
    ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingestor.embedder.embed_documents

    def flaky(texts: list[str]) -> np.ndarray:
        if any("number 7 " in t for t in texts):
            raise RuntimeError("out of memory")
        return real(texts)

    monkeypatch.setattr(ingestor.embedder, "embed_documents", flaky)
    ingestor.batch_chunks = 4
    report = ingestor.ingest(iter(_short_articles(20)))
    assert len(report.failed) == 4 and len(report.new) == 16
    assert all("out of memory" in f.reason for f in report.failed)
    assert "gen:7" in {f.origin for f in report.failed}
    assert _ingest_threads() == []


def test_a_reader_error_ends_the_run_and_stops_the_threads(ingestor: Ingestor) -> None:
    def broken() -> Iterator[Loaded]:
        yield from _short_articles(3)
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError, match="disk went away"):
        ingestor.ingest(broken())
    assert _ingest_threads() == []


def test_the_report_names_the_precision(ingestor: Ingestor, store: ChromaStore) -> None:
    report = ingestor.ingest(iter(_short_articles(2)))
    assert report.precision == ingestor.embedder.precision == "fp32"


def test_chunker_and_embedder_share_a_model_from_two_threads(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """Tokenising for chunks while a batch is embedded must not trip over the Rust
    tokenizer ("Already borrowed")."""
    chunker = Chunker(embedder)
    article = Article.create(title="T", text="One sentence here. " * 400, source="S")
    errors: list[BaseException] = []

    def chunk_many() -> None:
        try:
            for _ in range(20):
                chunker.chunk(article)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=chunk_many)
    thread.start()
    for _ in range(10):
        embedder.embed_documents(["a text " * 100] * 8)
    thread.join()
    assert errors == []
