"""What leaves the process must not carry secrets (issue 15 item 11): an evaluation report
shared with colleagues holds the settings, but never a password embedded in a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_jsonl

from assistant import Assistant
from assistant.evaluation import evaluate
from assistant.evaluation.report import redact


def test_redact_replaces_url_credentials_everywhere() -> None:
    given = {
        "settings": {"llm_base_url": "http://user:secret@llm.example:8080/v1", "k": 5},
        "run": {"command": "assistant eval q.jsonl --llm-base-url https://tok3n@h.example/v1"},
        "notes": ["see http://plain.example/path", "ftp://a:b@c.example"],
    }
    out = redact(given)
    assert out["settings"] == {"llm_base_url": "http://***@llm.example:8080/v1", "k": 5}
    assert out["run"]["command"].endswith("--llm-base-url https://***@h.example/v1")
    assert out["notes"] == ["see http://plain.example/path", "ftp://***@c.example"]


def test_eval_report_keeps_no_credentials(
    data_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", "http://user:secret@127.0.0.1:9/v1")
    asst = Assistant.from_settings()
    assert asst.library.ensure_sample() == 1
    qfile = write_jsonl(
        tmp_path / "q.jsonl",
        [{"question": "How many Guard members were deployed?", "answer": "2,000"}],
    )
    report = evaluate(asst, qfile, tmp_path / "run")
    for name in ("report.json", "report.md"):
        assert "secret" not in (tmp_path / "run" / name).read_text(), name
    assert report["settings"]["llm_base_url"] == "http://***@127.0.0.1:9/v1"
