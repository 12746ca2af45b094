"""Which chunking defaults retrieve best: a small grid of Chunker settings scored on the
answerable RealTimeQA-2025 questions of the first weeks.

    .venv/bin/python bench/chunking.py            # 4 weeks, 5 configs, ~20 min on 2 cores

The slice: the answerable questions of the first ``--weeks`` weeks name their gold articles;
the corpus holds each week's articles together, in week order, so the slice is every corpus
article from the first to the last of those gold articles, in file order. The questions are
all answerable questions (of any week) whose gold articles all lie in the slice.

For every config each slice article is chunked with the real :class:`Chunker`, every chunk's
``embed_text`` is embedded with the real model, and the questions are searched by brute-force
cosine similarity (numpy). Scores per question:

- answer recall@k (k = 1, 5, 10): the gold answer occurs, as a whole word and ignoring case,
  in the text of one of the top-k chunks;
- gold recall@5: one of the top-5 chunks belongs to a gold article.

A table is printed and the figures (with per-question ranks) are written as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from machine_info import machine  # bench/ is on sys.path when run as a script

from index.articles import Article
from index.chunking import Chunk, Chunker
from index.embeddings import load_embedder
from index.loaded import LoadOptions
from index.loaders import iter_articles
from index.sentence_model import DEFAULT_MODEL, offline_environment

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "eval" / "realtimeqa-2025"
DEFAULT_JSON = Path(__file__).resolve().parent / "out" / "chunking.json"
DEFAULT_CONFIGS = "200:32:T,128:32:T,254:32:T,200:0:T,200:32:F"
BASELINE = (200, 32, True)  # the shipped defaults; wins/losses are counted against it
KS = (1, 5, 10)


@dataclass(frozen=True)
class Config:
    chunk_tokens: int
    overlap_tokens: int
    title_prefix: bool

    @property
    def label(self) -> str:
        return f"{self.chunk_tokens}/{self.overlap_tokens}/{'title' if self.title_prefix else '-'}"


@dataclass
class Question:
    id: str
    question: str
    answer: str
    gold_ids: list[str]
    pattern: re.Pattern[str]


def parse_configs(spec: str) -> list[Config]:
    """``"200:32:T,128:32:F"`` → configs (T/F, true/false, 1/0 for the title prefix)."""
    out: list[Config] = []
    for part in spec.split(","):
        size, overlap, title = part.strip().split(":")
        out.append(Config(int(size), int(overlap), title.strip().lower() in {"t", "true", "1"}))
    return out


def answer_pattern(answer: str) -> re.Pattern[str]:
    """The answer as a whole word (\\b where it starts/ends with a word character), ignoring
    case, any run of whitespace matching any other."""
    body = r"\s+".join(re.escape(word) for word in answer.split())
    start = r"\b" if re.match(r"\w", answer.strip()) else ""
    end = r"\b" if re.search(r"\w$", answer.strip()) else ""
    return re.compile(start + body + end, re.IGNORECASE)


def load_questions(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_corpus(path: Path) -> list[Article]:
    """Every article of the dump, in file order, through the real loader."""
    articles: list[Article] = []
    for item in iter_articles([path], LoadOptions()):
        if item.article is None:
            raise SystemExit(f"cannot load {item.origin}: {item.error}")
        articles.append(item.article)
    return articles


def choose_slice(
    corpus: list[Article], questions: list[dict[str, Any]], weeks: int
) -> tuple[list[Article], list[Question], dict[str, Any]]:
    """Articles from the first to the last gold article of the first ``weeks`` weeks (file
    order), and the answerable questions whose gold articles all lie in that range."""
    by_week: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for q in questions:
        by_week.setdefault(q["id"].split("_")[0], []).append(q)
    chosen = list(by_week)[:weeks]
    position = {a.id: i for i, a in enumerate(corpus)}
    gold = [
        position[g]
        for week in chosen
        for q in by_week[week]
        if q["answerable"]
        for g in q["gold_ids"]
    ]
    first, last = min(gold), max(gold)
    articles = corpus[first : last + 1]
    inside = {a.id for a in articles}
    picked = [
        Question(q["id"], q["question"], q["answer"], q["gold_ids"], answer_pattern(q["answer"]))
        for q in questions
        if q["answerable"] and q["gold_ids"] and all(g in inside for g in q["gold_ids"])
    ]
    info = {
        "weeks": chosen,
        "corpus_positions": [first, last],
        "articles": len(articles),
        "questions": len(picked),
        "questions_by_week": {
            w: sum(q.id.startswith(w + "_") for q in picked)
            for w in sorted({q.id.split("_")[0] for q in picked})
        },
    }
    return articles, picked, info


def evaluate(
    config: Config,
    articles: list[Article],
    questions: list[Question],
    query_vectors: np.ndarray,
) -> dict[str, Any]:
    embedder = load_embedder(DEFAULT_MODEL)
    chunker = Chunker(
        embedder,
        chunk_tokens=config.chunk_tokens,
        overlap_tokens=config.overlap_tokens,
        title_prefix=config.title_prefix,
    )
    started = time.perf_counter()
    chunks: list[Chunk] = [c for a in articles for c in chunker.chunk(a)]
    chunk_seconds = time.perf_counter() - started
    texts = [c.embed_text for c in chunks]
    model_tokens = sum(embedder.count_tokens(texts))
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts)
    embed_seconds = time.perf_counter() - started

    top = max(KS)
    scores = query_vectors @ vectors.T
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    per_question: list[dict[str, Any]] = []
    for q, row in zip(questions, best, strict=True):
        answer_rank = gold_rank = None
        gold = set(q.gold_ids)
        for rank, idx in enumerate(row.tolist(), start=1):
            if answer_rank is None and q.pattern.search(chunks[idx].text):
                answer_rank = rank
            if gold_rank is None and chunks[idx].article_id in gold:
                gold_rank = rank
        per_question.append({"id": q.id, "answer_rank": answer_rank, "gold_rank": gold_rank})

    def recall(field: str, k: int) -> float:
        hits = sum(1 for r in per_question if r[field] is not None and r[field] <= k)
        return hits / len(per_question)

    return {
        "config": {
            "chunk_tokens": config.chunk_tokens,
            "overlap_tokens": config.overlap_tokens,
            "title_prefix": config.title_prefix,
        },
        "label": config.label,
        "chunks": len(chunks),
        "passage_tokens": sum(c.token_count for c in chunks),
        "model_tokens": model_tokens,
        "chunk_seconds": round(chunk_seconds, 2),
        "embed_seconds": round(embed_seconds, 2),
        "tokens_per_s": round(model_tokens / embed_seconds, 0) if embed_seconds else 0.0,
        **{f"answer_recall@{k}": round(recall("answer_rank", k), 4) for k in KS},
        "gold_recall@5": round(recall("gold_rank", 5), 4),
        "per_question": per_question,
    }


def wins_losses(result: dict[str, Any], base: dict[str, Any], k: int = 5) -> tuple[int, int]:
    """Questions this config gets right at answer recall@k and the baseline misses, and back."""

    def hit(r: dict[str, Any]) -> bool:
        return r["answer_rank"] is not None and r["answer_rank"] <= k

    wins = losses = 0
    for mine, theirs in zip(result["per_question"], base["per_question"], strict=True):
        wins += hit(mine) and not hit(theirs)
        losses += hit(theirs) and not hit(mine)
    return wins, losses


def answer_mrr(result: dict[str, Any]) -> float:
    """Mean reciprocal rank of the first chunk holding the answer (0 past rank 10)."""
    ranks = [r["answer_rank"] for r in result["per_question"]]
    return sum(1 / r for r in ranks if r) / len(ranks)


def baseline(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    for r in results:
        c = r["config"]
        if (c["chunk_tokens"], c["overlap_tokens"], c["title_prefix"]) == BASELINE:
            return r
    return None


def report(path: Path) -> int:
    """Print the table of a saved run again (no embedding)."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    info = saved["slice"]
    print(
        f"{path}: {saved['date_utc']}, weeks {info['weeks'][0]}..{info['weeks'][-1]}, "
        f"{info['articles']} articles, {info['questions']} questions, "
        f"total {saved['total_seconds'] / 60:.1f} min"
    )
    print_table(saved["results"], baseline(saved["results"]))
    return 0


def print_table(results: list[dict[str, Any]], base: dict[str, Any] | None) -> None:
    head = [
        "config (tokens/overlap/title)",
        "chunks",
        "tokens embedded",
        "embed s",
        "ans R@1",
        "ans R@5",
        "ans R@10",
        "ans MRR@10",
        "gold R@5",
        "R@5 +/- vs 200/32/title",
    ]
    rows = []
    for r in results:
        wl = "—"
        if base is not None and r is not base:
            w, lo = wins_losses(r, base)
            wl = f"+{w} / -{lo}"
        rows.append(
            [
                r["label"],
                str(r["chunks"]),
                f"{r['model_tokens']:,}",
                f"{r['embed_seconds']:.0f}",
                *(f"{r[f'answer_recall@{k}']:.3f}" for k in KS),
                f"{answer_mrr(r):.3f}",
                f"{r['gold_recall@5']:.3f}",
                wl,
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    rule = ("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths))
    print("|" + "|".join(rule) + "|")
    for row in rows:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DATA / "corpus.jsonl.gz")
    parser.add_argument("--questions", type=Path, default=DATA / "questions.jsonl")
    parser.add_argument("--weeks", type=int, default=4, help="first K weeks of questions")
    parser.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help="comma-separated chunk_tokens:overlap_tokens:title(T/F)",
    )
    parser.add_argument("--json-out", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--report", type=Path, help="re-print the table of a saved JSON and stop")
    args = parser.parse_args(argv)
    if args.report is not None:
        return report(args.report)

    offline_environment()
    for path in (args.corpus, args.questions):
        if not path.is_file():
            print(f"not found: {path}", file=sys.stderr)
            return 2
    configs = parse_configs(args.configs)
    total_started = time.perf_counter()

    corpus = load_corpus(args.corpus)
    articles, questions, info = choose_slice(corpus, load_questions(args.questions), args.weeks)
    embedder = load_embedder(DEFAULT_MODEL)
    slice_tokens = sum(embedder.count_tokens([a.text for a in articles]))
    ceiling = sum(1 for q in questions if any(q.pattern.search(a.text) for a in articles)) / len(
        questions
    )
    print(
        f"slice: weeks {info['weeks'][0]}..{info['weeks'][-1]}, corpus lines "
        f"{info['corpus_positions'][0] + 1}..{info['corpus_positions'][1] + 1} "
        f"({info['articles']} articles, {slice_tokens:,} text word-pieces); "
        f"{info['questions']} answerable questions; answer found anywhere in the slice: "
        f"{ceiling:.3f}",
        flush=True,
    )
    query_vectors = embedder.embed_documents([q.question for q in questions])

    results: list[dict[str, Any]] = []
    for config in configs:
        result = evaluate(config, articles, questions, query_vectors)
        results.append(result)
        print(
            f"  {result['label']:<14} {result['chunks']:>6} chunks  "
            f"{result['model_tokens']:>9,} tokens  {result['embed_seconds']:>6.0f} s  "
            f"R@1 {result['answer_recall@1']:.3f}  R@5 {result['answer_recall@5']:.3f}  "
            f"R@10 {result['answer_recall@10']:.3f}  gold@5 {result['gold_recall@5']:.3f}",
            file=sys.stderr,
            flush=True,
        )

    print()
    print_table(results, baseline(results))
    total_seconds = time.perf_counter() - total_started
    print(f"\n(total {total_seconds / 60:.1f} min; model {DEFAULT_MODEL}; brute-force cosine)")

    out = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "model": DEFAULT_MODEL,
        "slice": {**info, "text_tokens": slice_tokens, "answer_ceiling": round(ceiling, 4)},
        "total_seconds": round(total_seconds, 1),
        "results": results,
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
