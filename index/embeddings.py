"""Sentence embeddings: the :class:`Embedder` interface and its sentence-transformers
implementation, which schedules encoder runs (queries first) and exports the light query
model. Where the model comes from is ``index.sentence_model``; the precision it encodes at,
``index.precision_choice``; the compiled bf16 path of long ingests, ``index.bf16_compile``."""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.bf16_compile import COMPILE_MIN_ROWS, CompiledBf16
from index.chunking import Span
from index.errors import ConfigError
from index.precision import MIN_MEAN_COSINE, PRECISIONS, Calibration, export_fp32
from index.precision_choice import PrecisionChoice
from index.sentence_model import (
    DEFAULT_MODEL,
    default_cache_dir,
    embedding_dimension,
    load_model,
    resolve_model,
    sentence_transformer_class,
)

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns passages and queries into unit-length vectors."""

    name: str
    dimension: int
    max_tokens: int

    @property
    def precision(self) -> str: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def token_offsets(self, texts: list[str]) -> list[list[Span]]: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


class PriorityGate:
    """One encoder run at a time, queries first: an ingest slice waits while a query waits,
    so a query waits at most for the one ingest slice already running."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._urgent = 0

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        with self._cond:
            self._urgent += 1
            try:
                self._cond.wait_for(lambda: not self._busy)
            finally:
                self._urgent -= 1
            self._busy = True
        try:
            yield
        finally:
            self._release()

    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._busy and not self._urgent)
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()


class SentenceTransformerEmbedder(PrecisionChoice, CompiledBf16):
    """A sentence-transformers model on the CPU (or a configured device), batched and
    normalised, at a chosen precision (``index.precision_choice``). Safe to share between
    threads: one encoder run at a time (torch and ONNX Runtime release the GIL meanwhile, so
    other threads can parse and chunk), queries before ingest work (:class:`PriorityGate`):
    documents are embedded ``batch_size`` texts at a time, and a waiting query goes next."""

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        device: str = "cpu",
        batch_size: int = 32,
        precision: str = "fp32",
        cache_dir: str | Path | None = None,
        flags: set[str] | None = None,
        threshold: float = MIN_MEAN_COSINE,
        compile: bool = False,
    ) -> None:
        """``precision`` is auto, fp32, bf16 or int8. ``flags`` overrides the CPU flags auto
        looks at and ``threshold`` the agreement it demands (both for tests); ``cache_dir``
        holds the exported int8 model (default ~/.cache/newsroom-assistant). ``compile``:
        big bf16 batches run a torch.compile'd graph once it is ready (see _maybe_compile)."""
        sentence_transformer = sentence_transformer_class()
        if precision not in PRECISIONS:
            raise ConfigError(
                f"embedding precision {precision!r} is not one of {', '.join(PRECISIONS)}"
            )

        path = resolve_model(name)
        self.model: Any = load_model(sentence_transformer, name, path, device)
        self.name = name
        self.path = path
        self.device = device
        self.batch_size = batch_size
        self.dimension = embedding_dimension(self.model)
        self.max_tokens = int(self.model.max_seq_length)
        # Chunking (another thread during a pipelined ingest) gets its own copy of the
        # tokenizer: a Rust tokenizer used from two threads with different truncation
        # settings fails with "Already borrowed".
        self.tokenizer = copy.deepcopy(self.model.tokenizer)
        self._tokenizer_lock = threading.Lock()
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self._gate = PriorityGate()
        self._ingest_rows = 0
        self._forward: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
        self.compile = compile
        self._bf16_module: Any = None
        self._compile_started = False
        self.compile_thread: threading.Thread | None = None
        self._compiled: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
        self.requested = precision
        self.calibration: list[Calibration] = []
        self.precision = self._choose(precision, flags, threshold)

    # -- the light query path (index/light.py) ----------------------------------------------
    def ensure_light_export(self) -> Path | None:
        """The fp32 ONNX export the light query embedder runs, written into the cache dir
        when missing (seconds, once per model) and kept only when its vectors agree with
        this model's fp32 ones on the calibration passages. None when the model is not one
        the light path reproduces, or the export failed or disagreed (the torch path is
        used then)."""

        def export(dest: Path) -> Path:
            return export_fp32(self.model[0].auto_model, self.model.tokenizer, dest)

        def reference(texts: list[str]) -> np.ndarray:
            with self._gate.urgent():
                return self._encode_fp32(texts)

        return self.exports.ensure_fp32(export, reference)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed ingest work in slices of ``batch_size`` texts, similar lengths together; a
        query (:meth:`embed_query`) waiting meanwhile runs before the next slice."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) >= COMPILE_MIN_ROWS:
            self._ingest_rows += len(texts)
            self._maybe_compile()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            with self._gate.background():
                out[rows] = self._encode([texts[r] for r in rows])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Queries take the same path (and precision) as the documents, ahead of any
        ingest work waiting for the model."""
        with self._gate.urgent():
            return self._encode([text])[0]

    def token_offsets(self, texts: list[str]) -> list[list[Span]]:
        if not texts:
            return []
        with self._tokenizer_lock:
            enc = self.tokenizer(
                texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
        return [[(int(s), int(e)) for s, e in offs] for offs in enc["offset_mapping"]]

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word-pieces the model sees, special tokens included."""
        if not texts:
            return []
        with self._tokenizer_lock:
            enc = self.tokenizer(texts, add_special_tokens=True, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]


@lru_cache(maxsize=4)
def load_embedder(
    name: str = DEFAULT_MODEL,
    device: str = "cpu",
    batch_size: int = 32,
    precision: str = "fp32",
    cache_dir: str | None = None,
    compile: bool = False,
) -> SentenceTransformerEmbedder:
    """One loaded model per (name, device, batch size, precision, compile) in a process."""
    return SentenceTransformerEmbedder(
        name,
        device=device,
        batch_size=batch_size,
        precision=precision,
        cache_dir=cache_dir,
        compile=compile,
    )
