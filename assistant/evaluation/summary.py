"""The run's figures, computed from the per-question records alone (so a saved run's
``questions.jsonl`` can be summarised again, and two runs compared on the same footing)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from assistant.evaluation import metrics as m

Record = dict[str, Any]


def _share(records: Sequence[Record], test: Any) -> float | None:
    return m.ratio(sum(1 for r in records if test(r)), len(records))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _group_accuracy(records: Sequence[Record], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.get(key):
            groups[str(r[key])].append(r)
    return {
        name: {"n": len(rs), "accuracy": _share(rs, lambda r: r.get("correct"))}
        for name, rs in sorted(groups.items())
    }


def summarize(records: Sequence[Record], ks: Sequence[int]) -> dict[str, Any]:
    """Every metric of the run; shares are None where nothing could be measured."""
    ok = [r for r in records if not r.get("error")]
    answerable = [r for r in ok if r["answerable"]]
    answered = [r for r in ok if r.get("refused") is False]
    return {
        "counts": _counts(records, ok, answered),
        "retrieval": _retrieval(ok, ks),
        "answers": _answers(answerable, answered),
        "citations": _citations(answered),
        "refusals": {
            "refused_not_answerable": _share(
                [r for r in ok if not r["answerable"]], lambda r: r.get("refused")
            ),
            "false_refusals": _share(answerable, lambda r: r.get("refused")),
        },
        "latency_ms": _latency(ok),
        "by_type": _group_accuracy(answerable, "type"),
        "by_week": _group_accuracy(answerable, "week"),
    }


def _scored(records: Sequence[Record]) -> list[Record]:
    return [r for r in records if r["answerable"] and r.get("f1") is not None]


def _counts(records: Sequence[Record], ok: list[Record], answered: list[Record]) -> dict[str, int]:
    answerable = sum(1 for r in ok if r["answerable"])
    return {
        "questions": len(records),
        "errors": len(records) - len(ok),
        "answerable": answerable,
        "not_answerable": len(ok) - answerable,
        "with_gold_ids": sum(1 for r in ok if r.get("gold_ids")),
        "answered": len(answered),
        "short_answers_scored": len(_scored(ok)),
        "citations": sum(len(r.get("citations", [])) for r in answered),
    }


def _retrieval(ok: list[Record], ks: Sequence[int]) -> dict[str, float | None]:
    answerable = [r for r in ok if r["answerable"]]
    with_gold = [r for r in ok if r.get("gold_ids")]
    answer_ranks = [r.get("answer_rank") for r in answerable]
    gold_ranks = [r.get("gold_rank") for r in with_gold]
    return {
        **{f"answer_recall@{k}": m.recall_at(answer_ranks, k) if answerable else None for k in ks},
        "answer_mrr": m.mrr(answer_ranks) if answerable else None,
        **{f"gold_recall@{k}": m.recall_at(gold_ranks, k) if with_gold else None for k in ks},
        "gold_mrr": m.mrr(gold_ranks) if with_gold else None,
    }


def _answers(answerable: list[Record], answered: list[Record]) -> dict[str, float | None]:
    answered_answerable = [r for r in answered if r["answerable"]]
    scored = _scored(answerable)
    return {
        # headline accuracy: the first line of the answer is right and a quote backs it
        "accuracy": _share(answerable, lambda r: r.get("correct")),
        "accuracy_opening": _share(answerable, lambda r: r.get("correct_opening")),
        # of the answerable questions it did answer, how many it got right
        "accuracy_when_answered": _share(answered_answerable, lambda r: r.get("correct")),
        "exact_match": _mean([float(r["exact_match"]) for r in scored]),
        "f1": _mean([float(r["f1"]) for r in scored]),
    }


def _citations(answered: list[Record]) -> dict[str, float | None]:
    cites_answerable = [c for r in answered if r["answerable"] for c in r.get("citations", [])]
    cites_all = [c for r in answered for c in r.get("citations", [])]
    return {
        "precision": _share(cites_answerable, lambda c: c.get("holds_answer")),
        "support": _share(cites_all, lambda c: c.get("supports")),
        "answers_with_citation": _share(answered, lambda r: bool(r.get("citations"))),
    }


def _latency(ok: list[Record]) -> dict[str, float | None]:
    retrieval_ms = [r["retrieval_ms"] for r in ok]
    answer_ms = [r["answer_ms"] for r in ok]
    total_ms = [r["retrieval_ms"] + r["answer_ms"] for r in ok]
    return {
        "retrieval_p50": m.percentile(retrieval_ms, 50),
        "retrieval_p95": m.percentile(retrieval_ms, 95),
        "answer_p50": m.percentile(answer_ms, 50),
        "answer_p95": m.percentile(answer_ms, 95),
        "total_p50": m.percentile(total_ms, 50),
        "total_p95": m.percentile(total_ms, 95),
    }


# The figures shown in report tables and in `assistant eval compare`, in order, with labels.
HEADLINE: list[tuple[str, str, str]] = [
    ("retrieval", "answer_recall@1", "answer recall@1"),
    ("retrieval", "answer_recall@5", "answer recall@5"),
    ("retrieval", "answer_recall@10", "answer recall@10"),
    ("retrieval", "answer_mrr", "answer MRR"),
    ("retrieval", "gold_recall@5", "gold-article recall@5"),
    ("retrieval", "gold_mrr", "gold-article MRR"),
    ("answers", "accuracy", "headline accuracy (first line right, quote backs it)"),
    ("answers", "accuracy_opening", "answer in the first 300 characters"),
    ("answers", "accuracy_when_answered", "accuracy when answered"),
    ("answers", "exact_match", "short answer exact match"),
    ("answers", "f1", "short answer F1"),
    ("citations", "precision", "citation precision (quote holds the answer)"),
    ("citations", "support", "citation support (quote backs its sentence)"),
    ("citations", "answers_with_citation", "answers with a citation"),
    ("refusals", "refused_not_answerable", "refused, not answerable"),
    ("refusals", "false_refusals", "false refusals (answerable)"),
    ("latency_ms", "retrieval_p50", "retrieval p50 ms"),
    ("latency_ms", "retrieval_p95", "retrieval p95 ms"),
    ("latency_ms", "answer_p50", "answering p50 ms"),
    ("latency_ms", "answer_p95", "answering p95 ms"),
]

# Metrics where lower is better (for the sign of a delta in comparisons).
LOWER_IS_BETTER = {"false_refusals"} | {key for sec, key, _ in HEADLINE if sec == "latency_ms"}


def headline_value(summary: dict[str, Any], section: str, key: str) -> float | None:
    value = summary.get(section, {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def _is_ms(key: str) -> bool:
    return key.endswith(("p50", "p95"))  # latency percentiles, in milliseconds


def format_metric(value: float | None, key: str) -> str:
    """A figure as every report shows it: milliseconds to 0.1, rates to 0.001, "n/a"."""
    if value is None:
        return "n/a"
    return f"{value:.1f}" if _is_ms(key) else f"{value:.3f}"


def format_delta(a: float | None, b: float | None, key: str) -> str:
    """The change from ``a`` to ``b`` in the same precision, and whether it is better."""
    if a is None or b is None:
        return ""
    d = b - a
    if abs(d) < 1e-12:
        return "="
    text = f"{d:+.1f}" if _is_ms(key) else f"{d:+.3f}"
    better = d < 0 if key in LOWER_IS_BETTER else d > 0
    return f"{text} {'better' if better else 'worse'}"
