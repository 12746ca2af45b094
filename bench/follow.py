"""What following a shared index costs a replica's questions: ``ask`` latency with the
follow-the-index check off, and on at two intervals, while another replica writes.

    .venv/bin/python bench/follow.py                        # 300 questions per setting
    .venv/bin/python bench/follow.py --questions 100 --articles 50

Starts ``chroma run`` on 127.0.0.1 (a temporary folder), ingests ``--articles`` articles of
the 2025 corpus (../shared; the built-in sample without it) through one ``Assistant``, then
builds a reader ``Assistant`` on another data dir, as a second replica would be. While a
writer process (a third replica) ingests one new article every ``--write-every`` seconds
(once its model is loaded), the reader answers the same questions, one after another, with
its follower off, on every 2 s (the default), and on every 0.25 s; the settings take turns in
blocks so that drifting machine load falls on each alike. Prints a table and writes JSON to
``bench/out/follow.json``. Also times one look at the write marker when the reader is in
step (``ChromaStore.follow`` with nothing to sync), and one after another replica wrote an
article (a sync: every record's version is compared, only that article is read).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine_info import machine  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant import Assistant, Settings  # noqa: E402
from index.follow import Follower  # noqa: E402

CORPUS = REPO.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"
QUESTIONS = REPO.parent / "shared" / "eval" / "realtimeqa-2025" / "questions.jsonl"
SAMPLE = REPO / "assistant" / "samples" / "la-protests-national-guard.txt"
DEFAULT_JSON = Path(__file__).resolve().parent / "out" / "follow.json"
SETTINGS = {"off": None, "on, every 2 s": 2.0, "on, every 0.25 s": 0.25}


def start_chroma(path: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit("chroma run did not start")


def articles(n: int) -> list[dict[str, Any]]:
    if not CORPUS.exists():
        text = SAMPLE.read_text(encoding="utf-8")
        return [{"title": f"Sample {i}", "text": text, "id": f"sample-{i}"} for i in range(n)]
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in itertools.islice(fh, n)]


def questions(n: int) -> list[str]:
    if not QUESTIONS.exists():
        return ["How many Guard members were deployed?"] * n
    with QUESTIONS.open(encoding="utf-8") as fh:
        found = [json.loads(line)["question"] for line in fh]
    return list(itertools.islice(itertools.cycle(found), n))


def percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100)
    return {"n": len(ms), "p50": round(q[49], 1), "p95": round(q[94], 1)}


def write(port: int, data: Path, start: int, every: float) -> None:
    """The other replica (``--write``, a process of its own): ingest one article of the
    corpus from ``start`` on every ``every`` seconds, until terminated."""
    base = {"chroma_host": "127.0.0.1", "chroma_port": port, "follow_index": False}
    asst = Assistant.from_settings(Settings.load(data_dir=data, **base))
    for record in articles(start + 400)[start:]:
        time.sleep(every)
        asst.library.ingest_records([record])


def start_writer(port: int, data: Path, start: int, every: float) -> subprocess.Popen[bytes]:
    argv = [sys.executable, __file__, "--write", str(port), str(data), str(start), str(every)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300, help="per setting")
    parser.add_argument("--articles", type=int, default=200, help="indexed before timing")
    parser.add_argument("--write-every", type=float, default=1.0, help="seconds")
    parser.add_argument("--block", type=int, default=25, help="questions per turn")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--write", nargs=4, help=argparse.SUPPRESS)  # the writer process
    args = parser.parse_args()
    if args.write:
        port, data, start, every = args.write
        write(int(port), Path(data), int(start), float(every))
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-follow-"))
    chroma, port = start_chroma(tmp / "chroma")
    try:
        base = {"chroma_host": "127.0.0.1", "chroma_port": port, "follow_index": False}
        w = Assistant.from_settings(Settings.load(data_dir=tmp / "w", **base))
        pool = articles(args.articles + 420)  # the writer's 400, then 20
        w.library.ingest_records(pool[: args.articles])
        reader = Assistant.from_settings(Settings.load(data_dir=tmp / "r", **base))
        asked = questions(args.questions)
        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        before = len(reader.store.committed_hashes())
        other = start_writer(port, tmp / "w2", args.articles, args.write_every)
        for block in range(0, len(asked), args.block):
            for name, interval in SETTINGS.items():
                follower = Follower(reader.store, interval).start() if interval else None
                for question in asked[block : block + args.block]:
                    t = time.perf_counter()
                    reader.ask(question)
                    times[name].append((time.perf_counter() - t) * 1000)
                if follower is not None:
                    follower.stop()
        other.terminate()
        other.wait(timeout=60)
        wrote = len(reader.store.committed_hashes()) - before
        reader.store.follow()  # in step now: what one look at the marker costs
        checks, syncs = [], []
        for _ in range(200):
            t = time.perf_counter()
            reader.store.follow()
            checks.append((time.perf_counter() - t) * 1000)
        for record in pool[-20:]:  # and a look after another replica wrote one article
            w.library.ingest_records([record])
            t = time.perf_counter()
            assert reader.store.follow() == 1
            syncs.append((time.perf_counter() - t) * 1000)
        indexed = len(reader.store.committed_hashes())
    finally:
        chroma.terminate()
        chroma.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    rows = {name: percentiles(ms) for name, ms in times.items()}
    check, sync = percentiles(checks), percentiles(syncs)
    print("| follow-the-index | questions | ask p50 ms | ask p95 ms |\n|---|--:|--:|--:|")
    for name, row in rows.items():
        print(f"| {name} | {row['n']} | {row['p50']} | {row['p95']} |")
    print(f"\none look at the write marker, in step: p50 {check['p50']} ms, p95 {check['p95']} ms")
    print(f"a look that syncs one article another process wrote ({indexed} articles indexed): "
          f"p50 {sync['p50']} ms, p95 {sync['p95']} ms")  # fmt: skip
    print(f"articles the other replica wrote meanwhile: {wrote}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "args": {k: str(v) for k, v in vars(args).items()},
                "ask_ms": rows,
                "marker_check_ms": check,
                "sync_one_article_ms": sync,
                "articles_indexed": indexed,
                "written_meanwhile": wrote,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
