"""Language-model servers for the tests: no hosted model exists here, so these speak the real
wire protocols on 127.0.0.1 and return scripted replies.

- ``OpenAIServer``: ``POST /v1/chat/completions`` (JSON, or SSE with ``stream: true``:
  ``data: {chunk}`` events and a final ``data: [DONE]``), ``GET /v1/models``;
- ``OllamaServer``: ``POST /api/chat`` (NDJSON lines when streaming, Ollama's default);
- ``ScriptedLLM``: a model in this process behind llama-index's own ``LLM`` interface, offered
  to the assistant as the ``scripted`` answer backend through the registry's ``register``,
  the hook every real backend is registered with (:func:`scripted_backend`).

``reply`` is a string or a function of the request's messages; every request body is kept in
``requests`` so tests can read the prompt the client sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import free_port
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import Field

from assistant.answering.backends import Backend

Messages = list[dict[str, Any]]
Reply = str | Callable[[Messages], str]


def pieces(text: str) -> list[str]:
    """The reply cut the way models stream: a word (with its spaces) at a time."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


def source_with(messages: Messages, needle: str) -> int:
    """The number of the prompt's source whose text holds ``needle`` (a scripted model that
    "reads" its sources)."""
    prompt = messages[-1]["content"]
    for m in re.finditer(r'<source n="(\d+)"[^>]*>(.*?)</source>', prompt, re.DOTALL):
        if needle in m.group(2):
            return int(m.group(1))
    raise AssertionError(f"no source in the prompt holds {needle!r}")


class _Server:
    path = ""

    def __init__(self, reply: Reply = "", delay: float = 0.0) -> None:
        self.reply: Reply = reply
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.port = free_port()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.get(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(body)
                outer.headers.append(dict(self.headers))
                if outer.delay:
                    time.sleep(outer.delay)
                outer.post(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def text_for(self, body: dict[str, Any]) -> str:
        return self.reply(body["messages"]) if callable(self.reply) else self.reply

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def get(self, h: BaseHTTPRequestHandler) -> None:
        h.send_error(404)

    def post(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def send_json(h: BaseHTTPRequestHandler, value: Any, status: int = 200) -> None:
        data = json.dumps(value).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


class OpenAIServer(_Server):
    path = "/v1"

    def get(self, h: BaseHTTPRequestHandler) -> None:
        if h.path == "/v1/models":
            self.send_json(h, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            h.send_error(404)

    def post(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if h.path != "/v1/chat/completions":
            self.send_json(h, {"error": {"message": f"no route {h.path}"}}, 404)
            return
        text = self.text_for(body)
        base = {"id": "chatcmpl-test", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            self.send_json(h, {**base, "object": "chat.completion", "choices": [
                {"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            })  # fmt: skip
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        h.end_headers()

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            chunk = {**base, "object": "chat.completion.chunk", "choices": [choice]}
            h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            h.wfile.flush()

        event({"role": "assistant", "content": ""})
        for piece in pieces(text):
            event({"content": piece})
        event({}, "stop")
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()
        h.close_connection = True


class OllamaServer(_Server):
    def post(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if h.path != "/api/chat":
            self.send_json(h, {"error": f"no route {h.path}"}, 404)
            return
        text = self.text_for(body)
        stamp = "2025-06-10T12:00:00.000000Z"
        done = {"model": body["model"], "created_at": stamp, "done": True,
                "done_reason": "stop", "total_duration": 1_000_000, "prompt_eval_count": 100,
                "eval_count": 20}  # fmt: skip
        if body.get("stream") is False:
            self.send_json(h, {**done, "message": {"role": "assistant", "content": text}})
            return
        h.send_response(200)
        h.send_header("Content-Type", "application/x-ndjson")
        h.send_header("Connection", "close")
        h.end_headers()
        for piece in pieces(text):
            line = {"model": body["model"], "created_at": stamp, "done": False,
                    "message": {"role": "assistant", "content": piece}}  # fmt: skip
            h.wfile.write((json.dumps(line) + "\n").encode())
            h.wfile.flush()
        h.wfile.write((json.dumps({**done, "message": {"role": "assistant", "content": ""}})
                       + "\n").encode())  # fmt: skip
        h.wfile.flush()
        h.close_connection = True


class ScriptedLLM(CustomLLM):
    """A language model in this process replying from a script, through llama-index's LLM
    interface: the answerer and the condenser call it exactly as they call a server's client
    (httpx's MockTransport is the model: the code under test cannot tell the difference)."""

    reply: Any = Field(default="", description="a string, or a function of the messages")
    requests: list[Messages] = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=4096, num_output=400, is_chat_model=True,
                           model_name="scripted")  # fmt: skip

    def _text(self, messages: Messages) -> str:
        self.requests.append(messages)
        return self.reply(messages) if callable(self.reply) else str(self.reply)

    @staticmethod
    def _as_dicts(messages: Sequence[ChatMessage]) -> Messages:
        return [{"role": m.role.value, "content": m.content or ""} for m in messages]

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = self._text(self._as_dicts(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        text = self._text(self._as_dicts(messages))

        def gen() -> ChatResponseGen:
            so_far = ""
            for piece in pieces(text):
                so_far += piece
                message = ChatMessage(role=MessageRole.ASSISTANT, content=so_far)
                yield ChatResponse(message=message, delta=piece)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._text([{"role": "user", "content": prompt}]))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._text([{"role": "user", "content": prompt}])

        def gen() -> CompletionResponseGen:
            so_far = ""
            for piece in pieces(text):
                so_far += piece
                yield CompletionResponse(text=so_far, delta=piece)

        return gen()


def scripted_backend(llm: ScriptedLLM, name: str = "scripted") -> Backend:
    """The registry entry that answers with ``llm``: register it as any backend is."""
    return Backend(
        name,
        "a scripted model in this process (tests)",
        build=lambda settings: llm,
        label=lambda settings: "the scripted model",
        model_help="ignored",
    )
