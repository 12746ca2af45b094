"""The reader's int8 sentence model (``reader_int8``): the checked int8 quantisation of the
fp32 export (index/onnx_exports.py; how it is made and checked: tests/test_onnx_exports.py),
used by default when the export is there, and left alone (the index's own embedder answers)
when it cannot be made."""

from __future__ import annotations

from pathlib import Path

from conftest import SAMPLE, copy_export

from assistant import Assistant, components
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.reader import EmbedderEncoder
from assistant.settings import Settings
from index.embeddings import SentenceTransformerEmbedder
from index.light import INT8_FILE, OnnxEmbedder

QUESTION = "How many Guard members were deployed?"


def test_the_reader_runs_int8_by_default_and_the_index_model_when_asked(
    tmp_path: Path, exported: tuple[SentenceTransformerEmbedder, Path]
) -> None:
    full, fp32 = exported
    cache = tmp_path / "cache"
    settings = Settings.load(data_dir=tmp_path / "data", cache_dir=cache)
    # no export in this cache yet: the reader keeps the model it was given
    assert components.embedders(settings).reader(full) is full
    copy_export(fp32, full.path, cache)
    chosen = components.embedders(settings).reader(full)
    assert isinstance(chosen, OnnxEmbedder) and chosen.path.name == INT8_FILE
    off = settings.model_copy(update={"reader_int8": False})
    assert components.embedders(off).reader(full) is full
    torch = settings.model_copy(update={"query_engine": "torch"})
    assert components.embedders(torch).reader(full) is full
    e5 = settings.model_copy(update={"sentence_encoder": "e5"})
    assert components.embedders(e5).reader(full) is full  # the e5 reader never uses it

    data = tmp_path / "data"
    a = Assistant.from_settings(settings)
    a.library.ingest_paths([SAMPLE])
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
