"""The OpenAI chat protocol over real HTTP: the real ``openai`` package against
`python -m assistant serve` on 127.0.0.1 (the server of test_api.py, one for this module),
as a chat front end, a gateway or a script would use it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from answer_samples import doubled_answer
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionContentPartTextParam,
    ChatCompletionMessageParam,
)
from test_api import LIMIT, TOKEN, Server, sample_article, server

from assistant.faces.api import openai_wire as wire

__all__ = ["server"]  # the fixture, imported so that this module starts its own server

MODEL = "newsroom-assistant"
QUESTION = "How many Guard members were deployed?"
URL = "https://news.example/la-guard"


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with server.client(headers=server.auth) as c:
        added = c.post("/v1/articles", json=[sample_article()])
        assert added.status_code == 200 and added.json()["ok"], added.text
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0) as oa:
        yield oa


def ask(client: openai.OpenAI, *messages: str, **kwargs: Any) -> ChatCompletion:
    """A non-streaming completion of ``messages`` (user, assistant, user, …)."""
    said: list[ChatCompletionMessageParam] = []
    for i, text in enumerate(messages):
        if i % 2:
            said.append({"role": "assistant", "content": text})
        else:
            said.append({"role": "user", "content": text})
    done: ChatCompletion = client.chat.completions.create(model=MODEL, messages=said, **kwargs)
    return done


def text_of(done: ChatCompletion) -> str:
    """The message content of a completion's one choice."""
    content = done.choices[0].message.content
    assert content is not None, done
    return content


def extension(obj: Any) -> dict[str, Any]:
    """The Answer JSON a completion or chunk carries beside the content."""
    extra = obj.model_extra or {}
    assert "answer" in extra, obj
    answer: dict[str, Any] = extra["answer"]
    return answer


def assert_openai_error(res: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """``res`` is OpenAI's error envelope with ``status``; returns its error object."""
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/json")
    body = res.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["type"] == kind and error["message"] and "Traceback" not in res.text
    return error


def test_the_assistant_is_listed_as_a_model(client: openai.OpenAI) -> None:
    models = client.models.list().data
    assert [m.id for m in models] == [MODEL]
    assert models[0].object == "model" and models[0].owned_by
    assert (models[0].model_extra or {})["answerer"]  # which answerer answers, beside the id
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-4o")
    assert missing.value.code == "model_not_found"


def test_an_answer_carries_its_citations_and_sources(client: openai.OpenAI) -> None:
    done = ask(client, QUESTION, temperature=0.2, max_tokens=64, top_p=0.9, seed=7, user="t")
    assert done.object == "chat.completion" and done.model == MODEL
    assert done.id.startswith("chatcmpl-") and len(done.choices) == 1
    choice = done.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = text_of(done)
    assert content.startswith("2,000 [1]"), content
    # what a plain chat client shows: the answer, then the Sources list from the one presenter
    text, sources = content.split("\n\nSources\n")
    assert sources.splitlines()[0] == (
        f"- [1] National Guard deployed to Los Angeles — news.example, 2025-06-08 — {URL}"
    )
    answer = extension(done)
    assert answer["refused"] is False and answer["answer"] == text
    assert answer["citations"][0]["n"] == 1 and answer["citations"][0]["url"] == URL
    assert "deploy 2,000 National Guard members" in answer["citations"][0]["quote"]
    assert answer["sources"][0]["url"] == URL


def test_a_stream_joins_to_the_same_content(client: openai.OpenAI) -> None:
    whole = text_of(ask(client, QUESTION))
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content or "" for c in chunks]
    assert len([p for p in pieces if p]) > 3  # the answer streams, not one block at the end
    assert "".join(pieces) == whole
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    answer = extension(last)  # the structured citations come with the final chunk only
    assert answer["citations"][0]["url"] == URL and answer["refused"] is False
    assert all("answer" not in (c.model_extra or {}) for c in chunks[:-1])


def test_the_stream_ends_with_done(server: Server, client: openai.OpenAI) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    with (
        server.client(headers=server.auth) as c,
        c.stream("POST", "/v1/chat/completions", json=body) as res,
    ):
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        events = [e for e in res.read().decode().split("\n\n") if e.strip()]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2].removeprefix("data: "))["answer"]["refused"] is False


def test_a_follow_up_is_carried_by_the_messages_alone(client: openai.OpenAI) -> None:
    first = text_of(ask(client, QUESTION))
    follow = ask(client, QUESTION, first, "and who announced it?")
    answer = extension(follow)
    assert "Guard members were deployed" in answer["standalone_question"]
    assert answer["refused"] is False and "Trump" in text_of(follow)
    # a system message, content parts and a stream read the conversation the same way
    parts: list[ChatCompletionContentPartTextParam] = [
        {"type": "text", "text": "and who announced it?"}
    ]
    chunks = client.chat.completions.create(
        model=MODEL,
        stream=True,
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": first},
            {"role": "user", "content": parts},
        ],
    )
    streamed = list(chunks)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == text_of(follow)
    # the same question with no earlier turn is not read as that follow-up
    alone = extension(ask(client, "and who announced it?"))
    assert "Guard members were deployed" not in (alone.get("standalone_question") or "")


def test_a_question_the_articles_do_not_answer_is_refused(client: openai.OpenAI) -> None:
    done = ask(client, "Which volcano erupted in Iceland last week?")
    answer = extension(done)
    assert answer["refused"] is True and answer["citations"] == []
    content = text_of(done)
    assert content.startswith(answer["answer"]) and "[1]" not in content
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Which volcano erupted in Iceland last week?"}],
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert extension(chunks[-1])["refused"] is True


def test_filters_pass_through_the_extra_body(client: openai.OpenAI) -> None:
    kept = ask(client, QUESTION, extra_body={"filters": {"sources": ["news.example"]}, "k": 3})
    assert extension(kept)["citations"][0]["url"] == URL
    elsewhere = ask(client, QUESTION, extra_body={"filters": {"sources": ["elsewhere.example"]}})
    answer = extension(elsewhere)
    assert answer["citations"] == [] and answer["refused"] is True
    assert "no indexed article matches the filters" in answer["notices"]
    assert "no indexed article matches the filters" in text_of(elsewhere)
    before = ask(client, QUESTION, extra_body={"filters": {"until": "2025-06-01"}})
    assert extension(before)["citations"] == []
    as_of = ask(client, QUESTION, extra_body={"as_of": "2025-06-01"})
    assert extension(as_of)["citations"] == []  # the article is later than the question


def test_the_bearer_token_is_required(server: Server, client: openai.OpenAI) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}]}
    with server.client() as c:
        for method, path, sent in [
            ("GET", "/v1/models", None),
            ("POST", "/v1/chat/completions", body),
            ("POST", "/v1/chat/completions", {**body, "stream": True}),
        ]:
            res = c.request(method, path, json=sent)
            error = assert_openai_error(res, 401, "authentication_error")
            assert error["code"] == "unauthorized"
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as refused:
            wrong.models.list()
        assert refused.value.status_code == 401
        with pytest.raises(openai.AuthenticationError):
            ask(wrong, QUESTION)


def test_an_unknown_model_is_an_openai_error(server: Server, client: openai.OpenAI) -> None:
    for stream in (False, True):
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], stream=stream
            )
        assert missing.value.status_code == 404 and missing.value.code == "model_not_found"
        assert "newsroom-assistant" in missing.value.message
    with server.client(headers=server.auth) as c:
        res = c.post("/v1/chat/completions", json={"model": "x", "messages": [{"role": "user"}]})
        assert_openai_error(res, 404, "not_found_error")


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps({"model": MODEL}),
        json.dumps({"model": MODEL, "messages": []}),
        json.dumps({"model": MODEL, "messages": "How many?"}),
        json.dumps({"model": MODEL, "messages": [{"role": "wizard", "content": "hi"}]}),
        json.dumps({"model": MODEL, "messages": [{"role": "assistant", "content": "hi"}]}),
        json.dumps({"messages": [{"role": "user", "content": QUESTION}]}),
        json.dumps({"model": MODEL, "messages": [{"role": "user", "content": 5}]}),
        json.dumps({"model": MODEL, "messages": [{"role": "user", "content": QUESTION}], "k": 0}),
        json.dumps(
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": QUESTION}],
                "filters": {"since": "June 10"},
            }
        ),
    ],
)
def test_a_malformed_body_is_an_openai_error(server: Server, body: str) -> None:
    with server.client(headers=server.auth) as c:
        res = c.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert_openai_error(res, 422, "invalid_request_error")


def test_a_bad_question_or_body_is_an_openai_error(server: Server, client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as blank:
        ask(client, "   ")
    assert blank.value.code == "question" and "empty" in blank.value.message
    for stream in (False, True):  # a stream is refused before it starts, with a status
        with pytest.raises(openai.UnprocessableEntityError) as long:
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "why " * 1000}], stream=stream
            )
        assert "limit is 2,000" in long.value.message
    with pytest.raises(openai.UnprocessableEntityError) as no_user:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "system", "content": "Be brief."}]
        )
    assert no_user.value.param == "messages" and "no user message" in no_user.value.message
    big = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "x" * LIMIT}]})
    with server.client(headers=server.auth) as c:
        res = c.post("/v1/chat/completions", content=big, headers={"content-type": "text/json"})
        assert_openai_error(res, 413, "invalid_request_error")
        assert_openai_error(c.get("/v1/chat/completions"), 405, "invalid_request_error")
        # the rest of the API keeps its own error bodies
        assert set(c.post("/v1/ask", json={"question": " "}).json()) == {"detail", "error"}


def test_the_openapi_page_documents_the_endpoints(server: Server) -> None:
    with server.client() as c:
        schema = c.get("/openapi.json").json()
    paths = schema["paths"]
    chat = paths["/v1/chat/completions"]["post"]
    assert {"401", "404", "422"} <= set(chat["responses"])
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert chat["security"] and paths["/v1/models"]["get"]["security"]
    body = schema["components"]["schemas"]["ChatBody"]["properties"]
    assert {"model", "messages", "stream", "filters", "as_of", "k"} <= set(body)
    assert "extension" in body["filters"]["description"]
    completion = schema["components"]["schemas"]["ChatCompletion"]["properties"]
    assert "extension" in completion["answer"]["description"]


def test_the_readme_example_runs(server: Server, client: openai.OpenAI) -> None:
    """The README's `openai` SDK example, read from the README, against this server."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Use it from any OpenAI client\n")
    code = re.findall(r"```python\n(.*?)```", readme[start:], re.DOTALL)[0]
    assert "http://127.0.0.1:8088/v1" in code
    env = {**os.environ, "ASSISTANT_API_TOKEN": TOKEN}
    run = subprocess.run(
        [sys.executable, "-c", code.replace("http://127.0.0.1:8088", server.url)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "2,000 [1]" in run.stdout and URL in run.stdout


# -- the content's rules, without a server -----------------------------------------------
@given(st.lists(st.text(alphabet="![]()<>ab 1", max_size=6), max_size=12))
def test_a_stream_defuses_as_the_whole_does_however_it_is_cut(pieces: list[str]) -> None:
    defuser = wire.Defuser()
    streamed = "".join(defuser.feed(p) for p in pieces) + defuser.flush()
    assert streamed == wire.defuse("".join(pieces))


def test_markdown_in_an_article_is_shown_as_text() -> None:
    """Article text is untrusted: a title must not make a chat client fetch an image,
    follow a link or render HTML, and must not start a heading."""
    answer = doubled_answer()
    title = "![x](https://tracker.example/p.png)\n# <img src=x onerror=alert(1)> [a](b)"
    for c in answer.citations:
        c.title = title
    content = wire.message_content(answer)
    line = content.split("\n\nSources\n")[1].splitlines()[0]
    assert not re.search(r"(?<!\\)(!\[|\]\(|<)", line), line  # each opening escaped
    assert line.startswith(r"- [1] !\[x]\(https://tracker.example/p.png) # \<img src=x")
    assert content.startswith("2 percent [1]")  # the [n] markers stay as they are


def test_an_answer_rewritten_after_streaming_follows_what_was_shown() -> None:
    """An LLM's reply is checked after it streamed; a client cannot take it back, so the
    checked answer follows, said to be that, and the whole is the non-streaming content."""
    answer = doubled_answer()
    whole = wire.message_content(answer)
    assert wire.streamed_tail(answer, wire.defuse(answer.answer)) == whole[len(answer.answer) :]
    tail = wire.streamed_tail(answer, "2 percent, said the unchecked reply")
    assert tail.startswith("\n\n---\nChecked against the articles:\n\n2 percent [1]")
    assert tail.endswith(wire.footer(answer)) and "\n\nSources\n- [1] " in tail
