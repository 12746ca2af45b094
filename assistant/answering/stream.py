"""One answer as it is written: the one streaming contract of answerers, the Assistant and
the faces.

An answerer implements one method, ``stream()``: it yields the answer's text as it writes it,
then the finished Answer. :class:`AnswerStream` is built on those pieces, as simonw/llm's
``Response`` is built on a model's ``execute()``: iterate it for the text, call
:meth:`AnswerStream.answer` for the final Answer, :meth:`AnswerStream.cancel` to stop early.
Nobody drains a stream by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from assistant.answers import Answer

# an answerer that writes nothing before its Answer (the extractive one reads, then answers
# whole) is shown as it would be written: word by word, each with the space after it
_WORD = re.compile(r"\S+\s*")


class AnswerStream:
    """The text of one answer as it comes, then the Answer. Iterating twice, or calling
    :meth:`answer` during or after iteration, goes on from where the stream is."""

    def __init__(self, pieces: Iterable[str | Answer]) -> None:
        self._pieces = iter(pieces)
        self._answer: Answer | None = None
        self._wrote = False  # whether any text came before the Answer

    def __iter__(self) -> Iterator[str]:
        if self._answer is not None:
            return
        for piece in self._pieces:
            if isinstance(piece, Answer):
                self._answer = piece
                # what the producer does after its Answer (the Assistant logs the question)
                # runs now, not whenever the generator is collected
                for _ in self._pieces:
                    pass
                if not self._wrote:
                    yield from _WORD.findall(piece.answer)
                return
            self._wrote = True
            yield piece
        if self._answer is None:
            raise RuntimeError("the answerer's stream ended without an Answer")

    def answer(self) -> Answer:
        """The finished Answer (the rest of the text is read, not shown)."""
        for _ in self:
            pass
        assert self._answer is not None
        return self._answer

    def cancel(self) -> None:
        """Stop: the answerer's generator is closed (a model's reply stops streaming)."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
