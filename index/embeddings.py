"""Sentence embeddings: the :class:`Embedder` interface and its sentence-transformers
implementation, which schedules encoder runs (queries first). It is composed of parts:
where the model comes from is ``index.sentence_model``; its ONNX files, ``index.onnx_exports``;
the precision it encodes at, ``index.precision_choice``; the compiled bf16 path of long
ingests, ``index.bf16_compile``. Which embedder a process uses for what is
``index.embedders``."""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.bf16_compile import COMPILE_MIN_ROWS, Bf16Compiler
from index.chunking import Span
from index.errors import ConfigError
from index.onnx_exports import OnnxExports
from index.precision import MIN_MEAN_COSINE, PRECISIONS, Calibration
from index.precision_choice import Encoding
from index.sentence_model import (
    DEFAULT_MODEL,
    default_cache_dir,
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


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (or a configured device), batched and
    normalised, at a chosen precision (``encoding``: index/precision_choice.py). Safe to share
    between threads: one encoder run at a time (torch and ONNX Runtime release the GIL
    meanwhile, so other threads can parse and chunk), queries before ingest work
    (:class:`PriorityGate`): documents are embedded ``batch_size`` texts at a time, and a
    waiting query goes next."""

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
        holds the exported ONNX models (default ~/.cache/newsroom-assistant). ``compile``:
        big bf16 batches run a torch.compile'd graph once it is ready (index/bf16_compile.py)."""
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
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        # the one owner of this model's ONNX files (the light query model, the int8 model)
        self.exports = OnnxExports(path, self.cache_dir)
        self.encoding = Encoding(self.model, name, device, batch_size, self.exports, self.cache_dir)
        self.dimension = self.encoding.dimension
        self.max_tokens = self.encoding.max_tokens
        # Chunking (another thread during a pipelined ingest) gets its own copy of the
        # tokenizer: a Rust tokenizer used from two threads with different truncation
        # settings fails with "Already borrowed".
        self.tokenizer = copy.deepcopy(self.model.tokenizer)
        self._tokenizer_lock = threading.Lock()
        self._gate = PriorityGate()
        self.compiler = Bf16Compiler(device, compile)
        self.requested = precision
        self.precision = self.encoding.choose(precision, flags, threshold)

    @property
    def calibration(self) -> list[Calibration]:
        """How the faster paths compared with fp32 when the precision was chosen."""
        return self.encoding.calibration

    def close(self) -> None:
        """Wait for a bf16 compile still running (see ``Bf16Compiler.close``)."""
        self.compiler.close()

    # -- the light query path (index/light.py) ----------------------------------------------
    def ensure_light_export(self) -> Path | None:
        """The fp32 ONNX export the light query embedder runs, written into the cache dir
        when missing (seconds, once per model) and kept only when its vectors agree with
        this model's fp32 ones on the calibration passages. None when the model is not one
        the light path reproduces, or the export failed or disagreed (the torch path is
        used then)."""

        def reference(texts: list[str]) -> np.ndarray:
            with self._gate.urgent():
                return self.encoding.encode_fp32(texts)

        return self.encoding.ensure_light_export(reference)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed ingest work in slices of ``batch_size`` texts, similar lengths together; a
        query (:meth:`embed_query`) waiting meanwhile runs before the next slice."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) >= COMPILE_MIN_ROWS:
            self.compiler.ingest(len(texts), self.encoding.bf16_module)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            with self._gate.background():
                out[rows] = self._encode([texts[r] for r in rows])
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.encoding.encode(texts, self.compiler.compiled)

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
