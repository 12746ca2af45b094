"""The one reader of dates a person types: a filter's since/until, a question's as-of date,
the date column of an evaluation question set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any


def parse_date(value: Any) -> datetime | None:
    """An aware datetime (naive values are taken as UTC, a bare date as its midnight), or
    None for an empty value. ISO 8601 is read first (``2025-06-10``, ``2025/06/10``,
    ``2025-06-10T08:30:00Z``, ``2025-W24-2``), then anything the article loader reads
    (``June 10 2025``, ``10 Jun 2025``); ValueError, whose message asks for YYYY-MM-DD, for
    anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, dtime.min, tzinfo=UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        from index.articles import parse_published  # dateutil: loaded when ISO was not enough

        try:
            parsed_loose = parse_published(text)
        except ValueError:
            raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
        assert parsed_loose is not None  # text is not empty
        return parsed_loose
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
