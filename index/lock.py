"""Several processes on one embedded index: one writer at a time, readers that follow it.

Embedded Chroma keeps each collection's vector index (HNSW) in the memory of every process
that opened it and writes it back to disk from there. Two writers each write back their own
copy (chunks then fail with "Error getting embedding"), and a reader keeps serving the copy
it loaded (new chunks are missed, and a filter that matches one fails with "Error finding
id"). So, on files in the data dir (see docs/cross-process.md):

- ``writer.lock``: held (``flock``, exclusive) for a whole write session: an ingest run or
  a delete. ``writer.json`` names the holder, so a second writer can say who it waits for.
- ``index.lock``: held exclusively while a batch is written, and shared by a reader while it
  reloads, so a reader never loads vector files halfway through being written.
- ``generation``: a counter bumped after every batch. A process whose loaded copy is older
  reopens the collection (a reader before its next query, a writer before it writes).

The kernel drops an ``flock`` when its process dies, even on ``kill -9``: nothing is ever
left locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from index.errors import StoreError

WRITER_LOCK = "writer.lock"
WRITER_INFO = "writer.json"
INDEX_LOCK = "index.lock"
GENERATION = "generation"


class IndexBusyError(StoreError):
    """Another process is writing to the index and did not finish in time."""


def _command() -> str:
    first = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    # `python -m assistant` runs assistant/__main__.py: name the package, as a user types it
    name = first.parent.name if first.name == "__main__.py" else first.name
    args = [name, *sys.argv[1:]]
    text = " ".join(args)
    return text if len(text) <= 200 else text[:197] + "..."


class IndexGuard:
    """The locks and generation counter of one data dir; one per process and data dir is
    enough, and it is safe to share between threads."""

    def __init__(self, data_dir: Path | str, wait: float = 30.0) -> None:
        """``wait``: seconds a writer waits for another process's write session to end
        before it gives up with :class:`IndexBusyError`."""
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.wait = wait
        self._session = threading.RLock()  # threads of this process write one at a time
        self._depth = 0
        self._writer_fh: IO[str] | None = None

    # -- the generation counter ------------------------------------------------------------
    def generation(self) -> int:
        """How many batches have been written to this index (0 before the first)."""
        try:
            return int((self.dir / GENERATION).read_text() or 0)
        except (OSError, ValueError):
            return 0

    def _bump(self) -> int:
        value = self.generation() + 1
        tmp = self.dir / f".{GENERATION}.{os.getpid()}"
        tmp.write_text(str(value))
        os.replace(tmp, self.dir / GENERATION)  # readers see the old or the new value, whole
        return value

    # -- the write session -----------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writer lock for a write session (re-entrant within this process)."""
        with self._session:
            if self._depth == 0:
                self._writer_fh = self._acquire_writer()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._writer_fh is not None:
                    self._writer_fh.close()  # closing the file releases the flock
                    self._writer_fh = None

    def _acquire_writer(self) -> IO[str]:
        fh = (self.dir / WRITER_LOCK).open("a+")
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.close()
                    raise IndexBusyError(self._busy_message()) from None
                time.sleep(0.2)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": _command(),
            "since": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        }
        (self.dir / WRITER_INFO).write_text(json.dumps(info))
        return fh

    def holder(self) -> dict[str, object]:
        """Who holds (or last held) the writer lock: pid, host, command, since."""
        try:
            got = json.loads((self.dir / WRITER_INFO).read_text())
            return got if isinstance(got, dict) else {}
        except (OSError, ValueError):
            return {}

    def _busy_message(self) -> str:
        h = self.holder()
        who = (
            f"process {h.get('pid', '?')} on {h.get('host', '?')} (`{h.get('command', '?')}`, "
            f"writing since {h.get('since', '?')})"
            if h
            else "another process"
        )
        return (
            f"the index under {self.dir} is being written by {who}; waited {self.wait:g} s. "
            "Only one process writes to an embedded index at a time: wait for that one to "
            "finish and run this again, or wait longer with ASSISTANT_INDEX_WAIT=SECONDS "
            "(a Chroma server, `chroma run` with ASSISTANT_CHROMA_HOST, takes several writers)"
        )

    # -- batches and reloads ---------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[int]:
        """Hold the index exclusively while one batch is written; yields the generation
        before the batch. The generation is bumped afterwards, even when the write failed
        halfway (something may have reached the disk)."""
        with self._flock(INDEX_LOCK, fcntl.LOCK_EX):
            before = self.generation()
            try:
                yield before
            finally:
                self._bump()

    @contextlib.contextmanager
    def reading(self) -> Iterator[int]:
        """Keep writers out while this process reloads; yields the current generation."""
        with self._flock(INDEX_LOCK, fcntl.LOCK_SH):
            yield self.generation()

    @contextlib.contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[None]:
        # a new open file per use: flocks on separate opens exclude each other, also
        # between threads of this process
        with (self.dir / name).open("a+") as fh:
            fcntl.flock(fh, mode)
            yield
