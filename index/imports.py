"""Importing a library without its optional extras: NLTK imports scipy and scikit-learn and
spaCy (through thinc) imports torch at import time, only to offer features this project never
uses, and on a small machine those imports cost a cold ``ask`` seconds (bench/RESULTS.md,
"Start-up"). Each library guards those imports with ``try/except ImportError``, so marking the
extras missing while it is imported leaves it without them, nothing else."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

_lock = threading.Lock()


@contextlib.contextmanager
def extras_off(*names: str) -> Iterator[None]:
    """While the block runs, ``import NAME`` of each module ``names`` that is not imported
    yet fails with ImportError (a ``None`` in ``sys.modules``); afterwards it imports as
    usual. A module already imported is left alone: the library then finds it as always."""
    with _lock:
        blocked = [name for name in names if name not in sys.modules]
        for name in blocked:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            yield
        finally:
            for name in blocked:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
