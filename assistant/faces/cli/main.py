"""The command line: ``assistant --help`` is the manual."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
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

from assistant import (
    Assistant,
    AssistantError,
    IngestReport,
    Settings,
    count_items,
    offline_environment,
)
from assistant.faces.cli import articles, ask, feeds
from assistant.faces.cli import eval as evaluation
from assistant.faces.cli.common import (
    CollectionOpt,
    JsonOpt,
    backends_help,
    err,
    out,
    print_json,
    settings,
)
from assistant.faces.present import IngestSummary

app = typer.Typer(
    help="Question answering over news articles, with cited sources.",
    no_args_is_help=True,
    add_completion=False,
)
app.command(epilog=backends_help())(ask.ask)
app.command(epilog=backends_help())(ask.chat)
app.command("eval", epilog=backends_help())(evaluation.eval_command)
app.add_typer(articles.articles_app, name="articles")
app.add_typer(feeds.feeds_app, name="feeds")


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log each step to stderr")
    ] = False,
) -> None:
    if verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")


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


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="files, folders (recursed) or http(s) URLs of feeds, sitemaps or pages",
            metavar="PATH_OR_URL...",
        ),
    ],
    collection: CollectionOpt = None,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="map a JSON field: ARTICLE_FIELD=DUMP_FIELD, e.g. text=body"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest articles from files, folders or URLs.

    Files: JSON/JSONL dumps (.gz too), .txt, .md, .html, RSS/Atom feeds. URLs: an RSS/Atom
    feed or a sitemap (each article fetched from its page), or an article page.

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
    if summary.stopped:
        out.print(f"[red]stopped early[/]: {escape(summary.stopped)}")


app.command()(articles.stats)
app.command()(feeds.watch)


@app.command()
def feedback() -> None:
    """Print every thumbs up/down recorded by the web app, the API and Slack, one JSON
    object a line, oldest first (from feedback.jsonl, or Redis with state_store = redis)."""
    for item in Assistant.read_feedback(settings()):
        sys.stdout.write(item.model_dump_json() + "\n")


@app.command()
def ui(
    host: Annotated[
        str | None, typer.Option(help="address to listen on (default: settings)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="port (default: settings)")] = None,
) -> None:
    """Start the web app (Gradio chat); ingests the built-in sample into an empty index."""
    offline_environment()  # before gradio is imported: no analytics calls
    from assistant import Assistant
    from assistant.faces.web.ui import launch

    launch(Assistant.from_settings(settings()), host=host, port=port)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address (default: api_host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: api_port)")] = None,
    ui: Annotated[
        bool | None, typer.Option("--ui/--no-ui", help="also serve the web UI at /ui")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs); see README "HTTP API".

    With feed_watch_in_serve = true it also polls the subscribed feeds, as assistant watch
    does (README "Feeds").
    """
    from assistant.faces.api import serve as run_api

    chosen = settings()
    if ui is not None:
        chosen = chosen.model_copy(update={"api_mount_ui": ui})
    run_api(chosen, host, port)


@app.command()
def slack(
    http: Annotated[
        bool, typer.Option("--http", help="HTTP Events mode even when an app token is set")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="address of the events endpoint (default: slack_host)")
    ] = None,
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
        from assistant.faces.slack_local import demo as run_demo

        say = lambda s: err.print(f"[dim]{escape(s)}[/]", soft_wrap=True)  # noqa: E731
        sys.stdout.write(run_demo(settings(), demo, say=say))
        return
    from assistant.faces.slack import run as run_slack

    run_slack(settings(), http=http, host=host, port=port)


def main() -> None:
    """Console-script entry point: errors of ours become one clear line and exit status 2."""
    try:
        app()
    except AssistantError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(2)
