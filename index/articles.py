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

# Chroma metadata is flat; extra metadata keeps only these value types.
MetaValue = str | int | float | bool

_DATELINE = re.compile(r"^[A-Z][\w .,'’-]{0,60}?\s[—–]\s")


def article_id_for(url: str | None, text: str) -> str:
    """A stable id: sha1 of the URL when there is one (the scheme the 2025 dump uses), else of
    the text, so the same article ingested twice maps to the same id."""
    key = url.strip() if url and url.strip() else normalise_text(text)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def normalise_text(text: str) -> str:
    """NFC, unix newlines, no trailing spaces, at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\ufeff", "")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def parse_published(value: Any) -> datetime | None:
    """Parse a publication date into an aware datetime (naive values are taken as UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str):
        try:
            parsed = date_parser.parse(value.strip())
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"unreadable publication date {value!r}") from exc
    else:
        raise ValueError(f"unreadable publication date {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


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
    host = urlsplit(url.strip()).hostname or ""
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
        """Normalise raw fields into an Article; raises ValueError when there is no text."""
        clean = normalise_text(text or "")
        if not clean:
            raise ValueError("article has no text")
        url = url.strip() if url and url.strip() else None
        clean_title = " ".join((title or "").split()) or derive_title(clean)
        meta: dict[str, MetaValue] = {}
        for key, value in (metadata or {}).items():
            if value is None:
                continue
            if isinstance(value, str | int | float | bool):
                meta[str(key)] = value
            else:
                meta[str(key)] = json.dumps(value, ensure_ascii=False, default=str)
        return cls(
            id=str(id).strip() if id not in (None, "") else article_id_for(url, clean),
            title=clean_title,
            text=clean,
            url=url,
            source=(source or "").strip() or hostname(url),
            authors=[a.strip() for a in authors or [] if a and a.strip()],
            published=parse_published(published),
            metadata=meta,
        )

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
