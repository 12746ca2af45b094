"""Retrieval at 10k / 100k / 1M chunks on a Chroma server (`chroma run` on 127.0.0.1).

Embedding a million real chunks takes days on this machine, so the chunks are replicas of
the real 2025 index: the texts, metadata and vectors of its 72,126 chunks, exported once.
Replica ``r`` (r >= 1) gets new chunk and article ids (prefix ``r{r}-``), its vectors
get Gaussian noise of norm ``--noise`` (then re-normalised; cosine to the original about
0.995), and its dates move back ``r`` × 364 days (same weekday), so date filters and the
recency boost still see a spread of dates. Texts are unchanged: every term's posting list in
the BM25 index grows with the replica count, as it would with more articles of the same news.

    python bench/scale.py export --chroma /tmp/scale-src/chroma-copy --out /tmp/scale-src
    flock /tmp/bench.lock python bench/scale.py build --size 100000 --db /tmp/scale-db-100k
    flock /tmp/bench.lock python bench/scale.py query --size 100000 --db /tmp/scale-db-100k

``build`` starts a server on a fresh directory, adds the chunks in batches of the client's
maximum batch size (or ``--batch``) and writes the lexical (FTS5) index beside it; it reports
chunks/s for each and the server's RSS. ``query`` starts a server on a built directory and
times the real ``Retriever`` over the 2025 questions in dense, BM25 and fused mode. Query
vectors are embedded beforehand with the real model (that time is reported apart and is not
in the retrieval figures). Writes JSON to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.sentence_model import offline_environment

offline_environment()

from bench.machine_info import machine  # noqa: E402
from index.chroma_client import make_client  # noqa: E402
from index.lexical import PRUNE_ABOVE, LexicalArticle, LexicalChunk, LexicalIndex  # noqa: E402
from index.store import ChromaStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "eval" / "realtimeqa-2025" / "questions.jsonl"
OUT = ROOT / "bench" / "out"
SRC = Path("/tmp/scale-src")
COLLECTION = "news"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CHROMA = Path(sys.executable).parent / "chroma"
YEAR = 364 * 86400


# -- export (once) ---------------------------------------------------------------------------
def export(chroma_dir: Path, out: Path, collection: str) -> None:
    """ids, documents, metadatas and embeddings of every chunk, in (article, index) order."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(chroma_dir), settings=Settings(anonymized_telemetry=False)
    )
    coll = client.get_collection(collection)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    vecs: list[np.ndarray] = []
    offset, page = 0, 5000
    while True:
        got = coll.get(include=["documents", "metadatas", "embeddings"], limit=page, offset=offset)
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            rows.append((cid, doc or "", dict(meta or {})))
        vecs.append(np.asarray(got["embeddings"], dtype=np.float32))
        if len(got["ids"]) < page:
            break
        offset += page
    emb = np.concatenate(vecs)
    order = sorted(
        range(len(rows)),
        key=lambda i: (str(rows[i][2].get("article_id")), int(rows[i][2].get("chunk_index", 0))),
    )
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "embeddings.npy", emb[order])
    with (out / "chunks.jsonl").open("w") as f:
        for i in order:
            cid, doc, meta = rows[i]
            f.write(json.dumps({"id": cid, "text": doc, "meta": meta}, ensure_ascii=False) + "\n")
    print(f"exported {len(rows)} chunks ({emb.shape[1]} dims) to {out}")


def load_source(src: Path) -> tuple[list[dict[str, Any]], np.ndarray]:
    with (src / "chunks.jsonl").open() as f:
        rows = [json.loads(line) for line in f]
    return rows, np.load(src / "embeddings.npy")


# -- replication -----------------------------------------------------------------------------
def replica(
    rows: list[dict[str, Any]], emb: np.ndarray, r: int, lo: int, hi: int, noise: float
) -> tuple[list[str], list[str], list[dict[str, Any]], np.ndarray]:
    """Rows ``lo:hi`` of replica ``r`` (0 = the originals)."""
    part = rows[lo:hi]
    vecs = emb[lo:hi].copy()
    if r == 0:
        return [p["id"] for p in part], [p["text"] for p in part], [p["meta"] for p in part], vecs
    rng = np.random.default_rng(r * 1_000_003 + lo)
    jitter = rng.standard_normal(vecs.shape).astype(np.float32)
    jitter *= noise / np.linalg.norm(jitter, axis=1, keepdims=True)
    vecs += jitter
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids, metas = [], []
    for p in part:
        m = dict(p["meta"])
        m["article_id"] = f"r{r}-{m.get('article_id', '')}"
        if isinstance(m.get("published_ts"), int):
            m["published_ts"] -= r * YEAR
            m["published"] = (
                datetime.fromisoformat(m["published"]) - timedelta(seconds=r * YEAR)
            ).isoformat()
        ids.append(f"r{r}-{p['id']}")
        metas.append(m)
    return ids, [p["text"] for p in part], metas, vecs


def lexical_articles(
    ids: list[str], texts: list[str], metas: list[dict[str, Any]]
) -> list[LexicalArticle]:
    """Group chunks by article as the store's lexical writer does (title above the text)."""
    groups: dict[str, list[LexicalChunk]] = {}
    versions: dict[str, str] = {}
    for cid, text, m in zip(ids, texts, metas, strict=True):
        aid = str(m.get("article_id", ""))
        versions[aid] = str(m.get("version", ""))
        ts = m.get("published_ts")
        groups.setdefault(aid, []).append(
            LexicalChunk(
                cid,
                f"{m.get('title', '')}\n{text}",
                str(m.get("source", "")),
                ts if isinstance(ts, int) else None,
            )
        )
    return [LexicalArticle(a, versions[a], cs) for a, cs in groups.items()]


# -- the server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`chroma run` on 127.0.0.1 over ``path``, stopped on exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        path.mkdir(parents=True, exist_ok=True)
        port = str(self.port)
        self.log = (path.parent / f"{path.name}.server.log").open("a")
        self.proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", port],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        self.client = make_client(path, host="127.0.0.1", port=self.port)
        self.client.heartbeat()

    def rss_mb(self) -> float:
        proc = psutil.Process(self.proc.pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def dir_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def lexical_path(db: Path) -> Path:
    return db / "lexical" / f"{COLLECTION}.sqlite3"


# -- build -----------------------------------------------------------------------------------
def article_slices(rows: list[dict[str, Any]], size: int, step: int) -> list[tuple[int, int, int]]:
    """(replica, lo, hi) slices of about ``step`` rows adding up to ``size``; a slice ends at
    an article boundary (the lexical writer replaces whole articles)."""
    starts = [
        i
        for i in range(len(rows))
        if i == 0 or rows[i]["meta"].get("article_id") != rows[i - 1]["meta"].get("article_id")
    ]
    out, left, r = [], size, 0
    while left > 0:
        take = min(left, len(rows))
        lo = 0
        while lo < take:
            hi = next((s for s in starts if s >= lo + step), take)
            out.append((r, lo, min(hi, take)))
            lo = min(hi, take)
        left -= take
        r += 1
    return out


def build(args: argparse.Namespace) -> dict[str, Any]:
    rows, emb = load_source(args.src)
    db: Path = args.db
    if (db / "chroma").exists():
        raise SystemExit(f"{db} already holds a database; build into a fresh directory")
    server = Server(db / "chroma")
    try:
        store = ChromaStore(server.client, COLLECTION, MODEL, int(emb.shape[1]))
        batch = int(args.batch or store.max_batch)
        lex = LexicalIndex(lexical_path(db))
        chroma_s = lex_s = 0.0
        done, next_report, peak_rss = 0, 0, 0.0
        started = time.perf_counter()
        for r, lo, hi in article_slices(rows, args.size, batch):
            ids, texts, metas, vecs = replica(rows, emb, r, lo, hi, args.noise)
            t = time.perf_counter()
            for i in range(0, len(ids), batch):
                store.chunks.add(
                    ids=ids[i : i + batch],
                    embeddings=vecs[i : i + batch],
                    documents=texts[i : i + batch],
                    metadatas=metas[i : i + batch],
                )
            chroma_s += time.perf_counter() - t
            t = time.perf_counter()
            lex.replace(lexical_articles(ids, texts, metas))
            lex_s += time.perf_counter() - t
            done += len(ids)
            if done >= next_report:
                peak_rss = max(peak_rss, server.rss_mb())
                print(
                    f"{done:>9,} chunks  chroma {done / chroma_s:,.0f}/s  lexical "
                    f"{done / lex_s:,.0f}/s  server RSS {server.rss_mb():,.0f} MB  "
                    f"{time.perf_counter() - started:,.0f} s",
                    flush=True,
                )
                next_report += max(batch, args.size // 20)
        total_s = time.perf_counter() - started
        count = int(store.chunks.count())
        # the first query after the writes: includes any index work the server deferred
        t = time.perf_counter()
        store.query(emb[0], 10)
        first_query_ms = (time.perf_counter() - t) * 1000
        result = {
            "size": args.size,
            "count": count,
            "batch": batch,
            "max_batch": store.max_batch,
            "noise": args.noise,
            "chroma_seconds": round(chroma_s, 1),
            "chroma_chunks_per_s": round(done / chroma_s),
            "lexical_seconds": round(lex_s, 1),
            "lexical_chunks_per_s": round(done / lex_s),
            "total_seconds": round(total_s, 1),
            "first_query_ms": round(first_query_ms, 1),
            "server_rss_mb": round(server.rss_mb()),
            "server_peak_rss_mb": round(max(peak_rss, server.rss_mb())),
            "chroma_disk_mb": round(dir_mb(db / "chroma")),
            "lexical_disk_mb": round(dir_mb(lexical_path(db).parent)),
        }
        lex.close()
        return result
    finally:
        server.stop()


# -- query -----------------------------------------------------------------------------------
class Precomputed:
    """The embedder the retriever sees: query vectors embedded beforehand, so the figures
    are retrieval only."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def question_vectors(questions: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], float]:
    """Each question's vector with the real model, cached; and the embedding p50 in ms."""
    from index.embeddings import load_embedder

    cache = SRC / "questions.npz"
    texts = [q["question"] for q in questions]
    embedder = load_embedder(MODEL)
    times = []
    for text in texts[:100]:
        t = time.perf_counter()
        embedder.embed_query(text)
        times.append((time.perf_counter() - t) * 1000)
    if cache.exists():
        got = np.load(cache)
        if list(got["texts"]) == texts:
            return dict(zip(texts, got["vectors"], strict=True)), statistics.median(times)
    vectors = [embedder.embed_query(t) for t in texts]
    np.savez(cache, texts=np.array(texts), vectors=np.stack(vectors))
    return dict(zip(texts, vectors, strict=True)), statistics.median(times)


def gold_hit(q: dict[str, Any], passages: list[Any]) -> bool:
    """A gold article (or a replica of it) among the passages or their syndicated copies."""
    gold = set(q.get("gold_ids") or [])
    if not gold:
        return False
    seen = {p.article_id for p in passages} | {r.article_id for p in passages for r in p.also_in}
    return any(a.split("-", 1)[-1] in gold or a in gold for a in seen)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 1)


def query(args: argparse.Namespace) -> dict[str, Any]:
    from assistant.retrieval import Retriever

    with QUESTIONS.open() as f:
        questions = [json.loads(line) for line in f][: args.limit]
    vectors, embed_p50 = question_vectors(questions)
    db: Path = args.db
    me = psutil.Process()
    server = Server(db / "chroma")
    try:
        rss_before_lexical = me.memory_info().rss / 2**20
        prune = None if args.prune_above < 0 else args.prune_above
        lex = LexicalIndex(lexical_path(db), prune_above=prune)
        store = ChromaStore(server.client, COLLECTION, MODEL, None, lexical=lex)
        count = int(store.chunks.count())
        retriever = Retriever(store, Precomputed(vectors))  # type: ignore[arg-type]
        modes = ("dense", "lexical", "hybrid")
        for q in questions[: args.warmup]:
            for mode in modes:
                retriever.retrieve(q["question"], k=5, mode=mode)
        times: dict[str, list[float]] = {m: [] for m in modes}
        hits: dict[str, int] = dict.fromkeys(modes, 0)
        parts: dict[str, list[float]] = {}
        exact = searches = 0
        for q in questions:
            raw = str(q["date"]).replace("/", "-")
            as_of = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
            for mode in modes:
                t = time.perf_counter()
                got = retriever.retrieve(q["question"], k=5, mode=mode, as_of=as_of)
                times[mode].append((time.perf_counter() - t) * 1000)
                hits[mode] += gold_hit(q, got.passages)
                if mode != "dense":
                    searches += 1
                    exact += lex.last_exact
                if mode == "hybrid":
                    for name, ms in got.timings_ms.items():
                        parts.setdefault(name, []).append(ms)
        rss_after = me.memory_info().rss / 2**20
        result = {
            "size": args.size,
            "count": count,
            "questions": len(questions),
            "warmup": args.warmup,
            "query_embedding_p50_ms": round(embed_p50, 1),
            **{f"{m}_p50_ms": pct(v, 0.5) for m, v in times.items()},
            **{f"{m}_p95_ms": pct(v, 0.95) for m, v in times.items()},
            "fused_parts_p50_ms": {k: pct(v, 0.5) for k, v in parts.items()},
            "answerable": sum(bool(q.get("gold_ids")) for q in questions),
            **{f"{m}_recall_at_5": hits[m] for m in modes},
            "lexical_prune_above": prune,
            "lexical_exact_share": round(exact / max(1, searches), 3),
            "server_rss_mb": round(server.rss_mb()),
            "client_rss_mb": round(rss_after),
            "client_rss_growth_from_lexical_open_mb": round(rss_after - rss_before_lexical),
            "lexical_disk_mb": round(dir_mb(lexical_path(db).parent)),
            "chroma_disk_mb": round(dir_mb(db / "chroma")),
        }
        lex.close()
        return result
    finally:
        server.stop()


def sqlite_memory() -> tuple[int, int]:
    """(bytes in use, high-water mark) of SQLite's own allocator in this process: the lexical
    index's page caches, FTS5 buffers and the pruned search's scratch table."""
    import _sqlite3
    import ctypes

    lib = ctypes.CDLL(_sqlite3.__file__)
    used, high = lib.sqlite3_memory_used, lib.sqlite3_memory_highwater
    used.restype = high.restype = ctypes.c_int64
    return int(used()), int(high(0))


def lexical_memory(args: argparse.Namespace) -> dict[str, Any]:
    """SQLite memory of the lexical index while it answers the questions (pruned, then the
    full query), and its size on disk. Not a timing: needs no lock."""
    from index.text import query_terms

    with QUESTIONS.open() as f:
        questions = [json.loads(line)["question"] for line in f][: args.limit]
    out: dict[str, Any] = {"size": args.size, "questions": len(questions)}
    for name, prune in (("pruned", PRUNE_ABOVE), ("full", None)):
        lex = LexicalIndex(lexical_path(args.db), prune_above=prune)
        for q in questions:
            lex.search(query_terms(q), 40)
        used, high = sqlite_memory()
        out[f"{name}_sqlite_mb"] = round(used / 2**20, 1)
        out[f"{name}_sqlite_highwater_mb"] = round(high / 2**20, 1)
        lex.close()
    out["lexical_disk_mb"] = round(dir_mb(lexical_path(args.db).parent))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="export the real index's chunks once")
    e.add_argument("--chroma", type=Path, required=True, help="a Chroma persistent dir")
    e.add_argument("--collection", default=COLLECTION)
    e.add_argument("--out", type=Path, default=SRC)
    for name in ("build", "query", "lexmem"):
        s = sub.add_parser(name)
        s.add_argument("--size", type=int, required=True)
        s.add_argument("--db", type=Path, required=True)
        s.add_argument("--src", type=Path, default=SRC)
        s.add_argument("--tag", default="", help="suffix of the JSON file name")
    b = sub.choices["build"]
    b.add_argument("--batch", type=int, default=0, help="default: the client's max batch size")
    b.add_argument("--noise", type=float, default=0.1, help="norm of the vector noise")
    qp = sub.choices["query"]
    qp.add_argument("--limit", type=int, default=None, help="first N questions (default all)")
    qp.add_argument("--warmup", type=int, default=20)
    sub.choices["lexmem"].add_argument("--limit", type=int, default=None)
    qp.add_argument(
        "--prune-above",
        type=int,
        default=PRUNE_ABOVE,
        help="LexicalIndex prune_above (default the library's; -1: never prune, exact FTS5)",
    )
    args = p.parse_args()
    if args.cmd == "export":
        export(args.chroma, args.out, args.collection)
        return
    run = {"build": build, "query": query, "lexmem": lexical_memory}[args.cmd]
    result = run(args)
    result.update(
        kind=args.cmd,
        machine=machine(),
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        chroma_version=__import__("chromadb").__version__,
    )
    print(json.dumps(result, indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"scale-{args.cmd}-{args.size}{args.tag}.json"
    (OUT / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
