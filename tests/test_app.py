"""`python app.py` on an empty data dir: ingests the sample and serves on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, free_port


def test_app_starts_on_an_empty_index_and_finds_the_sample(tmp_path: Path) -> None:
    from gradio_client import Client

    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_UI_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "app.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "app.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.5)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        html = client.predict("How many Guard members were deployed?", 3, api_name="/search")
        assert "deploy 2,000 National Guard members" in html
        assert "Tensions escalated in Los Angeles" in html
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_article_markup_is_shown_as_text() -> None:
    from assistant.ui import _render
    from index.store import ChunkHit

    hit = ChunkHit(
        "x:1:0",
        'Body <img src=x onerror="alert(1)"> text',
        {
            "title": "<script>alert('t')</script>",
            "source": "<b>x</b>",
            "url": "javascript:alert(1)",
        },
        0.5,
    )
    html = _render([hit])
    assert "<script>" not in html and "<img" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html
    assert "javascript:" not in html
