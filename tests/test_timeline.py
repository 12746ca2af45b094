"""Dated figures side by side: a story updated from 2,000 to 4,000 Guard members leads with
4,000 and its date, lists 2,000 as earlier, and keeps the two near copies apart; a "$2,000
fine" on the same story is no part of it (the CLI in-process, with the real model and Chroma).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from answer_samples import GUARD_Q
from conftest import write_jsonl
from fake_llm import OpenAIServer, source_with
from typer.testing import CliRunner

from assistant import Answer, AnswerStream, Dated, Passage, Settings
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.llm import LLMAnswerer
from assistant.faces.cli import app
from assistant.faces.present import answer_text, timeline_lines
from assistant.retrieval import _figures, _restates

runner = CliRunner()

# the June 8 article of the issue; the June 20 one is the same text with "4,000"
STORY = (
    "President Trump ordered {n} National Guard members to Los Angeles on Saturday after two "
    "days of protests over immigration raids. Governor Gavin Newsom called the deployment "
    "unlawful."
)
FINE = {
    "id": "guard-fine",
    "title": "Protester fined over Los Angeles blockade",
    "source": "Valley Times",
    "published": "2025-06-14",
    "text": "A judge ordered a protester to pay a $2,000 fine on Friday for blocking a convoy "
    "in Los Angeles. The protester said she would appeal.",
}


def _rows(fine: bool = False) -> list[dict[str, str]]:
    rows = [
        {
            "id": "guard-june8",
            "title": "Trump to deploy Guard in Los Angeles",
            "source": "Wire Service",
            "published": "2025-06-08",
            "text": STORY.format(n="2,000"),
        },
        {
            "id": "guard-june20",
            "title": "Trump to deploy Guard in Los Angeles",
            "source": "Wire Service",
            "published": "2025-06-20",
            "text": STORY.format(n="4,000"),
        },
    ]
    return rows + ([FINE] if fine else [])


def _ask(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["ask", GUARD_Q, "--json", "--no-server", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _ingest(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    result = runner.invoke(app, ["ingest", str(write_jsonl(tmp_path / "guard.jsonl", rows))])
    assert result.exit_code == 0, result.output


def test_updated_figures_are_not_copies() -> None:
    first, later = (_figures(STORY.format(n=n)) for n in ("2,000", "4,000"))
    assert _restates(first, later)
    # the same figures, or one more in a sentence only one chunk holds: still a copy
    assert not _restates(first, _figures(STORY.format(n="2,000")))
    assert not _restates(first, _figures(STORY.format(n="2,000") + " 12 were hurt."))


def test_the_latest_figure_leads_and_the_earlier_one_follows(
    data_env: Path, tmp_path: Path
) -> None:
    _ingest(tmp_path, _rows(fine=True))
    answer = _ask()
    lines = answer["answer"].splitlines()
    assert lines[0] == "4,000 (June 20, 2025) [1]", answer["answer"]
    assert lines[1] == "Earlier: 2,000 (June 8, 2025) [2]"
    assert answer["short_answer"] == "4,000"
    cited = {c["n"]: c for c in answer["citations"]}
    assert cited[1]["article_id"] == "guard-june20" and "4,000" in cited[1]["quote"]
    assert cited[2]["article_id"] == "guard-june8" and "2,000" in cited[2]["quote"]
    assert "guard-fine" not in {c["article_id"] for c in answer["citations"]}
    assert [
        (d["value"], d["date"][:10], d["cites"], d["article_ids"]) for d in answer["timeline"]
    ] == [
        ("4,000", "2025-06-20", [1], ["guard-june20"]),
        ("2,000", "2025-06-08", [2], ["guard-june8"]),
    ]
    # the near copies stay apart: neither hides the other as "also in"
    passages = {p["article_id"]: p for p in answer["passages"]}
    assert {"guard-june8", "guard-june20"} <= set(passages)
    assert all(not p["also_in"] for p in passages.values())
    assert all(not s["also_in"] for s in answer["sources"])


def test_as_of_uses_nothing_after_it(data_env: Path, tmp_path: Path) -> None:
    _ingest(tmp_path, _rows(fine=True))
    answer = _ask("--as-of", "2025-06-10")
    # the June 8 article alone (beside the fine): answered as before, with no later figure
    assert "2,000" in answer["answer"] and "4,000" not in answer["answer"], answer["answer"]
    assert "Earlier" not in answer["answer"] and answer["timeline"] == []
    assert {p["article_id"] for p in answer["passages"]} == {"guard-june8"}


def test_one_figure_is_no_timeline(data_env: Path, tmp_path: Path) -> None:
    _ingest(tmp_path, [_rows()[0], FINE])
    answer = _ask()
    assert "2,000" in answer["answer"] and "Earlier" not in answer["answer"], answer["answer"]
    assert answer["timeline"] == [] and "(June" not in answer["answer"]


def test_the_presenter_shows_the_timeline_once() -> None:
    when = datetime(2025, 6, 20, tzinfo=UTC)
    dated = [
        Dated(value="4,000", date=when, cites=[1], article_ids=["b"]),
        Dated(value="2,000", date=when.replace(day=8), cites=[2], article_ids=["a"]),
    ]
    lines = ["4,000 (June 20, 2025) [1]", "Earlier: 2,000 (June 8, 2025) [2]"]
    bare = Answer(question="q", answer="“…” [1]", timeline=dated)
    assert timeline_lines(bare) == lines
    carried = Answer(question="q", answer="\n".join([*lines, "", "“…” [1]"]), timeline=dated)
    assert timeline_lines(carried) == []
    assert timeline_lines(Answer(question="q", answer="2,000 [1]")) == []


CORRECTED = (
    STORY.format(n="2,000")
    + "\n\nCorrection: An earlier version of this story misstated the number of National Guard "
    "members deployed as 3,000."
)


def test_a_value_a_correction_replaces_never_leads(data_env: Path, tmp_path: Path) -> None:
    """The wire corrected its June 9 story (3,000 was wrong, 2,000 right); a paper's copy of
    the uncorrected version, printed June 10, still says 3,000. The newest statement is the
    wrong one: 2,000 leads, and the corrected article says so beside its citation."""
    rows = [
        {"id": "guard-fixed", "title": "Trump to deploy Guard in Los Angeles",
         "source": "Wire Service", "published": "2025-06-09", "text": CORRECTED},
        {"id": "guard-stale", "title": "Trump to deploy Guard in Los Angeles",
         "source": "Daily Paper", "published": "2025-06-10", "text": STORY.format(n="3,000")},
    ]  # fmt: skip
    _ingest(tmp_path, rows)
    answer = _ask()
    first = answer["answer"].splitlines()[0]
    assert "2,000" in first and "3,000" not in first, answer["answer"]
    assert answer["short_answer"] in (None, "2,000") and answer["timeline"] == []
    assert answer["citations"][0]["article_id"] == "guard-fixed"
    assert answer["citations"][0]["correction"]["replaced"] == ["3,000"]
    shown = runner.invoke(app, ["articles", "show", "guard-fixed", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["correction"]["replaced"] == ["3,000"]


def test_a_question_for_the_latest_value_leads_with_the_newest(
    data_env: Path, tmp_path: Path
) -> None:
    """The June 8 article is the fuller one on the question's words and ranks first; asked
    for the latest figure, the June 20 value leads all the same."""
    june8, june20 = _rows()
    more = (
        " The Guard members deployed to Los Angeles arrived Sunday; how many Guard members "
        "were deployed was set by the Pentagon."
    )
    june8 = {**june8, "text": june8["text"] + more}
    _ingest(tmp_path, [june8, june20])
    question = "What is the latest number of Guard members deployed?"
    result = runner.invoke(app, ["ask", question, "--json", "--no-server"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["answer"].splitlines()[0] == "4,000 (June 20, 2025) [1]", answer["answer"]
    assert [d["value"] for d in answer["timeline"]] == ["4,000", "2,000"]


def _guard_passages() -> list[Passage]:
    """The June 20 and June 8 articles as the retriever hands them over, newest first."""
    out = []
    for row in reversed(_rows()):
        text = row["text"]
        spans = [(m.start(), m.end()) for m in re.finditer(r"\S.*?[.!?](?=\s|$)", text)]
        when = datetime.fromisoformat(row["published"])
        out.append(Passage(chunk_id=f"{row['id']}:0", article_id=row["id"], title=row["title"],
                           source=row["source"], published=when, start=0, end=len(text),
                           text=text, sentences=spans, score=0.5))  # fmt: skip
    return out


def _llm(url: str) -> LLMAnswerer:
    s = Settings.load(answerer="llm", llm_backend="openai", llm_model="fake", llm_base_url=url)
    return LLMAnswerer.from_settings(s, ExtractiveAnswerer())


def test_the_language_model_answer_carries_the_dated_figures() -> None:
    """The model reads the passages' dates and writes the latest figure with its date; its
    answer carries the timeline (the earlier figure cited by its own passage number) and
    every face shows it from the one presenter. A figure given another passage's date is
    flagged."""
    passages = _guard_passages()
    with OpenAIServer() as server:

        def dated(messages: list[dict[str, Any]]) -> str:
            assert 'published="2025-06-20' in messages[-1]["content"]
            assert "give the latest first" in messages[0]["content"]  # two dates: the rule
            n = source_with(messages, "4,000")
            return (f"4,000 (June 20, 2025) [{n}]\n\n"
                    f"Trump ordered 4,000 Guard members to Los Angeles [{n}].")  # fmt: skip

        server.reply = dated
        answer = AnswerStream(_llm(server.url).stream(GUARD_Q, passages)).answer()
        assert answer.answerer == "llm" and answer.verification is not None
        assert answer.verification.outcome == "verified", answer.verification
        assert [(d.value, d.date.day, d.cites, d.article_ids) for d in answer.timeline] == [
            ("4,000", 20, [1], ["guard-june20"]),
            ("2,000", 8, [2], ["guard-june8"]),
        ]
        # the June 8 passage, which the model did not cite, is cited for its figure
        assert [c.n for c in answer.citations] == [1, 2]
        assert "2,000" in answer.citations[1].quote
        shown = answer_text(answer)
        assert shown.startswith("4,000 (June 20, 2025) [1]\nEarlier: 2,000 (June 8, 2025) [2]")
        assert shown.endswith(answer.answer)

        # one date: the rule stays out of the prompt (a small model answers worse with it)
        one_day = _llm(server.url).messages(GUARD_Q, passages[1:])
        assert "give the latest first" not in str(one_day[0].content)

        server.reply = lambda m: f"4,000 (June 8, 2025) [{source_with(m, '4,000')}]"
        wrong = AnswerStream(_llm(server.url).stream(GUARD_Q, passages)).answer()
        assert wrong.verification is not None and wrong.verification.outcome != "verified"
        assert "June 8, 2025" in wrong.verification.sentences[0].missing
