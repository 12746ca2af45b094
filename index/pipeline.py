"""The ingest run: load → dedup by content hash → chunk → embed in batches → store.

Unchanged articles cost a hash comparison and nothing else (no tokenising, no embedding), so
re-running over an unchanged corpus takes seconds. Every problem is reported per item and the
run carries on.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index.chunking import ChunkedArticle, Chunker
from index.embeddings import Embedder
from index.errors import StoreUnavailableError
from index.loaded import Loaded, LoadOptions
from index.loaders import JSONL_EXTS, expand_paths, file_kind, iter_articles
from index.store import ChromaStore

log = logging.getLogger(__name__)

# Consecutive failed batches after which the store is taken to be down and the run stops.
_MAX_BATCH_FAILURES = 3
_DOWN = "the store stopped answering while it was written (the run stopped; run it again)"


@dataclass
class Failure:
    origin: str
    reason: str


@dataclass
class IngestReport:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[Failure] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repaired: int = 0
    items: int = 0
    chunks: int = 0
    tokens: int = 0
    seconds: float = 0.0
    precision: str = ""  # the embedding precision used (fp32, bf16, int8)
    # why the run stopped early: the store went away (the articles not read yet are not in
    # this report; a rerun once it is back takes them, and skips what was stored)
    stopped: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


ProgressFn = Callable[[IngestReport], None]


def count_items(paths: Iterable[str | os.PathLike[str]]) -> int:
    """A quick estimate of how many articles ``paths`` hold, for a progress bar: lines of
    JSONL dumps, one per other file."""
    total = 0
    for path, _ in expand_paths(paths):
        ext, gz = file_kind(path)
        if ext not in JSONL_EXTS:
            total += 1
            continue
        try:
            with gzip.open(path, "rb") if gz else path.open("rb") as fh:
                while block := fh.read(1 << 20):
                    total += block.count(b"\n")
        except (OSError, EOFError, zlib.error):
            total += 1
    return total


class _Stop(Exception):
    """The run ended (finished, failed or interrupted): worker threads leave quietly."""


@dataclass
class _Batch:
    """Articles chunked together; ``vectors`` once embedded, or the error embedding raised."""

    items: list[ChunkedArticle]
    vectors: np.ndarray | None = None
    error: Exception | None = None


_DONE = object()


def _put(q: queue.Queue[Any], value: Any, stop: threading.Event) -> None:
    while True:  # a bounded put that gives up when the run is over
        if stop.is_set():
            raise _Stop
        try:
            q.put(value, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[Any], stop: threading.Event) -> Any:
    """A get that gives up when the run is over."""
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue


class Ingestor:
    """Runs ingests into one store with one embedder and chunker.

    An ingest is a pipeline of three stages joined by small bounded queues, so memory stays
    bounded whatever the input size while the stages overlap: a thread reads, hashes and
    chunks (unchanged articles stop at the hash), a thread embeds whole batches (torch and
    ONNX Runtime release the GIL), and the calling thread writes to the store, in order, with
    the crash-safe steps of :meth:`ChromaStore.write_articles`.
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        chunker: Chunker,
        batch_chunks: int = 256,
        queue_batches: int = 2,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.batch_chunks = batch_chunks
        self.queue_batches = queue_batches

    def ingest_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        options: LoadOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        return self.ingest(iter_articles(paths, options), progress)

    def ingest(self, items: Iterable[Loaded], progress: ProgressFn | None = None) -> IngestReport:
        """Run one ingest. It is the index's one write session meanwhile: another process
        that writes to the same embedded index waits for it (:meth:`ChromaStore.writing`)."""
        with self.store.writing():
            self.store.refresh(force=True)
            return self._run(items, progress)

    def _run(self, items: Iterable[Loaded], progress: ProgressFn | None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(
            repaired=self.store.repair(), precision=getattr(self.embedder, "precision", "")
        )
        committed = self.store.committed_hashes()
        stop = threading.Event()
        prepared: queue.Queue[Any] = queue.Queue(self.queue_batches)
        embedded: queue.Queue[Any] = queue.Queue(self.queue_batches)
        workers = [
            threading.Thread(
                target=self._run_prepare,
                args=(items, committed, report, prepared, stop),
                name="ingest-prepare",
                daemon=True,
            ),
            threading.Thread(
                target=self._run_embed,
                args=(prepared, embedded, stop),
                name="ingest-embed",
                daemon=True,
            ),
        ]
        for worker in workers:
            worker.start()
        try:
            self._run_write(embedded, committed, report, progress)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress(report)
        return report

    def _run_prepare(
        self,
        items: Iterable[Loaded],
        committed: dict[str, str],
        report: IngestReport,
        prepared: queue.Queue[Any],
        stop: threading.Event,
    ) -> None:
        """The reading stage (thread ``ingest-prepare``): batches, then ``_DONE``."""
        try:
            for batch in self._prepare(items, committed, report):
                _put(prepared, batch, stop)
            _put(prepared, _DONE, stop)
        except _Stop:
            pass
        except BaseException as exc:  # a loader bug ends the run; the writer re-raises it
            with contextlib.suppress(_Stop):
                _put(prepared, exc, stop)

    def _run_embed(
        self, prepared: queue.Queue[Any], embedded: queue.Queue[Any], stop: threading.Event
    ) -> None:
        """The embedding stage (thread ``ingest-embed``): passes each batch on with its
        vectors or its error, then the ``_DONE`` or exception that ended the reading."""
        try:
            while (batch := _get(prepared, stop)) is not _DONE and not isinstance(
                batch, BaseException
            ):
                try:
                    texts = [c.embed_text for item in batch.items for c in item.chunks]
                    batch.vectors = self.embedder.embed_documents(texts)
                except Exception as exc:  # reported per batch by the writer, like a store error
                    batch.error = exc
                _put(embedded, batch, stop)
            _put(embedded, batch, stop)
        except _Stop:
            pass

    def _run_write(
        self,
        embedded: queue.Queue[Any],
        committed: dict[str, str],
        report: IngestReport,
        progress: ProgressFn | None,
    ) -> None:
        """The writing stage, in the calling thread: stores batches in order until ``_DONE``;
        re-raises a reader's exception, and the store error of the last of
        ``_MAX_BATCH_FAILURES`` failed batches in a row. A store that cannot be reached ends
        the run at once (``report.stopped``): the batches after would fail the same way. The
        failed batch's articles are reported failed; none of them is readable half-written
        (index/store.py), and the next run's repair finishes or undoes them."""
        failures_in_a_row = 0
        while True:
            try:
                batch = embedded.get(timeout=0.2)
            except queue.Empty:
                if progress is not None:
                    progress(report)
                continue
            if batch is _DONE:
                break
            if isinstance(batch, BaseException):
                raise batch
            try:
                if batch.error is not None:
                    raise batch.error
                assert batch.vectors is not None
                self._write(batch.items, batch.vectors, committed, report)
                failures_in_a_row = 0
            except Exception as exc:  # one bad batch must not end the run; it is reported
                failures_in_a_row += 1
                if isinstance(exc, StoreUnavailableError):  # said once, in report.stopped
                    for item in batch.items:
                        report.failed.append(Failure(item.origin, "not stored: " + _DOWN))
                    report.stopped = str(exc)
                    log.warning("ingest stopped: %s", exc)
                    return
                for item in batch.items:
                    report.failed.append(Failure(item.origin, f"could not be stored: {exc}"))
                if failures_in_a_row >= _MAX_BATCH_FAILURES:
                    raise
            if progress is not None:
                progress(report)

    def _prepare(
        self, items: Iterable[Loaded], committed: dict[str, str], report: IngestReport
    ) -> Iterator[_Batch]:
        """Read, hash and chunk; yields batches of about ``batch_chunks`` chunks. Unchanged
        articles cost a hash comparison and are never tokenised."""
        seen: dict[str, tuple[str, str]] = {}
        batch: list[ChunkedArticle] = []
        pending = 0
        for item in items:
            report.items += 1
            report.warnings.extend(item.warnings)
            if item.error is not None or item.article is None:
                reason = item.error.message if item.error else "nothing was read"
                (report.skipped if item.skipped else report.failed).append(
                    Failure(item.origin, reason)
                )
                continue
            article = item.article
            digest = self.chunker.version(article)
            if article.id in seen:
                first_hash, first_origin = seen[article.id]
                if first_hash == digest:
                    report.unchanged += 1
                else:
                    report.failed.append(
                        Failure(
                            item.origin,
                            f"duplicate id {article.id} with different content "
                            f"(first seen at {first_origin}; that one was kept)",
                        )
                    )
                continue
            seen[article.id] = (digest, item.origin)
            if committed.get(article.id) == digest:
                report.unchanged += 1
                continue
            try:
                chunked = self.chunker.prepare(article, item.origin)
            except Exception as exc:  # a tokenizer failure on odd text stays per-item
                report.failed.append(Failure(item.origin, f"could not be chunked: {exc}"))
                continue
            batch.append(chunked)
            pending += len(chunked.chunks)
            # articles without chunks count too, so a batch never grows without bound
            if pending >= self.batch_chunks or len(batch) >= self.batch_chunks:
                yield _Batch(batch)
                batch, pending = [], 0
        if batch:
            yield _Batch(batch)

    def _write(
        self,
        batch: list[ChunkedArticle],
        vectors: np.ndarray,
        committed: dict[str, str],
        report: IngestReport,
    ) -> None:
        chunks = [c for item in batch for c in item.chunks]
        previous = {
            i.article.id: committed[i.article.id] for i in batch if i.article.id in committed
        }
        self.store.write_articles(batch, vectors, previous)
        for item in batch:
            (report.updated if item.article.id in previous else report.new).append(item.article.id)
            committed[item.article.id] = item.version
        report.chunks += len(chunks)
        report.tokens += sum(c.token_count for c in chunks)
        log.info("stored %d article(s), %d chunk(s)", len(batch), len(chunks))
