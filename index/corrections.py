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


class Correction(BaseModel):
    """A note the article carries: ``kind`` says whether it corrects an error or only says
    the story was updated; ``note`` is what it says."""

    kind: Kind
    note: str

    def fields(self) -> dict[str, str]:
        """As flat Chroma metadata."""
        return {"correction_kind": self.kind, "correction_note": self.note}

    @classmethod
    def from_fields(cls, meta: dict[str, Any]) -> Correction | None:
        """The note kept in flat metadata, or None."""
        kind, note = meta.get("correction_kind"), meta.get("correction_note")
        if kind in ("correction", "update") and isinstance(note, str) and note:
            return cls(kind=kind, note=note)
        return None


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
        return Correction(kind="correction", note=_sentence(m.group(0)))
    m = _UPDATE.search(text)
    if m:
        return Correction(kind="update", note=_sentence(m.group("update")))
    return None
