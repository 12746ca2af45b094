"""The poller: each subscription read (conditionally), its new and changed items fetched
and ingested, and what it saw recorded, so the index keeps itself current.

A poll of one subscription:

1. reads the listing with the validators of its last read (ETag / If-Modified-Since; a 304
   ends the poll at one request);
2. picks the entries whose marker (dates, title, content, lastmod) is new or changed, and
   the ones an earlier poll could not finish (up to MAX_TRIES polls);
3. fetches their pages a group at a time, ingests each group (an article that changed keeps
   its id, so its old chunks are replaced) and records the group's items once stored;
4. records the listing's validators only when every item it listed is settled, so a failed
   item is tried again on the next poll and an interrupted poll loses nothing.

A failure costs only itself: an unreachable or malformed feed is that feed's error line, an
item that cannot be had is one line, and the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from index.errors import LoadError
from index.feeds.http import Fetcher
from index.feeds.listing import Entry, page_entry
from index.feeds.pages import Fetched, fetch_item
from index.feeds.sources import Gathered, gather
from index.feeds.state import FeedState, ItemState, PollerBusyError, Subscription
from index.loaded import Loaded, LoadOptions
from index.pipeline import Failure, IngestReport

log = logging.getLogger(__name__)

IngestFn = Callable[[list[Loaded]], IngestReport]
GROUP = 16  # items fetched, then ingested and recorded together


@dataclass
class FeedPoll:
    """What one poll of one subscription did."""

    url: str
    listed: int = 0  # entries its listing holds (0 when it did not change)
    fetched: int = 0  # pages asked for
    not_modified: bool = False  # the listing answered 304
    error: str = ""  # the subscription itself could not be read
    report: IngestReport = field(default_factory=IngestReport)
    requests: int = 0  # HTTP requests sent, robots.txt included
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and self.report.ok

    @property
    def problems(self) -> list[str]:
        """One line per problem: the feed's, each failed item's, each warning."""
        lines = [self.error] if self.error else []
        lines += [f"{f.origin}: {f.reason}" for f in self.report.failed]
        return lines + list(self.report.warnings)

    def outcome(self) -> str:
        """``not modified`` or ``12 listed, 3 fetched: new 2, updated 1, unchanged 0, failed 0``."""
        if self.error:
            return f"failed: {self.error}"
        if self.not_modified:
            return "not modified"
        r = self.report
        return (
            f"{self.listed} listed, {self.fetched} fetched: new {len(r.new)}, updated "
            f"{len(r.updated)}, unchanged {r.unchanged}, failed {len(r.failed)}"
        )


def merge(total: IngestReport, part: IngestReport) -> None:
    """Add ``part``'s outcome to ``total``."""
    total.new += part.new
    total.updated += part.updated
    total.unchanged += part.unchanged
    total.failed += part.failed
    total.skipped += part.skipped
    total.warnings += part.warnings
    total.repaired += part.repaired
    total.items += part.items
    total.chunks += part.chunks
    total.tokens += part.tokens
    total.seconds += part.seconds
    total.precision = part.precision or total.precision
    total.stopped = part.stopped or total.stopped


class Poller:
    """Polls the subscriptions of one state file into the index through ``ingest``."""

    def __init__(
        self,
        state: FeedState,
        fetcher: Fetcher,
        ingest: IngestFn,
        options: LoadOptions,
        interval: float,
        group: int = GROUP,
    ) -> None:
        self.state = state
        self.fetcher = fetcher
        self.ingest = ingest
        self.options = options
        self.interval = interval
        self.group = group

    def due(self, now: float | None = None) -> list[Subscription]:
        when = time.time() if now is None else now
        return [
            s for s in self.state.subscriptions() if s.next_poll(self.interval).timestamp() <= when
        ]

    def poll(
        self,
        subscriptions: Iterable[Subscription],
        stop: threading.Event | None = None,
        on_poll: Callable[[FeedPoll], None] | None = None,
    ) -> list[FeedPoll]:
        """Poll each subscription once, in turn, holding the data dir's poll lock
        (PollerBusyError when another process holds it)."""
        done = []
        with self.state.polling():
            for sub in subscriptions:
                if stop is not None and stop.is_set():
                    break
                result = self.poll_one(sub.url, stop)
                done.append(result)
                if on_poll is not None:
                    on_poll(result)
        return done

    def watch(
        self,
        stop: threading.Event,
        on_poll: Callable[[FeedPoll], None] | None = None,
        on_busy: Callable[[PollerBusyError], None] | None = None,
        tick: float = 30.0,
    ) -> None:
        """Poll every subscription when it is due until ``stop`` is set. The state is read
        again at least every ``tick`` seconds, so subscriptions added or removed by another
        process meanwhile are picked up, and a poll another process made is not repeated."""
        while not stop.is_set():
            due = self.due()
            if due:
                try:
                    self.poll(due, stop, on_poll)
                except PollerBusyError as exc:
                    if on_busy is not None:
                        on_busy(exc)
            upcoming = [s.next_poll(self.interval).timestamp() for s in self.state.subscriptions()]
            wait = min(upcoming, default=time.time() + tick) - time.time()
            stop.wait(min(max(wait, 1.0), tick))

    def poll_one(self, url: str, stop: threading.Event | None = None) -> FeedPoll:
        """One poll of one subscription (see the module's docstring)."""
        started, requests = time.time(), self.fetcher.requests
        result = FeedPoll(url)
        documents = None
        try:
            found = gather(
                self.fetcher, url, self.options.max_feed_items, self.state.documents(url)
            )
        except LoadError as exc:
            result.error = exc.message
        else:
            result.not_modified = found.unchanged
            result.report.warnings += found.warnings
            result.report.failed += [
                Failure(p.origin, p.error.message) for p in found.problems if p.error
            ]
            complete = self._items(url, found, result, stop)
            if complete and not found.problems:
                documents = found.documents
        result.requests = self.fetcher.requests - requests
        result.seconds = time.time() - started
        self.state.finish(url, started, error=result.error, result=result.outcome(),
                          problems=result.problems, documents=documents)  # fmt: skip
        log.info("polled %s: %s", url, result.outcome())
        return result

    def _items(
        self, url: str, found: Gathered, result: FeedPoll, stop: threading.Event | None
    ) -> bool:
        """Fetch, ingest and record the entries that need it, a group at a time; whether
        every entry listed is settled afterwards."""
        known = self.state.items(url)
        entries = [page_entry(found.page, url)] if found.page is not None else found.entries
        result.listed = len(entries)
        todo = [e for e in entries if _needs_fetch(e, known.get(e.key))]
        settled = len(entries) - len(todo)
        for start in range(0, len(todo), self.group):
            if stop is not None and stop.is_set():
                return False
            fetched = []
            for entry in todo[start : start + self.group]:
                if stop is not None and stop.is_set():
                    break  # what was fetched is still ingested and recorded
                fetched.append(self._fetch(entry, known.get(entry.key), found))
            result.fetched += len(fetched)
            report = self._ingest(fetched)
            merge(result.report, report)
            if report.stopped:  # the store went away: nothing more goes in this poll
                return False
            states = [_state(f, known.get(f.entry.key), report) for f in fetched]
            self.state.save_items(url, states)
            settled += sum(s.settled for s in states)
        return settled == len(entries)

    def _fetch(self, entry: Entry, last: ItemState | None, found: Gathered) -> Fetched:
        last = last or ItemState(entry.key, "")
        return fetch_item(
            self.fetcher,
            entry,
            self.options,
            article_id=last.article_id,
            etag=last.etag if last.status == "page" else None,
            last_modified=last.last_modified if last.status == "page" else None,
            page=found.page,
        )

    def _ingest(self, fetched: list[Fetched]) -> IngestReport:
        """The group's items into the index; failed items need no store and take no turn
        at the index's write lock."""
        items = [f.loaded for f in fetched if f.loaded is not None]
        if any(item.article is not None for item in items):
            return self.ingest(items)
        report = IngestReport(items=len(items))
        report.failed += [Failure(i.origin, i.error.message) for i in items if i.error]
        report.warnings += [w for i in items for w in i.warnings]
        return report


def _needs_fetch(entry: Entry, last: ItemState | None) -> bool:
    """New, changed by its listing's word, or not settled by an earlier poll."""
    return last is None or last.marker != entry.marker or not last.settled


def _state(fetched: Fetched, last: ItemState | None, report: IngestReport) -> ItemState:
    """An item's state after its group was ingested."""
    entry, item = fetched.entry, fetched.loaded
    tries = (last.tries if last and last.marker == entry.marker else 0) + 1
    if item is None:  # the page answered 304: what the index holds is current
        assert last is not None
        return ItemState(entry.key, entry.marker, last.article_id, last.etag,
                         last.last_modified, last.status, last.tries)  # fmt: skip
    failed = {f.origin: f.reason for f in report.failed}
    if item.article is None or item.origin in failed:
        reason = item.error.message if item.error else failed.get(item.origin, "")
        article_id = last.article_id if last else None
        return ItemState(entry.key, entry.marker, article_id, status="failed", tries=tries,
                         error=reason)  # fmt: skip
    status = "page" if fetched.full else "feed"
    return ItemState(entry.key, entry.marker, item.article.id, fetched.etag,
                     fetched.last_modified, status, tries)  # fmt: skip
