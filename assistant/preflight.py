"""Checks of the answering settings that cost milliseconds, made before anything heavy loads:
a misconfigured language model is reported at once, not after the embedding model has loaded
(seconds on a laptop, tens of seconds on a busy machine)."""

from __future__ import annotations

import importlib.util
import socket
from urllib.parse import urlsplit

from assistant.settings import Settings
from index.errors import ConfigError

# the backends' default servers (assistant/answering/backends.py builds the clients)
_DEFAULT_URLS = {"openai": "http://127.0.0.1:8080/v1", "ollama": "http://127.0.0.1:11434"}


def check_answerer(settings: Settings, probe_timeout: float = 0.5) -> list[str]:
    """Raise ConfigError for answering settings that cannot work; return warnings for ones
    that will only fall back (the LLM server not answering: the extractive answer is used)."""
    if settings.answerer == "extractive":
        return []
    if settings.answerer != "llm":
        raise ConfigError(
            f"unknown answerer {settings.answerer!r}: use 'extractive' or 'llm' "
            "(ASSISTANT_ANSWERER)"
        )
    backend = settings.llm_backend
    if backend == "llamacpp" and not settings.llm_base_url:
        # served in this process by xllamacpp from the named GGUF, or the packaged SmolLM2
        # (the same rule as assistant/answering/backends.py, which builds it)
        from assistant.answering.local_llm import model_path

        if importlib.util.find_spec("xllamacpp") is None:
            raise ConfigError(
                "llm_backend 'llamacpp' needs xllamacpp (prebuilt llama.cpp): pip install xllamacpp"
            )
        model_path(settings.llm_model)  # ConfigError: no such file, not GGUF, none packaged
        return []
    if not settings.llm_model and backend != "llamacpp":
        raise ConfigError("answerer 'llm' needs ASSISTANT_LLM_MODEL (the model name)")
    url = settings.llm_base_url or _DEFAULT_URLS[backend]
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"ASSISTANT_LLM_BASE_URL={url!r} is not an http(s) URL, e.g. http://127.0.0.1:8080/v1"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=probe_timeout):
            return []
    except OSError as exc:
        return [
            f"the {backend} server at {url} does not answer ({exc.__class__.__name__}): "
            "answers will fall back to the extractive answerer"
        ]
