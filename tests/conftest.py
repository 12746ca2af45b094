"""Shared fixtures: the real embedding model (loaded once), real Chroma stores (embedded in
tmp_path, and a `chroma run` server on 127.0.0.1), and the shared 2025 data when present."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from index.chroma_client import make_client
from index.chunking import Chunker
from index.embeddings import SentenceTransformerEmbedder, load_embedder
from index.onnx_exports import CHECKED, OnnxExports
from index.pipeline import Ingestor
from index.sentence_model import offline_environment
from index.store import ChromaStore

offline_environment()

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = ROOT / "assistant" / "samples" / "la-protests-national-guard.txt"
SHARED = ROOT.parent / "shared"
CORPUS_2025 = SHARED / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"
QUESTIONS_2025 = SHARED / "eval" / "realtimeqa-2025" / "questions.jsonl"
_names = itertools.count()


def require_shared() -> None:
    """Skip without ../shared on a user's clone; in CI its absence is a failure."""
    if not CORPUS_2025.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CORPUS_2025} is missing; CI must have ../shared")
        pytest.skip("../shared is not beside this clone")


def corpus_rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    require_shared()
    with gzip.open(CORPUS_2025, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in itertools.islice(fh, start, start + n)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def crash_at_write(
    store: ChromaStore, n: int, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], int]:
    """Make the store's ``n``-th Chroma write (upsert, update or delete, on either collection)
    raise KeyboardInterrupt, as a process killed there would stop; ``monkeypatch.undo()``
    ends it. Returns how many writes were tried so far."""
    calls = 0

    def crashing(real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == n:
                raise KeyboardInterrupt("simulated crash")
            return real(*args, **kwargs)

        return wrapper

    for coll in (store.records, store.chunks):
        for method in ("upsert", "update", "delete"):
            monkeypatch.setattr(coll, method, crashing(getattr(coll, method)))
    return lambda: calls


def index_state(store: ChromaStore) -> tuple[dict[str, str], set[str], int]:
    """(article id → version, chunk ids, pending marks): all a rerun must reproduce."""
    chunk_ids = set(store.chunks.get(include=[])["ids"])
    pending = len(store.records.get(where={"pending": {"$ne": ""}}, include=[])["ids"])
    return store.committed_hashes(), chunk_ids, pending


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return load_embedder()


@pytest.fixture(scope="session")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SentenceTransformerEmbedder, Path]:
    """An fp32 model and its checked ONNX export (the light path's), in a cache of its own."""
    cache = tmp_path_factory.mktemp("cache")
    full = SentenceTransformerEmbedder(precision="fp32", cache_dir=cache)
    path = full.ensure_light_export()
    assert path is not None and path == OnnxExports(full.path, cache).fp32
    return full, path


def copy_export(fp32: Path, model_dir: str, cache: Path) -> OnnxExports:
    """The checked fp32 export (and the record of its check) copied into another cache, as
    if this cache's owner had made it: the model's ONNX files there."""
    exports = OnnxExports(model_dir, cache)
    exports.folder.mkdir(parents=True, exist_ok=True)
    for name in (fp32.name, fp32.name + CHECKED):
        shutil.copyfile(fp32.with_name(name), exports.folder / name)
    return exports


def sample_sentences(n: int) -> list[str]:
    """The first ``n`` sentences of the sample article."""
    from index.text import split_sentences

    text = SAMPLE.read_text(encoding="utf-8")
    return [text[s:e] for s, e in split_sentences(text)][:n]


@pytest.fixture(scope="session")
def chunker(embedder: SentenceTransformerEmbedder) -> Chunker:
    return Chunker(embedder, chunk_tokens=200, overlap_tokens=32, title_prefix=True)


def stop(proc: subprocess.Popen[Any], grace: float) -> None:
    """Terminate a server started by a test, killing it if it outlives ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(name: str) -> str:
    """The path of a server binary a test starts; skip without it on a user's machine, but
    in CI (CI=true) its absence is a failure: .ci/run installs it."""
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"`{name}` is not installed; .ci/run must install it")
        pytest.skip(f"`{name}` is not installed (apt-get install {name})")
    return exe


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"{what} exited: {log.read_text()}")
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{what} did not start listening within 60 s")


class ChromaProcess:
    """A `chroma run` of a test's own on 127.0.0.1, that the test may stop and start again
    (same data, same port) to play an outage."""

    def __init__(self, path: Path) -> None:
        exe = shutil.which("chroma", path=str(Path(sys.executable).parent))
        self.exe = exe or shutil.which("chroma")
        if self.exe is None:
            pytest.fail("the `chroma` command (from the chromadb package) is not installed")
        self.path, self.port = path, free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ChromaProcess:
        log = self.path / "chroma.log"
        self.path.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.exe or "chroma", "run", "--path", str(self.path / "db"), "--host",
                 self.host, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )  # fmt: skip
        wait_listening(self.port, self.proc, log, "chroma run")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, 10)
            self.proc = None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on 127.0.0.1 and a free port, for the whole session."""
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if exe is None:
        pytest.fail("the `chroma` command (from the chromadb package) is not installed")
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    log = (path / "server.log").open("wb")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited: {(path / 'server.log').read_text()}")
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start listening within 60 s")
    yield "127.0.0.1", port
    stop(proc, 10)
    log.close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> ChromaStore:
    """A fresh collection in an embedded Chroma, and again on a `chroma run` server."""
    name = f"test-{os.getpid()}-{next(_names)}"
    if request.param == "server":
        host, port = request.getfixturevalue("chroma_server")
        client = make_client(tmp_path, host, port)
    else:
        client = make_client(tmp_path / "data")
    return ChromaStore(client, name, embedder.name, embedder.dimension)


@pytest.fixture
def ingestor(
    store: ChromaStore, embedder: SentenceTransformerEmbedder, chunker: Chunker
) -> Ingestor:
    return Ingestor(store, embedder, chunker, batch_chunks=64)


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings pointed at an empty data dir, with no settings file in play."""
    data = tmp_path / "data"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data))
    monkeypatch.delenv("ASSISTANT_SETTINGS_FILE", raising=False)
    monkeypatch.delenv("ASSISTANT_CHROMA_HOST", raising=False)
    monkeypatch.chdir(tmp_path)
    return data


@contextlib.contextmanager
def running_app(tmp: Path, timeout: float = 180) -> Iterator[str]:
    """`python app.py` on a fresh data dir under ``tmp`` and a free port, until it serves
    HTTP 200; yields its URL and stops it afterwards (the log is ``tmp/app.log``)."""
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(tmp / "data"),
        "ASSISTANT_UI_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("ASSISTANT_SETTINGS_FILE", None)
    env.pop("ASSISTANT_CHROMA_HOST", None)
    log_path = tmp / "app.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited: {log_path.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve within {timeout:.0f} s: {log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        stop(proc, 20)
        log.close()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 and a free port, its files in a tmp dir and nothing
    saved to disk; yields its URL."""
    exe = require_binary("redis-server")
    path = tmp_path_factory.mktemp("redis")
    port = free_port()
    log_path = path / "redis.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [exe, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(path), "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_listening(port, proc, log_path, "redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc, 10)
