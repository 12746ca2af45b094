"""Where sessions and feedback live (assistant/state.py): the SQLite file of one host and a
real Redis server (started by the test on 127.0.0.1), each opened twice as two replicas
would open it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import free_port

from assistant import Answer, Feedback, Settings, StoreUnavailableError
from assistant.answers import Question
from assistant.chat import Turn
from assistant.state import RedisState, SqliteState, StateStore, open_state


def _turn(question: str, answer: str = "2,000 [1]") -> Turn:
    return Turn(question, Question(question), Answer(question=question, answer=answer, id="q1"))


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    extra = {}
    if request.param == "redis":
        extra["redis_url"] = request.getfixturevalue("redis_server")
    return Settings.load(data_dir=tmp_path / "data", state_store=request.param, **extra)


def test_two_replicas_share_sessions_and_feedback(settings: Settings) -> None:
    a, b = open_state(settings), open_state(settings)  # two processes' stores
    sid = f"s-{time.monotonic_ns()}"
    a.add(sid, _turn("How many Guard members were deployed?"))
    b.add(sid, _turn("and who announced it?", "Trump [1]"))
    got = a.history(sid)
    assert [t.question for t in got] == ["How many Guard members were deployed?",
                                         "and who announced it?"]  # fmt: skip
    assert got[0].answer.answer == "2,000 [1]" and got[0].answer.id == "q1"
    assert b.history("another") == []
    b.reset(sid)
    assert a.history(sid) == []

    before = len(list(a.feedback()))
    item = Feedback.on("up", got[1].answer, channel="api", user="u1")
    b.record(item)
    assert list(a.feedback())[before:] == [item]
    a.ping()


def test_sqlite_sessions_expire_and_the_oldest_go_beyond_the_limit(tmp_path: Path) -> None:
    state = SqliteState(tmp_path, ttl=3600, max_sessions=3)
    for i in range(50):  # the 50th turn prunes
        state.add(f"s{i}", _turn(f"q{i}"))
    assert [state.history(f"s{i}") != [] for i in (0, 46, 47, 48, 49)] == [
        False, False, True, True, True,
    ]  # fmt: skip
    short = SqliteState(tmp_path / "other", ttl=0.2, max_sessions=10)
    short.add("s", _turn("q"))
    time.sleep(0.3)
    assert short.history("s") == []


@pytest.mark.redis
def test_redis_sessions_expire(redis_server: str) -> None:
    state = RedisState(redis_server, ttl=1)
    state.add("expiring", _turn("q"))
    assert state.history("expiring")
    time.sleep(2.1)
    assert state.history("expiring") == []


def test_an_unreachable_redis_names_itself() -> None:
    port = free_port()  # nothing listens there
    state: StateStore = RedisState(f"redis://127.0.0.1:{port}/0", ttl=60)
    with pytest.raises(StoreUnavailableError) as caught:
        state.history("s")
    message = str(caught.value)
    assert f"the Redis server at 127.0.0.1:{port} cannot be reached" in message
    assert "ASSISTANT_REDIS_URL" in message
    with pytest.raises(StoreUnavailableError):
        state.ping()


def test_the_feedback_command_prints_what_was_recorded(settings: Settings) -> None:
    import json

    from typer.testing import CliRunner

    from assistant.faces.cli.main import app

    item = Feedback.on("down", Answer(question="Who won?", answer="No idea"), channel="slack")
    open_state(settings).record(item)
    env = {"ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_STATE_STORE":
           settings.state_store, "ASSISTANT_REDIS_URL": settings.redis_url}  # fmt: skip
    result = CliRunner().invoke(app, ["feedback"], env=env)
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]
    assert printed[-1]["question"] == "Who won?" and printed[-1]["channel"] == "slack"
