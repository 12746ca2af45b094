"""HTTP API under load: ``assistant serve`` on loopback, N concurrent clients × M questions.

    .venv/bin/python bench/api_load.py                      # 50 clients × 20 questions
    .venv/bin/python bench/api_load.py --clients 10 --questions 5 --data-dir /tmp/idx

Starts ``python -m assistant serve`` in a subprocess on 127.0.0.1 (a fresh temporary data dir
holding the built-in sample article, unless ``--data-dir`` names an existing index), waits for
``/readyz``, then each client (an ``httpx.AsyncClient`` task with its own connection) asks its
questions one after another through ``POST /v1/ask``. Bounded in count (clients × questions)
and in time (``--deadline`` seconds for the whole run, ``--timeout`` per request): anything
over counts as an error. Prints latency percentiles and requests/s; writes JSON to
``bench/out/api_load.json``. Exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from machine_info import machine  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "assistant" / "samples" / "la-protests-national-guard.txt"
DEFAULT_JSON = Path(__file__).resolve().parent / "out" / "api_load.json"
QUESTIONS = [
    "How many Guard members were deployed?",
    "Who announced plans to deploy the National Guard?",
    "Where did the immigration protests take place?",
    "Why did the protests begin?",
    "What are activists urging instead of militarization?",
    "How did local officials react to the deployment?",
    "What did organizers say about future protests?",
    "Who won the 1998 World Cup?",  # a refusal: the sample does not say
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    data_dir: Path, port: int, log: Path, repo: Path = REPO
) -> subprocess.Popen[bytes]:
    """``assistant serve`` of the checkout ``repo`` on 127.0.0.1:``port``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_DATA_DIR": str(data_dir), "PYTHONPATH": str(repo)}
    cmd = [sys.executable, "-m", "assistant", "serve", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"assistant serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"not ready in {seconds:.0f} s:\n{log.read_text()}")


async def client(
    url: str, n: int, first: int, timeout: float, latencies: list[float], errors: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as http:
        for i in range(n):
            question = QUESTIONS[(first + i) % len(QUESTIONS)]
            t = time.perf_counter()
            try:
                res = await http.post("/v1/ask", json={"question": question})
                ok = res.status_code == 200 and "answer" in res.json()
                detail = f"HTTP {res.status_code}: {res.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            if ok:
                latencies.append(time.perf_counter() - t)
            else:
                errors.append(detail)


async def load(
    url: str, clients: int, questions: int, timeout: float, deadline: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(client(url, questions, c, timeout, latencies, errors))
        for c in range(clients)
    ]
    _, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    wall = time.perf_counter() - started
    unfinished = clients * questions - len(latencies) - len(errors)
    samples = errors[:5]
    if unfinished:
        samples.append(f"{unfinished} request(s) not done within the {deadline:.0f} s deadline")
    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p / 100 * len(ms)))], 1) if ms else float("nan")

    return {
        "requests": clients * questions,
        "ok": len(latencies),
        "errors": len(errors) + unfinished,
        "error_samples": samples,
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 1),
        "latency_ms": {
            "p50": pct(50),
            "p95": pct(95),
            "p99": pct(99),
            "max": round(ms[-1], 1) if ms else None,
            "mean": round(statistics.fmean(ms), 1) if ms else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20, help="per client")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request")
    parser.add_argument("--deadline", type=float, default=600, help="seconds for the whole run")
    parser.add_argument("--data-dir", type=Path, help="an existing index (default: the sample)")
    parser.add_argument("--json-out", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "serve.log"
        proc = start_server(data_dir, port, log)
        try:
            wait_ready(url, proc, log)
            if args.data_dir is None:
                files = {"files": (SAMPLE.name, SAMPLE.read_bytes(), "text/plain")}
                added = httpx.post(f"{url}/v1/articles", files=files, timeout=120).json()
                assert added["ok"], added
            httpx.post(f"{url}/v1/ask", json={"question": QUESTIONS[0]}, timeout=60)  # warm-up
            result = asyncio.run(
                load(url, args.clients, args.questions, args.timeout, args.deadline)
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/api_load.py", *sys.argv[1:]]),
        "clients": args.clients,
        "questions_per_client": args.questions,
        "index": str(args.data_dir or "built-in sample (1 article)"),
        "machine": machine(),
        **result,
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2))
    lat = result["latency_ms"]
    print(
        f"{result['ok']}/{result['requests']} ok, {result['errors']} errors in "
        f"{result['wall_s']} s: {result['requests_per_s']} requests/s; latency ms "
        f"p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} max {lat['max']}"
    )
    for sample in result["error_samples"]:
        print("error:", sample)
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
