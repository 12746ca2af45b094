"""The OpenAI chat protocol: ``GET /v1/models`` and ``POST /v1/chat/completions``, so chat
front ends (Open WebUI, LibreChat), gateways (LiteLLM) and scripts using the ``openai`` SDK
can ask the assistant with no code of their own.

The conversation is the request's ``messages``: the last user message is the question, and
the user turns before it (with the replies that followed them) are its context. They are
restored into a throw-away chat session, so a follow-up is read by the Assistant's own
condenser exactly as a follow-up in the web app is, and the session is forgotten with the
request: no session id is needed, and none is kept. The rules are those of ``/v1/ask``: the
read token, its filters (``filters``, ``as_of``, ``k`` in the body: the SDK's
``extra_body``), its limits and its error statuses, in OpenAI's error envelope
(``openai_wire.OpenAIErrors``).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant import Answer, Assistant, AssistantError, Filters, Settings
from assistant.faces.api import openai_wire as wire
from assistant.faces.api.auth import read_access
from assistant.faces.api.bodies import FilterBody, error_body
from assistant.faces.api.health import ready_assistant

log = logging.getLogger(__name__)

# earlier exchanges restored as context: enough for the rule condenser (the last one) and
# the LLM condenser (the last three), and a bound on the work a long chat costs per question
CONTEXT_TURNS = 3
STARTED = int(time.time())  # a model's "created": this server's start


# -- request body ---------------------------------------------------------------------------
class ContentPart(BaseModel):
    """A part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, …: accepted, not read
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            text = "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        else:
            text = self.content or ""
        # a lone surrogate ("\ud83d" in JSON) cannot be stored with a restored turn
        return text.encode("utf-8", "replace").decode("utf-8")


class ChatBody(BaseModel):
    """OpenAI's chat request. The generation settings of other models are accepted and
    ignored (the answer is read from the articles, one choice); any other OpenAI field is
    accepted too. ``filters``, ``as_of`` and ``k`` are this API's own, as ``/v1/ask``
    takes them."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description=f"{wire.MODEL_ID!r} (GET /v1/models)")
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="the conversation: the last user message is the question, the turns "
        "before it are its context (system messages are not read)",
        json_schema_extra={"contains": {"properties": {"role": {"const": "user"}}}},
    )
    stream: bool = Field(False, description="server-sent chat.completion.chunk events")
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = Field(None, description="ignored: there is one answer")
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    user: str | None = None
    stream_options: dict[str, Any] | None = None
    filters: FilterBody | None = Field(None, description="extension: as POST /v1/ask takes it")
    as_of: datetime | None = Field(None, description="extension: the date the question is asked on")
    k: int | None = Field(None, ge=1, le=50, description="extension: passages to answer from")

    @field_validator("messages")
    @classmethod
    def _has_question(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.role == "user" for m in messages):
            raise ValueError("no user message: the last user message is the question")
        return messages


def read_messages(messages: list[ChatMessage], max_chars: int) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the exchanges before it, oldest first, each
    a user message and the assistant replies that followed it; the last ``CONTEXT_TURNS``,
    leaving out any over ``max_chars`` (a question this API would have refused)."""
    last = max(i for i, m in enumerate(messages) if m.role == "user")
    turns: list[tuple[str, list[str]]] = []
    for m in messages[:last]:
        if m.role == "user":
            turns.append((m.text(), []))
        elif m.role == "assistant" and turns:
            turns[-1][1].append(m.text())
    earlier = [(q, "\n\n".join(a)) for q, a in turns if q.strip() and len(q) <= max_chars]
    return messages[last].text(), earlier[-CONTEXT_TURNS:]


@contextmanager
def conversation(asst: Assistant, earlier: list[tuple[str, str]]) -> Iterator[str | None]:
    """A throw-away chat session holding ``earlier``, forgotten on leaving (None when there
    is nothing earlier: a first question needs no session, nor the state store)."""
    if not earlier:
        yield None
        return
    session = f"openai-{uuid.uuid4().hex}"
    try:
        for question, reply in earlier:
            asst.restore_turn(session, Answer(question=question, answer=reply))
        yield session
    finally:
        asst.reset(session)


# -- routes ---------------------------------------------------------------------------------
openai_routes = APIRouter(prefix="/v1", dependencies=[Depends(read_access)], tags=["openai"])


def _card(settings: Settings) -> wire.ModelCard:
    return wire.ModelCard(
        created=STARTED, answerer=settings.answerer, collection=settings.collection
    )


def _unknown_model(model: str) -> JSONResponse:
    detail = f"the model {model!r} does not exist here: this server answers as {wire.MODEL_ID!r}"
    return JSONResponse({"detail": detail, "error": "model_not_found"}, status_code=404)


@openai_routes.get("/models", response_model=wire.ModelList, responses=wire.ERROR_RESPONSES)
def list_models(request: Request) -> wire.ModelList:
    """The assistant as a model (one: this server answers from one collection with one
    answerer, which the extension fields name)."""
    return wire.ModelList(data=[_card(request.app.state.settings)])


@openai_routes.get(
    "/models/{model:path}", response_model=wire.ModelCard, responses=wire.ERROR_RESPONSES
)
def get_model(model: str, request: Request) -> Any:
    """One model: this server's, or a 404 ``model_not_found``."""
    if model != wire.MODEL_ID:
        return _unknown_model(model)
    return _card(request.app.state.settings)


@openai_routes.post(
    "/chat/completions",
    response_model=wire.ChatCompletion,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "with stream: chat.completion.chunk events, the Answer JSON in the "
            "last one's `answer`, then `data: [DONE]`",
        },
        **wire.ERROR_RESPONSES,
    },
)
def chat_completions(body: ChatBody, asst: Assistant = Depends(ready_assistant)) -> Any:
    """Answer the conversation's last user message, with cited sources: the content is the
    answer with inline [n] and a Sources list, and the extension field ``answer`` holds the
    Answer JSON (citations, sources, refused, …; in the last chunk when streaming)."""
    if body.model != wire.MODEL_ID:
        return _unknown_model(body.model)
    question, earlier = read_messages(body.messages, asst.settings.max_question_chars)
    options: dict[str, Any] = {
        "k": body.k,
        "filters": Filters(**body.filters.model_dump()) if body.filters else None,
        "as_of": body.as_of,
    }
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        with conversation(asst, earlier) as session:
            answer = asst.ask(question, session_id=session, **options)
        return wire.completion(answer, completion_id, created)
    pieces = _pieces(asst, question, earlier, options)
    # the first piece is taken here so a bad question or an empty index is an HTTP status,
    # not an error in the middle of a 200 stream
    first = next(pieces)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _chunks(itertools.chain([first], pieces), completion_id, created),
        media_type="text/event-stream",
        headers=headers,
    )


def _pieces(
    asst: Assistant, question: str, earlier: list[tuple[str, str]], options: dict[str, Any]
) -> Iterator[str | Answer]:
    with conversation(asst, earlier) as session:
        stream = asst.stream(question, session_id=session, **options)
        try:
            yield from stream
            yield stream.answer()  # the last piece: what _chunks ends the completion with
        finally:  # the client went away: the model stops writing
            stream.cancel()


def _chunks(pieces: Iterator[str | Answer], completion_id: str, created: int) -> Iterator[bytes]:
    """The answer's pieces as content deltas as they come (as the web app shows them), then
    its Sources, then a last chunk with ``finish_reason`` and the Answer JSON; a failure
    midway is an ``{"error": …}`` event, as OpenAI sends one."""
    yield wire.chunk(completion_id, created, {"role": "assistant", "content": ""})
    defuser = wire.Defuser()
    sent: list[str] = []
    try:
        for piece in pieces:
            if isinstance(piece, Answer):
                held = defuser.flush()
                tail = held + wire.streamed_tail(piece, "".join(sent) + held)
                if tail:
                    yield wire.chunk(completion_id, created, {"content": tail})
                yield wire.chunk(completion_id, created, {}, "stop", answer=piece)
                yield wire.DONE
                return
            text = defuser.feed(piece)
            sent.append(text)
            if text:
                yield wire.chunk(completion_id, created, {"content": text})
    except AssistantError as exc:
        status, body = error_body(exc)
        yield _error_event(status, body)
    except Exception:
        log.exception("streaming a chat completion failed")
        yield _error_event(500, {"detail": "internal error", "error": "internal"})


def _error_event(status: int, body: dict[str, str]) -> bytes:
    return f"data: {json.dumps(wire.error_object(status, body))}\n\n".encode()
