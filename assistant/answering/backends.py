"""The language model the settings name, built through llama-index's LLM integrations.

- ``openai``: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server, LM Studio, TGI)
  through ``llama-index-llms-openai-like``;
- ``ollama``: an Ollama server through ``llama-index-llms-ollama``;
- ``llamacpp``: a GGUF file served by llama.cpp in this process (``xllamacpp``, prebuilt;
  see assistant/answering/local_llm.py), or a running ``llama-server`` at ``llm_base_url``,
  through the same OpenAI-compatible client as ``openai``.
"""

from __future__ import annotations

import os

from llama_index.core.llms import LLM

from assistant.settings import Settings
from index.errors import ConfigError

DEFAULT_URLS = {"openai": "http://127.0.0.1:8080/v1", "ollama": "http://127.0.0.1:11434"}


def describe(settings: Settings) -> str:
    """Which model, where: for notices and logs (never the key)."""
    if settings.llm_backend == "llamacpp" and not settings.llm_base_url:
        return f"llamacpp {settings.llm_model or 'SmolLM2-135M-Instruct (packaged)'}"
    url = settings.llm_base_url or DEFAULT_URLS[settings.llm_backend]
    return f"{settings.llm_backend} {settings.llm_model} at {url}"


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


def _llamacpp(settings: Settings) -> LLM:
    """llama.cpp's server: the one at ``llm_base_url``, else one started in this process."""
    if settings.llm_base_url:  # a running `llama-server`; it serves the model it loaded
        return _openai_like(settings, settings.llm_model or "local", settings.llm_base_url)
    from assistant.answering.local_llm import model_path, server_for

    path = model_path(settings.llm_model)
    server = server_for(
        path,
        context_window=settings.llm_context_window,
        threads=settings.llm_threads or os.cpu_count() or 2,
    )
    return _openai_like(settings, path.stem, server.base_url)


def build_llm(settings: Settings) -> LLM:
    """The llama-index LLM for ``settings.llm_backend``; ConfigError when it can't be built."""
    backend = settings.llm_backend
    if backend == "llamacpp":
        return _llamacpp(settings)
    if not settings.llm_model:
        raise ConfigError("answerer 'llm' needs ASSISTANT_LLM_MODEL (the model name)")
    if backend == "openai":
        return _openai_like(
            settings, settings.llm_model, settings.llm_base_url or DEFAULT_URLS["openai"]
        )
    if backend == "ollama":
        from llama_index.llms.ollama import Ollama

        return Ollama(
            model=settings.llm_model,
            base_url=settings.llm_base_url or DEFAULT_URLS["ollama"],
            request_timeout=settings.llm_timeout,
            temperature=settings.llm_temperature,
            context_window=settings.llm_context_window,
            additional_kwargs={"num_predict": settings.llm_max_tokens},
        )
    raise ConfigError(f"unknown llm_backend {backend!r}: use openai, ollama or llamacpp")
