"""A Slack Web API written for the tests: a real HTTP server on 127.0.0.1 that speaks the
Web API's wire format (``POST/GET /api/<method>``, JSON / form / query arguments, ``{"ok": ...}``
replies) for the methods the bot uses, keeps the messages, and records every call."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER = "UBOT"
BOT_ID = "BBOT"


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) → message
        self.lock = threading.Lock()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                url = urlsplit(self.path)
                args: dict[str, Any] = dict(parse_qsl(url.query))
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if raw and "json" in (self.headers.get("content-type") or ""):
                    args.update(json.loads(raw))
                elif raw:
                    args.update(parse_qsl(raw.decode()))
                if self.headers.get("authorization") != "Bearer xoxb-test":
                    reply: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
                else:
                    reply = fake.handle(url.path.rsplit("/", 1)[-1], args)
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def add_user_message(self, channel: str, text: str, thread_ts: str | None = None) -> str:
        """A person's message, as Slack would hold it before sending the event."""
        ts = self.new_ts()
        with self.lock:
            self.messages[(channel, ts)] = {
                "type": "message",
                "user": "UREPORTER",
                "text": text,
                "ts": ts,
                **({"thread_ts": thread_ts} if thread_ts else {}),
            }
        return ts

    def handle(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append((method, args))
            if method == "auth.test":
                return {
                    "ok": True,
                    "user_id": BOT_USER,
                    "bot_id": BOT_ID,
                    "team_id": "T1",
                    "user": "newsbot",
                    "team": "Newsroom",
                    "url": "https://x.slack.com/",
                }
            if method == "chat.postMessage":
                ts = self.new_ts()
                message = {
                    "type": "message",
                    "user": BOT_USER,
                    "bot_id": BOT_ID,
                    "ts": ts,
                    "text": args.get("text", ""),
                    "thread_ts": args.get("thread_ts"),
                    "metadata": args.get("metadata"),
                    "blocks": args.get("blocks"),
                }
                self.messages[(args["channel"], ts)] = message
                return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}
            if method == "chat.update":
                message = self.messages.get((args["channel"], args["ts"]))
                if message is None:
                    return {"ok": False, "error": "message_not_found"}
                for key in ("text", "blocks", "metadata"):
                    if key in args:
                        message[key] = args[key]
                return {"ok": True, "channel": args["channel"], "ts": args["ts"]}
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": self.new_ts()}
            if method == "conversations.replies":
                with_metadata = args.get("include_all_metadata") in {True, "1", "true"}
                thread = [
                    {k: v for k, v in m.items() if k != "metadata" or with_metadata}
                    for (channel, ts), m in sorted(self.messages.items(), key=lambda kv: kv[0][1])
                    if channel == args["channel"] and args["ts"] in {ts, m.get("thread_ts")}
                ]
                return {"ok": True, "messages": thread, "has_more": False}
            return {"ok": False, "error": "unknown_method"}

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [args for name, args in self.calls if name == method]

    def wait_for(self, check: Callable[[], Any], timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out; calls so far: {self.calls}")
