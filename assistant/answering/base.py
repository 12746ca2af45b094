"""The answerer interface, shared by the extractive answerer and the LLM backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol, runtime_checkable

from assistant.answers import Answer, Citation, Passage, Question


@runtime_checkable
class Answerer(Protocol):
    """Turns a question and the retrieved passages into a cited Answer. A question is a
    :class:`Question` (a follow-up carries its context) or a plain string, one without.

    One method: callers wrap it in an :class:`~assistant.answering.stream.AnswerStream`
    for the text as it comes, the final Answer, or both."""

    name: str

    def stream(
        self, question: str | Question, passages: list[Passage], as_of: datetime | None = None
    ) -> Iterator[str | Answer]:
        """The answer's text as it is written (nothing, for an answerer that writes it
        whole), then the finished Answer: a refusal when the passages do not hold one."""
        ...


def citation(n: int, passage: Passage, span: tuple[int, int]) -> Citation:
    """Citation ``[n]`` of the sentence at ``span`` (article offsets) in ``passage``."""
    return Citation(
        n=n,
        article_id=passage.article_id,
        title=passage.title,
        url=passage.url,
        source=passage.source,
        author=passage.author,
        correction=passage.correction,
        published=passage.published,
        chunk_id=passage.chunk_id,
        start=span[0],
        end=span[1],
        quote=passage.sentence_text(span),
        also_in=passage.also_in,
    )
