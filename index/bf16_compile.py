"""The torch.compile'd bf16 path for long ingests: when it starts, the background thread that
compiles it, and waiting for that thread at exit.

:class:`Bf16Compiler` is a part of :class:`index.embeddings.SentenceTransformerEmbedder`, which
tells it of each ingest call and hands it the bf16 module (once the bf16 path is built)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# texts in one call from which a bf16 embedder counts it as ingest work towards compiling
COMPILE_MIN_ROWS = 128
# ingest rows embedded before compiling starts: compiling takes a minute or more and pays off
# only for an ingest that runs longer still (a process waits for it at exit)
COMPILE_AFTER_ROWS = 2048


class Bf16Compiler:
    """Starts compiling the bf16 model once an ingest is long enough; ``compiled`` is the
    compiled forward when ready (None before, and for good when compiling is off or fails)."""

    def __init__(self, device: str, enabled: bool) -> None:
        self.device = device
        self.enabled = enabled
        self.thread: threading.Thread | None = None
        self.compiled: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
        self.ingest_rows = 0
        self._module: Any = None

    def ingest(self, rows: int, bf16_module: Any) -> None:
        """Count ``rows`` texts of ingest work, and start compiling ``bf16_module`` (None off
        the bf16 path) when enough has been embedded (see :meth:`maybe_compile`)."""
        self.ingest_rows += rows
        self.maybe_compile(bf16_module)

    def maybe_compile(self, bf16_module: Any) -> None:
        """Long ingests run a torch.compile'd graph of the bf16 model: 1.6-1.9x the eager
        speed here (bench/RESULTS.md). Compiling takes a minute or more, so it starts in a
        background thread once an ingest has embedded COMPILE_AFTER_ROWS texts, while eager
        bf16 goes on embedding; queries (one row) always stay eager, so one never waits for
        a compile. Both run the same bf16 weights (mean cosine 0.99998 between them). The
        thread is not a daemon: a process waits for it at exit (see :meth:`close`)."""
        if (
            not self.enabled
            or self.thread is not None
            or bf16_module is None
            or self.ingest_rows < COMPILE_AFTER_ROWS
        ):
            return
        self._module = bf16_module
        self.thread = threading.Thread(target=self._compile_bf16, name="embed-compile")
        self.thread.start()

    def close(self) -> None:
        """Wait for a compile still running: a thread inside torch at interpreter exit can
        crash the process (exit status 139) after its work is done."""
        if self.thread is not None:
            self.thread.join()

    def _compile_bf16(self) -> None:
        import torch

        try:
            compiled = torch.compile(self._module, dynamic=True)
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

        self.compiled = run
        log.info("the compiled bf16 embedding model is in use")
