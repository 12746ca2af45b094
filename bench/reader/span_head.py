"""A span head for the short answer (issue 23): start/end over the chosen sentence, against
the reader's NER candidates. A trial: nothing here is shipped or read by the assistant.

    # training examples: 2022-2024 answerable quiz questions' answer-holding sentences (the
    # gold answer's character span) and one on-topic sentence without it (target: no answer),
    # plus the written training detail questions' evidence sentences: 4,811 examples, 2 min
    python bench/reader/span_head.py data
    # all-MiniLM-L6-v2 (packaged) + a linear start/end head, question [SEP] sentence, 96
    # word-pieces, one thread, bf16 autocast where the CPU has it, checkpoints: 32 min
    # (10,144 examples, 2.3 passes, on a shared 2-core machine)
    nice -n 10 python bench/reader/span_head.py train --minutes 32
    # the upper bound, the comparison with the NER candidates (2025 cross-validated, held-out
    # training tenth, written dev evidence sentences), the headline effect, latency; writes
    # bench/out/span/eval.json and examples.jsonl: 1 min (+40 s for the CV the first time)
    python bench/reader/span_head.py eval
    # ONNX export, signed int8, agreement with fp32 and latency on one thread: 30 s
    python bench/reader/span_head.py onnx

Run with PYTHONPATH at the repository root and HF_HUB_OFFLINE=1, OMP_NUM_THREADS=1. The
results and the decision are in bench/RESULTS.md ("Issue 23: a span head against the NER
candidates").

Data is read from ../shared and bench/reader/written (never copied). 2025 is never trained
on; neither is bench/reader/written/dev-*.jsonl nor any of its articles. A tenth of the
training questions (by a hash of their id) is held out as ``val``: the threshold on the span
head's score (best span against "no answer") is chosen there, never on 2025 or dev.
Outputs go to bench/out/span/ (git-ignored): no weights are committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from index.sentence_model import offline_environment  # noqa: E402

offline_environment()

from assistant.answers import Question  # noqa: E402
from assistant.evaluation.metrics import mentions_any, normalize  # noqa: E402
from bench.reader.cross_encoder import (  # noqa: E402
    _base_path,
    _tokenizer,
    corpus,
    dev_articles,
)
from index.text import query_terms, split_sentences, stem  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
WRITTEN = ROOT / "bench" / "reader" / "written"
OUT = ROOT / "bench" / "out" / "span"
# train.py's dumps of the shipped setting (dump-ce2.pkl, dump-written-ce2.pkl), read only: this
# checkout's, else the main checkout's beside it
_DUMP_DIRS = [ROOT / "bench" / "out" / "reader", ROOT.parent / "main" / "bench" / "out" / "reader"]
READER_OUT = next((d for d in _DUMP_DIRS if (d / "dump-ce2.pkl").exists()), _DUMP_DIRS[0])
TRAIN_YEARS = (2022, 2023, 2024)
MAX_LENGTH = 96
MAX_ANSWER = 16  # word-pieces in a span
POS = 2  # answer-holding sentences per quiz question (most question words first)
SEED = 23


def _val(qid: str) -> bool:
    return int(hashlib.sha256(qid.encode()).hexdigest()[:8], 16) % 10 == 0


def gold_span(sentence: str, gold: Sequence[str]) -> tuple[int, int] | None:
    """The character span of the first acceptable answer found in ``sentence``, matched as
    ``mentions`` matches it (whole words, any case, any whitespace)."""
    for answer in gold:
        needle = " ".join(answer.split())
        if not needle:
            continue
        pattern = r"(?<!\w)" + re.escape(needle).replace(r"\ ", r"\s+") + r"(?!\w)"
        m = re.search(pattern, sentence, flags=re.IGNORECASE)
        if m:
            return m.start(), m.end()
    return None


def _overlap_order(question: str, sents: Sequence[str]) -> list[int]:
    q = {stem(t) for t in query_terms(question)}
    score = [len(q & {stem(w) for w in query_terms(s)}) for s in sents]
    return sorted(range(len(sents)), key=lambda i: -score[i])


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def build_data(out: Path) -> None:
    rng = random.Random(SEED)
    dev = dev_articles()
    rows: list[dict[str, Any]] = []
    for year in TRAIN_YEARS:
        docs = corpus(year)
        cache: dict[str, list[str]] = {}
        for line in (SHARED / f"realtimeqa-{year}" / "questions.jsonl").open(encoding="utf-8"):
            q = json.loads(line)
            if not q.get("answerable"):
                continue
            gold = [q["answer"]] if isinstance(q["answer"], str) else list(q["answer"])
            pool: list[str] = []
            for a in q.get("result_ids", []):
                if a in docs and a not in dev:
                    if a not in cache:
                        cache[a] = _sentences(docs[a]["text"])
                    pool += cache[a]
            pool = [s for s in dict.fromkeys(pool) if len(s) < 600]
            order = _overlap_order(q["question"], pool)
            pos = [i for i in order if gold_span(pool[i], gold)][:POS]
            if not pos:
                continue
            neg = [i for i in order if not mentions_any(pool[i], gold)][:1]
            split = "val" if _val(str(q["id"])) else "train"
            for i in pos:
                s, e = gold_span(pool[i], gold) or (0, 0)
                rows.append({"id": str(q["id"]), "src": "quiz", "split": split, "q": q["question"],
                             "s": pool[i], "start": s, "end": e, "gold": gold})  # fmt: skip
            for i in neg:
                rows.append({"id": str(q["id"]), "src": "quiz", "split": split, "q": q["question"],
                             "s": pool[i], "start": -1, "end": -1, "gold": gold})  # fmt: skip
    for path in sorted(WRITTEN.glob("train-*.jsonl")):
        for rec in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
            if rec["type"] != "detail":
                continue
            gold = rec["answer"] if isinstance(rec["answer"], list) else [rec["answer"]]
            span = gold_span(rec["evidence"], gold)
            if span is None:
                continue
            rows.append({"id": rec["id"], "src": "written", "split": "val" if _val(rec["id"])
                         else "train", "q": rec["question"], "s": rec["evidence"],
                         "start": span[0], "end": span[1], "gold": gold})  # fmt: skip
    rng.shuffle(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    stats: dict[str, int] = {}
    for r in rows:
        key = f"{r['split']}/{r['src']}/{'pos' if r['start'] >= 0 else 'neg'}"
        stats[key] = stats.get(key, 0) + 1
    print(f"{len(rows)} examples {json.dumps(stats, sort_keys=True)} -> {out}")


# -- the model ----------------------------------------------------------------------------------
def build_net() -> Any:
    import torch
    from transformers import AutoModel

    class SpanNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(_base_path())
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            h = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            out = self.head(h)
            return out[..., 0], out[..., 1]

    return SpanNet()


def clean_question(q: str) -> str:
    return Question(q).read_whole()  # as the reader reads it


def encode(tok: Any, questions: Sequence[str], sents: Sequence[str]) -> tuple[dict, Any, Any]:
    """Input tensors, the context mask (sentence word-pieces, and [CLS] for no answer) and the
    offsets of every word-piece in its sentence."""
    import torch

    enc = tok([clean_question(q) for q in questions], list(sents), truncation="only_second",
              max_length=MAX_LENGTH, padding=True, return_offsets_mapping=True,
              return_tensors="pt")  # fmt: skip
    offsets = enc.pop("offset_mapping")
    ctx = torch.zeros_like(enc["input_ids"], dtype=torch.bool)
    for b in range(len(sents)):
        for j, sid in enumerate(enc.sequence_ids(b)):
            if sid == 1:
                ctx[b, j] = True
    return dict(enc), ctx, offsets


def _targets(rows: Sequence[dict[str, Any]], ctx: Any, offsets: Any) -> tuple[list, list, list]:
    starts, ends, keep = [], [], []
    for b, r in enumerate(rows):
        if r["start"] < 0:
            starts.append(0)
            ends.append(0)
            keep.append(b)
            continue
        ts = te = None
        for j in range(ctx.shape[1]):
            if not ctx[b, j]:
                continue
            a, z = int(offsets[b, j, 0]), int(offsets[b, j, 1])
            if ts is None and (a <= r["start"] < z or a >= r["start"]):
                ts = j
            if a < r["end"]:
                te = j
        if ts is not None and te is not None and te >= ts and int(offsets[b, te, 1]) >= r["end"]:
            starts.append(ts)
            ends.append(te)
            keep.append(b)
    return starts, ends, keep


def _bf16() -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def train(data: Path, out: Path, minutes: float, epochs: int, lr: float, batch: int) -> None:
    """``epochs`` shuffled passes over the train split (or until ``minutes``), linear decay
    over whichever ends first; a checkpoint every 5 minutes, from which a killed run resumes."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    bf16 = _bf16()
    print(f"training in {'bf16 autocast' if bf16 else 'fp32'}", flush=True)
    rows = [json.loads(x) for x in data.read_text(encoding="utf-8").splitlines() if x]
    rows = [r for r in rows if r["split"] == "train"]
    tok = _tokenizer()
    net = build_net()
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    done = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        net.load_state_dict(state["model"])
        done = state["done"]
        print(f"resumed after {done} examples")
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    ce = torch.nn.CrossEntropyLoss()
    order: list[dict[str, Any]] = []
    for epoch in range(epochs):
        shuffled = list(rows)
        random.Random(SEED + epoch).shuffle(shuffled)
        order += shuffled
    total = len(order)
    started = last_save = time.monotonic()
    budget = minutes * 60
    seen = 0
    net.train()
    for at in range(0, total, batch):
        chunk = order[at : at + batch]
        seen += len(chunk)
        if seen <= done:
            continue
        frac = max((time.monotonic() - started) / budget, (seen - done) / max(1, total - done))
        if frac >= 1.0:
            break
        warm = min(1.0, (seen - done) / (10 * batch))
        for g in opt.param_groups:
            g["lr"] = lr * warm * (1.0 - frac)
        enc, ctx, offsets = encode(tok, [r["q"] for r in chunk], [r["s"] for r in chunk])
        ys, ye, keep = _targets(chunk, ctx, offsets)
        if not keep:
            continue
        allowed = ctx.clone()
        allowed[:, 0] = True
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            ls, le = net(**enc)
        ls = ls.float().masked_fill(~allowed, -1e4)[keep]
        le = le.float().masked_fill(~allowed, -1e4)[keep]
        loss = (ce(ls, torch.tensor(ys)) + ce(le, torch.tensor(ye))) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if (at // batch) % 20 == 0:
            took = time.monotonic() - started
            rate = (seen - done) / max(took, 1e-9)
            print(f"{seen}/{total} examples, loss {loss.item():.3f}, {rate:.1f} ex/s, "
                  f"{took / 60:.1f} min", flush=True)  # fmt: skip
        if time.monotonic() - last_save > 300:
            torch.save({"model": net.state_dict(), "done": seen}, ckpt)
            last_save = time.monotonic()
    torch.save({"model": net.state_dict(), "done": seen}, ckpt)
    torch.save(net.state_dict(), out / "final.pt")
    print(f"trained on {seen} examples in {(time.monotonic() - started) / 60:.1f} min")


# -- reading ------------------------------------------------------------------------------------
class SpanReader:
    """The trained head over one sentence: its best span and that span's margin over "no
    answer" (start and end logits summed, [CLS] for none)."""

    def __init__(self, weights: Path) -> None:
        import torch

        torch.set_num_threads(1)
        self.tok = _tokenizer()
        self.net = build_net()
        state = torch.load(weights, weights_only=False)
        self.net.load_state_dict(state.get("model", state))
        self.net.eval()

    def read(self, questions: Sequence[str], sents: Sequence[str]) -> list[tuple[str, float]]:
        import torch

        out: list[tuple[str, float]] = []
        for at in range(0, len(sents), 32):
            qs, ss = questions[at : at + 32], sents[at : at + 32]
            enc, ctx, offsets = encode(self.tok, qs, ss)
            with torch.inference_mode():
                ls, le = self.net(**enc)
            out += best_spans(ls.numpy(), le.numpy(), ctx.numpy(), offsets.numpy(), ss)
        return out


def best_spans(
    ls: np.ndarray, le: np.ndarray, ctx: np.ndarray, offsets: np.ndarray, sents: Sequence[str]
) -> list[tuple[str, float]]:
    out = []
    for b, sent in enumerate(sents):
        idx = np.flatnonzero(ctx[b])
        if not len(idx):
            out.append(("", -1e9))
            continue
        s, e = ls[b, idx], le[b, idx]
        pair = s[:, None] + e[None, :]
        n = len(idx)
        ok = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(
            np.ones((n, n), dtype=bool), MAX_ANSWER
        )
        pair = np.where(ok, pair, -np.inf)
        i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
        null = float(ls[b, 0] + le[b, 0])
        a, z = int(offsets[b, idx[i], 0]), int(offsets[b, idx[j], 1])
        out.append((sent[a:z], float(pair[i, j]) - null))
    return out


# -- evaluation ---------------------------------------------------------------------------------
def cv_predictions(out: Path) -> dict[str, Any]:
    """The shipped setting's cross-validated predictions (train.py ``fit --cross --masked`` on
    dump-ce2.pkl + dump-written-ce2.pkl, without --write), reduced to what the comparison
    needs; cached in ``out``/cv.json (a few minutes)."""
    cache = out / "cv.json"
    if cache.exists():
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    import train as T  # bench/reader/train.py

    from assistant.answering import features as F

    items = T.load_dumps([READER_OUT / "dump-ce2.pkl", READER_OUT / "dump-written-ce2.pkl"])
    items += [T.masked(it) for it in items if it.answerable and it.labels.any()]
    cfg = T.Config(cross=True, masked=True)
    cfg.stage2 += F.CROSS
    dropped = {n for name in T.DEFAULT_DROP for n in T.GROUPS[name]}
    cfg.stage1 = [n for n in cfg.stage1 if n not in dropped]
    cfg.stage2 = [n for n in cfg.stage2 if n not in dropped]
    preds = T.cross_validate(items, cfg)
    short_t, refuse_t, _ = T.choose_thresholds(preds)
    rows = []
    for p in preds:
        if not p.item.answerable:
            continue
        rows.append({
            "id": p.item.id,
            "set": "2025" if p.item.id[:4].isdigit() else "written-train",
            "q": p.item.question,
            "gold": p.item.gold,
            "top1": p.ranked[0][0].text if p.ranked else "",
            "cand": p.cands[0][0].text if p.cands else None,
            "cand_p": p.cands[0][1] if p.cands else 0.0,
            "cand_in_top1": bool(p.cands) and p.cands[0][0].sentence is p.ranked[0][0],
            "line": T.first_line(p, short_t),
            "answerable": p.answerable,
            "top1_p": p.ranked[0][1] if p.ranked else 0.0,
        })  # fmt: skip
    result = {"short_t": short_t, "refuse_t": refuse_t, "cv": T.scores(preds, short_t, 0.0),
              "rows": rows}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result) + "\n", encoding="utf-8")
    return result


def upper_bound(rows: Sequence[dict[str, Any]], short_t: float) -> dict[str, Any]:
    """Where a span over the top-1 sentence could help: the top-1 sentence holds the answer
    and the first line does not (a wrong short answer was shown over it)."""
    n = len(rows)
    holds = [r for r in rows if mentions_any(r["top1"], r["gold"])]
    line_ok = [r for r in rows if r["line"] and mentions_any(r["line"], r["gold"])]
    shown = [r for r in rows if r["cand"] is not None and r["cand_p"] >= short_t]
    gap = [r for r in holds if not (r["line"] and mentions_any(r["line"], r["gold"]))]
    return {
        "questions": n,
        "top1_holds": len(holds),
        "first_line_right": len(line_ok),
        "short_shown": len(shown),
        "short_shown_right": sum(mentions_any(r["cand"], r["gold"]) for r in shown),
        "no_short_answer": n - len(shown),
        "no_short_answer_top1_holds": sum(1 for r in holds if r not in shown),
        "gap_top1_holds_line_wrong": len(gap),
        "gap_share": round(len(gap) / max(1, n), 3),
        "line_right_top1_misses": sum(1 for r in line_ok if r not in holds),
    }


def _exact(text: str | None, gold: Sequence[str]) -> bool:
    return bool(text) and any(normalize(text or "") == normalize(g) for g in gold)


def _contains(text: str | None, gold: Sequence[str]) -> bool:
    return bool(text) and mentions_any(text or "", gold)


def ner_picks(
    questions: Sequence[str], sents: Sequence[str], sprob: float
) -> list[tuple[str | None, float]]:
    """The shipped candidate model's pick from one sentence (its entities of the asked type,
    scored by reader.json's ``short`` model with the sentence's probability ``sprob``)."""
    from assistant.answering import features as F
    from assistant.answering.entities import entities
    from assistant.answering.model import CANDIDATE, candidates, load_model
    from assistant.answering.questions import analyse

    model = load_model()
    ents = entities(list(sents))
    out: list[tuple[str | None, float]] = []
    for q, s, found in zip(questions, sents, ents, strict=True):
        info = analyse(q)
        sent = F.Sentence(None, 0, (0, len(s)), s, F.stems(s))  # type: ignore[arg-type]
        F.costly_features(info, [sent], np.zeros(1), [found])
        cands = candidates(info, [(sent, sprob)])
        if not cands:
            out.append((None, 0.0))
            continue
        x = np.array([[c.features.get(n, 0.0) for n in CANDIDATE] for c in cands])
        p = model.short.prob(x)
        best = int(np.argmax(p))
        out.append((cands[best].text, float(p[best])))
    return out


def _compare(gold: Sequence[Sequence[str]], span: Sequence[str], ner: Sequence[str | None]) -> dict:
    n = len(gold)
    return {
        "n": n,
        "span_exact": round(sum(_exact(s, g) for s, g in zip(span, gold, strict=True)) / n, 3),
        "span_contains": round(
            sum(_contains(s, g) for s, g in zip(span, gold, strict=True)) / n, 3
        ),
        "ner_exact": round(sum(_exact(s, g) for s, g in zip(ner, gold, strict=True)) / n, 3),
        "ner_contains": round(sum(_contains(s, g) for s, g in zip(ner, gold, strict=True)) / n, 3),
        "ner_none": round(sum(s is None for s in ner) / n, 3),
    }


def _line(r: dict[str, Any], short_t: float, span: tuple[str, float], t: float, rule: str) -> str:
    shown = r["cand"] is not None and r["cand_p"] >= short_t
    if rule == "swap":  # the candidate model decides whether, the span head what
        return span[0] if shown else str(r["line"] or "")
    if span[1] >= t and (rule == "override" or not shown):
        return span[0]
    return str(r["line"] or "")


def evaluate(data: Path, out: Path) -> None:
    weights = out / "run1" / "final.pt"
    if not weights.exists():
        weights = out / "run1" / "checkpoint.pt"
    reader = SpanReader(weights)
    result: dict[str, Any] = {"weights": str(weights.relative_to(ROOT))}
    started = time.monotonic()
    cv = cv_predictions(out)
    short_t = cv["short_t"]
    result |= {"short_t": short_t, "refuse_t": cv["refuse_t"], "cv_scores": cv["cv"]}
    rows = cv["rows"]
    sets = {k: [r for r in rows if r["set"] == k] for k in ("2025", "written-train")}
    result["upper_bound"] = {k: upper_bound(v, short_t) for k, v in sets.items()}
    print(json.dumps(result["upper_bound"], indent=1), flush=True)
    spans = reader.read([r["q"] for r in rows], [r["top1"] for r in rows])
    for r, sp in zip(rows, spans, strict=True):
        r["span"], r["margin"] = sp
    # (a) on the questions whose top-1 sentence holds the answer
    result["a_top1_holds"] = {}
    for k, v in sets.items():
        hold = [r for r in v if mentions_any(r["top1"], r["gold"])]
        result["a_top1_holds"][k] = _compare([r["gold"] for r in hold], [r["span"] for r in hold],
                                             [r["cand"] for r in hold])  # fmt: skip
        result["a_top1_holds"][k]["ner_from_top1"] = round(
            sum(r["cand_in_top1"] for r in hold) / max(1, len(hold)), 3)  # fmt: skip
    # the held-out tenth of the training questions and the dev evidence sentences: the span
    # head against the shipped candidate model, on the same sentence
    sprob = float(np.mean([r["top1_p"] for r in sets["written-train"]]))
    val = [json.loads(x) for x in data.read_text(encoding="utf-8").splitlines() if x]
    val = [r for r in val if r["split"] == "val"]
    dev = []
    for path in sorted(WRITTEN.glob("dev-*.jsonl")):
        for rec in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
            if rec["type"] == "detail":
                gold = rec["answer"] if isinstance(rec["answer"], list) else [rec["answer"]]
                dev.append({"q": rec["question"], "s": rec["evidence"], "gold": gold, "start": 0})
    for group in (val, dev):
        read = reader.read([r["q"] for r in group], [r["s"] for r in group])
        ner = ner_picks([r["q"] for r in group], [r["s"] for r in group], sprob)
        for r, (text, margin), (cand, cand_p) in zip(group, read, ner, strict=True):
            r["span"], r["margin"], r["cand"], r["cand_p"] = text, margin, cand, cand_p
    pos_val = [r for r in val if r["start"] >= 0]
    result["b_same_sentence"] = {
        "val (2022-2024 held out, answer-holding)": _compare(
            [r["gold"] for r in pos_val], [r["span"] for r in pos_val],
            [r["cand"] for r in pos_val]),
        "dev evidence (written dev, held out)": _compare(
            [r["gold"] for r in dev], [r["span"] for r in dev], [r["cand"] for r in dev]),
    }  # fmt: skip
    # (c) the threshold, on val: the first line as the answerer shows it (the candidate when
    # its probability clears the shipped short threshold, else the sentence), or the span
    from assistant.answering.model import load_model

    ship_t = load_model().short_threshold
    for r in val:
        r["line"] = r["cand"] if r["cand"] is not None and r["cand_p"] >= ship_t else r["s"]
    grid = sorted({round(float(x), 1) for x in np.quantile([r["margin"] for r in val],
                                                            np.linspace(0, 1, 41))})  # fmt: skip
    grid = [-1e9, *grid, 1e9]
    chosen: dict[str, float] = {}
    curves: dict[str, list] = {}
    for rule in ("override", "fill"):
        acc = [(t, sum(_contains(_line(r, ship_t, (r["span"], r["margin"]), t, rule), r["gold"])
                       for r in val) / len(val)) for t in grid]  # fmt: skip
        best = max(a for _, a in acc)
        chosen[rule] = min(t for t, a in acc if a >= best - 1e-9)  # the lowest at the best
        curves[rule] = [(t, round(a, 3)) for t, a in acc]
    # a second threshold for the editor's crisp answer: the lowest at which the spans shown
    # on val are right at least as often as the candidate model's shown picks are there
    ner_shown = [r for r in val if r["cand"] is not None and r["cand_p"] >= ship_t]
    ner_prec = sum(_contains(r["cand"], r["gold"]) for r in ner_shown) / max(1, len(ner_shown))
    prec_ok = []
    for t in grid[1:-1]:
        shown = [r for r in val if r["margin"] >= t]
        if len(shown) >= 10:
            prec = sum(_contains(r["span"], r["gold"]) for r in shown) / len(shown)
            if prec >= ner_prec:
                prec_ok.append(t)
    chosen["override_at_precision"] = min(prec_ok) if prec_ok else 1e9
    chosen["swap"] = 0.0  # no threshold of its own: the candidate model's shown ones
    result["val_ner_shown_precision"] = [len(ner_shown), round(ner_prec, 3)]
    result["val_baseline_line"] = round(
        sum(_contains(r["line"], r["gold"]) for r in val) / len(val), 3
    )
    result["thresholds"] = chosen
    result["val_curves"] = curves
    # the headline without refusal (and with the shipped rule's refusal) on the CV predictions
    head: dict[str, Any] = {}
    for k, v in sets.items():

        def rate(lines: Sequence[str], refuse: bool, v: list = v) -> float:
            ok = [_contains(x, r["gold"]) and (not refuse or r["answerable"] >= cv["refuse_t"])
                  for x, r in zip(lines, v, strict=True)]  # fmt: skip
            return round(sum(ok) / len(v), 3)

        base = [str(r["line"] or "") for r in v]
        head[k] = {"n": len(v), "baseline": rate(base, False), "baseline_refusal": rate(base, True)}
        shown = [r for r in v if r["cand"] is not None and r["cand_p"] >= short_t]
        head[k]["baseline_crisp_shown_right"] = [
            len(shown), sum(_contains(r["cand"], r["gold"]) for r in shown)]  # fmt: skip
        # at equal coverage: the N questions each model is surest of, and how many are right
        cover = {}
        for n in (len(shown), 50, 100, 200):
            by_span = sorted(v, key=lambda r: -r["margin"])[:n]
            by_ner = sorted(v, key=lambda r: -r["cand_p"])[:n]
            cover[n] = {
                "span_right": sum(_contains(r["span"], r["gold"]) for r in by_span),
                "ner_right": sum(_contains(r["cand"], r["gold"]) for r in by_ner),
            }
        head[k]["equal_coverage"] = cover
        for rule, t in chosen.items():
            how = rule if rule in ("fill", "swap") else "override"
            lines = [_line(r, short_t, (r["span"], r["margin"]), t, how) for r in v]
            crisp = [(r["span"] if r["cand"] is not None and r["cand_p"] >= short_t else None)
                if how == "swap" else
                r["span"] if r["margin"] >= t and (how == "override" or not (
                r["cand"] is not None and r["cand_p"] >= short_t)) else (
                r["cand"] if r["cand"] is not None and r["cand_p"] >= short_t else None)
                for r in v]  # fmt: skip
            head[k][f"span_{rule}_crisp_shown_right"] = [
                sum(c is not None for c in crisp),
                sum(_contains(c, r["gold"]) for c, r in zip(crisp, v, strict=True)),
            ]
            head[k][f"span_{rule}"] = rate(lines, False)
            head[k][f"span_{rule}_refusal"] = rate(lines, True)
            head[k][f"span_{rule}_used"] = sum(a != b for a, b in zip(lines, base, strict=True))
            won = sum(_contains(a, r["gold"]) and not _contains(b, r["gold"])
                      for a, b, r in zip(lines, base, v, strict=True))  # fmt: skip
            lost = sum(_contains(b, r["gold"]) and not _contains(a, r["gold"])
                       for a, b, r in zip(lines, base, v, strict=True))  # fmt: skip
            head[k][f"span_{rule}_won_lost"] = [won, lost]
        # for reading only (not used to choose anything): the curve on this set
        head[k]["curve_override"] = [
            (t, rate([_line(r, short_t, (r["span"], r["margin"]), t, "override") for r in v],
                     False))
            for t in (-1e9, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 1e9)
        ]  # fmt: skip
    result["c_headline"] = head
    result["latency"] = latency(
        reader, [r["q"] for r in sets["2025"]], [r["top1"] for r in sets["2025"]]
    )
    result["eval_seconds"] = round(time.monotonic() - started, 1)
    (out / "eval.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (out / "examples.jsonl").write_text("".join(json.dumps({k: r.get(k) for k in ("id", "q", "gold",
        "top1", "cand", "cand_p", "line", "span", "margin")}, ensure_ascii=False) + "\n"
        for r in sets["2025"]), encoding="utf-8")  # fmt: skip
    print(json.dumps({k: v for k, v in result.items() if k != "val_curves"}, indent=1))


def latency(reader: SpanReader, questions: Sequence[str], sents: Sequence[str]) -> dict[str, float]:
    """One question's extra cost: one forward pass over its chosen sentence, fp32, one thread."""
    import torch

    took = []
    for q, s in list(zip(questions, sents, strict=True))[:60]:
        t0 = time.perf_counter()
        enc, ctx, offsets = encode(reader.tok, [q], [s])
        with torch.inference_mode():
            ls, le = reader.net(**enc)
        best_spans(ls.numpy(), le.numpy(), ctx.numpy(), offsets.numpy(), [s])
        took.append(time.perf_counter() - t0)
    took = took[5:]
    return {"fp32_torch_p50_ms": round(1000 * float(np.median(took)), 1),
            "fp32_torch_p95_ms": round(1000 * float(np.percentile(took, 95)), 1)}  # fmt: skip


def onnx_check(out: Path) -> None:
    """Export the head to ONNX, quantise it to signed int8 (as the shipped cross-encoder), and
    measure on the 2025 top-1 sentences: the same span as fp32 torch, and one question's
    latency (one sentence, one thread) in fp32 torch and int8 ONNX Runtime."""
    import onnxruntime as ort
    import torch

    from index.precision import quantize_int8

    reader = SpanReader(out / "run1" / "final.pt")
    enc, _, _ = encode(reader.tok, ["how many?"], ["a sentence"])
    fp32 = out / "span-fp32.onnx"
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        reader.net,
        tuple(enc[k] for k in names),
        str(fp32),
        input_names=names,
        output_names=["start", "end"],
        dynamic_axes={k: {0: "batch", 1: "seq"} for k in [*names, "start", "end"]},
        opset_version=17,
        dynamo=False,
    )
    int8 = quantize_int8(fp32, out / "span-int8.onnx", "QInt8")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    rows = [r for r in json.loads((out / "cv.json").read_text(encoding="utf-8"))["rows"]
            if r["set"] == "2025"]  # fmt: skip
    same, t_torch, t_onnx, right = 0, [], [], [0, 0, 0]
    for r in rows:
        t0 = time.perf_counter()
        enc, ctx, offsets = encode(reader.tok, [r["q"]], [r["top1"]])
        with torch.inference_mode():
            ls, le = reader.net(**enc)
        a = best_spans(ls.numpy(), le.numpy(), ctx.numpy(), offsets.numpy(), [r["top1"]])[0]
        t_torch.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        enc, ctx, offsets = encode(reader.tok, [r["q"]], [r["top1"]])
        feed = {k: enc[k].numpy().astype(np.int64) for k in names}
        ls8, le8 = session.run(None, feed)
        b = best_spans(ls8, le8, ctx.numpy(), offsets.numpy(), [r["top1"]])[0]
        t_onnx.append(time.perf_counter() - t0)
        same += a[0] == b[0]
        if mentions_any(r["top1"], r["gold"]):  # the span's accuracy where it can be right
            right[0] += mentions_any(a[0], r["gold"])
            right[1] += mentions_any(b[0], r["gold"])
            right[2] += 1
    result = {
        "questions": len(rows),
        "int8_same_span": round(same / len(rows), 3),
        "int8_mb": round(int8.stat().st_size / 1e6, 1),
        "top1_holds_span_contains_fp32_int8": [right[2], right[0], right[1]],
        "fp32_torch_p50_ms": round(1000 * float(np.median(t_torch[5:])), 1),
        "fp32_torch_p95_ms": round(1000 * float(np.percentile(t_torch[5:], 95)), 1),
        "int8_onnx_p50_ms": round(1000 * float(np.median(t_onnx[5:])), 1),
        "int8_onnx_p95_ms": round(1000 * float(np.percentile(t_onnx[5:], 95)), 1),
    }
    (out / "onnx.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=["data", "train", "eval", "onnx"])
    ap.add_argument("--data", type=Path, default=OUT / "data.jsonl")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--minutes", type=float, default=32.0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.cmd == "data":
        build_data(args.data)
    elif args.cmd == "train":
        train(args.data, args.out, args.minutes, args.epochs, args.lr, args.batch)
    elif args.cmd == "eval":
        evaluate(args.data, args.out)
    else:
        onnx_check(args.out)


if __name__ == "__main__":
    main()
