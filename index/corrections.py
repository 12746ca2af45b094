"""Correction and update notes that newsrooms append to a story, found at ingest.

Phrasings seen in the 2022–2025 RealTimeQA dumps: ``Correction: An earlier version of this
story misstated …``, ``Corrections & Clarifications: A previous version of this story …``,
``This story was updated because an earlier version included an inaccuracy.`` (corrections),
and ``This story has been updated with additional details.`` or ``This story was updated to
add new information.`` (updates). "Department of Corrections" and a lowercase "correction:"
inside a quote are not notes, so a labelled note must start a line, a sentence or a bracket.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel

Kind = Literal["correction", "update"]
_NOTE_CHARS = 300  # a note is a sentence or two; longer is the story itself
_START = r"(?:^|(?<=[\n(\[])|(?<=[.!?]\s))\s*"
_WORK = r"(?:story|article|column|report|post)"
_CORRECTION = re.compile(
    _START
    + r"(?:(?:Correction|CORRECTION|Corrections? (?:&|and) [Cc]larifications?|Clarification)s?:"
    r"\s*(?P<labelled>[^\n]{12,})"
    r"|(?P<earlier>(?:An earlier|A previous|An? (?:prior|older)) version of this " + _WORK
    + r"\b[^\n]{8,})"
    r"|(?P<because>This " + _WORK + r" (?:has been|was) (?:updated|corrected) "
    r"(?:because|to correct)[^\n]{4,}))",
    re.MULTILINE,
)  # fmt: skip
_UPDATE = re.compile(
    _START + r"(?P<update>This " + _WORK + r" (?:has been|was) updated\b[^\n]{0,200})",
    re.MULTILINE,
)


# a figure as a note writes it: "2,136", "$235,600", "3.5 million", "12%"
_FIGURE = re.compile(
    r"(?:(?:US)?[$£€]\s?)?\d[\d,]*(?:\.\d+)?(?:\s?(?:%|percent\b|million\b|billion\b))?"
)
_SEP = " | "
_LINK = re.compile(r"https?://\S+")
_WRONG = re.compile(
    r"\b(?:(?:earlier|previous|prior|older) version|misstated|incorrect(?:ly)?|wrong(?:ly)?|"
    r"erroneous(?:ly)?|mistaken(?:ly)?|misreported|misquoted)\b",
    re.IGNORECASE,
)
# a note that says what the story now reflects names the right value, not the wrong one
_RIGHT = re.compile(r"\b(?:to (?:correct|reflect|note|clarify|show)|corrected to)\b", re.I)


class Correction(BaseModel):
    """A note the article carries: ``kind`` says whether it corrects an error or only says
    the story was updated; ``note`` is what it says; ``replaced`` the figures the note names
    that the corrected story no longer states (the wrong ones: "the crime rate was reported
    as 2,136"), which no answer may lead with."""

    kind: Kind
    note: str
    replaced: list[str] = []

    def fields(self) -> dict[str, str]:
        """As flat Chroma metadata."""
        out = {"correction_kind": self.kind, "correction_note": self.note}
        if self.replaced:
            out["correction_replaced"] = _SEP.join(self.replaced)
        return out

    @classmethod
    def from_fields(cls, meta: dict[str, Any]) -> Correction | None:
        """The note kept in flat metadata, or None."""
        kind, note = meta.get("correction_kind"), meta.get("correction_note")
        if kind in ("correction", "update") and isinstance(note, str) and note:
            raw = meta.get("correction_replaced")
            replaced = [v for v in raw.split(_SEP) if v] if isinstance(raw, str) else []
            return cls(kind=kind, note=note, replaced=replaced)
        return None


def _digits(figure: str) -> str:
    return re.sub(r"[^\d.]", "", figure).strip(".")


def replaced_figures(text: str, note: str) -> list[str]:
    """The figures a correction ``note`` names as wrong: after a cue that an earlier version
    said them ("a previous version … was reported as 2,136", "quoted … as saying at least 16
    people"), in a note that does not say what it now reflects ("updated to correct the GDP,
    which was $155.5 billion" states the right one), and stated nowhere else in ``text``
    (the story, the note included): the corrected story holds the right value. Years and
    the digits of links are no figures."""
    note = _LINK.sub(" ", note)
    if _RIGHT.search(note):
        return []
    cue = _WRONG.search(note)
    if cue is None:
        return []
    in_text = Counter(_digits(m.group()) for m in _FIGURE.finditer(_LINK.sub(" ", text)))
    in_note = Counter(_digits(m.group()) for m in _FIGURE.finditer(note))
    out: list[str] = []
    for m in _FIGURE.finditer(note, cue.end()):
        figure, digits = m.group().strip().rstrip(",."), _digits(m.group())
        if not digits or re.fullmatch(r"(?:19|20)\d\d", figure):
            continue
        if in_text[digits] <= in_note[digits] and figure not in out:
            out.append(figure)
    return out


def _sentence(text: str) -> str:
    """The note up to the end of its first sentence (a second when the first is a label's
    preamble such as "This story has been updated."), within :data:`_NOTE_CHARS`."""
    text = " ".join(text.split()).strip(" ()[]")
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s+[A-Z(\"“]|$)", text)]
    cut = next((e for e in ends if e >= 20), len(text))
    text = text[:cut]
    return text if len(text) <= _NOTE_CHARS else text[: _NOTE_CHARS - 1].rstrip() + "…"


def find_correction(text: str) -> Correction | None:
    """The article's correction note, else its update note, else None."""
    m = _CORRECTION.search(text)
    if m:
        note = _sentence(m.group(0))
        return Correction(kind="correction", note=note, replaced=replaced_figures(text, note))
    m = _UPDATE.search(text)
    if m:
        return Correction(kind="update", note=_sentence(m.group("update")))
    return None
