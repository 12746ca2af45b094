"""Feeds (issue 28): articles per minute from a local feed of N items (fetch + extract + embed
+ store), and what one idle poll of 20 unchanged feeds costs.

    .venv/bin/python bench/feeds.py --items 500 --feeds 20

A newsroom (tests/fake_newsroom.py) serves on 127.0.0.1 a feed of ``--items`` articles, each
its own HTML page with the text of one 2025 corpus article (../shared; the generated stories
of the tests without it). ``assistant ingest FEED_URL``'s path (Library.ingest_paths) reads
it into a fresh embedded index; the model is loaded before the clock starts. Then ``--feeds``
feeds of ``items / feeds`` articles each are subscribed and polled once (all new to the poller,
unchanged to the index), and a second poll of all of them, with nothing changed, is timed:
requests sent, wall time and this process's CPU time. Politeness is off
(``feed_host_delay = 0``) so the figures are the work itself; with the default delay of 1 s
a host's requests are one a second, so a poll of F feeds on one host takes about F seconds.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the newsroom the tests serve

from fake_newsroom import Newsroom, Story, make_story, serve  # noqa: E402
from machine_info import machine  # noqa: E402  (bench/ is on sys.path as a script)

from assistant import Feeds, Library  # noqa: E402
from assistant.settings import Settings  # noqa: E402

CORPUS = ROOT.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"
DEFAULT_JSON = ROOT / "bench" / "out" / "feeds.json"


def stories(n: int) -> list[Story]:
    """``n`` stories: the corpus's first ``n`` articles when ../shared is here."""
    if not CORPUS.exists():
        return [make_story(i) for i in range(n)]
    found = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(itertools.islice(fh, n)):
            row = json.loads(line)
            paragraphs = [p.strip() for p in row["text"].split("\n") if p.strip()]
            found.append(
                Story(
                    slug=f"a{i}",
                    title=row.get("title") or f"Article {i}",
                    paragraphs=paragraphs,
                    summary=(paragraphs[0][:200] if paragraphs else ""),
                    published=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
                )
            )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()

    room = Newsroom()
    made = stories(args.items)
    for story in made:
        room.add(story, feed="all")
    per = max(1, args.items // args.feeds)
    for f in range(args.feeds):
        room.feeds[f"part{f}"] = [s.slug for s in made[f * per : (f + 1) * per]]
    server = serve(room)
    tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    settings = Settings.load(data_dir=tmp / "data", feed_host_delay=0.0)
    library = Library.open(settings)  # the model loads here, before the clock
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = library.ingest_paths([room.url("/feeds/all.xml")])
        ingest_s, ingest_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert not report.failed, report.failed[:3]
        words = sum(len(" ".join(s.paragraphs).split()) for s in made)

        feeds = Feeds(settings, library)
        for f in range(args.feeds):
            feeds.add(room.url(f"/feeds/part{f}.xml"))
        first = feeds.poll()
        hits = sum(room.hits.values())
        idle_feeds = Feeds(settings, library)  # a fresh poller: robots.txt read again
        started, cpu = time.perf_counter(), time.process_time()
        idle = idle_feeds.poll()
        idle_s, idle_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert all(p.not_modified for p in idle), [p.outcome() for p in idle]
    finally:
        library.close()
        server.shutdown()

    result = {
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "corpus": CORPUS.exists(),
        "ingest": {
            "articles": len(report.new),
            "words": words,
            "chunks": report.chunks,
            "seconds": round(ingest_s, 2),
            "cpu_seconds": round(ingest_cpu, 2),
            "articles_per_min": round(len(report.new) / ingest_s * 60, 1),
            "requests": len(made) + 2,  # the feed, robots.txt and each page
        },
        "first_poll": {
            "feeds": len(first),
            "unchanged": sum(p.report.unchanged for p in first),
            "requests": sum(p.requests for p in first),
        },
        "idle_poll": {
            "feeds": len(idle),
            "requests": sum(p.requests for p in idle),
            "server_requests": sum(room.hits.values()) - hits,
            "seconds": round(idle_s, 3),
            "cpu_seconds": round(idle_cpu, 3),
        },
    }
    ing, idl = result["ingest"], result["idle_poll"]
    print("| measure | value |\n|---|--:|")
    print(f"| articles ingested from one feed | {ing['articles']} ({ing['words']:,} words, "
          f"{ing['chunks']:,} chunks) |")  # fmt: skip
    print(f"| wall seconds (fetch + extract + embed + store) | {ing['seconds']} |")
    print(f"| articles per minute | {ing['articles_per_min']} |")
    print(f"| idle poll of {idl['feeds']} unchanged feeds: requests | {idl['server_requests']} |")
    print(f"| idle poll: wall ms | {idl['seconds'] * 1000:.0f} |")
    print(f"| idle poll: CPU ms (this process) | {idl['cpu_seconds'] * 1000:.0f} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
