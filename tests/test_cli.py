"""The command line, in-process (shared model) and as the real console script."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, SAMPLE, corpus_rows, index_state, write_jsonl
from typer.testing import CliRunner

from assistant import components
from assistant.cli import app
from assistant.settings import Settings
from index.errors import ConfigError
from index.loaders import load_path

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_ingest_list_show_delete_stats(data_env: Path) -> None:
    code, out = _run("ingest", str(FIXTURES / "articles"), str(SAMPLE))
    assert code == 0, out
    assert "new 7, updated 0, unchanged 0, failed 0" in out
    assert "skipped" in out and "notes.pdf" in out

    code, out = _run("ingest", str(FIXTURES / "articles"), str(SAMPLE))
    assert code == 0 and "new 0, updated 0, unchanged 7, failed 0" in out

    code, out = _run("articles", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed) == 7
    comet = next(r for r in listed if r["title"] == "Observatory spots new comet")

    code, out = _run("articles", "show", comet["id"])
    assert code == 0 and "Valley Observatory discovered a new comet" in out

    code, out = _run("stats", "--json")
    stats = json.loads(out)
    assert stats["articles"] == 7 and stats["sources"]["Harbor Daily"] == 2

    code, out = _run("articles", "delete", comet["id"])
    assert code == 0 and "deleted 1 of 1" in out
    code, out = _run("articles", "show", comet["id"])
    assert code == 1 and "no article" in out
    assert json.loads(_run("stats", "--json")[1])["articles"] == 6


def test_failures_give_exit_status_1_with_reasons(data_env: Path, tmp_path: Path) -> None:
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "ok.txt").write_text(SAMPLE.read_text())
    (bad / "lines.jsonl").write_text('{"title": "x", "text": "Fine text."}\n{oops\n')
    code, out = _run("ingest", str(bad))
    assert code == 1
    assert "new 2" in out and "failed 1" in out
    assert "lines.jsonl:2" in out and "malformed JSON" in out


def test_collection_option_and_field_map(data_env: Path, tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "x.jsonl", [{"headline": "H", "body": "Body of the story."}])
    code, out = _run("ingest", str(dump), "--collection", "other", "--field", "text=body")
    assert code == 0, out
    (record,) = json.loads(_run("articles", "list", "--json", "--collection", "other")[1])
    assert record["title"] == "H"
    assert json.loads(_run("articles", "list", "--json")[1]) == []


def test_settings_file_and_environment(data_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("assistant.toml").write_text('collection = "from-file"\nchunk_tokens = 128\n')
    assert Settings.load().collection == "from-file"
    assert Settings.load().chunk_tokens == 128
    monkeypatch.setenv("ASSISTANT_COLLECTION", "from-env")
    assert Settings.load().collection == "from-env"  # environment beats the file
    assert Settings.load().data_dir == data_env
    monkeypatch.setenv("ASSISTANT_CHUNK_TOKENS", "lots")
    with pytest.raises(ConfigError, match="chunk_tokens"):
        Settings.load()


def test_console_script_and_python_m(data_env: Path) -> None:
    exe = Path(sys.executable).parent / "assistant"
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_env)}
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=env, check=True)
    assert "ingest" in done.stdout and "articles" in done.stdout
    env["ASSISTANT_EMBED_MODEL"] = "/no/such/model"
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(SAMPLE)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    assert "error:" in done.stderr and "cannot load embedding model" in done.stderr
    assert "Traceback" not in done.stderr


def test_sample_is_ingested_once_on_an_empty_index(data_env: Path) -> None:
    settings = Settings.load()
    assert components.ensure_sample(settings) == 1
    assert components.ensure_sample(settings) == 0
    (record,) = components.store(settings).list_articles()
    assert record.title.startswith("Tensions escalated in Los Angeles")


def _ingest_state(data_dir: Path) -> tuple[dict[str, str], set[str], int]:
    return index_state(components.store(Settings.load(data_dir=data_dir)))


@pytest.mark.slow
def test_sigkill_half_way_then_rerun_matches_uninterrupted(data_env: Path, tmp_path: Path) -> None:
    """`kill -9` an ingest after some batches are stored, at a random moment inside the next
    one; the rerun must end in the same state as an uninterrupted run."""
    dump = write_jsonl(tmp_path / "slice.jsonl", corpus_rows(40, start=100))
    killed_dir = tmp_path / "killed"
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(killed_dir),
        "ASSISTANT_INGEST_BATCH_CHUNKS": "24",
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-m", "assistant", "-v", "ingest", str(dump)]
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT
    )
    assert proc.stderr is not None
    stored = 0
    deadline = time.monotonic() + 300
    while stored < 3 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        stored += "stored" in line
    assert stored == 3, "the ingest never got going"
    time.sleep(random.uniform(0.0, 0.8))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    hashes, _, _ = _ingest_state(killed_dir)
    assert 0 < len(hashes) < 40, "the kill was not half-way"

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    clean_dir = tmp_path / "clean"
    settings = Settings.load(data_dir=clean_dir, ingest_batch_chunks=24)
    report = components.ingestor(settings).ingest_paths([dump])
    assert report.ok and len(report.new) == 40

    assert _ingest_state(killed_dir) == _ingest_state(clean_dir)
    chunker = components.chunker(Settings.load())
    expected = {i.article.id: chunker.version(i.article) for i in load_path(dump) if i.article}
    assert _ingest_state(killed_dir)[0] == expected
    assert _ingest_state(killed_dir)[2] == 0
