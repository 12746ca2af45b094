"""Multi-turn chat: sessions keep their turns, and a follow-up question is rewritten into a
standalone one before retrieval.

The rewrite for the extractive answerer is deterministic: a question that leans on earlier
turns (it opens with "and"/"what about", or points back with "it", "they", "that" and names
little of its own) gets the previous standalone question attached as context, so both
retrieval and sentence choice see what "it" was about. The LLM answerer condenses with a
prompt instead.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from assistant.answers import Answer
from index.text import query_terms

_LEADS = re.compile(
    r"^\s*(?:and|also|but|so|then|ok(?:ay)?|what about|how about|and what about)\b[\s,]*",
    re.IGNORECASE,
)
_POINTERS = {
    "it", "its", "they", "them", "their", "theirs", "he", "him", "his", "she", "her", "hers",
    "this", "that", "these", "those", "there", "then", "same", "one", "ones",
}  # fmt: skip
_GENERIC = {"many", "much", "else", "happened", "happen", "say", "said", "did", "does", "do"}


@dataclass
class Turn:
    question: str
    standalone: str
    answer: Answer


@dataclass
class Session:
    id: str
    turns: list[Turn] = field(default_factory=list)


def is_follow_up(question: str) -> bool:
    """Whether ``question`` needs the earlier turns to make sense."""
    if _LEADS.match(question):
        return True
    words = re.findall(r"\w+", question.lower())
    content = [w for w in query_terms(question) if w not in _GENERIC]
    return (bool(_POINTERS.intersection(words)) and len(content) <= 3) or len(content) <= 1


def standalone_question(question: str, history: list[Turn]) -> str:
    """The question to retrieve and answer with: itself, or for a follow-up, itself with the
    previous standalone question attached as context."""
    if not history or not is_follow_up(question):
        return question.strip()
    previous = history[-1]
    current = _LEADS.sub("", question).strip()
    current = current[:1].upper() + current[1:]
    # flatten: a follow-up of a follow-up carries the earlier context once, not nested
    base, _, about = previous.standalone.partition(" (about: ")
    parts = [about[:-1] if about.endswith(")") else about, base]
    if previous.answer.short_answer and not previous.answer.refused:
        parts.append(previous.answer.short_answer)
    return f"{current} (about: {' '.join(p for p in parts if p)})"


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
