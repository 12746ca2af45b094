"""The ingest run: load → dedup by content hash → chunk → embed in batches → store.

Unchanged articles cost a hash comparison and nothing else (no tokenising, no embedding), so
re-running over an unchanged corpus takes seconds. Every problem is reported per item and the
run carries on.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from index.chunking import ChunkedArticle, Chunker
from index.embeddings import Embedder
from index.loaders import JSONL_EXTS, Loaded, LoadOptions, expand_paths, file_kind, iter_articles
from index.store import ChromaStore

log = logging.getLogger(__name__)

# Consecutive failed batches after which the store is taken to be down and the run stops.
_MAX_BATCH_FAILURES = 3


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


class Ingestor:
    """Runs ingests into one store with one embedder and chunker."""

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        chunker: Chunker,
        batch_chunks: int = 256,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.batch_chunks = batch_chunks

    def ingest_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        options: LoadOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        return self.ingest(iter_articles(paths, options), progress)

    def ingest(self, items: Iterable[Loaded], progress: ProgressFn | None = None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(repaired=self.store.repair())
        committed = self.store.committed_hashes()
        seen: dict[str, tuple[str, str]] = {}
        batch: list[ChunkedArticle] = []
        pending_chunks = 0
        failures_in_a_row = 0

        def flush() -> None:
            nonlocal pending_chunks, failures_in_a_row
            if not batch:
                return
            try:
                self._write(batch, committed, report)
                failures_in_a_row = 0
            except Exception as exc:  # one bad batch must not end the run; it is reported
                failures_in_a_row += 1
                for item in batch:
                    report.failed.append(Failure(item.origin, f"could not be stored: {exc}"))
                if failures_in_a_row >= _MAX_BATCH_FAILURES:
                    raise
            finally:
                batch.clear()
                pending_chunks = 0

        for item in items:
            report.items += 1
            report.warnings.extend(item.warnings)
            if item.error is not None or item.article is None:
                reason = item.error.message if item.error else "nothing was read"
                origin = item.origin
                (report.skipped if item.skipped else report.failed).append(Failure(origin, reason))
            else:
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
                elif committed.get(article.id) == digest:
                    seen[article.id] = (digest, item.origin)
                    report.unchanged += 1
                else:
                    seen[article.id] = (digest, item.origin)
                    try:
                        prepared = self.chunker.prepare(article, item.origin)
                    except Exception as exc:  # a tokenizer failure on odd text stays per-item
                        report.failed.append(Failure(item.origin, f"could not be chunked: {exc}"))
                    else:
                        batch.append(prepared)
                        pending_chunks += len(prepared.chunks)
                        if pending_chunks >= self.batch_chunks:
                            flush()
            if progress is not None:
                progress(report)
        flush()
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress(report)
        return report

    def _write(
        self, batch: list[ChunkedArticle], committed: dict[str, str], report: IngestReport
    ) -> None:
        chunks = [c for item in batch for c in item.chunks]
        vectors = self.embedder.embed_documents([c.embed_text for c in chunks])
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
