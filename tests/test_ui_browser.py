"""The web app in a real browser: Playwright driving Debian's Chromium against `python app.py`
on an empty data dir (which ingests the built-in sample first).

Set ASSISTANT_UPDATE_SCREENSHOT=1 to rewrite docs/screenshot.png from the sample answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, running_app
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAMPLE_Q = "How many Guard members were deployed?"
ANSWER_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`python app.py` on a fresh data dir and a free port, for the whole module."""
    tmp = tmp_path_factory.mktemp("ui-app")
    with running_app(tmp) as url:
        yield {"url": url, "data": tmp / "data", "tmp": tmp, "log": tmp / "app.log"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Any, app: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """A fresh context (its own Gradio session) and page; dialogs are recorded and dismissed,
    and any request leaving 127.0.0.1 (analytics, web fonts, CDNs) is recorded as well."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs: list[str] = []
    outside = app.setdefault("outside_requests", [])
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else outside.append(req.url)
        ),
    )

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(app["url"])
    page.locator("#question textarea").wait_for()
    return context, page, dialogs


def submit(page: Any, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def wait_answer(page: Any, turns: int) -> Any:
    """The bot message of turn ``turns`` once it is final (it has its thumbs)."""
    turn = page.locator("#chat .turn").nth(turns - 1)
    turn.locator("button.fb").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return turn.locator(".msg.bot")


def ask(page: Any, question: str) -> Any:
    before = page.locator("#chat .turn").count()
    submit(page, question)
    return wait_answer(page, before + 1)


def test_sample_question_streams_a_cited_answer_with_a_source_card(
    browser: Any, app: dict[str, Any]
) -> None:
    context, page, dialogs = open_page(browser, app)
    page.get_by_text(SAMPLE_Q, exact=True).first.click()  # the example fills the box
    # the example fills the box through a Gradio event: wait for it rather than race it
    expect(page.locator("#question textarea")).to_have_value(SAMPLE_Q)
    page.locator("#ask").click()
    bot = wait_answer(page, 1)
    assert "2,000" in bot.inner_text()
    cite = bot.locator("a.cite").first
    assert cite.inner_text() == "[1]"
    card = page.locator("#sources .src-card").first
    card.wait_for()
    assert "Tensions escalated in Los Angeles" in card.locator(".src-head").inner_text()
    assert "2,000 National Guard members" in card.locator("mark").inner_text()
    if os.environ.get("ASSISTANT_UPDATE_SCREENSHOT"):
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))

    # clicking [1] brings its card into view and marks it, without leaving the page
    url = page.url
    cite.click()
    page.locator("#sources .src-card.flash").wait_for()
    assert page.locator("#sources .src-card.flash").get_attribute("id") == "src-0-1"
    assert page.url == url

    # thumbs up is stored with the question, answer and citations
    bot.locator("button.fb[data-rating=up]").click()
    page.get_by_text("recorded for answer 1").wait_for()
    rows = [json.loads(line) for line in (app["data"] / "feedback.jsonl").read_text().splitlines()]
    assert rows[-1]["rating"] == "up" and rows[-1]["question"] == SAMPLE_Q
    assert "2,000" in rows[-1]["answer"] and rows[-1]["citations"][0]["n"] == 1
    assert rows[-1]["channel"] == "ui"
    assert not dialogs
    assert not app["outside_requests"], "the page reached beyond 127.0.0.1"
    context.close()


def _upload(page: Any, path: Path, app: dict[str, Any]) -> str:
    page.get_by_role("tab", name="Upload").click()
    # the tab's components mount on first selection: choose the file once the drop zone shows,
    # as a person would, not while Gradio is still wiring the input up
    expect(page.locator("#files")).to_be_visible()
    page.locator("#files input[type=file]").set_input_files(str(path))
    try:
        page.locator("#files").get_by_text(path.name).first.wait_for(timeout=30_000)
    except Exception as exc:  # say what the app saw: a bare timeout is undiagnosable
        log = app["log"].read_text(errors="replace")[-4000:]
        raise AssertionError(f"{path.name} never showed in the Upload tab; log:\n{log}") from exc
    page.locator("#ingest").click()
    result = page.locator("#ingest-result li")
    result.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    text = result.first.inner_text()
    page.get_by_role("tab", name="Chat").click()
    return text


def test_uploaded_article_is_searchable_at_once_and_can_be_deleted(
    browser: Any, app: dict[str, Any]
) -> None:
    article = app["tmp"] / "quillfeather-bridge.txt"
    article.write_text(
        "Title: Quillfeather Bridge to close for repairs\nSource: Harbor Gazette\n"
        "Date: 2025-03-01\nURL: https://example.org/quillfeather\n\n"
        "The Quillfeather Bridge will close for 17 days starting on March 3, the harbor "
        "authority said on Friday. Engineers found corroded cables during an inspection. "
        "Ferries will run every 20 minutes while the bridge is shut.\n",
        encoding="utf-8",
    )
    context, page, dialogs = open_page(browser, app)
    result = _upload(page, article, app)
    assert result.startswith("quillfeather-bridge.txt") and "1 new" in result
    bot = ask(page, "How long will the Quillfeather Bridge close?")
    assert "17 days" in bot.inner_text()
    card = page.locator("#sources .src-card").first
    assert "Quillfeather Bridge to close for repairs" in card.inner_text()
    assert "Harbor Gazette" in card.locator(".src-meta").inner_text()
    assert card.locator(".src-head a").get_attribute("href") == "https://example.org/quillfeather"

    # the index overview lists it; deleting it takes it out of the answers
    page.get_by_role("tab", name="Index").click()
    page.locator("#overview").get_by_text("Harbor Gazette").wait_for()
    assert "Quillfeather Bridge to close" in page.locator("#articles").inner_text()
    page.locator("#to-delete input").click()
    page.get_by_role("option", name="Quillfeather Bridge").first.click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Delete").click()
    page.get_by_text("Deleted 1 article(s).").wait_for()
    assert "Quillfeather" not in page.locator("#articles").inner_text()
    page.get_by_role("tab", name="Chat").click()
    bot = ask(page, "How long will the Quillfeather Bridge close?")
    assert "17 days" not in bot.inner_text()
    assert "Quillfeather Bridge to close" not in page.locator("#sources details[open]").inner_text()
    assert not dialogs
    context.close()


def test_article_markup_renders_as_text(browser: Any, app: dict[str, Any]) -> None:
    title = "Zephyrine <script>window.__xss = 'title'</script><img src=x onerror=\"alert('t')\">"
    body = (
        "The Zephyrine council approved a budget of 42 million dollars "
        "<img src=x onerror=\"alert('body')\"> <script>alert('s')</script> on Tuesday. "
        "Council members said the ${7*7} {{value}} money funds harbor repairs."
    )
    article = app["tmp"] / "zephyrine.txt"
    article.write_text(
        f"Title: {title}\nSource: <b>Evil</b> Outlet\nDate: 2025-04-02\n\n{body}\n",
        encoding="utf-8",
    )
    context, page, dialogs = open_page(browser, app)
    assert "1 new" in _upload(page, article, app)
    bot = ask(page, "What budget did the Zephyrine council approve?")
    assert "42 million" in bot.inner_text()
    card = page.locator("#sources .src-card").first
    shown = card.inner_text()
    assert "<script>window.__xss = 'title'</script>" in shown
    assert "<img src=x onerror=\"alert('body')\">" in shown
    assert "<b>Evil</b> Outlet" in shown
    assert "${7*7} {{value}}" in shown  # no template interpolation either
    page.get_by_role("tab", name="Index").click()
    page.locator("#articles").get_by_text("Zephyrine <script>", exact=False).wait_for()
    page.locator("#to-delete input").click()
    page.get_by_role("option").filter(has_text="<img src=x").first.wait_for()
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)  # let any injected handler fire
    assert not dialogs
    assert page.evaluate("window.__xss") is None
    for where in ("#chat", "#sources", "#articles", "#overview"):
        assert page.locator(f"{where} img, {where} script").count() == 0, where
        assert page.locator(f"{where} b").filter(has_text="Evil").count() == 0, where
    context.close()


def test_two_browsers_keep_separate_histories(browser: Any, app: dict[str, Any]) -> None:
    ctx_a, page_a, _ = open_page(browser, app)
    ctx_b, page_b, _ = open_page(browser, app)
    submit(page_a, SAMPLE_Q)
    submit(page_b, "Why did the protests begin?")
    bot_a, bot_b = wait_answer(page_a, 1), wait_answer(page_b, 1)
    assert "2,000" in bot_a.inner_text()
    assert "2,000" not in bot_b.inner_text()
    chat_a, chat_b = page_a.locator("#chat").inner_text(), page_b.locator("#chat").inner_text()
    assert "Why did the protests begin?" not in chat_a
    assert SAMPLE_Q not in chat_b
    # a follow-up in A is resolved against A's history only
    follow = ask(page_a, "And who announced it?")
    assert "Trump" in follow.inner_text()
    assert page_a.locator("#chat .turn").count() == 2
    assert page_b.locator("#chat .turn").count() == 1
    ctx_a.close()
    ctx_b.close()


def test_upload_takes_feeds_and_json_files(browser: Any, app: dict[str, Any]) -> None:
    """The widget offers what ingest reads (index.loaders), .json and RSS included."""
    feed = app["tmp"] / "harbor-feed.rss"
    feed.write_bytes((ROOT / "tests" / "fixtures" / "articles" / "harbor-feed.rss").read_bytes())
    dump = app["tmp"] / "one-article.json"
    dump.write_text(
        json.dumps(
            {"title": "Orchard cooperative buys cold store", "source": "Valley Post",
             "published": "2025-05-02",
             "text": "The Linden Orchard cooperative bought a cold store for 3 million dollars."}
        ),
        encoding="utf-8",
    )  # fmt: skip
    context, page, dialogs = open_page(browser, app)
    page.get_by_role("tab", name="Upload").click()
    accept = page.locator("#files input[type=file]").get_attribute("accept") or ""
    assert {".json", ".rss", ".xml", ".atom", ".jsonl", ".gz"} <= {
        a.strip() for a in accept.split(",")
    }
    assert _upload(page, feed, app).startswith("harbor-feed.rss: 2 new")
    context.close()
    context, page, more = open_page(browser, app)  # a fresh result list
    assert _upload(page, dump, app).startswith("one-article.json: 1 new")
    assert not dialogs and not more
    context.close()


def test_the_author_box_leaves_out_another_reporters_story(
    browser: Any, app: dict[str, Any]
) -> None:
    """Two reporters' stories on one event; with "Jane Okafor" in the Author box only hers
    is read and cited, and its card carries her byline (left empty, the other one's newer
    figure leads: tried)."""
    dump = app["tmp"] / "two-reporters.json"
    text = "The Marlow ferry terminal reopened on {d} after repairs costing {n} dollars."
    dump.write_text(
        json.dumps([
            {"id": "ferry-okafor", "title": "Marlow ferry terminal reopens", "source": "Bay Post",
             "author": "Jane Okafor", "published": "2025-05-03",
             "text": text.format(d="Friday", n="4 million")},
            {"id": "ferry-lind", "title": "Ferry terminal in Marlow back in service",
             "source": "Coast Daily", "author": "Per Lind", "published": "2025-05-04",
             "text": text.format(d="Saturday", n="4.2 million")},
        ]),
        encoding="utf-8",
    )  # fmt: skip
    context, page, dialogs = open_page(browser, app)
    assert _upload(page, dump, app).startswith("two-reporters.json: 2 new")
    page.get_by_text("Filters").click()
    page.locator("#author input, #author textarea").first.fill("Jane Okafor")
    bot = ask(page, "How much did the repairs of the Marlow ferry terminal cost?")
    assert "4 million" in bot.inner_text() and "4.2 million" not in bot.inner_text()
    cards = page.locator("#sources .src-card")
    cards.first.wait_for()
    heads = [cards.nth(i).inner_text() for i in range(cards.count())]
    assert heads and all("Jane Okafor" in h for h in heads), heads
    assert not any("Coast Daily" in h or "Per Lind" in h for h in heads), heads
    assert not dialogs
    context.close()
