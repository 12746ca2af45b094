"""The Article model: one news article, normalised, with a stable id and a content hash."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from dateutil import parser as date_parser
from pydantic import BaseModel, ConfigDict, Field, field_validator

from index.bylines import authors_of

# Chroma metadata is flat; extra metadata keeps only these value types.
MetaValue = str | int | float | bool

_DATELINE = re.compile(r"^[A-Z][\w .,'’-]{0,60}?\s[—–]\s")
# Lone surrogates (JSON "\\ud83d") cannot be encoded as UTF-8, so hashing, Chroma and SQLite
# would all fail on them; control characters other than tab and newline are noise in news text.
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def article_id_for(url: str | None, text: str) -> str:
    """A stable id: sha1 of the URL when there is one (the scheme the 2025 dump uses), else of
    the text, so the same article ingested twice maps to the same id."""
    key = url.strip() if url and url.strip() else normalise_text(text)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def clean_str(value: str) -> str:
    """``value`` with lone surrogates replaced by U+FFFD, so it can be stored as UTF-8."""
    return _SURROGATES.sub("\ufffd", value)


def normalise_text(text: str) -> str:
    """NFC, unix newlines, no trailing spaces, at most one blank line between paragraphs."""
    text = _CONTROLS.sub("", clean_str(text))
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\ufeff", "")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def parse_published(value: Any) -> datetime | None:
    """Parse a publication date into an aware datetime (naive values are taken as UTC); raises
    ValueError for anything that is not a readable date in datetime's range."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(float(value), tz=UTC)
        elif isinstance(value, str):
            parsed = date_parser.parse(clean_str(value).strip())
        else:
            raise TypeError(type(value).__name__)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed.timestamp()  # an extreme offset can push a valid date out of range here
    except (ValueError, OverflowError, OSError, TypeError) as exc:
        raise ValueError(f"unreadable publication date {_short(value)}") from exc
    return parsed


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def derive_title(text: str, limit: int = 90) -> str:
    """A headline-like title for an article that has none: its first sentence without the
    dateline ("Los Angeles, California — "), cut at a word boundary."""
    first = text.strip().split("\n", 1)[0]
    first = _DATELINE.sub("", first)
    match = re.search(r"(?<=[.!?])\s", first)
    if match:
        first = first[: match.start()]
    first = first.strip()
    if len(first) <= limit:
        return first.rstrip(".")
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(",;:—– ")
    return cut + "…"


def hostname(url: str | None) -> str:
    if not url:
        return ""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:  # "http://[" and friends: no host rather than an error
        return ""
    return host.removeprefix("www.")


class Article(BaseModel):
    """A news article as the index sees it. ``text`` is normalised; offsets point into it.
    Frozen, so the content hash can be computed once."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    text: str
    url: str | None = None
    source: str = ""
    authors: list[str] = Field(default_factory=list)
    published: datetime | None = None
    metadata: dict[str, MetaValue] = Field(default_factory=dict)

    @field_validator("published")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @classmethod
    def create(
        cls,
        *,
        text: str,
        title: str | None = None,
        url: str | None = None,
        source: str | None = None,
        authors: list[str] | None = None,
        published: Any = None,
        id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Article:
        """Normalise raw fields into an Article; raises ValueError when there is no text or a
        field is of the wrong type or unreadable (see :meth:`parse` for the lenient form)."""
        article, warnings = cls.parse(
            text=text,
            title=title,
            url=url,
            source=source,
            authors=authors,
            published=published,
            id=id,
            metadata=metadata,
        )
        if warnings:
            raise ValueError(warnings[0])
        return article

    @classmethod
    def parse(
        cls,
        *,
        text: Any,
        title: Any = None,
        url: Any = None,
        source: Any = None,
        authors: Any = None,
        published: Any = None,
        id: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[Article, list[str]]:
        """An Article from untrusted fields, and warnings for the fields it had to drop.

        Only the text is required: ValueError when it is missing, blank or not a string. A
        wrong-typed optional field (``"title": {}``), a blank id or an unreadable date is left
        out with a warning, so one odd field never costs the article. Author fields are read
        as bylines ("By Jane Smith, USA TODAY" is Jane Smith); without one, a "By …" line at
        the head of the text names the authors (index/bylines.py)."""
        if text is not None and not isinstance(text, str):
            raise ValueError(f"the text field is not a string (got {type(text).__name__})")
        clean = normalise_text(text or "")
        if not clean:
            raise ValueError("article has no text")
        warnings: list[str] = []
        url_s = _optional_str("url", url, warnings, numbers=False)
        title_s = " ".join(_optional_str("title", title, warnings).split())
        source_s = " ".join(_optional_str("source", source, warnings).split())
        id_s = _optional_str("id", id, warnings).strip()
        if not id_s and isinstance(id, str):
            warnings.append("id is blank; an id was derived from the url or text")
        try:
            when = parse_published(published)
        except ValueError as exc:
            warnings.append(f"{exc}; the article is kept without a date")
            when = None
        return cls(
            id=id_s or article_id_for(url_s, clean),
            title=title_s or derive_title(clean),
            text=clean,
            url=url_s or None,
            source=source_s or hostname(url_s),
            authors=authors_of(_authors(authors, warnings), clean),
            published=when,
            metadata=_metadata(metadata),
        ), warnings

    @cached_property
    def content_hash(self) -> str:
        """Changes whenever anything that goes into the index changes."""
        payload = json.dumps(
            [
                self.title,
                self.text,
                self.url,
                self.source,
                self.authors,
                self.published.isoformat() if self.published else None,
                sorted(self.metadata.items()),
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def published_ts(self) -> int | None:
        return int(self.published.timestamp()) if self.published else None


def _optional_str(name: str, value: Any, warnings: list[str], numbers: bool = True) -> str:
    """A text field as a clean, stripped string; numbers become text (where ``numbers``),
    other types are dropped with a warning."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_str(value).strip()
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    warnings.append(f"{name} is not text (got {type(value).__name__}); it was left out")
    return ""


def _authors(value: Any, warnings: list[str]) -> list[str]:
    if value is None or value == "":
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        warnings.append(f"authors is not a list (got {type(value).__name__}); left out")
        return []
    names = [clean_str(a).strip() for a in items if isinstance(a, str)]
    if len(names) < len(items):
        warnings.append("authors holds entries that are not names; they were left out")
    return [a for a in names if a]


def _metadata(metadata: dict[str, Any] | None) -> dict[str, MetaValue]:
    meta: dict[str, MetaValue] = {}
    for key, value in (metadata or {}).items():
        if value is None:
            continue
        if isinstance(value, str):
            meta[clean_str(str(key))] = clean_str(value)
        elif isinstance(value, int | float | bool):
            meta[clean_str(str(key))] = value
        else:
            meta[clean_str(str(key))] = clean_str(
                json.dumps(value, ensure_ascii=False, default=str)
            )
    return meta
