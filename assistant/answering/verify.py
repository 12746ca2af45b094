"""Verification of a language model's reply, turned into the Answer a face shows.

Every sentence is checked against the passage it cites (answering/citations.py); the text is
then rebuilt sentence by sentence: invalid ``[n]`` markers taken out, a sentence whose facts
are in another passage re-cited, an unsupported one flagged ``[unverified]`` or removed. A
reply with no supported sentence is rejected, and the caller answers another way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.base import citation
from assistant.answering.citations import MARKER, best_sentence, checked_sentences, strip_markers
from assistant.answering.refusal import is_refusal, refusal
from assistant.answers import Answer, Citation, Passage, SentenceCheck, Verification

UNVERIFIED = "[unverified]"
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)


def unthought(reply: str) -> str:
    """A model's reply without its ``<think>`` sections (reasoning models write them)."""
    return _THINK.sub("", reply).strip()


def shorten(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Rejected:
    """A reply with no citation its sources support: nothing of it can be shown."""

    verification: Verification
    notice: str  # why, for the answer given instead


def verify_reply(
    question: str,
    passages: list[Passage],
    raw: str,
    *,
    label: str,
    unsupported: str = "flag",
    answerer: str = "llm",
) -> Answer | Rejected:
    """The verified Answer of the model ``label``'s reply ``raw`` to ``question`` over
    ``passages``; unsupported sentences are flagged or removed as ``unsupported`` says."""
    text = unthought(raw)
    verification = Verification(outcome="verified", model=label, raw=raw)
    if is_refusal(text):
        verification.outcome = "refused"
        return refusal(question, passages, answerer=answerer, verification=verification)
    checked = checked_sentences(text, passages)
    checks = [c for _, c in checked]
    _count(verification, checks)
    notices = _notices(checks, len(passages))
    if not verification.supported + verification.attributed:
        verification.outcome = "fallback"
        why = f" ({'; '.join(notices)})" if notices else ""
        return Rejected(
            verification,
            f"The language model's answer had no citation its sources support{why}; "
            "this is the extractive answer instead.",
        )
    final, kept = _rebuild(text, checked, verification, unsupported)
    if verification.unsupported or verification.invalid_citations:
        verification.outcome = "removed" if verification.removed else "flagged"
    first_line = final.split("\n", 1)[0].replace(UNVERIFIED, "")
    backed = verification.supported + verification.attributed
    return Answer(
        question=question,
        answer=final,
        short_answer=strip_markers(first_line) or None,
        citations=_citations(kept, passages),
        passages=passages,
        answerer=answerer,
        confidence=round(backed / (len(checks) or 1), 4),
        notices=notices,
        verification=verification,
    )


def _count(verification: Verification, checks: list[SentenceCheck]) -> None:
    verification.sentences = checks
    verification.supported = sum(c.status == "supported" for c in checks)
    verification.unsupported = sum(c.status == "unsupported" for c in checks)
    verification.invalid_citations = sum(len(c.invalid_cites) for c in checks)
    verification.uncited = sum(c.status == "uncited" for c in checks)
    verification.attributed = sum(c.status == "attributed" for c in checks)


def _rebuild(
    text: str,
    checked: list[tuple[tuple[int, int], SentenceCheck]],
    verification: Verification,
    unsupported: str,
) -> tuple[str, list[SentenceCheck]]:
    """The reply rebuilt sentence by sentence (invalid markers out, unsupported flagged or
    removed, everything between sentences such as line breaks kept), and the checks kept."""
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
            if unsupported == "remove":
                verification.removed += 1
                continue
            sentence = f"{sentence} {UNVERIFIED}"
        out.append(sentence)
        kept.append(check)
    out.append(text[last:])
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip(), kept


def _notices(checks: list[SentenceCheck], given: int) -> list[str]:
    out, recited = [], []
    for c in checks:
        if c.invalid_cites:
            cited = ", ".join(f"[{n}]" for n in c.invalid_cites)
            out.append(f"cited {cited} but only sources [1]–[{given}] were given")
        if c.status == "attributed" and c.model_cites:
            was = ", ".join(f"[{n}]" for n in c.model_cites)
            recited.append(f"Citation corrected: “{shorten(strip_markers(c.text), 120)}” "
                           f"cited {was}; its facts are in [{c.cites[0]}]")  # fmt: skip
        if c.status == "unsupported":
            where = ", ".join(f"[{n}]" for n in c.cites) or "any source"
            out.append(
                f"“{shorten(strip_markers(c.text), 120)}”: {', '.join(c.missing)} "
                f"not found in {where}"
            )
    return [f"Not verified: {n}" for n in out] + recited


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
