"""Polite HTTP for feeds, sitemaps and article pages.

A :class:`Fetcher` is what every request of ``assistant ingest URL`` and of the feed poller
goes through, so the rules are kept in one place:

- a User-Agent that names the tool (``feed_user_agent``);
- robots.txt read once an hour per host and obeyed, its Crawl-delay too. As RFC 9309 says, a
  robots.txt that is missing (any 4xx) allows everything, and one that cannot be read (5xx,
  no answer) allows nothing until it can be;
- one request at a time per host, at least ``host_delay`` seconds apart;
- a timeout on every request, and the ``max_file_mb`` limit on every body;
- 429 and 5xx tried again ``retries`` times, after the server's Retry-After (a host that asks
  for longer than ``max_wait`` is left alone until then) or an exponential backoff;
- conditional GET: the ETag and Last-Modified of the last fetch are sent back, and a 304 is a
  result (:attr:`Response.not_modified`), not an error.

Plain ``urllib``: nothing beyond the standard library is needed for this.
"""

from __future__ import annotations

import email.utils
import threading
import time
import urllib.error
import urllib.request
import urllib.robotparser
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException, HTTPResponse
from urllib.parse import urlsplit

from index.errors import LoadError

DEFAULT_USER_AGENT = (
    "newsroom-assistant/0.1 (feed reader; https://pypi.org/project/newsroom-assistant/)"
)
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB
ROBOTS_TTL = 3600.0  # seconds a host's robots.txt is trusted
ROBOTS_RETRY = 300.0  # seconds before an unreadable robots.txt is tried again
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchOptions:
    """How politely to fetch; every field is a setting (``feed_*``)."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 20.0  # seconds to connect and for each read; the whole body gets 4x
    host_delay: float = 1.0  # seconds between two requests to one host
    retries: int = 2  # further tries of a request answered 429 or 5xx
    backoff: float = 2.0  # seconds before the first such retry without Retry-After, doubling
    max_wait: float = 120.0  # the longest Retry-After or Crawl-delay waited for in a run


@dataclass(frozen=True)
class Response:
    """A fetched document (status 200) or the news that it did not change (304)."""

    url: str  # after redirects
    status: int
    body: bytes = b""
    content_type: str = ""
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(LoadError):
    """A URL could not be had: its status (when the server answered) and why, in words."""

    def __init__(self, message: str, url: str, status: int | None = None) -> None:
        super().__init__(message, url)
        self.status = status


def check_url(url: str) -> str:
    """``url`` stripped, when it is an http(s) URL with a host; else a LoadError."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise LoadError(f"not a URL ({exc})", url) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadError("not an http(s) URL with a host", url)
    return url


def is_url(value: object) -> bool:
    """Whether an ingest argument names a URL rather than a file."""
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def gunzip(data: bytes, limit: int, url: str) -> bytes:
    """``data`` gunzipped, refusing (without inflating it all) more than ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FetchError(f"corrupt gzip body ({exc})", url) from exc
    if len(out) > limit:
        raise FetchError(_too_big(limit), url)
    return out


def _too_big(limit: int) -> str:
    return f"larger than {limit // (1024 * 1024)} MB (setting max_file_mb)"


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks for (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class _Again(Exception):
    """A 429 or 5xx: worth another try after ``wait`` seconds (None: the backoff's)."""

    def __init__(self, status: int, reason: str, wait: float | None) -> None:
        super().__init__(f"HTTP {status} {reason}".strip())
        self.status, self.wait = status, wait


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0  # monotonic time before which no request goes out
    left_alone_until: float = 0.0  # wall time: a Retry-After longer than max_wait
    robots: urllib.robotparser.RobotFileParser | None = None
    robots_problem: str = ""  # robots.txt could not be read: nothing is fetched
    robots_until: float = 0.0  # monotonic time the robots verdict is kept until


class Fetcher:
    """Fetches URLs within the rules above. Safe to share between threads: requests to one
    host take turns, other hosts' go on."""

    def __init__(
        self,
        options: FetchOptions | None = None,
        max_bytes: int = 20 * 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options or FetchOptions()
        self.max_bytes = max_bytes
        self.requests = 0  # every request sent, robots.txt included (the poll's cost)
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._guard = threading.Lock()
        # urllib follows redirects itself; its default error handler raises on 304 and 4xx
        self._opener = urllib.request.build_opener()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Response:
        """``url`` fetched (or found unchanged, with the validators of the last fetch);
        FetchError when it cannot be had."""
        url = check_url(url)
        parts = urlsplit(url)
        host = self._host(f"{parts.scheme}://{parts.netloc}")
        headers = {"If-None-Match": etag, "If-Modified-Since": last_modified}
        with host.lock:
            if time.time() < host.left_alone_until:
                when = time.strftime("%H:%M:%S", time.localtime(host.left_alone_until))
                raise FetchError(f"the server asked to be left alone until {when}", url)
            self._check_robots(host, f"{parts.scheme}://{parts.netloc}", url)
            return self._with_retries(host, url, {k: v for k, v in headers.items() if v})

    # -- politeness ------------------------------------------------------------------------
    def _host(self, origin: str) -> _Host:
        with self._guard:
            return self._hosts.setdefault(origin, _Host())

    def _wait_turn(self, host: _Host) -> None:
        pause = host.next_at - time.monotonic()
        if pause > 0:
            self._sleep(pause)

    def _delay(self, host: _Host) -> float:
        crawl = host.robots.crawl_delay(self.options.user_agent) if host.robots else None
        return max(self.options.host_delay, min(float(crawl or 0), self.options.max_wait))

    def _check_robots(self, host: _Host, origin: str, url: str) -> None:
        if time.monotonic() >= host.robots_until:
            self._read_robots(host, origin)
        if host.robots_problem:
            raise FetchError(
                f"robots.txt could not be read ({host.robots_problem}); nothing is fetched "
                "from this host until it can be (RFC 9309)",
                url,
            )
        if host.robots is not None and not host.robots.can_fetch(self.options.user_agent, url):
            raise FetchError("disallowed by the site's robots.txt", url)

    def _read_robots(self, host: _Host, origin: str) -> None:
        robots_url = f"{origin}/robots.txt"
        host.robots, host.robots_problem = None, ""
        host.robots_until = time.monotonic() + ROBOTS_TTL
        try:
            res = self._with_retries(host, robots_url, {}, limit=ROBOTS_MAX_BYTES, whole=False)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return  # no robots.txt: everything is allowed
            host.robots_problem = exc.message
            host.robots_until = time.monotonic() + ROBOTS_RETRY
            return
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(res.body.decode("utf-8", "replace").splitlines())
        host.robots = parser

    # -- requests --------------------------------------------------------------------------
    def _with_retries(
        self,
        host: _Host,
        url: str,
        headers: dict[str, str],
        limit: int | None = None,
        whole: bool = True,
    ) -> Response:
        """One request, tried again on 429/5xx; the host's next turn set after each."""
        tries = self.options.retries + 1
        for attempt in range(tries):
            self._wait_turn(host)
            try:
                return self._request(url, headers, limit or self.max_bytes, whole)
            except _Again as again:
                wait = again.wait
                if wait is not None and wait > self.options.max_wait:
                    host.left_alone_until = time.time() + wait
                    raise FetchError(
                        f"{again} and asked to wait {wait:.0f} s; tried again later",
                        url,
                        again.status,
                    ) from None
                if attempt == tries - 1:
                    raise FetchError(f"{again} after {tries} tries", url, again.status) from None
                backoff = self.options.backoff * (2**attempt)
                host.next_at = time.monotonic() + max(wait if wait is not None else backoff, 0)
            finally:
                host.next_at = max(host.next_at, time.monotonic() + self._delay(host))
        raise AssertionError("unreachable")

    def _request(self, url: str, headers: dict[str, str], limit: int, whole: bool) -> Response:
        request = urllib.request.Request(
            url,
            headers={"User-Agent": self.options.user_agent, "Accept-Encoding": "gzip", **headers},
        )
        self.requests += 1
        try:
            with self._opener.open(request, timeout=self.options.timeout) as res:
                return self._read(res, url, limit, whole)
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return Response(url, 304, etag=headers.get("If-None-Match"),
                                last_modified=headers.get("If-Modified-Since"))  # fmt: skip
            if exc.code == 429 or exc.code >= 500:
                raise _Again(
                    exc.code, exc.reason, _retry_after(exc.headers.get("Retry-After"), time.time())
                ) from None
            raise FetchError(f"HTTP {exc.code} {exc.reason}".strip(), url, exc.code) from None
        except (TimeoutError, OSError, HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise FetchError(f"no answer within {self.options.timeout:g} s", url) from None
            raise FetchError(f"cannot be reached ({reason})", url) from None

    def _read(self, res: HTTPResponse, url: str, limit: int, whole: bool) -> Response:
        """The body, within ``limit`` bytes and four timeouts in all; ``whole=False`` keeps
        what fits and drops the rest (robots.txt), else a larger body is an error."""
        deadline = time.monotonic() + 4 * self.options.timeout
        chunks, size = [], 0
        while chunk := res.read(_CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if not whole:
                    break
                raise FetchError(_too_big(limit), url)
            if time.monotonic() > deadline:
                raise FetchError(f"body not read within {4 * self.options.timeout:g} s", url)
        body = b"".join(chunks)[: limit if not whole else None]
        if (res.headers.get("Content-Encoding") or "").lower() in ("gzip", "x-gzip"):
            body = gunzip(body, limit, url)
        return Response(
            url=res.geturl() or url,
            status=res.status,
            body=body,
            content_type=res.headers.get_content_type(),
            charset=res.headers.get_content_charset(),
            etag=res.headers.get("ETag"),
            last_modified=res.headers.get("Last-Modified"),
        )
