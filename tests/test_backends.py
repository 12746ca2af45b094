"""The registry of answer backends (assistant/answering/backends.py): every backend is one
entry that builds, checks and describes itself; the preflight, the answerer, the condenser,
evaluation and ``--help`` all read it, and a test's scripted model is registered through the
same ``register`` as the real backends."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llm import Messages, ScriptedLLM, scripted_backend, source_with
from typer.testing import CliRunner

from assistant import Assistant, ConfigError, Settings, answer_backends, check_answerer
from assistant.answering import backends
from assistant.answering.condense import LLMCondenser, RuleCondenser
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.llm import LLMAnswerer
from assistant.evaluation import evaluate
from assistant.faces.cli import app

QUESTION = "How many Guard members were deployed?"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def scripted() -> Iterator[ScriptedLLM]:
    llm = ScriptedLLM()
    backends.register(scripted_backend(llm))
    try:
        yield llm
    finally:
        backends.unregister("scripted")


def test_the_registry_holds_each_backend_once_with_its_defaults() -> None:
    by_name = {b.name: b for b in answer_backends()}
    assert list(by_name) == ["extractive", "openai", "ollama", "llamacpp"]
    assert not by_name["extractive"].writes_with_llm
    assert all(by_name[n].writes_with_llm for n in ("openai", "ollama", "llamacpp"))
    # the default servers are written here and nowhere else
    assert by_name["openai"].default_url == "http://127.0.0.1:8080/v1"
    assert by_name["ollama"].default_url == "http://127.0.0.1:11434"
    assert by_name["llamacpp"].default_url is None  # in process, on a port the OS picks
    with pytest.raises(ValueError, match="registered already"):
        backends.register(by_name["openai"])


def test_unknown_names_are_refused_with_the_registered_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown answerer 'gpt': use 'extractive' or 'llm'"):
        Settings.load(answerer="gpt")
    with pytest.raises(ConfigError) as caught:
        Settings.load(llm_backend="claude")
    message = str(caught.value)
    assert "'openai', 'ollama' or 'llamacpp'" in message and "ASSISTANT_LLM_BACKEND" in message
    assert "an Ollama server" in message  # each entry describes itself


def test_the_preflight_and_the_builder_apply_one_rule(tmp_path: Path) -> None:
    """Each bad setting is refused by the preflight and by the builder with the same words;
    a server that does not answer is only a warning (answers fall back)."""
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    llm = {"answerer": "llm"}
    bad = {
        "ASSISTANT_LLM_MODEL": Settings.load(**llm),
        "ASSISTANT_LLM_MODEL (the model name, e.g.": Settings.load(**llm, llm_backend="ollama"),
        "not an http(s) URL": Settings.load(**llm, llm_model="m", llm_base_url="ftp://x"),
        "no such .gguf file": Settings.load(
            **llm, llm_backend="llamacpp", llm_model=str(tmp_path / "nope.gguf")
        ),
        "not a GGUF file": Settings.load(**llm, llm_backend="llamacpp", llm_model=str(text)),
    }
    for words, settings in bad.items():
        with pytest.raises(ConfigError) as preflight:
            check_answerer(settings)
        with pytest.raises(ConfigError) as builder:
            backends.build_llm(settings)
        assert words in str(preflight.value)
        assert str(builder.value) == str(preflight.value)
    down = f"http://127.0.0.1:{_closed_port()}/v1"
    for name in ("openai", "ollama", "llamacpp"):  # llamacpp with a URL: a llama-server
        settings = Settings.load(**llm, llm_backend=name, llm_model="m", llm_base_url=down)
        [warning] = check_answerer(settings, probe_timeout=0.5)
        assert f"the {name} server at {down} does not answer" in warning
        assert backends.build_llm(settings) is not None  # built all the same: it falls back
    assert check_answerer(Settings.load()) == []  # the extractive default needs nothing


def test_a_scripted_backend_is_registered_like_the_real_ones(
    data_env: Path, scripted: ScriptedLLM, tmp_path: Path
) -> None:
    def replies(messages: Messages) -> str:
        if "standalone" in messages[0]["content"]:  # prompts/condense.md
            return "Who announced the deployment of 2,000 National Guard members?"
        n = source_with(messages, "2,000 National Guard")
        return (f"2,000 [{n}]\n\nPresident Donald Trump announced plans to deploy 2,000 "
                f"National Guard members [{n}].")  # fmt: skip

    scripted.reply = replies
    settings = Settings.load(answerer="llm", llm_backend="scripted")
    assert check_answerer(settings) == []
    assert backends.describe(settings) == "llm (the scripted model)"
    asst = Assistant.from_settings(settings)
    assert isinstance(asst.answerer, LLMAnswerer) and asst.answerer.llm is scripted
    assert isinstance(asst.condenser, LLMCondenser) and asst.condenser.llm is scripted
    assert asst.answerer.label == "the scripted model"
    asst.library.ensure_sample()
    first = asst.ask(QUESTION, session_id="s")
    assert first.answerer == "llm" and first.verification is not None
    assert first.verification.outcome == "verified" and first.short_answer == "2,000"
    follow = asst.ask("and who announced it?", session_id="s")
    assert (
        follow.standalone_question
        == "Who announced the deployment of 2,000 National Guard members?"
    )
    # evaluation names the backend and counts its verification outcomes
    questions = tmp_path / "q.jsonl"
    questions.write_text(f'{{"question": "{QUESTION}", "answer": "2,000"}}\n')
    report = evaluate(asst, questions, tmp_path / "run")
    assert report["run"]["answerer"] == "llm (the scripted model)"
    assert report["summary"]["verification"]["outcome_verified"] == 1

    backends.unregister("scripted")
    with pytest.raises(ConfigError, match="unknown llm_backend 'scripted'"):
        Settings.load(answerer="llm", llm_backend="scripted")


def test_the_extractive_backend_loads_no_language_model(data_env: Path) -> None:
    asst = Assistant.from_settings(Settings.load())
    assert isinstance(asst.answerer, ExtractiveAnswerer)
    assert isinstance(asst.condenser, RuleCondenser)


def test_help_and_eval_read_the_registry(data_env: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["ask", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    for b in answer_backends():
        assert f"{b.name}: {b.summary}" in text
    assert "default URL http://127.0.0.1:11434" in text
    questions = data_env.parent / "q.jsonl"
    questions.write_text('{"question": "How many?", "answer": "2,000"}\n')
    refused = runner.invoke(app, ["eval", str(questions), "--answerer", "gpt"])
    assert isinstance(refused.exception, ConfigError)
    assert "use 'extractive' or 'llm'" in str(refused.exception)
    assert not data_env.exists()  # refused before the model or the index loaded
