"""The one streaming contract: an answerer's pieces (text, then the Answer) seen through
AnswerStream, as the Assistant and every face see them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant import Answer, AnswerStream


def _written(log: list[str]) -> Iterator[str | Answer]:
    """A model's reply: text as it is written, then the Answer, then work after it."""
    try:
        yield "2,000 "
        yield "were deployed [1]."
        yield Answer(question="q", answer="2,000 were deployed [1].")
        log.append("after the answer")
    finally:
        log.append("closed")


def test_text_then_the_answer() -> None:
    log: list[str] = []
    stream = AnswerStream(_written(log))
    assert list(stream) == ["2,000 ", "were deployed [1]."]
    assert stream.answer().answer == "2,000 were deployed [1]."
    assert log == ["after the answer", "closed"]  # the producer's last words ran
    assert list(stream) == []  # read once


def test_answer_reads_the_rest_without_showing_it() -> None:
    stream = AnswerStream(_written([]))
    assert next(iter(stream)) == "2,000 "
    assert stream.answer().answer == "2,000 were deployed [1]."


def test_an_answer_written_whole_is_streamed_by_word() -> None:
    whole = Answer(question="q", answer="“Officials met on Monday.” [1]")
    assert list(AnswerStream(iter([whole]))) == ["“Officials ", "met ", "on ", "Monday.” ", "[1]"]


def test_cancel_closes_the_answerer() -> None:
    log: list[str] = []
    stream = AnswerStream(_written(log))
    assert next(iter(stream)) == "2,000 "
    stream.cancel()
    assert log == ["closed"]
    with pytest.raises(RuntimeError, match="without an Answer"):
        stream.answer()
