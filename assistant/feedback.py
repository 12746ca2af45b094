"""Thumbs up/down on answers, kept as JSON lines in the data dir for later evaluation.

Every face (UI, Slack, API) records through :class:`FeedbackStore`, so one file holds the
question, the answer, its citations and the verdict, whatever the channel.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.answers import Answer, Citation

Rating = Literal["up", "down"]


class Feedback(BaseModel):
    rating: Rating
    question: str
    answer: str
    refused: bool = False
    citations: list[Citation] = Field(default_factory=list)
    channel: str = "ui"  # ui, slack, api
    session_id: str | None = None
    user: str | None = None
    comment: str | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(tz=UTC))


class FeedbackStore:
    """Appends feedback to ``<data_dir>/feedback.jsonl``; safe to share between threads."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / "feedback.jsonl"
        self._lock = threading.Lock()

    def record(self, rating: Rating, answer: Answer, channel: str = "ui", **extra: Any) -> Feedback:
        item = Feedback(
            rating=rating,
            question=answer.question,
            answer=answer.answer,
            refused=answer.refused,
            citations=answer.citations,
            channel=channel,
            **extra,
        )
        line = item.model_dump_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
        return item
