"""The learned reader's model: small logistic regressions stored as JSON in the package.

``reader.json`` holds four of them (fitted by bench/reader/train.py on the 2025 question set,
cross-validated by week; bench/RESULTS.md has the figures); ``reader-e5.json`` is the same,
fitted with multilingual-e5-small as the sentence encoder (setting ``sentence_encoder``):

- ``stage1`` ranks every sentence of the retrieved passages on cheap features;
- ``stage2`` re-ranks the best ``rerank`` of them with dense similarity and named entities;
- ``short`` gives the probability that a candidate short answer is right;
- ``answerable`` gives the probability that the passages answer the question at all.

Only numpy is needed to use them; scikit-learn is needed only to fit them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answering.features import KINDS, Sentence, stems
from assistant.answering.questions import Kind, QuestionInfo
from assistant.answers import Passage
from index.errors import ConfigError

# the packaged model for each sentence encoder: the "dense" feature is the encoder's
MODEL_FILES = {"minilm": "reader.json", "e5": "reader-e5.json"}
_WORD = re.compile(r"\w+")


@dataclass
class Logistic:
    """``sigmoid(((x - mean) / scale) · coef + intercept)`` over the named features."""

    names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def prob(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(len(x))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30))))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Logistic:
        return cls(
            list(d["names"]), list(d["mean"]), list(d["scale"]), list(d["coef"]), d["intercept"]
        )


@dataclass
class ReaderModel:
    stage1: Logistic
    stage2: Logistic
    short: Logistic
    answerable: Logistic
    rerank: int = 8
    short_threshold: float = 0.5
    refuse_threshold: float = 0.3
    encoder: str = "minilm"  # what the "dense" feature was computed with
    cross_encoder: bool = False  # whether the model reads the cross-encoder's "ce" features
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReaderModel:
        return cls(
            stage1=Logistic.from_dict(d["stage1"]),
            stage2=Logistic.from_dict(d["stage2"]),
            short=Logistic.from_dict(d["short"]),
            answerable=Logistic.from_dict(d["answerable"]),
            rerank=int(d["rerank"]),
            short_threshold=float(d["short_threshold"]),
            refuse_threshold=float(d["refuse_threshold"]),
            encoder=str(d.get("encoder", "minilm")),
            cross_encoder=bool(d.get("cross_encoder", False)),
            meta=dict(d.get("meta", {})),
        )


@lru_cache(maxsize=4)
def load_model(path: str | None = None, encoder: str = "minilm") -> ReaderModel:
    """The model at ``path``, or the one shipped in this package for ``encoder``."""
    if not path and encoder not in MODEL_FILES:
        raise ConfigError(
            f"unknown sentence encoder {encoder!r}: use one of {', '.join(MODEL_FILES)} "
            "(ASSISTANT_SENTENCE_ENCODER)"
        )
    packaged = MODEL_FILES.get(encoder, "")
    try:
        if path:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = resources.files("assistant.answering").joinpath(packaged).read_text("utf-8")
        return ReaderModel.from_dict(json.loads(text))
    except (OSError, ValueError, KeyError) as exc:
        where = path or f"assistant/answering/{packaged}"
        raise ConfigError(
            f"cannot read the reader model {where}: {exc}; retrain it with "
            "bench/reader/train.py or unset ASSISTANT_READER_MODEL"
        ) from exc


# -- short-answer candidates ------------------------------------------------------------------
CANDIDATE = [
    "sprob", "srank_inv", "fit", "part", "votes", "nvotes", "near", "shared", "nwords",
    "digit", "first", *(f"kind_{k.value}" for k in KINDS[:5]),
]  # fmt: skip


@dataclass
class Candidate:
    text: str
    key: str
    sentence: Sentence
    features: dict[str, float]


def _nearness(s: Sentence, start: int, end: int, qstems: set[str]) -> float:
    """Share of the question's key stems within four words of the candidate."""
    if not qstems:
        return 0.0
    before = _WORD.findall(s.text[:start].lower())[-4:]
    after = _WORD.findall(s.text[end:].lower())[:4]
    return len(stems(" ".join(before + after)) & qstems) / len(qstems)


def candidates(
    info: QuestionInfo, ranked: Sequence[tuple[Sentence, float]], depth: int = 5
) -> list[Candidate]:
    """Short-answer candidates from the entities of the ``depth`` best sentences, with the
    features of :data:`CANDIDATE`; one per distinct answer (its best sentence)."""
    if info.kind is Kind.OTHER:
        return []
    terms = {stems(t).pop() for t in info.terms if stems(t)}
    top = list(ranked[:depth])
    votes: dict[str, float] = {}
    count: dict[str, int] = {}
    for s, p in top:
        for key in {e.key for e in s.entities if e.fit(info.kind) > 0}:
            votes[key] = votes.get(key, 0.0) + p
            count[key] = count.get(key, 0) + 1
    best: dict[str, Candidate] = {}
    for i, (s, p) in enumerate(top):
        for e in s.entities:
            fit = e.fit(info.kind)
            if fit == 0 or e.key in best or not e.key:
                continue
            words = _WORD.findall(e.text.lower())
            f = {
                "sprob": p,
                "srank_inv": 1.0 / (1 + i),
                "fit": float(fit == 1.0),
                "part": float(fit == 0.5),
                "votes": votes.get(e.key, 0.0),
                "nvotes": float(count.get(e.key, 0)),
                "near": _nearness(s, e.start, e.end, terms),
                "shared": sum(stems(w) <= terms for w in words) / max(1, len(words)),
                "nwords": math.log1p(len(words)),
                "digit": float(any(ch.isdigit() for ch in e.text)),
                "first": float(i == 0),
            }
            for k in KINDS[:5]:
                f[f"kind_{k.value}"] = float(info.kind is k)
            best[e.key] = Candidate(e.text, e.key, s, f)
    return list(best.values())


# -- answerability ----------------------------------------------------------------------------
QUESTION = [
    "p1", "p2", "p_mean3", "cov1", "cov_max", "ctx_max", "prox_max", "dense1", "dense_max",
    "dense_p_max", "short_p", "typed1", "ner1", "ner_any", "nterms", "ce1", "ce_max",
    "absent", "absent_name",
    *(f"kind_{k.value}" for k in KINDS),
]  # fmt: skip
_NAME = re.compile(r"(?<![\w.])[A-Z][\w'’-]+")


def absent_terms(info: QuestionInfo, passages: Sequence[Passage]) -> tuple[float, float]:
    """The share of the question's key words that no passage holds, and whether one of its
    names (a capitalised word after the first) is in none: a question about something the
    passages never mention is not answered by them, however close their topic."""
    bag: set[str] = set()
    for p in passages:
        bag |= stems(p.title + " " + p.text)
    terms = {t for term in info.terms for t in stems(term)}
    share = len(terms - bag) / len(terms) if terms else 0.0
    names = _NAME.findall(info.text)[1:]
    missing = any(not stems(n) <= bag for n in names if stems(n))
    return share, float(missing)


def question_features(
    info: QuestionInfo,
    ranked: Sequence[tuple[Sentence, float]],
    short_p: float,
    passages: Sequence[Passage] = (),
) -> dict[str, float]:
    """What the best sentences (and all the ``passages`` read) say about whether the
    passages answer the question."""
    probs = [p for _, p in ranked] + [0.0, 0.0, 0.0]
    first = ranked[0][0] if ranked else None
    cheap = [s.cheap for s, _ in ranked]
    costly = [s.costly for s, _ in ranked]
    f = {
        "p1": probs[0],
        "p2": probs[1],
        "p_mean3": sum(probs[:3]) / 3,
        "cov1": first.cheap.get("cov", 0.0) if first else 0.0,
        "cov_max": max((c.get("cov", 0.0) for c in cheap), default=0.0),
        "ctx_max": max((c.get("ctx", 0.0) for c in cheap), default=0.0),
        "prox_max": max((c.get("prox", 0.0) for c in cheap), default=0.0),
        "dense1": first.costly.get("dense", 0.0) if first else 0.0,
        "dense_max": max((c.get("dense", 0.0) for c in costly), default=0.0),
        "dense_p_max": max((c.get("dense_p", 0.0) for c in cheap), default=0.0),
        "short_p": short_p,
        "typed1": first.cheap.get("typed", 0.0) if first else 0.0,
        "ner1": first.costly.get("ner_fit", 0.0) if first else 0.0,
        "ner_any": max((c.get("ner_fit", 0.0) for c in costly), default=0.0),
        "nterms": math.log1p(len(info.terms)),
        # the cross-encoder's logit for the lead sentence and the best one (0 without it)
        "ce1": first.costly.get("ce", 0.0) if first else 0.0,
        "ce_max": max((c.get("ce", 0.0) for c in costly), default=0.0),
    }
    f["absent"], f["absent_name"] = absent_terms(info, passages)
    for k in KINDS:
        f[f"kind_{k.value}"] = float(info.kind is k)
    return f


def row(features: dict[str, float], names: Sequence[str]) -> np.ndarray:
    return np.array([[features.get(n, 0.0) for n in names]], dtype=np.float64)
