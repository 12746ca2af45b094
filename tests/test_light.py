"""The light query path (index/light.py): the fp32 ONNX export agrees with torch, serves the
reader's sentences and the chunker's token counts, and a cold ``ask`` runs without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import ROOT, SAMPLE, copy_export, sample_sentences

from index.embeddings import SentenceTransformerEmbedder
from index.light import LIGHT_MAX_ROWS, OnnxEmbedder, light_config, load_light
from index.sentence_model import resolve_model

QUESTION = "How many Guard members were deployed?"
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn")


def test_light_vectors_agree_with_torch_fp32(
    exported: tuple[SentenceTransformerEmbedder, Path],
) -> None:
    full, path = exported
    light = load_light(full.name, full.path, path)
    assert isinstance(light, OnnxEmbedder)
    sentences = sample_sentences(24)
    texts = [QUESTION, *sentences, " ".join(sentences)]  # the last one is truncated
    reference = full.embed_documents(texts)
    ours = light.embed_documents(texts)
    assert ours.shape == reference.shape and ours.dtype == np.float32
    assert np.min(np.sum(reference * ours, axis=1)) >= 0.999
    assert float(light.embed_query(QUESTION) @ full.embed_query(QUESTION)) >= 0.999
    assert light.token_offsets(texts) == full.token_offsets(texts)
    assert light.count_tokens(texts) == full.count_tokens(texts)
    assert (light.dimension, light.max_tokens) == (full.dimension, full.max_tokens)


def test_long_document_lists_go_to_the_full_model(
    exported: tuple[SentenceTransformerEmbedder, Path],
) -> None:
    full, path = exported
    light = load_light(full.name, full.path, path, heavy=lambda: full)
    assert light is not None
    texts = [f"sentence number {i}" for i in range(LIGHT_MAX_ROWS + 1)]
    assert np.array_equal(light.embed_documents(texts), full.embed_documents(texts))


def test_only_mean_pooling_models_qualify(tmp_path: Path) -> None:
    model = Path(resolve_model("all-MiniLM-L6-v2"))
    assert light_config(str(model)) is not None
    other = tmp_path / "cls-model"
    other.mkdir()
    for name in ("modules.json", "sentence_bert_config.json", "tokenizer.json"):
        (other / name).write_bytes((model / name).read_bytes())
    (other / "1_Pooling").mkdir()
    pooling = json.loads((model / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (other / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert light_config(str(other)) is None
    assert load_light("x", str(other), tmp_path / "missing.onnx") is None


# `python -m assistant ask …` that also writes the names of the modules imported at exit
_DUMPING = """
import atexit, json, runpy, sys
out = sys.argv[1]
def dump():
    with open(out, "w") as fh:
        json.dump(sorted(k for k, v in sys.modules.items() if v is not None), fh)
atexit.register(dump)
sys.argv = ["assistant", *sys.argv[2:]]
runpy.run_module("assistant", run_name="__main__")
"""


def _ask(env: dict[str, str], modules: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _DUMPING, str(modules), "ask", QUESTION, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def test_cold_ask_runs_without_torch_and_answers_as_torch_does(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_DATA_DIR=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT),
    )
    # ingest loads torch anyway and leaves the checked export behind for later questions
    subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(SAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    assert list((tmp_path / "cache").rglob("model-fp32.onnx"))
    assert list((tmp_path / "cache").rglob("model-int8.onnx"))  # the reader's copy, made once
    light = _ask(env, tmp_path / "light.json")
    assert light.returncode == 0, light.stderr
    imported = {name.split(".")[0] for name in json.loads((tmp_path / "light.json").read_text())}
    assert "onnxruntime" in imported and "spacy" in imported  # the light path, the reader
    assert not imported & set(HEAVY)
    torch = _ask({**env, "ASSISTANT_QUERY_ENGINE": "torch"}, tmp_path / "torch.json")
    assert torch.returncode == 0, torch.stderr
    assert "torch" in json.loads((tmp_path / "torch.json").read_text())
    ours, theirs = json.loads(light.stdout), json.loads(torch.stdout)
    assert "2,000" in ours["answer"]
    assert ours["answer"] == theirs["answer"]
    assert ours["citations"] == theirs["citations"]


def test_a_broken_export_falls_back_to_torch_and_is_written_anew(
    tmp_path: Path, exported: tuple[SentenceTransformerEmbedder, Path]
) -> None:
    from assistant import components
    from assistant.settings import Settings

    full, checked = exported
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    broken = copy_export(checked, full.path, tmp_path / "cache").fp32
    broken.write_bytes(b"not an ONNX model")  # a kept export that no longer reads
    model = components.embedders(settings).query()
    assert isinstance(model, SentenceTransformerEmbedder)
    assert broken.is_file() and broken.read_bytes() != b"not an ONNX model"  # exported anew
    again = components.embedders(settings).query()
    assert isinstance(again, OnnxEmbedder)
    assert float(again.embed_query(QUESTION) @ full.embed_query(QUESTION)) >= 0.999
    torch = components.embedders(settings.model_copy(update={"query_engine": "torch"})).query()
    assert isinstance(torch, SentenceTransformerEmbedder)
