"""Unit tests of the one settings object: defaults, the ASSISTANT_ environment, the settings
file, which wins over which, and bad values reported as a ConfigError that names them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant import SECRET_FIELDS, ConfigError, Settings


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ASSISTANT_ variable of the caller's, and a working folder without assistant.toml."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults() -> None:
    s = Settings.load()
    assert (s.answerer, s.retrieval_mode, s.top_k, s.collection) == (
        "extractive",
        "hybrid",
        5,
        "news",
    )
    assert s.data_dir == Path("data") and s.chroma_host is None and s.api_token is None
    assert s.prompts_dir is None and s.cache_dir is None and s.llm_api_key is None


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "7")
    monkeypatch.setenv("ASSISTANT_PROMPTS_DIR", "/tmp/my-prompts")
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", "/tmp/cache")
    monkeypatch.setenv("ASSISTANT_FIELD_MAP", '{"text": "body"}')
    monkeypatch.setenv("ASSISTANT_CHROMA_HOST", "")  # set but empty: unset
    monkeypatch.setenv("TOP_K", "9")  # no prefix: not ours
    s = Settings.load()
    assert s.top_k == 7 and s.field_map == {"text": "body"} and s.chroma_host is None
    assert s.prompts_dir == Path("/tmp/my-prompts") and s.cache_dir == Path("/tmp/cache")


def test_openai_api_key_stands_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert Settings.load().llm_api_key.get_secret_value() == "sk-openai"  # type: ignore[union-attr]
    monkeypatch.setenv("ASSISTANT_LLM_API_KEY", "sk-ours")
    assert Settings.load().llm_api_key.get_secret_value() == "sk-ours"  # type: ignore[union-attr]


def test_settings_file_and_precedence(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "assistant.toml").write_text('top_k = 8\ncollection = "wire"\nrecency_days = 3\n')
    s = Settings.load()  # ./assistant.toml is read when present
    assert (s.top_k, s.collection, s.recency_days) == (8, "wire", 3.0)
    monkeypatch.setenv("ASSISTANT_TOP_K", "6")  # the environment beats the file
    assert Settings.load().top_k == 6
    assert Settings.load(top_k=4).top_k == 4  # and arguments beat both
    named = clean_env / "other.toml"
    named.write_text("top_k = 3\n")
    monkeypatch.delenv("ASSISTANT_TOP_K")
    monkeypatch.setenv("ASSISTANT_SETTINGS_FILE", str(named))
    assert Settings.load().top_k == 3 and Settings.load().collection == "news"
    monkeypatch.setenv("ASSISTANT_SETTINGS_FILE", str(clean_env / "missing.toml"))
    with pytest.raises(ConfigError, match="no such settings file"):
        Settings.load()


def test_secrets_only_from_the_environment(clean_env: Path) -> None:
    (clean_env / "assistant.toml").write_text('api_token = "t0ken"\n')
    with pytest.raises(ConfigError, match="ASSISTANT_API_TOKEN"):
        Settings.load()
    # and the docs of every secret say so, none that a settings file may hold it
    for name in SECRET_FIELDS:
        description = Settings.model_fields[name].description or ""
        assert f"from the environment only (ASSISTANT_{name.upper()}" in description, name
        (clean_env / "assistant.toml").write_text(f'{name} = "s3cret"\n')
        with pytest.raises(ConfigError, match=f"set ASSISTANT_{name.upper()} in the environment"):
            Settings.load()


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("ASSISTANT_TOP_K", "0", "top_k"),
        ("ASSISTANT_TOP_K", "many", "top_k"),
        ("ASSISTANT_RETRIEVAL_MODE", "fuzzy", "retrieval_mode"),
        ("ASSISTANT_REFUSE_BELOW", "1.5", "refuse_below"),
        ("ASSISTANT_LLM_UNSUPPORTED", "ignore", "llm_unsupported"),
        ("ASSISTANT_COLLECTION", "x", "collection"),
    ],
)
def test_bad_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"invalid settings: {problem}"):
        Settings.load()
