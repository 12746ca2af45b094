"""A URL's articles: the entries of a feed, a sitemap or a sitemap index (its sitemaps
read in turn), or the page itself; and ``assistant ingest URL``'s items from them.

:func:`gather` reads the listing, conditionally when it is given the validators of the last
read (the poller's state), and :func:`load_url` turns a URL into ingest items, one per
article or problem, as a file's loader does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from index.errors import LoadError
from index.feeds.http import Fetcher, Response
from index.feeds.listing import Entry, Kind, Listing, newest_first, page_entry, read_listing
from index.feeds.pages import fetch_item
from index.loaded import Loaded, LoadOptions

MAX_SITEMAPS = 200  # child sitemaps read from one index, nested indexes included
MAX_DEPTH = 2  # an index of indexes of sitemaps, and no deeper


@dataclass(frozen=True)
class Validators:
    """What the last read of a document left to make the next one conditional."""

    etag: str | None = None
    last_modified: str | None = None
    lastmod: str | None = None  # a child sitemap's lastmod in its index


@dataclass
class Gathered:
    """A URL read: its entries, or its page; the validators of every document read."""

    url: str
    kind: Kind | None = None
    entries: list[Entry] = field(default_factory=list)
    page: Response | None = None  # the URL is an article page
    unchanged: bool = False  # the URL answered 304
    documents: dict[str, Validators] = field(default_factory=dict)
    problems: list[Loaded] = field(default_factory=list)  # child sitemaps not read
    warnings: list[str] = field(default_factory=list)


def gather(
    fetcher: Fetcher,
    url: str,
    max_items: int,
    known: Mapping[str, Validators] | None = None,
) -> Gathered:
    """The entries ``url`` lists (at most ``max_items``: a feed's first, a sitemap's
    newest). LoadError when the URL itself cannot be had or read."""
    known = known or {}
    last = known.get(url, Validators())
    response = fetcher.get(url, last.etag, last.last_modified)
    found = Gathered(url, documents={url: Validators(response.etag, response.last_modified)})
    if response.not_modified:
        found.unchanged = True
        return found
    listing = read_listing(response, fetcher.max_bytes)
    found.kind = listing.kind
    found.warnings.extend(listing.warnings)
    if listing.kind == "page":
        found.page = response
        return found
    found.entries.extend(listing.entries)
    _read_sitemaps(fetcher, listing, known, found)
    if listing.kind != "feed":
        found.entries = newest_first(found.entries)
    first: dict[str, Entry] = {}
    for entry in found.entries:
        first.setdefault(entry.key, entry)  # a URL listed twice is read once
    unique = list(first.values())
    if len(unique) > max_items:
        found.warnings.append(
            f"{url}: lists {len(unique):,} articles; the first {max_items:,} were read "
            "(setting feed_max_items)"
        )
    found.entries = unique[:max_items]
    return found


def _read_sitemaps(
    fetcher: Fetcher, listing: Listing, known: Mapping[str, Validators], found: Gathered
) -> None:
    """The sitemaps of an index, breadth first; one whose lastmod in the index and whose
    ETag or Last-Modified say it did not change is not read again."""
    todo = [(child, lastmod, 1) for child, lastmod in listing.sitemaps]
    while todo and len(found.documents) <= MAX_SITEMAPS:
        child, lastmod, depth = todo.pop(0)
        if child in found.documents:
            continue
        last = known.get(child, Validators())
        if lastmod and last.lastmod == lastmod and (last.etag or last.last_modified):
            found.documents[child] = last  # its index says it has not changed since
            continue
        try:
            response = fetcher.get(child, last.etag, last.last_modified)
            if response.not_modified:
                found.documents[child] = Validators(last.etag, last.last_modified, lastmod)
                continue
            inner = read_listing(response, fetcher.max_bytes)
        except LoadError as exc:
            found.problems.append(Loaded(child, error=exc))
            continue
        if inner.kind not in ("sitemap", "sitemapindex"):
            found.problems.append(Loaded(child, error=LoadError("not a sitemap", child)))
            continue
        found.documents[child] = Validators(response.etag, response.last_modified, lastmod)
        found.entries.extend(inner.entries)
        if depth < MAX_DEPTH:
            todo.extend((url, mod, depth + 1) for url, mod in inner.sitemaps)
    if todo:
        found.warnings.append(
            f"{found.url}: more than {MAX_SITEMAPS} sitemaps; the rest were not read"
        )


def load_url(url: str, options: LoadOptions, fetcher: Fetcher | None = None) -> Iterator[Loaded]:
    """Articles from a URL, as ``assistant ingest URL`` reads them: every entry of a feed or
    sitemap fetched from its page (or the feed's own text, with a warning, when the page
    cannot be had), or the page itself. One item per article or problem."""
    fetcher = fetcher or Fetcher(options.fetch, options.max_file_bytes)
    try:
        found = gather(fetcher, url, options.max_feed_items)
    except LoadError as exc:
        yield Loaded(url, error=exc)
        return
    warnings = list(found.warnings)
    if found.page is not None:
        entries = [page_entry(found.page, url)]
    else:
        entries = found.entries
        yield from found.problems
    if not entries:
        yield Loaded(url, error=LoadError("lists no articles", url), warnings=warnings)
        return
    for entry in entries:
        item = fetch_item(fetcher, entry, options, page=found.page).loaded
        assert item is not None  # nothing is conditional here
        item.warnings[:0], warnings = warnings, []
        yield item
