"""The HTTP API over real HTTP: `python -m assistant serve` in a subprocess on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from answer_samples import AS_OF, GUARD_Q, VOLCANO_Q, guard_rows, volcano_articles
from conftest import FIXTURES, ROOT, SAMPLE, free_port

TOKEN = "s3cret-test-token"
LIMIT = 300_000
MAX_CHARS = 50_000  # the server's max_article_chars, under LIMIT so a long article gets in
ORIGIN = "http://newsroom.example"


class Server:
    def __init__(self, url: str, data: Path) -> None:
        self.url = url
        self.data = data
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("api")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
        "ASSISTANT_DATA_DIR": str(tmp / "data"),
        "ASSISTANT_API_TOKEN": TOKEN,
        "ASSISTANT_API_MAX_REQUEST_BYTES": str(LIMIT),
        "ASSISTANT_MAX_ARTICLE_CHARS": str(MAX_CHARS),
        "ASSISTANT_API_CORS_ORIGINS": json.dumps([ORIGIN]),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp / "serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        cwd=tmp,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "not ready in 120 s:\n" + log_path.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield Server(url, tmp / "data")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    # nothing a client saw may have been a traceback; the log keeps them
    assert "Traceback" not in log_path.read_text(), log_path.read_text()
    assert not (tmp / "data" / "server.json").exists()  # a stopped server is not announced


def sample_article() -> dict[str, str]:
    return {
        "title": "National Guard deployed to Los Angeles",
        "text": SAMPLE.read_text(encoding="utf-8"),
        "url": "https://news.example/la-guard",
        "source": "news.example",
        "published": "2025-06-08",
    }


def test_auth_is_required_when_a_token_is_set(server: Server) -> None:
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ready"}
        missing = c.get("/v1/articles")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in missing.json()["detail"]
        wrong = c.post("/v1/ask", json={"question": "x"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert c.get("/v1/articles", headers={"Authorization": TOKEN}).status_code == 401
        assert c.get("/v1/articles", headers=server.auth).status_code == 200


def test_ask_uses_the_server_running_on_the_same_data_dir(server: Server) -> None:
    """`assistant ask` sends the question to a ready server of this data dir: no torch, no
    model load in the CLI process, and the server's answer."""
    record = json.loads((server.data / "server.json").read_text())
    assert record["url"] == server.url
    question = "How many Guard members were deployed?"
    with server.client(headers=server.auth) as c:
        added = c.post("/v1/articles", json=[sample_article()]).json()
        expected = c.post("/v1/ask", json={"question": question}).json()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_DATA_DIR": str(server.data), "ASSISTANT_API_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assistant", "ask", question, "--json"],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=server.data.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"answered by the server at {server.url}" in done.stderr
    answer = json.loads(done.stdout)
    assert answer["answer"] == expected["answer"] and "2,000" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["url"] == sample_article()["url"]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert not imported & {"torch", "sentence_transformers", "chromadb", "spacy"}
    with server.client(headers=server.auth) as c:  # the other tests start from an empty index
        for article_id in added["new"]:
            assert c.delete(f"/v1/articles/{article_id}").status_code == 204


def test_ask_does_not_use_a_server_it_should_not(server: Server, tmp_path: Path) -> None:
    from assistant import Settings
    from assistant.faces.running import SERVER_FILE, find_server

    assert find_server(Settings.load(data_dir=server.data)) == server.url
    # other answer settings: the server would answer differently
    assert find_server(Settings.load(data_dir=server.data, top_k=7)) is None
    # a file left by a server that is gone (its process id is not running)
    stale = tmp_path / "data"
    stale.mkdir()
    record = json.loads((server.data / SERVER_FILE).read_text())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    settings = Settings.load(data_dir=stale)
    from assistant.faces.running import fingerprint

    record |= {"pid": int(dead.stdout), "settings": fingerprint(settings)}
    (stale / SERVER_FILE).write_text(json.dumps(record))
    assert find_server(settings) is None
    record["pid"] = os.getpid()  # alive, but not a server of this data dir
    record["url"] = f"http://127.0.0.1:{free_port()}"
    (stale / SERVER_FILE).write_text(json.dumps(record))
    assert find_server(settings) is None


def test_every_error_is_detail_and_error(server: Server) -> None:
    """README: API errors are JSON {"detail", "error"}, whichever layer answers them."""
    big = b'{"question": "' + b"x" * LIMIT + b'"}'
    with server.client() as c:
        authed = dict(server.auth)
        cases = {
            "401": c.get("/v1/articles"),
            "401 wrong": c.get("/v1/articles", headers={"Authorization": "Bearer nope"}),
            "404 route": c.get("/v1/no-such-thing", headers=authed),
            "404 article": c.get("/v1/articles/no-such-id", headers=authed),
            "405": c.put("/v1/ask", json={"question": "x"}, headers=authed),
            "413": c.post("/v1/ask", content=big, headers=authed),
            "415": c.post("/v1/articles", content=b"x", headers=authed),
            "422 schema": c.post("/v1/ask", json={"k": 3}, headers=authed),
            "422 question": c.post("/v1/ask", json={"question": " "}, headers=authed),
            "400 json": c.post(
                "/v1/articles",
                content=b"{nope",
                headers={**authed, "content-type": "application/json"},
            ),
        }
    names = {}
    for case, res in cases.items():
        assert res.status_code == int(case[:3]), (case, res.status_code, res.text)
        body = res.json()
        assert body.keys() >= {"detail", "error"}, (case, body)
        assert body["detail"] and isinstance(body["error"], str), (case, body)
        names[case] = body["error"]
    assert names["401"] == names["401 wrong"] == "unauthorized"
    assert cases["401"].headers["www-authenticate"] == "Bearer"
    assert names["404 route"] == names["404 article"] == "not_found"
    assert names["405"] == "method_not_allowed" and names["413"] == "too_large"
    assert names["415"] == "unsupported_media_type" and names["400 json"] == "bad_request"
    assert names["422 schema"] == "invalid_request" and names["422 question"] == "question"
    assert cases["422 schema"].json()["detail"][0]["loc"] == ["body", "question"]


def test_ingest_then_ask_then_delete(server: Server) -> None:
    with server.client(headers=server.auth) as c:
        empty = c.post("/v1/ask", json={"question": "How many Guard members were deployed?"})
        assert empty.status_code == 409
        assert "no articles" in empty.json()["detail"]
        assert "Traceback" not in empty.text

        added = c.post("/v1/articles", json={"articles": [sample_article()]}).json()
        assert added["ok"] is True and len(added["new"]) == 1 and added["chunks"] >= 1
        article_id = added["new"][0]
        again = c.post("/v1/articles", json=[sample_article()]).json()
        assert again["unchanged"] == 1 and again["new"] == []

        res = c.post(
            "/v1/ask",
            json={
                "question": "How many Guard members were deployed?",
                "k": 3,
                "filters": {"sources": ["news.example"], "since": "2025-06-01"},
            },
        )
        assert res.status_code == 200, res.text
        answer = res.json()
        assert answer["refused"] is False
        assert answer["answer"].startswith("2,000 [1]")
        cite = answer["citations"][0]
        assert cite["url"] == "https://news.example/la-guard"
        assert cite["source"] == "news.example"
        assert cite["published"].startswith("2025-06-08")
        assert "deploy 2,000 National Guard members" in cite["quote"]

        other = c.post(
            "/v1/ask",
            json={
                "question": "How many Guard members were deployed?",
                "filters": {"sources": ["elsewhere.example"]},
            },
        ).json()
        assert other["citations"] == [] or all(
            x["source"] == "elsewhere.example" for x in other["citations"]
        )

        listed = c.get("/v1/articles", params={"source": "news.example"}).json()
        assert listed["total"] == 1 and listed["articles"][0]["id"] == article_id
        assert "text" not in listed["articles"][0]
        one = c.get(f"/v1/articles/{article_id}").json()
        assert "deploy 2,000 National Guard members" in one["text"]
        assert c.get("/v1/stats").json()["articles"] == 1

        assert c.delete(f"/v1/articles/{article_id}").status_code == 204
        assert c.get(f"/v1/articles/{article_id}").status_code == 404
        assert c.delete(f"/v1/articles/{article_id}").status_code == 404
        assert c.post("/v1/ask", json={"question": "Guard?"}).status_code == 409


def test_upload_files_and_bad_ones_are_reported_by_name(server: Server) -> None:
    files = [
        ("files", ("la.txt", SAMPLE.read_bytes(), "text/plain")),
        ("files", ("board.md", (FIXTURES / "articles" / "school-board.md").read_bytes())),
        ("files", ("../../empty.txt", b"", "text/plain")),
    ]
    with server.client(headers=server.auth) as c:
        res = c.post("/v1/articles", files=files)
        assert res.status_code == 200, res.text
        report = res.json()
        assert len(report["new"]) == 2
        assert report["ok"] is False
        problems = report["failed"] + report["skipped"]
        assert [p["origin"] for p in problems] == ["empty.txt"], problems
        assert "assistant-upload" not in res.text  # no server paths leak
        titles = {a["title"] for a in c.get("/v1/articles").json()["articles"]}
        assert any("Los Angeles" in t for t in titles), titles
        assert (
            c.post("/v1/articles", content=b"x", headers={"content-type": "text/plain"}).status_code
            == 415
        )
        assert c.post("/v1/articles", json={"articles": "nope"}).status_code == 422


def test_records_over_max_article_chars_are_a_422_and_nothing_is_written(
    server: Server,
) -> None:
    """The API's JSON records keep the limits of every other ingest (index/json_files.py
    ``record_item``): one over ``max_article_chars`` fails the request, and the good record
    beside it is not written either; as a file, the same record fails as the CLI reports."""
    fine = {**sample_article(), "url": "https://news.example/fine", "title": "A fine one"}
    huge = {"title": "Too long", "url": "https://news.example/huge",
            "text": "The council met again on Tuesday. " * 2000}  # fmt: skip
    assert MAX_CHARS < len(huge["text"]) < LIMIT
    over = f"record 1: article text is {len(huge['text'].strip()):,} characters, over the limit"
    with server.client(headers=server.auth) as c:
        before = c.get("/v1/articles").json()["articles"]
        res = c.post("/v1/articles", json={"articles": [fine, huge]})
        assert res.status_code == 422, res.text
        body = res.json()
        assert body["error"] == "invalid_articles"
        assert body["detail"].startswith("no article was added: 1 of 2 records refused")
        assert f"{over} of 50,000 (setting max_article_chars)" in body["detail"]
        assert c.get("/v1/articles").json()["articles"] == before  # the fine one neither
        files = [("files", ("dump.json", json.dumps([fine, huge]).encode(), "application/json"))]
        report = c.post("/v1/articles", files=files).json()
        assert report["ok"] is False and len(report["new"]) == 1
        [failed] = report["failed"]
        assert failed["origin"] == "dump.json[1]"
        assert over in failed["reason"]
        for article_id in report["new"]:
            assert c.delete(f"/v1/articles/{article_id}").status_code == 204


def test_bad_questions_are_clear_422s(server: Server) -> None:
    with server.client(headers=server.auth) as c:
        blank = c.post("/v1/ask", json={"question": "   "})
        assert blank.status_code == 422 and "empty" in blank.json()["detail"]
        long = c.post("/v1/ask", json={"question": "why " * 1000})
        assert long.status_code == 422 and "limit is 2,000" in long.json()["detail"]
        assert c.post("/v1/ask", json={"k": 3}).status_code == 422  # no question field
        assert c.post("/v1/ask/stream", json={"question": ""}).status_code == 422


def test_request_size_limit(server: Server) -> None:
    big = json.dumps({"question": "x" * (LIMIT + 10)}).encode()
    with server.client(headers=server.auth) as c:
        declared = c.post("/v1/ask", content=big, headers={"content-type": "application/json"})
        assert declared.status_code == 413
        assert "300,000 bytes" in declared.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536]

        chunked = c.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        # the server is still fine afterwards
        assert c.get("/healthz").status_code == 200


def test_streaming_answer_as_server_sent_events(server: Server) -> None:
    with server.client(headers=server.auth) as c:
        c.post("/v1/articles", json=[sample_article()])
        events: list[tuple[str, Any]] = []
        body = {"question": "How many Guard members were deployed?", "session_id": "sse-1"}
        with c.stream("POST", "/v1/ask/stream", json=body) as res:
            assert res.status_code == 200
            assert res.headers["content-type"].startswith("text/event-stream")
            for block in res.read().decode().split("\n\n"):
                if not block.strip():
                    continue
                lines = dict(line.split(": ", 1) for line in block.splitlines())
                events.append((lines["event"], json.loads(lines["data"])))
        kinds = [kind for kind, _ in events]
        assert kinds[-1] == "answer" and set(kinds[:-1]) == {"delta"} and len(kinds) > 3
        final = events[-1][1]
        assert "".join(data["text"] for _, data in events[:-1]) == final["answer"]
        assert final["answer"].startswith("2,000 [1]")
        assert final["citations"][0]["url"] == "https://news.example/la-guard"

        follow = c.post(
            "/v1/ask", json={"question": "and who announced it?", "session_id": "sse-1"}
        ).json()
        assert "Guard members were deployed" in follow["standalone_question"]
        assert c.delete("/v1/sessions/sse-1").status_code == 204


def test_feedback_is_recorded_with_the_api_channel(server: Server) -> None:
    with server.client(headers=server.auth) as c:
        c.post("/v1/articles", json=[sample_article()])
        answer = c.post("/v1/ask", json={"question": "How many Guard members were deployed?"})
        res = c.post(
            "/v1/feedback", json={"rating": "up", "answer": answer.json(), "user": "desk-1"}
        )
        assert res.status_code == 201
    lines = (server.data / "feedback.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    assert (last["rating"], last["channel"], last["user"]) == ("up", "api", "desk-1")
    assert last["citations"][0]["url"] == "https://news.example/la-guard"


def test_cors_only_for_configured_origins_and_docs(server: Server) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    with server.client() as c:
        ok = c.options("/v1/ask", headers={"Origin": ORIGIN, **preflight})
        assert ok.headers.get("access-control-allow-origin") == ORIGIN
        other = c.options("/v1/ask", headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        spec = c.get("/openapi.json").json()
        assert {"/v1/ask", "/v1/ask/stream", "/v1/articles", "/readyz"} <= set(spec["paths"])
        assert c.get("/docs").status_code == 200


def test_cors_is_off_by_default(data_env: Path) -> None:
    from fastapi.middleware.cors import CORSMiddleware

    from assistant.faces.api import create_app
    from assistant.settings import Settings

    app = create_app(Settings.load())
    assert all(m.cls is not CORSMiddleware for m in app.user_middleware)
    assert Settings.load().api_token is None


def test_not_ready_when_the_assistant_cannot_start(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_EMBED_MODEL": str(tmp_path / "no-such-model"),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline
            try:
                ready = httpx.get(f"{url}/readyz", timeout=2)
            except httpx.TransportError:
                time.sleep(0.3)
                continue
            if "could not start" in ready.text:
                break
            assert ready.status_code == 503, ready.text  # never ready
            time.sleep(0.3)
        assert ready.status_code == 503 and ready.json()["error"] == "unavailable"
        assert "no-such-model" in ready.json()["detail"]
        assert httpx.get(f"{url}/healthz").status_code == 200
        ask = httpx.post(f"{url}/v1/ask", json={"question": "Guard?"})
        assert ask.status_code == 503 and "could not start" in ask.json()["detail"]
        assert ask.json()["error"] == "unavailable"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_one_process_serves_the_api_and_the_web_ui(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp_path / "serve.log").open("wb")
    cmd = [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--ui"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        page = httpx.get(f"{url}/ui/", timeout=30)
        assert page.status_code == 200 and "gradio" in page.text.lower()
        config = httpx.get(f"{url}/ui/config", timeout=30).json()
        assert config["components"], "the Gradio app is mounted with its components"
        added = httpx.post(f"{url}/v1/articles", json=[sample_article()], timeout=60).json()
        assert len(added["new"]) == 1
        question = {"question": "How many Guard members were deployed?"}
        res = httpx.post(f"{url}/v1/ask", json=question, timeout=60)
        assert res.json()["answer"].startswith("2,000 [1]")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_as_of_leaves_out_later_articles_and_sources_are_listed_once(server: Server) -> None:
    with server.client(headers=server.auth) as c:
        added = c.post("/v1/articles", json={"articles": volcano_articles()}).json()
        assert len(added["new"]) == 3, added
        try:
            later = c.post("/v1/ask", json={"question": VOLCANO_Q}).json()
            assert "kilauea-jun" in {p["article_id"] for p in later["passages"]}
            res = c.post("/v1/ask", json={"question": VOLCANO_Q, "as_of": AS_OF})
            assert res.status_code == 200, res.text
            answer = res.json()
            ids = {p["article_id"] for p in answer["passages"]}
            assert "kilauea-jun" not in ids and {"etna-feb", "stromboli-undated"} <= ids
            # the one source list: each (number, article) once, covering every citation
            listed = [(s["n"], s["article_id"]) for s in answer["sources"]]
            assert len(listed) == len(set(listed))
            assert {(x["n"], x["article_id"]) for x in answer["citations"]} == set(listed)
            assert all(s["quotes"] for s in answer["sources"])
        finally:
            for article_id in added["new"]:
                c.delete(f"/v1/articles/{article_id}")


@pytest.mark.browser
def test_docs_page_works_offline(server: Server) -> None:
    """Swagger UI's script and styles come from this server: the page lists the endpoints
    and no request leaves 127.0.0.1."""
    from playwright.sync_api import sync_playwright
    from test_ui_browser import CHROMIUM, CHROMIUM_ARGS

    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def guard(route: Any) -> None:
                if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", guard)
            page.goto(f"{server.url}/docs")
            page.get_by_text("/v1/ask/stream").first.wait_for(timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert {"/v1/ask", "/v1/articles", "/v1/stats"} <= {p.replace("\u200b", "") for p in paths}
    assert outside == []


def test_author_filter_and_bylines_over_http(server: Server) -> None:
    with server.client(headers=server.auth) as c:
        added = c.post("/v1/articles", json={"articles": guard_rows()}).json()
        assert sorted(added["new"]) == ["guard-reyes", "guard-smith"], added
        try:
            res = c.post(
                "/v1/ask", json={"question": GUARD_Q, "filters": {"authors": ["TOM REYES"]}}
            )
            assert res.status_code == 200, res.text
            answer = res.json()
            assert {p["article_id"] for p in answer["passages"]} == {"guard-reyes"}
            assert answer["sources"] and all(s["author"] == "Tom Reyes" for s in answer["sources"])
            assert answer["citations"][0]["author"] == "Tom Reyes"  # from the "By …" line
            listed = c.get("/v1/articles", params={"author": "jane smith"}).json()
            assert [a["id"] for a in listed["articles"]] == ["guard-smith"]
            assert c.get("/v1/articles/guard-smith").json()["authors"] == ["Jane Smith"]
        finally:
            for article_id in added["new"]:
                c.delete(f"/v1/articles/{article_id}")
