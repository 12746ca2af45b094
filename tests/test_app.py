"""`python app.py` on an empty data dir: ingests the sample, serves on 127.0.0.1, and keeps
ten simultaneous users' chats apart. Driven over Gradio's own API with gradio_client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, running_app

GUARD_Q = "How many Guard members were deployed?"
WHY_Q = "Why did the protests begin?"


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def app_url(app_dir: Path) -> Iterator[str]:
    with running_app(app_dir) as url:
        yield url


def test_start_is_announced_before_the_url(app_url: str, app_dir: Path) -> None:
    log = (app_dir / "app.log").read_text()
    steps = ["Starting the web app", "Loading the embedding model", "ingesting the built-in sample",
             "Starting the server", "Running on"]  # fmt: skip
    at = [log.find(step) for step in steps]
    assert -1 not in at and at == sorted(at), log


def _ask(client: Any, question: str, since: str = "", until: str = "") -> tuple[str, str]:
    chat, sources, _ = client.predict(question, [], since, until, 5, api_name="/respond")
    return chat, sources


def test_ten_users_at_once_get_their_own_answers_and_histories(app_url: str) -> None:
    from gradio_client import Client

    def user(i: int) -> tuple[int, str, str]:
        client = Client(app_url, verbose=False)  # its own Gradio session
        first = GUARD_Q if i % 2 == 0 else WHY_Q
        _ask(client, first)
        chat, sources = _ask(client, f"And who announced it? ({i})")
        return i, chat, sources

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(user, range(10)))
    for i, chat, sources in results:
        mine = GUARD_Q if i % 2 == 0 else WHY_Q
        other = WHY_Q if i % 2 == 0 else GUARD_Q
        assert chat.count('class="turn"') == 2, chat
        assert mine in chat and other not in chat
        assert f"({i})" in chat
        assert not any(f"({j})" in chat for j in range(10) if j != i)
        if mine == GUARD_Q:
            assert "2,000" in chat
            assert 'class="src-card"' in sources


def test_filters_reach_retrieval(app_url: str) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    # the sample has no publication date, so a date window leaves nothing to answer from
    future = datetime.now(tz=UTC).year + 5
    chat, _ = _ask(client, GUARD_Q, since=f"{future}-01-01")
    assert "2,000" not in chat and 'class="msg bot refused"' in chat
    with pytest.raises(AppError, match=r"Filters: .*'not a date'"):
        _ask(client, GUARD_Q, since="not a date")
    # read as the API reads it: no guessing of a year
    with pytest.raises(AppError, match=r"Published since: 'June 10' is not a date; use YYYY-MM-DD"):
        _ask(client, GUARD_Q, since="June 10")
    with pytest.raises(AppError, match=r"Published until: '2025-13-01' is not a date"):
        _ask(client, GUARD_Q, until="2025-13-01")


def test_the_outlet_filter_lists_outlets_another_process_ingested(
    app_url: str, app_dir: Path
) -> None:
    """No page reload: opening the filter (its focus event) reads the outlets again."""
    from gradio_client import Client

    client = Client(app_url, verbose=False)  # a page loaded before the ingest
    assert "harbor-gazette.example" not in _choices(client.predict(api_name="/outlets"))
    note = app_dir / "harbor.txt"
    note.write_text("Title: Harbor reopens\nSource: harbor-gazette.example\n\n"
                    "The harbor reopened on Monday after two weeks of repairs.\n")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    ingest = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(note)],
        env={**env, "ASSISTANT_DATA_DIR": str(app_dir / "data"), "PYTHONPATH": str(ROOT)},
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    deadline = time.monotonic() + 30  # the app sees another process's writes within seconds
    while "harbor-gazette.example" not in _choices(client.predict(api_name="/outlets")):
        assert time.monotonic() < deadline, "the new outlet never reached the filter"
        time.sleep(0.5)


def _choices(update: Any) -> list[str]:
    """The choices of a Dropdown update as gradio_client returns it."""
    return [c[0] if isinstance(c, list | tuple) else c for c in update["choices"]]


def test_article_markup_is_escaped_in_every_rendering() -> None:
    from assistant.answers import Answer, Citation, Passage
    from assistant.faces.web.render import answer_html, chat_html, sources_html

    text = 'Body <img src=x onerror="alert(1)"> says <script>alert(2)</script> yes.'
    evil = "<script>alert('t')</script>"
    passage = Passage(
        chunk_id="a:1:0", article_id="a", title=evil, url="javascript:alert(1)",
        source="<b>x</b>", start=100, end=100 + len(text), text=text,
    )  # fmt: skip
    lo = 100 + text.index("says")
    citation = Citation(
        n=1, article_id="a", title=evil, url="javascript:alert(1)", source="<b>x</b>",
        chunk_id="a:1:0", start=lo, end=lo + 4, quote="says",
    )  # fmt: skip
    answer = Answer(
        question="<img src=q>", answer=f"“{text}” [1] [7]", citations=[citation], passages=[passage]
    )
    page = chat_html([answer]) + sources_html([answer])
    for raw in ("<script>", "<img", "<b>x</b>", "javascript:"):
        assert raw not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "&lt;img src=q&gt;" in page
    assert "<mark>says</mark>" in page  # the cited sentence, highlighted
    # only cited numbers become links
    linked = answer_html("a [1] b [7]", 0, {1})
    assert '<a class="cite" href="#src-0-1"' in linked and linked.endswith("b [7]")


def test_ui_subcommand_is_registered() -> None:
    from typer.testing import CliRunner

    from assistant.faces.cli import app

    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--host" in result.output


def test_uploads_are_removed_once_ingested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 item 9: uploads stayed in Gradio's cache and downloadable without a token
    after their articles were deleted."""
    import httpx
    from gradio_client import Client, handle_file

    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))  # the app inherits it
    note = tmp_path / "harbor.txt"
    note.write_text("Title: Harbor reopens\n\nThe harbor reopened on Monday after repairs.\n")
    with running_app(tmp_path) as url:
        # where the server keeps this content (a folder named by its hash), and that it serves it
        with note.open("rb") as fh:
            (cached,) = httpx.post(f"{url}gradio_api/upload", files={"files": fh}).json()
        assert httpx.get(f"{url}gradio_api/file={cached}").status_code == 200
        client = Client(url, verbose=False)
        result = client.predict([handle_file(str(note))], api_name="/upload")
        assert "new 1" in result[0] or "1 new" in result[0], result[0]
        assert [p for p in cache.rglob("harbor*") if p.is_file()] == []
        assert httpx.get(f"{url}gradio_api/file={cached}").status_code >= 400


def test_one_card_per_cited_article_with_every_quote_marked() -> None:
    from answer_samples import FIRST, SECOND, doubled_answer

    from assistant.faces.web.render import sources_html

    html = sources_html([doubled_answer()])
    assert html.count('class="src-card"') == 1 and html.count("[1]") == 1
    assert f"<mark>{FIRST}</mark>" in html and f"<mark>{SECOND}</mark>" in html


def test_date_boxes_read_dates_as_the_api_does() -> None:
    from gradio import Error

    from assistant.faces.web.ui import filter_date

    assert filter_date("Published since", " 2025-06-10 ") == datetime(2025, 6, 10)
    assert filter_date("Published since", "2025-06-10T08:30:00Z") == datetime(
        2025, 6, 10, 8, 30, tzinfo=UTC
    )
    assert filter_date("Published since", "") is None
    for bad in ("June 10", "10/06/2025", "yesterday"):
        with pytest.raises(Error, match="is not a date; use YYYY-MM-DD"):
            filter_date("Published since", bad)


def test_upload_takes_exactly_what_ingest_reads() -> None:
    from assistant.faces.web.ui import UPLOAD_TYPES
    from index.loaders import SUPPORTED_EXTS

    assert set(UPLOAD_TYPES) == SUPPORTED_EXTS | {".gz", ".gzip"}
    assert {".json", ".rss", ".xml", ".atom", ".jsonl", ".md", ".html"} <= set(UPLOAD_TYPES)
