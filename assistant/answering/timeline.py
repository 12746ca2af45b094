"""Dated figures side by side: when articles of different dates state different values of
what was asked ("2,000 Guard members" on June 8, "4,000" on June 20), the answer leads with
the latest as of the question date and lists the earlier ones, dated, newest first.

Which values answer the same question is decided from the reader's typed candidates and the
sentences they come from, never from the number alone: a value joins the lead's timeline only
when its sentence is one the reader ranks among the best, states it beside the question's own
key words as closely as the lead does, and writes it in the same shape (no "$" or "%" the lead
lacks) before the same words ("2,000 Guard members" and "$2,000 fine" are no timeline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

from assistant.answering.features import Sentence, stems
from assistant.answering.model import Candidate

_WORD = re.compile(r"\w+")
# the candidate's sentence is among the best this many the reader ranked (candidates come
# from the best five)
TOP = 5
# of the question's key words within four words of the value, at least this share, and not
# much less than the lead's
NEAR_MIN = 0.5
NEAR_SLACK = 0.25
_SCALE = re.compile(r"%|percent|per cent|million|billion|trillion|thousand", re.IGNORECASE)


@dataclass
class Stated:
    """One value of the timeline: its text, the sentence stating it and that article's date."""

    value: str
    key: str
    sentence: Sentence
    date: datetime
    candidate: Candidate


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _shape(text: str) -> tuple[bool, str]:
    """What a value is written as, besides its digits: a currency, a scale or a percent."""
    scale = _SCALE.search(text)
    return bool(re.match(r"\s*(?:US)?[$£€]", text)), scale.group().lower() if scale else ""


def _after(c: Candidate, n: int = 3) -> set[str]:
    """The stems of the ``n`` words after the value in its sentence ("national guard
    member"): what the value counts."""
    text = c.sentence.text
    at = text.find(c.text)
    if at < 0:
        return set()
    return stems(" ".join(_WORD.findall(text[at + len(c.text) :])[:n]))


def same_question(lead: Candidate, other: Candidate) -> bool:
    """Whether ``other`` states a value of what ``lead`` answers: the same shape, beside the
    question's words about as closely, before the same words."""
    if _shape(lead.text) != _shape(other.text):
        return False
    near = other.features.get("near", 0.0)
    if near < NEAR_MIN or near < lead.features.get("near", 0.0) - NEAR_SLACK:
        return False
    ours, theirs = _after(lead), _after(other)
    return not (ours and theirs) or bool(ours & theirs)


def timeline(
    scored: list[tuple[Candidate, float]],
    ranked: list[tuple[Sentence, float]],
    lead: Candidate,
    as_of: datetime | None = None,
    top: int = TOP,
) -> list[Stated]:
    """The lead's value and every other value of the same question stated by an article of
    another date, each at its newest statement, newest first; empty when all agree. Only
    dated articles up to ``as_of`` count, and only sentences among the reader's best
    ``top`` (a question that asks for the latest value looks further)."""
    if lead.sentence.passage.published is None:
        return []
    best = {id(s) for s, _ in ranked[:top]}
    bound = None
    if as_of is not None:  # a bare date includes its day, as retrieval's bound does
        bound = _utc(as_of) + (
            timedelta(seconds=86399) if as_of.time() == dtime.min else timedelta(0)
        )
    found: dict[str, Stated] = {}
    for c, _ in scored:
        s = c.sentence
        when = s.passage.published
        if when is None or id(s) not in best or (bound is not None and _utc(when) > bound):
            continue
        if c is not lead and (c.key == lead.key or not same_question(lead, c)):
            continue
        known = found.get(c.key)
        if known is None or _utc(when) > _utc(known.date):
            found[c.key] = Stated(c.text.strip(), c.key, s, when, c)
    out = sorted(found.values(), key=lambda v: _utc(v.date), reverse=True)
    days = {_utc(v.date).date() for v in out}
    return out if len(out) > 1 and len(days) > 1 else []
