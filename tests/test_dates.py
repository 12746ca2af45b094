"""The one date reader (assistant.dates) and the three places that use it: filters, the
CLI's --as-of, and the date column of evaluation question sets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from assistant import Filters, parse_date
from assistant.evaluation.questions import parse_row

JUNE_10 = datetime(2025, 6, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2025-06-10",  # ISO
        " 2025-06-10 ",
        "2025/06/10",  # the question sets' slashes
        "20250610",  # ISO basic
        "2025-06-10T00:00:00",  # naive: UTC
        "2025-06-10T00:00:00Z",
        "June 10 2025",  # what the article loader reads
        "10 Jun 2025",
        "Tue, 10 Jun 2025 00:00:00 GMT",  # RSS
    ],
)
def test_every_accepted_form(text: str) -> None:
    assert parse_date(text) == JUNE_10


def test_offsets_dates_and_empty_values() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert parse_date("2025-06-10T08:30:00+02:00") == datetime(2025, 6, 10, 8, 30, tzinfo=plus2)
    assert parse_date(date(2025, 6, 10)) == JUNE_10
    assert parse_date(datetime(2025, 6, 10)) == JUNE_10
    assert parse_date(None) is None and parse_date("") is None and parse_date("  ") is None


@pytest.mark.parametrize("text", ["not a date", "2025-13-45", "next blue moon"])
def test_anything_else_asks_for_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a date: .* \(use YYYY-MM-DD\)"):
        parse_date(text)


def test_filters_read_dates_with_it() -> None:
    f = Filters.model_validate({"since": "2025/06/10", "until": "June 10 2025"})
    assert f.since == JUNE_10 and f.until == JUNE_10
    assert Filters(since=date(2025, 6, 10)).since == JUNE_10
    with pytest.raises(ValueError, match="use YYYY-MM-DD"):
        Filters.model_validate({"since": "soon"})


def test_question_sets_read_dates_with_it() -> None:
    row = {"question": "Who?", "answer": "x"}
    assert parse_row({**row, "date": "2025/06/10"}, 1).date == JUNE_10
    assert parse_row({**row, "date": "June 10, 2025"}, 1).date == JUNE_10
    assert parse_row({**row, "date": ""}, 1).date is None
    with pytest.raises(ValueError, match=r"'date' is not a date \(YYYY-MM-DD\): 'soon'"):
        parse_row({**row, "date": "soon"}, 1)
