"""``assistant feeds add|list|remove`` and ``assistant watch``: the feeds, sitemaps and
pages the index follows by itself (README "Feeds")."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape

from assistant import FeedPoll, Feeds, PollerBusyError, parse_interval
from assistant.faces.cli.common import JsonOpt, err, out, print_json, settings
from assistant.faces.present import feed_views, interval

feeds_app = typer.Typer(
    help="Subscribe to the feeds, sitemaps and pages the index follows (assistant watch "
    "polls them).",
    no_args_is_help=True,
)
SHOWN_PROBLEMS = 5  # per feed in `feeds list`; --json has them all


def _feeds() -> Feeds:
    return Feeds(settings())


@feeds_app.command("add")
def feeds_add(
    urls: Annotated[list[str], typer.Argument(help="RSS/Atom feeds, sitemaps or pages")],
    every: Annotated[
        str | None,
        typer.Option(help="poll this feed every 90s, 15m, 2h… (default: feed_interval)"),
    ] = None,
) -> None:
    """Subscribe; `assistant watch` (or `assistant serve` with feed_watch_in_serve) polls
    each one every interval and ingests what is new or changed."""
    feeds = _feeds()
    seconds = parse_interval(every) if every else None
    for url in urls:
        sub = feeds.add(url, seconds)
        out.print(f"subscribed {escape(sub.url)} (every {interval(feeds.interval(sub))})")


@feeds_app.command("remove")
def feeds_remove(urls: Annotated[list[str], typer.Argument(help="subscribed URLs")]) -> None:
    """Unsubscribe; the articles they brought stay in the index."""
    feeds = _feeds()
    removed = [url for url in urls if feeds.remove(url)]
    for url in urls:
        out.print(f"{'removed' if url in removed else 'not subscribed:'} {escape(url)}")
    raise typer.Exit(0 if len(removed) == len(urls) else 1)


@feeds_app.command("list")
def feeds_list(as_json: JsonOpt = False) -> None:
    """Each subscription: its last poll and success, items seen, and the last poll's
    outcome and errors."""
    feeds = _feeds()
    views = feed_views(feeds)
    if as_json:
        print_json([v.json() for v in views])
        return
    if not views:
        out.print("no feeds subscribed (assistant feeds add URL)")
        return
    for v in views:
        out.print(f"[bold]{escape(v.url)}[/]  every {v.every}")
        out.print(
            f"  last poll: {v.last_poll} · last success: {v.last_success} · next: {v.next_poll}"
        )
        failing = f" ({v.failing} to try again)" if v.failing else ""
        out.print(f"  items seen: {v.items}{failing} · last poll: {escape(v.result)}")
        for line in v.problems[:SHOWN_PROBLEMS]:
            out.print(f"  [red]error[/]: {escape(line)}")
        if len(v.problems) > SHOWN_PROBLEMS:
            out.print(f"  … and {len(v.problems) - SHOWN_PROBLEMS} more (--json lists them)")


def print_poll(poll: FeedPoll) -> None:
    """One feed's poll: its outcome on one line, then one line per problem."""
    colour = "green" if poll.ok else "red"
    out.print(
        f"[{colour}]{escape(poll.url)}[/]: {escape(poll.outcome())} "
        f"({poll.requests} requests, {poll.seconds:.1f}s)"
    )
    if poll.error:
        return  # the outcome is the error
    for failure in poll.report.failed:
        out.print(f"  [red]failed[/] {escape(failure.origin)}: {escape(failure.reason)}")
    for warning in poll.report.warnings:
        out.print(f"  [yellow]warning[/]: {escape(warning)}")
    if poll.report.stopped:
        out.print(f"  [red]stopped early[/]: {escape(poll.report.stopped)}")


def watch(
    once: Annotated[
        bool, typer.Option("--once", help="poll every subscription now, once, and exit")
    ] = False,
    feed: Annotated[
        list[str] | None, typer.Option(help="with --once: only this subscription (repeatable)")
    ] = None,
) -> None:
    """Poll the subscribed feeds and ingest what is new or changed, until Ctrl-C.

    Each subscription is polled every its interval (feeds add --every, else feed_interval).
    A restart, even after kill -9, picks up where the last poll stopped.
    """
    feeds = _feeds()
    if once:
        try:
            polls = feeds.poll(feed or None, on_poll=print_poll)
        finally:
            feeds.close()
        if not polls:
            out.print("no feeds subscribed (assistant feeds add URL)")
        raise typer.Exit(0 if all(p.ok for p in polls) else 1)
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        err.print("stopping after the current item…")
        stop.set()

    signal.signal(signal.SIGINT, stop_on)
    signal.signal(signal.SIGTERM, stop_on)
    where = escape(str(feeds.settings.data_dir))
    err.print(f"watching {len(feeds.subscriptions())} subscription(s) in {where}")
    try:
        feeds.watch(stop, on_poll=print_poll, on_busy=_busy)
    finally:
        feeds.close()


def _busy(exc: PollerBusyError) -> None:
    err.print(f"[yellow]{escape(str(exc))}[/]")
