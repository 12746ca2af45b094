"""Thumbs up/down on answers, kept for later evaluation.

Every face (UI, Slack, API) records through the Assistant, so one place holds the question,
the answer, its citations and the verdict, whatever the channel: ``<data_dir>/feedback.jsonl``
(:class:`FeedbackStore`) with the sqlite state store, the Redis server with the redis one
(assistant/state.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
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

    @classmethod
    def on(cls, rating: Rating, answer: Answer, channel: str = "ui", **extra: Any) -> Feedback:
        """The feedback ``rating`` on ``answer``, given through ``channel``."""
        return cls(
            rating=rating,
            question=answer.question,
            answer=answer.answer,
            refused=answer.refused,
            citations=answer.citations,
            channel=channel,
            **extra,
        )


class FeedbackStore:
    """Appends feedback to ``<data_dir>/feedback.jsonl``; safe to share between threads."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / "feedback.jsonl"
        self._lock = threading.Lock()

    def append(self, item: Feedback) -> None:
        line = item.model_dump_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)

    def read(self) -> Iterator[Feedback]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield Feedback.model_validate_json(line)
