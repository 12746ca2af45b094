"""The same Answer JSON before and after a change: ask the RealTimeQA 2025 set's first
questions through ``Assistant.ask`` and write each answer, then diff two such runs.

    python bench/answers_diff.py run OUT.jsonl [--n 200]
    python bench/answers_diff.py diff BEFORE.jsonl AFTER.jsonl

``run`` answers on the configured index (``ASSISTANT_DATA_DIR``; it only reads it), each
question as of its own date, as ``assistant eval`` does, and writes one line per question:
``{"qid": …, "answer": Answer.model_dump()}`` without the fields that differ between any two
runs (the timings and the random answer id). Run it once per code tree (``PYTHONPATH``);
``diff`` prints each question whose answer JSON differs and exits 1 when any does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "eval" / "realtimeqa-2025" / "questions.jsonl"
# differ between two runs of the same code: not part of the behaviour compared
VOLATILE = ("timings_ms", "id")


def run(out: Path, n: int) -> int:
    from assistant import Assistant
    from assistant.dates import parse_date

    rows = [json.loads(line) for line in QUESTIONS.open(encoding="utf-8") if line.strip()][:n]
    asst = Assistant.from_settings()
    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows, 1):
            answer = asst.ask(row["question"], as_of=parse_date(row.get("date")))
            dumped = answer.model_dump(mode="json", exclude=set(VOLATILE))
            fh.write(json.dumps({"qid": row["id"], "answer": dumped}, sort_keys=True) + "\n")
            if i % 20 == 0:
                print(f"{i}/{len(rows)} in {time.perf_counter() - started:.0f} s", flush=True)
    print(f"wrote {len(rows)} answers to {out} ({time.perf_counter() - started:.0f} s)")
    return 0


def _read(path: Path) -> dict[str, dict[str, Any]]:
    rows = (json.loads(line) for line in path.open(encoding="utf-8") if line.strip())
    return {row["qid"]: row["answer"] for row in rows}


def _fields(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))


def diff(before: Path, after: Path) -> int:
    old, new = _read(before), _read(after)
    changed = 0
    for qid in sorted(old.keys() | new.keys()):
        a, b = old.get(qid), new.get(qid)
        if a == b:
            continue
        changed += 1
        if a is None or b is None:
            print(f"{qid}: only in {'after' if a is None else 'before'}")
            continue
        print(f"{qid}: {', '.join(_fields(a, b))} differ")
        print(f"  before: {a.get('answer')!r}\n  after:  {b.get('answer')!r}")
    total = len(old.keys() | new.keys())
    print(f"{changed} of {total} answers differ" if changed else f"all {total} answers identical")
    return 1 if changed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("run", help="answer the first N questions, write JSON lines")
    ask.add_argument("out", type=Path)
    ask.add_argument("--n", type=int, default=200, help="questions to ask (default 200)")
    compare = sub.add_parser("diff", help="print the questions whose answers differ")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.out, args.n)
    return diff(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
