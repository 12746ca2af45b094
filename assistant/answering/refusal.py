"""Refusing, in one place: when an answerer refuses (the reader's probability that the
passages answer, against a threshold), what a refusal says, and how a language model's reply
is recognised as one (prompts/refuse.md tells the model to open with the same words)."""

from __future__ import annotations

from assistant.answering.citations import strip_markers
from assistant.answers import Answer, Passage, Verification

# every refusal opens with this; the refuse prompt asks the model for it word for word
REFUSAL_OPENING = "The indexed articles don't say"
# what a face may add to a refusal: what the user can do next
REFUSAL_HINT = "Try other words, or ask about something the articles cover."


def refusal_text(question: str) -> str:
    """The text of a refusal to answer ``question``."""
    q = " ".join(question.split())
    if len(q) > 160:
        q = q[:157] + "…"
    return f"{REFUSAL_OPENING}. None of the passages I found answers “{q}”."


def is_refusal(reply: str) -> bool:
    """Whether a model's (already unthought) ``reply`` refuses: empty, or opening as told."""
    return not reply or strip_markers(reply).lower().startswith(REFUSAL_OPENING.lower())


def refuse_threshold(model_threshold: float, setting: float | None) -> float:
    """The probability below which to refuse: the setting (``refuse_below``) when given,
    else the reader model's calibrated threshold."""
    return model_threshold if setting is None else setting


def refuses(answerable: float, threshold: float) -> bool:
    """Whether a reading whose passages answer with probability ``answerable`` is refused."""
    return answerable < threshold


def refusal(
    question: str,
    passages: list[Passage],
    *,
    answerer: str = "extractive",
    confidence: float = 0.0,
    verification: Verification | None = None,
) -> Answer:
    """The Answer that refuses ``question`` (the passages kept, for the faces to show)."""
    return Answer(
        question=question,
        answer=refusal_text(question),
        refused=True,
        passages=passages,
        answerer=answerer,
        confidence=confidence,
        verification=verification,
    )
