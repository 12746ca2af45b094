"""The reader's cross-encoder (issue 23): the packaged int8 model and its card, what it
prefers, how the reader loads it, and the written editor-style question sets it learns from."""

from __future__ import annotations

import json
import sys
from collections import Counter

import pytest
from conftest import ROOT, require_shared

from assistant.answering.cross_encoder import load_scorer, packaged_model
from assistant.answering.model import load_model
from assistant.answering.reader import Reader
from index.errors import ConfigError

WRITTEN = ROOT / "bench" / "reader" / "written"


def _records(prefix: str) -> list[dict]:
    return [
        json.loads(x)
        for path in sorted(WRITTEN.glob(f"{prefix}-*.jsonl"))
        for x in path.read_text(encoding="utf-8").splitlines()
        if x
    ]


def test_packaged_cross_encoder_is_small_and_has_a_card() -> None:
    path = packaged_model()
    assert path is not None and path.stat().st_size <= 30_000_000
    card = path.with_name("reader-ce-card.md").read_text(encoding="utf-8")
    for must in ("python bench/reader/cross_encoder.py", "Data", "minutes", "top-1"):
        assert must in card


def test_cross_encoder_prefers_the_sentence_that_answers() -> None:
    scorer = load_scorer()
    assert scorer is not None
    title = "Trump orders National Guard to Los Angeles"
    rows = [
        (title, "Trump ordered 2,000 National Guard members deployed to Los Angeles.", ""),
        (title, "The protests began in response to immigration enforcement actions.", ""),
        (title, "Many community leaders voiced concern about the federal response.", ""),
    ]
    logits = scorer.logits("How many Guard members were deployed?", rows)
    assert logits.shape == (3,) and int(logits.argmax()) == 0
    # topic is not answer: a near miss scores below the sentence that states the fact
    where = scorer.logits(
        "Where is the former senator buried?",
        [
            ("Former senator dies at 91", "He was buried at Arlington National Cemetery.", ""),
            ("Former senator dies at 91", "Funeral arrangements are not yet known.", ""),
        ],
    )
    assert where[0] > where[1]


def test_a_question_longer_than_the_model_reads_is_cut_not_refused() -> None:
    scorer = load_scorer()
    assert scorer is not None
    rows = [("Guard to Los Angeles", "Trump ordered 2,000 Guard members deployed.", "")]
    long = "In the story about the protests in Los Angeles last week, " * 20 + "how many?"
    clipped = scorer.clip_question(long)
    assert long.startswith(clipped) and 100 < len(clipped) < len(long)
    assert scorer.logits(long, rows).shape == (1,)
    short = "How many Guard members were deployed?"
    assert scorer.clip_question(short) == short


def test_a_reader_model_fitted_on_it_needs_it() -> None:
    model = load_model()
    model.cross_encoder = True
    with pytest.raises(ConfigError, match="ASSISTANT_READER_CROSS_ENCODER"):
        Reader(model, encoder=None, cross=None)  # type: ignore[arg-type]


def test_written_sets_are_big_enough_and_split_by_article_and_week() -> None:
    train, dev = _records("train"), _records("dev")
    kinds = Counter(r["type"] for r in train + dev)
    assert kinds["detail"] >= 300 and kinds["nearmiss"] >= 150
    assert Counter(r["type"] for r in dev)["detail"] >= 100

    def articles(rs: list[dict]) -> set[str]:
        return {a for r in rs for a in [r.get("article_id"), *r.get("article_ids", [])] if a}

    assert not articles(train) & articles(dev)
    dev_dates = {r["date"] for r in dev}
    assert not {r["date"] for r in train} & dev_dates
    assert len({r["id"] for r in train + dev}) == len(train + dev)


@pytest.mark.slow
def test_written_sets_pass_their_checker() -> None:
    """Detail answers stand in their evidence sentence (not the lead); near misses' asked
    slot is stated in no article that names them."""
    require_shared()
    sys.path.insert(0, str(ROOT / "bench" / "reader"))
    from check_written import check  # type: ignore[import-not-found]

    seen: set[str] = set()
    problems = [p for r in _records("train") + _records("dev") for p in check(r, seen)]
    assert problems == []
