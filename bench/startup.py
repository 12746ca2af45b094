"""Cold start of each command, as a whole process: ``python -m assistant …`` from exec to exit.

    .venv/bin/python bench/startup.py                  # 5 runs of each command
    .venv/bin/python bench/startup.py --runs 7 --data-dir /tmp/idx
    .venv/bin/python bench/startup.py --runs 3 --no-server --commands stats "articles list"

Builds a fresh temporary data dir holding the built-in sample article (unless ``--data-dir``
names an existing index), then runs every command ``--runs`` times, one after another, each a
new Python process (so imports, the model load and the index open are all counted; the OS
file cache is warm after the first run, as on a machine in use). Prints min / median / max
wall seconds per command and writes JSON to ``bench/out/startup.json``, with the load
average before and after, since other jobs on the machine inflate every figure. Then one
more process shows where a cold ``ask`` spends its time (imports, embedder and index, the
first question, which loads spaCy's NER model for the extractive reader), and whether torch
was imported (not when the light query path, index/light.py, has its ONNX export). Last,
``ask`` again with ``assistant serve`` running on the data dir (``--no-server`` skips it).
``--commands`` times only the commands named; the breakdown and the server row then run only
when ``ask`` is one of them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from machine_info import machine  # noqa: E402

QUESTION = "How many Guard members were deployed?"
COMMANDS: dict[str, tuple[list[str], str | None]] = {
    "--help": (["--help"], None),
    "stats": (["stats"], None),
    "articles list": (["articles", "list"], None),
    "ask": (["ask", QUESTION], None),
    "ask --json": (["ask", QUESTION, "--json"], None),
    "chat (1 question)": (["chat"], f"{QUESTION}\n/quit\n"),
}


def timed(args: list[str], stdin: str | None, env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"`assistant {' '.join(args)}` failed:\n{done.stderr}")
    return seconds


# a cold `ask`, step by step, in a fresh process; prints {step: seconds} as JSON
PHASES = """
import json, sys, time
t = time.perf_counter(); steps = {}
def lap(name):
    global t
    now = time.perf_counter(); steps[name] = round(now - t, 3); t = now
import assistant.faces.cli; lap("python + assistant (CLI, settings, core)")
import chromadb; lap("import chromadb")
from assistant import Assistant, Settings
asst = Assistant.from_settings(Settings.load())
lap("embedder (ONNX export, or torch + model) + index open")
asst.ask(sys.argv[1]); lap("first question (retrieve, spaCy import + NER load, answer)")
steps["torch imported (1 = yes)"] = float("torch" in sys.modules)
print(json.dumps(steps))
"""


def phases(env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PHASES, QUESTION], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"the phase run failed:\n{done.stderr}")
    steps: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return steps


@contextlib.contextmanager
def running_server(env: dict[str, str]) -> Iterator[None]:
    """`assistant serve` on the data dir, ready (and warmed by one question), until the block
    ends: `ask` then sends its question there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        timed(COMMANDS["ask"][0], None, env)  # the server's first question loads spaCy
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def summary(name: str, runs: list[float]) -> dict[str, Any]:
    """One command's row: every run, min / median / max; printed as the table's line."""
    row = {
        "runs": [round(s, 3) for s in runs],
        "min": round(min(runs), 3),
        "median": round(statistics.median(runs), 3),
        "max": round(max(runs), 3),
    }
    print(f"{name:<20} {row['min']:>7.2f} {row['median']:>7.2f} {row['max']:>7.2f}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="an existing index (default: the sample)")
    parser.add_argument(
        "--no-server", action="store_true", help="skip `ask` with `assistant serve` running"
    )
    parser.add_argument(
        "--commands",
        nargs="+",
        choices=list(COMMANDS),
        default=list(COMMANDS),
        metavar="COMMAND",
        help=f"only these (default: all of {', '.join(repr(c) for c in COMMANDS)})",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "startup.json")
    args = parser.parse_args()
    with_ask = "ask" in args.commands

    tmp = tempfile.TemporaryDirectory(prefix="startup-")
    data = args.data_dir or Path(tmp.name) / "data"
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    if args.data_dir is None:
        sample = ROOT / "assistant" / "samples"
        subprocess.run(
            [sys.executable, "-m", "assistant", "ingest", str(sample)],
            env=env,
            check=True,
            capture_output=True,
        )
    load_before = os.getloadavg()
    rows: dict[str, dict[str, Any]] = {}
    print(f"{'command':<20} {'min':>7} {'median':>7} {'max':>7}   (seconds, {args.runs} runs)")
    for name in args.commands:
        cmd, stdin = COMMANDS[name]
        rows[name] = summary(name, [timed(cmd, stdin, env) for _ in range(args.runs)])
    if with_ask and not args.no_server:
        name = "ask (server running)"
        with running_server(env):
            rows[name] = summary(
                name, [timed(COMMANDS["ask"][0], None, env) for _ in range(args.runs)]
            )
    steps = phases(env) if with_ask else {}
    if steps:
        print("\nwhere a cold `ask` spends its time (one process):")
    for name, seconds in steps.items():
        print(f"  {name:<45} {seconds:>6.2f}")
    report = {
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": args.runs,
        "data_dir": str(args.data_dir) if args.data_dir else "temporary, the built-in sample",
        "commands": rows,
        "ask_phases": steps,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average before {report['load_average_before']}, after "
          f"{report['load_average_after']}; JSON in {args.out}")  # fmt: skip
    tmp.cleanup()


if __name__ == "__main__":
    main()
