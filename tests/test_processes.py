"""Several processes on one data dir (docs/cross-process.md): real `assistant` processes, the
real model and a real embedded Chroma. Afterwards every article must be answerable and every
chunk readable: its vector can be read back, and dense search finds it by its own text."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import ROOT, SAMPLE, corpus_rows, free_port, running_app, stop, write_jsonl

from assistant.core import Assistant
from assistant.retrieval import Filters, Retriever
from assistant.settings import Settings
from index.chunking import Chunker
from index.embeddings import SentenceTransformerEmbedder
from index.pipeline import Ingestor
from index.records import chunk_metadata
from index.store import ChromaStore


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    return env | {"ASSISTANT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT), **extra}


def _cli(data: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *args],
        cwd=data.parent,
        env=_env(data, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _opened(data: Path) -> Assistant:
    settings = Settings.load(data_dir=data, embed_precision="fp32", embed_compile=False)
    return Assistant.from_settings(settings)


def assert_whole(asst: Assistant, embedder: SentenceTransformerEmbedder, ids: set[str]) -> None:
    """Every article of ``ids`` is committed and found by its title; every chunk's vector
    reads back and dense search finds the chunk by its own text."""
    store = asst.store
    assert ids <= set(store.committed_hashes())
    got = store.chunks.get(include=["metadatas", "documents", "embeddings"])
    assert len(got["ids"]) == store.chunks.count() > 0
    assert all(np.asarray(e).shape == (store.dimension,) for e in got["embeddings"])
    texts = [f"{m['title']}\n{d}" for m, d in zip(got["metadatas"], got["documents"], strict=True)]
    vectors = embedder.embed_documents(texts)
    found = store.chunks.query(query_embeddings=vectors.tolist(), n_results=5, include=[])
    lost = [cid for cid, hits in zip(got["ids"], found["ids"], strict=True) if cid not in hits]
    assert not lost, f"{len(lost)} of {len(got['ids'])} chunks not found by their own text"
    for article_id in ids:
        record = store.get_article(article_id, with_text=False)
        assert record is not None
        passages = asst.retriever.retrieve(record.title, k=10).passages
        holders = {p.article_id for p in passages} | {
            r.article_id for p in passages for r in p.also_in
        }
        assert article_id in holders, f"{record.title!r} does not find its article"


def _small_sync_collection(data: Path) -> None:
    """Create the collection with its vector index written back to disk every 32 additions
    (Chroma's default: 1,000), so that a test-sized ingest writes it back as often as a big
    one does; in another process, so this one holds no copy of it."""
    code = (
        "import sys, chromadb\n"
        "from chromadb.config import Settings\n"
        "client = chromadb.PersistentClient(sys.argv[1], Settings(anonymized_telemetry=False))\n"
        "client.create_collection('news', embedding_function=None,\n"
        "    configuration={'hnsw': {'space': 'cosine', 'sync_threshold': 32}},\n"
        "    metadata={'embedding_model': sys.argv[2], 'dimension': 384})\n"
    )
    model = "sentence-transformers/all-MiniLM-L6-v2"
    subprocess.run([sys.executable, "-c", code, str(data / "chroma"), model], check=True)


@pytest.mark.slow
def test_two_ingests_at_once_corrupt_nothing(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    rows = corpus_rows(60)
    data = tmp_path / "data"
    first = write_jsonl(tmp_path / "first.jsonl", rows[:30])
    second = write_jsonl(tmp_path / "second.jsonl", rows[30:])
    _small_sync_collection(data)
    # many small batches; the second run waits for the first (docs/cross-process.md)
    wait = {"ASSISTANT_INDEX_WAIT": "600", "ASSISTANT_INGEST_BATCH_CHUNKS": "16"}
    procs = [_cli(data, "ingest", str(path), "--json", **wait) for path in (first, second)]
    results = [_finish(p) for p in procs]
    for rc, out, err in results:
        assert rc == 0, err[-2000:]
        assert json.loads(out)["failed"] == []
    assert sum(json.loads(out)["new"] for _, out, _ in results) == 60
    # a third run finds nothing to do
    rc, out, err = _finish(_cli(data, "ingest", str(first), str(second), "--json"))
    assert rc == 0 and json.loads(out)["unchanged"] == 60, err[-2000:]
    assert_whole(_opened(data), embedder, {r["id"] for r in rows})


def test_a_second_writer_names_the_holder(tmp_path: Path) -> None:
    from index.lock import IndexGuard

    data = tmp_path / "data"
    path = write_jsonl(tmp_path / "a.jsonl", corpus_rows(2))
    with IndexGuard(data).writing():
        rc, _, err = _finish(_cli(data, "ingest", str(path), ASSISTANT_INDEX_WAIT="0"))
    assert rc == 2
    said = " ".join(err.split())
    assert f"process {os.getpid()}" in said and "writing since" in said
    assert "ASSISTANT_INDEX_WAIT" in said
    # once the lock is free the same command goes through
    rc, _, err = _finish(_cli(data, "ingest", str(path), ASSISTANT_INDEX_WAIT="0"))
    assert rc == 0, err[-2000:]


def _ask(http: httpx.Client, question: str, sources: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question, "k": 10}
    if sources:
        body["filters"] = {"sources": sources}
    res = http.post("/v1/ask", json=body)
    assert res.status_code == 200, res.text
    return dict(res.json())


def _cites(answer: dict[str, Any], article_id: str) -> bool:
    found = {p["article_id"] for p in answer["passages"]}
    found |= {r["article_id"] for p in answer["passages"] for r in p.get("also_in", [])}
    return article_id in found


@pytest.mark.slow
def test_a_running_server_answers_from_a_cli_ingest_within_seconds(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    data = tmp_path / "data"
    rc, _, err = _finish(_cli(data, "ingest", str(SAMPLE)))
    assert rc == 0, err[-2000:]
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_env(data),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            deadline = time.monotonic() + 180
            while True:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not get ready"
                time.sleep(0.5)
            # the server's copy of the vector index is loaded before the CLI writes
            first = _ask(http, "How many Guard members were deployed?")
            assert "2,000" in first["answer"]
            rows = corpus_rows(8, start=100)
            path = write_jsonl(tmp_path / "new.jsonl", rows)
            # (no compile thread: its exit is the subject of another test)
            rc, _, err = _finish(_cli(data, "ingest", str(path), ASSISTANT_EMBED_COMPILE="0"))
            assert rc == 0, err[-2000:]
            done = time.monotonic()
            for row in rows:
                answer = _ask(http, row["title"], sources=[row["source"]])
                assert _cites(answer, row["id"]), (row["title"], answer["passages"])
            assert time.monotonic() - done < 30
            assert "2,000" in _ask(http, "How many Guard members were deployed?")["answer"]
    finally:
        stop(server, 20)
        log.close()
    assert "Error finding id" not in (tmp_path / "serve.log").read_text()
    assert_whole(_opened(data), embedder, {r["id"] for r in rows})


@pytest.mark.slow
def test_the_web_app_answers_from_a_cli_ingest_without_a_restart(tmp_path: Path) -> None:
    """Issue 15 item 2: with the web app serving, a CLI ingest into its data dir; the app
    answers about the new articles, outlet filters included, without "Error finding id"."""
    from gradio_client import Client

    rows = corpus_rows(5, start=200)
    path = write_jsonl(tmp_path / "new.jsonl", rows)
    with running_app(tmp_path) as url:
        client = Client(url, verbose=False)
        chat, _, _ = client.predict(
            "How many Guard members were deployed?", [], "", "", 5, api_name="/respond"
        )
        assert "2,000" in chat  # the app's copy of the index is loaded before the CLI writes
        rc, _, err = _finish(
            _cli(tmp_path / "data", "ingest", str(path), ASSISTANT_EMBED_COMPILE="0")
        )
        assert rc == 0, err[-2000:]
        time.sleep(2)  # readers check for another writer's changes every 0.5 s
        found = 0
        for row in rows:
            # (the outlet dropdown's choices are the app's start-up ones: no new outlet there)
            chat, sources, _ = client.predict(row["title"], [], "", "", 10, api_name="/respond")
            found += html.escape(row["title"])[:40] in sources
        assert found >= 3, f"{found} of {len(rows)} new articles cited"
    assert "Error finding id" not in (tmp_path / "app.log").read_text()


def test_cli_ingest_exits_0_with_no_thread_left_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # enough chunks for an ingest-sized bf16 batch: where the compile thread used to start
    path = write_jsonl(tmp_path / "a.jsonl", corpus_rows(20, start=200))
    probe = (
        "import atexit, sys, threading\n"
        "def left():\n"
        "    names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]\n"
        "    sys.stderr.write(f'THREADS LEFT: {names}\\n')\n"
        "atexit.register(left)\n"
        "from assistant.faces.cli import main\n"
        f"sys.argv = ['assistant', 'ingest', {str(path)!r}]\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=_env(data, ASSISTANT_EMBED_PRECISION="bf16", ASSISTANT_EMBED_COMPILE="true"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "THREADS LEFT: []" in proc.stderr, proc.stderr[-2000:]
    assert "new 20" in proc.stdout


def _crash_after_chunks(store: ChromaStore, embedder: Any, chunker: Chunker, row: dict[str, Any],
                        committed: str | None) -> list[str]:  # fmt: skip
    """What a writer killed between writing the chunks and committing the record leaves
    (index/store.py, steps 1 and 2); returns the chunk ids written."""
    from index.json_files import article_from_record

    item = chunker.prepare(article_from_record(row), "crashed.jsonl")
    if committed is None:
        store.records.upsert(
            ids=[item.article.id],
            embeddings=[[0.0]],
            metadatas=[{"hash": "", "pending": item.version, "title": item.article.title}],
        )
    else:
        store.records.update(ids=[item.article.id], metadatas=[{"pending": item.version}])
    vectors = embedder.embed_documents([c.embed_text for c in item.chunks])
    store.chunks.upsert(
        ids=[c.id for c in item.chunks],
        embeddings=vectors,
        documents=[c.text for c in item.chunks],
        metadatas=[chunk_metadata(item, c) for c in item.chunks],
    )
    return [c.id for c in item.chunks]


def test_readers_never_see_half_written_articles(
    ingestor: Ingestor, embedder: SentenceTransformerEmbedder, chunker: Chunker
) -> None:
    from index.json_files import article_from_record
    from index.loaded import Loaded

    rows = corpus_rows(3, start=300)
    ingestor.ingest_paths([SAMPLE])
    ingestor.ingest([Loaded("a.jsonl", article_from_record(r)) for r in rows[:2]])
    store = ingestor.store
    # a new article whose writer died before its record was committed ...
    lost_new = _crash_after_chunks(store, embedder, chunker, rows[2], None)
    # ... and a new version of a committed article, never committed
    changed = {**rows[0], "text": rows[2]["text"], "title": rows[2]["title"]}
    lost_update = _crash_after_chunks(store, embedder, chunker, changed, rows[0]["id"])
    # a reader started after the crash, before any repair
    retriever = Retriever(store, embedder, mode="dense")
    got = retriever.retrieve(rows[2]["title"], k=10)
    assert got.passages
    assert not {p.chunk_id for p in got.passages} & set(lost_new + lost_update)
    assert all(p.article_id != rows[2]["id"] for p in got.passages)
    # the committed version of the changed article is still there to be read
    got = retriever.retrieve(rows[0]["title"], k=10, filters=Filters())
    assert any(p.article_id == rows[0]["id"] for p in got.passages)
    assert store.stats().articles == 3


def test_a_query_goes_before_the_rest_of_an_ingest_batch(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = [
        f"story {i}: " + "the council voted on the harbour budget again " * 20 for i in range(128)
    ]
    done: dict[str, float] = {}

    def ingest() -> None:
        started = time.perf_counter()
        embedder.embed_documents(texts)
        done["ingest"] = time.perf_counter() - started

    worker = threading.Thread(target=ingest)
    worker.start()
    time.sleep(0.3)  # the ingest batch is running
    started = time.perf_counter()
    vector = embedder.embed_query("What did the council vote on?")
    waited = time.perf_counter() - started
    worker.join()
    assert vector.shape == (embedder.dimension,)
    # it waited for one slice of embed_batch_size texts at most, not for all 128
    assert waited < 0.5 * done["ingest"], (waited, done["ingest"])
