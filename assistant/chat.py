"""Multi-turn chat: a session's turns (each question, the standalone question it was read as,
and its answer). Rewriting a follow-up into a standalone question is the job of a condenser
(assistant/answering/condense.py), which the Assistant is given; where sessions are kept, so
that any replica can continue one, is the state store's (assistant/state.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from assistant.answers import Answer, Question


@dataclass
class Turn:
    question: str
    standalone: Question  # what the question was read as: its words and their context
    answer: Answer

    def to_json(self) -> str:
        """The turn as one JSON document, as a state store keeps it."""
        return json.dumps(
            {
                "question": self.question,
                "standalone": str(self.standalone),  # the one-line form, as ever
                "answer": self.answer.model_dump(mode="json", exclude={"sources"}),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Turn:
        data = json.loads(text)
        standalone = Question.read(str(data["standalone"]))
        return cls(str(data["question"]), standalone, Answer.model_validate(data["answer"]))
