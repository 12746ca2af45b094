"""Two saved runs side by side: each headline figure, its delta, and the questions that
flipped between right and wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.evaluation import report as rep
from assistant.evaluation.summary import HEADLINE, format_delta, format_metric, headline_value

_SETTING_KEYS = (
    "answerer", "retrieval_mode", "top_k", "retrieval_candidates", "recency_days",
    "embed_model", "embed_precision", "chunk_tokens", "chunk_overlap_tokens", "llm_model",
)  # fmt: skip
# options of the run itself (`assistant eval --k`), kept in report.json's "run"
_RUN_KEYS = {"k": "--k (passages answered from)"}
_QUESTION_CHARS = 90


def compare(run_a: str | Path, run_b: str | Path, show: int = 10) -> str:
    """A plain-text comparison of two runs (out dirs or report.json files)."""
    a, recs_a = rep.load(run_a)
    b, recs_b = rep.load(run_b)
    rows = [("metric", "A", "B", "B - A")]
    for section, key, label in HEADLINE:
        va = headline_value(a["summary"], section, key)
        vb = headline_value(b["summary"], section, key)
        shown = format_metric(va, key), format_metric(vb, key), format_delta(va, vb, key)
        rows.append((label, *shown))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"A: {run_a}  ({a['run'].get('started')}, commit {a['run'].get('git_commit')})",
        f"B: {run_b}  ({b['run'].get('started')}, commit {b['run'].get('git_commit')})",
        "",
    ]
    for i, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    changed = [
        f"  {label}: {a['run'].get(key)!r} -> {b['run'].get(key)!r}"
        for key, label in _RUN_KEYS.items()
        if a.get("run", {}).get(key) != b.get("run", {}).get(key)
    ]
    changed += [
        f"  {key}: {a['settings'].get(key)!r} -> {b['settings'].get(key)!r}"
        for key in _SETTING_KEYS
        if a.get("settings", {}).get(key) != b.get("settings", {}).get(key)
    ]
    if a.get("run", {}).get("questions_sha256") != b.get("run", {}).get("questions_sha256"):
        changed.append("  the question files differ: figures are not over the same questions")
    if changed:
        lines += ["", "Settings that differ:", *changed]
    lines += _flips(recs_a, recs_b, show)
    return "\n".join(lines)


def _flips(recs_a: list[dict[str, Any]], recs_b: list[dict[str, Any]], show: int) -> list[str]:
    if not recs_a or not recs_b:
        return []
    right_a = {r["id"]: bool(r.get("correct")) for r in recs_a if r.get("answerable")}
    right_b = {r["id"]: bool(r.get("correct")) for r in recs_b if r.get("answerable")}
    common = right_a.keys() & right_b.keys()
    gained = sorted(i for i in common if right_b[i] and not right_a[i])
    lost = sorted(i for i in common if right_a[i] and not right_b[i])
    out = ["", f"Answerable questions in both runs: {len(common)}; right only in B: "
           f"{len(gained)}, right only in A: {len(lost)}"]  # fmt: skip
    text = {r["id"]: str(r.get("question") or r["id"]) for r in [*recs_a, *recs_b]}
    for label, ids in (("right only in B", gained), ("right only in A", lost)):
        if ids:
            out.append(f"  {label}:")
            out += [f"    - {_short(text[i])}" for i in ids[:show]]
            if len(ids) > show:
                out.append(f"    (+{len(ids) - show} more)")
    return out


def _short(question: str) -> str:
    """A question named by its text, on one line (the line id means nothing to a reader)."""
    one = " ".join(question.split())
    return one if len(one) <= _QUESTION_CHARS else one[: _QUESTION_CHARS - 1] + "…"
