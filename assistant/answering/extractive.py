"""The built-in extractive answerer: no language model, fully offline.

It scores every sentence of the retrieved passages against the question (IDF-weighted key
terms in the sentence and around it, whether it holds an answer of the wanted kind, the
passage's retrieval rank), lets candidate short answers (numbers, dates, names, places) vote
across the best sentences, and replies with the short answer first, then the supporting
quotes, each with its [n]. When the best sentence covers too little of the question it
refuses rather than quote something unrelated; the threshold is calibrated on the 2025
question set (bench/RESULTS.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from assistant.answering.base import citation, refusal_text
from assistant.answering.candidates import Candidate, candidates
from assistant.answering.questions import Kind, QuestionInfo, analyse
from assistant.answers import Answer, Citation, Passage
from index.lexical import stem

# Calibrated on ../shared/eval/realtimeqa-2025 (see bench/answering.py): below this
# confidence the indexed articles are taken not to hold the answer.
DEFAULT_REFUSE_BELOW = 0.5

DocFreq = Callable[[list[str]], tuple[dict[str, int], int]]
_WORD = re.compile(r"\w+")


@dataclass
class Scored:
    passage: Passage
    rank: int
    span: tuple[int, int]
    text: str
    score: float
    coverage: float
    context: float
    cands: list[Candidate]


def _stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower())}


def _nearness(s: Scored, c: Candidate, qstems: set[str]) -> float:
    """Share of the question's key stems within four words of the candidate."""
    if not qstems:
        return 0.0
    before = _WORD.findall(s.text[: c.start].lower())[-4:]
    after = _WORD.findall(s.text[c.end :].lower())[:4]
    return len({stem(w) for w in before + after} & qstems) / len(qstems)


def _shared(c: Candidate, qstems: set[str]) -> float:
    """Share of the candidate's words that are the question's own (so not the answer)."""
    words = [stem(w) for w in _WORD.findall(c.text.lower())]
    return sum(w in qstems for w in words) / max(1, len(words))


class ExtractiveAnswerer:
    """Answers by quoting the sentences that answer the question."""

    name = "extractive"

    def __init__(
        self,
        doc_freq: DocFreq | None = None,
        refuse_below: float | None = None,
        max_quotes: int = 2,
    ) -> None:
        self.doc_freq = doc_freq
        self.refuse_below = DEFAULT_REFUSE_BELOW if refuse_below is None else refuse_below
        self.max_quotes = max_quotes

    # -- scoring ---------------------------------------------------------------------------
    def _weights(self, info: QuestionInfo, passages: list[Passage]) -> dict[str, float]:
        """IDF of each key term (stemmed), from the whole index when it is at hand."""
        terms = info.terms
        if self.doc_freq is not None:
            df, total = self.doc_freq(terms)
        else:
            bags = [_stems(p.title + " " + p.text) for p in passages]
            df = {t: sum(stem(t) in b for b in bags) for t in terms}
            total = len(bags)
        weights: dict[str, float] = {}
        for t in terms:
            s = stem(t)
            n = df.get(t, 0)
            weights[s] = max(weights.get(s, 0.0), math.log(1 + (total - n + 0.5) / (n + 0.5)))
        return weights

    def score(self, question: str, passages: list[Passage]) -> tuple[QuestionInfo, list[Scored]]:
        """Every sentence of ``passages``, scored against ``question``; best first."""
        info = analyse(question)
        weights = self._weights(info, passages)
        total = sum(weights.values()) or 1.0
        qstems = _stems(question)
        top = max((p.score for p in passages), default=0.0) or 1.0
        out: list[Scored] = []
        for rank, p in enumerate(passages):
            around = _stems(p.title) | _stems(p.text)
            context = sum(w for s, w in weights.items() if s in around) / total
            prior = p.score / top
            for span in p.sentences or [(p.start, p.end)]:
                text = p.sentence_text(span)
                here = _stems(text)
                coverage = sum(w for s, w in weights.items() if s in here) / total
                cands = [
                    c
                    for c in candidates(text, info.kind)
                    if not _stems(c.text) <= qstems  # an answer is not the question's own word
                ]
                typed = 1.0 if cands else 0.0
                if info.kind is Kind.OTHER:
                    typed = 0.5
                score = 1.0 * coverage + 0.35 * context + 0.3 * typed + 0.25 * prior
                out.append(Scored(p, rank, span, text, score, coverage, context, cands))
        out.sort(key=lambda s: -s.score)
        return info, out

    # -- answering -------------------------------------------------------------------------
    def answer(
        self, question: str, passages: list[Passage], as_of: datetime | None = None
    ) -> Answer:
        info, scored = self.score(question, passages)
        if not scored:
            return Answer(question=question, answer=refusal_text(question), refused=True,
                          passages=passages, confidence=0.0)  # fmt: skip
        best = scored[0]
        # how much of the question the best sentence, and its passage and title, speak to
        confidence = 0.45 * best.coverage + 0.35 * best.context + 0.2 * min(1.0, best.score)
        if confidence < self.refuse_below:
            return Answer(
                question=question,
                answer=refusal_text(question),
                refused=True,
                passages=passages,
                confidence=round(confidence, 4),
            )
        short, chosen = self._choose(info, scored)
        if short is None and info.kind in (Kind.NUMBER, Kind.DATE):
            # the passages talk about the subject but none gives the figure or date asked for
            return Answer(
                question=question,
                answer=refusal_text(question),
                refused=True,
                passages=passages,
                confidence=round(confidence * 0.5, 4),
            )
        citations: list[Citation] = []
        numbers: dict[str, int] = {}
        for s in chosen:
            n = numbers.setdefault(s.passage.chunk_id, len(numbers) + 1)
            citations.append(citation(n, s.passage, s.span))
        lines = []
        if short is not None:
            lines.append(f"{short} [{citations[0].n}]")
            lines.append("")
        lines.extend(f"“{c.quote}” [{c.n}]" for c in citations)
        # one citation per source number is enough for the sources list
        unique: dict[int, Citation] = {}
        for c in citations:
            unique.setdefault(c.n, c)
        return Answer(
            question=question,
            answer="\n".join(lines),
            short_answer=short,
            citations=list(unique.values()) if len(unique) == len(citations) else citations,
            passages=passages,
            confidence=round(confidence, 4),
        )

    def _choose(self, info: QuestionInfo, scored: list[Scored]) -> tuple[str | None, list[Scored]]:
        """The short answer (by votes of the sentences that cover the question well) and the
        quotes to show. A candidate earns more near the question's own words ("2,000
        National Guard members" for "how many Guard members")."""
        short: str | None = None
        first = scored[0]
        qstems = {stem(t) for t in info.terms}
        if info.kind is not Kind.OTHER:
            floor = max(0.25, 0.5 * first.coverage)
            votes: dict[str, float] = {}
            forms: dict[str, str] = {}
            where: dict[str, Scored] = {}
            for s in scored[:10]:
                if s.coverage < floor:
                    continue
                for c in s.cands:
                    vote = s.score * (1.0 + _nearness(s, c, qstems)) * (1.0 - _shared(c, qstems))
                    votes[c.key] = votes.get(c.key, 0.0) + vote
                    forms.setdefault(c.key, c.text)
                    if c.key not in where or s.score > where[c.key].score:
                        where[c.key] = s
            if votes:
                key = max(votes, key=lambda k: votes[k])
                short = forms[key]
                first = where[key]
        chosen = [first]
        for s in scored:
            if len(chosen) >= self.max_quotes:
                break
            if s.text == first.text or s.score < 0.75 * first.score:
                continue
            chosen.append(s)
        return short, chosen

    def stream(
        self, question: str, passages: list[Passage], as_of: datetime | None = None
    ) -> Iterator[str | Answer]:
        result = self.answer(question, passages, as_of)
        yield from re.findall(r"\S+\s*", result.answer)
        yield result
