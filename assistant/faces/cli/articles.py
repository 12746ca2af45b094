"""``assistant articles list|show|delete`` and ``assistant stats``: the index's records,
read without loading the embedding model."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assistant import Assistant, Library
from assistant.faces.cli.common import CollectionOpt, JsonOpt, err, out, print_json, settings
from assistant.faces.present import ago, day, when

articles_app = typer.Typer(help="List, show and delete indexed articles.", no_args_is_help=True)


def _library(collection: str | None) -> Library:
    return Assistant.open_library(settings(), collection, with_model=False)


@articles_app.command("list")
def articles_list(
    source: Annotated[str | None, typer.Option(help="only this outlet")] = None,
    author: Annotated[
        str | None, typer.Option(help="only this author's articles (co-written ones too)")
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many (0: all)")] = 50,
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Indexed articles, newest first."""
    records = _library(collection).list_articles(source, author)
    shown = records[:limit] if limit else records
    if as_json:
        print_json([r.model_dump(mode="json", exclude={"text"}) for r in shown])
        return
    table = Table("id", "published", "source", "author", "title", "chunks")
    for r in shown:
        table.add_row(
            r.id,
            day(r.published) or "—",
            escape(r.source or "—"),
            escape(", ".join(r.authors) or "—"),
            escape(r.title),
            str(len(r.chunk_ids)),
        )
    out.print(table)
    out.print(f"{len(shown)} of {len(records)} article(s)")


@articles_app.command("show")
def articles_show(
    article_id: Annotated[str, typer.Argument(help="article id")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One article: its record and full text."""
    record = _library(collection).get_article(article_id)
    if record is None:
        err.print(f"no article with id {article_id!r}")
        raise typer.Exit(1)
    if as_json:
        print_json(record.model_dump(mode="json"))
        return
    out.print(f"[bold]{escape(record.title)}[/]")
    if record.authors:
        out.print(f"by {escape(', '.join(record.authors))}")
    out.print(
        f"{escape(record.source or '—')} · "
        f"{day(record.published) or 'no date'} · "
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
    deleted = _library(collection).delete_articles(article_ids)
    out.print(f"deleted {deleted} of {len(article_ids)} article(s)")
    raise typer.Exit(0 if deleted == len(set(article_ids)) else 1)


def stats(collection: CollectionOpt = None, as_json: JsonOpt = False) -> None:
    """What the index holds: articles, chunks, outlets, date range (the newest article's
    date says how current it is), embedding model."""
    library = _library(collection)
    st, where = library.stats(), library.location
    if as_json:
        print_json({**vars(st), "collection": library.collection, "location": where})
        return
    out.print(f"[bold]{library.collection}[/] at {escape(where)}")
    out.print(f"articles: {st.articles}   chunks: {st.chunks}")
    dates = f"{day(st.earliest)} … {day(st.latest)}" if st.earliest and st.latest else "—"
    out.print(f"published: {dates}")
    if st.latest:
        out.print(f"newest article: {when(st.latest)} ({ago(st.latest)})")
    out.print(
        f"embedding model: {escape(st.embedding_model)} ({st.dimension} dimensions, "
        f"built in {st.precision})"
    )
    for source, n in list(st.sources.items())[:20]:
        out.print(f"  {escape(source)}: {n}")
