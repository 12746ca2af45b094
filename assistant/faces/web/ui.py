"""The web app: a Gradio chat over the index, with cited sources, filters, upload, an index
overview and thumbs up/down feedback.

Each browser tab is one chat session (Gradio's session hash), so ten people at once get their
own histories; the :class:`Assistant` is thread-safe and the queue runs ``ui_concurrency`` events
at a time.
Everything from an article is escaped in :mod:`assistant.faces.web.render` before it reaches
the page.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
from pydantic import TypeAdapter, ValidationError

from assistant import (
    INGEST_SUFFIXES,
    Answer,
    Assistant,
    AssistantError,
    Filters,
    IngestReport,
    Settings,
    configure_logging,
)
from assistant.faces.present import IngestSummary, feed_views
from assistant.faces.web import render

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many Guard members were deployed?",
    "Who ordered the deployment?",
    "What are activists urging?",
]
# exactly what ingest reads: the loaders' suffixes, and any of them gzipped
UPLOAD_TYPES = sorted(INGEST_SUFFIXES)
# the API's FilterBody types since/until as datetime: the UI parses them the same way
_API_DATE: TypeAdapter[datetime] = TypeAdapter(datetime)


def _session(request: Any) -> str:
    return str(getattr(request, "session_hash", None) or "anonymous")


def _answers(asst: Assistant, session_id: str) -> list[Answer]:
    return [turn.answer for turn in asst.history(session_id)]


def _outlets(asst: Assistant) -> list[str]:
    # from the records, not stats(): stats() files articles without an outlet as "unknown"
    return sorted({r.source for r in asst.library.list_articles() if r.source})


def _article_choices(asst: Assistant) -> list[tuple[str, str]]:
    # Dropdown labels are rendered as text by the browser, never as markup.
    return [(f"{r.title} — {r.source or '?'} ({r.id})", r.id) for r in asst.library.list_articles()]


def upload_cache() -> Path:
    """Where Gradio keeps uploaded files (``GRADIO_TEMP_DIR``, else <tmp>/gradio)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir(), "gradio"))


def _discard_upload(path: Path) -> None:
    """Delete an uploaded file once ingested, with its per-upload folder: Gradio would
    otherwise serve it, without any token, after its articles are deleted."""
    cache = upload_cache().resolve()
    try:
        target = path.resolve()
        if cache not in target.parents:
            return  # not an upload: never delete a file Gradio did not create
        target.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the folder may hold another upload
            target.parent.rmdir()
    except OSError as exc:
        log.warning("could not remove the uploaded file %s: %s", path, exc)


def filter_date(label: str, value: str | None) -> datetime | None:
    """A date box's value, read as the API reads ``since``/``until`` (ISO 8601: 2025-06-10,
    or a full date-time); anything else is a clear error, never a guess ("June 10" is not
    this year's June 10)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return _API_DATE.validate_python(text)
    except ValidationError as exc:
        raise gr.Error(f"Filters: {label}: {text!r} is not a date; use YYYY-MM-DD") from exc


class Handlers:
    """What the page's events do, for one Assistant; every method is a Gradio handler."""

    def __init__(self, asst: Assistant) -> None:
        self.asst = asst

    def respond(
        self,
        question: str,
        outlets: list[str] | None,
        since: str,
        until: str,
        k: float,
        request: gr.Request,
        author: str | None = None,  # None: optional for API clients that predate it
    ) -> Iterator[tuple[str, str, str]]:
        asst, sid = self.asst, _session(request)
        answers = _answers(asst, sid)
        question = (question or "").strip()
        if not question:
            yield render.chat_html(answers), render.sources_html(answers), ""
            return
        filters = Filters(
            sources=list(outlets or []),
            authors=[a.strip() for a in re.split(r"[,;]", author or "") if a.strip()],
            since=filter_date("Published since", since),
            until=filter_date("Published until", until),
        )
        text = ""
        yield render.chat_html(answers, (question, text)), render.sources_html(answers), ""
        try:
            for piece in asst.stream(question, session_id=sid, k=int(k), filters=filters):
                text += piece
                yield render.chat_html(answers, (question, text)), gr.skip(), ""
        except AssistantError as exc:
            # in the chat, where the answer would have been (a toast is easy to miss); the
            # question stays in the box to ask again
            failed = render.chat_html(answers, failed=(question, str(exc)))
            yield failed, render.sources_html(answers), question
            return
        answers = _answers(asst, sid)
        yield render.chat_html(answers), render.sources_html(answers), ""

    def rate(self, evt: gr.EventData, request: gr.Request) -> str:
        data = getattr(evt, "_data", None) or {}
        turn, rating = data.get("turn"), data.get("rating")
        answers = _answers(self.asst, _session(request))
        if rating not in ("up", "down") or not isinstance(turn, int):
            return gr.skip()
        if not 0 <= turn < len(answers):
            return gr.skip()
        self.asst.record_feedback(rating, answers[turn], channel="ui", session_id=_session(request))
        verdict = "helpful" if rating == "up" else "not helpful"
        return f"Thanks: “{verdict}” recorded for answer {turn + 1}."

    def new_chat(self, request: gr.Request) -> tuple[str, str, str]:
        self.asst.reset(_session(request))
        return render.chat_html([]), render.sources_html([]), ""

    def index_view(self) -> tuple[str, str, Any, Any]:
        asst = self.asst
        try:
            return (
                render.overview_html(asst.library.stats())
                + render.feeds_html(feed_views(asst.feeds)),
                render.articles_html(asst.library.list_articles()),
                gr.update(choices=_article_choices(asst), value=[]),
                gr.update(choices=_outlets(asst)),
            )
        except AssistantError as exc:  # the store is down: say so where the figures go
            problem = f'<p class="notice problem">⚠ {html.escape(str(exc))}</p>'
            return problem, "", gr.update(), gr.update()

    def outlets(self) -> Any:
        """The outlet filter's choices, read again each time the filter is opened: another
        process (``assistant ingest``, the API, another app) may have added outlets since the
        page loaded. The selection stays."""
        try:
            return gr.update(choices=_outlets(self.asst))
        except AssistantError:  # the store is down: keep the choices the page has
            return gr.update()

    def _ingest_one(self, path: Path, step: Any) -> dict[str, Any]:
        """One uploaded file into the index: its row of the result list."""
        try:
            report = self.asst.library.ingest_paths([path], progress=step)
        except AssistantError as exc:
            return {"file": path.name, "ok": False, "result": f"failed: {exc}"}
        except Exception as exc:  # one bad file must not stop the others
            log.exception("ingest of %s failed", path)
            return {"file": path.name, "ok": False, "result": f"failed: {exc}"}
        finally:
            _discard_upload(path)
        summary = IngestSummary.of(report)
        return {"file": path.name, "ok": summary.added_anything, "result": summary.short()}

    def upload(
        self, files: list[str] | None, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, str, str, Any, Any, None]:
        rows: list[dict[str, Any]] = []
        paths = [Path(f) for f in files or []]
        for i, path in enumerate(paths):
            progress((i, len(paths)), desc=f"Ingesting {path.name}")

            def step(report: IngestReport, i: int = i, name: str = path.name) -> None:
                progress((i, len(paths)), desc=f"{name}: {report.items} article(s) read")

            rows.append(self._ingest_one(path, step))
        progress((len(paths), len(paths)), desc="Done")
        if not rows:
            return ("<p>Choose files first.</p>", *self.index_view(), None)
        # the files are gone from the cache: the component must not offer them for download
        return (render.ingest_rows_html(rows), *self.index_view(), None)

    def delete(self, ids: list[str] | None) -> tuple[str, str, str, Any, Any]:
        try:
            deleted = self.asst.library.delete_articles(list(ids or [])) if ids else 0
        except AssistantError as exc:
            return (f"<p>⚠ {html.escape(str(exc))}</p>", *self.index_view())
        note = f"<p>Deleted {deleted} article(s).</p>" if ids else "<p>Select articles first.</p>"
        return (note, *self.index_view())


@dataclass
class ChatTab:
    chat: Any
    question: Any
    ask: Any
    outlet: Any
    author: Any
    since: Any
    until: Any
    k: Any
    clear: Any
    thanks: Any
    sources: Any


def _chat_tab(asst: Assistant) -> ChatTab:
    with gr.Tab("Chat"), gr.Row():
        with gr.Column(scale=3):
            chat = gr.HTML(render.chat_html([]), elem_id="chat", js_on_load=render.CHAT_JS)
            with gr.Row():
                question = gr.Textbox(
                    show_label=False,
                    placeholder="Ask about the news, e.g. How many Guard members were deployed?",
                    scale=5,
                    elem_id="question",
                    max_length=asst.settings.max_question_chars,
                )
                ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
            gr.Examples(EXAMPLES, inputs=question, label="Examples")
            with gr.Accordion("Filters", open=False), gr.Row():
                outlet = gr.Dropdown(
                    choices=_outlets(asst),
                    multiselect=True,
                    label="Outlets (none: all)",
                    elem_id="outlet",
                )
                author = gr.Textbox(
                    label="Author (none: all)", placeholder="Jane Smith", elem_id="author"
                )
                since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD")
                until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD")
                k = gr.Slider(1, 20, value=asst.settings.top_k, step=1, label="Passages")
            with gr.Row():
                clear = gr.Button("New conversation", size="sm")
                thanks = gr.Markdown(elem_id="feedback-note")
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            sources = gr.HTML(render.sources_html([]), elem_id="sources")
    return ChatTab(chat, question, ask, outlet, author, since, until, k, clear, thanks, sources)


def _upload_tab() -> tuple[Any, Any, Any]:
    """(files, the Ingest button, the result list)."""
    with gr.Tab("Upload", elem_id="upload-tab"):
        gr.Markdown(
            "Add articles: .txt / .md (optional `Title:`, `Source:`, `Date:`, `URL:` lines "
            "at the top), .html, or .jsonl / .jsonl.gz dumps. They are searchable at once."
        )
        files = gr.File(
            file_count="multiple", file_types=UPLOAD_TYPES, label="Files", elem_id="files"
        )
        ingest_btn = gr.Button("Ingest", variant="primary", elem_id="ingest")
        ingest_result = gr.HTML(elem_id="ingest-result")
    return files, ingest_btn, ingest_result


def _index_tab() -> tuple[Any, Any, Any, Any, Any]:
    """(overview, articles to delete, the Delete button, its note, the article table)."""
    with gr.Tab("Index", elem_id="index-tab"):
        overview = gr.HTML(elem_id="overview")
        with gr.Row():
            to_delete = gr.Dropdown(
                multiselect=True, label="Articles to delete", scale=4, elem_id="to-delete"
            )
            delete_btn = gr.Button("Delete", variant="stop", scale=1)
        delete_note = gr.HTML()
        articles = gr.HTML(elem_id="articles")
    return overview, to_delete, delete_btn, delete_note, articles


def build_ui(asst: Assistant) -> Any:
    """The Gradio Blocks for ``asst``; serve it with :func:`launch`."""
    on = Handlers(asst)
    # uploads never ingested (the tab closed before "Ingest") go after an hour
    with gr.Blocks(
        title="Newsroom assistant", analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        gr.Markdown("## Newsroom assistant\nAnswers from the indexed news articles, with sources.")
        c = _chat_tab(asst)
        files, ingest_btn, ingest_result = _upload_tab()
        overview, to_delete, delete_btn, delete_note, articles = _index_tab()

        # the author comes after the slider: respond() takes it after the request
        ask_inputs = [c.question, c.outlet, c.since, c.until, c.k, c.author]
        ask_outputs = [c.chat, c.sources, c.question]
        c.question.submit(on.respond, ask_inputs, ask_outputs)
        c.ask.click(on.respond, ask_inputs, ask_outputs)
        c.chat.click(on.rate, None, c.thanks)
        c.clear.click(on.new_chat, None, [c.chat, c.sources, c.thanks])
        c.outlet.focus(on.outlets, None, c.outlet, queue=False)
        index_outputs = [overview, articles, to_delete, c.outlet]
        ingest_btn.click(on.upload, files, [ingest_result, *index_outputs, files])
        delete_btn.click(on.delete, to_delete, [delete_note, *index_outputs])
        demo.load(on.index_view, None, index_outputs)
    return demo


def launch(asst: Assistant, host: str | None = None, port: int | None = None) -> None:
    """Ingest the sample into an empty index, then serve until interrupted."""
    settings: Settings = asst.settings
    configure_logging(settings)
    added = asst.library.ensure_sample()
    if added:
        log.info("empty index: ingested %d sample article(s)", added)
    demo = build_ui(asst)
    demo.queue(default_concurrency_limit=settings.ui_concurrency, max_size=200)
    demo.launch(
        server_name=host or settings.ui_host,
        server_port=port or settings.ui_port,
        css=render.CSS,
        show_error=True,
        footer_links=["settings"],
    )
