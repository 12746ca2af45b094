"""`assistant eval` over the RealTimeQA 2025 set, ingest included, on a slice that runs in
well under 15 minutes on 2 cores.

    python bench/eval_2025.py [--weeks 8] [--out bench/eval-2025] [--data DIR]

The slice: the questions (answerable or not) of the first ``--weeks`` weeks, and the corpus
lines from the first to the last gold article of those weeks (the dump keeps each week's
articles together, so the slice also holds the weeks' other articles as distractors). Both
are written to a work dir, then the real CLI runs on a fresh data dir:

    assistant eval slice-questions.jsonl --corpus slice-corpus.jsonl --out OUT

``slice.json`` beside the report records the slice and the wall-clock time of the whole run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval" / "realtimeqa-2025"


def make_slice(weeks: int, work: Path) -> dict[str, object]:
    questions = [json.loads(x) for x in (SHARED / "questions.jsonl").open() if x.strip()]
    by_week: OrderedDict[str, list[dict[str, object]]] = OrderedDict()
    for q in questions:
        by_week.setdefault(str(q["id"]).split("_")[0], []).append(q)
    chosen = list(by_week)[:weeks]
    with gzip.open(SHARED / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    position = {json.loads(line)["id"]: i for i, line in enumerate(lines)}
    gold = [position[g] for w in chosen for q in by_week[w] if q["answerable"]
            for g in q["gold_ids"]]  # fmt: skip
    first, last = min(gold), max(gold)
    picked = [q for w in chosen for q in by_week[w]]
    (work / "slice-questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in picked))
    (work / "slice-corpus.jsonl").write_text("".join(lines[first : last + 1]))
    return {
        "weeks": chosen,
        "corpus_lines": [first + 1, last + 1],
        "articles": last - first + 1,
        "questions": len(picked),
        "answerable": sum(1 for q in picked if q["answerable"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "bench" / "eval-2025"))
    parser.add_argument("--data", default=None, help="data dir (default: a fresh temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eval2025-") as tmp:
        work = Path(tmp)
        info = make_slice(args.weeks, work)
        print(f"slice: {info}", flush=True)
        env = {**os.environ, "ASSISTANT_DATA_DIR": args.data or str(work / "data")}
        env.pop("ASSISTANT_SETTINGS_FILE", None)
        out = str(Path(args.out).resolve())
        cmd = [sys.executable, "-m", "assistant", "eval", "slice-questions.jsonl",
               "--corpus", "slice-corpus.jsonl", "--out", out]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=work, env=env)
        info["wall_seconds"] = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        return done.returncode
    (Path(args.out) / "slice.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"whole run, ingest included: {info['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
