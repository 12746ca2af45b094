"""Request and error bodies of the HTTP API, kept out of its routes: the size limit (pure
ASGI; the Slack events endpoint uses it too), the ``{"detail", "error"}`` error bodies (the
status and name of each of the Assistant's errors among them), the filters every question
endpoint takes, safe names for uploaded files, and the OpenAPI description of the two-format
article upload."""

from __future__ import annotations

import json
import re
from contextlib import suppress
from datetime import datetime
from http import HTTPStatus
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import (
    AssistantError,
    ConfigError,
    EmptyIndexError,
    IngestError,
    QuestionError,
    StoreError,
    StoreUnavailableError,
)


class FilterBody(BaseModel):
    """Which articles a question may be answered from (``/v1/ask``, ``/v1/chat/completions``)."""

    sources: list[str] = Field(default_factory=list, description="only these outlets")
    authors: list[str] = Field(
        default_factory=list,
        description="only articles any of these wrote or co-wrote (case and accents ignored)",
    )
    since: datetime | None = Field(None, description="published on or after (date or datetime)")
    until: datetime | None = Field(None, description="published on or before")


# each of the Assistant's errors: its status and its stable name; the base class comes last
STATUS: list[tuple[type[AssistantError], int, str]] = [
    (QuestionError, 422, "question"),
    (EmptyIndexError, 409, "empty_index"),
    (IngestError, 422, "invalid_articles"),
    (StoreUnavailableError, 503, "store_unavailable"),
    (StoreError, 503, "store"),
    (ConfigError, 500, "config"),
    (AssistantError, 400, "assistant"),
]

EMPTY_INDEX = (
    "the index holds no articles yet: add some with POST /v1/articles or `assistant ingest PATH`"
)


def error_body(exc: AssistantError) -> tuple[int, dict[str, str]]:
    """The status and ``{"detail", "error"}`` body of one of the Assistant's errors."""
    if isinstance(exc, EmptyIndexError):  # its message names the data dir: not for clients
        return 409, {"detail": EMPTY_INDEX, "error": "empty_index"}
    for kind, status, name in STATUS:
        if isinstance(exc, kind):
            return status, {"detail": str(exc), "error": name}
    raise AssertionError("unreachable: AssistantError is the last entry")


# the "error" field of {"detail", "error"}: a stable name a client can branch on
ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def error_name(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    return ERROR_NAMES.get(status) or re.sub(r"\W+", "_", phrase.lower()).strip("_")


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Every HTTPException (ours, and the router's 404 and 405) as ``{"detail", "error"}``."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"detail": exc.detail, "error": error_name(exc.status_code)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A body or query that does not fit the schema: FastAPI's list of problems as ``detail``."""
    assert isinstance(exc, RequestValidationError)
    detail = jsonable_encoder(exc.errors())
    return JSONResponse({"detail": detail, "error": "invalid_request"}, status_code=422)


def error_handlers(app: FastAPI) -> None:
    """The framework's own errors (404, 405, 422, ``HTTPException``) in the API's shape."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answers 413 to a request whose body exceeds ``limit`` bytes, before reading it when the
    client declares its length, else as soon as the running total passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        seen = 0
        started = rejected = False

        async def counted() -> Message:
            nonlocal seen, rejected
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not rejected:
                    # answer now: the framework may catch the exception below and turn it
                    # into a 400 of its own, which `tracked` then drops
                    rejected = True
                    if not started:
                        await self._reject(send)
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with suppress(_TooLarge):  # already answered 413
            await self.app(scope, counted, tracked)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"request body over {self.limit:,} bytes", "error": "too_large"}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_UNSAFE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def upload_name(field: str, value: Any, i: int) -> tuple[str, str | None]:
    """A safe file name for form part ``i`` and a warning when the client's could not be kept.

    The loader picks the format by the suffix, so the client's name is kept when it can be:
    only its last component (no ``..``, no folders), without control characters, short enough
    for any file system. A part without a file name is read as plain text, not dropped."""
    fallback = f"upload-{i}.txt"
    if not hasattr(value, "filename"):
        return fallback, (
            f"form field {field!r} (part {i + 1}) has no file name; it was read as plain text "
            f"{fallback} (name the file, e.g. article.jsonl, so its format is known)"
        )
    raw = value.filename or ""
    name = PureWindowsPath(PurePosixPath(_UNSAFE.sub("", raw)).name).name.strip()
    if name in {"", ".", ".."}:
        return fallback, f"file name {raw!r} is not usable; the file was read as {fallback}"
    stem, dot, suffix = name.rpartition(".")
    if not (dot and stem):
        stem, suffix = name, ""
    suffix = (dot + suffix)[:20]
    while len((stem + suffix).encode()) > 200:  # file systems allow 255 bytes
        stem = stem[: len(stem) * 3 // 4]
    return stem + suffix, None


ARTICLES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": 'a list of articles or {"articles": [...]}; each '
                    "{title, text, url, source, published}",
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {"type": "object", "properties": {"articles": {"type": "array"}}},
                    ],
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
        },
    }
}
