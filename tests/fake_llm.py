"""Language-model servers for the tests: no hosted model exists here, so these speak the real
wire protocols on 127.0.0.1 and return scripted replies.

- ``OpenAIServer``: ``POST /v1/chat/completions`` (JSON, or SSE with ``stream: true``:
  ``data: {chunk}`` events and a final ``data: [DONE]``), ``GET /v1/models``;
- ``OllamaServer``: ``POST /api/chat`` (NDJSON lines when streaming, Ollama's default).

``reply`` is a string or a function of the request's messages; every request body is kept in
``requests`` so tests can read the prompt the client sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import free_port

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
