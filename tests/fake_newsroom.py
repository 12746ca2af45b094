"""A newsroom's website on 127.0.0.1 for the feed tests and bench/feeds.py: RSS and Atom feeds,
a sitemap, a sitemap index with a Google News sitemap, article pages, robots.txt.

It speaks real HTTP (``http.server``) the way a news site does: every feed and page has an
ETag and a Last-Modified and answers a matching conditional GET with 304; ``fail`` scripts
statuses (a 429 with Retry-After, a 500) for a path; ``hold`` keeps a path's requests waiting
until released. Every request is counted by path (``hits``) with its User-Agent and time, so
tests count on the server side what a poll fetched.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TOWNS = ["Harbor", "Millbrook", "Eastvale", "Kingsford", "Ridgeway", "Lakeside", "Norwood"]
_TOPICS = ["bridge repairs", "a school budget", "the water plant", "a bus route", "a new park"]
ROBOTS = "User-agent: *\nDisallow: /private/\n"


@dataclass
class Story:
    """One article: its page holds ``paragraphs``; the feed carries only ``summary``."""

    slug: str
    title: str
    paragraphs: list[str]
    summary: str
    published: datetime
    modified: datetime | None = None
    author: str = "Dana Reyes"
    folder: str = "articles"  # "private" is disallowed by robots.txt

    @property
    def path(self) -> str:
        return f"/{self.folder}/{self.slug}.html"

    def revise(self, sentence: str, when: datetime) -> None:
        """A correction: a new first paragraph and a modified date."""
        self.paragraphs[0] = sentence
        self.modified = when


def make_story(n: int, folder: str = "articles") -> Story:
    """A distinct story: every sentence names its number, town and topic."""
    town, topic = _TOWNS[n % len(_TOWNS)], _TOPICS[n % len(_TOPICS)]
    paragraphs = [
        f"The {town} council voted on Tuesday to approve {topic}, story number {n}, after a "
        f"long public hearing that ran past midnight in the old town hall.",
        f"Supporters of the plan for {town} said it would cost about {n + 3} million dollars "
        f"over five years and would be paid for from the reserve fund.",
        f"Opponents argued that {topic} had been promised before and never delivered, and "
        f"asked the council to wait for an independent audit of story {n}.",
        f"The mayor of {town} said work would start in the spring and that residents could "
        f"follow the progress on the city's website each week.",
    ]
    return Story(
        slug=f"story-{n}",
        title=f"{town} council approves {topic} (story {n})",
        paragraphs=paragraphs,
        summary=f"Summary only: {town} decides on {topic}.",
        published=datetime(2025, 6, 1, 9, 0, tzinfo=UTC) + timedelta(hours=n),
        folder=folder,
    )


@dataclass
class Newsroom:
    """The site's content; the server reads it on every request, so tests may change it."""

    stories: dict[str, Story] = field(default_factory=dict)
    feeds: dict[str, list[str]] = field(default_factory=dict)  # feed name -> story slugs
    broken: dict[str, bytes] = field(default_factory=dict)  # path -> body served as is
    fail: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    always_fail: dict[str, int] = field(default_factory=dict)  # path -> status, every time
    hold: dict[str, threading.Event] = field(default_factory=dict)  # path -> released when set
    robots: str = ROBOTS
    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, path, user agent)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, story: Story, feed: str | None = "news") -> Story:
        self.stories[story.slug] = story
        if feed is not None:
            self.feeds.setdefault(feed, []).append(story.slug)
        return story

    def url(self, path: str) -> str:
        return self.base + path

    def page_hits(self) -> int:
        return sum(n for p, n in self.hits.items() if p.endswith(".html"))

    # -- documents -------------------------------------------------------------------------
    def document(self, path: str) -> tuple[str, str, datetime | None] | None:
        """(body, content type, last modified) of a path, or None for a 404."""
        if path == "/robots.txt":
            return self.robots, "text/plain", None
        if path in self.broken:
            return self.broken[path].decode("utf-8", "replace"), "application/rss+xml", None
        if path.startswith("/feeds/") and path.endswith(".xml"):
            name = path[len("/feeds/") : -len(".xml")]
            if name in self.feeds:
                return self.rss(name), "application/rss+xml", self._newest(self.feeds[name])
        if path.startswith("/atom/") and path.endswith(".xml"):
            name = path[len("/atom/") : -len(".xml")]
            if name in self.feeds:
                return self.atom(name), "application/atom+xml", self._newest(self.feeds[name])
        if path == "/sitemap.xml":
            return self.sitemap(), "application/xml", None
        if path == "/sitemap_index.xml":
            return self.sitemap_index(), "application/xml", None
        if path == "/sitemaps/news.xml":
            return self.news_sitemap(), "application/xml", None
        for story in self.stories.values():
            if story.path == path:
                return self.page(story), "text/html; charset=utf-8", story.modified
        return None

    def _newest(self, slugs: list[str]) -> datetime | None:
        dates = [self.stories[s].modified or self.stories[s].published for s in slugs]
        return max(dates, default=None)

    def rss(self, name: str) -> str:
        items = []
        for slug in self.feeds[name]:
            s = self.stories[slug]
            updated = f"<atom:updated>{s.modified.isoformat()}</atom:updated>" if s.modified else ""
            items.append(
                f"<item><title>{escape(s.title)}</title><link>{self.url(s.path)}</link>"
                f"<guid>{self.url(s.path)}</guid><description>{escape(s.summary)}</description>"
                f"<pubDate>{format_datetime(s.published)}</pubDate>{updated}</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>Newsroom {name}</title><link>{self.base}/</link>"
            f"<description>The {name} feed</description>{''.join(items)}</channel></rss>"
        )

    def atom(self, name: str) -> str:
        entries = []
        for slug in self.feeds[name]:
            s = self.stories[slug]
            entries.append(
                f"<entry><title>{escape(s.title)}</title>"
                f'<link href="{self.url(s.path)}"/><id>{self.url(s.path)}</id>'
                f"<published>{s.published.isoformat()}</published>"
                f"<updated>{(s.modified or s.published).isoformat()}</updated>"
                f"<summary>{escape(s.summary)}</summary>"
                f"<author><name>{escape(s.author)}</name></author></entry>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Newsroom {name} (Atom)</title><id>{self.base}/atom/{name}</id>"
            f"<updated>2025-06-01T00:00:00Z</updated>{''.join(entries)}</feed>"
        )

    def sitemap(self) -> str:
        urls = "".join(
            f"<url><loc>{self.url(s.path)}</loc>"
            f"<lastmod>{(s.modified or s.published).isoformat()}</lastmod></url>"
            for s in self.stories.values()
            if s.folder == "articles"
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )

    def sitemap_index(self) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.url('/sitemaps/news.xml')}</loc></sitemap></sitemapindex>"
        )

    def news_sitemap(self) -> str:
        urls = "".join(
            f"<url><loc>{self.url(s.path)}</loc><news:news><news:publication>"
            "<news:name>Newsroom Daily</news:name><news:language>en</news:language>"
            f"</news:publication><news:publication_date>{s.published.isoformat()}"
            f"</news:publication_date><news:title>{escape(s.title)}</news:title>"
            "</news:news></url>"
            for s in self.stories.values()
            if s.folder == "articles"
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>"
        )

    def page(self, s: Story) -> str:
        when = (s.modified or s.published).isoformat()
        body = "".join(f"<p>{escape(p)}</p>" for p in s.paragraphs)
        return (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(s.title)} | Newsroom Daily</title>"
            f"<meta property='og:title' content='{escape(s.title)}'>"
            f"<meta property='og:site_name' content='Newsroom Daily'>"
            f"<meta name='author' content='{escape(s.author)}'>"
            f"<meta property='article:published_time' content='{s.published.isoformat()}'>"
            f"<meta property='article:modified_time' content='{when}'>"
            f"<link rel='canonical' href='{self.url(s.path)}'></head><body>"
            "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
            f"<article><h1>{escape(s.title)}</h1>{body}</article>"
            "<footer>Copyright Newsroom Daily. Subscribe to our newsletter.</footer>"
            "</body></html>"
        )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def do_GET(self) -> None:
        room = self.server.room
        path = self.path.split("?")[0]
        with room.lock:
            room.hits[path] += 1
            room.log.append((time.monotonic(), path, self.headers.get("User-Agent", "")))
            scripted = room.fail.get(path)
            status = scripted.pop(0) if scripted else None
        if path in room.hold:
            room.hold[path].wait(30)
        if status is None and path in room.always_fail:
            status = (room.always_fail[path], {})
        if status is not None:
            self._send(status[0], b"try later", "text/plain", status[1])
            return
        found = room.document(path)
        if found is None:
            self._send(404, b"not found", "text/plain", {})
            return
        text, kind, modified = found
        body = text.encode("utf-8")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag}
        if modified is not None:
            headers["Last-Modified"] = format_datetime(modified, usegmt=True)
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", kind, headers)
            return
        self._send(200, body, kind, headers)

    def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    room: Newsroom


def serve(room: Newsroom) -> _Server:
    """Serve ``room`` on a free port of 127.0.0.1 on a thread; ``shutdown()`` to stop."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.room = room
    room.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="newsroom", daemon=True).start()
    return server
