"""Evaluation over question sets: ``assistant eval QUESTIONS`` and ``assistant eval compare``.

from assistant.evaluation import evaluate
report = evaluate(asst, "questions.jsonl", out="eval-out")
"""

from __future__ import annotations

import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answering.backends import backend_for, describe
from assistant.answering.citations import outcome_counts
from assistant.core import Assistant
from assistant.evaluation import report as rep
from assistant.evaluation.compare import compare
from assistant.evaluation.questions import BadRow, EvalQuestion, QuestionSet, load_questions
from assistant.evaluation.runner import RECALL_KS, ProgressFn, run
from assistant.evaluation.summary import HEADLINE, format_metric, headline_value, summarize
from assistant.settings import SECRET_FIELDS
from index.pipeline import IngestReport

__all__ = [
    "HEADLINE",
    "BadRow",
    "EvalQuestion",
    "QuestionSet",
    "compare",
    "evaluate",
    "format_metric",
    "headline_value",
    "load_questions",
    "summarize",
]


def _ingest_summary(report: IngestReport) -> dict[str, Any]:
    return {
        "new": len(report.new),
        "updated": len(report.updated),
        "unchanged": report.unchanged,
        "failed": len(report.failed),
        "chunks": report.chunks,
        "tokens": report.tokens,
        "seconds": round(report.seconds, 1),
    }


def evaluate(
    asst: Assistant,
    questions: str | Path | QuestionSet,
    out: str | Path,
    k: int | None = None,
    limit: int | None = None,
    progress: ProgressFn | None = None,
    ingest: IngestReport | None = None,
) -> dict[str, Any]:
    """Run the question set, write the report into ``out`` and return it (report.json)."""
    qset = questions if isinstance(questions, QuestionSet) else load_questions(questions, limit)
    started = datetime.now(tz=UTC)
    t = time.perf_counter()
    result = run(asst, qset.questions, k, progress)
    seconds = time.perf_counter() - t
    summary = summarize(result.records, RECALL_KS)
    if backend_for(asst.settings).writes_with_llm:
        summary["verification"] = outcome_counts(result.answers)
    stats = asst.library.stats()
    settings = asst.settings.model_dump(mode="json", exclude=set(SECRET_FIELDS))
    report: dict[str, Any] = {
        "run": {
            "started": started.isoformat(timespec="seconds"),
            "seconds": round(seconds, 1),
            "command": shlex.join(["assistant", *sys.argv[1:]])
            if Path(sys.argv[0]).name in {"assistant", "__main__.py"}
            else shlex.join(sys.argv),
            "git_commit": rep.git_commit(),
            "questions_file": qset.path,
            "questions_sha256": rep.file_sha256(qset.path),
            "answerer": describe(asst.settings),
            "k": result.k,
            "depth": result.depth,
            "recall_ks": list(RECALL_KS),
        },
        "settings": settings,
        "index": {
            "articles": stats.articles,
            "chunks": stats.chunks,
            "sources": len(stats.sources),
            "earliest": stats.earliest,
            "latest": stats.latest,
            "embedding_model": stats.embedding_model,
        },
        "machine": rep.machine(),
        "ingest": _ingest_summary(ingest) if ingest else None,
        "bad_rows": [str(b) for b in qset.bad_rows],
        "summary": summary,
    }
    rep.write(Path(out), report, result.records)
    return report
