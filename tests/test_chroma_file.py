"""An embedded index's records read from Chroma's SQLite file (index/chroma_file.py) against
the same index read through chromadb: the same answers, or none (and chromadb answers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, SAMPLE, crash_at_write, write_jsonl

from assistant.library import Library
from assistant.settings import Settings
from index import chroma_file
from index.chroma_client import local_path, make_client
from index.chroma_file import read_index
from index.chunking import Chunker
from index.collections import RECORDS_SUFFIX
from index.embeddings import SentenceTransformerEmbedder
from index.errors import ConfigError
from index.pipeline import Ingestor
from index.store import ChromaStore

NAME = "file-test"

# outlets of equal counts, so the order of the figures' outlets is tested too
ROWS: list[dict[str, Any]] = [
    {
        "id": f"row-{i}",
        "title": f"Story {i} about the {topic}",
        "text": f"The {topic} was the talk of the town on day {i}. " * 3,
        "source": source,
        "published": published,
        "url": f"https://news.example/{i}",
        "authors": ["A. Writer"] if i % 2 else [],
    }
    for i, (topic, source, published) in enumerate(
        [
            ("harbor", "Lakeside Ledger", "2025-03-01"),
            ("ferry", "Harbor Daily", "2025-02-10"),
            ("budget", "Harbor Daily", None),
            ("comet", "Lakeside Ledger", "2025-04-02"),
            ("school", "", "2025-01-20"),
        ]
    )
]


@pytest.fixture
def embedded(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, chunker: Chunker
) -> tuple[Path, Ingestor]:
    """A data dir holding an embedded index, and the ingestor that writes to it."""
    data = tmp_path / "data"
    store = ChromaStore(make_client(data), NAME, embedder.name, embedder.dimension)
    return data, Ingestor(store, embedder, chunker, batch_chunks=64)


def _same_answers(data: Path, model: str, store: ChromaStore) -> None:
    """The file reads as ``store`` (chromadb, in this process) and as a store opened anew
    without the model (what `assistant stats` opened until now)."""
    found = read_index(data, NAME, model)
    assert found is not None
    fresh = ChromaStore(make_client(data, fresh=True), NAME, model)
    for chroma in (store, fresh):
        assert found.list_articles() == chroma.list_articles()
        for source in ("Harbor Daily", "Lakeside Ledger", "", "nobody"):
            assert found.list_articles(source) == chroma.list_articles(source)
        ours, theirs = found.stats(model), chroma.stats()
        assert ours == theirs
        assert list(ours.sources.items()) == list(theirs.sources.items())  # order too


def test_the_file_reads_as_chromadb(embedded: tuple[Path, Ingestor], tmp_path: Path) -> None:
    data, ingestor = embedded
    model = ingestor.store.embedding_model
    assert ingestor.ingest_paths([write_jsonl(tmp_path / "a.jsonl", ROWS), SAMPLE]).ok
    assert ingestor.ingest_paths([FIXTURES / "articles"]).ok
    _same_answers(data, model, ingestor.store)
    stats = ingestor.store.stats()
    assert stats.articles == 12 and stats.sources["Harbor Daily"] == 4
    # deleted, changed, and written again: the outlets' order moves with Chroma's
    assert ingestor.store.delete_articles(["row-1", "row-3", "no-such-id"]) == 2
    _same_answers(data, model, ingestor.store)
    changed = [{**ROWS[0], "text": ROWS[0]["text"] + " A correction."}, ROWS[1], ROWS[3]]
    assert ingestor.ingest_paths([write_jsonl(tmp_path / "b.jsonl", changed)]).ok
    _same_answers(data, model, ingestor.store)


def test_an_empty_collection_reads_as_chromadb(embedded: tuple[Path, Ingestor]) -> None:
    data, ingestor = embedded
    _same_answers(data, ingestor.store.embedding_model, ingestor.store)
    assert read_index(data, NAME, ingestor.store.embedding_model) is not None


@pytest.mark.parametrize("crash_at", range(1, 7))
def test_an_interrupted_ingest_reads_as_chromadb(
    embedded: tuple[Path, Ingestor], tmp_path: Path, crash_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop a batch that adds and replaces articles at its n-th Chroma write: before any
    repair, the file gives chromadb's answers (committed records only, and the same chunk
    count), and again after the rerun repairs it."""
    data, ingestor = embedded
    store = ingestor.store
    assert ingestor.ingest_paths([write_jsonl(tmp_path / "v1.jsonl", ROWS[:3])]).ok
    rows = [{**ROWS[0], "text": ROWS[0]["text"] + " Updated."}, *ROWS[1:]]
    v2 = write_jsonl(tmp_path / "v2.jsonl", rows)
    crash_at_write(store, crash_at, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ingestor.ingest_paths([v2])
    monkeypatch.undo()
    _same_answers(data, store.embedding_model, store)
    assert ingestor.ingest_paths([v2]).ok
    _same_answers(data, store.embedding_model, store)


def test_a_log_not_yet_applied_is_left_to_chromadb(embedded: tuple[Path, Ingestor]) -> None:
    """chromadb commits its log and applies it in a second transaction; a process killed
    in between leaves writes only the next chromadb reader applies."""
    data, ingestor = embedded
    assert ingestor.ingest_paths([SAMPLE]).ok
    model = ingestor.store.embedding_model
    before = ingestor.store.stats()
    with sqlite3.connect(local_path(data) / chroma_file.FILE) as db:
        (segment,) = db.execute(
            "SELECT s.id FROM segments s JOIN collections c ON c.id = s.collection "
            "WHERE c.name = ? AND s.scope = 'METADATA'",
            (NAME + RECORDS_SUFFIX,),
        ).fetchone()
        db.execute("UPDATE max_seq_id SET seq_id = seq_id - 1 WHERE segment_id = ?", (segment,))
    assert read_index(data, NAME, model) is None
    settings = Settings.load(data_dir=data, collection=NAME, embed_model=model, chroma_host=None)
    assert Library.open(settings, with_model=False).stats() == before
    # a process that opens the index anew applies the rest; then the file answers again
    assert ChromaStore(make_client(data, fresh=True), NAME, model).stats() == before
    assert read_index(data, NAME, model) is not None


def test_what_the_file_cannot_answer(
    embedded: tuple[Path, Ingestor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, ingestor = embedded
    model = ingestor.store.embedding_model
    assert read_index(tmp_path / "nowhere", NAME, model) is None
    assert read_index(data, "no-such-collection", model) is None
    assert read_index(data, "ab", model) is None
    with pytest.raises(ConfigError, match="re-index"):  # the store's own refusal
        read_index(data, NAME, "some/other-model")
    monkeypatch.setitem(chroma_file.SCHEMA, "metadb", chroma_file.SCHEMA["metadb"] + 1)
    assert read_index(data, NAME, model) is None


def test_a_missing_index_is_created_as_before(data_env: Path) -> None:
    """On a data dir with no index, the library opens chromadb, which creates the empty
    collections, as `assistant stats` always did."""
    library = Library.open(Settings.load(), with_model=False)
    stats = library.stats()
    assert (stats.articles, stats.chunks, stats.dimension, stats.precision) == (0, 0, 0, "fp32")
    assert library.list_articles() == []
    assert local_path(data_env).is_dir()
    found = read_index(data_env, library.collection, library.settings.embed_model)
    assert found is not None and found.stats(library.settings.embed_model) == stats


@pytest.mark.server
def test_a_chroma_server_is_always_asked(
    embedded: tuple[Path, Ingestor],
    chroma_server: tuple[str, int],
    embedder: SentenceTransformerEmbedder,
) -> None:
    """With a server configured, the library reads the server's collection, not an embedded
    index of the same name in the data dir."""
    data, ingestor = embedded
    assert ingestor.ingest_paths([SAMPLE]).ok  # the embedded index: one article
    host, port = chroma_server
    name = f"{NAME}-server"
    remote = ChromaStore(make_client(data, host, port), name, embedder.name, embedder.dimension)
    ChromaStore(make_client(data), name, embedder.name, embedder.dimension)  # empty, embedded
    settings = Settings.load(
        data_dir=data,
        collection=name,
        embed_model=embedder.name,
        chroma_host=host,
        chroma_port=port,
    )
    library = Library.open(settings, with_model=False)
    assert read_index(data, name, embedder.name) is not None  # there is a local one to mislead
    Ingestor(remote, embedder, ingestor.chunker).ingest_paths([FIXTURES / "articles"])
    assert library.stats().articles == 6 and len(library.list_articles()) == 6
