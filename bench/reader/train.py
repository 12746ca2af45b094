"""Fit the learned reader (assistant/answering/reader.json) on the 2025 question set.

    # 1. retrieve every question as of its date from an index of the corpus, and compute
    #    every sentence's features (both sentence encoders, NER): minutes
    ASSISTANT_DATA_DIR=<full 2025 index> python bench/reader/train.py dump
    #    (after a change of the reader's embedder, `resim` recomputes only the similarities)
    # 2. cross-validate by week, print the tables, write the model: seconds
    python bench/reader/train.py fit [--encoder minilm|e5] [--write]
    # (--write: reader.json, or reader-e5.json with --encoder e5; an e5 dump comes from
    #  `dump --encoders minilm,e5` or bench/reader/e5_scores.py)

Questions: ../shared/eval/realtimeqa-2025/questions.jsonl (answerable and not) and our own
bench/reader/unanswerable.jsonl (plausible questions no article answers; checked by
bench/reader/check_unanswerable.py). Folds are whole ISO weeks, so a question is never
scored by a model that saw its week; the written questions are spread over the folds.
Only cross-validated figures are reported. ``fit --write`` refits on everything and writes
the model with the thresholds chosen on the cross-validated predictions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from index.sentence_model import offline_environment  # noqa: E402

offline_environment()

from assistant.answering import features as F  # noqa: E402
from assistant.answering.model import (  # noqa: E402
    CANDIDATE,
    MODEL_FILES,
    QUESTION,
    Candidate,
    candidates,
    question_features,
)
from assistant.answering.questions import QuestionInfo, analyse  # noqa: E402
from assistant.answers import Question  # noqa: E402
from assistant.evaluation.metrics import mentions_any  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval" / "realtimeqa-2025"
QUESTIONS = SHARED / "questions.jsonl"
WRITTEN = ROOT / "bench" / "reader" / "unanswerable.jsonl"
WRITTEN_SETS = ROOT / "bench" / "reader" / "written"
OUT = ROOT / "bench" / "out" / "reader"
MODEL = ROOT / "assistant" / "answering" / "reader.json"
CE_MODEL = ROOT / "assistant" / "answering" / "reader-ce.onnx"
K = 5  # passages read, as Assistant.ask does by default


@dataclass
class Item:
    """One question with its retrieved sentences and everything computed about them."""

    id: str
    question: str
    week: str
    answerable: bool
    written: bool
    gold: list[str]
    info: QuestionInfo
    sents: list[F.Sentence]
    sims: dict[str, np.ndarray] = field(default_factory=dict)  # encoder -> per sentence
    ents: list[list[Any]] = field(default_factory=list)

    @property
    def passages(self) -> list[Any]:
        """The passages read, in rank order (from the sentences that hold them)."""
        seen: dict[int, Any] = {}
        for s in self.sents:
            seen.setdefault(id(s.passage), s.passage)
        return list(seen.values())

    @property
    def labels(self) -> np.ndarray:
        return np.array([mentions_any(s.text, self.gold) for s in self.sents], dtype=bool)


def _date(raw: Any) -> datetime | None:
    try:
        return datetime.strptime(str(raw).replace("/", "-"), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def written_train() -> list[dict[str, Any]]:
    """The written training sets (bench/reader/written/train-*.jsonl, 2022-2024) as dump
    questions: detail questions answerable, near misses not (the refusal's negatives)."""
    out = []
    for path in sorted(WRITTEN_SETS.glob("train-*.jsonl")):
        for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
            detail = r["type"] == "detail"
            out.append({"id": r["id"], "question": r["question"], "date": r["date"],
                        "answer": r["answer"] if detail else None, "answerable": detail,
                        "written": not detail})  # fmt: skip
    return out


def load_questions(
    limit: int | None = None, answerable_only: bool = False, until: str | None = None
) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in QUESTIONS.open(encoding="utf-8") if x.strip()]
    if until:  # an index of the corpus up to that week (it is in week order): its questions
        rows = [r for r in rows if str(r["id"])[:8] <= until.replace("-", "")]
    if answerable_only:  # the written questions are the refusal model's negatives
        rows = [r for r in rows if r.get("answerable")]
    lines = WRITTEN.open(encoding="utf-8") if WRITTEN.exists() else []
    written = [json.loads(x) for x in lines if x.strip()]
    if until:
        written = [w for w in written if str(w.get("date", "")).replace("-", "") <= until]
    for w in written:
        w.update(answer=None, answerable=False, written=True)
    out = (rows[:limit] if limit else rows) + (written[: limit // 4] if limit else written)
    return out


def dump(
    limit: int | None,
    out: Path,
    encoder_names: Sequence[str] = ("minilm",),
    answerable_only: bool = False,
    until: str | None = None,
    written: bool = False,
) -> None:
    from assistant import components
    from assistant.answering.entities import entities
    from assistant.answering.injection import defuse
    from assistant.answering.reader import E5Encoder, EmbedderEncoder, SentenceEncoder
    from assistant.core import Assistant

    asst = Assistant.from_settings()
    doc_freq = asst.store.lexical.document_frequencies if asst.store.lexical else None
    # the reader's own embedder: the int8 quantisation when reader_int8 (the default) finds it
    reader_model = components.embedders(asst.settings).reader(asst.retriever.embedder)
    encoders: dict[str, SentenceEncoder] = {"minilm": EmbedderEncoder(reader_model)}
    if "e5" in encoder_names:
        encoders["e5"] = E5Encoder()
    items: list[Item] = []
    started = time.perf_counter()
    questions = written_train() if written else load_questions(limit, answerable_only, until)
    for i, q in enumerate(questions, 1):
        as_of = _date(q.get("date"))
        # what Assistant.stream hands the answerer: the passages with instructions defused
        passages = defuse(asst.retriever.retrieve(q["question"], K, as_of=as_of).passages)
        info = analyse(q["question"])
        sents = F.sentences(passages)
        F.cheap_features(info, sents, F.term_weights(info, passages, doc_freq), as_of)
        texts = [s.text for s in sents]
        week = as_of.isocalendar() if as_of else None
        gold = q.get("answer")
        item = Item(
            id=str(q["id"]),
            question=q["question"],
            week=f"{week[0]}-W{week[1]:02d}" if week else "none",
            answerable=bool(q.get("answerable")),
            written=bool(q.get("written")),
            gold=[gold] if isinstance(gold, str) else list(gold or []),
            info=info,
            sents=sents,
            sims={n: e.similarity(q["question"], texts) for n, e in encoders.items()},
            ents=entities(texts) if texts else [],
        )
        items.append(item)
        if i % 50 == 0:
            print(f"{i}/{len(questions)} {time.perf_counter() - started:.0f} s", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        pickle.dump(items, fh)
    print(f"dumped {len(items)} questions to {out} in {time.perf_counter() - started:.0f} s")


def cross(dump_path: Path, out: Path, model: Path | None) -> None:
    """Add the cross-encoder's logit for every sentence of a dump (``sims["ce"]``), as the
    reader computes it at question time (title, sentence, neighbours): a few minutes."""
    from assistant.answering.cross_encoder import load_scorer
    from assistant.answering.reader import cross_rows

    scorer = load_scorer(str(model) if model else None)
    if scorer is None:
        raise SystemExit("no cross-encoder: train one with bench/reader/cross_encoder.py")
    sys.modules["__main__"].Item = Item  # type: ignore[attr-defined]  # pickled from this module
    with dump_path.open("rb") as fh:
        items: list[Item] = pickle.load(fh)
    started = time.perf_counter()
    for n, it in enumerate(items, 1):
        plain = Question(it.question).read_whole()  # as the reader reads it
        rows = cross_rows(it.sents)
        it.sims["ce"] = np.concatenate(
            [scorer.logits(plain, rows[i : i + 32]) for i in range(0, len(rows), 32)]
        ) if rows else np.zeros(0)  # fmt: skip
        if n % 100 == 0:
            print(f"{n}/{len(items)} {time.perf_counter() - started:.0f} s", flush=True)
    with out.open("wb") as fh:
        pickle.dump(items, fh)
    print(f"cross-encoder logits of {len(items)} questions in "
          f"{time.perf_counter() - started:.0f} s -> {out}")  # fmt: skip


# -- fitting ----------------------------------------------------------------------------------
def resim(dump_path: Path, out: Path) -> None:
    """Recompute the MiniLM similarities of a dump with the reader's embedder as the settings
    give it now (e.g. after ``reader_int8`` changed): about 1 min for the 2025 dump, against
    ~40 min for a new dump."""
    from assistant import components
    from assistant.answering.reader import EmbedderEncoder
    from assistant.settings import Settings

    settings = Settings.load()
    found = components.embedders(settings)
    model = found.reader(found.query())
    encoder = EmbedderEncoder(model)
    sys.modules["__main__"].Item = Item  # type: ignore[attr-defined]  # pickled from this module
    with dump_path.open("rb") as fh:
        items: list[Item] = pickle.load(fh)
    started = time.perf_counter()
    for it in items:
        texts = [s.text for s in it.sents]
        it.sims["minilm"] = encoder.similarity(it.question, texts) if texts else np.zeros(0)
    with out.open("wb") as fh:
        pickle.dump(items, fh)
    print(f"{type(model).__name__} similarities of {len(items)} questions in "
          f"{time.perf_counter() - started:.0f} s -> {out}")  # fmt: skip


def _fit(x: np.ndarray, y: np.ndarray, names: Sequence[str], c: float = 1.0) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000, class_weight=None)
    lr.fit((x - mean) / scale, y.astype(int))
    return {
        "names": list(names),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in lr.coef_[0]],
        "intercept": round(float(lr.intercept_[0]), 6),
    }


def _prob(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    from assistant.answering.model import Logistic

    return Logistic.from_dict(model).prob(x)


@dataclass
class Config:
    encoder: str = "minilm"
    rerank: int = 16
    stage1: list[str] = field(default_factory=lambda: list(F.CHEAP))
    stage2: list[str] = field(default_factory=lambda: list(F.CHEAP) + list(F.COSTLY))
    short: list[str] = field(default_factory=lambda: list(CANDIDATE))
    # the answerability model leaves out the question-type one-hots (a prior of the quiz set:
    # its "how many" questions are mostly unanswerable, a newsroom's are not) and cov1
    # (collinear with cov_max); cross-validated cost: headline 0.380 -> 0.375
    question: list[str] = field(
        default_factory=lambda: [n for n in QUESTION if not n.startswith("kind_") and n != "cov1"]
    )
    neg_2025: bool = False  # train refusal with the 2025 not-answerable questions as negatives
    # near misses made from the training questions: each answerable one again with every
    # sentence holding its answer taken out (same names, same topic, the fact absent)
    masked: bool = False
    cross: bool = False  # the cross-encoder's logits (the dump's "ce", from `cross`) in stage 2


def _top(item: Item, model1: dict[str, Any], cfg: Config) -> list[int]:
    p1 = _prob(model1, F.matrix(item.sents, cfg.stage1))
    return [int(i) for i in np.argsort(-p1, kind="stable")[: cfg.rerank]]


def _stage2_rows(item: Item, idx: list[int], cfg: Config) -> list[F.Sentence]:
    top = [item.sents[i] for i in idx]
    sim = item.sims[cfg.encoder][idx] if idx else np.zeros(0)
    ce = (item.sims["ce"][idx] if idx else np.zeros(0)) if cfg.cross else None
    F.costly_features(item.info, top, sim, [item.ents[i] for i in idx], ce)
    return top


@dataclass
class Predicted:
    item: Item
    ranked: list[tuple[F.Sentence, float]]
    cands: list[tuple[Candidate, float]]
    answerable: float


def masked(item: Item) -> Item:
    """``item`` with every sentence that holds its answer taken out: a near miss (not
    answerable), in the fold of the question it was made from."""
    keep = [i for i, hit in enumerate(item.labels) if not hit]
    sents = [F.Sentence(s.passage, s.rank, s.span, s.text, s.stems, dict(s.cheap))
             for s in (item.sents[i] for i in keep)]  # fmt: skip
    best = max((s.cheap.get("cov", 0.0) for s in sents), default=0.0)
    for s in sents:
        s.cheap["cov_rel"] = s.cheap.get("cov", 0.0) - best
    return Item(
        id=item.id + "#masked",
        question=item.question,
        week=item.week,
        answerable=False,
        written=True,
        gold=item.gold,
        info=item.info,
        sents=sents,
        sims={k: v[keep] for k, v in item.sims.items()},
        ents=[item.ents[i] for i in keep],
    )


def _fit_all(train: list[Item], cfg: Config) -> dict[str, Any]:
    """The four models, fitted on ``train``."""
    pos = [it for it in train if it.answerable and it.sents and it.labels.any()]
    pos_ids = {it.id for it in pos}
    x1 = np.vstack([F.matrix(it.sents, cfg.stage1) for it in pos])
    y1 = np.concatenate([it.labels for it in pos])
    m1 = _fit(x1, y1, cfg.stage1)
    rows2, y2 = [], []
    tops: dict[str, list[F.Sentence]] = {}
    for it in train:
        if not it.sents:
            continue
        idx = _top(it, m1, cfg)
        tops[it.id] = _stage2_rows(it, idx, cfg)
        if it.id in pos_ids:
            rows2.append(F.matrix(tops[it.id], cfg.stage2))
            y2.append(it.labels[idx])
    m2 = _fit(np.vstack(rows2), np.concatenate(y2), cfg.stage2)
    xc, yc, ranked_all = [], [], {}
    for it in train:
        if it.id not in tops:
            continue
        top = tops[it.id]
        p2 = _prob(m2, F.matrix(top, cfg.stage2))
        ranked = sorted(zip(top, p2.tolist(), strict=True), key=lambda t: -t[1])
        ranked_all[it.id] = ranked
        if it.answerable:
            for c in candidates(it.info, ranked):
                xc.append([c.features.get(n, 0.0) for n in cfg.short])
                yc.append(mentions_any(c.text, it.gold))
    ms = _fit(np.array(xc), np.array(yc), cfg.short)
    xq, yq = [], []
    for it in train:
        if it.id not in ranked_all or (not it.answerable and not it.written and not cfg.neg_2025):
            continue
        ranked = ranked_all[it.id]
        cands = candidates(it.info, ranked)
        pc = _prob(ms, np.array([[c.features.get(n, 0.0) for n in cfg.short] for c in cands]))
        qf = question_features(it.info, ranked, float(pc.max()) if len(pc) else 0.0, it.passages)
        xq.append([qf.get(n, 0.0) for n in cfg.question])
        yq.append(it.answerable and bool(it.labels.any()))
    mq = _fit(np.array(xq), np.array(yq), cfg.question)
    return {"stage1": m1, "stage2": m2, "short": ms, "answerable": mq}


def _predict(models: dict[str, Any], it: Item, cfg: Config) -> Predicted:
    if not it.sents:
        return Predicted(it, [], [], 0.0)
    top = _stage2_rows(it, _top(it, models["stage1"], cfg), cfg)
    p2 = _prob(models["stage2"], F.matrix(top, cfg.stage2))
    ranked = sorted(zip(top, p2.tolist(), strict=True), key=lambda t: -t[1])
    cands = candidates(it.info, ranked)
    pc = _prob(models["short"], np.array([[c.features.get(n, 0.0) for n in cfg.short]
                                          for c in cands])).tolist()  # fmt: skip
    scored = sorted(zip(cands, pc, strict=True), key=lambda t: -t[1])
    qf = question_features(it.info, ranked, scored[0][1] if scored else 0.0, it.passages)
    pa = float(_prob(models["answerable"], np.array([[qf.get(n, 0.0) for n in cfg.question]]))[0])
    return Predicted(it, ranked, scored, pa)


def folds(items: list[Item], n: int = 5) -> list[list[Item]]:
    """Whole weeks per fold (in date order, dealt round-robin); written questions spread."""
    weeks = sorted({it.week for it in items if not it.written})
    fold_of = {w: i % n for i, w in enumerate(weeks)}
    out: list[list[Item]] = [[] for _ in range(n)]
    written = 0
    for it in items:
        if it.id.endswith("#masked"):  # with the question it was made from
            out[fold_of[it.week]].append(it)
        elif it.written:
            out[written % n].append(it)
            written += 1
        else:
            out[fold_of[it.week]].append(it)
    return out


def cross_validate(items: list[Item], cfg: Config, n: int = 5) -> list[Predicted]:
    preds: list[Predicted] = []
    parts = folds(items, n)
    for i, test in enumerate(parts):
        train = [it for j, part in enumerate(parts) if j != i for it in part]
        models = _fit_all(train, cfg)
        preds.extend(_predict(models, it, cfg) for it in test)
    return preds


def first_line(p: Predicted, short_t: float) -> str | None:
    """The first line the answerer would show (None: nothing to show)."""
    if p.cands and p.cands[0][1] >= short_t:
        return p.cands[0][0].text
    return p.ranked[0][0].text if p.ranked else None


def scores(preds: list[Predicted], short_t: float, refuse_t: float) -> dict[str, float]:
    ans = [p for p in preds if p.item.answerable]
    quiz = [p for p in ans if p.item.id[:4].isdigit()]  # 2025 ids begin with the week
    detail = [p for p in ans if not p.item.id[:4].isdigit()]  # the written detail questions
    written = [p for p in preds if p.item.written]
    near = [p for p in written if not p.item.id.startswith("unans-") and "#" not in p.item.id]
    made = [p for p in written if p.item.id.endswith("#masked")]
    absent = [p for p in written if p.item.id.startswith("unans-")]  # a phrase no article has
    not_2025 = [p for p in preds if not p.item.answerable and not p.item.written]

    def right(p: Predicted) -> bool:
        line = first_line(p, short_t)
        return p.answerable >= refuse_t and line is not None and mentions_any(line, p.item.gold)

    def share(xs: list[Predicted], test: Any) -> float:
        return sum(1 for x in xs if test(x)) / max(1, len(xs))

    def holds(p: Predicted, n: int) -> bool:
        return any(mentions_any(s.text, p.item.gold) for s, _ in p.ranked[:n])

    def line_right(p: Predicted) -> bool:
        line = first_line(p, short_t)
        return line is not None and mentions_any(line, p.item.gold)

    return {
        "top1": share(ans, lambda p: holds(p, 1)),
        "top1_2025": share(quiz, lambda p: holds(p, 1)),
        "top2": share(ans, lambda p: holds(p, 2)),
        "headline": share(ans, right),
        "headline_2025": share(quiz, right),
        "headline_detail": share(detail, right),
        "refused_nearmiss": share(near, lambda p: p.answerable < refuse_t),
        "refused_masked": share(made, lambda p: p.answerable < refuse_t),
        "refused_absent": share(absent, lambda p: p.answerable < refuse_t),
        "false_refusals_detail": share(detail, lambda p: p.answerable < refuse_t),
        "headline_no_refusal": share(ans, line_right),
        "short_shown": share(ans, lambda p: bool(p.cands) and p.cands[0][1] >= short_t),
        "refused_written": share(written, lambda p: p.answerable < refuse_t),
        "refused_2025_not": share(not_2025, lambda p: p.answerable < refuse_t),
        "false_refusals": share(ans, lambda p: p.answerable < refuse_t),
    }


def choose_thresholds(preds: list[Predicted]) -> tuple[float, float, list[dict[str, float]]]:
    """The short-answer threshold: the lowest (so editors get a crisp answer as often as
    possible, never below 0.5) whose headline accuracy is within one point of the best; and
    the refusal threshold that refuses the most written unanswerable questions while at most
    0.1 of the answerable ones are refused (a nearby quote for a question no article answers
    misleads an editor more than a refusal does); failing that, the one that refuses the most
    of them with false refusals still at most 0.1."""
    grid = [round(x, 2) for x in np.arange(0.5, 0.96, 0.05)]
    headline = {t: scores(preds, t, 0.0)["headline"] for t in grid}
    short_t = min(t for t in grid if headline[t] >= max(headline.values()) - 0.01)
    curve = []
    for t in [round(x, 3) for x in np.arange(0.0, 1.0, 0.025)]:
        curve.append({"threshold": t, **scores(preds, short_t, t)})
    within = [c for c in curve if c["refused_written"] >= 0.8 and c["false_refusals"] <= 0.1]
    if within:  # the most refusals; at a tie, the fewest false refusals
        refuse_t = max(within, key=lambda c: (c["refused_written"], -c["false_refusals"]))[
            "threshold"
        ]
    else:  # the most refusals with false refusals still within 0.1: a refused answerable
        # question costs the editor as much as a nearby quote does
        bounded = [c for c in curve if c["false_refusals"] <= 0.1]
        refuse_t = max(bounded, key=lambda c: c["refused_written"])["threshold"]
    return short_t, refuse_t, curve


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_dumps(paths: Sequence[Path]) -> list[Item]:
    sys.modules["__main__"].Item = Item  # type: ignore[attr-defined]  # pickled from this module
    items: list[Item] = []
    for path in paths:
        with path.open("rb") as fh:
            items += pickle.load(fh)
    return items


def fit(dumps: Sequence[Path], cfg: Config, write: Path | None, ablate: bool) -> dict[str, Any]:
    items = load_dumps(dumps)
    if cfg.masked:  # scored too, as near misses of held-out weeks
        items += [masked(it) for it in items if it.answerable and it.labels.any()]
    preds = cross_validate(items, cfg)
    short_t, refuse_t, curve = choose_thresholds(preds)
    result: dict[str, Any] = {
        "questions": len(items),
        "answerable": sum(it.answerable for it in items),
        "written": sum(it.written for it in items),
        "encoder": cfg.encoder,
        "short_threshold": short_t,
        "refuse_threshold": refuse_t,
        "cv": scores(preds, short_t, refuse_t),
        "cv_no_refusal": scores(preds, short_t, 0.0),
        "curve": curve,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=1))
    if ablate:
        result["ablation"] = ablation(items, cfg, short_t)
    if write is not None:
        models = _fit_all(items, cfg)
        model = {
            **models,
            "rerank": cfg.rerank,
            "short_threshold": short_t,
            "refuse_threshold": refuse_t,
            "encoder": cfg.encoder,
            "cross_encoder": cfg.cross,
            "meta": {
                "trained_on": "the questions of "
                + ", ".join(p.name for p in dumps)
                + (" + near misses made from them by masking the answer" if cfg.masked else ""),
                "questions_sha256": _sha(QUESTIONS) if QUESTIONS.exists() else None,
                "written_sha256": _sha(WRITTEN),
                "questions": len(items),
                # which cross-encoder the "ce" features came from (the dump's `cross` run)
                "cross_encoder_sha256": _sha(CE_MODEL) if cfg.cross and CE_MODEL.exists() else None,
                "cv": result["cv"],
                "command": "python bench/reader/train.py " + " ".join(sys.argv[1:]),
            },
        }
        write.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return result


GROUPS = {
    "lexical (cov, window, ctx, title, prox)": [
        "cov", "cov_win", "ctx", "title", "prox", "cov_rel"
    ],
    "retrieval (rank, fused, dense_p, lex_p)": ["rank_inv", "fused", "dense_p", "lex_p"],
    "position (pos, lead)": ["pos", "lead"],
    "form (nwords, short, quote, qmark)": ["nwords", "short", "quote", "qmark"],
    "answer-type patterns (typed*)": ["typed", *(f"typed_{k.value}" for k in F.KINDS[:5])],
    "recency (recency, nodate)": ["recency", "nodate"],
    "dense sentence similarity": ["dense", "dense_rel"],
    "NER (ner_*)": ["ner_fit", "ner_part", "ner_count"],
    "cross-encoder (ce, ce_rel)": ["ce", "ce_rel"],
}  # fmt: skip


# Left out by default: leaving either out raised the cross-validated headline accuracy
# (bench/RESULTS.md, "Reader"); recency already weighs in retrieval.
DEFAULT_DROP = ["form (nwords, short, quote, qmark)", "recency (recency, nodate)"]
GROUPS["none"] = []


def ablation(items: list[Item], cfg: Config, short_t: float) -> list[dict[str, Any]]:
    rows = []
    base = scores(cross_validate(items, cfg), short_t, 0.0)
    rows.append({"without": "(nothing: all features)", **base})
    for name, group in GROUPS.items():
        if not group:
            continue
        c = Config(
            encoder=cfg.encoder,
            rerank=cfg.rerank,
            stage1=[n for n in cfg.stage1 if n not in group],
            stage2=[n for n in cfg.stage2 if n not in group],
            short=cfg.short,
            question=cfg.question,
            cross=cfg.cross,
            masked=cfg.masked,
        )
        s = scores(cross_validate(items, c), short_t, 0.0)
        rows.append({"without": name, **s})
        print(f"{name:45s} top1 {s['top1']:.3f} headline {s['headline']:.3f}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="retrieve and compute features (needs the index)")
    d.add_argument("--limit", type=int, default=None, help="first N 2025 questions only")
    d.add_argument("--out", type=Path, default=OUT / "dump.pkl")
    d.add_argument("--encoders", default="minilm", help="comma-separated: minilm,e5")
    d.add_argument(
        "--answerable-only",
        action="store_true",
        help="of the 2025 set, only the answerable questions (half the time)",
    )
    d.add_argument(
        "--written-train",
        action="store_true",
        help="the written train sets instead, asked of an index of the articles they name",
    )
    d.add_argument(
        "--until",
        default=None,
        metavar="YYYYMMDD",
        help="only the questions of the weeks up to this one (an index of part of the year)",
    )
    r = sub.add_parser("resim", help="recompute a dump's MiniLM similarities (reader_int8)")
    r.add_argument("--dump", type=Path, default=OUT / "dump.pkl")
    r.add_argument("--out", type=Path, default=None, help="default: over --dump")
    c = sub.add_parser("cross", help="add the cross-encoder's logits to a dump")
    c.add_argument("--dump", type=Path, default=OUT / "dump.pkl")
    c.add_argument("--out", type=Path, default=None, help="default: over --dump")
    c.add_argument("--model", type=Path, default=None, help="default: the packaged one")
    f = sub.add_parser("fit", help="cross-validate by week; --write refits and writes")
    f.add_argument(
        "--dump",
        type=Path,
        action="append",
        default=None,
        help="repeatable (e.g. the 2025 dump and the written-train one); default dump.pkl",
    )
    f.add_argument("--encoder", choices=["minilm", "e5"], default="minilm")
    f.add_argument(
        "--rerank",
        type=int,
        default=16,
        help="sentences re-ranked (8-30 tried; 12-20 within noise)",
    )
    f.add_argument("--neg-2025", action="store_true", help="2025 not-answerable as negatives")
    f.add_argument("--cross", action="store_true", help="with the cross-encoder's features")
    f.add_argument(
        "--masked",
        action="store_true",
        help="refusal also learns from the training questions with their answer taken out",
    )
    f.add_argument("--ablate", action="store_true", help="leave each feature group out")
    f.add_argument(
        "--drop",
        action="append",
        default=None,
        choices=[*GROUPS, "none"],
        help="leave a feature group out of the model (repeatable; default: "
        "the groups whose removal helped in the ablation; 'none' keeps all)",
    )
    f.add_argument("--write", nargs="?", const=MODEL, type=Path, default=None)
    f.add_argument("--json", type=Path, default=OUT / "fit.json")
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.limit, args.out, args.encoders.split(","), args.answerable_only, args.until,
             args.written_train)  # fmt: skip
        return
    if args.cmd == "resim":
        resim(args.dump, args.out or args.dump)
        return
    if args.cmd == "cross":
        cross(args.dump, args.out or args.dump, args.model)
        return
    if args.write == MODEL:  # the packaged model of the encoder (model.MODEL_FILES)
        args.write = MODEL.with_name(MODEL_FILES[args.encoder])
    cfg = Config(encoder=args.encoder, rerank=args.rerank, neg_2025=args.neg_2025, cross=args.cross,
                 masked=args.masked)  # fmt: skip
    if cfg.cross:
        cfg.stage2 += F.CROSS
    dropped = {n for name in (args.drop or DEFAULT_DROP) for n in GROUPS[name]}
    cfg.stage1 = [n for n in cfg.stage1 if n not in dropped]
    cfg.stage2 = [n for n in cfg.stage2 if n not in dropped]
    result = fit(args.dump or [OUT / "dump.pkl"], cfg, args.write, args.ablate)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
