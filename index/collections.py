"""The two Chroma collections of an index (chunk vectors and article records): opened or
created, checked against the embedding model, and kept current when other processes write.

We always pass our own embeddings (Chroma's default embedding function would download a
model). :class:`ChromaCollections` is the base of :class:`index.store.ChromaStore`, which
reads and writes through it.

Several processes on one embedded index: every write runs under the writer and batch locks
of :class:`index.lock.IndexGuard`, and a process reopens its collections when another one
has written since it loaded them (see index/lock.py and docs/cross-process.md).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from index.errors import ConfigError
from index.lexical import LexicalIndex
from index.lock import IndexGuard

log = logging.getLogger(__name__)

RECORDS_SUFFIX = "-articles"
# how often a reader looks whether another process has written (a file read, ~10 µs)
RELOAD_CHECK_S = 0.5
# the records collection's metadata key that every write sets to a new value: one small
# read tells a process on a Chroma server whether anyone wrote since it last looked
WRITTEN_KEY = "written"


def check_built_model(
    collection: str, built: dict[str, Any], embedding_model: str, dimension: int | None
) -> None:
    """Refuse a collection built with another embedding model or dimension (``built``: its
    metadata): its vectors cannot be searched with this one."""
    built_with, built_dim = built.get("embedding_model"), built.get("dimension")
    if built_with != embedding_model or (dimension and built_dim and built_dim != dimension):
        raise ConfigError(
            f"collection {collection!r} was built with the embedding model {built_with!r} "
            f"({built_dim} dimensions), not {embedding_model!r}: its vectors cannot be "
            f"searched with another model. Set ASSISTANT_EMBED_MODEL={built_with} to use "
            "it as it is, or re-index your articles with the new model into a new "
            "collection: `assistant ingest PATH --collection NEW` (or delete the data "
            "dir and run `assistant ingest PATH` again)."
        )


def built_precision(built: dict[str, Any]) -> str:
    """The precision a chunk collection was built in (``built``: its metadata)."""
    # an index that recorded no precision was built before precisions existed: in fp32
    return str(built.get("embedding_precision") or "fp32")


class ChromaCollections:
    """The chunk and record collections of one index, current with other processes' writes."""

    def __init__(
        self,
        client: Any,
        collection: str,
        embedding_model: str,
        dimension: int | None = None,
        lexical: LexicalIndex | None = None,
        precision: str | None = None,
        guard: IndexGuard | None = None,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        """Open (or create) a collection. ``dimension`` may be None for read-only use; the
        model name and dimension the collection was built with must match what is given.
        ``precision`` (fp32, bf16, int8) is recorded when the collection is created; another
        precision than the recorded one is allowed (see :meth:`_check_precision`).
        ``lexical``, when given, is kept in step with every write and delete. ``guard`` and
        ``reopen`` (a fresh client of the same index) are for an embedded index that other
        processes may open too: writes take its locks, and the collections are reopened
        when another process has written."""
        if len(collection) < 3:
            raise ConfigError("a collection name needs at least 3 characters")
        self.client = client
        self.name = collection
        self.lexical = lexical
        self.guard = guard
        self._reopen = reopen
        self._seen = guard.generation() if guard else 0
        self._checked = time.monotonic()
        self._reload_lock = threading.Lock()
        self._sync_lock = threading.Lock()  # one lexical sync at a time (index/store.py)
        self._followed: str | None = None  # the write marker the lexical index was synced at
        self._open_chunk_collection(embedding_model, dimension, precision)
        # Records carry no meaningful vector; Chroma wants one, so they get a 1-d placeholder.
        self.records = client.get_or_create_collection(
            collection + RECORDS_SUFFIX, embedding_function=None
        )
        self.max_batch = int(client.get_max_batch_size())

    def _open_chunk_collection(
        self, embedding_model: str, dimension: int | None, precision: str | None
    ) -> None:
        """Open (or create) the chunk collection and take its model, dimension and
        precision, checked against the ones it was built with."""
        meta: dict[str, Any] = {"embedding_model": embedding_model}
        if dimension:
            meta["dimension"] = dimension
        if precision:
            meta["embedding_precision"] = precision
        self.chunks = self.client.get_or_create_collection(
            self.name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=meta,
        )
        built = dict(self.chunks.metadata or {})
        built_dim = built.get("dimension")
        check_built_model(self.name, built, embedding_model, dimension)
        self.built_precision = built_precision(built)
        self.precision = precision or self.built_precision
        self._check_precision()
        if dimension and not built_dim:
            self.chunks.modify(metadata={**built, "dimension": dimension})
        self.embedding_model = embedding_model
        self.dimension = int(dimension or built_dim or 0)

    def _check_precision(self) -> None:
        """Another precision of the same model is allowed: bf16 vectors agree with fp32 ones
        to a mean cosine of ~0.9999 and int8 ones to ~0.99 (bench/RESULTS.md), so queries
        still find the same passages; the recorded value is left as it was (opening an index
        never rewrites its metadata) and the difference is logged."""
        if self.precision != self.built_precision:
            log.info(
                "collection %r was built with %s embeddings; this process embeds in %s (same "
                "model, so queries and new articles still match; re-index to make it uniform)",
                self.name,
                self.built_precision,
                self.precision,
            )

    # -- other processes -------------------------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """Reopen the collections when another process has written to the index since this
        one loaded them (checked at most every RELOAD_CHECK_S unless ``force``); returns
        whether it reopened. Calls in flight keep the old collections and finish."""
        if self.guard is None or self._reopen is None:
            return False
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_CHECK_S:
            return False
        self._checked = now
        if self.guard.generation() == self._seen:
            return False
        with self._reload_lock, self.guard.reading() as generation:
            if generation == self._seen:
                return False  # another thread reloaded meanwhile
            self._open_collections()
            self._seen = generation
        log.info("the index was written by another process: collection %r reopened", self.name)
        return True

    def _open_collections(self) -> None:
        """A new client, its collections, and their vector index loaded now (while the
        caller keeps writers out), not at the first query."""
        assert self._reopen is not None
        client = self._reopen()
        chunks = client.get_collection(self.name, embedding_function=None)
        records = client.get_collection(self.name + RECORDS_SUFFIX, embedding_function=None)
        if self.dimension:
            chunks.query(query_embeddings=[[1.0] + [0.0] * (self.dimension - 1)], n_results=1)
        records.query(query_embeddings=[[1.0]], n_results=1)
        self.client, self.chunks, self.records = client, chunks, records

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A write session: no other process writes to this index until it ends (a no-op
        on a Chroma server, which takes several writers)."""
        if self.guard is None:
            yield
            return
        with self.guard.writing():
            yield

    # -- what other processes wrote (a Chroma server) ------------------------------------
    def written_marker(self) -> str:
        """The write marker: a value every batch of writes of every process replaces, read
        with one small request (the records collection's metadata, not its records)."""
        records = self.client.get_collection(self.name + RECORDS_SUFFIX, embedding_function=None)
        return str((records.metadata or {}).get(WRITTEN_KEY) or "")

    def _mark_written(self) -> None:
        # a new random value, not a counter: two writers at once must not both write N + 1,
        # or a reader that saw the first would miss the second
        self.records.modify(metadata={WRITTEN_KEY: uuid.uuid4().hex})

    def ping(self) -> None:
        """Raise StoreUnavailableError unless the store answers (one heartbeat request on a
        server; nothing to ask of an embedded index)."""
        self.client.heartbeat()

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """One batch of writes under the index lock, on collections that hold every
        earlier write of every process (a stale copy written back would lose them); the
        write marker moves after it, so processes that follow the index look again."""
        if self.guard is None:
            try:
                yield
            finally:
                self._mark_written_after()
            return
        with self.writing(), self._reload_lock, self.guard.batch() as before:
            if before != self._seen:
                self._open_collections()
            try:
                yield
            finally:
                self._seen = before + 1  # our own write: our copy holds it
                self._mark_written_after()

    def _mark_written_after(self) -> None:
        """Move the marker after a batch, also one that failed halfway (what it wrote may be
        readable: a deleted article's records); a failure here does not hide the batch's own
        error, and the next batch moves it anyway."""
        try:
            self._mark_written()
        except Exception as exc:
            log.warning("could not move the index's write marker: %s", exc)
