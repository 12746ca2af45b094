"""Web formats: HTML pages (.html, .htm, .xhtml; main text through trafilatura) and RSS/Atom
feeds (.rss, .atom, .xml; one article per entry)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from index.articles import Article
from index.errors import LoadError
from index.loaded import Loaded, LoadOptions, check_size, with_origin


def page_fields(html: str, url: str | None = None) -> dict[str, Any]:
    """The main text and metadata of a web page through trafilatura (scripts, styles,
    navigation and boilerplate never reach the index): ``text``, ``title``, ``url`` (the
    canonical URL, else ``url``), ``source``, ``published`` and ``authors``. ValueError when
    the page holds no article text."""
    import trafilatura

    extracted: Any = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
    )
    doc: dict[str, Any] | None = extracted.as_dict() if extracted is not None else None
    if not doc or not (doc.get("text") or "").strip():
        raise ValueError("no article text found in the HTML page")
    text, title = str(doc["text"]), doc.get("title")
    first, _, rest = text.strip().partition("\n")
    if title and first.strip() == title.strip() and rest.strip():
        text = rest  # the headline is the title, not the first sentence of the body
    return {
        "text": text,
        "title": title,
        "url": doc.get("url"),
        "source": doc.get("sitename") or doc.get("hostname"),
        "published": doc.get("date"),
        "authors": doc.get("author"),  # "A; B": Article reads it as a byline
    }


def parse_html_page(html: str, stem: str) -> tuple[Article, list[str]]:
    """An HTML file as an article (:func:`page_fields`)."""
    return Article.parse(**page_fields(html))


def html_fragment_to_text(fragment: str) -> str:
    """Text of an HTML snippet (a feed entry's content), without scripts or styles."""
    import lxml.html

    if not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several types on junk; plain text is the fallback
        return fragment
    for bad in root.xpath("//script|//style|//noscript|//template|//iframe"):
        bad.drop_tree()
    for block in root.xpath("//p|//br|//div|//li|//h1|//h2|//h3|//h4|//blockquote"):
        block.tail = "\n\n" + (block.tail or "")
    return str(root.text_content())


def load_feed(data: bytes, origin: str, options: LoadOptions) -> Iterator[Loaded]:
    """One item per entry of an RSS or Atom feed; the feed's title is the outlet."""
    import feedparser

    feed = feedparser.parse(data)
    if not feed.entries:
        reason = f" ({feed.bozo_exception})" if getattr(feed, "bozo", 0) else ""
        raise LoadError(f"no feed entries found{reason}", origin)
    feed_title = feed.feed.get("title", "")
    for i, entry in enumerate(feed.entries):
        item_origin = f"{origin}[{i}]"
        try:
            content = entry.get("content") or []
            html = content[0].get("value", "") if content else entry.get("summary", "")
            authors = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, dict)]
            published = entry.get("published") or entry.get("updated")
            article, warnings = Article.parse(
                text=html_fragment_to_text(html),
                title=entry.get("title"),
                url=entry.get("link"),
                source=feed_title or None,
                published=published,
                authors=authors,
            )
            check_size(article, origin, None, options)
            yield Loaded(item_origin, article=article, warnings=with_origin(item_origin, warnings))
        except (LoadError, ValueError) as exc:
            yield Loaded(item_origin, error=LoadError(f"entry {i}: {exc}", origin))
