"""The servers' logging (``serve``, ``ui``, ``slack``): one level from the settings, and the
HTTP clients' per-request lines (httpx's "HTTP Request: POST …/query" for every Chroma call)
kept at DEBUG, where they do not drown the lines that matter. Question texts are logged only
at debug level (assistant/core.py): questions can be sensitive in a newsroom."""

from __future__ import annotations

import logging

from assistant.settings import Settings

# loggers that write a line per HTTP request or per client step
CHATTY = ("httpx", "httpcore", "chromadb", "urllib3", "slack_sdk", "slack_bolt")
FORMAT = "%(levelname)s: %(name)s: %(message)s"


def configure_logging(settings: Settings) -> None:
    """Log at ``settings.log_level`` to stderr; the chatty clients only at debug level."""
    level = getattr(logging, settings.log_level.upper())
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=FORMAT)
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level <= logging.DEBUG else "WARNING")
