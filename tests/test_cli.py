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
from typing import Any

import pytest
from answer_samples import AS_OF, FIRST, SECOND, VOLCANO_Q, doubled_answer, volcano_articles
from conftest import FIXTURES, ROOT, SAMPLE, corpus_rows, index_state, write_jsonl
from typer.testing import CliRunner

from assistant import Assistant, components
from assistant.faces.cli import app
from assistant.faces.cli.ask import print_answer
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
    assert Assistant.open_library(settings).ensure_sample() == 1
    assert Assistant.open_library(settings).ensure_sample() == 0
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


# -- ask and chat -----------------------------------------------------------------------


def _as_of_index(tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "volcanoes.jsonl", volcano_articles())
    code, out = _run("ingest", str(dump))
    assert code == 0, out


def _ask_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["ask", *args, "--json"])
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)  # stderr has the loading line
    return answer


def test_ask_as_of_leaves_out_later_articles(data_env: Path, tmp_path: Path) -> None:
    _as_of_index(tmp_path)
    assert "kilauea-jun" in {p["article_id"] for p in _ask_json(VOLCANO_Q)["passages"]}

    got = _ask_json(VOLCANO_Q, "--as-of", AS_OF)
    ids = {p["article_id"] for p in got["passages"]}
    assert "kilauea-jun" not in ids
    assert {"etna-feb", "stromboli-undated"} <= ids  # undated articles stay eligible
    cited = {c["article_id"] for c in got["citations"]}
    # the reader may refuse this bare question; either way nothing of June is used
    assert "kilauea-jun" not in cited and "Kilauea" not in got["answer"]


def test_sources_list_each_cited_article_once(capsys: pytest.CaptureFixture[str]) -> None:
    print_answer(doubled_answer())
    out = capsys.readouterr().out
    sources = out.split("Sources", 1)[1]
    assert sources.count("[1]") == 1 and "Chipotle raises prices" in sources
    assert FIRST in sources and SECOND in sources  # both quotes, under the one entry


def test_ask_says_it_is_loading_and_prints_sources(data_env: Path) -> None:
    """A cold `ask` as a whole process: a line on stderr while the model loads, then the
    answer and its numbered sources on stdout."""
    assert Assistant.open_library(Settings.load()).ensure_sample() == 1
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "How many Guard members were deployed?"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "loading the embedding model" in done.stderr
    assert "2,000" in done.stdout and "[1]" in done.stdout.split("Sources", 1)[1]


def test_llm_misconfiguration_is_reported_before_loading_anything(
    data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Assistant.open_library(Settings.load()).ensure_sample() == 1
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ASSISTANT_ANSWERER": "llm"}
    env.pop("ASSISTANT_LLM_MODEL", None)
    command = [sys.executable, "-X", "importtime", "-m", "assistant", "ask", "Who?"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "needs ASSISTANT_LLM_MODEL" in done.stderr
    assert "loading the embedding model" not in done.stderr
    assert not _imported(done.stderr, "torch")

    env.update(ASSISTANT_LLM_MODEL="m", ASSISTANT_LLM_BASE_URL="ftp://nowhere")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "not an http(s) URL" in done.stderr
    assert not _imported(done.stderr, "torch")


def _imported(importtime: str, module: str) -> bool:
    """Whether ``python -X importtime`` output shows ``module`` imported."""
    return any(line.rsplit("|", 1)[-1].strip() == module for line in importtime.splitlines())


def _cold(args: list[str]) -> subprocess.CompletedProcess[str]:
    """``python -X importtime -m assistant *args`` in a fresh process (imports on stderr)."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assistant", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_record_commands_do_not_import_torch(data_env: Path) -> None:
    assert Assistant.open_library(Settings.load()).ensure_sample() == 1
    for args in (["stats"], ["articles", "list"]):
        done = _cold(args)
        assert done.returncode == 0, done.stderr
        assert not _imported(done.stderr, "torch"), args
        assert not _imported(done.stderr, "llama_index.core"), args


def test_stats_and_list_answer_as_chromadb_without_importing_it(data_env: Path) -> None:
    """A cold `stats` or `articles list` on an embedded index reads Chroma's file
    (index/chroma_file.py) and prints what the store opened through chromadb gives."""
    assert Assistant.open_library(Settings.load()).ensure_sample() == 1
    assert _run("ingest", str(FIXTURES / "articles"))[0] == 0
    printed = {}
    for args in (["stats", "--json"], ["articles", "list", "--json"], ["stats"]):
        done = _cold(args)
        assert done.returncode == 0, done.stderr
        assert not _imported(done.stderr, "chromadb"), args
        printed[" ".join(args)] = done.stdout
    store = components.store(Settings.load(), load_model=False)  # through chromadb
    stats = {**vars(store.stats()), "collection": store.name, "location": str(data_env)}
    expected = json.dumps(stats, indent=2, ensure_ascii=False, default=str) + "\n"
    assert printed["stats --json"] == expected
    listed = [r.model_dump(mode="json", exclude={"text"}) for r in store.list_articles()]
    assert json.loads(printed["articles list --json"]) == listed
    assert "articles: 7   chunks: " in printed["stats"]


def test_chat_ignores_empty_lines_and_quits_on_quit(data_env: Path) -> None:
    assert Assistant.open_library(Settings.load()).ensure_sample() == 1
    assert "/quit" in _run("chat", "--help")[1]
    result = runner.invoke(app, ["chat"], input="\nHow many Guard members were deployed?\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "2,000" in result.output  # the empty line did not end the chat
