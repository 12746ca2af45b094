"""Evaluation metrics, each a small pure function so it can be checked on hand-made cases.

Matching is "as a whole word, ignoring case": "2,000" matches "deployed 2,000 members" but
"200" does not, and "Iran" does not match "Iranian". Exact match and token F1 follow the
SQuAD conventions (lower case, no punctuation, no articles, collapsed spaces).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

from assistant.answering.citations import Support, markers, split_sentences
from assistant.answers import Answer, Passage

# The answer text in which an acceptable answer must appear: its opening, not a quote far down.
ANSWER_WINDOW = 300


def mentions(text: str, answer: str) -> bool:
    """``answer`` occurs in ``text`` as a whole word or phrase, ignoring case."""
    needle = " ".join(answer.lower().split())
    if not needle:
        return False
    pattern = r"(?<!\w)" + re.escape(needle).replace(r"\ ", r"\s+") + r"(?!\w)"
    return re.search(pattern, text.lower()) is not None


def mentions_any(text: str, answers: Sequence[str]) -> bool:
    return any(mentions(text, a) for a in answers)


def passage_text(p: Passage) -> str:
    return p.title + "\n" + p.text


def answer_rank(passages: Sequence[Passage], answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage holding an acceptable answer, else None."""
    for i, p in enumerate(passages, 1):
        if mentions_any(passage_text(p), answers):
            return i
    return None


def gold_rank(passages: Sequence[Passage], gold_ids: Sequence[str]) -> int | None:
    """1-based rank of the first passage from a gold article (a syndicated copy folded into
    the passage counts too), else None."""
    gold = set(gold_ids)
    for i, p in enumerate(passages, 1):
        if p.article_id in gold or any(ref.article_id in gold for ref in p.also_in):
            return i
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first hit is within the top ``k``."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: Sequence[int | None]) -> float:
    """Mean reciprocal rank; a miss counts 0."""
    if not ranks:
        return 0.0
    return sum(1 / r for r in ranks if r) / len(ranks)


def first_line(text: str) -> str:
    """What an editor reads first: the answer up to its first line break."""
    return text.strip().split("\n", 1)[0]


def is_correct(answer: Answer, answers: Sequence[str]) -> bool:
    """Headline accuracy's test: not refused, an acceptable answer in the first line of the
    answer (the short answer, or the first quote when there is none) and in at least one
    cited quote (so the right number must also be backed by a source)."""
    return (
        not answer.refused
        and mentions_any(first_line(answer.answer), answers)
        and any(mentions_any(c.quote, answers) for c in answer.citations)
    )


def in_opening(answer: Answer, answers: Sequence[str]) -> bool:
    """The looser test: an acceptable answer anywhere in the first 300 characters (a quote
    under a wrong short answer counts) and in a cited quote."""
    return (
        not answer.refused
        and mentions_any(answer.answer[:ANSWER_WINDOW], answers)
        and any(mentions_any(c.quote, answers) for c in answer.citations)
    )


def normalize(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation) | {"“", "”", "’"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    pred = normalize(prediction)
    return float(any(pred == normalize(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best token F1 of ``prediction`` against the acceptable answers."""
    best = 0.0
    pred = normalize(prediction).split()
    for a in answers:
        gold = normalize(a).split()
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        if same == 0:
            continue
        precision, recall = same / len(pred), same / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def citation_checks(answer: Answer, answers: Sequence[str]) -> list[dict[str, object]]:
    """For each citation of ``answer``: whether its quote supports an answer sentence that
    cites it (every number, date and name of that sentence occurs in the quote; one ``[n]``
    may mark several quotes of the same passage, so one such sentence is enough) and whether
    the quote holds an acceptable answer (``None`` when no gold answer is known)."""
    text = answer.answer
    citing: dict[int, list[str]] = {}
    for start, end in split_sentences(text):
        sentence = text[start:end]
        for n in dict.fromkeys(markers(sentence)):
            citing.setdefault(n, []).append(sentence)
    out: list[dict[str, object]] = []
    for c in answer.citations:
        support = Support(c.quote)
        sentences = citing.get(c.n, [])
        supports = any(not support.missing(s) for s in sentences)
        holds = mentions_any(c.quote, answers) if answers else None
        out.append({"n": c.n, "supports": supports, "holds_answer": holds})
    return out


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))])


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to measure (shown as "n/a")."""
    return part / whole if whole else None
