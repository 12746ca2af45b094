"""The one owner of the ONNX exports (index/onnx_exports.py): the int8 quantisation is made
once from the checked fp32 export, checked before it is kept, and a failed check leaves a
marker and no model file, which no later process (the reader, ``embed_precision``) uses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_export, sample_sentences

import index.onnx_exports as owner
from assistant import components
from assistant.answering.reader import EmbedderEncoder
from assistant.settings import Settings
from index.embeddings import SentenceTransformerEmbedder
from index.errors import ConfigError
from index.light import INT8_FILE, LIGHT_FILE, OnnxEmbedder, load_light
from index.onnx_exports import CHECKED, REJECTED
from index.precision import export_fp32

QUESTION = "How many Guard members were deployed?"


def test_int8_is_made_once_from_the_checked_export_and_agrees_with_it(
    exported: tuple[SentenceTransformerEmbedder, Path],
) -> None:
    full, fp32 = exported
    path = full.exports.ensure_int8()
    assert path == fp32.with_name(INT8_FILE) and path.is_file()
    assert path.stat().st_size < fp32.stat().st_size / 2  # int8 weights, not a copy
    record = json.loads(path.with_name(INT8_FILE + CHECKED).read_text())
    assert record["precision"] == "int8" and record["passed"] is True
    made = path.stat().st_mtime_ns
    assert full.exports.ensure_int8() == path and path.stat().st_mtime_ns == made
    int8, ref = load_light(full.name, full.path, path), load_light(full.name, full.path, fp32)
    assert isinstance(int8, OnnxEmbedder) and isinstance(ref, OnnxEmbedder)
    sentences = sample_sentences(20)
    texts = [QUESTION, *sentences]
    cos = np.sum(int8.embed_documents(texts) * ref.embed_documents(texts), axis=1)
    assert float(np.mean(cos)) >= 0.99 and float(np.min(cos)) >= 0.95
    # the reader's ranking signal survives: the answering sentence is the most similar one
    sims = EmbedderEncoder(int8).similarity(QUESTION, sentences)
    assert "2,000" in sentences[int(np.argmax(sims))]


def test_a_failed_calibration_leaves_a_marker_and_no_file_anyone_trusts(
    tmp_path: Path,
    exported: tuple[SentenceTransformerEmbedder, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    full, fp32 = exported
    cache = tmp_path / "cache"
    exports = copy_export(fp32, full.path, cache)
    monkeypatch.setattr(owner, "MIN_MEAN_COSINE", 1.01)  # nothing can pass
    assert exports.ensure_int8() is None
    # nothing but the fp32 export, its record and the marker: no model, no half-written file
    assert sorted(p.name for p in exports.folder.iterdir()) == sorted(
        [LIGHT_FILE, LIGHT_FILE + CHECKED, INT8_FILE + REJECTED]
    )
    rejected = exports.rejection(exports.int8)
    assert rejected is not None and not rejected.passed and 0.9 < rejected.mean_cosine < 1.01
    monkeypatch.undo()

    def no_quantising(*args: object) -> None:
        raise AssertionError("quantised again")

    monkeypatch.setattr(owner, "quantize_int8", no_quantising)
    assert exports.ensure_int8() is None  # not quantised again at every start
    # later processes: the reader keeps the index's model ...
    settings = Settings.load(data_dir=tmp_path / "data", cache_dir=cache)
    assert components.embedders(settings).reader(full) is full
    # ... and int8 embeddings never run the rejected model, even when asked for by name
    with pytest.raises(ConfigError, match=r"embed_precision int8: no checked int8 model"):
        SentenceTransformerEmbedder(precision="int8", cache_dir=cache)
    auto = SentenceTransformerEmbedder(precision="auto", cache_dir=cache, flags={"avx512_vnni"})
    assert auto.precision == "fp32" and auto.calibration == [rejected]
    assert not exports.int8.exists()


def test_a_file_the_owner_did_not_check_is_made_anew(
    tmp_path: Path, exported: tuple[SentenceTransformerEmbedder, Path]
) -> None:
    """An int8 file with no record of a passed check (an older release wrote one before
    calibrating, and kept it when the calibration failed) is not used as it is."""
    full, fp32 = exported
    cache = tmp_path / "cache"
    exports = copy_export(fp32, full.path, cache)
    exports.int8.write_bytes(b"an unchecked model")
    settings = Settings.load(data_dir=tmp_path / "data", cache_dir=cache)
    reader = components.embedders(settings).reader(full)
    assert isinstance(reader, OnnxEmbedder) and reader.path == exports.int8
    assert exports.int8.read_bytes() != b"an unchecked model"
    assert exports.kept(exports.int8) == exports.int8


def test_a_disagreeing_fp32_export_is_not_kept_nor_made_again(
    tmp_path: Path,
    exported: tuple[SentenceTransformerEmbedder, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    full, _ = exported
    exports = owner.OnnxExports(full.path, tmp_path / "cache")
    calls: list[Path] = []

    def export(dest: Path) -> Path:
        calls.append(dest)
        return export_fp32(full.model[0].auto_model, full.model.tokenizer, dest)

    monkeypatch.setattr(owner, "MIN_AGREEMENT", 1.01)
    with caplog.at_level(logging.WARNING, logger="index.onnx_exports"):
        assert exports.ensure_fp32(export, full.encoding.encode_fp32) is None
    assert "not kept" in caplog.text and len(calls) == 1
    assert sorted(p.name for p in exports.folder.iterdir()) == [LIGHT_FILE + REJECTED]
    monkeypatch.undo()
    assert exports.ensure_fp32(export, full.encoding.encode_fp32) is None and len(calls) == 1
    assert exports.ensure_int8() is None  # nothing to quantise
