"""The reader's int8 sentence model (``reader_int8``, index/light.py ``int8_beside``): made
from the checked fp32 export without torch, agreeing with it, used by default when the export
is there, and left alone (the index's own embedder answers) when it cannot be made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE, sample_sentences

import index.light as light_module
from assistant import Assistant, components
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.reader import EmbedderEncoder
from assistant.settings import Settings
from index.embeddings import SentenceTransformerEmbedder
from index.light import INT8_FILE, OnnxEmbedder, fp32_model_path, int8_beside, load_light

QUESTION = "How many Guard members were deployed?"


def test_int8_is_made_once_beside_the_export_and_agrees_with_it(
    exported: tuple[SentenceTransformerEmbedder, Path],
) -> None:
    full, fp32 = exported
    path = int8_beside(fp32, full.path)
    assert path == fp32.with_name(INT8_FILE) and path.is_file()
    assert path.stat().st_size < fp32.stat().st_size / 2  # int8 weights, not a copy
    made = path.stat().st_mtime_ns
    assert int8_beside(fp32, full.path) == path and path.stat().st_mtime_ns == made
    int8, ref = load_light(full.name, full.path, path), load_light(full.name, full.path, fp32)
    assert isinstance(int8, OnnxEmbedder) and isinstance(ref, OnnxEmbedder)
    sentences = sample_sentences(20)
    texts = [QUESTION, *sentences]
    cos = np.sum(int8.embed_documents(texts) * ref.embed_documents(texts), axis=1)
    assert float(np.mean(cos)) >= 0.99 and float(np.min(cos)) >= 0.95
    # the reader's ranking signal survives: the answering sentence is the most similar one
    sims = EmbedderEncoder(int8).similarity(QUESTION, sentences)
    assert "2,000" in sentences[int(np.argmax(sims))]


def test_a_disagreeing_quantisation_is_rejected_once_and_for_all(
    tmp_path: Path,
    exported: tuple[SentenceTransformerEmbedder, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    full, fp32 = exported
    copy = tmp_path / "onnx-x" / fp32.name
    copy.parent.mkdir()
    copy.write_bytes(fp32.read_bytes())
    monkeypatch.setattr(light_module, "MIN_MEAN_COSINE", 1.01)  # nothing can pass
    assert int8_beside(copy, full.path) is None
    assert not copy.with_name(INT8_FILE).exists()
    assert copy.with_name(INT8_FILE + ".rejected").is_file()
    monkeypatch.undo()
    assert int8_beside(copy, full.path) is None  # not quantised again at every start
    assert int8_beside(tmp_path / "none" / fp32.name, full.path) is None  # no export at all


def test_the_reader_runs_int8_by_default_and_the_index_model_when_asked(
    tmp_path: Path, exported: tuple[SentenceTransformerEmbedder, Path]
) -> None:
    full, fp32 = exported
    cache = tmp_path / "cache"
    settings = Settings.load(data_dir=tmp_path / "data", cache_dir=cache)
    # no export in this cache yet: the reader keeps the model it was given
    assert components.reader_embedder(settings, full) is full
    target = fp32_model_path(full.path, cache)
    target.parent.mkdir(parents=True)
    target.write_bytes(fp32.read_bytes())
    chosen = components.reader_embedder(settings, full)
    assert isinstance(chosen, OnnxEmbedder) and chosen.path.name == INT8_FILE
    off = settings.model_copy(update={"reader_int8": False})
    assert components.reader_embedder(off, full) is full
    torch = settings.model_copy(update={"query_engine": "torch"})
    assert components.reader_embedder(torch, full) is full
    e5 = settings.model_copy(update={"sentence_encoder": "e5"})
    assert components.reader_embedder(e5, full) is full  # the e5 reader never uses it

    data = tmp_path / "data"
    a = Assistant.from_settings(settings)
    a.ingest_paths([SAMPLE])
    assert isinstance(a.answerer, ExtractiveAnswerer)
    encoder = a.answerer.reader.encoder
    assert isinstance(encoder, EmbedderEncoder) and isinstance(encoder.embedder, OnnxEmbedder)
    assert encoder.embedder.path.name == INT8_FILE
    answer = a.ask(QUESTION)
    assert answer.short_answer == "2,000" and len(answer.citations) == 1
    assert "2,000" in answer.citations[0].quote
    b = Assistant.from_settings(Settings.load(data_dir=data, cache_dir=cache, reader_int8=False))
    assert isinstance(b.answerer, ExtractiveAnswerer)
    index_model = b.answerer.reader.encoder.embedder  # type: ignore[attr-defined]
    assert index_model is b.retriever.embedder  # the light fp32 query model
    assert isinstance(index_model, OnnxEmbedder) and index_model.path.name != INT8_FILE
    assert b.ask(QUESTION).short_answer == "2,000"


def test_the_weights_are_signed_only_where_the_cpu_multiplies_them_without_saturating() -> None:
    from index.precision import int8_weight_type

    assert int8_weight_type({"avx2", "avx512_vnni"}) == "QInt8"
    assert int8_weight_type({"avx2", "avx_vnni"}) == "QInt8"
    assert int8_weight_type({"avx2", "fma"}) == "QUInt8"  # VPMADDUBSW would saturate
    assert int8_weight_type(set()) == "QUInt8"
