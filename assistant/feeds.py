"""The feeds the index follows by itself: subscriptions, polls and the watch loop.

``assistant feeds add|list|remove``, ``assistant watch`` and ``assistant serve`` (with
``feed_watch_in_serve``) all go through :class:`Feeds`; the web app's Index tab reads its
:meth:`Feeds.list`. The work is index/feeds/ (fetching, parsing, the poller and its state in
``<data_dir>/feeds.sqlite3``); the articles go into the index through the :class:`Library`,
with every limit of any ingest.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime

from assistant import components
from assistant.library import Library
from assistant.settings import Settings
from index.errors import ConfigError, LoadError
from index.feeds.http import Fetcher, check_url
from index.feeds.poller import FeedPoll, Poller
from index.feeds.state import FeedState, PollerBusyError, Subscription

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``2h`` or ``1d``; ConfigError otherwise."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if found is None or float(found.group(1)) <= 0:
        raise ConfigError(f"{text!r} is not an interval: say 90s, 15m, 2h or 1d")
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


class Feeds:
    """The subscriptions of one data dir. Reading and changing them loads nothing heavy;
    polling opens the index with the embedding model at its first poll (or uses
    ``library``, the running app's)."""

    def __init__(self, settings: Settings, library: Library | None = None) -> None:
        self.settings = settings
        self.state = FeedState(settings.data_dir)
        self._library = library
        self._owns_library = library is None
        self._poller: Poller | None = None

    def close(self) -> None:
        """Let the library this opened finish its background work (see Library.close)."""
        if self._owns_library and self._library is not None:
            self._library.close()

    # -- subscriptions ---------------------------------------------------------------------
    def add(self, url: str, every: float | None = None) -> Subscription:
        """Subscribe to a feed, sitemap or page; it is polled at the next watch (or poll).
        LoadError for a URL that is not http(s)."""
        if every is not None and every < 1:
            raise ConfigError("a feed's interval is at least 1 second")
        return self.state.add(check_url(url), every)

    def remove(self, url: str) -> bool:
        """Unsubscribe; the articles it brought stay in the index."""
        return self.state.remove(url.strip())

    def subscriptions(self) -> list[Subscription]:
        return self.state.subscriptions()

    def next_poll(self, subscription: Subscription) -> datetime:
        return subscription.next_poll(self.settings.feed_interval)

    def interval(self, subscription: Subscription) -> float:
        return subscription.interval(self.settings.feed_interval)

    # -- polling ---------------------------------------------------------------------------
    @property
    def poller(self) -> Poller:
        if self._poller is None:
            library = self._library or Library.open(self.settings)
            self._library = library
            options = components.load_options(self.settings)
            self._poller = Poller(
                self.state,
                Fetcher(options.fetch, options.max_file_bytes),
                library.ingest_loaded,
                options,
                self.settings.feed_interval,
            )
        return self._poller

    def poll(
        self,
        urls: list[str] | None = None,
        stop: threading.Event | None = None,
        on_poll: Callable[[FeedPoll], None] | None = None,
    ) -> list[FeedPoll]:
        """Poll the named subscriptions (default: all) once, now. LoadError for a URL that
        is not subscribed; PollerBusyError when another process is polling."""
        subscriptions = self.subscriptions()
        if urls:
            known = {s.url for s in subscriptions}
            missing = [u for u in urls if u not in known]
            if missing:
                raise LoadError(f"not subscribed: {', '.join(missing)} (assistant feeds add URL)")
            subscriptions = [s for s in subscriptions if s.url in urls]
        return self.poller.poll(subscriptions, stop, on_poll)

    def watch(
        self,
        stop: threading.Event,
        on_poll: Callable[[FeedPoll], None] | None = None,
        on_busy: Callable[[PollerBusyError], None] | None = None,
    ) -> None:
        """Poll each subscription when it is due until ``stop`` is set."""
        self.poller.watch(stop, on_poll, on_busy)

    def watch_logged(self, stop: threading.Event) -> None:
        """The watch loop as a server runs it on a thread (``assistant serve`` with
        ``feed_watch_in_serve``): each poll one log line, a poller that breaks logged and
        stopped while the server goes on answering."""
        try:
            self.watch(
                stop,
                on_poll=lambda p: log.info("feed %s: %s", p.url, p.outcome()),
                on_busy=lambda e: log.info("%s", e),
            )
        except Exception:
            log.exception("the feed poller stopped")
