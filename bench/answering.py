"""Answering quality and latency on the 2025 question set, dense vs BM25 vs fused.

    ASSISTANT_DATA_DIR=/path/to/full-index python bench/answering.py [--limit N]

The index must already hold the corpus (``assistant ingest ../shared/eval/realtimeqa-2025/
corpus.jsonl.gz``, about 48 minutes here). Each question is asked as of its own date. For
answerable questions: answer recall@1/5/10 of the passages (gold answer as a whole word in a
passage's title or text) and answer accuracy (gold answer as a whole word in the first 300
characters of the answer and in a cited quote). For the others: how often the answerer
refuses. Confidence is recorded with refusal off so the threshold can be calibrated: the
table at the end shows, per threshold, accuracy on answerable and refusals on not answerable.
Also ask latency (model loaded) p50/p95, hybrid mode. Prints tables; writes JSON to bench/out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.sentence_model import offline_environment

offline_environment()

from assistant.answering.extractive import ExtractiveAnswerer  # noqa: E402
from assistant.answering.stream import AnswerStream  # noqa: E402
from assistant.answers import Answer  # noqa: E402
from assistant.core import Assistant  # noqa: E402
from assistant.evaluation import metrics as m  # noqa: E402
from bench.machine_info import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "eval" / "realtimeqa-2025" / "questions.jsonl"


def mentions(text: str, answer: str) -> bool:
    return m.mentions(text, answer)


def correct(answer: Answer, gold: str) -> bool:
    return m.is_correct(answer, [gold])


def question_date(q: dict[str, Any]) -> datetime | None:
    raw = str(q.get("date") or "").replace("/", "-")
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def run(limit: int | None, modes: list[str]) -> dict[str, Any]:
    asst = Assistant.from_settings()
    raw = ExtractiveAnswerer(
        asst.store.lexical.document_frequencies if asst.store.lexical else None, refuse_below=0.0
    )
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    if limit:
        rows = rows[:limit]
    k = asst.settings.top_k
    results: dict[str, Any] = {}
    per_question: list[dict[str, Any]] = []
    for mode in modes:
        recall = {1: 0, 5: 0, 10: 0}
        acc = 0
        answerable = 0
        refused_un = 0
        unanswerable = 0
        confidences: list[tuple[float, bool, bool]] = []  # (confidence, answerable, correct)
        for q in rows:
            as_of = question_date(q)
            got = asst.retriever.retrieve(q["question"], 10, mode=mode, as_of=as_of)  # type: ignore[arg-type]
            ans = AnswerStream(raw.stream(q["question"], got.passages[:k], as_of)).answer()
            ok = q["answerable"] and correct(ans, q["answer"])
            if q["answerable"]:
                answerable += 1
                for n in recall:
                    if any(
                        mentions(p.title + "\n" + p.text, q["answer"]) for p in got.passages[:n]
                    ):
                        recall[n] += 1
            confidences.append(
                (0.0 if ans.refused else float(ans.confidence or 0.0), q["answerable"], ok)
            )
            if mode == "hybrid":
                per_question.append(
                    {
                        "id": q["id"],
                        "answerable": q["answerable"],
                        "gold": q["answer"],
                        "short": ans.short_answer,
                        "confidence": ans.confidence,
                        "refused": ans.refused,
                        "correct": ok,
                        "answer": ans.answer[:300],
                    }
                )
        threshold = asst.settings.refuse_below
        if threshold is None:
            from assistant.answering.extractive import DEFAULT_REFUSE_BELOW

            threshold = DEFAULT_REFUSE_BELOW
        acc = sum(1 for c, a, ok in confidences if a and ok and c >= threshold)
        refused_un = sum(1 for c, a, _ in confidences if not a and c < threshold)
        false_ref = sum(1 for c, a, _ in confidences if a and c < threshold)
        unanswerable = sum(1 for _, a, _ in confidences if not a)
        results[mode] = {
            "answerable": answerable,
            "recall@1": recall[1] / max(1, answerable),
            "recall@5": recall[5] / max(1, answerable),
            "recall@10": recall[10] / max(1, answerable),
            "accuracy": acc / max(1, answerable),
            "accuracy_without_refusal": sum(1 for _, a, ok in confidences if a and ok)
            / max(1, answerable),
            "refused_unanswerable": refused_un / max(1, unanswerable),
            "false_refusals": false_ref / max(1, answerable),
            "threshold": threshold,
            "calibration": [
                {
                    "threshold": t / 100,
                    "accuracy": sum(1 for c, a, ok in confidences if a and ok and c >= t / 100)
                    / max(1, answerable),
                    "refused_unanswerable": sum(
                        1 for c, a, _ in confidences if not a and c < t / 100
                    )
                    / max(1, unanswerable),
                }
                for t in range(0, 100, 5)
            ],
        }
    latencies: list[float] = []
    for q in rows[:200]:
        t = time.perf_counter()
        asst.ask(q["question"], as_of=question_date(q))
        latencies.append((time.perf_counter() - t) * 1000)
    stats = asst.library.stats()
    return {
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "index": {"articles": stats.articles, "chunks": stats.chunks},
        "questions": len(rows),
        "k": k,
        "modes": results,
        "ask_latency_ms": {
            "n": len(latencies),
            "p50": statistics.median(latencies),
            "p95": m.percentile(latencies, 95),
        },
        "per_question": per_question,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "answering.json"))
    args = parser.parse_args(argv)
    report = run(args.limit, args.modes.split(","))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    print(f"index: {report['index']}, questions: {report['questions']}, k={report['k']}")
    print(
        "| mode | R@1 | R@5 | R@10 | accuracy | acc. (no refusal) "
        "| refused (not answerable) | false refusals |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for mode, r in report["modes"].items():
        print(
            f"| {mode} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['recall@10']:.3f} | "
            f"{r['accuracy']:.3f} | {r['accuracy_without_refusal']:.3f} | "
            f"{r['refused_unanswerable']:.3f} | {r['false_refusals']:.3f} |"
        )
    cal = report["modes"].get("hybrid", next(iter(report["modes"].values())))["calibration"]
    print("\nthreshold → accuracy / refused (not answerable):")
    print(
        "  ".join(
            f"{c['threshold']:.2f}: {c['accuracy']:.3f}/{c['refused_unanswerable']:.3f}"
            for c in cal
        )
    )
    lat = report["ask_latency_ms"]
    print(f"\nask latency (hybrid, n={lat['n']}): p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
