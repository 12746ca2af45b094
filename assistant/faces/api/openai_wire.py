"""What the OpenAI-compatible endpoints send: an answer as a chat client shows it, the
``chat.completion`` and ``chat.completion.chunk`` objects around it, and the API's errors in
OpenAI's envelope.

The message content is Markdown, which the chat front ends render and which reads as plain
text where they do not: the answer with its inline ``[n]``, then a "Sources" list (title,
outlet, date, URL) laid out from the one source view (``present``). Article text is
untrusted, so the pieces of it that Markdown would turn into an image, a link or HTML are
escaped: a title like ``![x](https://tracker/pixel.png)`` must not make a client fetch it.
Everything structured (citations, sources, ``refused``, and whatever field the Answer gains)
travels beside the content as the Answer JSON, in the extension field ``answer``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import Answer
from assistant.faces.present import SourceView, source_views, timeline_lines

log = logging.getLogger(__name__)

MODEL_ID = "newsroom-assistant"
# the paths whose errors are OpenAI error objects (their clients read nothing else)
OPENAI_PATHS = ("/v1/models", "/v1/chat/")
_TITLE_MAX = 120

# the two-character openings Markdown reads as an image or a link, and "<" (HTML, autolinks)
_ACTIVE = re.compile(r"!\[|\]\(|<")


def defuse(text: str) -> str:
    """``text`` with every Markdown image, link and HTML opening escaped (``\\<``, ``!\\[``,
    ``]\\(``); all else, the ``[n]`` markers included, is left as it is."""
    return _ACTIVE.sub(lambda m: m.group()[:-1] + "\\" + m.group()[-1], text)


class Defuser:
    """:func:`defuse` over a stream of pieces: a piece ending in "!" or "]" is held back
    until the next one, which may complete an opening, so the joined output is exactly
    ``defuse`` of the joined input however the pieces were cut."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        self._held = text[-1:] if text.endswith(("!", "]")) else ""
        return defuse(text[: len(text) - len(self._held)])

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def _title(view: SourceView) -> str:
    title = " ".join(view.title.split())  # one line: a title must not start a heading
    if len(title) > _TITLE_MAX:
        title = title[: _TITLE_MAX - 1].rstrip() + "…"
    return defuse(title)


def source_line(view: SourceView) -> str:
    """``- [1] Title — outlet, by Jane Smith, 2025-06-08 — https://…`` (the URL only when it
    is http(s))."""
    meta = ", ".join(defuse(p) for p in (view.outlet, view.byline, view.day) if p)
    note = defuse(" ".join(view.correction.split())) if view.correction else ""
    parts = [f"- [{view.n}] {_title(view)}", meta, view.url or "", note]
    return " — ".join(p for p in parts if p)


def footer(answer: Answer) -> str:
    """What follows the answer text: its dated figures when the text lacks them (a language
    model's reply, streamed before they were known), the Sources list and the notices."""
    dated = timeline_lines(answer)
    text = "\n\n" + "\n".join(defuse(line) for line in dated) if dated else ""
    lines = [source_line(v) for v in source_views(answer)]
    text += "\n\nSources\n" + "\n".join(lines) if lines else ""
    if answer.notices:
        text += "\n\n" + "\n".join(f"_Note: {defuse(n)}_" for n in answer.notices)
    return text


def message_content(answer: Answer) -> str:
    """The assistant message of a non-streaming completion."""
    return defuse(answer.answer) + footer(answer)


def streamed_tail(answer: Answer, streamed: str) -> str:
    """What a stream sends after ``streamed`` (the defused pieces sent so far) so that the
    whole equals :func:`message_content`. A language model's reply is checked against the
    passages after it was streamed and may have been rewritten: a chat client cannot take
    back what it showed, so the checked answer follows, said to be that."""
    text = defuse(answer.answer)
    if streamed == text:
        return footer(answer)
    return f"\n\n---\nChecked against the articles:\n\n{text}{footer(answer)}"


# -- response objects (documented in the OpenAPI schema) -------------------------------------
class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int = Field(description="when this server started (Unix time)")
    owned_by: str = "newsroom"
    answerer: str = Field(description="extension: the answerer that answers (settings)")
    collection: str = Field(description="extension: the collection it answers from")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="the answer with inline [n], then its Sources (Markdown)")


class CompletionChoice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[CompletionChoice]
    answer: Answer = Field(
        description="extension: the Answer JSON, as POST /v1/ask returns it (citations, "
        "sources, refused, short_answer, passages, …)"
    )


def completion(answer: Answer, completion_id: str, created: int) -> ChatCompletion:
    """The non-streaming reply: one choice holding :func:`message_content`."""
    message = CompletionMessage(content=message_content(answer))
    return ChatCompletion(
        id=completion_id,
        created=created,
        choices=[CompletionChoice(message=message)],
        answer=answer,
    )


def chunk(
    completion_id: str,
    created: int,
    delta: dict[str, str],
    finish_reason: str | None = None,
    answer: Answer | None = None,
) -> bytes:
    """One ``chat.completion.chunk`` event; the last one carries the Answer JSON."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if answer is not None:
        body["answer"] = answer.model_dump(mode="json")
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


DONE = b"data: [DONE]\n\n"


# -- errors ---------------------------------------------------------------------------------
class ErrorObject(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, …")
    param: str | None = Field(None, description="the request field at fault, if one is")
    code: str = Field(description="the stable name the rest of the API gives this error")


class ErrorBody(BaseModel):
    error: ErrorObject


# the statuses and messages are the API's; OpenAI's clients branch on the type
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": what}
    for status, what in [
        (401, "missing or wrong bearer token"),
        (404, "unknown model"),
        (413, "body over api_max_request_bytes"),
        (422, "a body that does not fit, or a question that is empty or too long"),
        (503, "starting up, or a store that cannot be reached (with Retry-After)"),
    ]
}


def _problems(detail: list[Any]) -> tuple[str, str | None]:
    """FastAPI's list of validation problems as one message, and the first one's field."""
    said, params = [], []
    for problem in detail:
        if not isinstance(problem, dict):
            problem = {"msg": problem}
        params.append(".".join(str(p) for p in problem.get("loc", []) if p != "body") or None)
        msg = problem.get("msg", "invalid")
        said.append(f"{params[-1]}: {msg}" if params[-1] else str(msg))
    return "; ".join(said) or "invalid request", next((p for p in params if p), None)


def error_object(status: int, body: Any) -> dict[str, Any]:
    """The API's ``{"detail", "error"}`` body as OpenAI's ``{"error": {message, type,
    param, code}}``; ``code`` keeps the API's stable name (``unauthorized``, ``question``…)."""
    detail = body.get("detail") if isinstance(body, dict) else body
    code = body.get("error") if isinstance(body, dict) else None
    param = None
    if isinstance(detail, list):
        message, param = _problems(detail)
    else:
        message = str(detail or "error")
    kind = _TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    error = ErrorObject(message=message, type=kind, param=param, code=str(code or status))
    return ErrorBody(error=error).model_dump()


class OpenAIErrors:
    """Pure ASGI, outermost: on :data:`OPENAI_PATHS` every error response the API makes
    (its handlers, the router's 404 and 405, the body limit's 413, and an unexpected
    exception's 500) is sent as an OpenAI error object with the same status and headers.
    Answers pass through untouched, streams included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(OPENAI_PATHS):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        passing = False
        held: list[bytes] = []

        async def reshaping(message: Message) -> None:
            nonlocal start, passing
            if message["type"] == "http.response.start":
                passing = message["status"] < 400
                if passing:
                    await send(message)
                else:
                    start = message
                return
            if passing or message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            held.append(message.get("body", b""))
            if not message.get("more_body"):
                await _send_error(send, start["status"], b"".join(held), start["headers"])

        try:
            await self.app(scope, receive, reshaping)
        except Exception:
            if passing or start is not None:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope["path"])
            body = json.dumps({"detail": "internal error", "error": "internal"}).encode()
            await _send_error(send, 500, body, [])


async def _send_error(send: Send, status: int, raw: bytes, headers: list[Any]) -> None:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    out = json.dumps(error_object(status, body)).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
    kept += [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": out})
