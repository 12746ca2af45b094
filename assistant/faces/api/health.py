"""``/healthz`` (the process is up) and ``/readyz`` (it can answer now), without auth.

``/readyz`` is what a load balancer asks many times a second: it is 200 only when the
Assistant is built and its stores answer (the Chroma server's heartbeat, Redis's ping). That
check runs at most once every ``ttl`` seconds, on a thread of its own, and ``/readyz`` waits
for it at most ``wait`` seconds: a hung store makes the replica not ready, never a hung probe.
"""

from __future__ import annotations

import threading
import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from assistant import Assistant, AssistantError

RETRY_AFTER = "5"  # seconds: what a 503 tells a client to wait before it tries again


class Readiness:
    """The last outcome of the store check (None: fine, else why not), refreshed when stale."""

    def __init__(self, ttl: float = 1.5, wait: float = 2.0) -> None:
        self.ttl = ttl
        self.wait = wait
        self._lock = threading.Lock()
        self._at = -1e9
        self._problem: str | None = None
        self._running: threading.Event | None = None

    def problem(self, asst: Assistant) -> str | None:
        """Why ``asst`` cannot answer now, or None."""
        with self._lock:
            fresh = time.monotonic() - self._at < self.ttl
            if fresh:
                return self._problem
            running = self._running
            if running is None:
                running = self._running = threading.Event()
                threading.Thread(
                    target=self._check, args=(asst, running), name="readyz", daemon=True
                ).start()
        if not running.wait(self.wait):
            return "the store did not answer the readiness check in time"
        with self._lock:
            return self._problem

    def _check(self, asst: Assistant, done: threading.Event) -> None:
        try:
            asst.check_ready()
            problem = None
        except AssistantError as exc:
            problem = str(exc)
        except Exception as exc:  # an unexpected failure is not "ready" either
            problem = f"the store check failed: {type(exc).__name__}"
        with self._lock:
            self._problem, self._at, self._running = problem, time.monotonic(), None
        done.set()


def ready_assistant(request: Request) -> Assistant:
    """The server's Assistant, for a route's ``Depends``: a 503 with ``Retry-After`` while it
    is still being built (or why it could not be)."""
    asst: Assistant | None = request.app.state.assistant
    if asst is None:
        failed = request.app.state.startup_error
        raise HTTPException(
            503,
            failed or "starting up: the model and index are loading",
            headers={"Retry-After": RETRY_AFTER},
        )
    return asst


health = APIRouter(tags=["health"])


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no auth)."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """200 once the Assistant is built and its stores answer (checked at most every 1.5 s);
    503 before, and while the Chroma server (or Redis) cannot be reached (no auth)."""
    state = request.app.state
    asst: Assistant | None = state.assistant
    if asst is not None:
        problem = state.readiness.problem(asst)
        if problem is None:
            return JSONResponse({"status": "ready"})
        error = "store_unavailable"
    else:
        problem, error = state.startup_error or "starting up", "unavailable"
    body = {"status": "not ready", "detail": problem, "error": error}
    return JSONResponse(body, status_code=503, headers={"Retry-After": RETRY_AFTER})
