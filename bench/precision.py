"""Embedding paths on this machine: tokens/s and agreement with fp32, on real chunks.

    flock /tmp/bench.lock .venv/bin/python bench/precision.py

Chunks are 200-word-piece passages with their titles (the chunker's own output) from the
first articles of the 2025 corpus, batch 32. Paths: sentence-transformers fp32 (the
reference), our bf16 forward eager and torch.compile'd, and ONNX Runtime int8 (dynamic,
per-channel). Each path is run once to warm up, then timed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from machine_info import machine  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--json-out", type=Path, default=REPO / "bench" / "out" / "precision.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from index.sentence_model import offline_environment

    offline_environment()
    from index.articles import Article
    from index.chunking import Chunker
    from index.embeddings import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder(precision="bf16", compile=True)
    chunker = Chunker(emb)
    texts: list[str] = []
    with gzip.open(args.corpus, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            article = Article.create(text=row["text"], title=row.get("title"))
            texts += [c.embed_text for c in chunker.chunk(article)]
            if len(texts) >= args.chunks:
                break
    texts = texts[: args.chunks]
    tokens = sum(emb.count_tokens(texts))

    def timed(fn: Any) -> tuple[float, np.ndarray]:
        fn()
        start = time.perf_counter()
        out = fn()
        return tokens / (time.perf_counter() - start), np.asarray(out)

    rows: list[dict[str, Any]] = []
    rate, ref = timed(lambda: emb.encoding.encode_fp32(texts))
    rows.append({"path": "sentence-transformers, torch fp32", "tokens_per_s": rate})
    forward = emb.encoding.forward
    assert forward is not None
    rate, vec = timed(lambda: emb.encoding.encode_with(forward, texts))
    rows.append({"path": "torch bf16 (eager)", "tokens_per_s": rate, "vectors": vec})
    emb.compiler.ingest(
        10**6, emb.encoding.bf16_module
    )  # start compiling now, as a long ingest would
    deadline = time.monotonic() + 900
    while emb.compiler.compiled is None and time.monotonic() < deadline:
        time.sleep(0.5)
    compiled = emb.compiler.compiled
    if compiled is not None:
        rate, vec = timed(lambda: emb.encoding.encode_with(forward, texts, compiled))
        rows.append({"path": "torch bf16, torch.compile", "tokens_per_s": rate, "vectors": vec})
    with tempfile.TemporaryDirectory() as cache:
        int8 = SentenceTransformerEmbedder(precision="int8", cache_dir=cache)
        rate, vec = timed(lambda: int8.embed_documents(texts))
        rows.append(
            {"path": "ONNX Runtime int8 (dynamic, per-channel)", "tokens_per_s": rate,
             "vectors": vec}
        )  # fmt: skip
    print(f"{len(texts)} chunks, {tokens:,} model-input tokens, batch 32")
    print("| path | tokens/s | mean cosine to fp32 | min |")
    print("|---|---:|---:|---:|")
    out = []
    for row in rows:
        vectors = row.pop("vectors", None)
        if vectors is not None:
            cos = np.sum(vectors * ref, axis=1)
            row["mean_cosine"], row["min_cosine"] = float(cos.mean()), float(cos.min())
        row["tokens_per_s"] = round(row["tokens_per_s"])
        mean = f"{row['mean_cosine']:.5f}" if "mean_cosine" in row else "—"
        low = f"{row['min_cosine']:.5f}" if "min_cosine" in row else "—"
        print(f"| {row['path']} | {row['tokens_per_s']:,} | {mean} | {low} |")
        out.append(row)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "chunks": len(texts),
        "tokens": tokens,
        "paths": out,
    }
    args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
