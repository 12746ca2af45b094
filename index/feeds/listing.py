"""What a fetched URL holds: an RSS/Atom feed, a sitemap (``urlset``, Google News sitemaps,
plain-text URL lists), a sitemap index, or an article page; and the entries a feed or sitemap
lists, each an :class:`Entry` that says where its article is and how to tell it changed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from index.errors import LoadError
from index.feeds.http import Response, gunzip, is_url

Kind = Literal["feed", "sitemap", "sitemapindex", "page"]
_FIRST_TAG = re.compile(rb"<([A-Za-z][\w:.-]*)")
_ROOTS: dict[str, Kind] = {
    "rss": "feed",
    "feed": "feed",
    "rdf": "feed",
    "urlset": "sitemap",
    "sitemapindex": "sitemapindex",
    "html": "page",
}
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


@dataclass(frozen=True)
class Entry:
    """One article a feed or sitemap lists, with what the listing says about it."""

    url: str  # the article page ("" when a feed entry has no link)
    key: str  # the entry's identity in its listing: the URL, else the feed's guid
    title: str | None = None
    published: str | None = None
    modified: str | None = None
    authors: tuple[str, ...] = ()
    html: str = ""  # the feed's own content (full text or summary); "" for a sitemap
    source: str | None = None  # the feed's title, a news sitemap's publication name
    version: str = ""  # anything else that says it changed (a subscribed page's own body)

    @property
    def marker(self) -> str:
        """Changes when the listing says the article changed: its dates, title or content
        (a feed) or lastmod (a sitemap). An unchanged marker is not fetched again."""
        payload = [self.url, self.title, self.published, self.modified, self.html, self.version]
        return hashlib.sha1(json.dumps(payload).encode()).hexdigest()[:16]


@dataclass
class Listing:
    """A parsed document: the entries of a feed or sitemap, or the sitemaps of an index."""

    kind: Kind
    entries: list[Entry] = field(default_factory=list)
    sitemaps: list[tuple[str, str | None]] = field(default_factory=list)  # (url, lastmod)
    warnings: list[str] = field(default_factory=list)


def page_entry(response: Response, key: str) -> Entry:
    """A fetched article page as the one entry of its own listing."""
    digest = hashlib.sha1(response.body).hexdigest()[:16]
    return Entry(url=response.url, key=key, version=digest)


def sniff(response: Response) -> Kind:
    """What the document is, by its first element, else its content type."""
    body = response.body.lstrip(b"\xef\xbb\xbf \t\r\n")
    first = _FIRST_TAG.search(body[:4096])
    if first is not None:
        name = first.group(1).decode("ascii", "replace").rpartition(":")[2].lower()
        if name in _ROOTS:
            return _ROOTS[name]
    kind = response.content_type
    if kind in ("text/html", "application/xhtml+xml"):
        return "page"
    if kind in _FEED_TYPES:
        return "feed"
    if kind == "text/plain" and _url_lines(response.body) is not None:
        return "sitemap"
    raise LoadError(
        f"not a feed, a sitemap or an HTML page (content type {kind or 'unknown'})", response.url
    )


def read_listing(response: Response, max_bytes: int) -> Listing:
    """The entries (or child sitemaps) of a fetched feed or sitemap; a page is a listing of
    kind ``page`` with no entries. LoadError for a document that cannot be read as one."""
    if response.body[:2] == b"\x1f\x8b":  # sitemap.xml.gz served as a file, not encoded
        body = gunzip(response.body, max_bytes, response.url)
        response = dataclasses.replace(response, body=body)
    kind = sniff(response)
    if kind == "feed":
        return _feed(response)
    if kind == "page":
        return Listing("page")
    lines = _url_lines(response.body) if response.content_type == "text/plain" else None
    if lines is not None:
        return Listing("sitemap", [Entry(url=u, key=u) for u in lines])
    return _sitemap(response)


def _feed(response: Response) -> Listing:
    import feedparser

    from index.web_files import html_fragment_to_text

    parsed: Any = feedparser.parse(response.body)
    bozo = getattr(parsed, "bozo_exception", None) if getattr(parsed, "bozo", 0) else None
    if not parsed.entries:
        reason = f" ({bozo})" if bozo else ""
        raise LoadError(f"malformed feed or no entries{reason}", response.url)
    listing = Listing("feed")
    if bozo is not None:
        listing.warnings.append(f"{response.url}: the feed is malformed ({bozo}); read anyway")
    title = parsed.feed.get("title") or None
    for entry in parsed.entries:
        link = str(entry.get("link") or "").strip()
        guid = str(entry.get("id") or "").strip()
        content = entry.get("content") or []
        html = content[0].get("value", "") if content else entry.get("summary", "")
        text = html_fragment_to_text(str(html or ""))
        if not is_url(link) and not text.strip():
            continue  # nothing to fetch and nothing to read
        listing.entries.append(
            Entry(
                url=link if is_url(link) else "",
                key=link
                if is_url(link)
                else f"guid:{guid or hashlib.sha1(text.encode()).hexdigest()}",
                title=entry.get("title") or None,
                published=entry.get("published") or None,
                modified=entry.get("updated") or None,
                authors=tuple(
                    a.get("name", "")
                    for a in entry.get("authors", [])
                    if isinstance(a, dict) and a.get("name")
                ),
                html=text,
                source=title,
            )
        )
    return listing


def _sitemap(response: Response) -> Listing:
    from lxml import etree

    # a sitemap is untrusted XML: no entities expanded, nothing fetched, no huge trees
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(response.body, parser)
    except etree.XMLSyntaxError as exc:
        raise LoadError(f"malformed sitemap ({exc})", response.url) from exc
    local = etree.QName(root).localname
    listing = Listing("sitemapindex" if local == "sitemapindex" else "sitemap")
    for node in root:
        if not isinstance(node.tag, str):
            continue  # comments, processing instructions
        fields = _fields(node)
        loc = fields.get("loc", "")
        if not is_url(loc):
            continue
        if listing.kind == "sitemapindex":
            listing.sitemaps.append((loc, fields.get("lastmod")))
        else:
            listing.entries.append(
                Entry(
                    url=loc,
                    key=loc,
                    title=fields.get("title"),  # news:title
                    published=fields.get("publication_date"),
                    modified=fields.get("lastmod") or fields.get("publication_date"),
                    source=fields.get("name"),  # news:publication/news:name
                )
            )
    return listing


def _fields(node: Any) -> dict[str, str]:
    """The text of every element under ``node``, by local name (news: and image: too)."""
    from lxml import etree

    found: dict[str, str] = {}
    for child in node.iter():
        if child is node or not isinstance(child.tag, str):
            continue
        text = (child.text or "").strip()
        if text:
            found.setdefault(etree.QName(child).localname, text)
    return found


def _url_lines(body: bytes) -> list[str] | None:
    """A plain-text sitemap's URLs (one a line), or None when it is not one."""
    try:
        lines = [line.strip() for line in body.decode("utf-8-sig").splitlines() if line.strip()]
    except UnicodeDecodeError:
        return None
    return lines if lines and all(is_url(line) for line in lines) else None


def newest_first(entries: list[Entry]) -> list[Entry]:
    """A sitemap's entries by their date, newest first (undated last), for the item limit."""
    from index.articles import parse_published

    def when(entry: Entry) -> float:
        try:
            parsed = parse_published(entry.modified or entry.published)
        except ValueError:
            return float("-inf")
        return parsed.timestamp() if parsed else float("-inf")

    return sorted(entries, key=when, reverse=True)
