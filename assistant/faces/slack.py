"""Newsroom Slack bot (slack-bolt): ``assistant slack``.

Answers @mentions and direct messages in a thread: a "Searching…" placeholder first, then the
answer in its place, with numbered source links, the quoted evidence and feedback buttons.
A follow-up in the thread is a chat turn of session ``<channel>:<thread_ts>``; each answer
carries its question in Slack message metadata, so after a restart the thread's history is
read back with ``conversations.replies`` instead of being lost.

Socket Mode when ``ASSISTANT_SLACK_APP_TOKEN`` is set (no public URL needed), else HTTP Events
mode at ``POST /slack/events``, where Bolt verifies every request's signature and timestamp.

This module holds the Bolt app, its listeners and the events endpoint; the answer message
itself is formatted in ``slack_messages``, and ``slack_local`` runs the bot without Slack.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    ConfigError,
    Rating,
    Settings,
    configure_logging,
)
from assistant.faces.api.bodies import BodyLimit
from assistant.faces.present import answer_text
from assistant.faces.slack_messages import answer_blocks, escape

log = logging.getLogger(__name__)

PLACEHOLDER = ":mag: Searching the articles…"
METADATA_EVENT = "newsroom_assistant_answer"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_MODES = (
    "Socket Mode (the default) needs ASSISTANT_SLACK_BOT_TOKEN and ASSISTANT_SLACK_APP_TOKEN; "
    "HTTP mode (--http) needs ASSISTANT_SLACK_BOT_TOKEN and ASSISTANT_SLACK_SIGNING_SECRET; "
    "to try the bot locally without Slack: assistant slack --demo QUESTION"
)


class SlackBot:
    """The listeners, with the Assistant and the recent answers (for the buttons) they
    share."""

    def __init__(self, asst: Assistant, keep: int = 2000) -> None:
        self.asst = asst
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def register(self, app: App) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action("feedback_up")(self.on_feedback)
        app.action("feedback_down")(self.on_feedback)
        app.error(self.on_error)

    # -- events ----------------------------------------------------------------------------
    def _first_time(self, body: dict[str, Any]) -> bool:
        """Slack re-delivers an event it thinks was missed; answer each event id once."""
        event_id = str(body.get("event_id") or "")
        if not event_id:
            return True
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            while len(self._seen) > self._keep:
                self._seen.popitem(last=False)
            return True

    def on_mention(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("bot_id") or not self._first_time(body):
            return
        self.answer(client, event)

    def on_message(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        # direct messages only: in channels the bot answers when mentioned (app_mention);
        # edits, joins and other subtypes, and other bots' messages are not questions
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if self._first_time(body):
            self.answer(client, event)

    def answer(self, client: WebClient, event: dict[str, Any]) -> None:
        channel = event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        session = f"{channel}:{thread_ts}"
        question = _MENTION.sub("", event.get("text") or "").strip()
        placeholder = client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=PLACEHOLDER
        )
        try:
            if event.get("thread_ts") and not self.asst.history(session):
                self._restore_history(client, channel, thread_ts, session)
            answer = self.asst.ask(question, session_id=session)
        except AssistantError as exc:
            log.info("no answer in %s: %s", session, exc)
            client.chat_update(
                channel=channel, ts=placeholder["ts"], text=f":warning: {escape(str(exc))}"
            )
            return
        except Exception:
            log.exception("answering in %s failed", session)
            client.chat_update(
                channel=channel,
                ts=placeholder["ts"],
                text=":warning: Sorry, something went wrong while answering. "
                "The error has been logged; please try again.",
            )
            return
        payload = {
            "question": answer.question,
            "standalone": answer.standalone_question or answer.question,
            "short_answer": answer.short_answer or "",
            "refused": answer.refused,
        }
        client.chat_update(
            channel=channel,
            ts=placeholder["ts"],
            # the notification / screen-reader text: escaped like the blocks, or an article's
            # "<!channel>" would notify a whole channel
            text=escape(answer_text(answer)),
            blocks=answer_blocks(answer),
            metadata={"event_type": METADATA_EVENT, "event_payload": payload},
        )
        with self._lock:
            self._answers[f"{channel}:{placeholder['ts']}"] = answer
            while len(self._answers) > self._keep:
                self._answers.popitem(last=False)

    def _restore_history(
        self, client: WebClient, channel: str, thread_ts: str, session: str
    ) -> None:
        """Rebuild the session from the thread (e.g. after a restart): the earlier answers'
        metadata holds each turn's question and the standalone form it was answered as."""
        replies = client.conversations_replies(
            channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
        )
        for message in replies.get("messages") or []:
            meta = message.get("metadata") or {}
            if meta.get("event_type") != METADATA_EVENT:
                continue
            p = meta.get("event_payload") or {}
            previous = Answer(
                question=str(p.get("question", "")),
                answer=str(message.get("text", "")),
                refused=bool(p.get("refused")),
                short_answer=p.get("short_answer") or None,
            )
            self.asst.restore_turn(session, previous, str(p.get("standalone") or "") or None)

    # -- feedback buttons ------------------------------------------------------------------
    def on_feedback(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        channel = (body.get("channel") or {}).get("id", "")
        message = body.get("message") or {}
        user = (body.get("user") or {}).get("id")
        with self._lock:
            answer = self._answers.get(f"{channel}:{message.get('ts')}")
        if answer is None:  # answered before a restart: keep what the message itself says
            p = (message.get("metadata") or {}).get("event_payload") or {}
            answer = Answer(
                question=str(p.get("question", "")),
                answer=str(message.get("text", "")),
                refused=bool(p.get("refused")),
            )
        rating: Rating = "up" if action.get("action_id") == "feedback_up" else "down"
        thread_ts = message.get("thread_ts") or message.get("ts")
        self.asst.record_feedback(
            rating, answer, channel="slack", session_id=f"{channel}:{thread_ts}", user=user
        )
        if user:
            client.chat_postEphemeral(
                channel=channel,
                user=user,
                thread_ts=thread_ts,
                text="Thanks — your feedback was recorded.",
            )

    def on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("slack listener failed (%s): %s", body.get("type"), error, exc_info=error)


def build_app(
    asst: Assistant, settings: Settings | None = None, client: WebClient | None = None
) -> App:
    """The Bolt app. ``client`` defaults to a WebClient with the bot token (tests point one at
    a Slack Web API fake with ``base_url``)."""
    settings = settings or asst.settings
    token = settings.slack_bot_token
    if client is None:
        if token is None:
            raise ConfigError(
                f"ASSISTANT_SLACK_BOT_TOKEN (the xoxb-… bot token) is not set. {_MODES}"
            )
        client = WebClient(token=token.get_secret_value(), base_url=settings.slack_api_url)
    secret = settings.slack_signing_secret
    try:
        app = App(
            client=client,
            signing_secret=secret.get_secret_value() if secret else "",
            # without a signing secret only Socket Mode works; HTTP mode checks for one
            request_verification_enabled=secret is not None,
        )
    except OSError as exc:  # Bolt checks the token with auth.test: no answer at all
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ConfigError(
            f"Slack could not be reached at {client.base_url} ({reason}): check the network, "
            "or ASSISTANT_SLACK_API_URL if it is set"
        ) from exc
    except Exception as exc:  # an auth.test refusal: a wrong or revoked token
        raise ConfigError(f"Slack did not accept the bot token: {exc}") from exc
    SlackBot(asst).register(app)
    return app


def refuse_malformed(headers: Mapping[str, str], body: bytes) -> tuple[int, str] | None:
    """(status, reason) for a request Bolt would crash on, else None: a timestamp that is not
    a number (Bolt's signature check calls int() on it), a body that is not UTF-8, or one
    that is not the JSON object or form Slack sends."""
    stamp = headers.get("x-slack-request-timestamp")
    if stamp is not None and not (stamp.isascii() and stamp.strip().isdigit()):
        return 401, "X-Slack-Request-Timestamp is not a Unix time"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "the body is not UTF-8"
    if not text:
        return None
    ctype = headers.get("content-type", "")
    try:
        # the same reading as Bolt's parse_body: JSON, a form with a JSON payload, or a form
        if ctype == "application/json" or text.startswith("{"):
            parsed: Any = json.loads(text)
        elif "payload" in text:
            parsed = json.loads(dict(parse_qsl(text, keep_blank_values=True)).get("payload", "{}"))
        else:
            parsed = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
    except (ValueError, RecursionError):
        return 400, "the body is not the JSON or form Slack sends"
    if not isinstance(parsed, dict):
        return 400, "the body is not a JSON object"
    return None


def events_app(app: App, max_body: int = 1_000_000) -> FastAPI:
    """An ASGI app serving Bolt at ``POST /slack/events`` (events and interactivity)."""
    web = FastAPI(title="Newsroom assistant Slack events", docs_url=None, redoc_url=None)

    @web.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        refused = refuse_malformed(request.headers, body)
        if refused is not None:
            status, detail = refused
            return JSONResponse({"detail": detail}, status_code=status)
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # Bolt reads ids out of the payload as it builds the request: odd shapes fail there
            log.info("malformed Slack request: %r", exc)
            return JSONResponse({"detail": "malformed Slack payload"}, status_code=400)
        # dispatch verifies the signature and acks; the answer runs on Bolt's executor
        response = await run_in_threadpool(app.dispatch, bolt_request)
        return to_starlette_response(response)

    @web.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    web.add_middleware(BodyLimit, limit=max_body)
    return web


def run(
    settings: Settings, http: bool = False, host: str | None = None, port: int | None = None
) -> None:
    """``assistant slack``: Socket Mode with an app token (unless ``http``), else HTTP mode."""
    configure_logging(settings)
    socket_mode = settings.slack_app_token is not None and not http
    missing = [
        f"ASSISTANT_SLACK_{name.upper()}"
        for name in ("bot_token", "app_token" if socket_mode else "signing_secret")
        if getattr(settings, f"slack_{name}") is None
    ]
    if settings.slack_bot_token is None and settings.slack_app_token is None and not http:
        raise ConfigError(f"no Slack tokens are set. {_MODES}")
    if missing:
        mode = "Socket Mode" if socket_mode else "HTTP mode (--http, or no app token)"
        raise ConfigError(f"{mode} needs {' and '.join(missing)} (not set). {_MODES}")
    app = build_app(Assistant.from_settings(settings), settings)
    if socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        assert settings.slack_app_token is not None
        log.info("Slack bot connecting in Socket Mode")
        SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
        return
    import uvicorn

    uvicorn.run(events_app(app), host=host or settings.slack_host, port=port or settings.slack_port)
