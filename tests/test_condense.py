"""Unit tests of the condensers that rewrite a chat follow-up before retrieval: the rules,
and the LLM condenser's handling of replies, through a test double of llama-index's LLM."""

from __future__ import annotations

from typing import Any

from assistant.answering.condense import Condenser, LLMCondenser, RuleCondenser, is_follow_up
from assistant.answers import Answer, Question
from assistant.chat import Turn

FIRST = "How many Guard members were deployed?"


def turn(question: str = FIRST, standalone: Question = Question(FIRST),
         short: str | None = "2,000", refused: bool = False) -> Turn:  # fmt: skip
    answer = Answer(question=question, answer=f"{short} [1]", short_answer=short, refused=refused)
    return Turn(question, standalone, answer)


def test_follow_ups_are_recognised() -> None:
    assert is_follow_up("and who ordered it?") and is_follow_up("What about Portland?")
    assert is_follow_up("Why?")  # names nothing of its own
    assert not is_follow_up("Who ordered the National Guard to Los Angeles?")


def test_rules() -> None:
    rules = RuleCondenser()
    assert isinstance(rules, Condenser)
    assert rules.condense("  Who won?  ", []) == Question("Who won?")  # no history: as asked
    alone = "Who ordered the Guard to LA?"
    assert rules.condense(alone, [turn()]) == Question(alone)
    follow = rules.condense("and who ordered it?", [turn()])
    assert follow == Question("Who ordered it?", f"{FIRST} 2,000")
    # a refused answer lends no short answer; a follow-up of a follow-up is not nested
    assert rules.condense("and why?", [turn(refused=True)]) == Question("Why?", FIRST)
    second = turn("and who ordered it?", follow, "Trump")
    assert rules.condense("when?", [turn(), second]) == (
        Question("When?", f"{FIRST} 2,000 Who ordered it? Trump")
    )


def test_a_question_reads_back_from_its_one_line_form() -> None:
    """``Answer.standalone_question`` and a kept chat turn hold the one-line form, as ever."""
    follow = Question("Who ordered it?", f"{FIRST} 2,000")
    assert str(follow) == f"Who ordered it? (about: {FIRST} 2,000)"
    assert Question.read(str(follow)) == follow and Question.read(FIRST) == Question(FIRST)
    kept = Turn.from_json(turn("and who ordered it?", follow).to_json())
    assert kept.standalone == follow
    assert '"standalone": "Who ordered it? (about: ' in turn(standalone=follow).to_json()
    assert follow.read_whole() == f"Who ordered it? {FIRST} 2,000)"  # as the reader read it


class Reply:
    def __init__(self, content: str) -> None:
        self.message = type("Message", (), {"content": content})()


class ScriptedLLM:
    """Answers ``chat`` with the next scripted reply (an exception is raised)."""

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.messages: list[Any] = []

    def chat(self, messages: list[Any], **kwargs: Any) -> Reply:
        self.messages.append(messages)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Reply(reply)


def test_llm_condenser() -> None:
    llm = ScriptedLLM(
        "<think>hmm</think>Standalone question: “Who ordered the Guard to LA?”\nmore",
        ConnectionError("down"),
        "User: who ordered it?",  # an echo of the transcript
        "The article says Trump did.",  # an answer, not a question
    )
    condenser = LLMCondenser(llm, label="fake")  # type: ignore[arg-type]
    assert isinstance(condenser, Condenser)
    assert condenser.condense("who ordered it?", []) == Question("who ordered it?")
    assert not llm.messages
    assert condenser.condense("who ordered it?", [turn()]) == Question(
        "Who ordered the Guard to LA?"
    )
    system, user = (m.content for m in llm.messages[0])
    assert "standalone" in system and f"User: {FIRST}" in user and "Assistant: 2,000" in user
    rule = RuleCondenser().condense("who ordered it?", [turn()])
    for _ in range(3):  # down, an echo, an answer: the rules instead
        assert condenser.condense("who ordered it?", [turn()]) == rule
