"""The embedder component: which embedder a process uses for ingest, for queries and for the
reader's sentences, all of one model, its folders worked out once.

- :meth:`Embedders.ingest`: the torch model (index/embeddings.py) at the configured precision,
  which also leaves the ONNX files the other two run, so that a question never waits for them.
- :meth:`Embedders.query`: the light ONNX model (index/light.py: no torch import) when its
  checked fp32 export is in the cache dir, else the torch model, which then writes it.
- :meth:`Embedders.reader`: the int8 quantisation of that export, for the reader's sentences.

The ONNX files themselves are made, checked and kept by index/onnx_exports.py alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from index.embeddings import Embedder, SentenceTransformerEmbedder, load_embedder
from index.errors import ConfigError
from index.light import load_light
from index.onnx_exports import OnnxExports
from index.sentence_model import default_cache_dir, offline_environment, resolve_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedderConfig:
    """What the embedders are built from (the settings' ``embed_*``, ``query_engine``,
    ``reader_int8`` and ``cache_dir``)."""

    model: str
    device: str = "cpu"
    batch_size: int = 32
    precision: str = "fp32"
    compile: bool = False
    cache_dir: Path | None = None
    query_engine: Literal["auto", "torch", "onnx"] = "auto"
    reader_int8: bool = True
    # False for a reader that never embeds with this model (the e5 reader, no reader model)
    reader_embeds: bool = True

    @property
    def on_cpu_onnx(self) -> bool:
        """Whether the ONNX models may serve at all: not on a GPU, not with queries on torch."""
        return self.query_engine != "torch" and self.device == "cpu"


class Embedders:
    """The ingest, query and reader embedders of one model (see the module docstring)."""

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config

    @cached_property
    def model_dir(self) -> str:
        """The model's folder (the packaged default resolved), worked out once."""
        return resolve_model(self.config.model)

    @cached_property
    def exports(self) -> OnnxExports:
        """The model's ONNX files in the cache dir."""
        cache = self.config.cache_dir or default_cache_dir()
        return OnnxExports(self.model_dir, cache)

    def full(self) -> SentenceTransformerEmbedder:
        """The torch model, one per configuration in a process (``load_embedder``)."""
        c = self.config
        return load_embedder(
            c.model,
            c.device,
            c.batch_size,
            c.precision,
            cache_dir=str(c.cache_dir) if c.cache_dir else None,
            compile=c.compile,
        )

    def ingest(self) -> SentenceTransformerEmbedder:
        """The torch model, with the light query model's export (and the reader's int8 copy,
        ~2 s) made once per model, so that questions skip torch."""
        full = self.full()
        if self.config.on_cpu_onnx:
            exported = full.ensure_light_export()
            if exported is not None and self.config.reader_int8:
                full.exports.ensure_int8()
        return full

    def query(self) -> Embedder:
        """The embedder of a process that answers questions: the light ONNX path when its
        checked export is in the cache dir, else the torch model, which then writes that
        export for the next start. The light embedder hands long document lists (ingest work)
        to the torch model, loaded at that point. With ``auto``, a precision of bf16 or int8
        asked for by name keeps queries on torch."""
        c = self.config
        named = c.precision not in ("auto", "fp32")  # bf16/int8 asked for by name
        if not c.on_cpu_onnx or (c.query_engine == "auto" and named):
            return self.full()
        offline_environment()
        light = self._light_from_cache()
        if light is not None:
            return light
        full = self.full()
        written = full.ensure_light_export()
        if c.query_engine == "onnx":
            if written is None:
                raise ConfigError(
                    f"query_engine onnx: no checked ONNX export of {c.model!r} (a model "
                    "other than mean-pooling, or the export failed: see the log); use auto"
                )
            found = load_light(
                c.model, self.model_dir, written, heavy=lambda: full, batch_size=c.batch_size
            )
            if found is not None:
                return found
        return full

    def _light_from_cache(self) -> Embedder | None:
        """The light embedder of the checked export already kept, if it runs."""
        exported = self.exports.kept(self.exports.fp32)  # only an export that passed its check
        if exported is None:
            return None
        try:
            return load_light(
                self.config.model,
                self.model_dir,
                exported,
                heavy=self.full,
                batch_size=self.config.batch_size,
            )
        except Exception as exc:  # an unreadable export, a broken runtime: torch answers
            log.warning("cannot run the light query model (%s); using torch, exporting anew", exc)
            self.exports.discard(exported)
            return None

    def reader(self, model: Embedder) -> Embedder:
        """What the reader embeds its sentences with: the int8 quantisation of the checked
        fp32 ONNX export (``reader_int8``; the reader's similarity for 16 sentences in ~55 ms
        instead of ~115 ms, and the packaged reader model is fitted on it), else ``model``
        (the query embedder) itself. Not loaded for a reader that does not embed."""
        c = self.config
        if not c.reader_int8 or not c.on_cpu_onnx or not c.reader_embeds:
            return model
        path = self.exports.ensure_int8()  # checked against the fp32 export before it was kept
        if path is None:
            return model
        try:
            light = load_light(c.model, self.model_dir, path)
        except Exception as exc:  # an unreadable file: the reader still has the index's model
            log.warning("cannot run the int8 reader model (%s); using the index's embedder", exc)
            self.exports.discard(path)
            return model
        return light or model
