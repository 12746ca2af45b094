"""The feed poller's memory: ``<data_dir>/feeds.sqlite3``.

What it keeps: the subscriptions (URL, their own interval, the last poll, success, error and
outcome), the validators of every document read (ETag, Last-Modified, a child sitemap's
lastmod) and every item seen (its marker, article id, the page's validators, whether its
article is in the index). Each write is one SQLite transaction, so a poll killed at any
point (even ``kill -9``) leaves the state of its last finished step: items are recorded only
once their articles are stored, and a listing's validators only once all its items are, so
a restart fetches again what was not finished and nothing that was.

One process polls a data dir at a time (``feeds.lock``, an ``flock`` the kernel drops when
its holder dies); any process may read the state or change the subscriptions meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from index.errors import AssistantError
from index.feeds.sources import Validators

STATE_FILE = "feeds.sqlite3"
LOCK_FILE = "feeds.lock"
MAX_TRIES = 3  # polls an item's page is tried in before the item is left as it is
MAX_PROBLEMS = 50  # problem lines kept of a feed's last poll

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, every REAL, added REAL NOT NULL,
    last_poll REAL, last_success REAL, last_error TEXT NOT NULL DEFAULT '',
    last_result TEXT NOT NULL DEFAULT '', problems TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS documents (
    feed TEXT NOT NULL, url TEXT NOT NULL, etag TEXT, last_modified TEXT, lastmod TEXT,
    PRIMARY KEY (feed, url)
);
CREATE TABLE IF NOT EXISTS items (
    feed TEXT NOT NULL, key TEXT NOT NULL, marker TEXT NOT NULL, article_id TEXT,
    etag TEXT, last_modified TEXT, status TEXT NOT NULL, tries INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '', seen REAL NOT NULL,
    PRIMARY KEY (feed, key)
);
"""


class PollerBusyError(AssistantError):
    """Another process is polling the feeds of this data dir."""


def _when(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value is not None else None


@dataclass(frozen=True)
class Subscription:
    """A subscribed feed (or sitemap, or page) and how its polls went."""

    url: str
    every: float | None  # seconds between polls; None: the feed_interval setting
    added: datetime
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str = ""  # the last poll's error, "" when it went through
    last_result: str = ""  # the last poll's outcome, "new 1, updated 0, …"
    problems: list[str] = field(default_factory=list)  # the last poll's problem lines
    items: int = 0  # items seen in all
    failing: int = 0  # items whose article is not in the index (tried again)

    def interval(self, default: float) -> float:
        return self.every if self.every is not None else default

    def next_poll(self, default: float) -> datetime:
        """When it is due: at once when never polled."""
        if self.last_poll is None:
            return self.added
        return _when(self.last_poll.timestamp() + self.interval(default)) or self.added


@dataclass
class ItemState:
    """What the last poll that saw an item left: ``status`` is ``page`` (the page's text is
    in the index), ``feed`` (the feed's own text is; the page is tried again) or ``failed``
    (nothing is; tried again) until ``tries`` reaches MAX_TRIES."""

    key: str
    marker: str
    article_id: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    status: str = "failed"
    tries: int = 0
    error: str = ""

    @property
    def settled(self) -> bool:
        """Nothing more to do until the listing says it changed."""
        return self.status == "page" or self.tries >= MAX_TRIES


class FeedState:
    """The state file of one data dir; every method is one short transaction."""

    def __init__(self, data_dir: Path | str) -> None:
        self.dir = Path(data_dir)
        self.path = self.dir / STATE_FILE

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.executescript(_SCHEMA)
            with conn:  # one transaction: committed whole, or rolled back
                yield conn
        finally:
            conn.close()

    # -- subscriptions ---------------------------------------------------------------------
    def add(self, url: str, every: float | None = None) -> Subscription:
        """Subscribe (again: the interval is updated, the history kept)."""
        with self._db() as db:
            db.execute(
                "INSERT INTO feeds (url, every, added) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET every = excluded.every",
                (url, every, time.time()),
            )
        found = self.get(url)
        assert found is not None
        return found

    def remove(self, url: str) -> bool:
        """Forget a subscription and what its polls saw (its articles stay indexed)."""
        with self._db() as db:
            gone = db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount
            db.execute("DELETE FROM documents WHERE feed = ?", (url,))
            db.execute("DELETE FROM items WHERE feed = ?", (url,))
        return bool(gone)

    def subscriptions(self) -> list[Subscription]:
        """Every subscription, in the order they were added."""
        if not self.path.exists():
            return []  # nothing subscribed yet: no file is made for reading
        with self._db() as db:
            rows = db.execute(
                "SELECT f.url, f.every, f.added, f.last_poll, f.last_success, f.last_error, "
                "f.last_result, f.problems, COUNT(i.key), "
                "COALESCE(SUM(i.status != 'page' AND i.tries < ?), 0) "
                "FROM feeds f LEFT JOIN items i ON i.feed = f.url "
                "GROUP BY f.url ORDER BY f.added, f.url",
                (MAX_TRIES,),
            ).fetchall()
        return [
            Subscription(
                url=r[0],
                every=r[1],
                added=_when(r[2]) or datetime.now(UTC),
                last_poll=_when(r[3]),
                last_success=_when(r[4]),
                last_error=r[5],
                last_result=r[6],
                problems=json.loads(r[7]),
                items=r[8],
                failing=r[9],
            )
            for r in rows
        ]

    def get(self, url: str) -> Subscription | None:
        return next((s for s in self.subscriptions() if s.url == url), None)

    # -- what polls saw --------------------------------------------------------------------
    def documents(self, feed: str) -> dict[str, Validators]:
        with self._db() as db:
            rows = db.execute(
                "SELECT url, etag, last_modified, lastmod FROM documents WHERE feed = ?", (feed,)
            ).fetchall()
        return {r[0]: Validators(r[1], r[2], r[3]) for r in rows}

    def items(self, feed: str) -> dict[str, ItemState]:
        with self._db() as db:
            rows = db.execute(
                "SELECT key, marker, article_id, etag, last_modified, status, tries, error "
                "FROM items WHERE feed = ?",
                (feed,),
            ).fetchall()
        return {r[0]: ItemState(*r) for r in rows}

    def save_items(self, feed: str, items: list[ItemState]) -> None:
        """Record items whose articles are stored (or whose failures are final for now)."""
        now = time.time()
        with self._db() as db:
            db.executemany(
                "INSERT OR REPLACE INTO items (feed, key, marker, article_id, etag, "
                "last_modified, status, tries, error, seen) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (feed, i.key, i.marker, i.article_id, i.etag, i.last_modified, i.status,
                     i.tries, i.error, now)
                    for i in items
                ],
            )  # fmt: skip

    def finish(
        self,
        feed: str,
        started: float,
        *,
        error: str,
        result: str,
        problems: list[str],
        documents: dict[str, Validators] | None,
    ) -> None:
        """Record a poll's outcome; ``documents``, the validators to make the next poll's
        reads conditional, only when everything it listed is settled."""
        with self._db() as db:
            db.execute(
                "UPDATE feeds SET last_poll = ?, last_error = ?, last_result = ?, problems = ?, "
                "last_success = CASE WHEN ? = '' THEN ? ELSE last_success END WHERE url = ?",
                (started, error, result, json.dumps(problems[:MAX_PROBLEMS]), error, time.time(),
                 feed),
            )  # fmt: skip
            if documents is not None:
                db.execute("DELETE FROM documents WHERE feed = ?", (feed,))
                db.executemany(
                    "INSERT INTO documents (feed, url, etag, last_modified, lastmod) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(feed, u, v.etag, v.last_modified, v.lastmod) for u, v in documents.items()],
                )

    @contextlib.contextmanager
    def polling(self) -> Iterator[None]:
        """Hold the data dir's poll lock for the block; PollerBusyError when another
        process holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / LOCK_FILE).open("a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise PollerBusyError(
                    f"the feeds of {self.dir} are being polled by {holder}; this poll is "
                    "skipped (one poller per data dir)"
                ) from None
            try:
                fh.seek(0)
                fh.truncate()
                fh.write(f"process {os.getpid()}\n")
                fh.flush()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
