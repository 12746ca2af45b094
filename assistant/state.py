"""Where chat sessions and feedback live, so that any replica can continue a conversation.

Two stores behind one interface, chosen by ``state_store``:

- ``sqlite`` (the default, one host): sessions in ``<data_dir>/state.sqlite3`` (every process
  on that data dir shares them, and they survive a restart), feedback appended to
  ``<data_dir>/feedback.jsonl`` as before;
- ``redis`` (several hosts): sessions and feedback in the Redis server at ``redis_url``,
  where every replica reads and writes them.

A session is forgotten ``session_ttl_hours`` after its last turn. A store that cannot be
reached is a :class:`~assistant.errors.StoreUnavailableError` naming it (an API 503).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from assistant.chat import Turn
from assistant.errors import ConfigError, StoreUnavailableError
from assistant.feedback import Feedback, FeedbackStore
from assistant.settings import Settings

# a store prunes expired and surplus sessions once every this many turns it adds
_PRUNE_EVERY = 50


class StateStore(Protocol):
    """Chat sessions and feedback, shared by every face of every process that opens it."""

    def history(self, session_id: str) -> list[Turn]: ...

    def add(self, session_id: str, turn: Turn) -> None: ...

    def reset(self, session_id: str) -> None: ...

    def record(self, item: Feedback) -> None: ...

    def feedback(self) -> Iterator[Feedback]: ...

    def ping(self) -> None: ...


def open_state(settings: Settings) -> StateStore:
    """The configured state store."""
    ttl = settings.session_ttl_hours * 3600
    if settings.state_store == "redis":
        password = settings.redis_password
        return RedisState(
            settings.redis_url, ttl, password.get_secret_value() if password else None
        )
    return SqliteState(Path(settings.data_dir), ttl, settings.max_sessions)


class SqliteState:
    """Sessions in a SQLite file of the data dir; feedback in ``feedback.jsonl`` beside it."""

    def __init__(self, data_dir: Path, ttl: float, max_sessions: int) -> None:
        self.path = data_dir / "state.sqlite3"
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._feedback = FeedbackStore(data_dir)
        self._lock = threading.Lock()
        self._added = 0
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        # opened at first use: a process that never chats never creates the file
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "session_id TEXT NOT NULL, at REAL NOT NULL, turn TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, seq)")
            self._db = db
        return self._db

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            rows = self._conn().execute(
                "SELECT turn FROM turns WHERE session_id = ? ORDER BY seq", (session_id,)
            )
            found = [r[0] for r in rows]
            last = (
                self._conn()
                .execute("SELECT max(at) FROM turns WHERE session_id = ?", (session_id,))
                .fetchone()[0]
            )
        if last is None or last < time.time() - self.ttl:
            return []
        return [Turn.from_json(t) for t in found]

    def add(self, session_id: str, turn: Turn) -> None:
        with self._lock:
            db = self._conn()
            db.execute(
                "INSERT INTO turns(session_id, at, turn) VALUES (?, ?, ?)",
                (session_id, time.time(), turn.to_json()),
            )
            self._added += 1
            if self._added % _PRUNE_EVERY == 0:
                self._prune(db)

    def _prune(self, db: sqlite3.Connection) -> None:
        """Drop sessions past their time, then the least recently used beyond the limit."""
        stale = (
            "SELECT session_id FROM turns GROUP BY session_id HAVING max(at) < ?",
            (time.time() - self.ttl,),
        )
        surplus = (
            "SELECT session_id FROM turns GROUP BY session_id ORDER BY max(at) DESC "
            "LIMIT -1 OFFSET ?",
            (self.max_sessions,),
        )
        for select, args in (stale, surplus):
            db.execute(f"DELETE FROM turns WHERE session_id IN ({select})", args)

    def reset(self, session_id: str) -> None:
        with self._lock:
            self._conn().execute("DELETE FROM turns WHERE session_id = ?", (session_id,))

    def record(self, item: Feedback) -> None:
        self._feedback.append(item)

    def feedback(self) -> Iterator[Feedback]:
        return self._feedback.read()

    def ping(self) -> None:
        return None


class RedisState:
    """Sessions and feedback in a Redis server, shared by every replica.

    A session is a list of turn documents under ``<prefix>:session:<id>`` that expires
    ``ttl`` seconds after its last turn; feedback is one list, ``<prefix>:feedback``."""

    PREFIX = "newsroom-assistant"

    def __init__(self, url: str, ttl: float, password: str | None = None) -> None:
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                "state_store = redis needs the redis package: pip install "
                "'newsroom-assistant[redis]'"
            ) from exc
        self.ttl = max(1, int(ttl))
        try:
            self._redis = redis.Redis.from_url(
                url,
                password=password,
                socket_timeout=5,
                socket_connect_timeout=3,
                health_check_interval=30,
            )
        except ValueError as exc:
            raise ConfigError(f"ASSISTANT_REDIS_URL={url!r}: {exc}") from exc
        conn = self._redis.connection_pool.connection_kwargs
        self.where = f"the Redis server at {conn.get('host', '?')}:{conn.get('port', '?')}"
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._refused = redis.exceptions.ResponseError  # e.g. a wrong password, or none

    def _call(self, what: str, *args: Any) -> Any:
        try:
            return getattr(self._redis, what)(*args)
        except (*self._errors, self._refused) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        if isinstance(exc, self._refused):
            return StoreUnavailableError(
                f"{self.where} refused the request ({exc}): check ASSISTANT_REDIS_PASSWORD"
            )
        return StoreUnavailableError(
            f"{self.where} cannot be reached ({exc}). Check that it is running and that "
            "ASSISTANT_REDIS_URL points at it; chat follow-ups and feedback resume by "
            "themselves once it is back"
        )

    def _key(self, session_id: str) -> str:
        return f"{self.PREFIX}:session:{session_id}"

    def history(self, session_id: str) -> list[Turn]:
        return [Turn.from_json(t) for t in self._call("lrange", self._key(session_id), 0, -1)]

    def add(self, session_id: str, turn: Turn) -> None:
        key = self._key(session_id)
        pipe = self._redis.pipeline()  # one round trip: the turn and the new expiry
        pipe.rpush(key, turn.to_json())
        pipe.expire(key, self.ttl)
        try:
            pipe.execute()
        except (*self._errors, self._refused) as exc:
            raise self._unavailable(exc) from exc

    def reset(self, session_id: str) -> None:
        self._call("delete", self._key(session_id))

    def record(self, item: Feedback) -> None:
        self._call("rpush", f"{self.PREFIX}:feedback", item.model_dump_json())

    def feedback(self) -> Iterator[Feedback]:
        for raw in self._call("lrange", f"{self.PREFIX}:feedback", 0, -1):
            yield Feedback.model_validate_json(raw)

    def ping(self) -> None:
        self._call("ping")
