"""The light query embedder: the embedding model's fp32 ONNX export run by ONNX Runtime and
tokenised by HF ``tokenizers`` (Rust), so a cold ``ask`` never imports torch, transformers or
sentence-transformers (seconds of imports on a small machine; bench/RESULTS.md, "Start-up").

The export is written once into the cache dir by a process that has the torch model loaded
anyway (``SentenceTransformerEmbedder.ensure_light_export``: ingest, the first question that
finds none), and kept only after its vectors agreed with the torch fp32 ones (cosine >=
MIN_AGREEMENT on the calibration passages): index/onnx_exports.py owns it and its int8
quantisation. Only a model whose sentence-transformers config this module reproduces is served:
Transformer → mean Pooling (→ Normalize), no lower-casing by sentence-transformers; for any
other, :func:`light_config` says None and the torch path is used.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import Span
from index.precision import onnx_session

log = logging.getLogger(__name__)

LIGHT_FILE = "model-fp32.onnx"
INT8_FILE = "model-int8.onnx"
# an export is used only when every calibration vector agrees with torch fp32 at least this well
MIN_AGREEMENT = 0.999
# embed_documents calls of more texts than this (ingest work) go to the full embedder, when
# one is given: the torch model is loaded then, and runs the configured precision (bf16 …)
LIGHT_MAX_ROWS = 64

Forward = Callable[[dict[str, np.ndarray]], np.ndarray]

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"


@dataclass(frozen=True)
class LightConfig:
    """What the light path needs to know of a sentence-transformers model directory."""

    dimension: int
    max_tokens: int
    tokenizer_file: Path
    pad_token: str | None


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def light_config(model_dir: str) -> LightConfig | None:
    """The model's config when the light path reproduces it exactly, else None."""
    root = Path(model_dir)
    try:
        modules = _read(root / "modules.json")
        types = [m["type"] for m in modules]
        if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
            return None
        if modules[0].get("path", "") != "":
            return None
        pooling = _read(root / modules[1]["path"] / "config.json")
        modes = {k: bool(v) for k, v in pooling.items() if k.startswith("pooling_mode_")}
        if not modes.get("pooling_mode_mean_tokens") or sum(modes.values()) != 1:
            return None
        st_config = _read(root / "sentence_bert_config.json")
        if st_config.get("do_lower_case"):
            return None
        tokenizer_file = root / "tokenizer.json"
        if not tokenizer_file.is_file():
            return None
        special = root / "special_tokens_map.json"
        pad = _read(special).get("pad_token") if special.is_file() else None
        if isinstance(pad, dict):
            pad = pad.get("content")
        return LightConfig(
            dimension=int(pooling["word_embedding_dimension"]),
            max_tokens=int(st_config["max_seq_length"]),
            tokenizer_file=tokenizer_file,
            pad_token=pad if isinstance(pad, str) else None,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def pool(
    ids: list[list[int]],
    types: list[list[int]],
    pad: int,
    dimension: int,
    batch_size: int,
    forward: Forward,
    compiled: Forward | None = None,
) -> np.ndarray:
    """Embed tokenised texts in length-sorted batches (little padding), mean-pool over the
    attention mask and normalise in fp32: what sentence-transformers does for a mean-pooling
    model. ``compiled`` (if any) runs batches of more than one row."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
    out = np.zeros((len(ids), dimension), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(ids[r]) for r in rows)
        input_ids = np.full((len(rows), width), pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        type_ids = np.zeros((len(rows), width), dtype=np.int64)
        for j, r in enumerate(rows):
            n = len(ids[r])
            input_ids[j, :n], mask[j, :n], type_ids[j, :n] = ids[r], 1, types[r]
        # single rows stay eager: a compiled graph would specialise (recompile) on them
        run = compiled if compiled is not None and len(rows) > 1 else forward
        hidden = run({"input_ids": input_ids, "attention_mask": mask, "token_type_ids": type_ids})
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out[rows] = pooled / np.clip(norms, 1e-12, None)
    return out


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxEmbedder:
    """The :class:`~index.embeddings.Embedder` of the light path (fp32, CPU). Queries and
    short document lists (the reader's sentences) run the ONNX export; a long
    ``embed_documents`` call (ingest) goes to ``heavy()``, the full embedder, loaded then."""

    @property
    def precision(self) -> str:
        """fp32 (the export); the full embedder's once ingest work has loaded it."""
        return str(self._heavy.precision) if self._heavy is not None else "fp32"

    def __init__(
        self,
        name: str,
        config: LightConfig,
        onnx_path: Path,
        heavy: Callable[[], Any] | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.path = onnx_path
        self.dimension = config.dimension
        self.max_tokens = config.max_tokens
        self.batch_size = batch_size
        # two tokenisers: one truncating for the model, one whole for offsets and counts (a
        # Rust tokenizer whose settings change under another thread fails "Already borrowed")
        self._model_tok = Tokenizer.from_file(str(config.tokenizer_file))
        self._model_tok.no_padding()
        self._model_tok.enable_truncation(max_length=config.max_tokens)
        self._text_tok = Tokenizer.from_file(str(config.tokenizer_file))
        self._text_tok.no_padding()
        self._text_tok.no_truncation()
        found = self._model_tok.token_to_id(config.pad_token) if config.pad_token else None
        self._pad = int(found or 0)
        self._lock = threading.Lock()
        self._forward = onnx_session(onnx_path, threads or _threads())
        self._heavy_factory = heavy
        self._heavy: Any = None

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            encs = self._model_tok.encode_batch([t.strip() for t in texts])
        ids = [e.ids for e in encs]
        types = [e.type_ids for e in encs]
        return pool(ids, types, self._pad, self.dimension, self.batch_size, self._forward)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if len(texts) > LIGHT_MAX_ROWS and self._heavy_factory is not None:
            if self._heavy is None:
                self._heavy = self._heavy_factory()
            return np.asarray(self._heavy.embed_documents(texts), dtype=np.float32)
        return self._encode(texts)

    def token_offsets(self, texts: list[str]) -> list[list[Span]]:
        if not texts:
            return []
        with self._lock:
            encs = self._text_tok.encode_batch(texts, add_special_tokens=False)
        return [[(int(s), int(e)) for s, e in enc.offsets] for enc in encs]

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        with self._lock:
            encs = self._text_tok.encode_batch(texts, add_special_tokens=True)
        return [len(enc.ids) for enc in encs]

    def close(self) -> None:
        if self._heavy is not None and hasattr(self._heavy, "close"):
            self._heavy.close()


def load_light(
    name: str,
    model_dir: str,
    path: Path,
    heavy: Callable[[], Any] | None = None,
    batch_size: int = 32,
) -> OnnxEmbedder | None:
    """The light embedder of the model in ``model_dir`` running the export at ``path``
    (``OnnxExports.fp32`` for the checked one), or None when the model's config is not one
    the light path reproduces or there is no export."""
    config = light_config(model_dir)
    if config is None:
        return None
    if not path.is_file():
        return None
    return OnnxEmbedder(name, config, path, heavy=heavy, batch_size=batch_size)
