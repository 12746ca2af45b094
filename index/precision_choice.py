"""Which path an embedder encodes on, and the paths themselves: sentence-transformers' own
fp32 encode, or our forward (torch bf16, or the int8 ONNX model) with the same mean pooling.
The choice is made once at start, by calibrating the faster paths against fp32
(``index.precision`` measures), and remembered per machine in the cache dir.

:class:`Encoding` is a part of :class:`index.embeddings.SentenceTransformerEmbedder`: it is
given the loaded model and the model's ONNX files (index/onnx_exports.py) and owns the rest."""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ConfigError
from index.light import pool
from index.onnx_exports import OnnxExports
from index.precision import (
    Calibration,
    calibrate,
    calibration_texts,
    cpu_flags,
    export_fp32,
    model_fingerprint,
    native_candidates,
    onnx_session,
)
from index.sentence_model import embedding_dimension

log = logging.getLogger(__name__)

# remembered calibration outcomes, in the cache dir (see _remembered)
CALIBRATION_FILE = "calibration.json"

Forward = Callable[[dict[str, np.ndarray]], np.ndarray]
Reference = Callable[[list[str]], np.ndarray]


class Encoding:
    """Encoding the loaded sentence-transformers ``model`` at the chosen precision, and
    choosing it (:meth:`choose`). ``bf16_module`` is the bf16 copy of the transformer once the
    bf16 path is built (what index/bf16_compile.py compiles)."""

    def __init__(
        self,
        model: Any,
        name: str,
        device: str,
        batch_size: int,
        exports: OnnxExports,
        cache_dir: Path,
    ) -> None:
        self.model = model
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self.exports = exports
        self.cache_dir = cache_dir
        self.dimension = embedding_dimension(model)
        self.max_tokens = int(model.max_seq_length)
        self.calibration: list[Calibration] = []
        self.forward: Forward | None = None
        self.bf16_module: Any = None

    def ensure_light_export(self, reference: Reference | None = None) -> Path | None:
        """The checked fp32 ONNX export of this model (``OnnxExports.ensure_fp32``), made
        from the torch model and checked against ``reference`` (default: its fp32 encode)."""

        def export(dest: Path) -> Path:
            return export_fp32(self.model[0].auto_model, self.model.tokenizer, dest)

        return self.exports.ensure_fp32(export, reference or self.encode_fp32)

    # -- choosing the path -----------------------------------------------------------------
    def _mean_pooled(self) -> bool:
        """Our own bf16/int8 forward reproduces Transformer → mean Pooling (→ Normalize);
        other module stacks keep sentence-transformers' fp32 path."""
        mods = list(self.model)
        if len(mods) not in (2, 3) or type(mods[0]).__name__ != "Transformer":
            return False
        pooling = mods[1]
        # sentence-transformers 6 has ``pooling_mode``; older releases a getter
        mode = getattr(pooling, "pooling_mode", None)
        if mode is None:
            mode = getattr(pooling, "get_pooling_mode_str", lambda: "")()
        return bool(mode == "mean")

    def build(self, precision: str) -> Callable[[dict[str, np.ndarray]], np.ndarray] | None:
        """The forward of ``precision``; None for int8 when there is no checked int8 model
        (its quantisation disagreed with fp32 on this machine, or could not be made)."""
        import torch

        transformer = self.model[0].auto_model
        if precision == "bf16":
            bf16 = copy.deepcopy(transformer).to(torch.bfloat16).eval()
            self.bf16_module = bf16

            def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
                feed = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
                with torch.inference_mode():
                    hidden = bf16(**feed).last_hidden_state
                return hidden.float().cpu().numpy()

            return run
        # the one int8 file (index/onnx_exports.py): quantised from the checked fp32
        # export and kept only when it agreed with it, so a file that failed is never used
        path = self.exports.ensure_int8() if self.ensure_light_export() else None
        return onnx_session(path, torch.get_num_threads()) if path else None

    def choose(self, precision: str, flags: set[str] | None, threshold: float) -> str:
        if precision == "fp32":
            return "fp32"
        if not self._mean_pooled():
            if precision == "auto":
                return "fp32"
            raise ConfigError(
                f"precision {precision} needs a mean-pooling sentence-transformers model; "
                f"{self.name!r} is not one: use ASSISTANT_EMBED_PRECISION=fp32"
            )
        tried = native_candidates(cpu_flags() if flags is None else flags)
        if precision != "auto":
            tried = [precision]
        # the calibration costs seconds at every start (an fp32 and a bf16 pass over ~20
        # passages) for an outcome fixed by model, CPU and torch: remembered per machine;
        # flags given by a caller (tests) always calibrate
        remembered = self._remembered(precision, tried, threshold) if flags is None else None
        if remembered is not None:
            return remembered
        texts = calibration_texts()
        reference = self.encode_fp32(texts)
        for candidate in tried:
            forward = self.build(candidate)
            if forward is None:
                self._unavailable(candidate, precision)
                continue
            result = calibrate(candidate, reference, self.encode_with(forward, texts), threshold)
            self.calibration.append(result)
            log.info(
                "embedding precision %s: mean cosine %.5f to fp32 on the calibration batch",
                candidate,
                result.mean_cosine,
            )
            if result.passed or precision != "auto":
                # asked for by name: used as asked, the calibration is only reported
                self.forward = forward
                if flags is None:
                    self._remember(precision, tried, threshold, candidate)
                return candidate
        if precision == "auto" and tried:
            log.warning("no faster embedding path agreed with fp32 well enough; using fp32")
        if flags is None:
            self._remember(precision, tried, threshold, "fp32")
        return "fp32"

    def _unavailable(self, candidate: str, precision: str) -> None:
        """Record why ``candidate`` has no model here; asked for by name, that is an error
        (a model that failed its check is never used, not even when asked for)."""
        rejected = self.exports.rejection(self.exports.int8)
        if rejected is not None:
            self.calibration.append(rejected)
        if precision == "auto":
            return
        why = (
            f"its quantisation agrees with fp32 only to mean cosine {rejected.mean_cosine}"
            if rejected
            else "the model could not be exported and quantised (see the log)"
        )
        raise ConfigError(
            f"embed_precision {candidate}: no checked {candidate} model on this machine ({why}); "
            "use ASSISTANT_EMBED_PRECISION=auto or fp32"
        )

    def _calibration_key(self, precision: str, tried: list[str], threshold: float) -> str:
        import torch

        return "|".join(
            [
                model_fingerprint(self.exports.model_dir),
                self.device,
                precision,
                ",".join(tried),
                str(threshold),
                torch.__version__,
            ]
        )

    def _remembered(self, precision: str, tried: list[str], threshold: float) -> str | None:
        """The precision an earlier calibration chose on this machine, its path built."""
        try:
            saved = json.loads((self.cache_dir / CALIBRATION_FILE).read_text())
            entry = saved[self._calibration_key(precision, tried, threshold)]
            chosen = str(entry["chosen"])
            self.calibration = [Calibration(**c) for c in entry["calibration"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if chosen != "fp32":
            self.forward = self.build(chosen)
            if self.forward is None:  # its model file is gone and could not be kept again
                self.calibration = []
                return None
        log.info("embedding precision %s (calibrated earlier on this machine)", chosen)
        return chosen

    def _remember(self, precision: str, tried: list[str], threshold: float, chosen: str) -> None:
        path = self.cache_dir / CALIBRATION_FILE
        try:
            saved = json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, ValueError):
            saved = {}
        saved[self._calibration_key(precision, tried, threshold)] = {
            "chosen": chosen,
            "calibration": [vars(c) for c in self.calibration],
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(saved, indent=1))
            os.replace(partial, path)  # a concurrent start never reads half a file
        except OSError as exc:  # a read-only home only costs the calibration next time
            log.info("could not remember the calibration in %s (%s)", path, exc)

    # -- encoding ----------------------------------------------------------------------------
    def encode_fp32(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_with(
        self,
        forward: Callable[[dict[str, np.ndarray]], np.ndarray],
        texts: list[str],
        compiled: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Tokenise once, embed in length-sorted batches (little padding), mean-pool over the
        attention mask and normalise in fp32: what sentence-transformers does for this model."""
        enc = self.model.tokenizer(
            [t.strip() for t in texts], truncation=True, max_length=self.max_tokens, verbose=False
        )
        ids: list[list[int]] = enc["input_ids"]
        types: list[list[int]] = enc.get("token_type_ids") or [[0] * len(i) for i in ids]
        pad = int(self.model.tokenizer.pad_token_id or 0)
        return pool(ids, types, pad, self.dimension, self.batch_size, forward, compiled)

    def encode(self, texts: list[str], compiled: Forward | None = None) -> np.ndarray:
        """``texts`` on the chosen path; ``compiled`` (if any) runs batches of several rows."""
        if self.forward is None:
            return self.encode_fp32(texts)
        return self.encode_with(self.forward, texts, compiled)
