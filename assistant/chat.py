"""Multi-turn chat: sessions keep their turns (each question, the standalone question it
was read as, and its answer). Rewriting a follow-up into a standalone question is the job of
a condenser (assistant/answering/condense.py), which the Assistant is given."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from assistant.answers import Answer


@dataclass
class Turn:
    question: str
    standalone: str
    answer: Answer


@dataclass
class Session:
    id: str
    turns: list[Turn] = field(default_factory=list)


class SessionStore:
    """Chat sessions in memory, the least recently used dropped beyond ``limit``."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str) -> Session:
        with self._lock:
            session = self._sessions.pop(session_id, None) or Session(session_id)
            self._sessions[session_id] = session
            while len(self._sessions) > self.limit:
                self._sessions.popitem(last=False)
            return session

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            session = self._sessions.get(session_id)
            return list(session.turns) if session else []

    def add(self, session_id: str, turn: Turn) -> None:
        self.get(session_id).turns.append(turn)

    def reset(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
