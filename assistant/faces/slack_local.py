"""The Slack bot without Slack: ``assistant slack --demo QUESTION``.

:class:`LocalSlack` is a Slack Web API stand-in, a real HTTP server on 127.0.0.1 that speaks
the Web API's wire format (``POST/GET /api/<method>``, JSON / form / query arguments,
``{"ok": ...}`` replies) for the methods the bot uses, keeps the messages and records every
call. The tests talk to the bot through it too. :func:`demo` runs the real bot in HTTP mode
against it, posts one signed ``app_mention`` and returns the threaded answer as text.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import SecretStr

from assistant import Settings

BOT_USER = "UBOT"
BOT_ID = "BBOT"
BOT_NAME = "newsroom-assistant"
TEST_TOKEN = "xoxb-test"


class LocalSlack:
    """A Slack Web API on 127.0.0.1 that accepts one bot token (``url`` ends in ``/api/``)."""

    def __init__(self, token: str = TEST_TOKEN) -> None:
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
                if self.headers.get("authorization") != f"Bearer {token}":
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
                    "user": BOT_NAME,
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
                stored = self.messages.get((args["channel"], args["ts"]))
                if stored is None:
                    return {"ok": False, "error": "message_not_found"}
                for key in ("text", "blocks", "metadata"):
                    if key in args:
                        stored[key] = args[key]
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


def sign(secret: str, body: bytes, stamp: str) -> str:
    """Slack's request signature (``X-Slack-Signature``) of ``body`` sent at ``stamp``."""
    base = b"v0:" + stamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post_event(url: str, secret: str, event: dict[str, Any]) -> int:
    """POST ``event`` to the bot's events endpoint as Slack does: signed, JSON."""
    body = json.dumps(
        {
            "token": "unused",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(6)}",
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": sign(secret, body, stamp),
    }
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as res:
        return int(res.status)


def as_shown(mrkdwn: str) -> str:
    """Slack mrkdwn as a reader sees it: links as ``title (url)``, no bold stars, no escapes."""
    text = re.sub(r"<(https?://[^|>]+)\|([^>]*)>", r"\2 (\1)", mrkdwn)
    text = re.sub(r"\*([^*\n]+)\*", r"\1", text)
    return html.unescape(text)


def render_thread(question: str, reply: dict[str, Any]) -> str:
    """The channel message and the bot's reply in its thread, as plain text."""
    lines = [f"#demo  reporter: @{BOT_NAME} {question}", f"  └ {BOT_NAME} (in the thread):"]
    shown: list[str] = []
    for block in reply.get("blocks") or []:
        if block["type"] == "section":
            shown.extend(as_shown(block["text"]["text"]).splitlines())
        elif block["type"] == "context":
            shown.extend(as_shown(e["text"]) for e in block["elements"])
        elif block["type"] == "actions":
            shown.append("  ".join(f"[{e['text']['text']}]" for e in block["elements"]))
        shown.append("")
    if not shown:
        shown = as_shown(reply.get("text", "")).splitlines()
    lines.extend(f"    {line}".rstrip() for line in shown)
    return "\n".join(lines).rstrip() + "\n"


def demo(settings: Settings, question: str, say: Callable[[str], None] = print) -> str:
    """Run the bot in HTTP mode against a :class:`LocalSlack`, with generated local tokens,
    ask ``question`` as an @mention and return the threaded answer as Slack shows it. An empty
    index gets the built-in sample article first, as the web app does."""
    import uvicorn

    from assistant import Assistant
    from assistant.faces.slack import PLACEHOLDER, build_app, events_app

    token, secret = f"xoxb-local-{secrets.token_hex(8)}", secrets.token_hex(16)
    slack = LocalSlack(token)
    local = settings.model_copy(
        update={
            "slack_bot_token": SecretStr(token),
            "slack_signing_secret": SecretStr(secret),
            "slack_app_token": None,
            "slack_api_url": slack.url,
        }
    )
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        say(f"local Slack Web API stand-in at {slack.url}; loading the assistant…")
        asst = Assistant.from_settings(local)
        if asst.library.ensure_sample():
            say("the index was empty: ingested the built-in sample article")
        app = build_app(asst, local)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(events_app(app), host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="slack-demo-events", daemon=True)
        thread.start()
        slack.wait_for(lambda: server is not None and server.started, timeout=30)
        events = f"http://127.0.0.1:{port}/slack/events"
        say(f"bot listening at {events}; posting a signed app_mention…")
        text = f"<@{BOT_USER}> {question}"
        ts = slack.add_user_message("CDEMO", text)
        mention = {"type": "app_mention", "user": "UREPORTER", "text": text, "ts": ts,
                   "channel": "CDEMO", "event_ts": ts}  # fmt: skip
        post_event(events, secret, mention)

        def answered() -> dict[str, Any] | None:
            with slack.lock:
                for (channel, _), m in slack.messages.items():
                    mine = channel == "CDEMO" and m.get("thread_ts") == ts and m.get("bot_id")
                    if mine and m["text"] != PLACEHOLDER:
                        return dict(m)
            return None

        return render_thread(question, slack.wait_for(answered, timeout=300))
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=10)
        slack.close()
