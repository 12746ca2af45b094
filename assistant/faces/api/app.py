"""HTTP API (FastAPI): ``assistant serve``; the OpenAPI docs are at ``/docs``.

One :class:`~assistant.core.Assistant` is built when the server starts (in the background, so
``/healthz`` answers at once and ``/readyz`` turns 200 when the model and index are loaded) and
shared by every request. Endpoints are plain ``def`` functions where they block, so FastAPI
runs them in its threadpool; the Assistant is thread-safe.

Errors are JSON ``{"detail": ..., "error": ...}`` with a status that says what went wrong,
never a stack trace: a bad question 422, article records over the ingest limits 422 (none
of the request's records is written), an empty index 409, a body over the limit 413, a
missing or wrong bearer token 401, the read token where the admin token is needed 403
(assistant/faces/api/auth.py), a store that cannot be reached 503 with ``Retry-After``; the
router's 404 and 405 and schema errors (422, with ``detail`` the list of problems) too.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    Filters,
    IngestReport,
    Settings,
    StoreUnavailableError,
    configure_logging,
)
from assistant.faces.api.auth import admin_access, check_exposure, read_access
from assistant.faces.api.bodies import (
    ARTICLES_BODY,
    STATUS,
    BodyLimit,
    FilterBody,
    error_body,
    error_handlers,
    upload_name,
)
from assistant.faces.api.docs import mount_docs
from assistant.faces.api.health import RETRY_AFTER, Readiness, health, ready_assistant
from assistant.faces.api.openai_chat import openai_routes
from assistant.faces.api.openai_wire import OpenAIErrors
from assistant.faces.present import IngestSummary
from assistant.faces.running import announce, connect_url

log = logging.getLogger(__name__)


# -- request and response bodies ------------------------------------------------------------
class AskBody(BaseModel):
    question: str = Field(description="the question (a follow-up when session_id has turns)")
    k: int | None = Field(None, ge=1, le=50, description="passages to answer from")
    filters: FilterBody | None = None
    session_id: str | None = Field(None, max_length=200, description="chat session")
    as_of: datetime | None = Field(None, description="the date the question is asked on")


class FeedbackBody(BaseModel):
    rating: Literal["up", "down"]
    answer: Answer
    session_id: str | None = None
    user: str | None = None
    comment: str | None = Field(None, max_length=2000)


def _sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


# -- routes -----------------------------------------------------------------------------------
# the read side (ASSISTANT_API_TOKEN) and the write side (ASSISTANT_API_ADMIN_TOKEN when set)
router = APIRouter(prefix="/v1", dependencies=[Depends(read_access)])
writes = APIRouter(prefix="/v1", dependencies=[Depends(admin_access)])


@router.post("/ask", response_model=Answer, tags=["answers"])
def ask(body: AskBody, asst: Assistant = Depends(ready_assistant)) -> Answer:
    """Answer one question with cited sources (a chat turn when ``session_id`` is given)."""
    filters = Filters(**body.filters.model_dump()) if body.filters else None
    return asst.ask(
        body.question, k=body.k, filters=filters, as_of=body.as_of, session_id=body.session_id
    )


@router.post(
    "/ask/stream",
    tags=["answers"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def ask_stream(body: AskBody, asst: Assistant = Depends(ready_assistant)) -> StreamingResponse:
    """Server-Sent Events: ``delta`` events (``{"text": ...}``) as the answer is written, then
    one ``answer`` event with the Answer JSON (or an ``error`` event)."""
    filters = Filters(**body.filters.model_dump()) if body.filters else None
    stream = asst.stream(
        body.question, k=body.k, filters=filters, as_of=body.as_of, session_id=body.session_id
    )
    pieces = iter(stream)
    # the first piece is taken here so a bad question or an empty index is an HTTP status,
    # not an error in the middle of a 200 stream
    first = next(pieces, None)

    def events() -> Iterator[bytes]:
        try:
            for piece in itertools.chain([first] if first is not None else [], pieces):
                yield _sse("delta", json.dumps({"text": piece}, ensure_ascii=False))
            yield _sse("answer", stream.answer().model_dump_json())
        except AssistantError as exc:
            yield _sse("error", json.dumps(error_body(exc)[1]))
        except Exception:
            log.exception("streaming an answer failed")
            yield _sse("error", json.dumps({"detail": "internal error", "error": "internal"}))
        finally:  # the client went away: the model stops writing
            stream.cancel()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.delete("/sessions/{session_id}", status_code=204, tags=["answers"])
def reset_session(session_id: str, asst: Assistant = Depends(ready_assistant)) -> Response:
    """Forget a chat session's turns."""
    asst.reset(session_id)
    return Response(status_code=204)


@router.post("/feedback", status_code=201, tags=["answers"])
def feedback(body: FeedbackBody, asst: Assistant = Depends(ready_assistant)) -> dict[str, bool]:
    """Thumbs up/down on an answer, kept with the UI's and Slack's feedback."""
    asst.record_feedback(
        body.rating,
        body.answer,
        channel="api",
        session_id=body.session_id,
        user=body.user,
        comment=body.comment,
    )
    return {"recorded": True}


@writes.post("/articles", tags=["articles"], openapi_extra=ARTICLES_BODY)
async def add_articles(
    request: Request, asst: Assistant = Depends(ready_assistant)
) -> dict[str, Any]:
    """Ingest articles: JSON records, or uploaded files (any format ``assistant ingest``
    reads). Returns the ingest summary; ``ok`` is false when any item failed."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=10_000)
        parts = list(form.multi_items())
        if not parts:
            raise HTTPException(422, "no files in the form")
        with tempfile.TemporaryDirectory(prefix="assistant-upload-") as tmp:
            paths, names, warnings = [], {}, []
            for i, (field, value) in enumerate(parts):
                name, warning = upload_name(field, value, i)
                if warning:
                    warnings.append(warning)
                # a folder per file keeps the client's name (the loader goes by its suffix)
                # while a name like ../../x cannot leave the temporary folder
                path = Path(tmp, str(i), name)
                path.parent.mkdir()
                data = await value.read() if isinstance(value, UploadFile) else value.encode()
                path.write_bytes(data)
                paths.append(path)
                names[str(path)] = name
            report = await run_in_threadpool(asst.library.ingest_paths, paths)
        report.warnings[:0] = warnings
        _stopped(report)
        return IngestSummary.of(report, names=names).api_json()
    if ctype.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError as exc:
            raise HTTPException(400, f"the body is not valid JSON: {exc}") from exc
        records = data.get("articles") if isinstance(data, dict) else data
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise HTTPException(422, 'expected a list of article objects or {"articles": [...]}')
        # one request, one outcome: a record over the limits fails the request (422), and
        # nothing of it is written
        report = await run_in_threadpool(
            functools.partial(asst.library.ingest_records, records, all_or_none=True)
        )
        _stopped(report)
        return IngestSummary.of(report).api_json()
    raise HTTPException(415, "send application/json or multipart/form-data")


def _stopped(report: IngestReport) -> None:
    """An ingest the store's outage stopped is a 503: send it again once the store is back
    (what went in before is skipped as unchanged; nothing is left half-written)."""
    if report.stopped:
        stored = len(report.new) + len(report.updated)
        raise StoreUnavailableError(
            f"{report.stopped}. {stored} article(s) were stored before it and "
            f"{len(report.failed)} failed; send the request again once it is back (articles "
            "already stored are skipped as unchanged)"
        )


@router.get("/articles", tags=["articles"])
def list_articles(
    source: str | None = Query(None, description="only this outlet"),
    author: str | None = Query(None, description="only this author's (or co-author's)"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    asst: Assistant = Depends(ready_assistant),
) -> dict[str, Any]:
    """Indexed articles, newest first, without their text."""
    records = asst.library.list_articles(source, author)
    page = records[offset : offset + limit]
    return {
        "total": len(records),
        "articles": [r.model_dump(mode="json", exclude={"text"}) for r in page],
    }


@router.get("/articles/{article_id:path}", tags=["articles"])
def get_article(article_id: str, asst: Assistant = Depends(ready_assistant)) -> dict[str, Any]:
    """One article with its full text."""
    record = asst.library.get_article(article_id)
    if record is None:
        raise HTTPException(404, f"no article with id {article_id!r}")
    return record.model_dump(mode="json")


@writes.delete("/articles/{article_id:path}", status_code=204, tags=["articles"])
def delete_article(article_id: str, asst: Assistant = Depends(ready_assistant)) -> Response:
    """Delete an article and its chunks."""
    if not asst.library.delete_articles([article_id]):
        raise HTTPException(404, f"no article with id {article_id!r}")
    return Response(status_code=204)


@router.get("/stats", tags=["articles"])
def stats(asst: Assistant = Depends(ready_assistant)) -> Any:
    """What the index holds."""
    return jsonable_encoder(vars(asst.library.stats()))


# -- the app ----------------------------------------------------------------------------------
def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """The API app. Without ``assistant`` one is built from ``settings`` at startup."""
    settings = settings or Settings.load()
    if settings.api_mount_ui and assistant is None:
        assistant = Assistant.from_settings(settings)  # the UI is built before serving

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.assistant is None:
            threading.Thread(
                target=_build, args=(app,), name="assistant-build", daemon=True
            ).start()
        stop = threading.Event()
        if settings.feed_watch_in_serve:
            threading.Thread(
                target=_watch_feeds, args=(app, stop), name="feed-poller", daemon=True
            ).start()
        url = app.state.announce_url  # set by serve(): `assistant ask` may use this server
        try:
            with announce(settings, url) if url else contextlib.nullcontext():
                yield
        finally:
            stop.set()

    app = FastAPI(
        title="Newsroom assistant",
        version="1",
        description="Questions about news articles, answered with cited sources.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs from installed files, not a CDN
        redoc_url=None,
    )
    mount_docs(app)
    app.state.settings = settings
    app.state.assistant = assistant
    app.state.startup_error = None
    app.state.announce_url = None
    app.state.readiness = Readiness()
    for routes in (router, writes, health, openai_routes):
        app.include_router(routes)

    for kind, _status, _name in STATUS:
        app.add_exception_handler(kind, _assistant_error)
    app.add_exception_handler(Exception, _internal_error)
    error_handlers(app)
    if settings.api_cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit=settings.api_max_request_bytes)
    app.add_middleware(OpenAIErrors)  # outermost: the body limit's 413 is reshaped too
    if settings.api_mount_ui and assistant is not None:
        _mount_ui(app, assistant)
    return app


def _watch_feeds(app: FastAPI, stop: threading.Event) -> None:
    """``feed_watch_in_serve``: once the assistant is built, poll the subscribed feeds into
    its index until the server stops (README "Feeds")."""
    while app.state.assistant is None:
        if stop.wait(1.0):
            return
    log.info("polling the subscribed feeds in this process (feed_watch_in_serve)")
    app.state.assistant.feeds.watch_logged(stop)


def _build(app: FastAPI, retry_every: float = 5.0) -> None:
    """Build the Assistant; a store that cannot be reached yet is waited for (``/readyz``
    says so meanwhile), so the API needs no restart once it is up."""
    while True:
        try:
            app.state.assistant = Assistant.from_settings(app.state.settings)
            app.state.startup_error = None
            log.info("assistant ready")
            return
        except StoreUnavailableError as exc:
            if app.state.startup_error is None:
                log.warning("waiting for the store (retrying every %g s): %s", retry_every, exc)
            app.state.startup_error = f"waiting for the store: {exc}"
        except AssistantError as exc:
            app.state.startup_error = f"could not start: {exc}"
            log.error("could not build the assistant: %s", exc)
            return
        except Exception:
            app.state.startup_error = "could not start: see the server log"
            log.exception("could not build the assistant")
            return
        time.sleep(retry_every)


async def _assistant_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AssistantError)
    status, body = error_body(exc)
    if status == 503:  # the store: a client (or a CMS pushing articles) tries again later
        log.warning("%s %s: 503 %s", request.method, request.url.path, exc)
        return JSONResponse(body, status_code=503, headers={"Retry-After": RETRY_AFTER})
    return JSONResponse(body, status_code=status)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error", "error": "internal"}, status_code=500)


def _mount_ui(app: FastAPI, asst: Assistant) -> None:
    """Serve the Gradio UI at /ui from the same process (not behind the bearer token)."""
    import gradio as gr

    from assistant.faces.web import render, ui

    blocks = ui.build_ui(asst)
    # as the web app's launch does: a bounded queue, and the UI's stylesheet
    blocks.queue(default_concurrency_limit=asst.settings.ui_concurrency, max_size=200)
    if app.state.settings.api_token is not None:
        log.warning("the UI at /ui is not covered by ASSISTANT_API_TOKEN")
    gr.mount_gradio_app(app, blocks, path="/ui", css=render.CSS)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    host, port = host or settings.api_host, port or settings.api_port
    check_exposure(settings, host)  # before anything loads: a refusal is immediate
    configure_logging(settings)
    app = create_app(settings)
    app.state.announce_url = connect_url(host, port)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level)
