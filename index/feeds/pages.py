"""An article from its page, with the feed's entry as the second witness.

The page gives the full text and its metadata (trafilatura: title, author, canonical URL,
outlet; htmldate: the published and modified times). The feed's own content is used only
when the page cannot be had (an error, a page with no extractable text, one over the
limits), and the item then says so in a warning. Every limit and check of a file applies:
the body's size (``max_file_mb``), its decoding, the article's length (``max_article_chars``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from index.articles import Article, parse_published
from index.errors import LoadError
from index.feeds.http import Fetcher, Response
from index.feeds.listing import Entry, sniff
from index.loaded import Loaded, LoadOptions, check_size, decode_text, with_origin
from index.web_files import page_fields

_ISO = "%Y-%m-%dT%H:%M:%S%z"


@dataclass
class Fetched:
    """What became of one entry: the item to ingest (None when the page answered 304, so
    nothing changed), whether its text is the page's, and the page's validators."""

    entry: Entry
    loaded: Loaded | None
    full: bool
    etag: str | None = None
    last_modified: str | None = None

    @property
    def origin(self) -> str:
        return self.entry.url or self.entry.key


def page_dates(html: str) -> tuple[str | None, str | None]:
    """(published, modified) of a page, as ISO times when the page gives them (meta tags,
    JSON-LD, time elements; no guessing from the text)."""
    import htmldate

    found = []
    for original in (True, False):
        try:
            found.append(
                htmldate.find_date(
                    html, original_date=original, extensive_search=False, outputformat=_ISO
                )
            )
        except Exception:  # htmldate raises several types on odd pages: no date then
            found.append(None)
    return found[0], found[1]


def _modified(modified: Any, published: Any) -> dict[str, str]:
    """``{"modified": ISO}`` when the modified time reads and differs from the published."""
    try:
        when, first = parse_published(modified), parse_published(published)
    except ValueError:
        return {}
    if when is None or (first is not None and when == first):
        return {}
    return {"modified": when.isoformat()}


def page_article(
    html: str, url: str, entry: Entry | None = None, article_id: str | None = None
) -> tuple[Article, list[str]]:
    """The article a page holds; the entry fills what the page does not say. ValueError
    when the page holds no article text."""
    fields = page_fields(html, url)
    published, modified = page_dates(html)
    entry = entry or Entry(url=url, key=url)
    # the feed's own dates are exact and the site's word; the page's fill in
    when = entry.published or published or fields["published"]
    canonical = (
        fields["url"] if str(fields["url"] or "").startswith(("http://", "https://")) else url
    )
    return Article.parse(
        id=article_id,
        text=fields["text"],
        title=fields["title"] or entry.title,
        url=canonical,
        source=fields["source"] or entry.source,
        published=when,
        authors=fields["authors"] or list(entry.authors),
        metadata=_modified(modified or entry.modified, when),
    )


def entry_article(entry: Entry, article_id: str | None = None) -> tuple[Article, list[str]]:
    """The article from the feed's own content (``text_from: feed`` in its metadata)."""
    when = entry.published or entry.modified
    return Article.parse(
        id=article_id,
        text=entry.html,
        title=entry.title,
        url=entry.url or None,
        source=entry.source,
        published=when,
        authors=list(entry.authors),
        metadata={**_modified(entry.modified, when), "text_from": "feed"},
    )


def _html(response: Response) -> tuple[str, list[str]]:
    """The page's text, decoded by its declared charset, else as a file would be."""
    if sniff(response) != "page":
        raise LoadError(
            f"not an HTML page ({response.content_type or 'unknown type'})", response.url
        )
    if response.charset:
        try:
            return response.body.decode(response.charset), []
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: detected below, with a warning
    return decode_text(response.body, response.url)


def fetch_item(
    fetcher: Fetcher,
    entry: Entry,
    options: LoadOptions,
    article_id: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    page: Response | None = None,
) -> Fetched:
    """Fetch an entry's page (conditional on the validators of its last fetch; ``page``:
    already fetched) and read its article, falling back to the feed's own content."""
    origin = entry.url or entry.key
    if not entry.url:
        return _fallback(entry, "the entry has no link", options, article_id)
    try:
        response = page or fetcher.get(entry.url, etag, last_modified)
        if response.not_modified:
            return Fetched(entry, None, True, etag, last_modified)
        text, warnings = _html(response)
        article, noted = page_article(text, response.url, entry, article_id)
        check_size(article, origin, None, options)
    except (LoadError, ValueError) as exc:
        return _fallback(
            entry, exc.message if isinstance(exc, LoadError) else str(exc), options, article_id
        )
    item = Loaded(origin, article=article, warnings=warnings + with_origin(origin, noted))
    return Fetched(entry, item, True, response.etag, response.last_modified)


def _fallback(entry: Entry, problem: str, options: LoadOptions, article_id: str | None) -> Fetched:
    """The feed's own text, when it has some; else the page's problem is the item's."""
    origin = entry.url or entry.key
    if not entry.html.strip():
        return Fetched(entry, Loaded(origin, error=LoadError(problem, origin)), False)
    try:
        article, noted = entry_article(entry, article_id)
        check_size(article, origin, None, options)
    except (LoadError, ValueError) as exc:
        reason = exc.message if isinstance(exc, LoadError) else str(exc)
        return Fetched(
            entry, Loaded(origin, error=LoadError(f"{problem}; {reason}", origin)), False
        )
    said = f"page not used ({problem}): the feed's own text was ingested instead"
    warnings = with_origin(origin, [said, *noted])
    return Fetched(entry, Loaded(origin, article=article, warnings=warnings), False)
