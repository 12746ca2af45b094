"""A Chroma server that goes away under running faces: a real `chroma run` of the test's own
is stopped under the HTTP API (`assistant serve` in a subprocess), the web app's handlers and
the Slack bot (against the local Slack Web API stand-in), and started again on the same data
and port. Every face says which server is down and what to do (the API: 503 with
Retry-After, /readyz 503), an ingest caught by the outage leaves no half-written article,
and everything recovers with no restart."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from conftest import ROOT, SAMPLE, ChromaProcess, free_port, index_state, stop
from pydantic import SecretStr

from assistant import Assistant, Settings

pytestmark = pytest.mark.server
QUESTION = "How many Guard members were deployed?"


def sample_record() -> dict[str, str]:
    return {
        "title": "National Guard deployed to Los Angeles",
        "text": SAMPLE.read_text(encoding="utf-8"),
        "url": "https://news.example/la-guard",
        "source": "news.example",
        "published": "2025-06-08",
    }


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaProcess]:
    server = ChromaProcess(tmp_path_factory.mktemp("chroma")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def asst(chroma: ChromaProcess, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    data = tmp_path_factory.mktemp("outage") / "data"
    settings = Settings.load(
        data_dir=data,
        chroma_host=chroma.host,
        chroma_port=chroma.port,
        chroma_timeout=5,
        ingest_batch_chunks=1,  # an article per batch: an outage can fall between two
    )
    assistant = Assistant.from_settings(settings)
    assert len(assistant.library.ingest_records([sample_record()]).new) == 1
    return assistant


@contextlib.contextmanager
def outage(chroma: ChromaProcess) -> Iterator[str]:
    """The Chroma server stopped for the block, then started again; yields what every
    message about it must name."""
    chroma.stop()
    try:
        yield f"the Chroma server at 127.0.0.1:{chroma.port}"
    finally:
        chroma.start()


def test_the_web_app_says_in_the_chat_which_server_is_down(
    chroma: ChromaProcess, asst: Assistant
) -> None:
    from assistant.faces.web.ui import Handlers

    on, request = Handlers(asst), SimpleNamespace(session_hash="tab-1")
    with outage(chroma) as server:
        *_, (chat, _sources, box) = on.respond(QUESTION, None, "", "", 5, request)  # type: ignore[arg-type]
        assert f"{server} cannot be reached" in chat and "chroma run" in chat
        assert QUESTION in chat and box == QUESTION  # kept in the box, to ask again
        overview, *_ = on.index_view()
        assert server in overview
    *_, (chat, _sources, box) = on.respond(QUESTION, None, "", "", 5, request)  # type: ignore[arg-type]
    assert "2,000" in chat and "cannot be reached" not in chat and box == ""


def test_the_slack_bot_replies_in_the_thread_which_server_is_down(
    chroma: ChromaProcess, asst: Assistant
) -> None:
    import uvicorn
    from slack_sdk import WebClient
    from test_slack import SECRET, Bot

    from assistant.faces.slack import build_app, events_app
    from assistant.faces.slack_local import BOT_USER, LocalSlack

    fake = LocalSlack()
    settings = asst.settings.model_copy(update={"slack_signing_secret": SecretStr(SECRET)})
    app = build_app(asst, settings, WebClient(token="xoxb-test", base_url=fake.url))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(events_app(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        fake.wait_for(lambda: server.started, timeout=30)
        bot = Bot(f"http://127.0.0.1:{port}/slack/events", fake, asst, Path())
        with outage(chroma) as down:
            ts = bot.ask("C9", f"<@{BOT_USER}> {QUESTION}")
            reply = bot.reply("C9", ts)
            assert reply["text"].startswith(":warning:")
            assert f"{down} cannot be reached" in reply["text"]
        ts = bot.ask("C9", f"<@{BOT_USER}> {QUESTION}")
        assert bot.reply("C9", ts)["text"].startswith("2,000")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        fake.close()


def test_an_ingest_caught_by_the_outage_leaves_no_half_written_article(
    chroma: ChromaProcess, asst: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from answer_samples import volcano_articles

    records = volcano_articles()
    store = asst.store
    upserts = 0
    real = store.chunks.upsert

    def upsert(*args: Any, **kwargs: Any) -> Any:
        nonlocal upserts
        upserts += 1
        if upserts == 2:  # the server goes away just as the second batch's chunks are sent
            chroma.stop()
        return real(*args, **kwargs)

    monkeypatch.setattr(store.chunks, "upsert", upsert)
    try:
        report = asst.library.ingest_records(records)
    finally:
        monkeypatch.undo()
        if chroma.proc is None:
            chroma.start()
    assert f"the Chroma server at 127.0.0.1:{chroma.port} cannot be reached" in report.stopped
    assert not report.ok and report.new == ["etna-feb"]
    assert [f.origin for f in report.failed] and all(
        "not stored" in f.reason for f in report.failed
    )
    # what readers see: the stored article whole, the caught one not at all
    assert {r.id for r in asst.library.list_articles()} >= {"etna-feb"}
    assert "kilauea-jun" not in {r.id for r in asst.library.list_articles()}
    found = asst.retrieve("Kilauea volcano lava fountains", k=10)
    assert "kilauea-jun" not in {p.article_id for p in found}
    etna = asst.library.get_article("etna-feb")
    assert etna is not None and len(asst.store.get_chunks(etna.chunk_ids)) == len(etna.chunk_ids)

    again = asst.library.ingest_records(records)  # the next run picks them up
    assert again.ok and again.repaired >= 1
    assert set(again.new) == {r["id"] for r in records} - {"etna-feb"}
    committed, chunk_ids, pending = index_state(store)
    assert pending == 0 and {r["id"] for r in records} <= set(committed)
    for article_id in committed:
        record = asst.library.get_article(article_id)
        assert record is not None and set(record.chunk_ids) <= chunk_ids
    assert "kilauea-jun" in {p.article_id for p in asst.retrieve("Kilauea lava fountains", k=10)}


def start_api(chroma: ChromaProcess, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`assistant serve` on ``chroma``, in a subprocess on 127.0.0.1: (process, URL, log)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_CHROMA_HOST": chroma.host,
        "ASSISTANT_CHROMA_PORT": str(chroma.port),
        "ASSISTANT_CHROMA_TIMEOUT": "5",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}", log_path


@pytest.fixture
def api(chroma: ChromaProcess, asst: Assistant, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    proc, url, log_path = start_api(chroma, tmp_path)
    try:
        wait_ready(url, proc, log_path)
        yield url, log_path
    finally:
        stop(proc, 20)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, within: float = 180) -> float:
    """Seconds until ``url``'s /readyz answered 200."""
    began = time.monotonic()
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() - began < within, f"not ready in {within} s:\n{log.read_text()}"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return time.monotonic() - began
        time.sleep(0.2)


def test_the_api_answers_503_and_readyz_turns_until_chroma_is_back(
    chroma: ChromaProcess, api: tuple[str, Path]
) -> None:
    url, log = api
    with httpx.Client(base_url=url, timeout=30) as c:
        assert c.post("/v1/ask", json={"question": QUESTION}).json()["answer"].startswith("2,000")
        with outage(chroma) as server:
            time.sleep(1.6)  # /readyz's check is cached for 1.5 s
            ready = c.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"]
            assert ready.json()["error"] == "store_unavailable"
            assert f"{server} cannot be reached" in ready.json()["detail"]
            calls = [
                c.post("/v1/ask", json={"question": QUESTION}),
                c.post("/v1/ask/stream", json={"question": QUESTION}),
                c.post("/v1/ask", json={"question": "and when?", "session_id": "s1"}),
                c.get("/v1/articles"),
                c.get("/v1/stats"),
                c.post("/v1/articles", json=[sample_record() | {"title": "Another"}]),
            ]
            for res in calls:
                assert res.status_code == 503, (res.request.url, res.text)
                assert res.headers["retry-after"]
                body = res.json()
                assert body["error"] == "store_unavailable", body
                assert f"{server} cannot be reached" in body["detail"]
                assert "chroma run" in body["detail"]
        deadline = time.monotonic() + 10  # recovery, no restart: /readyz turns within seconds
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready again 10 s after Chroma came back"
            time.sleep(0.2)
        answer = c.post("/v1/ask", json={"question": QUESTION}).json()
        assert answer["answer"].startswith("2,000") and answer["id"]
    text = log.read_text()
    assert "Traceback" not in text and "HTTP Request" not in text  # httpx lines at DEBUG only
    assert "Guard members" not in text  # question texts only at debug level
    line = next(li for li in text.splitlines() if f"question {answer['id']}:" in li)
    assert "answered" in line and answer["citations"][0]["article_id"] in line


def test_an_api_started_while_chroma_is_down_waits_for_it(
    chroma: ChromaProcess, asst: Assistant, tmp_path: Path
) -> None:
    with outage(chroma) as server:
        proc, url, log = start_api(chroma, tmp_path)
        try:
            deadline = time.monotonic() + 120
            while True:  # the model loads, then the store is found missing
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                with contextlib.suppress(httpx.TransportError):
                    ready = httpx.get(f"{url}/readyz", timeout=5)
                    if "waiting for the store" in ready.text:
                        break
                time.sleep(0.3)
            assert ready.status_code == 503 and f"{server} cannot be reached" in ready.text
            ask = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=30)
            assert ask.status_code == 503 and ask.headers["retry-after"]
        except BaseException:
            stop(proc, 20)
            raise
    try:  # Chroma is back: ready within the retry interval (5 s) and the build
        wait_ready(url, proc, log, within=60)
        answer = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=30).json()
        assert answer["answer"].startswith("2,000")
    finally:
        stop(proc, 20)
    assert "Traceback" not in log.read_text()
