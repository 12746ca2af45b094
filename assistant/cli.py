"""The command line: ``assistant --help`` is the manual."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from assistant import cli_ask, cli_eval, components
from assistant.settings import Settings
from index.errors import AssistantError
from index.pipeline import IngestReport, count_items

app = typer.Typer(
    help="Question answering over news articles, with cited sources.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(cli_ask.ask)
app.command()(cli_ask.chat)
app.command("eval")(cli_eval.eval_command)
articles_app = typer.Typer(help="List, show and delete indexed articles.", no_args_is_help=True)
app.add_typer(articles_app, name="articles")

out = Console()
err = Console(stderr=True)

CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Chroma collection (default: settings)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log each step to stderr")
    ] = False,
) -> None:
    if verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")


def _settings() -> Settings:
    return Settings.load()


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


@app.command()
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
    settings = _settings()
    options = components.load_options(settings)
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            msg = f"{item!r} is not ARTICLE_FIELD=DUMP_FIELD"
            raise typer.BadParameter(msg, param_hint="--field")
        options.field_map[key.strip()] = value.strip()
    ingestor = components.ingestor(settings, collection)
    total = count_items(paths)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
        transient=False,
    ) as progress:
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

        try:
            report = ingestor.ingest_paths(paths, options, progress=update)
        finally:
            # a compile thread still inside torch at interpreter exit can crash the process
            # (status 139) after the summary is printed
            components.embedder(settings).close()
    if as_json:
        _print_json(
            {
                "new": len(report.new),
                "updated": len(report.updated),
                "unchanged": report.unchanged,
                "failed": [vars(f) for f in report.failed],
                "skipped": [vars(f) for f in report.skipped],
                "warnings": report.warnings,
                "repaired": report.repaired,
                "chunks": report.chunks,
                "tokens": report.tokens,
                "seconds": round(report.seconds, 2),
                "precision": report.precision,
                "collection": ingestor.store.name,
            }
        )
    else:
        _print_summary(report, ingestor.store.name)
    raise typer.Exit(0 if report.ok else 1)


def _print_summary(report: IngestReport, collection: str) -> None:
    rate = report.tokens / report.seconds if report.seconds else 0.0
    out.print(
        f"[bold]{collection}[/]: new {len(report.new)}, updated {len(report.updated)}, "
        f"unchanged {report.unchanged}, failed {len(report.failed)}"
        + (f", skipped {len(report.skipped)}" if report.skipped else "")
        + f" — {report.chunks} chunks, {report.tokens:,} tokens embedded in "
        f"{report.seconds:.1f}s ({rate:,.0f} tokens/s"
        + (f", {report.precision} embeddings)" if report.precision else ")")
    )
    if report.repaired:
        out.print(f"repaired {report.repaired} article(s) left half-written by an earlier run")
    for warning in report.warnings:
        out.print(f"[yellow]warning[/]: {escape(warning)}")
    for skip in report.skipped:
        out.print(f"[dim]skipped {escape(skip.origin)}: {escape(skip.reason)}[/]")
    for failure in report.failed:
        out.print(f"[red]failed[/] {escape(failure.origin)}: {escape(failure.reason)}")


@articles_app.command("list")
def articles_list(
    source: Annotated[str | None, typer.Option(help="only this outlet")] = None,
    limit: Annotated[int, typer.Option(help="at most this many (0: all)")] = 50,
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Indexed articles, newest first."""
    records = components.store(_settings(), collection, load_model=False).list_articles(source)
    shown = records[:limit] if limit else records
    if as_json:
        _print_json([r.model_dump(mode="json", exclude={"text"}) for r in shown])
        return
    table = Table("id", "published", "source", "title", "chunks")
    for r in shown:
        date = r.published.date().isoformat() if r.published else "—"
        table.add_row(r.id, date, escape(r.source or "—"), escape(r.title), str(len(r.chunk_ids)))
    out.print(table)
    out.print(f"{len(shown)} of {len(records)} article(s)")


@articles_app.command("show")
def articles_show(
    article_id: Annotated[str, typer.Argument(help="article id")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One article: its record and full text."""
    record = components.store(_settings(), collection, load_model=False).get_article(article_id)
    if record is None:
        err.print(f"no article with id {article_id!r}")
        raise typer.Exit(1)
    if as_json:
        _print_json(record.model_dump(mode="json"))
        return
    out.print(f"[bold]{escape(record.title)}[/]")
    out.print(
        f"{escape(record.source or '—')} · "
        f"{record.published.date().isoformat() if record.published else 'no date'} · "
        f"{escape(record.url or 'no url')} · {len(record.chunk_ids)} chunks · id {record.id}"
    )
    out.print()
    out.print(escape(record.text or ""), soft_wrap=True)


@articles_app.command("delete")
def articles_delete(
    article_ids: Annotated[list[str], typer.Argument(help="article ids")],
    collection: CollectionOpt = None,
) -> None:
    """Delete articles and their chunks."""
    deleted = components.store(_settings(), collection, load_model=False).delete_articles(
        article_ids
    )
    out.print(f"deleted {deleted} of {len(article_ids)} article(s)")
    raise typer.Exit(0 if deleted == len(set(article_ids)) else 1)


@app.command()
def stats(collection: CollectionOpt = None, as_json: JsonOpt = False) -> None:
    """What the index holds: articles, chunks, outlets, date range, embedding model."""
    settings = _settings()
    st = components.store(settings, collection, load_model=False).stats()
    where = str(settings.data_dir)
    if settings.chroma_host:
        where = f"{settings.chroma_host}:{settings.chroma_port}"
    if as_json:
        _print_json(
            {**vars(st), "collection": collection or settings.collection, "location": where}
        )
        return
    out.print(f"[bold]{collection or settings.collection}[/] at {escape(where)}")
    out.print(f"articles: {st.articles}   chunks: {st.chunks}")
    dates = (
        f"{st.earliest.date().isoformat()} … {st.latest.date().isoformat()}"
        if st.earliest and st.latest
        else "—"
    )
    out.print(f"published: {dates}")
    out.print(
        f"embedding model: {escape(st.embedding_model)} ({st.dimension} dimensions, "
        f"built in {st.precision})"
    )
    for source, n in list(st.sources.items())[:20]:
        out.print(f"  {escape(source)}: {n}")


@app.command()
def ui(
    host: Annotated[
        str | None, typer.Option(help="address to listen on (default: settings)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="port (default: settings)")] = None,
) -> None:
    """Start the web app (Gradio chat); ingests the built-in sample into an empty index."""
    from index.embeddings import offline_environment

    offline_environment()  # before gradio is imported: no analytics calls
    from assistant.core import Assistant
    from assistant.ui import launch

    settings = _settings()
    launch(Assistant.from_settings(settings), host=host, port=port)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address (default: api_host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: api_port)")] = None,
    ui: Annotated[
        bool | None, typer.Option("--ui/--no-ui", help="also serve the web UI at /ui")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs); see README "HTTP API"."""
    from assistant.api import serve as run_api

    settings = _settings()
    if ui is not None:
        settings = settings.model_copy(update={"api_mount_ui": ui})
    run_api(settings, host, port)


@app.command()
def slack(
    http: Annotated[
        bool, typer.Option("--http", help="HTTP Events mode even when an app token is set")
    ] = False,
    host: Annotated[str, typer.Option(help="address of the events endpoint (HTTP mode)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int | None, typer.Option(help="port (default: slack_port)")] = None,
    demo: Annotated[
        str | None,
        typer.Option(
            help="ask QUESTION through the bot against a local Slack stand-in, print the "
            "threaded answer and exit (no Slack, no tokens)",
            metavar="QUESTION",
        ),
    ] = None,
) -> None:
    """Run the Slack bot: Socket Mode with ASSISTANT_SLACK_APP_TOKEN, else HTTP Events mode.

    Socket Mode needs ASSISTANT_SLACK_BOT_TOKEN and ASSISTANT_SLACK_APP_TOKEN.

    HTTP mode needs ASSISTANT_SLACK_BOT_TOKEN and ASSISTANT_SLACK_SIGNING_SECRET.

    Without Slack: assistant slack --demo "How many Guard members were deployed?"
    """
    if demo is not None:
        from assistant.slack_local import demo as run_demo

        say = lambda s: err.print(f"[dim]{escape(s)}[/]", soft_wrap=True)  # noqa: E731
        sys.stdout.write(run_demo(_settings(), demo, say=say))
        return
    from assistant.slack import run as run_slack

    run_slack(_settings(), http=http, host=host, port=port)


def main() -> None:
    """Console-script entry point: errors of ours become one clear line and exit status 2."""
    try:
        app()
    except AssistantError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(2)
