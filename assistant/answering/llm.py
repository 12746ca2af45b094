"""The LLM answerer: a language model writes the answer from numbered sources, then every
sentence is verified against the passage it cites (assistant/answering/citations.py).

Text streams as the model writes it; the final Answer then carries the verified text, which
may differ (flagged or removed sentences, or the extractive answer when the model's reply
had no supported citation or the model could not be reached). Faces show the final
``Answer.answer`` once it arrives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from llama_index.core.base.llms.types import ChatMessage, MessageRole

from assistant.answering.base import Answerer, citation
from assistant.answering.injection import defuse, injected_spans
from assistant.answering.stream import AnswerStream
from assistant.answering.verify import shorten, verify_reply
from assistant.answers import Answer, Dated, Passage, Question, Verification
from assistant.prompts import load_prompt

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from assistant.settings import Settings

log = logging.getLogger(__name__)

_REMOVED = "[text addressed to AI systems removed]"
_CHARS_PER_TOKEN = 3  # conservative for news English, so the prompt fits the window
# the answer prompt's {{dated}}, only for sources of more than one day
DATED_RULE = (
    " If sources of different dates give different figures, give the latest first with its"
    "\n   date, then the earlier ones with theirs."
)


class LLMAnswerer:
    """Answers with a language model; verifies its citations; falls back to ``fallback``."""

    name = "llm"

    def __init__(
        self,
        llm: LLM,
        fallback: Answerer,
        *,
        unsupported: str = "flag",
        context_window: int = 4096,
        max_tokens: int = 400,
        label: str = "the language model",
        prompts_dir: Path | None = None,
    ) -> None:
        if unsupported not in ("flag", "remove"):
            raise ValueError(f"unsupported must be 'flag' or 'remove', not {unsupported!r}")
        self.llm = llm
        self.fallback = fallback
        self.unsupported = unsupported
        self.context_window = context_window
        self.max_tokens = max_tokens
        self.label = label
        self.prompts_dir = prompts_dir  # None: the templates in the package

    @classmethod
    def from_settings(cls, settings: Settings, fallback: Answerer) -> LLMAnswerer:
        """The answerer of the language model the settings pick (its registry entry builds
        it and names it in notices)."""
        from assistant.answering.backends import backend_for, build_llm

        return cls(
            build_llm(settings),
            fallback,
            unsupported=settings.llm_unsupported,
            context_window=settings.llm_context_window,
            max_tokens=settings.llm_max_tokens,
            label=backend_for(settings).describe(settings),
            prompts_dir=settings.prompts_dir,
        )

    # -- the prompt ------------------------------------------------------------------------
    def _source_text(self, passage: Passage, budget: int) -> str:
        """The passage for the prompt: instruction-like sentences taken out, cut at a
        sentence end to fit ``budget`` characters, tags in the text defused."""
        bad = set(injected_spans(passage))
        out: list[str] = []
        used = 0
        for span in passage.sentences or [(passage.start, passage.end)]:
            text = _REMOVED if span in bad else passage.sentence_text(span).strip()
            if out and used + len(text) > budget:
                break
            out.append(text)
            used += len(text) + 1
        body = " ".join(out)[: max(budget, 200)]
        return re.sub(r"<(/?)source", r"‹\1source", body, flags=re.IGNORECASE)

    def sources_block(self, passages: list[Passage]) -> str:
        room = self.context_window - self.max_tokens - 700  # instructions, question, slack
        budget = max(300, room * _CHARS_PER_TOKEN // max(1, len(passages)))
        blocks = []
        for n, p in enumerate(passages, 1):
            date = f"{p.published:%Y-%m-%d (%A)}" if p.published else "unknown"
            title = p.title.replace('"', "'")
            outlet = (p.source or "unknown").replace('"', "'")
            blocks.append(
                f'<source n="{n}" outlet="{outlet}" published="{date}" title="{title}">\n'
                f"{self._source_text(p, budget)}\n</source>"
            )
        return "\n\n".join(blocks)

    def messages(
        self, question: str | Question, passages: list[Passage], as_of: datetime | None = None
    ) -> list[ChatMessage]:
        """The chat messages sent to the model for ``question`` over ``passages``."""
        today = as_of or datetime.now()
        refuse = load_prompt("refuse", self.prompts_dir).user
        system, user = load_prompt("answer", self.prompts_dir).render(
            refuse=refuse,
            today=f"{today:%A, %d %B %Y}",
            sources=self.sources_block(passages),
            question=str(question),  # a follow-up with its context, on one line
            dated=DATED_RULE
            if len({p.published.date() for p in passages if p.published}) > 1
            else "",
        )
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=system),
            ChatMessage(role=MessageRole.USER, content=user),
        ]

    # -- answering -------------------------------------------------------------------------
    def stream(
        self, question: str | Question, passages: list[Passage], as_of: datetime | None = None
    ) -> Iterator[str | Answer]:
        if not passages:  # nothing to cite: no point asking the model
            yield from self.fallback.stream(question, passages, as_of)
            return
        raw: list[str] = []
        try:
            for chunk in self.llm.stream_chat(self.messages(question, passages, as_of)):
                if chunk.delta:
                    raw.append(chunk.delta)
                    yield chunk.delta
        except Exception as exc:  # any failure of the model server: answer without it
            log.warning("%s failed: %r", self.label, exc)
            notice = (
                f"The language model ({self.label}) could not answer "
                f"({shorten(type(exc).__name__ + ': ' + str(exc), 200)}); "
                "this is the extractive answer instead."
            )
            verification = Verification(outcome="error", model=self.label, raw="".join(raw))
            yield from self._fallback(question, passages, as_of, notice, verification, not raw)
            return
        result = self.finish(question, passages, "".join(raw), as_of)
        if result.answerer == self.name:
            yield result
        else:  # the verified reply fell back: its text was streamed already
            yield from self._fallback(
                question, passages, as_of, None, result.verification, False, result
            )

    def _fallback(
        self,
        question: str | Question,
        passages: list[Passage],
        as_of: datetime | None,
        notice: str | None,
        verification: Verification | None,
        stream_text: bool,
        ready: Answer | None = None,
    ) -> Iterator[str | Answer]:
        """The fallback answerer's answer, with the notice and the verification record; its
        text is streamed when ``stream_text`` (the model's was not)."""
        result = ready
        if result is None:
            fallback = AnswerStream(self.fallback.stream(question, defuse(passages), as_of))
            if stream_text:
                yield from fallback
            result = fallback.answer()
        result.passages = passages
        if notice:
            result.notices.append(notice)
        result.verification = verification
        yield result

    def finish(
        self,
        question: str | Question,
        passages: list[Passage],
        raw: str,
        as_of: datetime | None = None,
    ) -> Answer:
        """Verify the model's reply ``raw`` and turn it into the Answer (or the fallback's)."""
        verified = verify_reply(
            str(question), passages, raw, label=self.label, unsupported=self.unsupported
        )
        if isinstance(verified, Answer):
            return self._dated(verified, question, as_of)
        answer = AnswerStream(self.fallback.stream(question, defuse(passages))).answer()
        answer.passages = passages
        answer.notices.append(verified.notice)
        answer.verification = verified.verification
        return answer

    def _dated(self, answer: Answer, question: str | Question, as_of: datetime | None) -> Answer:
        """``answer`` with the timeline the extractive reader finds in its passages (the
        values articles of different dates state), each value cited by the number of the
        passage stating it, as the model's own citations are; a passage the model did not
        cite gets a citation of the sentence stating the value."""
        dated_values = getattr(self.fallback, "dated_values", None)
        if dated_values is None or answer.refused:
            return answer
        passages = answer.passages
        numbers = {p.chunk_id: n for n, p in reversed(list(enumerate(passages, 1)))}
        dated = dated_values(question, defuse(passages), as_of)
        found = [numbers.get(v.sentence.passage.chunk_id) for v in dated]
        if any(n is None for n in found):  # not one of the passages the model read
            return answer
        cited = {c.n for c in answer.citations}
        entries: list[Dated] = []
        for v, n in zip(dated, found, strict=True):
            assert n is not None
            if n not in cited:
                answer.citations.append(citation(n, passages[n - 1], v.sentence.span))
                cited.add(n)
            aid = passages[n - 1].article_id
            entries.append(Dated(value=v.value, date=v.date, cites=[n], article_ids=[aid]))
        answer.citations.sort(key=lambda c: c.n)
        answer.timeline = entries
        return answer
