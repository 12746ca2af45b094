"""Write a run to its out dir: questions.jsonl (per question), report.json, report.md and
PNG plots; and read a saved run back."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from assistant.evaluation.metrics import percentile
from assistant.evaluation.summary import HEADLINE, format_metric, headline_value

PLOTS = {
    "recall": "recall_at_k.png",
    "latency": "latency.png",
    "type": "accuracy_by_type.png",
    "week": "accuracy_by_week.png",
}


def git_commit(where: Path | None = None) -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes), or "unknown"."""
    cwd = where or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": platform.platform()}  # fmt: skip


def plot(report: dict[str, Any], records: list[dict[str, Any]], out: Path) -> dict[str, str]:
    """The PNG plots; returns {kind: file name}."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    summary = report["summary"]
    ks = report["run"]["recall_ks"]
    made: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(6, 4))
    for prefix, label in (("answer_recall", "answer in passage"), ("gold_recall", "gold article")):
        ys = [summary["retrieval"].get(f"{prefix}@{k}") for k in ks]
        if all(y is not None for y in ys):
            ax.plot(ks, ys, marker="o", label=label)
    ax.set(xlabel="k (passages)", ylabel="recall@k", ylim=(0, 1), xticks=ks,
           title="Retrieval recall@k")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / PLOTS["recall"], dpi=100)
    plt.close(fig)
    made["recall"] = PLOTS["recall"]

    ok = [r for r in records if not r.get("error")]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, (key, label) in zip(axes, (("retrieval_ms", "retrieval"), ("answer_ms", "answering")),
                                strict=True):  # fmt: skip
        values = [r[key] for r in ok]
        top = percentile(values, 99)  # a rare slow question would squash the rest
        shown = [v for v in values if v <= top]
        ax.hist(shown, bins=30, color="tab:blue" if key == "retrieval_ms" else "tab:orange")
        ax.axvline(percentile(values, 50), color="black", linestyle="--", label="p50")
        ax.axvline(percentile(values, 95), color="red", linestyle=":", label="p95")
        extra = (
            f" ({len(values) - len(shown)} above p99 not shown)" if len(shown) < len(values) else ""
        )
        ax.set(xlabel=f"milliseconds{extra}", ylabel="questions", title=f"{label} latency")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / PLOTS["latency"], dpi=100)
    plt.close(fig)
    made["latency"] = PLOTS["latency"]

    for kind, key, title in (("type", "by_type", "question type"), ("week", "by_week", "week")):
        if summary[key]:
            _accuracy_plot(plt, summary[key], kind, title, out / PLOTS[kind])
            made[kind] = PLOTS[kind]
    return made


def _accuracy_plot(plt: Any, groups: dict[str, Any], kind: str, title: str, path: Path) -> None:
    """Accuracy per group, each group's size in its axis label: a count above a full bar
    would run into the title."""
    names = list(groups)
    values = [groups[n]["accuracy"] or 0.0 for n in names]
    sep = " " if kind == "week" else "\n"
    labels = [f"{name}{sep}(n={groups[name]['n']})" for name in names]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(names) + 2), 4))
    ax.bar(range(len(names)), values)
    ax.set_xticks(range(len(names)), labels, rotation=60 if kind == "week" else 0,
                  ha="right" if kind == "week" else "center", fontsize=8)  # fmt: skip
    ax.set(ylabel="accuracy", ylim=(0, 1), title=f"Accuracy by {title} (answerable)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(report: dict[str, Any], plots: dict[str, str]) -> str:
    s, run, idx = report["summary"], report["run"], report["index"]
    c = s["counts"]
    lines = [
        f"# Evaluation: {Path(run['questions_file']).name}",
        "",
        f"- When: {run['started']} ({run['seconds']:.0f} s); commit `{run['git_commit']}`",
        f"- Command: `{run['command']}`",
        f"- Questions: {run['questions_file']} (sha256 {run['questions_sha256'][:12]}…): "
        f"{c['questions']} evaluated ({c['answerable']} answerable, {c['not_answerable']} not, "
        f"{c['with_gold_ids']} with gold articles), {len(report['bad_rows'])} malformed rows "
        f"left out, {c['errors']} errors",
        f"- Answerer: {run['answerer']}; k = {run['k']} passages; retrieval "
        f"{report['settings'].get('retrieval_mode')}, depth {run['depth']}",
        f"- Index: {idx.get('articles')} articles, {idx.get('chunks')} chunks, "
        f"embedding model {idx.get('embedding_model')}; data dir {report['settings']['data_dir']}",
        f"- Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores",
    ]
    if report.get("ingest"):
        ing = report["ingest"]
        lines.append(
            f"- Ingest before the run: {ing['new']} new, {ing['updated']} updated, "
            f"{ing['unchanged']} unchanged, {ing['failed']} failed; {ing['chunks']} chunks in "
            f"{ing['seconds']:.0f} s"
        )
    lines += ["", "## Figures", "", "| metric | value |", "|---|---|"]
    for section, key, label in HEADLINE:
        lines.append(f"| {label} | {format_metric(headline_value(s, section, key), key)} |")
    lines += [
        "",
        "Headline accuracy: an acceptable answer, as a whole word, in the first line of the "
        "answer (the short answer, or the first quote when there is none) and in a cited quote "
        "(share of answerable questions); the looser figure takes the first 300 characters "
        "instead of the first line. Recall@k: the answer as "
        "a whole word in one of the top k passages. Citation precision: share of the "
        "citations of answered, answerable questions whose quote holds the answer; support: "
        "share of all citations whose quote holds every number, date and name of the answer "
        "sentence citing it. Exact match and F1 compare the short answer (SQuAD rules).",
        "",
    ]
    if s.get("verification"):
        lines += ["## LLM citation verification", "", "| outcome | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in s["verification"].items()]
        lines.append("")
    titles = {"recall": "Recall@k", "latency": "Latency", "type": "Accuracy by question type",
              "week": "Accuracy by week"}  # fmt: skip
    lines += ["## Plots", ""]
    lines += [f"![{titles[kind]}]({name})" for kind, name in plots.items()]
    lines += ["", "## Accuracy by question type", "", "| type | n | accuracy |", "|---|---|---|"]
    by_type = s["by_type"].items()
    lines += [f"| {t} | {g['n']} | {format_metric(g['accuracy'], t)} |" for t, g in by_type]
    if report["bad_rows"]:
        lines += ["", "## Malformed rows (left out)", ""]
        lines += [f"- {b}" for b in report["bad_rows"]]
    lines += ["", "Per-question results: `questions.jsonl`; everything above: `report.json`.", ""]
    return "\n".join(lines)


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def redact(value: Any) -> Any:
    """``value`` with the credentials of every URL in it (``http://user:secret@host``) replaced
    by ``***``: a report is shared, the settings it records must not carry passwords."""
    if isinstance(value, str):
        return _USERINFO.sub(r"\1***@", value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def write(out: Path, report: dict[str, Any], records: list[dict[str, Any]]) -> None:
    report.update(redact(report))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    plots = plot(report, records, out)
    report["plots"] = plots
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str), "utf-8")
    (out / "report.md").write_text(markdown(report, plots), "utf-8")


def load(run: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A saved run (its out dir, or its report.json) and its per-question records."""
    from index.errors import ConfigError

    p = Path(run)
    path = p / "report.json" if p.is_dir() else p
    if not path.is_file():
        raise ConfigError(f"no evaluation run at {run} (expected a dir with report.json)")
    try:
        report = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not a report.json ({exc})") from exc
    if "summary" not in report:
        raise ConfigError(f"{path} is not an evaluation report (no summary)")
    records: list[dict[str, Any]] = []
    per_q = path.parent / "questions.jsonl"
    if per_q.is_file():
        records = [json.loads(x) for x in per_q.read_text("utf-8").splitlines() if x.strip()]
    return report, records
