"""The LLM answerer: a language model writes the answer from numbered sources, then every
sentence is verified against the passage it cites (assistant/citations.py).

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
from typing import TYPE_CHECKING

from llama_index.core.base.llms.types import ChatMessage, MessageRole

from assistant.answering.base import Answerer, citation, refusal_text
from assistant.answering.injection import defuse, injected_spans
from assistant.answers import Answer, Citation, Passage, SentenceCheck, Verification
from assistant.chat import standalone_question
from assistant.citations import MARKER, best_sentence, checked_sentences, strip_markers
from assistant.prompts import load_prompt

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from assistant.chat import Turn
    from assistant.settings import Settings

log = logging.getLogger(__name__)

REFUSAL_OPENING = "the indexed articles don't say"
UNVERIFIED = "[unverified]"
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_REMOVED = "[text addressed to AI systems removed]"
_CHARS_PER_TOKEN = 3  # conservative for news English, so the prompt fits the window


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    ) -> None:
        if unsupported not in ("flag", "remove"):
            raise ValueError(f"unsupported must be 'flag' or 'remove', not {unsupported!r}")
        self.llm = llm
        self.fallback = fallback
        self.unsupported = unsupported
        self.context_window = context_window
        self.max_tokens = max_tokens
        self.label = label

    @classmethod
    def from_settings(cls, settings: Settings, fallback: Answerer) -> LLMAnswerer:
        from assistant.answering.backends import build_llm, describe

        return cls(
            build_llm(settings),
            fallback,
            unsupported=settings.llm_unsupported,
            context_window=settings.llm_context_window,
            max_tokens=settings.llm_max_tokens,
            label=describe(settings),
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
        self, question: str, passages: list[Passage], as_of: datetime | None = None
    ) -> list[ChatMessage]:
        """The chat messages sent to the model for ``question`` over ``passages``."""
        today = as_of or datetime.now()
        refuse = load_prompt("refuse").user
        system, user = load_prompt("answer").render(
            refuse=refuse,
            today=f"{today:%A, %d %B %Y}",
            sources=self.sources_block(passages),
            question=question,
        )
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=system),
            ChatMessage(role=MessageRole.USER, content=user),
        ]

    # -- answering -------------------------------------------------------------------------
    def answer(
        self, question: str, passages: list[Passage], as_of: datetime | None = None
    ) -> Answer:
        result: Answer | None = None
        for piece in self.stream(question, passages, as_of):
            if isinstance(piece, Answer):
                result = piece
        assert result is not None
        return result

    def stream(
        self, question: str, passages: list[Passage], as_of: datetime | None = None
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
                f"({_short(type(exc).__name__ + ': ' + str(exc), 200)}); "
                "this is the extractive answer instead."
            )
            verification = Verification(outcome="error", model=self.label, raw="".join(raw))
            yield from self._fallback(question, passages, as_of, notice, verification, not raw)
            return
        result = self.finish(question, passages, "".join(raw))
        if result.answerer == self.name:
            yield result
        else:  # the verified reply fell back: its text was streamed already
            yield from self._fallback(
                question, passages, as_of, None, result.verification, False, result
            )

    def _fallback(
        self,
        question: str,
        passages: list[Passage],
        as_of: datetime | None,
        notice: str | None,
        verification: Verification | None,
        stream_text: bool,
        ready: Answer | None = None,
    ) -> Iterator[str | Answer]:
        """The fallback answerer's answer, with the notice and the verification record."""
        result = ready
        if result is None:
            for piece in self.fallback.stream(question, defuse(passages), as_of):
                if isinstance(piece, Answer):
                    result = piece
                elif stream_text:
                    yield piece
        assert result is not None
        result.passages = passages
        if notice:
            result.notices.append(notice)
        result.verification = verification
        yield result

    def finish(self, question: str, passages: list[Passage], raw: str) -> Answer:
        """Verify the model's reply ``raw`` and turn it into the Answer (or the fallback's)."""
        text = _THINK.sub("", raw).strip()
        verification = Verification(outcome="verified", model=self.label, raw=raw)
        if not text or strip_markers(text).lower().startswith(REFUSAL_OPENING):
            verification.outcome = "refused"
            return Answer(question=question, answer=refusal_text(question), refused=True,
                          passages=passages, answerer=self.name, confidence=0.0,
                          verification=verification)  # fmt: skip
        checked = checked_sentences(text, passages)
        checks = [c for _, c in checked]
        verification.sentences = checks
        verification.supported = sum(c.status == "supported" for c in checks)
        verification.unsupported = sum(c.status == "unsupported" for c in checks)
        verification.invalid_citations = sum(len(c.invalid_cites) for c in checks)
        verification.uncited = sum(c.status == "uncited" for c in checks)
        verification.attributed = sum(c.status == "attributed" for c in checks)
        notices = self._notices(checks, len(passages))
        if not verification.supported + verification.attributed:
            verification.outcome = "fallback"
            answer = self.fallback.answer(question, defuse(passages))
            answer.passages = passages
            answer.notices.append(
                "The language model's answer had no citation its sources support"
                + (f" ({'; '.join(notices)})" if notices else "")
                + "; this is the extractive answer instead."
            )
            answer.verification = verification
            return answer

        # rebuild the text sentence by sentence: invalid markers out, unsupported flagged
        # or removed, everything between sentences (line breaks) kept
        out: list[str] = []
        kept: list[SentenceCheck] = []
        last = 0
        for (start, end), check in checked:
            out.append(text[last:start])
            last = end
            sentence = text[start:end]
            if check.invalid_cites:
                sentence = _drop_markers(sentence, set(check.invalid_cites))
            if check.status == "attributed":
                sentence = _cite(sentence, check.cites)
            if check.status in ("unsupported", "invalid"):
                if self.unsupported == "remove":
                    verification.removed += 1
                    continue
                sentence = f"{sentence} {UNVERIFIED}"
            out.append(sentence)
            kept.append(check)
        out.append(text[last:])
        final = re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()
        if verification.unsupported or verification.invalid_citations:
            verification.outcome = "removed" if verification.removed else "flagged"

        citations = self._citations(kept, passages)
        first_line = final.split("\n", 1)[0].replace(UNVERIFIED, "")
        checked_n = len(checks) or 1
        backed = verification.supported + verification.attributed
        return Answer(
            question=question,
            answer=final,
            short_answer=strip_markers(first_line) or None,
            citations=citations,
            passages=passages,
            answerer=self.name,
            confidence=round(backed / checked_n, 4),
            notices=notices,
            verification=verification,
        )

    @staticmethod
    def _notices(checks: list[SentenceCheck], given: int) -> list[str]:
        out, recited = [], []
        for c in checks:
            if c.invalid_cites:
                cited = ", ".join(f"[{n}]" for n in c.invalid_cites)
                out.append(f"cited {cited} but only sources [1]–[{given}] were given")
            if c.status == "attributed" and c.model_cites:
                was = ", ".join(f"[{n}]" for n in c.model_cites)
                recited.append(f"Citation corrected: “{_short(strip_markers(c.text), 120)}” "
                               f"cited {was}; its facts are in [{c.cites[0]}]")  # fmt: skip
            if c.status == "unsupported":
                where = ", ".join(f"[{n}]" for n in c.cites) or "any source"
                out.append(
                    f"“{_short(strip_markers(c.text), 120)}”: {', '.join(c.missing)} "
                    f"not found in {where}"
                )
        return [f"Not verified: {n}" for n in out] + recited

    @staticmethod
    def _citations(kept: list[SentenceCheck], passages: list[Passage]) -> list[Citation]:
        """One citation per source number used, quoting the passage's best-backing sentence."""
        claims: dict[int, list[str]] = {}
        for c in kept:
            for n in c.cites:
                claims.setdefault(n, []).append(c.text)
        return [
            citation(n, passages[n - 1], best_sentence(passages[n - 1], texts))
            for n, texts in claims.items()
        ]

    # -- chat ------------------------------------------------------------------------------
    def condense(self, question: str, history: list[Turn]) -> str:
        """A follow-up rewritten by the model into a standalone question; the deterministic
        rewrite when there is no history or the model fails."""
        if not history:
            return question.strip()
        lines = []
        for turn in history[-3:]:
            said = turn.answer.short_answer or strip_markers(turn.answer.answer)
            lines += [f"User: {turn.question}", f"Assistant: {_short(strip_markers(said), 300)}"]
        system, user = load_prompt("condense").render(history="\n".join(lines), question=question)
        try:
            reply = self.llm.chat(
                [
                    ChatMessage(role=MessageRole.SYSTEM, content=system),
                    ChatMessage(role=MessageRole.USER, content=user),
                ]
            )
            text = _THINK.sub("", reply.message.content or "").strip()
        except Exception as exc:  # the chat still works without the model
            log.warning("%s failed to condense: %r", self.label, exc)
            return standalone_question(question, history)
        line = next((ln for ln in text.splitlines() if ln.strip()), "")
        line = re.sub(r"^(?:standalone question:\s*)", "", line.strip(), flags=re.I)
        line = line.strip().strip("\"“”'").strip()
        if not line or len(line) > 3 * len(question) + 300 or not _rewrites(line, question):
            return standalone_question(question, history)
        return line


def _rewrites(line: str, question: str) -> bool:
    """Whether ``line`` can be the rewrite of ``question``. Small models (SmolLM2-135M, seen
    in tests/test_local_llm.py) often answer a question instead ("The article mentions …")
    or echo the transcript ("User: …"); either would be retrieved as if it were asked."""
    if re.match(r"(?:user|assistant)\s*:", line, re.IGNORECASE):
        return False
    return not question.rstrip().endswith("?") or line.endswith("?")


def _cite(sentence: str, cites: list[int]) -> str:
    """``sentence`` with its markers replaced by ``cites``, before its closing full stop."""
    plain = re.sub(r"\s+([.!?])", r"\1", MARKER.sub("", sentence)).rstrip()
    marker = "".join(f"[{n}]" for n in cites)
    if plain[-1:] in ".!?":
        return f"{plain[:-1]} {marker}{plain[-1]}"
    return f"{plain} {marker}"


def _drop_markers(sentence: str, invalid: set[int]) -> str:
    """``sentence`` with the numbers in ``invalid`` taken out of its [n] markers."""

    def keep(match: re.Match[str]) -> str:
        ns = [x for x in re.split(r"\s*[,;]\s*", match.group(1)) if int(x) not in invalid]
        return f"[{', '.join(ns)}]" if ns else ""

    return re.sub(r"\s+([.!?])", r"\1", MARKER.sub(keep, sentence)).rstrip()
