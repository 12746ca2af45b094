"""The command line: ``assistant --help`` is the manual."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.markup import escape

from assistant import AssistantError, offline_environment
from assistant.faces.cli import articles, ask, ingest
from assistant.faces.cli import eval as evaluation
from assistant.faces.cli.common import err, settings

app = typer.Typer(
    help="Question answering over news articles, with cited sources.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(ask.ask)
app.command()(ask.chat)
app.command("eval")(evaluation.eval_command)
app.command()(ingest.ingest)
app.command()(articles.stats)
app.add_typer(articles.articles_app, name="articles")


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log each step to stderr")
    ] = False,
) -> None:
    if verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")


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
    """Serve the HTTP API (OpenAPI docs at /docs); see README "HTTP API"."""
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
) -> None:
    """Run the Slack bot: Socket Mode with ASSISTANT_SLACK_APP_TOKEN, else HTTP Events mode."""
    from assistant.faces.slack import run as run_slack

    run_slack(settings(), http=http, host=host, port=port)


def main() -> None:
    """Console-script entry point: errors of ours become one clear line and exit status 2."""
    try:
        app()
    except AssistantError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(2)
