"""Queries while the same server ingests: the API load of bench/api_load.py, alone and during
an ingest of N articles posted to the same ``assistant serve``.

    .venv/bin/python bench/ingest_load.py                      # 50 clients × 20, 200 articles
    .venv/bin/python bench/ingest_load.py --clients 10 --questions 5 --articles 50
    .venv/bin/python bench/ingest_load.py --repo ../main       # the server from another checkout

One server on 127.0.0.1 (a fresh data dir holding the built-in sample article). Phase 1: the
load alone. Phase 2: ``POST /v1/articles`` with N articles of the 2025 corpus (a background
thread), and the same load once the ingest has begun. The goal (issue 15): p95 during the
ingest at most 2× p95 alone. Prints one table; writes JSON to ``bench/out/ingest_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from api_load import QUESTIONS, SAMPLE, free_port, load, start_server, wait_ready
from machine_info import machine  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"
DEFAULT_JSON = Path(__file__).resolve().parent / "out" / "ingest_load.json"


def corpus(n: int, path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in itertools.islice(fh, n)]


class Ingest(threading.Thread):
    """One ``POST /v1/articles`` of all the articles, timed."""

    def __init__(self, url: str, articles: list[dict[str, Any]]) -> None:
        super().__init__(name="bench-ingest", daemon=True)
        self.url, self.articles = url, articles
        self.started = self.ended = 0.0
        self.summary: dict[str, Any] = {}

    def run(self) -> None:
        self.started = time.perf_counter()
        try:
            res = httpx.post(f"{self.url}/v1/articles", json=self.articles, timeout=3600)
            self.summary = res.json() if res.status_code == 200 else {"error": res.text[:500]}
        except httpx.HTTPError as exc:
            self.summary = {"error": f"{type(exc).__name__}: {exc}"}
        self.ended = time.perf_counter()


def _count(value: Any) -> int | None:
    """The summary's ``new`` is a list of ids (a count in older versions)."""
    return len(value) if isinstance(value, list) else value


def run(args: argparse.Namespace) -> dict[str, Any]:
    articles = corpus(args.articles, args.corpus)
    with tempfile.TemporaryDirectory(prefix="ingest-load-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "serve.log"
        proc = start_server(Path(tmp) / "data", port, log, repo=args.repo)
        try:
            wait_ready(url, proc, log)
            files = {"files": (SAMPLE.name, SAMPLE.read_bytes(), "text/plain")}
            assert httpx.post(f"{url}/v1/articles", files=files, timeout=120).json()["ok"]
            httpx.post(f"{url}/v1/ask", json={"question": QUESTIONS[0]}, timeout=60)  # warm-up
            alone = asyncio.run(
                load(url, args.clients, args.questions, args.timeout, args.deadline)
            )
            ingest = Ingest(url, articles)
            ingest.start()
            time.sleep(args.head_start)  # the ingest is reading and embedding
            t0 = time.perf_counter()
            during = asyncio.run(
                load(url, args.clients, args.questions, args.timeout, args.deadline)
            )
            t1 = time.perf_counter()
            ingest.join()
            stats = httpx.get(f"{url}/v1/stats", timeout=60).json()
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    overlap = max(0.0, min(t1, ingest.ended) - max(t0, ingest.started)) / max(t1 - t0, 1e-9)
    return {
        "alone": alone,
        "during_ingest": during,
        "ingest": {
            "articles": len(articles),
            "seconds": round(ingest.ended - ingest.started, 1),
            "new": _count(ingest.summary.get("new")),
            "ok": ingest.summary.get("ok"),
            "error": ingest.summary.get("error"),
            "share_of_load_during_ingest": round(overlap, 3),
        },
        "index_after": {"articles": stats.get("articles"), "chunks": stats.get("chunks")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20, help="per client")
    parser.add_argument("--articles", type=int, default=200, help="ingested in phase 2")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--head-start", type=float, default=2.0, help="s of ingest before load")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request")
    parser.add_argument("--deadline", type=float, default=900, help="seconds per phase")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout the server runs")
    parser.add_argument("--json-out", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    result = {
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/ingest_load.py", *sys.argv[1:]]),
        "clients": args.clients,
        "questions_per_client": args.questions,
        "machine": machine(),
        **run(args),
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2))
    heads = ("ok", 7), ("errors", 8), ("req/s", 8), ("p50 ms", 10), ("p95 ms", 10), ("max ms", 10)
    print(f"{'phase':<16}" + "".join(f"{h:>{w}}" for h, w in heads))
    for phase in ("alone", "during_ingest"):
        r, lat = result[phase], result[phase]["latency_ms"]
        print(
            f"{phase:<16}{r['ok']:>7}{r['errors']:>8}{r['requests_per_s']:>8}"
            f"{lat['p50']:>10}{lat['p95']:>10}{lat['max']:>10}"
        )
    ing = result["ingest"]
    ratio = result["during_ingest"]["latency_ms"]["p95"] / result["alone"]["latency_ms"]["p95"]
    print(
        f"ingest: {ing['new']} new of {ing['articles']} in {ing['seconds']} s "
        f"({ing['share_of_load_during_ingest']:.0%} of the load ran during it); "
        f"p95 during / alone = {ratio:.2f} (goal ≤ 2)"
    )
    bad = result["alone"]["errors"] or result["during_ingest"]["errors"] or not ing["ok"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
