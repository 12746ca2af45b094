"""Text utilities shared by the index and the answering side: NLTK's data (from the copy
llama-index ships, nothing downloaded), English stopwords, key terms of a question, the
Porter stem the lexical index applies, and sentence spans of an article."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from index.imports import extras_off

Span = tuple[int, int]

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _nltk() -> Any:
    """``nltk`` imported without scipy and scikit-learn (index/imports.py): its package
    imports them for features not used here (statistics, classifiers), 1.5 s on a cold start."""
    with extras_off("scipy", "sklearn"):
        import nltk

    return nltk


@lru_cache(maxsize=1)
def nltk_data() -> Any:
    """The ``nltk`` module with the data folder llama-index ships on its search path."""
    nltk = _nltk()

    # found, not imported: importing llama_index.core costs seconds that `ask` waits for
    spec = importlib.util.find_spec("llama_index.core")
    origin = spec.origin if spec else None
    bundled = Path(origin or ".").parent / "_static" / "nltk_cache"
    if str(bundled) not in nltk.data.path:
        nltk.data.path.append(str(bundled))
    return nltk


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopwords."""
    nltk_data()
    from nltk.corpus import stopwords

    return frozenset(stopwords.words("english"))


def query_terms(text: str, stopwords: Iterable[str] | None = None) -> list[str]:
    """Lower-cased words of ``text`` without stopwords, in first-occurrence order."""
    stop = set(english_stopwords() if stopwords is None else stopwords)
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in stop and word not in seen:
            seen[word] = None
    return list(seen)


@lru_cache(maxsize=1)
def _porter() -> Any:
    """Porter's original algorithm, the one FTS5's ``porter`` tokenizer applies."""
    _nltk()
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM)


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """A word as the lexical index stems it."""
    return str(_porter().stem(word.lower()))


@lru_cache(maxsize=1)
def _punkt() -> Any:
    """NLTK's trained English Punkt model."""
    nltk_data()
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer("english")


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of ``text``: paragraphs (lines) first, then Punkt inside each, with
    surrounding whitespace trimmed off every span."""
    punkt = _punkt()
    spans: list[Span] = []
    for para in re.finditer(r"[^\n]+", text):
        body = para.group()
        for s, e in punkt.span_tokenize(body):
            piece = body[s:e]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if e - trail > s + lead:
                spans.append((para.start() + s + lead, para.start() + e - trail))
    return spans
