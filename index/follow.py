"""Following a shared index: processes on one Chroma server see each other's writes in BM25.

Dense search reads the server, so every process sees every write at once; the lexical (BM25)
index is a file per data dir (index/lexical.py) and would lag behind articles another process
ingests or deletes. A :class:`Follower` thread looks at the index's write marker every
``interval`` seconds (one small request, :meth:`ChromaStore.written_marker`) and, only when it
moved, brings the lexical index in line (:meth:`ChromaStore.sync_lexical`, which touches only
the articles that differ). Questions never wait for it. See docs/scaling.md.
"""

from __future__ import annotations

import logging
import threading
import weakref

from index.errors import StoreError
from index.store import ChromaStore

log = logging.getLogger(__name__)


class Follower:
    """A daemon thread keeping one store's lexical index in step with its Chroma server.

    It holds the store weakly: when the store is gone, the thread ends."""

    def __init__(self, store: ChromaStore, interval: float) -> None:
        self.interval = max(0.05, interval)
        self._store = weakref.ref(store)
        self._stop = threading.Event()
        self._failing = False
        self.thread = threading.Thread(target=self._run, name="index-follow", daemon=True)

    def start(self) -> Follower:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            store = self._store()
            if store is None:
                return
            self.check(store)
            del store  # no strong reference while waiting

    def check(self, store: ChromaStore) -> int:
        """One look at the marker (and a sync when it moved); a server fault is logged once
        until the server answers again, and the next look tries anew."""
        try:
            fixed = store.follow()
        except StoreError as exc:
            if not self._failing:
                log.warning("cannot follow the index: %s", exc)
            self._failing = True
            return 0
        except Exception:  # a bug must not end the thread: the next look tries again
            log.exception("following the index failed")
            return 0
        if self._failing:
            log.info("following the index again")
        self._failing = False
        return fixed
