"""Question sets for evaluation: JSONL or CSV, one question per line/row.

Fields: ``question`` (required), ``answer`` (a string, or a list of acceptable strings; in CSV
a JSON list or values separated by ``|``), optional ``gold_ids`` (article ids; in CSV a JSON
list or ids separated by ``|``, ``;`` or spaces), ``answerable`` (default: true when there is
an answer), ``date`` (the day the question is asked: ``2025-01-31`` or ``2025/01/31``) and
``id`` (default: the line number). Rows that cannot be used are reported with their line
number and left out; the rest are evaluated.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.dates import parse_date
from index.errors import ConfigError

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


@dataclass
class EvalQuestion:
    id: str
    question: str
    answers: list[str]
    answerable: bool
    gold_ids: list[str] = field(default_factory=list)
    date: datetime | None = None
    line: int = 0


@dataclass
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class QuestionSet:
    path: str
    questions: list[EvalQuestion]
    bad_rows: list[BadRow]


def _split(value: str, seps: str) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        parsed = json.loads(value)
        if not isinstance(parsed, list):
            raise ValueError("expected a list")
        return [str(v) for v in parsed]
    for sep in seps:
        if sep in value:
            return [v.strip() for v in value.split(sep) if v.strip()]
    return [value] if value else []


def _answers(value: Any, from_csv: bool) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        if not all(isinstance(v, str | int | float) for v in value):
            raise ValueError("'answer' must be a string or a list of strings")
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value).strip()
        if from_csv:
            return _split(text, "|")
        return [text] if text else []
    raise ValueError("'answer' must be a string or a list of strings")


def _gold_ids(value: Any, from_csv: bool) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return _split(value, "|; ") if from_csv else [value]
    raise ValueError("'gold_ids' must be a list of article ids")


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "":
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"'answerable' must be true or false, not {value!r}")


def _date(value: Any) -> datetime | None:
    try:
        return parse_date(None if value is None else str(value))
    except ValueError:
        raise ValueError(f"'date' is not a date (YYYY-MM-DD): {value!r}") from None


def parse_row(row: dict[str, Any], line: int, from_csv: bool = False) -> EvalQuestion:
    """One question from a parsed row; ValueError says what is wrong with it."""
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' is missing or empty")
    answers = _answers(row.get("answer", row.get("answers")), from_csv)
    answerable = _bool(row.get("answerable"), default=bool(answers))
    if answerable and not answers:
        raise ValueError("an answerable question needs an 'answer'")
    rid = row.get("id")
    return EvalQuestion(
        id=str(rid).strip() if rid not in (None, "") else f"line-{line}",
        question=" ".join(question.split()),
        answers=answers,
        answerable=answerable,
        gold_ids=_gold_ids(row.get("gold_ids"), from_csv),
        date=_date(row.get("date")),
        line=line,
    )


def _jsonl_rows(text: str) -> list[tuple[int, dict[str, Any] | BadRow]]:
    rows: list[tuple[int, dict[str, Any] | BadRow]] = []
    for line_no, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            rows.append((line_no, BadRow(line_no, f"not valid JSON ({exc.msg})")))
            continue
        if not isinstance(value, dict):
            rows.append((line_no, BadRow(line_no, "not a JSON object")))
            continue
        rows.append((line_no, value))
    return rows


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any] | BadRow]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "question" not in [f.strip() for f in reader.fieldnames]:
        raise ConfigError("the CSV header must name a 'question' column (and 'answer')")
    rows: list[tuple[int, dict[str, Any] | BadRow]] = []
    for row in reader:
        line_no = reader.line_num  # the line the row ends on: what an editor shows
        if None in row:  # more cells than the header names
            rows.append((line_no, BadRow(line_no, "more cells than the header has columns")))
            continue
        if all((v or "").strip() == "" for v in row.values()):
            continue
        rows.append((line_no, {k.strip(): v for k, v in row.items() if k}))
    return rows


def load_questions(path: str | Path, limit: int | None = None) -> QuestionSet:
    """Read a question set; malformed rows come back in ``bad_rows`` with line numbers."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"question file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p} is not UTF-8 text ({exc})") from exc
    from_csv = p.suffix.lower() in {".csv", ".tsv"}
    rows = _csv_rows(text) if from_csv else _jsonl_rows(text)
    questions: list[EvalQuestion] = []
    bad: list[BadRow] = []
    for line_no, row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        try:
            questions.append(parse_row(row, line_no, from_csv))
        except (ValueError, TypeError) as exc:
            bad.append(BadRow(line_no, str(exc)))
    seen: set[str] = set()
    for q in list(questions):
        if q.id in seen:
            bad.append(BadRow(q.line, f"duplicate id {q.id!r}"))
            questions.remove(q)
        seen.add(q.id)
    if limit:
        questions = questions[:limit]
    if not questions:
        detail = f" ({len(bad)} malformed rows, first: {bad[0]})" if bad else ""
        raise ConfigError(f"{p} holds no usable questions{detail}")
    return QuestionSet(str(p), questions, sorted(bad, key=lambda b: b.line))
