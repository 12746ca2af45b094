"""The answer backends: one registry entry per way of writing an answer.

An entry knows how it is built (``build``: the llama-index LLM it answers with; none for the
extractive reader), how its settings are checked before anything heavy loads (``check``:
milliseconds, so a mistake is reported before the embedding model loads), and how it
describes itself in errors, notices and ``--help`` (``summary``, ``model_help``, ``label``).
``preflight.check_answerer``, ``make_answerer``, the condenser choice and evaluation all ask
:func:`backend_for`; nothing else knows a backend's rules, so the check and the build cannot
drift apart. A new backend is one :func:`register` call, and the tests register their
scripted model the same way (tests/fake_llm.py), as simonw/llm registers its mock model.

The built-in entries:

- ``extractive``: the learned reader (assistant/answering/extractive.py), offline, the default;
- ``openai``: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server, LM Studio, TGI)
  through ``llama-index-llms-openai-like``;
- ``ollama``: an Ollama server through ``llama-index-llms-ollama``;
- ``llamacpp``: a GGUF file served by llama.cpp in this process (``xllamacpp``, prebuilt; see
  assistant/answering/local_llm.py; no file named: the packaged SmolLM2), or a running
  ``llama-server`` at ``llm_base_url``, through the same OpenAI-compatible client as ``openai``.

``answerer = "extractive"`` picks the first; ``answerer = "llm"`` the one ``llm_backend`` names.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from index.errors import ConfigError

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from assistant.settings import Settings

EXTRACTIVE = "extractive"
LLM_ANSWERER = "llm"  # ``answerer = "llm"``: the language model ``llm_backend`` names


def _nothing_to_check(settings: Settings, probe_timeout: float | None) -> list[str]:
    return []


@dataclass(frozen=True)
class Backend:
    """One way of writing answers, and everything the rest of the code asks about it."""

    name: str
    summary: str  # what it talks to, one line: --help and error messages
    build: Callable[[Settings], LLM] | None = None  # None: no language model (extractive)
    # ConfigError for settings that cannot work; warnings for ones that will only fall back
    # (a server not answering, probed when a timeout is given). Called before anything heavy
    # loads, and by build_llm before ``build``: the builders take the checked rules as given
    check: Callable[[Settings, float | None], list[str]] = _nothing_to_check
    label: Callable[[Settings], str] | None = None  # which model, where (never the key)
    model_help: str = ""  # what ``llm_model`` means for it
    default_url: str | None = None

    @property
    def writes_with_llm(self) -> bool:
        """Whether a language model writes the answers (chosen with ``answerer = "llm"``)."""
        return self.build is not None

    def describe(self, settings: Settings) -> str:
        """Which model, where: for notices, logs and evaluation reports."""
        return self.label(settings) if self.label is not None else self.name

    def url(self, settings: Settings) -> str | None:
        """The server it talks to: ``llm_base_url``, else its default."""
        return settings.llm_base_url or self.default_url


_registry: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    """Add ``backend``; its name picks it (``extractive``, or ``llm_backend`` for an LLM)."""
    if backend.name in _registry:
        raise ValueError(f"an answer backend named {backend.name!r} is registered already")
    _registry[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Remove the backend ``name`` (a test's fake, once the test is done)."""
    _registry.pop(name, None)


def backends() -> list[Backend]:
    """Every registered backend, the extractive one first."""
    return list(_registry.values())


def llm_backend_names() -> list[str]:
    return [b.name for b in _registry.values() if b.writes_with_llm]


def _choices(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)


def check_answerer_name(name: str) -> str:
    """``name`` when it is an answerer (``extractive`` or ``llm``), else ConfigError."""
    if name not in (EXTRACTIVE, LLM_ANSWERER):
        raise ConfigError(
            f"unknown answerer {name!r}: use {_choices([EXTRACTIVE, LLM_ANSWERER])} "
            "(ASSISTANT_ANSWERER)"
        )
    return name


def check_llm_backend_name(name: str) -> str:
    """``name`` when a language-model backend of that name is registered, else ConfigError."""
    found = _registry.get(name)
    if found is None or not found.writes_with_llm:
        listed = "; ".join(f"{b.name}: {b.summary}" for b in _registry.values() if b.build)
        raise ConfigError(
            f"unknown llm_backend {name!r}: use {_choices(llm_backend_names())} "
            f"(ASSISTANT_LLM_BACKEND; {listed})"
        )
    return name


def backend_for(settings: Settings) -> Backend:
    """The backend the settings pick; ConfigError (naming the choices) for unknown names."""
    if check_answerer_name(settings.answerer) == EXTRACTIVE:
        return _registry[EXTRACTIVE]
    return _registry[check_llm_backend_name(settings.llm_backend)]


def check(settings: Settings, probe_timeout: float | None = 0.5) -> list[str]:
    """The backend's checks of the settings: ConfigError, or warnings (``probe_timeout``:
    seconds to wait for its server to accept a connection; None: no probe)."""
    backend = backend_for(settings)
    return backend.check(settings, probe_timeout)


def build_llm(settings: Settings) -> LLM:
    """The llama-index LLM the settings pick, after the same checks as the preflight (so a
    setting is refused with one message wherever it is first used); ConfigError when it
    can't be built."""
    backend = backend_for(settings)
    if backend.build is None:
        raise ConfigError(f"answerer {settings.answerer!r} uses no language model")
    backend.check(settings, None)
    return backend.build(settings)


def describe(settings: Settings) -> str:
    """The answerer the settings pick, as reports name it: ``extractive``, ``llm (…)``."""
    backend = backend_for(settings)
    if not backend.writes_with_llm:
        return backend.name
    return f"{LLM_ANSWERER} ({backend.describe(settings)})"


# -- the servers' backends: openai, ollama, llamacpp at a URL -------------------------------
def _needs_model(settings: Settings, backend: Backend) -> str:
    if not settings.llm_model:
        raise ConfigError(
            f"answerer 'llm' with llm_backend {backend.name!r} needs ASSISTANT_LLM_MODEL "
            f"({backend.model_help})"
        )
    return settings.llm_model


def _probe(backend: Backend, url: str, probe_timeout: float | None) -> list[str]:
    """ConfigError for a URL that is not one; a warning when nothing listens there (answers
    then fall back to the extractive answerer, so it is no error)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"ASSISTANT_LLM_BASE_URL={url!r} is not an http(s) URL, e.g. http://127.0.0.1:8080/v1"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range
        raise ConfigError(f"ASSISTANT_LLM_BASE_URL={url!r}: {exc}") from exc
    if probe_timeout is None:
        return []
    try:
        with socket.create_connection((parts.hostname, port), timeout=probe_timeout):
            return []
    except OSError as exc:
        return [
            f"the {backend.name} server at {url} does not answer ({exc.__class__.__name__}): "
            "answers will fall back to the extractive answerer"
        ]


def _check_server(name: str) -> Callable[[Settings, float | None], list[str]]:
    def check_it(settings: Settings, probe_timeout: float | None) -> list[str]:
        backend = _registry[name]
        _needs_model(settings, backend)
        url = backend.url(settings)
        assert url is not None, f"{name} has a default URL"
        return _probe(backend, url, probe_timeout)

    return check_it


def _label_server(name: str) -> Callable[[Settings], str]:
    def label(settings: Settings) -> str:
        return f"{name} {settings.llm_model} at {_registry[name].url(settings)}"

    return label


def _api_key(settings: Settings) -> str:
    if settings.llm_api_key is not None:  # ASSISTANT_LLM_API_KEY, else OPENAI_API_KEY
        return settings.llm_api_key.get_secret_value()
    # local servers accept any key, but the OpenAI client insists on one
    return "not-needed"


def _openai_like(settings: Settings, model: str, url: str) -> LLM:
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=model,
        api_base=url,
        api_key=_api_key(settings),
        timeout=settings.llm_timeout,
        # a down server should fall back at once, not after retries with back-off
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        context_window=settings.llm_context_window,
        is_chat_model=True,
        is_function_calling_model=False,
    )


def _build_openai(settings: Settings) -> LLM:
    return _openai_like(settings, settings.llm_model, _registry["openai"].url(settings) or "")


def _build_ollama(settings: Settings) -> LLM:
    from llama_index.llms.ollama import Ollama

    return Ollama(
        model=settings.llm_model,
        base_url=_registry["ollama"].url(settings),
        request_timeout=settings.llm_timeout,
        temperature=settings.llm_temperature,
        context_window=settings.llm_context_window,
        additional_kwargs={"num_predict": settings.llm_max_tokens},
    )


# -- llamacpp: in this process, or a running llama-server -----------------------------------
# The one rule of llamacpp: with llm_base_url, a running `llama-server` (it serves the model
# it loaded, so no model setting is needed); without, llama.cpp in this process (xllamacpp)
# serving the GGUF that llm_model names, or the packaged SmolLM2 when it names none.
def _check_llamacpp(settings: Settings, probe_timeout: float | None) -> list[str]:
    if settings.llm_base_url:
        return _probe(_registry["llamacpp"], settings.llm_base_url, probe_timeout)
    from assistant.answering.local_llm import INSTALL_RUNTIME, model_path

    if importlib.util.find_spec("xllamacpp") is None:
        raise ConfigError(
            f"llm_backend 'llamacpp' needs xllamacpp (prebuilt llama.cpp): {INSTALL_RUNTIME}"
        )
    model_path(settings.llm_model)  # ConfigError: no such file, not GGUF, none packaged
    return []


def _build_llamacpp(settings: Settings) -> LLM:
    if settings.llm_base_url:
        return _openai_like(settings, settings.llm_model or "local", settings.llm_base_url)
    from assistant.answering.local_llm import model_path, server_for

    path = model_path(settings.llm_model)
    server = server_for(
        path,
        context_window=settings.llm_context_window,
        threads=settings.llm_threads or os.cpu_count() or 2,
    )
    return _openai_like(settings, path.stem, server.base_url)


def _label_llamacpp(settings: Settings) -> str:
    if settings.llm_base_url:
        return f"llamacpp {settings.llm_model or 'llama-server'} at {settings.llm_base_url}"
    return f"llamacpp {settings.llm_model or 'SmolLM2-135M-Instruct (packaged)'}"


register(Backend(EXTRACTIVE, "the learned extractive reader: offline, no language model"))
register(
    Backend(
        "openai",
        "any OpenAI-compatible server (OpenAI, vLLM, llama-server, LM Studio, TGI)",
        build=_build_openai,
        check=_check_server("openai"),
        label=_label_server("openai"),
        model_help="the model name",
        default_url="http://127.0.0.1:8080/v1",
    )
)
register(
    Backend(
        "ollama",
        "an Ollama server",
        build=_build_ollama,
        check=_check_server("ollama"),
        label=_label_server("ollama"),
        model_help="the model name, e.g. qwen2.5:3b",
        default_url="http://127.0.0.1:11434",
    )
)
register(
    Backend(
        "llamacpp",
        "a GGUF model run by llama.cpp in this process, or a llama-server at "
        "ASSISTANT_LLM_BASE_URL",
        build=_build_llamacpp,
        check=_check_llamacpp,
        label=_label_llamacpp,
        model_help="the path of a .gguf file; unset: the packaged SmolLM2-135M-Instruct",
    )
)
