"""Answering end to end on real components: the sample article in a real Chroma, the real
embedding model, the BM25 index beside it, the extractive answerer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import corpus_rows

from assistant import Answer, Assistant, EmptyIndexError, Filters, QuestionError, Settings
from assistant.answering.condense import RuleCondenser, is_follow_up
from assistant.retrieval import Mode, Retriever

SAMPLE_Q = "How many Guard members were deployed?"

STORY = (
    "City officials in Riverton approved a new flood barrier on Tuesday. "
    "The barrier will cost $42 million and protect about 9,000 homes along the river. "
    "Construction is expected to begin next spring, the mayor, Alicia Moreno, said."
)


def leads_with(answer: Answer, text: str) -> bool:
    """What an editor reads first holds ``text`` (the short answer, or the quote leading when
    the reader does not trust one), and a cited quote backs it; a short answer, when given,
    is the answer itself."""
    first = answer.answer.splitlines()[0]
    backed = any(text in c.quote for c in answer.citations)
    short_ok = answer.short_answer is None or text in answer.short_answer
    return not answer.refused and text in first and backed and short_ok


@pytest.fixture(scope="module")
def asst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    data = tmp_path_factory.mktemp("answering") / "data"
    a = Assistant.from_settings(Settings.load(data_dir=data))
    assert a.library.ensure_sample() == 1
    report = a.library.ingest_records(
        [
            {
                "title": "Riverton approves flood barrier",
                "text": STORY,
                "url": "https://example.org/riverton-barrier",
                "source": "Riverton Gazette",
                "published": "2025-03-04",
            },
            {  # a syndicated copy of the same story under another outlet
                "title": "Riverton approves flood barrier",
                "text": STORY,
                "url": "https://wire.example.com/riverton",
                "source": "Wire Service",
                "published": "2025-03-05",
            },
            {
                "title": "Lakeside opens new library",
                "text": "Lakeside opened a new public library on Monday. It holds 120,000 books "
                "and cost $8 million, the library director, Sam Ortiz, said.",
                "url": "https://example.org/lakeside-library",
                "source": "Lakeside Times",
                "published": "2024-11-20",
            },
        ]
    )
    assert report.ok and len(report.new) == 3
    yield a


def test_sample_question_answers_2000_with_the_right_citation(asst: Assistant) -> None:
    answer = asst.ask(SAMPLE_Q)
    assert not answer.refused
    assert answer.answer.startswith("2,000")
    assert answer.short_answer == "2,000"
    first = answer.citations[0]
    assert "deploy 2,000 National Guard members" in first.quote
    assert "[1]" in answer.answer and f"“{first.quote}” [1]" in answer.answer
    # the citation's coordinates point at exactly that sentence of the stored article
    record = asst.library.get_article(first.article_id)
    assert record is not None and record.text is not None
    assert record.text[first.start : first.end] == first.quote
    assert first.chunk_id in {p.chunk_id for p in answer.passages}
    assert answer.timings_ms["total"] > 0
    # only supporting quotes: no unrelated second sentence ("Unlike other branches …")
    assert len(answer.citations) == 1 and answer.answer.count("“") == 1
    assert answer.answer.splitlines()[0] == "2,000 [1]"


def test_question_the_sample_does_not_answer_is_refused(asst: Assistant) -> None:
    answer = asst.ask("How many protesters were arrested?")
    assert answer.refused
    assert answer.answer.startswith("The indexed articles don't say")
    assert answer.citations == []
    assert "2,000" not in answer.answer


def test_unrelated_question_is_refused(asst: Assistant) -> None:
    answer = asst.ask("Who won the 2025 Nobel Prize in Chemistry?")
    assert answer.refused and not answer.citations


def test_numbers_names_and_places_from_other_articles(asst: Assistant) -> None:
    cost = asst.ask("How much will the Riverton flood barrier cost?")
    assert leads_with(cost, "$42 million")
    who = asst.ask("Who is the library director in Lakeside?")
    assert leads_with(who, "Sam Ortiz")
    assert any("Sam Ortiz" in c.quote for c in who.citations)


def test_source_filter(asst: Assistant) -> None:
    got = asst.ask(
        "How many books does the new library hold?", filters=Filters(sources=["Lakeside Times"])
    )
    assert got.passages and {p.source for p in got.passages} == {"Lakeside Times"}
    assert leads_with(got, "120,000")
    none = asst.ask(
        "How many books does the new library hold?", filters=Filters(sources=["Nobody"])
    )
    assert none.refused and not none.passages
    assert "no indexed article matches the filters" in none.notices


def test_date_filters(asst: Assistant) -> None:
    q = "What did officials approve?"
    since = asst.retriever.retrieve(q, 10, Filters.model_validate({"since": "2025-01-01"}))
    assert since.passages
    assert all(p.published and p.published.year == 2025 for p in since.passages)
    until = asst.retriever.retrieve(q, 10, Filters.model_validate({"until": "2024-12-31"}))
    assert {p.source for p in until.passages} == {"Lakeside Times"}
    # `until` includes the whole day named
    day = asst.retriever.retrieve(q, 10, Filters.model_validate({"until": "2025-03-04"}))
    assert "Riverton Gazette" in {p.source for p in day.passages}
    assert "Wire Service" not in {p.source for p in day.passages}


def test_as_of_is_a_hard_bound_that_keeps_undated_articles(asst: Assistant) -> None:
    def sources(question: str, day: str, mode: Mode) -> set[str]:
        when = datetime.fromisoformat(day).replace(tzinfo=UTC)
        return {p.source for p in asst.retriever.retrieve(question, 5, mode=mode, as_of=when)
                .passages}  # fmt: skip

    for mode in ("hybrid", "dense", "lexical"):
        q = "How much will the Riverton flood barrier cost?"
        assert not {"Riverton Gazette", "Wire Service"} & sources(q, "2025-01-01", mode)
        # the day itself counts; the copy published the day after does not
        got = asst.retriever.retrieve(q, 5, mode=mode, as_of=datetime(2025, 3, 4, tzinfo=UTC))
        assert "Riverton Gazette" in {p.source for p in got.passages}
        assert all(r.source != "Wire Service" for p in got.passages for r in p.also_in)
        assert "Wire Service" not in {p.source for p in got.passages}
        # the sample article has no date: still eligible
        assert any("2,000 National Guard" in p.text for p in asst.retriever.retrieve(
            SAMPLE_Q, 5, mode=mode, as_of=datetime(2020, 1, 1, tzinfo=UTC)).passages)  # fmt: skip
    answer = asst.ask("How much will the Riverton flood barrier cost?",
                      as_of=datetime(2025, 1, 1, tzinfo=UTC))  # fmt: skip
    assert "$42 million" not in answer.answer


def test_syndicated_copies_collapse_into_one_passage(asst: Assistant) -> None:
    got = asst.retriever.retrieve("Riverton flood barrier cost", 5)
    riverton = [p for p in got.passages if "Riverton" in p.text]
    assert len(riverton) == 1  # the copy is folded in, not repeated
    assert {riverton[0].source, *(s.source for s in riverton[0].also_in)} == {
        "Riverton Gazette",
        "Wire Service",
    }
    answer = asst.ask("How much will the Riverton flood barrier cost?")
    assert answer.citations[0].also_in


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_retrieval_mode_finds_the_sample_sentence(asst: Assistant, mode: str) -> None:
    got = asst.retriever.retrieve(SAMPLE_Q, 3, mode=mode)  # type: ignore[arg-type]
    assert any("2,000 National Guard" in p.text for p in got.passages)
    if mode == "hybrid":
        assert got.passages[0].dense_score is not None


def test_follow_up_is_resolved_against_the_history(asst: Assistant) -> None:
    first = asst.chat("s1", SAMPLE_Q)
    assert first.short_answer == "2,000" and first.standalone_question is None
    follow = asst.chat("s1", "and who ordered it?")
    assert follow.standalone_question and SAMPLE_Q in follow.standalone_question
    assert leads_with(follow, "Trump")
    assert [t.question for t in asst.history("s1")] == [SAMPLE_Q, "and who ordered it?"]
    # another session has its own history: the same follow-up there is not rewritten
    other = asst.chat("s2", "and who ordered it?")
    assert other.standalone_question is None
    asst.reset("s1")
    assert asst.history("s1") == []


def test_follow_up_detection() -> None:
    assert is_follow_up("and who ordered it?")
    assert is_follow_up("What about Portland?")
    assert is_follow_up("Why did they do that?")
    assert not is_follow_up("Who ordered the National Guard to Los Angeles?")
    assert str(RuleCondenser().condense("Who won?", [])) == "Who won?"


def test_answer_json_shape(asst: Assistant) -> None:
    data = json.loads(asst.ask(SAMPLE_Q).model_dump_json())
    for key in ("answer", "refused", "citations", "passages", "timings_ms"):
        assert key in data
    cite = data["citations"][0]
    for key in ("n", "article_id", "title", "url", "source", "published", "chunk_id"):
        assert key in cite
    for key in ("start", "end", "quote"):
        assert key in cite
    assert data["passages"][0]["text"] and data["refused"] is False


def test_bad_questions(asst: Assistant) -> None:
    with pytest.raises(QuestionError, match="empty"):
        asst.ask("   ")
    with pytest.raises(QuestionError, match="limit"):
        asst.ask("why " * 25_000)  # 100 kB
    other_script = asst.ask("国民警卫队部署了多少人？")  # answered or refused, never a crash
    assert other_script.refused or other_script.citations


def test_empty_index_is_a_clear_error(tmp_path: Path) -> None:
    empty = Assistant.from_settings(Settings.load(data_dir=tmp_path / "empty"))
    with pytest.raises(EmptyIndexError, match="assistant ingest"):
        empty.ask(SAMPLE_Q)


def test_lexical_index_follows_ingest_delete_and_rebuilds(tmp_path: Path) -> None:
    a = Assistant.from_settings(Settings.load(data_dir=tmp_path / "d"))
    a.library.ensure_sample()
    lexical = a.store.lexical
    assert lexical is not None
    assert lexical.versions() == a.store.committed_hashes()
    (article,) = a.library.list_articles()
    a.library.delete_articles([article.id])
    assert lexical.versions() == {} and lexical.count() == 0
    a.library.ensure_sample()
    # an index whose BM25 side was lost (or predates it) is rebuilt from Chroma on start
    lexical.close()
    lexical.path.unlink()
    for extra in lexical.path.parent.glob(lexical.path.name + "-*"):
        extra.unlink()
    again = Assistant.from_settings(Settings.load(data_dir=tmp_path / "d"))
    assert again.store.lexical is not None
    assert again.store.lexical.versions() == again.store.committed_hashes()
    assert again.ask(SAMPLE_Q).short_answer == "2,000"


@pytest.mark.slow
def test_real_2025_slice(tmp_path: Path) -> None:
    """100 real articles; the answerable questions whose gold articles are among them."""
    rows = corpus_rows(100)
    questions = [
        json.loads(line)
        for line in (
            Path(__file__).resolve().parents[2] / "shared/eval/realtimeqa-2025/questions.jsonl"
        )
        .read_text()
        .splitlines()
    ]
    ids = {r["id"] for r in rows}
    asked = [q for q in questions if q["answerable"] and ids.intersection(q["gold_ids"])]
    assert len(asked) >= 4
    a = Assistant.from_settings(Settings.load(data_dir=tmp_path / "d"))
    assert a.library.ingest_records(rows).ok
    found = 0
    for q in asked:
        got = a.retriever.retrieve(q["question"], 5)
        found += any(q["answer"].lower() in (p.title + p.text).lower() for p in got.passages)
        answer = a.ask(q["question"])
        for c in answer.citations:  # every quote is the article's own sentence
            record = a.library.get_article(c.article_id)
            assert record and record.text and record.text[c.start : c.end] == c.quote
    assert found / len(asked) >= 0.6


def test_retriever_needs_lexical_for_hybrid(asst: Assistant) -> None:
    from index.store import ChromaStore

    bare = ChromaStore(asst.store.client, asst.store.name, asst.store.embedding_model)
    with pytest.raises(Exception, match="lexical"):
        Retriever(bare, asst.ingestor.embedder, mode="hybrid")


def test_follow_ups_do_not_nest(asst: Assistant) -> None:
    asst.chat("s3", SAMPLE_Q)
    asst.chat("s3", "and who ordered it?")
    third = asst.chat("s3", "and when?")
    assert third.standalone_question is not None
    assert third.standalone_question.count("(about:") == 1
    assert SAMPLE_Q in third.standalone_question


def test_a_figure_is_corroborated_only_by_the_same_kind_of_figure() -> None:
    from assistant.answering.extractive import _holds

    assert _holds("Trump will deploy 2,000 National Guard members.", "2,000")
    assert not _holds("The council set a $2,000 fine for littering.", "2,000")
    assert not _holds("Prices rose 2,000% in a year.", "2,000")
    assert not _holds("Turnout was up 12 percent.", "12")
    assert _holds("The council set a $2,000 fine.", "$2,000")
    assert _holds("It happened in New  York City.", "New York")
