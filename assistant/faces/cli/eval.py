"""``assistant eval``: measure the assistant over a question set; compare two runs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from assistant import Assistant, IngestReport, Settings, check_answerer, count_items
from assistant.faces.cli.common import err, out


def _progress(disable: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=disable,
    )


def _figures(report: dict[str, Any]) -> None:
    from assistant.evaluation import HEADLINE, format_metric, headline_value

    s = report["summary"]
    c = s["counts"]
    out.print(
        f"{c['questions']} questions ({c['answerable']} answerable), {c['errors']} errors, "
        f"{len(report['bad_rows'])} malformed rows left out"
    )
    for section, key, label in HEADLINE:
        out.print(f"  {label:<45} {format_metric(headline_value(s, section, key), key)}")


def eval_command(
    target: Annotated[str, typer.Argument(help="QUESTIONS file (JSONL/CSV), or 'compare'")],
    runs: Annotated[
        list[str] | None, typer.Argument(help="with 'compare': the two run dirs A and B")
    ] = None,
    answerer: Annotated[
        str | None, typer.Option(help="extractive or llm (default: settings; see below)")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", help="passages to answer from")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="report dir (default: eval-runs/<time>)")
    ] = None,
    corpus: Annotated[
        list[Path] | None,
        typer.Option("--corpus", help="ingest these files first (unchanged ones cost nothing)"),
    ] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Chroma collection")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print report.json")] = False,
) -> None:
    """Evaluate over a question set, or compare two runs.

    assistant eval QUESTIONS [--answerer extractive|llm] [--k N] [--limit N] [--out DIR]

    assistant eval compare RUN_A RUN_B

    QUESTIONS is JSONL or CSV with question, answer (string or list), and optional gold_ids,
    answerable, date. The out dir gets report.md, report.json, questions.jsonl and PNG plots.
    Malformed rows are reported with their line numbers and left out.
    """
    if target == "compare" and not Path(target).is_file():
        _compare(runs)
        return
    if runs:
        raise typer.BadParameter(f"unexpected arguments {runs}: give one QUESTIONS file")
    from assistant.evaluation import evaluate, load_questions

    qset = load_questions(target, limit)  # malformed rows reported before any model loads
    for bad in qset.bad_rows:
        err.print(f"[yellow]skipped[/] {target} {bad}", highlight=False)
    asst = Assistant.from_settings(_settings(answerer), collection)
    with _progress(disable=as_json) as progress:
        ingest_report = _ingest(asst, corpus, progress) if corpus else None
        stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
        where = out_dir or Path("eval-runs") / stamp
        update = _updater(progress, len(qset.questions))
        report = evaluate(asst, qset, where, k=k, progress=update, ingest=ingest_report)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
        return
    _figures(report)
    out.print(f"report: {where / 'report.md'}", highlight=False)


def _compare(runs: list[str] | None) -> None:
    if not runs or len(runs) != 2:
        raise typer.BadParameter("give two run dirs: assistant eval compare RUN_A RUN_B")
    from assistant.evaluation import compare

    out.print(compare(runs[0], runs[1]), highlight=False, markup=False)


def _settings(answerer: str | None) -> Settings:
    """The settings with ``--answerer``, checked as ``ask`` checks them before anything
    heavy loads (an unknown answerer or a model setting missing: ConfigError at once)."""
    settings = Settings.load()
    if answerer:
        settings = settings.model_copy(update={"answerer": answerer})
    for warning in check_answerer(settings):
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    return settings


def _ingest(asst: Assistant, corpus: list[Path], progress: Progress) -> IngestReport:
    """``--corpus``: ingest it first, with a progress bar of its own."""
    task = progress.add_task("ingest", total=count_items(corpus), detail="")
    report = asst.library.ingest_paths(
        corpus,
        progress=lambda r: progress.update(task, completed=r.items, detail=f"{r.chunks} chunks"),
    )
    if not report.ok:
        err.print(f"[yellow]{len(report.failed)} files or records failed[/]")
    return report


def _updater(progress: Progress, total: int) -> Callable[[int, int, dict[str, Any]], None]:
    """The eval progress bar's update, with the running accuracy of answerable questions."""
    task = progress.add_task("eval", total=total, detail="")
    right = [0, 0]

    def update(done: int, total: int, record: dict[str, Any]) -> None:
        if record.get("answerable") and not record.get("error"):
            right[1] += 1
            right[0] += bool(record.get("correct"))
        detail = f"accuracy {right[0] / right[1]:.2f}" if right[1] else ""
        progress.update(task, completed=done, detail=detail)

    return update
