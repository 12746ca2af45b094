"""Ingest throughput and coverage, side by side on one slice of the 2025 corpus:

(a) the llama-index default pipeline a user writes from the docs: ``VectorStoreIndex`` over a
    ``ChromaVectorStore``, ``SentenceSplitter`` defaults, ``HuggingFaceEmbedding`` of the same
    packaged all-MiniLM-L6-v2;
(b) ``assistant ingest`` (settings → components → pipelined Ingestor, BM25 side included), then
    the same input again (every article must come back unchanged).

    flock /tmp/bench.lock .venv/bin/python bench/ingest.py --limit 1000

Each side runs in its own process so peak RSS is honest; model loading is timed separately
and is not part of the ingest seconds. Measures: chars/s (article characters of the slice per
second, the same numerator for both), model-input tokens/s (word-pieces the model actually
read, [CLS]/[SEP] included, after its 256-word-piece cut), coverage (share of article
characters that fell inside the 256-word-piece window of some embedded chunk) and peak RSS.
Needs the ``bench`` extra (llama-index-embeddings-huggingface, llama-index-vector-stores-chroma).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from machine_info import machine  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"
DEFAULT_JSON = Path(__file__).resolve().parent / "out" / "ingest.json"
Interval = tuple[int, int]


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


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / (1024 * 1024)


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def kept_chars(tokenizer: Any, text: str, window: int) -> tuple[int, int]:
    """(characters of ``text`` the model reads inside its ``window`` word-pieces, word-pieces
    it reads, special tokens included)."""
    enc = tokenizer(text, truncation=True, max_length=window, return_offsets_mapping=True)
    ends = [e for s, e in enc["offset_mapping"] if e > s]
    return (max(ends) if ends else 0), len(enc["input_ids"])


def union_length(intervals: list[Interval]) -> int:
    total, reach = 0, -1
    for start, end in sorted(intervals):
        start = max(start, reach)
        if end > start:
            total += end - start
            reach = end
    return total


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


# -- side (a): llama-index defaults --------------------------------------------------------
def run_llamaindex(slice_path: Path, data_dir: Path) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.sentence_model import DEFAULT_MODEL, resolve_model

    started = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=resolve_model(DEFAULT_MODEL), device="cpu")
    model_seconds = time.perf_counter() - started
    rss_model = rss_mb()

    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("bench_li"))
    started = time.perf_counter()
    rows = read_rows(slice_path)
    docs = [Document(text=r["text"], metadata={"title": r.get("title", "")}) for r in rows]
    VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed
    )
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()

    # what was embedded, recomputed after the clock stopped (the splitter is deterministic)
    tokenizer = embed._model.tokenizer
    window = int(embed._model.max_seq_length)
    covered: dict[str, list[Interval]] = {}
    tokens = chunks = 0
    for node in SentenceSplitter().get_nodes_from_documents(docs):
        shown = node.get_content(metadata_mode=MetadataMode.EMBED)
        header = len(shown) - len(node.get_content(metadata_mode=MetadataMode.NONE))
        kept, read = kept_chars(tokenizer, shown, window)
        tokens += read
        chunks += 1
        start, end = int(node.start_char_idx or 0), int(node.end_char_idx or 0)
        covered.setdefault(node.ref_doc_id or "", []).append(
            (start, min(end, start + max(0, kept - header)))
        )
    total_chars = sum(len(d.text) for d in docs)
    return {
        "pipeline": "llama-index defaults (SentenceSplitter 1024/200, HuggingFaceEmbedding, "
        "batch 10, fp32)",
        "articles": len(docs),
        "chunks": chunks,
        "chars": total_chars,
        "seconds": seconds,
        "model_input_tokens": tokens,
        "coverage": sum(union_length(v) for v in covered.values()) / max(1, total_chars),
        "model_load_seconds": model_seconds,
        "rss_after_model_load_mb": rss_model,
        "peak_rss_mb": peak,
    }


# -- side (b): assistant ingest ------------------------------------------------------------
def run_ours(slice_path: Path, data_dir: Path, precision: str) -> dict[str, Any]:
    from assistant import components
    from assistant.settings import Settings
    from index.loaders import iter_articles

    settings = Settings.load(data_dir=data_dir, embed_precision=precision, collection="bench_ours")
    started = time.perf_counter()
    embedder = components.embedders(settings).full()
    model_seconds = time.perf_counter() - started
    rss_model = rss_mb()

    first = components.ingestor(settings).ingest_paths(
        [slice_path], components.load_options(settings)
    )
    peak = peak_rss_mb()
    second = components.ingestor(settings).ingest_paths(
        [slice_path], components.load_options(settings)
    )

    chunker = components.chunker(settings)
    tokenizer = embedder.tokenizer
    covered = tokens = chunks = 0
    for item in iter_articles([slice_path], components.load_options(settings)):
        if item.article is None:
            continue
        article = item.article
        spans: list[Interval] = []
        for chunk in chunker.chunk(article):
            kept, read = kept_chars(tokenizer, chunk.embed_text, embedder.max_tokens)
            header = len(chunk.embed_text) - len(chunk.text)
            spans.append((chunk.start, min(chunk.end, chunk.start + max(0, kept - header))))
            tokens += read
            chunks += 1
        covered += union_length(spans)
    norm_chars = sum(len(i.article.text) for i in iter_articles([slice_path]) if i.article)
    return {
        "pipeline": f"assistant ingest ({embedder.precision}, 200-word-piece sentence chunks, "
        "pipelined)",
        "precision": embedder.precision,
        "calibration": [vars(c) for c in embedder.calibration],
        "articles": len(first.new) + len(first.updated),
        "failed": len(first.failed),
        "chunks": first.chunks,
        "chars": sum(len(r["text"]) for r in read_rows(slice_path)),
        "seconds": first.seconds,
        "model_input_tokens": tokens,
        "coverage": covered / max(1, norm_chars),
        "model_load_seconds": model_seconds,
        "rss_after_model_load_mb": rss_model,
        "peak_rss_mb": peak,
        "rerun": {
            "seconds": second.seconds,
            "unchanged": second.unchanged,
            "new": len(second.new),
            "updated": len(second.updated),
            "failed": len(second.failed),
        },
    }


def run_side(side: str, slice_path: Path, precision: str) -> dict[str, Any]:
    """One side in a fresh interpreter, so its peak RSS is its own."""
    with tempfile.TemporaryDirectory(prefix=f"bench-ingest-{side}-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--side", side, "--slice", str(slice_path)]
        cmd += ["--data-dir", str(Path(tmp) / "data"), "--precision", precision]
        cmd += ["--json-out", str(out)]
        subprocess.run(cmd, check=True)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def summarise(side: dict[str, Any]) -> dict[str, Any]:
    secs = side["seconds"]
    return {
        **side,
        "seconds": round(secs, 1),
        "chars_per_s": round(rate(side["chars"], secs)),
        "articles_per_s": round(rate(side["articles"], secs), 2),
        "model_input_tokens_per_s": round(rate(side["model_input_tokens"], secs)),
        "coverage": round(side["coverage"], 4),
        "peak_rss_mb": round(side["peak_rss_mb"]),
        "rss_after_model_load_mb": round(side["rss_after_model_load_mb"]),
        "model_load_seconds": round(side["model_load_seconds"], 1),
    }


def print_table(li: dict[str, Any], ours: dict[str, Any]) -> None:
    rows = [
        ("articles", "articles", "{:,}"),
        ("chunks embedded", "chunks", "{:,}"),
        ("seconds", "seconds", "{:.1f}"),
        ("chars/s", "chars_per_s", "{:,}"),
        ("articles/s", "articles_per_s", "{:.2f}"),
        ("model-input tokens/s", "model_input_tokens_per_s", "{:,}"),
        ("text embedded (coverage)", "coverage", "{:.1%}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:,}"),
    ]
    print("| measure | llama-index default | assistant ingest |")
    print("|---|---:|---:|")
    for label, key, fmt in rows:
        print(f"| {label} | {fmt.format(li[key])} | {fmt.format(ours[key])} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=1000, help="articles (lines) to ingest")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--precision", default="auto", help="ours: auto, fp32, bf16, int8")
    parser.add_argument("--json-out", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--side", choices=["llamaindex", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--slice", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from index.sentence_model import offline_environment

    offline_environment()
    if args.side:  # a child process: one side, result to --json-out
        if args.side == "llamaindex":
            result = run_llamaindex(args.slice, args.data_dir)
        else:
            result = run_ours(args.slice, args.data_dir, args.precision)
        args.json_out.write_text(json.dumps(result), encoding="utf-8")
        return 0

    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        slice_path = Path(tmp) / f"corpus-first-{args.limit}.jsonl"
        lines = write_slice(args.corpus, args.limit, slice_path)
        li = summarise(run_side("llamaindex", slice_path, args.precision))
        ours = summarise(run_side("ours", slice_path, args.precision))

    ratio = ours["chars_per_s"] / li["chars_per_s"] if li["chars_per_s"] else 0.0
    result = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "corpus": str(args.corpus),
        "input_lines": lines,
        "llamaindex_default": li,
        "assistant_ingest": ours,
        "chars_per_s_ratio": round(ratio, 2),
    }
    print(f"ingest benchmark: first {lines} articles of {args.corpus.name}, embedded Chroma")
    print_table(li, ours)
    rerun = ours["rerun"]
    print(
        f"\nchars/s ratio (ours / llama-index default): {ratio:.2f}x; our precision "
        f"{ours['precision']}; unchanged re-run {rerun['seconds']:.2f} s "
        f"({rerun['unchanged']} / {lines} unchanged); model load not included "
        f"({li['model_load_seconds']} s / {ours['model_load_seconds']} s)"
    )
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json_out}")
    ok = (
        ours["failed"] == 0
        and rerun["unchanged"] == lines
        and not (rerun["new"] or rerun["updated"] or rerun["failed"])
    )
    if not ok:
        print("FAIL: failures, or the re-run did not find every article unchanged", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
