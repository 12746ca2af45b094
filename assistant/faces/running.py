"""A server of this project already running on the same data dir, for ``assistant ask``.

``assistant serve`` writes ``<data_dir>/server.json`` (its URL, process id and a fingerprint
of the settings that shape answers) while it runs. ``ask`` reads it and, when that process is
alive, ready and answers with the same settings, sends the question there: a second or so
instead of loading torch and the embedding model in a new process. Anything else (no file, a
dead or busy server, other settings, a refused token) falls back to answering in process.

Nothing heavy is imported here: this runs before torch or the model would load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant import SECRET_FIELDS, Answer, EmptyIndexError, Filters, QuestionError, Settings

SERVER_FILE = "server.json"
# settings that do not change an answer: where things listen, secrets, ingest knobs
_NOT_ANSWERS = (
    "api_", "ui_", "slack_", "ingest_", "max_file_mb", "max_article_chars", "field_map",
    "embed_batch_size", "embed_compile", "index_wait", "llm_threads", "chroma_timeout",
    "follow_", "state_store", "redis_", "session_ttl_hours", "log_level", "feed_",
)  # fmt: skip


def fingerprint(settings: Settings) -> str:
    """A hash of the settings that shape answers: a server answers for ``ask`` only when
    its fingerprint is the caller's."""
    shaping = {
        name: value
        for name, value in settings.model_dump(mode="json").items()
        if name not in SECRET_FIELDS and not name.startswith(_NOT_ANSWERS)
    }
    shaping["data_dir"] = str(Path(settings.data_dir).resolve())
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]


def connect_url(host: str, port: int) -> str:
    """The URL a local client reaches ``host:port`` at (a wildcard address means loopback)."""
    if host in {"", "0.0.0.0"}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def announce(settings: Settings, url: str) -> Iterator[Path]:
    """Write the server file for as long as the block runs (the server serves)."""
    path = Path(settings.data_dir) / SERVER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"url": url, "pid": os.getpid(), "settings": fingerprint(settings)}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record) + "\n")
    tmp.replace(path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():  # not a newer server's
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def find_server(settings: Settings, timeout: float = 1.0) -> str | None:
    """The URL of a ready server on this data dir with the same answer settings, or None."""
    try:
        record = json.loads((Path(settings.data_dir) / SERVER_FILE).read_text())
        url, pid = str(record["url"]), int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record.get("settings") != fingerprint(settings) or not _alive(pid):
        return None
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout) as res:
            return url if res.status == 200 else None
    except (OSError, ValueError):
        return None


def ask_server(
    url: str,
    settings: Settings,
    question: str,
    k: int | None = None,
    filters: Filters | None = None,
    as_of: datetime | None = None,
    timeout: float = 120,
) -> Answer | None:
    """``question`` answered by the server at ``url`` (POST /v1/ask), or None when it could
    not answer (then the caller answers in process). A bad question or an empty index raise
    as they would in process."""
    body: dict[str, Any] = {"question": question, "k": k}
    if filters is not None:
        body["filters"] = filters.model_dump(mode="json")
    if as_of is not None:
        body["as_of"] = as_of.isoformat()
    headers = {"content-type": "application/json"}
    if settings.api_token is not None:
        headers["authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    request = urllib.request.Request(f"{url}/v1/ask", json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as res:
            return Answer.model_validate_json(res.read())
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(ValueError):
            problem = json.loads(exc.read())
            if problem.get("error") == "question":
                raise QuestionError(str(problem.get("detail"))) from None
            if problem.get("error") == "empty_index":
                raise EmptyIndexError(str(problem.get("detail"))) from None
        return None
    except (OSError, ValueError):
        return None
