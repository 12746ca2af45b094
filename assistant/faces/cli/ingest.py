"""``assistant ingest``: articles into the index, with a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from assistant import Assistant, IngestReport, Settings, count_items
from assistant.faces.cli.common import CollectionOpt, JsonOpt, err, out, print_json, settings
from assistant.faces.present import IngestSummary


def _field_map(settings: Settings, fields: list[str]) -> Settings:
    """The settings with each ``--field ARTICLE_FIELD=DUMP_FIELD`` added to the field map."""
    mapping = dict(settings.field_map)
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            msg = f"{item!r} is not ARTICLE_FIELD=DUMP_FIELD"
            raise typer.BadParameter(msg, param_hint="--field")
        mapping[key.strip()] = value.strip()
    return settings.model_copy(update={"field_map": mapping})


def _progress(as_json: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
        transient=False,
    )


def _updater(progress: Progress, total: int) -> Callable[[IngestReport], None]:
    """The progress bar's update: counts so far, and articles and tokens a second."""
    task = progress.add_task("ingest", total=total, detail="")
    began = time.perf_counter()

    def update(report: IngestReport) -> None:
        secs = max(time.perf_counter() - began, 1e-6)
        progress.update(
            task,
            completed=report.items,
            total=max(total, report.items),
            detail=f"new {len(report.new)} · updated {len(report.updated)} · unchanged "
            f"{report.unchanged} · failed {len(report.failed)} · {report.chunks} chunks · "
            f"{report.items / secs:,.1f} articles/s · {report.tokens / secs:,.0f} tokens/s",
        )

    return update


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (recursed)")],
    collection: CollectionOpt = None,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="map a JSON field: ARTICLE_FIELD=DUMP_FIELD, e.g. text=body"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest articles: JSON/JSONL dumps (.gz too), .txt, .md, .html, RSS/Atom feeds.

    Idempotent: unchanged articles are skipped; changed ones replace their old chunks.
    Exits with status 1 when anything failed.
    """
    library = Assistant.open_library(_field_map(settings(), field or []), collection)
    total = count_items(paths)
    with _progress(as_json) as progress:
        try:
            report = library.ingest_paths(paths, progress=_updater(progress, total))
        finally:
            library.close()
    summary = IngestSummary.of(report, library.collection)
    if as_json:
        print_json(summary.cli_json())
    else:
        print_summary(summary)
    raise typer.Exit(0 if summary.ok else 1)


def print_summary(summary: IngestSummary) -> None:
    out.print(f"[bold]{summary.collection}[/]: {summary.counts()} — {summary.throughput()}")
    if summary.repaired:
        out.print(f"repaired {summary.repaired} article(s) left half-written by an earlier run")
    for warning in summary.warnings:
        out.print(f"[yellow]warning[/]: {escape(warning)}")
    for skip in summary.skipped:
        out.print(f"[dim]skipped {escape(skip.origin)}: {escape(skip.reason)}[/]")
    for failure in summary.failed:
        out.print(f"[red]failed[/] {escape(failure.origin)}: {escape(failure.reason)}")
