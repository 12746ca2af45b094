"""Checks of the answering settings that cost milliseconds, made before anything heavy loads:
a misconfigured language model is reported at once, not after the embedding model has loaded
(seconds on a laptop, tens of seconds on a busy machine). Each backend's rules live in its
registry entry (assistant/answering/backends.py), which the builder follows too."""

from __future__ import annotations

from assistant.answering import backends
from assistant.settings import Settings


def check_answerer(settings: Settings, probe_timeout: float = 0.5) -> list[str]:
    """Raise ConfigError for answering settings that cannot work; return warnings for ones
    that will only fall back (the LLM server not answering: the extractive answer is used)."""
    return backends.check(settings, probe_timeout)
