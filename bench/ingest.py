"""Ingest throughput: a slice of the 2025 corpus through the real loader, chunker, embedder and
an embedded Chroma, then the same input again (everything must come back unchanged).

    .venv/bin/python bench/ingest.py --limit 500

The first ``--limit`` lines of ``corpus.jsonl.gz`` are written to a temporary ``.jsonl`` so
the measured path is the one ``assistant ingest`` takes (file → loader → Ingestor). Model
loading is timed separately and is not part of the ingest seconds. Results are printed as a
table and written as JSON (``--json-out``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from machine_info import machine  # bench/ is on sys.path when run as a script

from index.chunking import Chunker
from index.embeddings import DEFAULT_MODEL, load_embedder, offline_environment
from index.loaders import LoadOptions, iter_articles
from index.pipeline import Ingestor, IngestReport
from index.store import ChromaStore, make_client

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"
DEFAULT_JSON = Path(__file__).resolve().parent / "out" / "ingest.json"
COLLECTION = "bench_ingest"


def write_slice(corpus: Path, limit: int, dest: Path) -> int:
    """Copy the first ``limit`` non-empty lines of ``corpus`` (gzipped JSONL) to ``dest``."""
    written = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as src, dest.open("w", encoding="utf-8") as out:
        for line in src:
            if written >= limit:
                break
            if line.strip():
                out.write(line if line.endswith("\n") else line + "\n")
                written += 1
    return written


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / (1024 * 1024)


def open_ingestor(data_dir: Path, chunk_tokens: int, overlap: int, batch_chunks: int) -> Ingestor:
    """A fresh client, store and ingestor on ``data_dir``, as a new CLI invocation would have."""
    embedder = load_embedder(DEFAULT_MODEL)
    store = ChromaStore(make_client(data_dir), COLLECTION, DEFAULT_MODEL, embedder.dimension)
    chunker = Chunker(embedder, chunk_tokens=chunk_tokens, overlap_tokens=overlap)
    return Ingestor(store, embedder, chunker, batch_chunks=batch_chunks)


def run_once(ingestor: Ingestor, path: Path) -> IngestReport:
    return ingestor.ingest_paths([path], LoadOptions())


def model_input_tokens(path: Path, chunk_tokens: int, overlap: int) -> int:
    """Word-pieces the model actually read in the first run (title prefix and [CLS]/[SEP]
    included), recomputed after the timed runs; ``IngestReport.tokens`` counts passages only."""
    embedder = load_embedder(DEFAULT_MODEL)
    chunker = Chunker(embedder, chunk_tokens=chunk_tokens, overlap_tokens=overlap)
    total = 0
    for item in iter_articles([path], LoadOptions()):
        if item.article is not None:
            total += sum(embedder.count_tokens([c.embed_text for c in chunker.chunk(item.article)]))
    return total


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    print(f"| {'measure':<{width}} | {'value':>{vwidth}} |")
    print(f"|{'-' * (width + 2)}|{'-' * (vwidth + 1)}:|")
    for key, value in rows:
        print(f"| {key:<{width}} | {value:>{vwidth}} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=500, help="articles (lines) to ingest")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="empty dir for Chroma (default: a temp dir)"
    )
    parser.add_argument("--json-out", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--overlap-tokens", type=int, default=32)
    parser.add_argument("--batch-chunks", type=int, default=256)
    args = parser.parse_args(argv)

    offline_environment()
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    if args.data_dir is not None and args.data_dir.exists() and any(args.data_dir.iterdir()):
        print(f"--data-dir {args.data_dir} is not empty; give an empty or new one", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        slice_path = Path(tmp) / f"corpus-first-{args.limit}.jsonl"
        lines = write_slice(args.corpus, args.limit, slice_path)

        started = time.perf_counter()
        load_embedder(DEFAULT_MODEL)
        model_seconds = time.perf_counter() - started
        rss_before = psutil.Process().memory_info().rss / 2**20

        first = run_once(
            open_ingestor(data_dir, args.chunk_tokens, args.overlap_tokens, args.batch_chunks),
            slice_path,
        )
        peak_first = peak_rss_mb()
        second = run_once(
            open_ingestor(data_dir, args.chunk_tokens, args.overlap_tokens, args.batch_chunks),
            slice_path,
        )
        model_tokens = model_input_tokens(slice_path, args.chunk_tokens, args.overlap_tokens)

    articles = len(first.new) + len(first.updated)
    result: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "corpus": str(args.corpus),
        "input_lines": lines,
        "settings": {
            "chunk_tokens": args.chunk_tokens,
            "overlap_tokens": args.overlap_tokens,
            "title_prefix": True,
            "batch_chunks": args.batch_chunks,
            "model": DEFAULT_MODEL,
        },
        "model_load_seconds": round(model_seconds, 2),
        "rss_after_model_load_mb": round(rss_before, 1),
        "first_run": {
            "articles": articles,
            "failed": len(first.failed),
            "skipped": len(first.skipped),
            "chunks": first.chunks,
            "tokens_embedded": first.tokens,
            "seconds": round(first.seconds, 2),
            "articles_per_s": round(rate(articles, first.seconds), 2),
            "chunks_per_s": round(rate(first.chunks, first.seconds), 1),
            "tokens_per_s": round(rate(first.tokens, first.seconds), 0),
            "model_input_tokens": model_tokens,
            "model_input_tokens_per_s": round(rate(model_tokens, first.seconds), 0),
            "peak_rss_mb": round(peak_first, 1),
        },
        "second_run": {
            "seconds": round(second.seconds, 3),
            "unchanged": second.unchanged,
            "new": len(second.new),
            "updated": len(second.updated),
            "failed": len(second.failed),
        },
    }
    fr, sr = result["first_run"], result["second_run"]
    print(f"ingest benchmark: first {lines} lines of {args.corpus.name}, embedded Chroma")
    print_table(
        [
            ("articles", f"{fr['articles']}"),
            ("chunks", f"{fr['chunks']}"),
            ("tokens embedded", f"{fr['tokens_embedded']:,}"),
            ("seconds", f"{fr['seconds']:.1f}"),
            ("articles/s", f"{fr['articles_per_s']:.2f}"),
            ("chunks/s", f"{fr['chunks_per_s']:.1f}"),
            ("tokens/s", f"{fr['tokens_per_s']:,.0f}"),
            ("model input tokens/s", f"{fr['model_input_tokens_per_s']:,.0f}"),
            ("peak RSS (MB)", f"{fr['peak_rss_mb']:.0f}"),
            ("second run: seconds", f"{sr['seconds']:.3f}"),
            ("second run: unchanged", f"{sr['unchanged']} / {lines}"),
        ]
    )
    print(
        f"(model load {model_seconds:.1f} s, not included; RSS after model load "
        f"{rss_before:.0f} MB; tokens = passage word-pieces as IngestReport counts them; "
        f"with title prefixes and [CLS]/[SEP] the model read {model_tokens:,})"
    )

    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json_out}")

    ok = (
        fr["failed"] == 0
        and sr["unchanged"] == lines
        and sr["new"] == 0
        and sr["updated"] == 0
        and sr["failed"] == 0
    )
    if not ok:
        print("FAIL: the second run did not report every article unchanged", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
