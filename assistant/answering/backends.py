"""The language model the settings name, built through llama-index's LLM integrations.

- ``openai``: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server, LM Studio, TGI)
  through ``llama-index-llms-openai-like``;
- ``ollama``: an Ollama server through ``llama-index-llms-ollama``;
- ``llamacpp``: a GGUF file in this process through ``llama-index-llms-llama-cpp`` (the
  optional ``llamacpp`` extra, since llama-cpp-python compiles on install).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.llms import LLM

from assistant.settings import Settings
from index.errors import ConfigError

DEFAULT_URLS = {"openai": "http://127.0.0.1:8080/v1", "ollama": "http://127.0.0.1:11434"}


def describe(settings: Settings) -> str:
    """Which model, where: for notices and logs (never the key)."""
    if settings.llm_backend == "llamacpp":
        return f"llamacpp {settings.llm_model}"
    url = settings.llm_base_url or DEFAULT_URLS[settings.llm_backend]
    return f"{settings.llm_backend} {settings.llm_model} at {url}"


def _api_key(settings: Settings) -> str:
    if settings.llm_api_key is not None:
        return settings.llm_api_key.get_secret_value()
    # local servers accept any key, but the OpenAI client insists on one
    return os.environ.get("OPENAI_API_KEY") or "not-needed"


def chatml(messages: Sequence[ChatMessage]) -> str:
    """Messages in the ChatML layout most instruct GGUFs (Qwen and others) were tuned on."""
    parts = [f"<|im_start|>{m.role.value}\n{m.content or ''}<|im_end|>" for m in messages]
    return "\n".join([*parts, "<|im_start|>assistant\n"])


def build_llm(settings: Settings) -> LLM:
    """The llama-index LLM for ``settings.llm_backend``; ConfigError when it can't be built."""
    backend = settings.llm_backend
    if not settings.llm_model:
        what = "path of a .gguf file" if backend == "llamacpp" else "model name"
        raise ConfigError(f"answerer 'llm' needs ASSISTANT_LLM_MODEL (the {what})")
    if backend == "openai":
        from llama_index.llms.openai_like import OpenAILike

        return OpenAILike(
            model=settings.llm_model,
            api_base=settings.llm_base_url or DEFAULT_URLS["openai"],
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
    if backend == "llamacpp":
        try:
            from llama_index.llms.llama_cpp import LlamaCPP
        except ImportError as exc:
            raise ConfigError(
                "llm_backend 'llamacpp' needs the optional extra: "
                "pip install 'newsroom-assistant[llamacpp]' (compiles llama-cpp-python)"
            ) from exc
        path = Path(settings.llm_model).expanduser()
        if not path.is_file():
            raise ConfigError(f"ASSISTANT_LLM_MODEL={settings.llm_model}: no such .gguf file")
        kwargs: dict[str, Any] = {"n_ctx": settings.llm_context_window, "verbose": False}
        return LlamaCPP(
            model_path=str(path),
            temperature=settings.llm_temperature,
            max_new_tokens=settings.llm_max_tokens,
            context_window=settings.llm_context_window,
            model_kwargs=kwargs,
            messages_to_prompt=chatml,
            completion_to_prompt=lambda text: chatml([ChatMessage(role="user", content=text)]),
            verbose=False,
        )
    raise ConfigError(f"unknown llm_backend {backend!r}: use openai, ollama or llamacpp")
