"""Condensers: a follow-up question rewritten into a standalone one before retrieval.

One interface, two implementations, injected into :class:`assistant.Assistant` (as
llama-index's ``CondenseQuestionChatEngine`` takes its condensing LLM and prompt):

- :class:`RuleCondenser`, deterministic and offline: a question that leans on earlier turns
  (it opens with "and"/"what about", or points back with "it", "they", "that" and names little
  of its own) gets the previous standalone question as its context (``Question.about``), so
  both retrieval and sentence choice see what "it" was about;
- :class:`LLMCondenser`: a language model rewrites the follow-up with prompts/condense.md,
  falling back to the rules when the model fails or its reply is not a rewrite.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from assistant.answering.citations import strip_markers
from assistant.answering.verify import shorten, unthought
from assistant.answers import Question
from assistant.prompts import load_prompt
from index.text import query_terms

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from assistant.chat import Turn

log = logging.getLogger(__name__)

_LEADS = re.compile(
    r"^\s*(?:and|also|but|so|then|ok(?:ay)?|what about|how about|and what about)\b[\s,]*",
    re.IGNORECASE,
)
_POINTERS = {
    "it", "its", "they", "them", "their", "theirs", "he", "him", "his", "she", "her", "hers",
    "this", "that", "these", "those", "there", "then", "same", "one", "ones",
}  # fmt: skip
_GENERIC = {"many", "much", "else", "happened", "happen", "say", "said", "did", "does", "do"}


@runtime_checkable
class Condenser(Protocol):
    """Rewrites a question asked after ``history`` into one that stands on its own."""

    def condense(self, question: str, history: list[Turn]) -> Question:
        """The question to retrieve and answer with (``question`` itself when it stands
        alone or there is no history)."""
        ...


def is_follow_up(question: str) -> bool:
    """Whether ``question`` needs the earlier turns to make sense."""
    if _LEADS.match(question):
        return True
    words = re.findall(r"\w+", question.lower())
    content = [w for w in query_terms(question) if w not in _GENERIC]
    return (bool(_POINTERS.intersection(words)) and len(content) <= 3) or len(content) <= 1


class RuleCondenser:
    """A follow-up with the previous standalone question (and its short answer) attached."""

    def condense(self, question: str, history: list[Turn]) -> Question:
        if not history or not is_follow_up(question):
            return Question(question.strip())
        previous = history[-1]
        current = _LEADS.sub("", question).strip()
        current = current[:1].upper() + current[1:]
        # flatten: a follow-up of a follow-up carries the earlier context once, not nested
        parts = [previous.standalone.about, previous.standalone.text]
        if previous.answer.short_answer and not previous.answer.refused:
            parts.append(previous.answer.short_answer)
        return Question(current, " ".join(p for p in parts if p))


class LLMCondenser:
    """A follow-up rewritten by a language model; ``fallback`` when there is no history, the
    model fails, or its reply is not a rewrite."""

    def __init__(
        self,
        llm: LLM,
        *,
        label: str = "the language model",
        prompts_dir: Path | None = None,
        fallback: Condenser | None = None,
    ) -> None:
        self.llm = llm
        self.label = label
        self.prompts_dir = prompts_dir
        self.fallback = fallback or RuleCondenser()

    def condense(self, question: str, history: list[Turn]) -> Question:
        if not history:
            return Question(question.strip())
        lines = []
        for turn in history[-3:]:
            said = turn.answer.short_answer or strip_markers(turn.answer.answer)
            lines += [f"User: {turn.question}", f"Assistant: {shorten(strip_markers(said), 300)}"]
        prompt = load_prompt("condense", self.prompts_dir)
        system, user = prompt.render(history="\n".join(lines), question=question)
        # here, not at the top: importing llama_index.core costs a cold `ask` about a second,
        # and the default (rule) condenser never needs it
        from llama_index.core.base.llms.types import ChatMessage, MessageRole

        try:
            reply = self.llm.chat(
                [
                    ChatMessage(role=MessageRole.SYSTEM, content=system),
                    ChatMessage(role=MessageRole.USER, content=user),
                ]
            )
            text = unthought(reply.message.content or "")
        except Exception as exc:  # the chat still works without the model
            log.warning("%s failed to condense: %r", self.label, exc)
            return self.fallback.condense(question, history)
        line = next((ln for ln in text.splitlines() if ln.strip()), "")
        line = re.sub(r"^(?:standalone question:\s*)", "", line.strip(), flags=re.I)
        line = line.strip().strip("\"“”'").strip()
        if not line or len(line) > 3 * len(question) + 300 or not _rewrites(line, question):
            return self.fallback.condense(question, history)
        return Question(line)


def _rewrites(line: str, question: str) -> bool:
    """Whether ``line`` can be the rewrite of ``question``. Small models (SmolLM2-135M, seen
    in tests/test_local_llm.py) often answer a question instead ("The article mentions …")
    or echo the transcript ("User: …"); either would be retrieved as if it were asked."""
    if re.match(r"(?:user|assistant)\s*:", line, re.IGNORECASE):
        return False
    return not question.rstrip().endswith("?") or line.endswith("?")
