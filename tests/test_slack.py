"""The Slack bot over real HTTP: signed Events API requests POSTed to the Bolt endpoint
(uvicorn on 127.0.0.1), and the bot talking to a Slack Web API fake on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from conftest import ROOT, SAMPLE, free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import ConfigError
from assistant.faces.slack import PLACEHOLDER
from assistant.faces.slack_local import BOT_ID, BOT_USER
from assistant.faces.slack_local import LocalSlack as FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
_ids = iter(range(1, 10_000))


class Bot:
    def __init__(self, url: str, fake: FakeSlack, asst: Any, data: Path) -> None:
        self.url, self.fake, self.asst, self.data = url, fake, asst, data

    def post(
        self,
        body: bytes,
        ctype: str = "application/json",
        ts: int | None = None,
        secret: str = SECRET,
        signed: bool = True,
    ) -> httpx.Response:
        stamp = str(ts if ts is not None else int(time.time()))
        base = b"v0:" + stamp.encode() + b":" + body
        sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        headers = {"content-type": ctype}
        if signed:
            headers |= {"x-slack-request-timestamp": stamp, "x-slack-signature": sig}
        return httpx.post(self.url, content=body, headers=headers, timeout=30)

    def event(self, event: dict[str, Any], event_id: str | None = None) -> httpx.Response:
        body = {
            "token": "unused",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids)}",
            "event_time": int(time.time()),
            "event": event,
        }
        res = self.post(json.dumps(body).encode())
        assert res.status_code == 200, res.text
        return res

    def ask(self, channel: str, text: str, thread_ts: str | None = None, **extra: Any) -> str:
        """A reporter's message @mentioning the bot; returns the message's ts."""
        ts = self.fake.add_user_message(channel, text, thread_ts)
        event = {
            "type": "app_mention",
            "user": "UREPORTER",
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            **extra,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        self.event(event)
        return ts

    def reply(self, channel: str, thread_ts: str) -> dict[str, Any]:
        """The bot's answer in the thread, once the placeholder has been replaced."""

        def done() -> dict[str, Any] | None:
            with self.fake.lock:
                for (ch, _), m in sorted(self.fake.messages.items(), key=lambda kv: kv[0][1]):
                    mine = ch == channel and m.get("bot_id") and m.get("thread_ts") == thread_ts
                    if mine and m["text"] != PLACEHOLDER and m.get("_seen") is None:
                        m["_seen"] = True  # each answer is returned once
                        return dict(m)
            return None

        return self.fake.wait_for(done)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    import uvicorn
    from slack_sdk import WebClient

    from assistant import Assistant, Settings
    from assistant.faces.slack import build_app, events_app

    data = tmp_path_factory.mktemp("slack") / "data"
    settings = Settings.load(data_dir=data, slack_signing_secret=SECRET)
    asst = Assistant.from_settings(settings)
    report = asst.library.ingest_records(
        [
            {
                "title": "National Guard deployed to Los Angeles",
                "text": SAMPLE.read_text(),
                "url": "https://news.example/la-guard",
                "source": "news.example",
                "published": "2025-06-08",
            }
        ]
    )
    assert len(report.new) == 1
    fake = FakeSlack()
    app = build_app(asst, settings, WebClient(token="xoxb-test", base_url=fake.url))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(events_app(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    fake.wait_for(lambda: server.started, timeout=30)
    assert fake.calls_of("auth.test"), "Bolt verifies the token with the (fake) Web API"
    yield Bot(f"http://127.0.0.1:{port}/slack/events", fake, asst, data)
    server.should_exit = True
    thread.join(timeout=10)
    fake.close()


def test_signatures_are_verified(bot: Bot) -> None:
    challenge = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"})
    ok = bot.post(challenge.encode())
    assert ok.status_code == 200 and "c-123" in ok.text

    mention = {
        "type": "event_callback",
        "event_id": "EvBAD",
        "team_id": "T1",
        "event": {
            "type": "app_mention",
            "user": "U1",
            "text": f"<@{BOT_USER}> How many Guard members?",
            "ts": "1.000001",
            "channel": "CBAD",
        },
    }
    body = json.dumps(mention).encode()
    assert bot.post(body, secret="not-the-secret").status_code == 401
    assert bot.post(body, ts=int(time.time()) - 600).status_code == 401  # stale: replay
    assert bot.post(body, signed=False).status_code == 401
    assert bot.post(challenge.encode(), signed=False).status_code == 401
    time.sleep(0.5)
    assert not [c for c in bot.fake.calls_of("chat.postMessage") if c["channel"] == "CBAD"]


def test_mention_is_answered_in_a_thread_with_citations(bot: Bot) -> None:
    ts = bot.ask("C1", f"<@{BOT_USER}> How many Guard members were deployed?")
    answer = bot.reply("C1", ts)
    posts = [c for c in bot.fake.calls_of("chat.postMessage") if c.get("thread_ts") == ts]
    assert [p["text"] for p in posts] == [PLACEHOLDER]  # one placeholder, in the thread
    updates = [c for c in bot.fake.calls_of("chat.update") if c["ts"] == answer["ts"]]
    assert len(updates) == 1  # the placeholder itself became the answer
    assert answer["text"].startswith("2,000 [1]")
    blocks = answer["blocks"]
    main, sources = blocks[0]["text"]["text"], blocks[1]["text"]["text"]
    assert main.startswith("2,000 [1]")
    assert "> “Following clashes between demonstrators" in main  # the quoted evidence
    assert (
        "*[1]* <https://news.example/la-guard|National Guard deployed to Los Angeles>"
        " — news.example, 8 Jun 2025"
    ) in sources
    buttons = blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["feedback_up", "feedback_down"]
    assert (
        answer["metadata"]["event_payload"]["question"] == "How many Guard members were deployed?"
    )


def test_follow_up_uses_the_thread_history_even_after_a_restart(bot: Bot) -> None:
    root = bot.ask("C2", f"<@{BOT_USER}> How many Guard members were deployed?")
    bot.reply("C2", root)
    bot.ask("C2", f"<@{BOT_USER}> and who announced it?", thread_ts=root)
    follow = bot.reply("C2", root)
    history = bot.asst.history(f"C2:{root}")
    assert len(history) == 2
    assert "How many Guard members were deployed?" in str(history[1].standalone)
    assert "[1]" in follow["text"] and "la-guard" in json.dumps(follow["blocks"])

    bot.asst.reset(f"C2:{root}")  # as after a restart: the sessions live in memory
    bot.ask("C2", f"<@{BOT_USER}> and when?", thread_ts=root)
    bot.reply("C2", root)
    replies = [c for c in bot.fake.calls_of("conversations.replies") if c["ts"] == root]
    assert replies, "the thread was read back from Slack"
    history = bot.asst.history(f"C2:{root}")
    assert [t.question for t in history] == [
        "How many Guard members were deployed?",
        "and who announced it?",
        "and when?",
    ]
    assert "Guard members were deployed" in str(history[2].standalone)


def test_direct_messages_answered_and_bot_messages_ignored(bot: Bot) -> None:
    def dm(text: str, **extra: Any) -> str:
        ts = bot.fake.add_user_message("D1", text)
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "D1",
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "user": "UREPORTER",
            **extra,
        }
        bot.event(event)
        return ts

    ignored = [
        dm("How many Guard members?", bot_id="B2", subtype="bot_message"),
        dm("How many Guard members?", user=BOT_USER, bot_id=BOT_ID),  # its own
        dm("How many Guard members?", subtype="message_changed"),
    ]
    ts = dm("How many Guard members were deployed?")
    assert bot.reply("D1", ts)["text"].startswith("2,000 [1]")
    time.sleep(0.5)
    threads = {c.get("thread_ts") for c in bot.fake.calls_of("chat.postMessage")}
    assert not threads & set(ignored)


def test_each_event_is_answered_once(bot: Bot) -> None:
    ts = bot.fake.add_user_message("C3", f"<@{BOT_USER}> How many Guard members were deployed?")
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@{BOT_USER}> How many Guard members were deployed?",
        "ts": ts,
        "channel": "C3",
        "event_ts": ts,
    }
    bot.event(event, event_id="EvSAME")
    bot.event(event, event_id="EvSAME")  # Slack's retry of the same delivery
    bot.reply("C3", ts)
    time.sleep(0.5)
    assert len([c for c in bot.fake.calls_of("chat.postMessage") if c["channel"] == "C3"]) == 1


def test_refusal_is_polite(bot: Bot) -> None:
    ts = bot.ask("C4", f"<@{BOT_USER}> Who won the 1998 World Cup?")
    reply = bot.reply("C4", ts)
    text = reply["blocks"][0]["text"]["text"]
    assert text.startswith(":shrug: Sorry — I couldn't find that in the articles.")
    assert "Sources" not in json.dumps(reply["blocks"])
    assert reply["metadata"]["event_payload"]["refused"] is True


def test_errors_reach_the_user_as_a_short_message(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    ts = bot.ask("C5", f"<@{BOT_USER}>")
    assert bot.reply("C5", ts)["text"].startswith(":warning: the question is empty")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(bot.asst, "ask", broken)
    ts = bot.ask("C5", f"<@{BOT_USER}> How many Guard members were deployed?")
    text = bot.reply("C5", ts)["text"]
    assert text.startswith(":warning: Sorry, something went wrong")
    assert "hunter2" not in text and "Traceback" not in text


def test_feedback_buttons_are_recorded(bot: Bot) -> None:
    ts = bot.ask("C6", f"<@{BOT_USER}> How many Guard members were deployed?")
    answer = bot.reply("C6", ts)
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "UEDITOR"},
        "api_app_id": "A1",
        "channel": {"id": "C6"},
        "container": {"type": "message", "message_ts": answer["ts"], "channel_id": "C6"},
        "message": {k: answer[k] for k in ("ts", "text", "thread_ts", "metadata")},
        "trigger_id": "1.2.3",
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {
                "action_id": "feedback_down",
                "block_id": "feedback",
                "type": "button",
                "value": "down",
                "action_ts": str(time.time()),
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    res = bot.post(body, ctype="application/x-www-form-urlencoded")
    assert res.status_code == 200
    bot.fake.wait_for(
        lambda: [c for c in bot.fake.calls_of("chat.postEphemeral") if c["channel"] == "C6"]
    )
    line = json.loads((bot.data / "feedback.jsonl").read_text().splitlines()[-1])
    assert (line["rating"], line["channel"], line["user"]) == ("down", "slack", "UEDITOR")
    assert line["question"] == "How many Guard members were deployed?"
    assert line["session_id"] == f"C6:{ts}"
    assert line["citations"][0]["url"] == "https://news.example/la-guard"


def test_malformed_signed_requests_are_4xx_not_500(bot: Bot) -> None:
    """Issue 15 item 7: a non-numeric timestamp, and signed bodies Bolt cannot read."""
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    res = httpx.post(
        bot.url,
        content=body,
        headers={"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=00"},
    )
    assert res.status_code == 401, res.text
    form = "application/x-www-form-urlencoded"
    for raw, ctype in [
        (b'{"type": "event_callback", "event": ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"\xff\xfe{}", "application/json"),
        (urlencode({"payload": "{not json"}).encode(), form),
        (urlencode({"payload": "[]"}).encode(), form),
    ]:
        res = bot.post(raw, ctype=ctype)
        assert res.status_code == 400, (raw, res.status_code, res.text)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    stamp=st.one_of(st.none(), st.text(max_size=12), st.integers().map(str)),
    sign=st.booleans(),
    ctype=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
    body=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["type", "event", "payload", "team_id", "user", "channel"]),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=8,
        ).map(lambda v: json.dumps(v).encode()),
    ),
)
def test_fuzzed_slack_requests_never_get_a_server_error(
    bot: Bot, stamp: str | None, sign: bool, ctype: str, body: bytes
) -> None:
    """Malformed headers and bodies, signed with the real secret or not: never a 5xx."""
    headers = {"content-type": ctype} if ctype else {}
    if stamp is not None and stamp.isprintable() and stamp.isascii():
        headers["x-slack-request-timestamp"] = stamp
        if sign:
            base = b"v0:" + stamp.encode() + b":" + body
            digest = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
            headers["x-slack-signature"] = "v0=" + digest
    res = httpx.post(bot.url, content=body, headers=headers, timeout=30)
    assert res.status_code < 500, (headers, body, res.text)


def test_the_notification_text_is_escaped_like_the_blocks(bot: Bot) -> None:
    """Issue 15 item 11: `<!channel>` in an article reached chat.update's `text` raw."""
    report = bot.asst.library.ingest_records(
        [
            {
                "title": "Ferries cancelled",
                "text": "The harbor authority said <!channel> 40 ferries were cancelled "
                "on Tuesday because of the storm.",
                "source": "harbor.example",
            }
        ]
    )
    assert len(report.new) == 1
    ts = bot.ask("C7", f"<@{BOT_USER}> How many ferries were cancelled on Tuesday?")
    answer = bot.reply("C7", ts)
    assert "40" in answer["text"]
    assert "<!channel>" not in answer["text"] and "&lt;!channel&gt;" in answer["text"]
    assert "<!channel>" not in json.dumps(answer["blocks"])


def test_blocks_list_each_cited_article_once() -> None:
    from answer_samples import FIRST, SECOND, doubled_answer

    from assistant.faces.slack_messages import answer_blocks

    blocks = answer_blocks(doubled_answer())
    sources = next(
        b["text"]["text"] for b in blocks if "*Sources*" in b.get("text", {}).get("text", "")
    )
    assert sources.count("*[1]*") == 1 and "Chipotle raises prices" in sources
    assert FIRST not in sources  # already quoted in the answer text
    assert f"> “{SECOND}”" in sources


def test_demo_shows_a_threaded_cited_answer_in_one_command(tmp_path: Path) -> None:
    """README: `assistant slack --demo QUESTION` tries the bot with no Slack and no tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    question = "How many Guard members were deployed?"
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "slack", "--demo", question],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"#demo  reporter: @newsroom-assistant {question}"
    assert lines[1] == "  └ newsroom-assistant (in the thread):"
    reply = "\n".join(lines[2:])
    assert lines[2].strip() == "2,000 [1]", done.stdout  # the answer, cited
    assert "deploy 2,000 National Guard members" in reply  # its quoted evidence
    assert "    Sources\n    [1] " in reply  # the numbered source list
    assert "[👍 Helpful]" in reply
    assert "<@" not in reply and "&gt;" not in reply and "*[1]*" not in reply  # as shown
    assert "ingested the built-in sample" in done.stderr  # an empty index gets the sample
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "http", "says"),
    [
        ({}, False, "no Slack tokens are set. Socket Mode (the default) needs "
         "ASSISTANT_SLACK_BOT_TOKEN and ASSISTANT_SLACK_APP_TOKEN; HTTP mode (--http) needs "
         "ASSISTANT_SLACK_BOT_TOKEN and ASSISTANT_SLACK_SIGNING_SECRET; to try the bot "
         "locally without Slack: assistant slack --demo"),
        ({}, True, "HTTP mode (--http, or no app token) needs ASSISTANT_SLACK_BOT_TOKEN and "
         "ASSISTANT_SLACK_SIGNING_SECRET (not set)"),
        ({"BOT_TOKEN": "xoxb-1"}, False, "HTTP mode (--http, or no app token) needs "
         "ASSISTANT_SLACK_SIGNING_SECRET (not set)"),
        ({"APP_TOKEN": "xapp-1"}, False, "Socket Mode needs ASSISTANT_SLACK_BOT_TOKEN (not set)"),
    ],
)  # fmt: skip
def test_missing_tokens_say_which_mode_needs_which(
    env: dict[str, str], http: bool, says: str, data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import Settings
    from assistant.faces.slack import run

    for name in ("BOT_TOKEN", "APP_TOKEN", "SIGNING_SECRET"):
        monkeypatch.delenv(f"ASSISTANT_SLACK_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(f"ASSISTANT_SLACK_{name}", value)
    with pytest.raises(ConfigError) as caught:
        run(Settings.load(), http=http)
    assert says in str(caught.value)
    assert "--demo" in str(caught.value)


def test_unreachable_slack_is_said_plainly(bot: Bot) -> None:
    from assistant import Settings
    from assistant.faces.slack import build_app

    url = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    settings = Settings.load(
        data_dir=bot.data, slack_bot_token="xoxb-1", slack_signing_secret=SECRET, slack_api_url=url
    )
    with pytest.raises(ConfigError) as caught:
        build_app(bot.asst, settings)
    message = str(caught.value)
    assert message.startswith(f"Slack could not be reached at {url} (")
    assert "ASSISTANT_SLACK_API_URL" in message
    assert "urlopen error" not in message
