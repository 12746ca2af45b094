"""Features of every sentence of the retrieved passages, for the learned reader.

Two groups: cheap ones (question terms in the sentence, around it and in its passage, their
proximity, retrieval rank and scores, position in the article, answer-type patterns) that are
computed for every sentence, and costly ones (dense similarity to the question, named
entities of the asked type) computed only for the sentences the cheap ones rank highest.
Training (bench/reader/train.py) and answering use this same code, so the model sees at
question time exactly what it was fitted on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from assistant.answering.entities import Entity
from assistant.answering.facts import answer_spans
from assistant.answering.questions import Kind, QuestionInfo
from assistant.answers import Passage
from index.text import stem

DocFreq = Callable[[list[str]], tuple[dict[str, int], int]]
_WORD = re.compile(r"\w+")
KINDS = [Kind.NUMBER, Kind.DATE, Kind.PERSON, Kind.PLACE, Kind.ENTITY, Kind.OTHER]

CHEAP = [
    "cov", "cov_win", "ctx", "title", "prox", "cov_rel", "rank_inv", "fused", "dense_p",
    "lex_p", "pos", "lead", "nwords", "short", "quote", "qmark", "typed", "recency", "nodate",
    *(f"kind_{k.value}" for k in KINDS),
    *(f"typed_{k.value}" for k in KINDS[:5]),
]  # fmt: skip
COSTLY = ["dense", "dense_rel", "ner_fit", "ner_part", "ner_count"]
CROSS = ["ce", "ce_rel"]  # the cross-encoder's logit, and its gap to the best sentence's


@dataclass
class Sentence:
    """One sentence of a retrieved passage, with its features and (later) its entities."""

    passage: Passage
    rank: int  # the passage's rank, 0 first
    span: tuple[int, int]  # article offsets
    text: str
    stems: set[str]
    cheap: dict[str, float] = field(default_factory=dict)
    costly: dict[str, float] = field(default_factory=dict)
    entities: list[Entity] = field(default_factory=list)


def stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower())}


def term_weights(
    info: QuestionInfo, passages: Sequence[Passage], doc_freq: DocFreq | None
) -> dict[str, float]:
    """IDF of each key term of the question (stemmed), from the whole index when at hand."""
    terms = info.terms
    if doc_freq is not None:
        df, total = doc_freq(terms)
    else:
        bags = [stems(p.title + " " + p.text) for p in passages]
        df = {t: sum(stem(t) in b for b in bags) for t in terms}
        total = len(bags)
    weights: dict[str, float] = {}
    for t in terms:
        s = stem(t)
        n = df.get(t, 0)
        weights[s] = max(weights.get(s, 0.0), math.log(1 + (total - n + 0.5) / (n + 0.5)))
    return weights


def _cover(weights: dict[str, float], bag: set[str], total: float) -> float:
    return sum(w for s, w in weights.items() if s in bag) / total


def _proximity(text: str, weights: dict[str, float], total: float, width: int = 12) -> float:
    """The most question weight found within any ``width`` consecutive words."""
    words = [stem(w) for w in _WORD.findall(text.lower())]
    best = 0.0
    for i in range(max(1, len(words) - width + 1)):
        best = max(best, _cover(weights, set(words[i : i + width]), total))
    return best


def _age_days(p: Passage, as_of: datetime | None) -> float | None:
    if as_of is None or p.published is None:
        return None
    a = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    pub = p.published if p.published.tzinfo else p.published.replace(tzinfo=UTC)
    return max(0.0, (a - pub).total_seconds() / 86400)


def sentences(passages: Sequence[Passage]) -> list[Sentence]:
    out = []
    for rank, p in enumerate(passages):
        for span in p.sentences or [(p.start, p.end)]:
            text = p.sentence_text(span)
            if text.strip():
                out.append(Sentence(p, rank, span, text, stems(text)))
    return out


def cheap_features(
    info: QuestionInfo,
    sents: list[Sentence],
    weights: dict[str, float],
    as_of: datetime | None,
) -> None:
    """Fill ``cheap`` of every sentence."""
    total = sum(weights.values()) or 1.0
    qstems = stems(info.text)
    passages = {id(s.passage): s.passage for s in sents}
    top = max((p.score for p in passages.values()), default=0.0) or 1.0
    top_lex = max((p.lexical_score or 0.0 for p in passages.values()), default=0.0) or 1.0
    ctx = {k: _cover(weights, stems(p.title + " " + p.text), total) for k, p in passages.items()}
    title = {k: _cover(weights, stems(p.title), total) for k, p in passages.items()}
    for i, s in enumerate(sents):
        p = s.passage
        near = set(s.stems)
        for j in (i - 1, i + 1):
            if 0 <= j < len(sents) and sents[j].passage is p:
                near |= sents[j].stems
        words = len(_WORD.findall(s.text))
        typed = any(not stems(c.text) <= qstems for c in answer_spans(s.text, info.kind))
        age = _age_days(p, as_of)
        f = {
            "cov": _cover(weights, s.stems, total),
            "cov_win": _cover(weights, near, total),
            "ctx": ctx[id(p)],
            "title": title[id(p)],
            "prox": _proximity(s.text, weights, total),
            "rank_inv": 1.0 / (1 + s.rank),
            "fused": p.score / top,
            "dense_p": p.dense_score or 0.0,
            "lex_p": (p.lexical_score or 0.0) / top_lex,
            "pos": math.log1p(s.span[0] / 200),
            "lead": float(s.span[0] < 400),
            "nwords": math.log1p(words),
            "short": float(words < 6),
            "quote": float(bool(re.search(r"[\"“”]", s.text))),
            "qmark": float(s.text.rstrip(' "”’').endswith("?")),
            "typed": float(typed),
            "recency": math.exp(-age / 7) if age is not None else 0.0,
            "nodate": float(age is None),
        }
        for k in KINDS:
            f[f"kind_{k.value}"] = float(info.kind is k)
        for k in KINDS[:5]:
            f[f"typed_{k.value}"] = float(typed and info.kind is k)
        s.cheap = f
    best = max((s.cheap["cov"] for s in sents), default=0.0)
    for s in sents:
        s.cheap["cov_rel"] = s.cheap["cov"] - best


def costly_features(
    info: QuestionInfo,
    sents: list[Sentence],
    similarity: np.ndarray,
    ents: list[list[Entity]],
    cross: np.ndarray | None = None,
) -> None:
    """Fill ``costly`` of ``sents`` from their dense similarity to the question, their
    entities (those made of the question's own words are not answers) and, when given, the
    cross-encoder's logits."""
    qstems = stems(info.text)
    best = float(similarity.max()) if len(similarity) else 0.0
    top_ce = float(cross.max()) if cross is not None and len(cross) else 0.0
    for i, (s, sim, found) in enumerate(zip(sents, similarity, ents, strict=True)):
        s.entities = [e for e in found if not stems(e.text) <= qstems]
        fits = [e.fit(info.kind) for e in s.entities]
        s.costly = {
            "dense": float(sim),
            "dense_rel": float(sim) - best,
            "ner_fit": float(any(f == 1.0 for f in fits)),
            "ner_part": float(any(f == 0.5 for f in fits)),
            "ner_count": math.log1p(sum(f == 1.0 for f in fits)),
        }
        if cross is not None:
            s.costly["ce"] = float(cross[i])
            s.costly["ce_rel"] = float(cross[i]) - top_ce


def neighbours(s: Sentence) -> str:
    """The sentences before and after ``s`` in its passage (the cross-encoder's context)."""
    spans = s.passage.sentences
    try:
        i = spans.index(s.span)
    except ValueError:
        return ""
    near = [spans[j] for j in (i - 1, i + 1) if 0 <= j < len(spans)]
    return " ".join(s.passage.sentence_text(sp) for sp in near)


def matrix(sents: Sequence[Sentence], names: Sequence[str]) -> np.ndarray:
    """The named features of ``sents`` as a float matrix, one row per sentence."""
    return np.array(
        [[s.cheap.get(n, s.costly.get(n, 0.0)) for n in names] for s in sents], dtype=np.float64
    ).reshape(len(sents), len(names))
