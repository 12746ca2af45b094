"""The written dev sets (bench/reader/written/dev-*.jsonl) through ``Assistant.ask``: detail
headline accuracy, near misses refused, false refusals.

    # 1. an index of the 85 articles the dev records name (each detail question's story, each
    #    near miss's on-topic articles: ~4 min on 2 cores); --quarter adds every 2024 article
    #    published 2024-06-01 .. 2024-09-20 (674 articles, 5.1M characters: ~40 min)
    ASSISTANT_DATA_DIR=/tmp/dev2024 python bench/reader/dev_eval.py index [--quarter]
    # 2. ask every dev question as of its date (~1 min); with ASSISTANT_REFUSE_BELOW=0 it
    #    also prints the refusal curve (each threshold's detail headline and refusals)
    ASSISTANT_DATA_DIR=/tmp/dev2024 python bench/reader/dev_eval.py eval [--json out.json]

The dev records are never trained on: cross_encoder.py leaves their articles out of its
pairs, and train.py fits on 2025 only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from index.sentence_model import offline_environment  # noqa: E402

offline_environment()

WRITTEN = ROOT / "bench" / "reader" / "written"
FIRST, LAST = "2024-06-01", "2024-09-20"


def records(split: str = "dev") -> list[dict[str, Any]]:
    out = []
    for path in sorted(WRITTEN.glob(f"{split}-*.jsonl")):
        out += [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    return out


def build_index(quarter: bool, split: str = "dev") -> None:
    """An index of the articles the ``split``'s records name (``train``: the 253 articles of
    the written training sets, 2022-2024, for ``train.py dump --written-train``)."""
    from assistant import Assistant

    recs = records(split)
    named = {r.get("article_id") for r in recs}
    named |= {a for r in recs for a in r.get("article_ids", [])}
    years = sorted({int(r["year"]) for r in recs})
    arts = []
    for year in years:
        path = ROOT.parent / "shared" / "eval" / f"realtimeqa-{year}" / "corpus.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            arts += [a for a in map(json.loads, fh) if a.get("text")]
    keep = [
        a
        for a in arts
        if a["id"] in named or (quarter and FIRST <= str(a.get("published") or "") <= LAST)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dev-2024.jsonl"
        path.write_text("".join(json.dumps(a) + "\n" for a in keep), encoding="utf-8")
        started = time.perf_counter()
        report = Assistant.from_settings().library.ingest_paths([path])
    print(
        f"{len(keep)} articles, {report.chunks} chunks, failed {report.failed} in "
        f"{time.perf_counter() - started:.0f} s"
    )


def evaluate(out: Path | None) -> dict[str, Any]:
    from assistant import Assistant
    from assistant.evaluation.metrics import is_correct

    asst = Assistant.from_settings()
    rows, lat = [], []
    for r in records():
        as_of = datetime.strptime(r["date"], "%Y-%m-%d").replace(tzinfo=UTC)
        started = time.perf_counter()
        ans = asst.ask(r["question"], as_of=as_of)
        lat.append(time.perf_counter() - started)
        gold = r["answer"] if isinstance(r.get("answer"), list) else [r.get("answer") or ""]
        rows.append(
            {
                "id": r["id"],
                "type": r["type"],
                "refused": ans.refused,
                "confidence": ans.confidence,
                "right": r["type"] == "detail" and is_correct(ans, gold),
                "first_line": ans.answer.split("\n", 1)[0][:200],
            }
        )
    detail = [x for x in rows if x["type"] == "detail"]
    near = [x for x in rows if x["type"] != "detail"]
    lat.sort()
    result = {
        "detail": len(detail),
        "nearmiss": len(near),
        "detail_headline": round(sum(x["right"] for x in detail) / max(1, len(detail)), 3),
        "false_refusals": round(sum(x["refused"] for x in detail) / max(1, len(detail)), 3),
        "nearmiss_refused": round(sum(x["refused"] for x in near) / max(1, len(near)), 3),
        "ask_p50_ms": round(1000 * lat[len(lat) // 2]),
    }
    if settings_refuse_below() == 0.0:  # asked with refusal off: the curve over thresholds
        result["curve"] = curve(rows)
        for point in result["curve"]:
            print(json.dumps(point))
    print(json.dumps(result))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result, "rows": rows}, indent=1) + "\n", encoding="utf-8")
    return result


def settings_refuse_below() -> float | None:
    from assistant.settings import Settings

    return Settings.load().refuse_below


def curve(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Detail headline, false refusals and near misses refused at each refusal threshold,
    from answers given with refusal off (``ASSISTANT_REFUSE_BELOW=0``)."""
    detail = [x for x in rows if x["type"] == "detail"]
    near = [x for x in rows if x["type"] != "detail"]
    out = []
    for t in [round(0.025 * i, 3) for i in range(0, 25)]:
        out.append(
            {
                "threshold": t,
                "detail_headline": round(
                    sum(x["right"] and x["confidence"] >= t for x in detail) / len(detail), 3
                ),
                "false_refusals": round(sum(x["confidence"] < t for x in detail) / len(detail), 3),
                "nearmiss_refused": round(sum(x["confidence"] < t for x in near) / len(near), 3),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=["index", "eval"])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--quarter", action="store_true", help="index: the whole quarter too")
    ap.add_argument("--split", choices=["dev", "train"], default="dev", help="index: whose")
    args = ap.parse_args()
    if args.cmd == "index":
        build_index(args.quarter, args.split)
    else:
        evaluate(args.json)


if __name__ == "__main__":
    main()
