"""Run a question set through retrieval and the answerer, one record per question.

Each question is retrieved ``depth`` passages deep (for the recall@k curve) and the answerer
reads the top ``k``: exactly what ``Assistant.ask(question, k=k, as_of=date)`` does, since
the retriever's candidate pool is the same for both depths (and a top-k list is a prefix of a
deeper one). When a small ``retrieval_candidates`` setting makes the pools differ, the
question is retrieved twice so the answer still comes from ask's own retrieval. The question's
date is its ``as_of``. Retrieval and answering are timed separately (wall clock, the model
loaded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.answering.questions import analyse
from assistant.answers import Answer, Passage
from assistant.core import Assistant
from assistant.errors import EmptyIndexError
from assistant.evaluation import metrics as m
from assistant.evaluation.questions import EvalQuestion

# Depths of the recall@k curve; retrieval always reaches the deepest of them.
RECALL_KS = (1, 3, 5, 10)

ProgressFn = Callable[[int, int, dict[str, Any]], None]


@dataclass
class EvalRun:
    k: int
    depth: int
    records: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)


def week_of(q: EvalQuestion) -> str | None:
    if q.date is None:
        return None
    year, week, _ = q.date.isocalendar()
    return f"{year}-W{week:02d}"


def _question_fields(q: EvalQuestion) -> dict[str, Any]:
    return {
        "id": q.id,
        "line": q.line,
        "question": q.question,
        "date": q.date.date().isoformat() if q.date else None,
        "week": week_of(q),
        "type": analyse(q.question).kind.value,
        "answerable": q.answerable,
        "gold": q.answers,
        "gold_ids": q.gold_ids,
    }


@dataclass
class _Asked:
    passages: list[Passage]  # retrieved ``depth`` deep, for the recall curve
    top: list[Passage]  # the ``k`` the answer was read from
    answer: Answer
    retrieval_ms: float
    answer_ms: float


def _ask(asst: Assistant, q: EvalQuestion, k: int, depth: int) -> _Asked:
    """Retrieve and read as ``Assistant.ask`` does, each step timed."""
    pool = asst.settings.retrieval_candidates
    t = time.perf_counter()
    passages = asst.retrieve(q.question, depth, as_of=q.date)
    retrieval_ms = (time.perf_counter() - t) * 1000
    top = passages[:k]
    if max(pool, 4 * depth) != max(pool, 4 * k):  # see the module docstring
        t = time.perf_counter()
        top = asst.retrieve(q.question, k, as_of=q.date)
        retrieval_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    answer = asst.read(q.question, top, q.date)
    return _Asked(passages, top, answer, retrieval_ms, (time.perf_counter() - t) * 1000)


def _answer_fields(q: EvalQuestion, got: _Asked) -> dict[str, Any]:
    answer, passages, gold = got.answer, got.passages, q.answers
    answered = not answer.refused
    short = answer.short_answer if q.answerable and answered and answer.short_answer else None
    return dict(
        error=None,
        refused=answer.refused,
        answer=answer.answer,
        short_answer=answer.short_answer,
        confidence=answer.confidence,
        answerer=answer.answerer,
        verification=answer.verification.outcome if answer.verification else None,
        retrieved=[p.article_id for p in got.top],
        answer_rank=m.answer_rank(passages, gold) if gold else None,
        gold_rank=m.gold_rank(passages, q.gold_ids) if q.gold_ids else None,
        correct=m.is_correct(answer, gold) if q.answerable else None,
        correct_opening=m.in_opening(answer, gold) if q.answerable else None,
        exact_match=m.exact_match(short, gold) if short else None,
        f1=m.token_f1(short, gold) if short else None,
        citations=[
            {**check, "article_id": c.article_id, "quote": c.quote}
            for c, check in zip(
                answer.citations,
                m.citation_checks(answer, gold if q.answerable else []),
                strict=True,
            )
        ],
        retrieval_ms=round(got.retrieval_ms, 2),
        answer_ms=round(got.answer_ms, 2),
    )


def evaluate_one(
    asst: Assistant, q: EvalQuestion, k: int, depth: int
) -> tuple[dict[str, Any], Answer | None]:
    """The per-question record (and the Answer) for one question."""
    record = _question_fields(q)
    try:
        got = _ask(asst, q, k, depth)
    except Exception as exc:  # one failing question is recorded; the run goes on
        record.update(error=f"{type(exc).__name__}: {exc}", refused=None, correct=None)
        return record, None
    record.update(_answer_fields(q, got))
    return record, got.answer


def run(
    asst: Assistant,
    questions: list[EvalQuestion],
    k: int | None = None,
    progress: ProgressFn | None = None,
) -> EvalRun:
    """Evaluate ``questions`` against ``asst``'s index and answerer."""
    if asst.library.is_empty():
        raise EmptyIndexError(
            f"the index ({asst.settings.data_dir}) holds no articles: ingest the corpus first "
            "(`assistant ingest PATH`, or `assistant eval ... --corpus PATH`)"
        )
    k = k or asst.settings.top_k
    result = EvalRun(k=k, depth=max(k, *RECALL_KS))
    for i, q in enumerate(questions, 1):
        record, answer = evaluate_one(asst, q, k, result.depth)
        result.records.append(record)
        if answer is not None:
            result.answers.append(answer)
        if progress:
            progress(i, len(questions), record)
    return result
