"""``assistant ask`` and ``assistant chat``: questions from the command line."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    ConfigError,
    Filters,
    Library,
    Settings,
    check_answerer,
    parse_date,
)
from assistant.faces import running
from assistant.faces.cli.common import CollectionOpt, err, out
from assistant.faces.present import answer_text, source_views

KOpt = Annotated[int | None, typer.Option("--k", "-k", help="passages to answer from")]
SourceOpt = Annotated[
    list[str] | None, typer.Option("--source", "-s", help="only this outlet (repeatable)")
]
AuthorOpt = Annotated[
    list[str] | None,
    typer.Option("--author", "-a", help="only articles this author wrote or co-wrote (repeatable)"),
]
SinceOpt = Annotated[str | None, typer.Option(help="only articles published on or after DATE")]
UntilOpt = Annotated[str | None, typer.Option(help="only articles published on or before DATE")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="the question's date: favours articles just before")
]


def _assistant(collection: str | None) -> Assistant:
    """The settings and cheap checks first, so a mistake is reported in a fraction of a
    second; then the embedding model and the index, once, with a line on stderr meanwhile."""
    settings = Settings.load()
    Library.require_index(settings)
    for warning in check_answerer(settings):
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    err.print("[dim]loading the embedding model…[/]")
    return Assistant.from_settings(settings, collection)


def _ask_server(
    question: str, k: int | None, filters: Filters, when: datetime | None
) -> Answer | None:
    settings = Settings.load()
    url = running.find_server(settings)
    if url is None:
        return None
    answer = running.ask_server(url, settings, question, k=k, filters=filters, as_of=when)
    if answer is None:
        err.print(f"[dim]the server at {escape(url)} did not answer; answering here[/]")
    else:
        err.print(f"[dim]answered by the server at {escape(url)} (--no-server: here)[/]")
    return answer


def _filters(
    source: list[str] | None,
    since: str | None,
    until: str | None,
    author: list[str] | None = None,
) -> Filters:
    try:
        return Filters.model_validate(
            {"sources": source or [], "authors": author or [], "since": since, "until": until}
        )
    except ValidationError as exc:
        problems = "; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"bad filter: {problems}") from exc


def _as_of(value: str | None) -> datetime | None:
    try:
        return parse_date(value)
    except ValueError as exc:
        raise ConfigError(f"--as-of: {exc}") from exc


def print_answer(answer: Answer) -> None:
    """The answer, then its numbered sources with the quoted sentence."""
    style = "yellow" if answer.refused else "bold"
    out.print(f"[{style}]{escape(answer_text(answer))}[/]", soft_wrap=True)
    sources = source_views(answer)  # each cited article once, with all its quotes
    if sources:
        out.print()
        out.print("[dim]Sources[/]")
    for s in sources:
        date = s.day or "no date"
        by = f", {escape(s.byline)}" if s.byline else ""
        out.print(f"[{s.n}] [bold]{escape(s.title)}[/] — {escape(s.outlet or '—')}{by}, {date}")
        if s.url:
            out.print(f"    {escape(s.url)}")
        if s.correction:
            out.print(f"    [yellow]{escape(s.correction)}[/]", soft_wrap=True)
        for q in s.quotes:
            out.print(f"    “{escape(q.quote)}”", soft_wrap=True)
        for other in s.also_in:
            out.print(f"    also in: {escape(other.title)} — {escape(other.outlet or '—')}")
    for notice in answer.notices:
        out.print(f"[yellow]note:[/] {escape(notice)}")


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    as_json: Annotated[bool, typer.Option("--json", help="print the Answer JSON")] = False,
    k: KOpt = None,
    source: SourceOpt = None,
    author: AuthorOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_of: AsOfOpt = None,
    collection: CollectionOpt = None,
    no_server: Annotated[
        bool,
        typer.Option(
            "--no-server", help="answer in this process even when `assistant serve` is running"
        ),
    ] = False,
) -> None:
    """Answer one question from the indexed articles, with numbered sources.

    With `assistant serve` running on this data dir (same answer settings), it answers.
    """
    filters = _filters(source, since, until, author)
    when = _as_of(as_of)
    answer = None if no_server or collection else _ask_server(question, k, filters, when)
    if answer is None:
        answer = _assistant(collection).ask(question, k=k, filters=filters, as_of=when)
    if as_json:
        print(json.dumps(answer.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print_answer(answer)


def chat(
    k: KOpt = None,
    source: SourceOpt = None,
    author: AuthorOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    collection: CollectionOpt = None,
) -> None:
    """An interactive chat: follow-up questions use the earlier turns. /quit or Ctrl-D quits
    (an empty line is ignored); /reset starts over."""
    filters = _filters(source, since, until, author)
    asst = _assistant(collection)
    session = uuid.uuid4().hex
    out.print("[dim]Ask about the indexed articles. /reset starts over; /quit or Ctrl-D quits.[/]")
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if not question:  # a stray Enter must not end the conversation
            continue
        if question in {"/quit", "/exit"}:
            return
        if question == "/reset":
            asst.reset(session)
            out.print("[dim]history cleared[/]")
            continue
        try:
            answer = asst.chat(session, question, k=k, filters=filters)
        except AssistantError as exc:  # a bad question must not end the chat
            err.print(f"[red]error:[/] {escape(str(exc))}")
            continue
        if answer.standalone_question:
            out.print(f"[dim](read as: {escape(answer.standalone_question)})[/]")
        print_answer(answer)
        out.print()
