"""Articles from the web: ``ingest URL``, subscriptions and the poller, against a real HTTP
newsroom on 127.0.0.1 (tests/fake_newsroom.py) and a real index with the real model.

Every count of what was fetched is taken on the server's side."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT, free_port
from fake_newsroom import Newsroom, make_story, serve
from typer.testing import CliRunner

from assistant import Feeds, Library
from assistant.faces.cli import app
from assistant.settings import Settings
from index.feeds.http import Fetcher, FetchOptions
from index.feeds.state import FeedState

runner = CliRunner()
AGENT = "newsroom-assistant-test/1.0 (feeds)"


@pytest.fixture
def room() -> Iterator[Newsroom]:
    newsroom = Newsroom()
    server = serve(newsroom)
    yield newsroom
    server.shutdown()
    server.server_close()


def _settings(data: Path, **extra: object) -> Settings:
    fields: dict[str, object] = {
        "data_dir": data,
        "feed_host_delay": 0.0,
        "feed_backoff": 0.01,
        "feed_user_agent": AGENT,
    }
    return Settings(**(fields | extra))  # type: ignore[arg-type]


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    lib = Library.open(_settings(tmp_path / "data"))
    yield lib
    lib.close()


def _texts(lib: Library) -> dict[str, str]:
    """Article URL -> its stored text."""
    found = {}
    for record in lib.list_articles():
        full = lib.get_article(record.id)
        assert full is not None
        found[record.url or ""] = full.text or ""
    return found


def _chunk_texts(lib: Library) -> list[str]:
    return list(lib.store.chunks.get(include=["documents"])["documents"] or [])


# -- assistant ingest URL ------------------------------------------------------------------------
def test_ingest_feed_url_reads_full_text_from_each_page(room: Newsroom, library: Library) -> None:
    stories = [room.add(make_story(n)) for n in range(3)]
    report = library.ingest_paths([room.url("/feeds/news.xml")])
    assert len(report.new) == 3 and not report.failed and not report.warnings
    texts = _texts(library)
    for story in stories:
        text = texts[room.url(story.path)]  # the canonical URL, from the page
        assert story.paragraphs[2] in text  # the page's body, not the feed's summary
        assert "Summary only" not in text and "newsletter" not in text
    record = next(r for r in library.list_articles() if r.url == room.url(stories[1].path))
    assert record.title == stories[1].title and record.authors == ["Dana Reyes"]
    assert record.published == stories[1].published and record.source == "Newsroom Daily"
    assert room.hits["/feeds/news.xml"] == 1 and room.page_hits() == 3
    assert {agent for _, _, agent in room.log} == {AGENT}


def test_robots_txt_is_obeyed_and_the_feed_text_is_said_to_be_used(
    room: Newsroom, library: Library
) -> None:
    room.add(make_story(1))
    secret = room.add(make_story(2, folder="private"))
    report = library.ingest_paths([room.url("/feeds/news.xml")])
    assert len(report.new) == 2 and not report.failed
    assert room.hits[secret.path] == 0  # disallowed: never asked for
    assert room.hits["/robots.txt"] == 1  # read once for the host
    (warning,) = report.warnings
    assert "robots.txt" in warning and "the feed's own text was ingested instead" in warning
    assert _texts(library)[room.url(secret.path)] == secret.summary


def test_ingest_sitemap_index_news_sitemap_and_a_page(room: Newsroom, library: Library) -> None:
    stories = [room.add(make_story(n), feed=None) for n in range(4)]
    report = library.ingest_paths([room.url("/sitemap_index.xml")])
    assert len(report.new) == 4 and not report.failed
    assert room.hits["/sitemaps/news.xml"] == 1
    assert stories[3].paragraphs[1] in _texts(library)[room.url(stories[3].path)]
    extra = room.add(make_story(5), feed=None)
    report = library.ingest_paths([room.url(extra.path)])  # an article page by itself
    assert len(report.new) == 1 and extra.paragraphs[3] in _texts(library)[room.url(extra.path)]
    report = library.ingest_paths([room.url("/sitemap.xml")])  # lists all five
    assert report.unchanged == 5 and not report.new and not report.failed


def test_url_ingest_keeps_the_file_limits_and_reports_each_failure(
    room: Newsroom, tmp_path: Path
) -> None:
    lib = Library.open(_settings(tmp_path / "data", max_file_mb=1, max_article_chars=5000))
    try:
        big = room.add(make_story(1))
        big.paragraphs.append("A very long appendix sentence. " * 40_000)  # over 1 MB
        long = room.add(make_story(2))
        long.paragraphs.append("A long but not huge appendix. " * 300)  # over 5000 chars
        room.add(make_story(3))
        gone = room.add(make_story(4))
        gone.summary = ""  # the feed has nothing of its own to fall back on
        room.always_fail[gone.path] = 404
        report = lib.ingest_paths(
            [room.url("/feeds/news.xml"), room.url("/nowhere.xml"), "ftp://example.org/x"]
        )
    finally:
        lib.close()
    assert len(report.new) == 3  # the big and the long page: the feed's text instead
    assert any("larger than 1 MB" in w for w in report.warnings)
    assert any("setting max_article_chars" in w for w in report.warnings)
    reasons = {f.origin: f.reason for f in report.failed}
    assert "404" in reasons[room.url(gone.path)]
    assert "404" in reasons[room.url("/nowhere.xml")]
    assert "ftp://example.org/x" in reasons
    assert len(report.failed) == 3


# -- subscriptions and the poller -----------------------------------------------------------------
def test_a_second_poll_fetches_only_what_changed_and_updates_keep_their_id(
    room: Newsroom, library: Library
) -> None:
    stories = [room.add(make_story(n)) for n in range(5)]
    feeds = Feeds(library.settings, library)
    feeds.add(room.url("/feeds/news.xml"))
    (first,) = feeds.poll()
    assert first.ok and len(first.report.new) == 5 and room.page_hits() == 5

    (second,) = feeds.poll()
    assert second.ok and second.not_modified and second.requests == 1
    assert room.hits["/feeds/news.xml"] == 2 and room.page_hits() == 5  # a 304, nothing else

    old_sentence = stories[2].paragraphs[0]
    before = {r.url: r for r in library.list_articles()}[room.url(stories[2].path)]
    stories[2].revise(
        "Correction: the Eastvale council postponed the vote on the water plant to July.",
        datetime(2025, 6, 3, 12, 0, tzinfo=UTC),
    )
    (third,) = feeds.poll()
    assert third.ok and len(third.report.updated) == 1 and not third.report.new
    assert room.page_hits() == 6 and room.hits[stories[2].path] == 2  # only the changed page
    after = {r.url: r for r in library.list_articles()}[room.url(stories[2].path)]
    assert after.id == before.id and len(library.list_articles()) == 5
    chunks = _chunk_texts(library)
    assert any("postponed the vote on the water plant" in c for c in chunks)
    assert not any(old_sentence[:60] in c for c in chunks)  # the old chunks are gone
    assert not set(before.chunk_ids) & set(after.chunk_ids)

    (sub,) = feeds.subscriptions()
    assert sub.items == 5 and sub.last_error == "" and sub.last_success is not None


def test_a_failing_feed_leaves_the_others_ingested(room: Newsroom, library: Library) -> None:
    for n in range(3):
        room.add(make_story(n), feed="news")
    for n in range(3, 5):
        room.add(make_story(n), feed="busy")
    missing = room.add(make_story(6), feed="busy")
    missing.summary = ""  # its page is a 404 and the feed has no text of its own
    room.always_fail[missing.path] = 404
    room.fail["/feeds/busy.xml"] = [(429, {"Retry-After": "0"})]  # once, then served
    room.always_fail["/feeds/down.xml"] = 500
    room.broken["/feeds/bad.xml"] = b"this is no feed at all <<<"
    closed = f"http://127.0.0.1:{free_port()}/feed.xml"
    feeds = Feeds(library.settings, library)
    for path in ("/feeds/news.xml", "/feeds/down.xml", "/feeds/busy.xml", "/feeds/bad.xml"):
        feeds.add(room.url(path))
    feeds.add(closed)

    polls = {p.url: p for p in feeds.poll()}
    assert len(polls[room.url("/feeds/news.xml")].report.new) == 3
    busy = polls[room.url("/feeds/busy.xml")]
    assert len(busy.report.new) == 2 and room.hits["/feeds/busy.xml"] == 2  # 429, then 200
    assert [f.origin for f in busy.report.failed] == [room.url(missing.path)]
    assert "HTTP 500" in polls[room.url("/feeds/down.xml")].error
    assert room.hits["/feeds/down.xml"] == 3  # tried 1 + feed_retries times
    assert "malformed feed" in polls[room.url("/feeds/bad.xml")].error
    assert "cannot be reached" in polls[closed].error
    assert len(library.list_articles()) == 5

    listed = {s.url: s for s in feeds.subscriptions()}
    assert listed[room.url("/feeds/news.xml")].last_success is not None
    down = listed[room.url("/feeds/down.xml")]
    assert down.last_success is None and "HTTP 500" in down.last_error
    assert listed[room.url("/feeds/busy.xml")].failing == 1  # tried again next poll

    room.always_fail.pop("/feeds/down.xml")
    room.feeds["down"] = ["story-0"]
    (again,) = feeds.poll([room.url("/feeds/down.xml")])
    assert again.ok and again.report.unchanged == 1  # the same article, already indexed


def test_requests_to_one_host_take_turns_with_a_delay(room: Newsroom) -> None:
    room.add(make_story(1))
    fetcher = Fetcher(FetchOptions(user_agent=AGENT, host_delay=0.3))
    for path in ("/feeds/news.xml", "/articles/story-1.html", "/sitemap.xml"):
        fetcher.get(room.url(path))
    times = [t for t, _, _ in room.log]
    assert room.log[0][1] == "/robots.txt"
    assert all(b - a >= 0.28 for a, b in itertools.pairwise(times))
    response = fetcher.get(room.url("/articles/story-1.html"))
    again = fetcher.get(room.url("/articles/story-1.html"), response.etag)
    assert again.not_modified and room.hits["/articles/story-1.html"] == 3


def test_the_cli_ingests_urls_and_manages_subscriptions(
    room: Newsroom, data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_FEED_HOST_DELAY", "0")
    for n in range(2):
        room.add(make_story(n))
    room.add(make_story(7), feed="more")
    result = runner.invoke(app, ["ingest", room.url("/atom/news.xml")])
    assert result.exit_code == 0, result.output
    assert "new 2, updated 0" in result.output

    feed = room.url("/feeds/more.xml")
    result = runner.invoke(app, ["feeds", "add", feed, "--every", "15m"])
    assert result.exit_code == 0 and "every 15m" in result.output
    result = runner.invoke(app, ["watch", "--once"])
    assert result.exit_code == 0, result.output
    assert "new 1" in result.output
    listed = json.loads(runner.invoke(app, ["feeds", "list", "--json"]).output)
    assert listed[0]["url"] == feed and listed[0]["items"] == 1 and listed[0]["every"] == "15m"
    assert "never" not in listed[0]["last_success"]
    result = runner.invoke(app, ["feeds", "list"])
    assert "items seen: 1" in result.output

    stats = runner.invoke(app, ["stats"])
    assert "newest article: 2025-06-01" in stats.output  # story 7: 16:00 that day
    assert json.loads(runner.invoke(app, ["stats", "--json"]).output)["latest"].startswith(
        "2025-06-01 16:00"
    )
    result = runner.invoke(app, ["feeds", "remove", feed])
    assert (
        result.exit_code == 0
        and json.loads(runner.invoke(app, ["feeds", "list", "--json"]).output) == []
    )


@pytest.mark.slow
def test_the_poller_state_survives_kill_9(room: Newsroom, tmp_path: Path) -> None:
    """`assistant watch` killed mid-poll: the next poll fetches only what was not stored."""
    for n in range(20):
        room.add(make_story(n))
    held = "/articles/story-16.html"  # the first page of the second group of 16
    room.hold[held] = gate = threading.Event()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(data),
        "ASSISTANT_FEED_HOST_DELAY": "0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("ASSISTANT_SETTINGS_FILE", None)
    env.pop("ASSISTANT_CHROMA_HOST", None)
    feed = room.url("/feeds/news.xml")
    FeedState(data).add(feed)
    log = (tmp_path / "watch.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "watch"], cwd=tmp_path, env=env, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while room.hits[held] == 0:
            assert proc.poll() is None, (tmp_path / "watch.log").read_text()
            assert time.monotonic() < deadline, "the watch never reached the second group"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    gate.set()
    saved = FeedState(data).items(feed)
    assert len(saved) == 16 and all(s.status == "page" for s in saved.values())

    lib = Library.open(_settings(data))
    try:
        assert len(lib.list_articles()) == 16
        (poll,) = Feeds(lib.settings, lib).poll()
        assert poll.ok and len(poll.report.new) == 4 and poll.fetched == 4
        assert all(room.hits[f"/articles/story-{n}.html"] == 1 for n in range(16))
        assert len(lib.list_articles()) == 20
        (idle,) = Feeds(lib.settings, lib).poll()
        assert idle.not_modified and room.page_hits() == 21  # 20 pages + the held one again
    finally:
        lib.close()


def test_serve_polls_the_feeds_in_process_when_asked(room: Newsroom, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from assistant import Assistant
    from assistant.faces.api import create_app

    for n in range(2):
        room.add(make_story(n))
    settings = _settings(tmp_path / "data", feed_watch_in_serve=True)
    asst = Assistant.from_settings(settings)
    asst.feeds.add(room.url("/feeds/news.xml"))
    with TestClient(create_app(settings, asst)) as client:
        deadline = time.monotonic() + 60
        while len(asst.library.list_articles()) < 2:
            assert time.monotonic() < deadline, "the in-process poller ingested nothing"
            time.sleep(0.2)
        assert client.get("/v1/stats").json()["articles"] == 2
    (sub,) = asst.feeds.subscriptions()
    assert sub.items == 2 and sub.last_success is not None


def test_the_web_index_tab_shows_the_feeds_read_only(room: Newsroom, library: Library) -> None:
    from assistant.faces.present import feed_views
    from assistant.faces.web import render

    room.add(make_story(1))
    room.always_fail["/feeds/down.xml"] = 500
    feeds = Feeds(library.settings, library)
    assert "No feeds followed" in render.feeds_html(feed_views(feeds))
    feeds.add(room.url("/feeds/news.xml"), every=120)
    feeds.add(room.url("/feeds/down.xml"))
    feeds.poll()
    html = render.feeds_html(feed_views(feeds))
    assert room.url("/feeds/news.xml") in html and "2m" in html and "15m (default)" in html
    assert "new 1" in html and "HTTP 500" in html
    assert "<button" not in html and "<input" not in html
