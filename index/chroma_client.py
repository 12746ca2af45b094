"""Opening Chroma: an embedded ``PersistentClient`` under the data dir, or an ``HttpClient``
when a server host is configured. Telemetry is off; chromadb is imported only here, when a
client is made, so a process that never opens one never imports it.

A server client is wrapped (:class:`ServerClient`): every call it and its collections make
has a timeout, and a server that cannot be reached, times out or fails is a
:class:`~index.errors.StoreUnavailableError` naming the server and what to do, never a bare
``httpx`` error. The same client reconnects by itself once the server is back.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from index.errors import StoreError, StoreUnavailableError

log = logging.getLogger(__name__)

# chromadb's HTTP client waits for ever by default: a hung server would hang every question
DEFAULT_TIMEOUT = 30.0


def local_path(data_dir: Path | str) -> Path:
    """Where the embedded Chroma index of ``data_dir`` lives."""
    return Path(data_dir) / "chroma"


def make_client(
    data_dir: Path | str,
    host: str | None = None,
    port: int = 8000,
    fresh: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """A Chroma client: a server at ``host:port`` when a host is given (each request bounded
    by ``timeout`` seconds), else embedded on disk. ``fresh``: an embedded client of its own,
    which loads the collections from disk again (chromadb otherwise hands out one shared
    instance per path and process)."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if host:
        where = ServerClient.describe(host, port)
        try:
            client = chromadb.HttpClient(host=host, port=port, settings=settings)
        except Exception as exc:  # chromadb turns a refused connection into a ValueError
            raise StoreUnavailableError(unreachable(where, exc, timeout)) from exc
        return ServerClient(client, where, timeout)
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        path = str(local_path(data_dir))
        if fresh:
            return _fresh_persistent_client(path, settings)
        return chromadb.PersistentClient(path=path, settings=settings)
    except Exception as exc:  # chromadb raises bare ValueError and friends
        raise StoreError(f"cannot open the index under {data_dir}: {exc}") from exc


def unreachable(where: str, exc: BaseException, timeout: float) -> str:
    """The message of a server fault: which server, what happened, what to do."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        what = f"did not answer within {timeout:g} s (ASSISTANT_CHROMA_TIMEOUT)"
    elif isinstance(exc, httpx.HTTPStatusError):
        what = f"failed (HTTP {exc.response.status_code}): see the Chroma server's log"
    elif _server_side(exc):
        what = f"failed ({exc}): see the Chroma server's log"
    else:
        what = f"cannot be reached ({_reason(exc)})"
    return (
        f"{where} {what}. Check that it is running (`chroma run`) and that "
        "ASSISTANT_CHROMA_HOST/ASSISTANT_CHROMA_PORT point at it; answers resume by themselves "
        "once it is back, with no restart"
    )


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.removeprefix("Could not connect to a Chroma server. ").strip() or text


def _server_side(exc: BaseException) -> bool:
    """A Chroma error the server reported as its own failure (HTTP 5xx)."""
    from chromadb.errors import ChromaError

    return isinstance(exc, ChromaError) and exc.code() >= 500


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's fault (unreachable, too slow, failing), not the
    request's: the same call may succeed later."""
    import httpx

    if isinstance(exc, httpx.TransportError | httpx.HTTPStatusError | ConnectionError):
        return True
    return _server_side(exc)


class ServerClient:
    """A chromadb server client, or one of its collections, whose every call turns a server
    fault into a :class:`StoreUnavailableError`. Anything else is passed through unchanged,
    so the store cannot tell it from the client it wraps."""

    def __init__(self, target: Any, where: str, timeout: float) -> None:
        self._target = target
        self._where = where
        self._timeout = timeout
        session = getattr(getattr(target, "_server", None), "_session", None)
        if session is not None:  # the client's httpx session (chromadb's FastAPI client)
            import httpx

            session.timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))

    @staticmethod
    def describe(host: str, port: int) -> str:
        return f"the Chroma server at {host}:{port}"

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value) or name.startswith("_"):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = value(*args, **kwargs)
            except Exception as exc:
                if is_fault(exc):
                    raise StoreUnavailableError(
                        unreachable(self._where, exc, self._timeout)
                    ) from exc
                raise
            if type(result).__name__ == "Collection":  # its calls are guarded too
                return ServerClient(result, self._where, self._timeout)
            return result

        return call

    def __repr__(self) -> str:
        return f"ServerClient({self._target!r})"


def _fresh_persistent_client(path: str, settings: Any) -> Any:
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.config import Settings, System

    system = System(
        Settings(**{**settings.model_dump(), "is_persistent": True, "persist_directory": path})
    )
    system.instance(ServerAPI)  # type: ignore[type-abstract]
    system.start()
    return Client.from_system(system)
