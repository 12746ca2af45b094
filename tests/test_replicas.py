"""Two `assistant serve` replicas, each with its own data dir, on one `chroma run` and one
Redis (both started by the test on 127.0.0.1): what one ingests or deletes, the other's BM25
sees within the follow interval; a conversation begun on one continues on the other; and
both tokens answer each endpoint as documented (README "HTTP API", Auth)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, SAMPLE, ChromaProcess, free_port, stop
from test_outage import sample_record, wait_ready

from assistant import Settings
from assistant.faces.api.auth import check_exposure

pytestmark = [pytest.mark.server, pytest.mark.redis]
READ, ADMIN = "read-token-for-tests", "admin-token-for-tests"
FOLLOW_S = 1.0
GLACIER = {
    "id": "thwaites-retreat",
    "title": "Thwaites glacier retreated 14 kilometres, glaciologists say",
    "text": "Glaciologists measured that the Thwaites glacier retreated 14 kilometres since "
    "2011. The glacier's grounding line moved faster than models had predicted.",
    "source": "polar.example",
    "published": "2025-06-12",
}
GLACIER_Q = "How far did the Thwaites glacier retreat?"


class Replica:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log

    def client(self, token: str | None = READ) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)

    def ask(self, question: str, **body: Any) -> dict[str, Any]:
        with self.client() as c:
            res = c.post("/v1/ask", json={"question": question, **body})
        assert res.status_code == 200, res.text
        answer: dict[str, Any] = res.json()
        return answer


def _env(data: Path, chroma: ChromaProcess, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    return env | {
        "ASSISTANT_DATA_DIR": str(data),
        "ASSISTANT_CHROMA_HOST": chroma.host,
        "ASSISTANT_CHROMA_PORT": str(chroma.port),
        "ASSISTANT_STATE_STORE": "redis",
        "ASSISTANT_REDIS_URL": redis_url,
        "ASSISTANT_FOLLOW_INTERVAL": str(FOLLOW_S),
        "ASSISTANT_API_TOKEN": READ,
        "ASSISTANT_API_ADMIN_TOKEN": ADMIN,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, redis_server: str
) -> Iterator[tuple[Replica, Replica]]:
    """Replica A (hybrid retrieval) and replica B (BM25 only, so what it finds, its lexical
    index found) on one Chroma server and one Redis."""
    tmp = tmp_path_factory.mktemp("replicas")
    chroma = ChromaProcess(tmp / "chroma").start()
    procs: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for name, extra in (("a", {}), ("b", {"ASSISTANT_RETRIEVAL_MODE": "lexical"})):
            port, log = free_port(), tmp / f"{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
                    cwd=tmp,
                    env=_env(tmp / name, chroma, redis_server, **extra),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append((proc, f"http://127.0.0.1:{port}", log))
        for proc, url, log in procs:
            wait_ready(url, proc, log)
        a, b = (Replica(url, log) for _, url, log in procs)
        with a.client(ADMIN) as c:
            assert c.post("/v1/articles", json=[sample_record()]).json()["ok"]
        yield a, b
    finally:
        for proc, _, _ in procs:
            stop(proc, 20)
        chroma.stop()
    for _, _, log in procs:
        assert "Traceback" not in log.read_text(), log.read_text()


def _found(replica: Replica, article_id: str) -> bool:
    passages = replica.ask(GLACIER_Q)["passages"]
    return article_id in {p["article_id"] for p in passages}


def _until(check: Any, within: float) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < within, f"not within {within} s"
        time.sleep(0.1)
    return time.monotonic() - began


def test_bm25_on_one_replica_follows_ingests_and_deletes_on_the_other(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    assert not _found(b, GLACIER["id"])
    with a.client(ADMIN) as c:
        assert c.post("/v1/articles", json=[GLACIER]).json()["new"] == [GLACIER["id"]]
    # the marker is read every FOLLOW_S; then the sync and the question's own time (2 cores)
    took = _until(lambda: _found(b, GLACIER["id"]), within=FOLLOW_S + 4)
    print(f"B's BM25 found A's ingest after {took:.2f} s (follow interval {FOLLOW_S} s)")
    assert "14 kilometres" in b.ask(GLACIER_Q)["answer"]
    with a.client(ADMIN) as c:
        assert c.delete(f"/v1/articles/{GLACIER['id']}").status_code == 204
    _until(lambda: not _found(b, GLACIER["id"]), within=FOLLOW_S + 4)
    assert "followed other processes' writes" in b.log.read_text()


def test_a_follow_up_on_one_replica_continues_a_conversation_begun_on_the_other(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    first = a.ask("How many Guard members were deployed?", session_id="newsroom-1")
    assert first["answer"].startswith("2,000")
    follow = b.ask("and who announced it?", session_id="newsroom-1")
    assert "Guard members" in (follow["standalone_question"] or ""), follow
    with b.client() as c:
        assert c.delete("/v1/sessions/newsroom-1").status_code == 204
    alone = a.ask("and who announced it?", session_id="newsroom-1")
    assert alone["standalone_question"] is None  # the session is gone for both


def _calls(answer: dict[str, Any], article_id: str) -> dict[str, tuple[str, str, Any]]:
    """Every /v1 endpoint: (method, path, JSON body)."""
    chat = [{"role": "user", "content": "How many Guard members were deployed?"}]
    return {
        "ask": ("POST", "/v1/ask", {"question": "How many Guard members were deployed?"}),
        "stream": ("POST", "/v1/ask/stream", {"question": "How many Guard members?"}),
        "reset": ("DELETE", "/v1/sessions/s-auth", None),
        "feedback": ("POST", "/v1/feedback", {"rating": "up", "answer": answer}),
        "list": ("GET", "/v1/articles", None),
        "show": ("GET", f"/v1/articles/{article_id}", None),
        "stats": ("GET", "/v1/stats", None),
        "models": ("GET", "/v1/models", None),
        "chat": ("POST", "/v1/chat/completions", {"model": "newsroom-assistant", "messages": chat}),
        "ingest": ("POST", "/v1/articles", [GLACIER | {"id": "auth-probe"}]),
        "delete": ("DELETE", "/v1/articles/auth-probe", None),
    }


READS = ("ask", "stream", "reset", "feedback", "list", "show", "stats", "models", "chat")
WRITES = ("ingest", "delete")


def test_each_endpoint_answers_each_credential(replicas: tuple[Replica, Replica]) -> None:
    a, _ = replicas
    answer = a.ask("How many Guard members were deployed?")
    article_id = answer["citations"][0]["article_id"]
    calls = _calls(answer, article_id)
    expected = {
        None: dict.fromkeys(READS + WRITES, 401),
        "wrong-token": dict.fromkeys(READS + WRITES, 401),
        READ: {**dict.fromkeys(READS, 200), "ingest": 403, "delete": 403},
        ADMIN: {**dict.fromkeys(READS, 200), "ingest": 200, "delete": 204},
    }
    expected[READ] |= {"reset": 204, "feedback": 201}
    expected[ADMIN] |= {"reset": 204, "feedback": 201}
    got: dict[str | None, dict[str, int]] = {}
    for token in expected:
        with a.client(token) as c:
            got[token] = {}
            for name, (method, path, body) in calls.items():
                res = c.request(method, path, json=body)
                got[token][name] = res.status_code
                if res.status_code >= 400:
                    error = res.json()["error"]  # OpenAI's error object on its endpoints
                    name = error["code"] if isinstance(error, dict) else error
                    assert name in {"unauthorized", "forbidden"}, res.text
                if res.status_code == 403:
                    assert "ASSISTANT_API_ADMIN_TOKEN" in res.json()["detail"]
    assert got == expected
    with a.client(None) as c:  # health and the docs stay open
        assert c.get("/healthz").status_code == c.get("/readyz").status_code == 200
        schema = c.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert set(schemes) == {"readToken", "adminToken"}
    assert "ASSISTANT_API_ADMIN_TOKEN" in schemes["adminToken"]["description"]
    assert schema["paths"]["/v1/articles"]["post"]["security"] == [{"adminToken": []}]
    assert {"readToken": []} in schema["paths"]["/v1/ask"]["post"]["security"]
    assert {"readToken": []} in schema["paths"]["/v1/chat/completions"]["post"]["security"]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@pytest.mark.parametrize(
    ("extra", "args", "named"),
    [
        ({}, [], ["ASSISTANT_API_TOKEN", "ASSISTANT_API_ALLOW_OPEN"]),
        ({"ASSISTANT_API_TOKEN": READ}, ["--ui"], ["--ui", "ASSISTANT_API_ALLOW_OPEN"]),
    ],
)
def test_serve_beyond_loopback_without_a_token_refuses_to_start(
    tmp_path: Path, extra: dict[str, str], args: list[str], named: list[str]
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT), **extra}
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--host", "0.0.0.0", "--port", str(port),
         *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "refusing to serve" in done.stderr and "0.0.0.0" in done.stderr
    for name in named:
        assert name in done.stderr.replace("\n", " ")
    assert not _listening(port) and not (tmp_path / "data" / "server.json").exists()


def test_the_opt_in_and_loopback_allow_serving_without_a_token() -> None:
    open_on_purpose = Settings.load(api_allow_open=True)
    check_exposure(open_on_purpose, "0.0.0.0")  # no error
    check_exposure(open_on_purpose.model_copy(update={"api_mount_ui": True}), "10.0.0.5")
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_exposure(Settings.load(), host)
    assert SAMPLE.exists()
