"""Embedding precision: auto's choice and its fp32 fallback, the int8 ONNX path, queries on
the same path as documents, and what the index records."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SAMPLE
from typer.testing import CliRunner

from assistant import Assistant
from assistant.faces.cli import app
from assistant.settings import Settings
from index.bf16_compile import COMPILE_AFTER_ROWS
from index.chroma_client import make_client
from index.embeddings import SentenceTransformerEmbedder
from index.errors import ConfigError
from index.precision import cpu_flags, native_candidates
from index.precision_choice import Encoding
from index.store import ChromaStore

TEXTS = [
    "How many Guard members were deployed?",
    "The city council approved the budget after a long debate on Tuesday night, with "
    "several members objecting to cuts in library hours and park maintenance.",
    "Shares fell sharply.",
]


@pytest.fixture(scope="module")
def bf16() -> SentenceTransformerEmbedder:
    # flags given, so the test means the same on any CPU (bf16 is emulated where not native)
    return SentenceTransformerEmbedder(precision="auto", flags={"avx512_bf16"})


def test_native_candidates_follow_the_cpu_flags() -> None:
    assert native_candidates({"avx2"}) == []
    assert native_candidates({"avx2", "avx512_vnni"}) == ["int8"]
    assert native_candidates({"avx512_bf16", "avx512_vnni"}) == ["bf16", "int8"]
    assert native_candidates({"amx_bf16"}) == ["bf16"]
    assert isinstance(cpu_flags(), set)


def test_auto_picks_bf16_when_it_agrees_with_fp32(
    bf16: SentenceTransformerEmbedder, embedder: SentenceTransformerEmbedder
) -> None:
    assert bf16.requested == "auto" and bf16.precision == "bf16"
    [cal] = bf16.calibration
    assert cal.precision == "bf16" and cal.passed and cal.mean_cosine >= 0.99
    cos = np.sum(bf16.embed_documents(TEXTS) * embedder.embed_documents(TEXTS), axis=1)
    assert cos.min() > 0.999
    assert np.allclose(np.linalg.norm(bf16.embed_documents(TEXTS), axis=1), 1.0, atol=1e-5)


def test_auto_without_native_paths_is_fp32() -> None:
    emb = SentenceTransformerEmbedder(precision="auto", flags={"avx2", "sse4_2"})
    assert emb.precision == "fp32" and emb.calibration == []


def test_auto_falls_back_to_fp32_when_calibration_fails(
    caplog: pytest.LogCaptureFixture, embedder: SentenceTransformerEmbedder
) -> None:
    # a real calibration run, against a bar no other path can clear
    with caplog.at_level(logging.WARNING, logger="index.precision_choice"):
        emb = SentenceTransformerEmbedder(precision="auto", flags={"avx512_bf16"}, threshold=1.01)
    [cal] = emb.calibration
    assert cal.precision == "bf16" and not cal.passed and 0.99 < cal.mean_cosine <= 1.0
    assert emb.precision == "fp32"
    assert "using fp32" in caplog.text
    # and it really embeds in fp32: the same vectors as the fp32 model
    assert np.array_equal(emb.embed_documents(TEXTS), embedder.embed_documents(TEXTS))


def test_queries_go_through_the_chosen_path(
    bf16: SentenceTransformerEmbedder, embedder: SentenceTransformerEmbedder
) -> None:
    calls: list[tuple[int, int]] = []
    forward = bf16.encoding.forward
    assert forward is not None

    def spy(inputs: dict[str, np.ndarray]) -> np.ndarray:
        calls.append(inputs["input_ids"].shape)
        return forward(inputs)

    bf16.encoding.forward = spy
    try:
        query = bf16.embed_query(TEXTS[0])
    finally:
        bf16.encoding.forward = forward
    assert len(calls) == 1 and calls[0][0] == 1
    assert np.array_equal(query, bf16.embed_documents([TEXTS[0]])[0])
    reference = embedder.embed_query(TEXTS[0])
    assert not np.array_equal(query, reference)  # bf16, not fp32 ...
    assert float(query @ reference) > 0.999  # ... and in agreement


def test_int8_is_exported_once_and_agrees(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    emb = SentenceTransformerEmbedder(precision="int8", cache_dir=tmp_path / "cache")
    assert emb.precision == "int8"
    # the one int8 file: quantised from the checked fp32 export (index/onnx_exports.py)
    [exported] = list((tmp_path / "cache").rglob("model-int8.onnx"))
    assert exported == emb.exports.kept(emb.exports.int8)
    cos = np.sum(emb.embed_documents(TEXTS) * embedder.embed_documents(TEXTS), axis=1)
    assert cos.mean() >= 0.98
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.onnx")}
    assert sorted(p.name for p in stamps) == ["model-fp32.onnx", "model-int8.onnx"]
    again = SentenceTransformerEmbedder(precision="int8", cache_dir=tmp_path / "cache")
    assert again.precision == "int8"
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.onnx")} == stamps


def test_bad_precision_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_EMBED_PRECISION", "fp16")
    with pytest.raises(ConfigError, match="embed_precision"):
        Settings.load()
    with pytest.raises(ConfigError, match="not one of"):
        SentenceTransformerEmbedder(precision="fp16")


def test_index_records_precision_and_allows_another_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(tmp_path / "data")
    model = "sentence-transformers/all-MiniLM-L6-v2"
    built = ChromaStore(client, "prec", model, 384, precision="bf16")
    assert built.chunks.metadata["embedding_precision"] == "bf16"
    assert built.stats().precision == "bf16"
    with caplog.at_level(logging.INFO, logger="index.collections"):
        reopened = ChromaStore(client, "prec", model, 384, precision="fp32")
    assert reopened.built_precision == "bf16" and reopened.precision == "fp32"
    assert "built with bf16 embeddings" in caplog.text
    assert reopened.chunks.metadata["embedding_precision"] == "bf16"  # not rewritten


def test_index_without_a_recorded_precision_was_fp32_and_is_not_rewritten(
    tmp_path: Path,
) -> None:
    client = make_client(tmp_path / "data")
    model = "sentence-transformers/all-MiniLM-L6-v2"
    ChromaStore(client, "old-index", model, 384)  # as built before precisions existed
    before = dict(client.get_collection("old-index").metadata)
    assert "embedding_precision" not in before
    store = ChromaStore(client, "old-index", model, 384, precision="bf16")
    assert store.built_precision == "fp32" and store.stats().precision == "fp32"
    assert dict(client.get_collection("old-index").metadata) == before


def test_other_model_is_an_error_that_says_how_to_reindex(tmp_path: Path) -> None:
    client = make_client(tmp_path / "data")
    ChromaStore(client, "news", "sentence-transformers/all-MiniLM-L6-v2", 384, precision="fp32")
    with pytest.raises(ConfigError) as err:
        ChromaStore(client, "news", "BAAI/bge-small-en-v1.5", 384, precision="fp32")
    message = str(err.value)
    assert "all-MiniLM-L6-v2" in message and "bge-small" in message
    assert "ASSISTANT_EMBED_MODEL=" in message
    assert "assistant ingest PATH --collection NEW" in message


def test_assistant_ingests_and_answers_in_bf16(
    data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_EMBED_PRECISION", "bf16")
    result = CliRunner().invoke(app, ["ingest", str(SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["precision"] == "bf16"
    result = CliRunner().invoke(app, ["ingest", str(SAMPLE)])
    assert "bf16 embeddings" in result.output and "unchanged 1" in result.output

    asst = Assistant.from_settings()
    assert asst.retriever.embedder is asst.ingestor.embedder
    assert asst.ingestor.embedder.precision == "bf16"
    assert asst.library.stats().precision == "bf16"
    answer = asst.ask("How many Guard members were deployed?")
    assert answer.short_answer and "2,000" in answer.short_answer


@pytest.mark.slow
def test_big_bf16_batches_switch_to_a_compiled_model_queries_stay_eager() -> None:
    emb = SentenceTransformerEmbedder(precision="bf16", compile=True)
    eager = emb.embed_documents(TEXTS)
    assert emb.compiler.compiled is None  # a few texts: no compile started
    emb.embed_documents([f"story number {i} about the port" for i in range(COMPILE_AFTER_ROWS)])
    assert emb.compiler.thread is not None
    emb.compiler.thread.join(timeout=900)
    if not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
        # inductor needs a C++ compiler; without one the embedder must simply stay eager
        assert emb.compiler.compiled is None
        assert np.array_equal(emb.embed_documents(TEXTS), eager)
        return
    assert emb.compiler.compiled is not None, "the compiled model never became ready"
    calls: list[int] = []
    compiled = emb.compiler.compiled

    def spy(inputs: dict[str, np.ndarray]) -> np.ndarray:
        calls.append(inputs["input_ids"].shape[0])
        return compiled(inputs)

    emb.compiler.compiled = spy
    vectors = emb.embed_documents(TEXTS)
    assert calls == [len(TEXTS)]
    assert np.sum(vectors * eager, axis=1).min() > 0.9999
    emb.embed_query(TEXTS[0])
    assert calls == [len(TEXTS)]  # the query ran eager


def test_the_calibration_is_remembered_per_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start-up cost paid once: the second embedder takes the remembered choice without
    encoding the calibration batch again."""
    first = SentenceTransformerEmbedder(precision="auto", cache_dir=tmp_path)
    assert (tmp_path / "calibration.json").is_file()

    def no_calibration(self: Encoding, texts: list[str]) -> Any:
        raise AssertionError("calibrated again")

    monkeypatch.setattr(Encoding, "encode_fp32", no_calibration)
    again = SentenceTransformerEmbedder(precision="auto", cache_dir=tmp_path)
    assert again.precision == first.precision and again.calibration == first.calibration
    if again.precision != "fp32":
        assert np.allclose(again.embed_query("a test"), first.embed_query("a test"), atol=1e-3)
