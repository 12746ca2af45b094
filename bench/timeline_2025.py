"""Issue 26: on the 2025 questions whose gold articles span more than one date, how often the
answer's lead is the newest stated value (its first citation is a gold article of the newest
gold date up to the question's date), and the headline accuracy there, for one or more
`assistant eval` runs of the 2025 set.

    ASSISTANT_DATA_DIR=<full 2025 index> assistant eval \
        ../shared/eval/realtimeqa-2025/questions.jsonl --out RUN
    python bench/timeline_2025.py RUN_BEFORE RUN_AFTER

Every gold article states the gold answer (../shared/README.md), so on these questions the
newest stated value is the answer as its newest article states it: a lead quoted from an
older gold article while a newer one was indexed is the stale answer the issue is about.
"""

from __future__ import annotations

import argparse
import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"


def published() -> dict[str, date]:
    out: dict[str, date] = {}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            a = json.loads(line)
            if a.get("published"):
                out[a["id"]] = date.fromisoformat(a["published"][:10])
    return out


def spanning(rows: list[dict[str, Any]], dates: dict[str, date]) -> dict[str, date]:
    """Question id → the newest gold date, for answerable questions whose gold articles
    published up to the question's date fall on more than one day."""
    out = {}
    for r in rows:
        asked = date.fromisoformat(r["date"])
        days = {dates[g] for g in r.get("gold_ids") or [] if g in dates and dates[g] <= asked}
        if r.get("answerable") and len(days) > 1:
            out[r["id"]] = max(days)
    return out


def measure(run: Path, dates: dict[str, date]) -> dict[str, Any]:
    rows = [json.loads(x) for x in (run / "questions.jsonl").read_text().splitlines() if x]
    newest = spanning(rows, dates)
    picked = [r for r in rows if r["id"] in newest]
    answered = [r for r in picked if not r.get("refused")]

    def lead_newest(r: dict[str, Any]) -> bool:
        cites = r.get("citations") or []
        if not cites:
            return False
        aid = cites[0]["article_id"]
        return aid in (r.get("gold_ids") or []) and dates.get(aid) == newest[r["id"]]

    def lead_stale(r: dict[str, Any]) -> bool:
        cites = r.get("citations") or []
        aid = cites[0]["article_id"] if cites else None
        return aid in (r.get("gold_ids") or []) and (dates.get(aid) or date.max) < newest[r["id"]]

    n = len(picked) or 1
    return {
        "questions": len(picked),
        "answered": len(answered),
        "lead_newest": sum(map(lead_newest, answered)) / n,
        "lead_older_gold": sum(map(lead_stale, answered)) / n,
        "headline": sum(bool(r.get("correct")) for r in picked) / n,
        "headline_all": sum(bool(r.get("correct")) for r in rows if r.get("answerable"))
        / max(1, sum(bool(r.get("answerable")) for r in rows)),
        "ids": {r["id"]: (lead_newest(r), bool(r.get("correct"))) for r in picked},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    dates = published()
    results = [measure(run, dates) for run in args.runs]
    print("| run | questions | answered | lead is the newest gold article | lead from an older "
          "gold article | headline there | headline, all answerable |")  # fmt: skip
    print("|---|--:|--:|--:|--:|--:|--:|")
    for run, m in zip(args.runs, results, strict=True):
        cells = [run.name, m["questions"], m["answered"]]
        cells += [f"{m[k]:.3f}" for k in ("lead_newest", "lead_older_gold", "headline")]
        cells.append(f"{m['headline_all']:.3f}")
        print("| " + " | ".join(map(str, cells)) + " |")
    if len(results) > 1:
        changed = [q for q, v in results[0]["ids"].items() if results[-1]["ids"].get(q) != v]
        print(f"\nquestions whose lead or headline changed: {len(changed)} {changed[:20]}")


if __name__ == "__main__":
    main()
