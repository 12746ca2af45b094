"""Evaluation: each metric on hand-made cases with known values, question files (JSONL and
CSV, malformed rows with their line numbers), and `assistant eval` end to end on a small
real index (real Chroma, real model) with its report, plots and `eval compare`."""

from __future__ import annotations

import csv as cs
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SAMPLE, require_shared, write_jsonl

from assistant import Assistant, Settings
from assistant.answers import Answer, Citation, Passage, SourceRef
from assistant.evaluation import evaluate, load_questions
from assistant.evaluation import metrics as m
from assistant.evaluation.summary import summarize
from index.errors import ConfigError


def passage(article_id: str, text: str, also: list[str] | None = None) -> Passage:
    return Passage(
        chunk_id=f"{article_id}:0", article_id=article_id, title="T", start=0,
        end=len(text), text=text,
        also_in=[SourceRef(article_id=a, chunk_id=f"{a}:0", title="T") for a in also or []],
    )  # fmt: skip


def cite(n: int, quote: str) -> Citation:
    return Citation(n=n, article_id="a", title="T", chunk_id="a:0", start=0, end=len(quote),
                    quote=quote)  # fmt: skip


# -- metrics ------------------------------------------------------------------------------


def test_mentions_is_whole_word_and_case_blind() -> None:
    assert m.mentions("Trump deployed 2,000 National Guard members", "2,000")
    assert not m.mentions("about 12,000 members", "2,000")
    assert not m.mentions("Iranian officials", "Iran")
    assert m.mentions("the NEW GLENN rocket", "New  Glenn")
    assert m.mentions("new\nglenn", "new glenn")
    assert not m.mentions("anything", "  ")


def test_ranks_recall_and_mrr() -> None:
    ps = [passage("a", "nothing here"), passage("b", "it cost $42 million"),
          passage("c", "copy", also=["gold"])]  # fmt: skip
    assert m.answer_rank(ps, ["$42 million"]) == 2
    assert m.answer_rank(ps, ["nope", "copy"]) == 3
    assert m.answer_rank(ps, ["absent"]) is None
    assert m.gold_rank(ps, ["b"]) == 2
    assert m.gold_rank(ps, ["gold"]) == 3  # a syndicated copy folded into the passage counts
    assert m.gold_rank(ps, ["zzz"]) is None
    ranks = [1, 2, None, 5]
    assert m.recall_at(ranks, 1) == 0.25
    assert m.recall_at(ranks, 2) == 0.5
    assert m.recall_at(ranks, 5) == 0.75
    assert m.recall_at([], 5) == 0.0
    assert m.mrr(ranks) == pytest.approx((1 + 0.5 + 0 + 0.2) / 4)


def test_exact_match_and_f1() -> None:
    assert m.normalize("The  New Glenn!") == "new glenn"
    assert m.exact_match("the New Glenn", ["New Glenn"]) == 1.0
    assert m.exact_match("Glenn", ["New Glenn"]) == 0.0
    assert m.token_f1("the New Glenn rocket", ["New Glenn"]) == pytest.approx(0.8)
    assert m.token_f1("Glenn", ["New Glenn", "Glenn"]) == 1.0  # the best acceptable answer
    assert m.token_f1("Blue Origin", ["New Glenn"]) == 0.0


def test_accuracy_needs_the_answer_in_the_opening_and_in_a_cited_quote() -> None:
    quote = "Trump ordered 2,000 Guard members to Los Angeles."
    right = Answer(question="q", answer=f"2,000 [1]\n\n“{quote}” [1]", citations=[cite(1, quote)])
    assert m.is_correct(right, ["2,000"])
    assert not m.is_correct(right, ["4,000"])
    uncited = Answer(question="q", answer="2,000", citations=[cite(1, "Guard members went.")])
    assert not m.is_correct(uncited, ["2,000"])  # a number no source backs is not right
    late = Answer(question="q", answer="x" * 300 + "\n2,000 [1]", citations=[cite(1, quote)])
    assert not m.is_correct(late, ["2,000"]) and not m.in_opening(late, ["2,000"])
    refused = right.model_copy(update={"refused": True})
    assert not m.is_correct(refused, ["2,000"])
    # a wrong short answer over the right quote: the editor reads "12" first
    under = Answer(question="q", answer=f"12 [1]\n\n“{quote}” [1]", citations=[cite(1, quote)])
    assert not m.is_correct(under, ["2,000"]) and m.in_opening(under, ["2,000"])
    # no short answer: the first quote is the first line
    lead = Answer(question="q", answer=f"“{quote}” [1]", citations=[cite(1, quote)])
    assert m.is_correct(lead, ["2,000"])


def test_citation_checks() -> None:
    q1 = "Overall, roughly 30% of students were chronically absent."
    q2 = "Chronic absence means missing at least 10% of the school year."
    ans = Answer(
        question="q",
        answer=f"30% [1]\n\n“{q1}” [1]\n“{q2}” [1]\nIt rose to 45% in 2023 [2]",
        citations=[cite(1, q1), cite(1, q2), cite(2, "Absence rose in Ohio.")],
    )
    checks = m.citation_checks(ans, ["30%"])
    assert [c["supports"] for c in checks] == [True, True, False]  # 45% and 2023 not in [2]
    assert [c["holds_answer"] for c in checks] == [True, False, False]
    assert [c["holds_answer"] for c in m.citation_checks(ans, [])] == [None, None, None]


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert m.percentile(values, 50) == 51.0  # nearest rank
    assert m.percentile(values, 95) == 95.0
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) == 0.0


def record(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "x", "answerable": True, "error": None, "refused": False,
                            "correct": False, "answer_rank": None, "gold_rank": None,
                            "citations": [], "retrieval_ms": 10.0, "answer_ms": 1.0,
                            "f1": None, "exact_match": None, "type": "number",
                            "week": "2025-W01", "gold_ids": []}  # fmt: skip
    return {**base, **kw}


def test_summary_figures_on_hand_made_records() -> None:
    yes, no = {"supports": True, "holds_answer": True}, {"supports": False, "holds_answer": False}
    records = [
        record(id="1", correct=True, answer_rank=1, gold_rank=2, gold_ids=["g"],
               citations=[yes, no], f1=1.0, exact_match=1.0, retrieval_ms=10.0),
        record(id="2", answer_rank=4, citations=[no], f1=0.5, exact_match=0.0, type="person",
               retrieval_ms=30.0),
        record(id="3", refused=True, retrieval_ms=20.0),  # a false refusal
        record(id="4", answerable=False, refused=True, correct=None, retrieval_ms=40.0),
        record(id="5", answerable=False, citations=[yes], correct=None, retrieval_ms=50.0),
        record(id="6", error="RuntimeError: boom", refused=None),
    ]  # fmt: skip
    s = summarize(records, [1, 5])
    c = s["counts"]
    assert (c["questions"], c["errors"], c["answerable"], c["not_answerable"]) == (6, 1, 3, 2)
    assert c["with_gold_ids"] == 1 and c["answered"] == 3 and c["citations"] == 4
    r = s["retrieval"]
    assert r["answer_recall@1"] == pytest.approx(1 / 3)
    assert r["answer_recall@5"] == pytest.approx(2 / 3)
    assert r["answer_mrr"] == pytest.approx((1 + 0.25) / 3)
    assert r["gold_recall@1"] == 0.0 and r["gold_recall@5"] == 1.0 and r["gold_mrr"] == 0.5
    a = s["answers"]
    assert a["accuracy"] == pytest.approx(1 / 3)
    assert a["accuracy_when_answered"] == 0.5
    assert a["exact_match"] == 0.5 and a["f1"] == 0.75
    assert s["citations"]["precision"] == pytest.approx(1 / 3)  # of answerable: yes, no, no
    assert s["citations"]["support"] == 0.5  # yes, no, no, yes
    assert s["citations"]["answers_with_citation"] == 1.0
    assert s["refusals"] == {"refused_not_answerable": 0.5, "false_refusals": pytest.approx(1 / 3)}
    assert s["latency_ms"]["retrieval_p50"] == 30.0
    assert s["by_type"]["person"] == {"n": 1, "accuracy": 0.0}
    assert s["by_type"]["number"]["n"] == 2
    assert s["by_week"]["2025-W01"]["accuracy"] == pytest.approx(1 / 3)
    empty = summarize([record(answerable=False, refused=True, correct=None)], [5])
    assert empty["answers"]["accuracy"] is None and empty["retrieval"]["gold_mrr"] is None


# -- question files -----------------------------------------------------------------------


def test_jsonl_questions_and_malformed_rows_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "id": "a",
                        "question": "How many?",
                        "answer": "2,000",
                        "gold_ids": ["x"],
                        "date": "2025/01/03",
                    }
                ),
                json.dumps({"question": "Who?", "answer": ["Sam Ortiz", "Ortiz"]}),
                "{not json",
                "",
                json.dumps({"answer": "no question"}),
                json.dumps({"question": "Unanswerable?", "answerable": False}),
                json.dumps({"question": "Answerable but no answer?", "answerable": True}),
                json.dumps({"question": "Bad date?", "answer": "x", "date": "soon"}),
                json.dumps({"id": "a", "question": "Same id?", "answer": "y"}),
                json.dumps(["a", "list"]),
            ]
        )
        + "\n"
    )
    qs = load_questions(path)
    assert [q.id for q in qs.questions] == ["a", "line-2", "line-6"]
    first = qs.questions[0]
    assert first.answers == ["2,000"] and first.gold_ids == ["x"] and first.answerable
    assert first.date is not None and first.date.isoformat().startswith("2025-01-03")
    assert qs.questions[1].answers == ["Sam Ortiz", "Ortiz"]
    assert not qs.questions[2].answerable
    assert [b.line for b in qs.bad_rows] == [3, 5, 7, 8, 9, 10]
    reasons = [str(b) for b in qs.bad_rows]
    assert "line 3: not valid JSON" in reasons[0]
    assert "question" in reasons[1] and "answer" in reasons[2] and "date" in reasons[3]
    assert "duplicate id 'a'" in reasons[4] and "not a JSON object" in reasons[5]
    assert len(load_questions(path, limit=2).questions) == 2


def test_csv_questions(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "id,question,answer,gold_ids,answerable,date\n"
        "q1,How much?,$42 million|42 million,a1|a2,true,2025-03-05\n"
        'q2,"Who, in\nLakeside?","[""Sam Ortiz""]",,yes,\n'
        "q3,Unanswerable?,,,false,\n"
        ",,,,,\n"
        "q4,Broken?,x,,maybe,\n"
        "q5,Too many cells,x,,true,,extra\n"
    )
    qs = load_questions(path)
    assert [q.id for q in qs.questions] == ["q1", "q2", "q3"]
    assert qs.questions[0].answers == ["$42 million", "42 million"]
    assert qs.questions[0].gold_ids == ["a1", "a2"]
    assert qs.questions[1].question == "Who, in Lakeside?" and qs.questions[1].answers == [
        "Sam Ortiz"
    ]
    assert not qs.questions[2].answerable
    assert [(b.line, "answerable" in b.reason) for b in qs.bad_rows] == [(7, True), (8, False)]
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("query,answer\nHow?,x\n")
    with pytest.raises(ConfigError, match="question"):
        load_questions(bad_header)
    with pytest.raises(ConfigError, match="not found"):
        load_questions(tmp_path / "missing.jsonl")


def test_the_shared_2025_question_file_loads_as_it_is() -> None:
    require_shared()
    qs = load_questions(ROOT.parent / "shared" / "eval" / "realtimeqa-2025" / "questions.jsonl")
    assert not qs.bad_rows and len(qs.questions) > 800
    assert any(q.gold_ids for q in qs.questions) and any(not q.answerable for q in qs.questions)
    assert all(q.date is not None for q in qs.questions)


# -- end to end ---------------------------------------------------------------------------

BARRIER = (
    "City officials in Riverton approved a new flood barrier on Tuesday. "
    "The barrier will cost $42 million and protect about 9,000 homes along the river."
)
LIBRARY = (
    "Lakeside opened a new public library on Monday. It holds 120,000 books and cost "
    "$8 million, the library director, Sam Ortiz, said."
)
QUESTIONS: list[dict[str, Any]] = [
    {"id": "guard", "question": "How many Guard members were deployed?", "answer": "2,000",
     "date": "2025-06-10"},
    {"id": "cost", "question": "How much will the Riverton flood barrier cost?",
     "answer": ["$42 million", "42 million"], "gold_ids": ["riverton-1"], "date": "2025-03-05"},
    {"id": "director", "question": "Who is the library director in Lakeside?",
     "answer": "Sam Ortiz", "gold_ids": ["lakeside-1"], "date": "2024-11-21"},
    {"id": "homes", "question": "How many homes will the Riverton barrier protect?",
     "answer": "12,000", "gold_ids": ["riverton-1"]},  # a wrong gold answer: must score 0
    {"id": "arrests", "question": "How many protesters were arrested?", "answerable": False},
    {"id": "nobel", "question": "Who won the 2025 Nobel Prize in Chemistry?",
     "answerable": False},
]  # fmt: skip


def _env(data: Path) -> dict[str, str]:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data)}
    env.pop("ASSISTANT_SETTINGS_FILE", None)
    env.pop("ASSISTANT_CHROMA_HOST", None)
    return env


@pytest.mark.slow
def test_eval_end_to_end_with_report_plots_and_compare(tmp_path: Path) -> None:
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "riverton-1", "title": "Riverton approves flood barrier", "text": BARRIER,
             "source": "Riverton Gazette", "published": "2025-03-04"},
            {"id": "lakeside-1", "title": "Lakeside opens new library", "text": LIBRARY,
             "source": "Lakeside Times", "published": "2024-11-20"},
        ],
    )  # fmt: skip
    qfile = tmp_path / "questions.jsonl"
    lines = [json.dumps(q) for q in QUESTIONS]
    lines.insert(3, '{"question": "broken row"')  # line 4
    qfile.write_text("\n".join(lines) + "\n")
    data, run_a = tmp_path / "data", tmp_path / "run-a"
    cmd = [sys.executable, "-m", "assistant", "eval", str(qfile), "--out", str(run_a),
           "--corpus", str(corpus), "--corpus", str(SAMPLE)]  # fmt: skip
    done = subprocess.run(cmd, env=_env(data), cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "line 4: not valid JSON" in done.stderr
    assert "accuracy" in done.stdout and str(run_a / "report.md") in done.stdout

    report = json.loads((run_a / "report.json").read_text())
    records = {r["id"]: r for r in map(json.loads, (run_a / "questions.jsonl").open())}
    assert set(records) == {q["id"] for q in QUESTIONS}
    assert [records[i]["correct"] for i in ("guard", "cost", "director", "homes")] == [
        True, True, True, False
    ]  # fmt: skip
    assert records["arrests"]["refused"] and records["nobel"]["refused"]
    assert records["cost"]["gold_rank"] == 1 and records["cost"]["answer_rank"] == 1
    assert records["guard"]["exact_match"] == 1.0  # "2,000" leads; "cost" leads with its quote
    assert all(c["holds_answer"] for c in records["cost"]["citations"][:1])
    s = report["summary"]
    assert s["answers"]["accuracy"] == 0.75
    assert s["refusals"]["refused_not_answerable"] == 1.0
    assert s["retrieval"]["answer_recall@5"] == 0.75  # nothing holds "12,000"
    assert s["retrieval"]["gold_recall@1"] == 1.0
    assert s["latency_ms"]["retrieval_p50"] > 0
    assert len(report["bad_rows"]) == 1
    assert report["bad_rows"][0].startswith("line 4: not valid JSON")
    assert report["index"]["articles"] == 3 and report["ingest"]["new"] == 3
    assert report["settings"]["top_k"] == 5 and "llm_api_key" not in report["settings"]
    assert report["run"]["git_commit"] and report["run"]["k"] == 5
    md = (run_a / "report.md").read_text()
    assert (
        "| headline accuracy (first line right, quote backs it) | 0.750 |" in md
        and "line 4: not valid JSON" in md
    )
    for name in report["plots"].values():
        assert (run_a / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in md
    assert set(report["plots"]) == {"recall", "latency", "type", "week"}

    # The same questions from CSV, in process, reading one passage only; the records match
    # what Assistant.ask gives for the same question.
    csv = tmp_path / "questions.csv"
    with csv.open("w", newline="") as fh:
        writer = cs.writer(fh)
        writer.writerow(["id", "question", "answer", "gold_ids", "answerable", "date"])
        for q in QUESTIONS:
            answer = q.get("answer", "")
            writer.writerow([q["id"], q["question"],
                             "|".join(answer) if isinstance(answer, list) else answer,
                             "|".join(q.get("gold_ids", [])), q.get("answerable", True),
                             q.get("date", "")])  # fmt: skip
    asst = Assistant.from_settings(Settings.load(data_dir=data))
    run_b = tmp_path / "run-b"
    rep_b = evaluate(asst, csv, run_b, k=1)
    recs_b = {r["id"]: r for r in map(json.loads, (run_b / "questions.jsonl").open())}
    asked = asst.ask(QUESTIONS[1]["question"], k=1, as_of=load_questions(csv).questions[1].date)
    assert recs_b["cost"]["answer"] == asked.answer
    assert rep_b["run"]["k"] == 1 and len(recs_b["cost"]["retrieved"]) == 1

    done = subprocess.run([sys.executable, "-m", "assistant", "eval", "compare", str(run_a),
                           str(run_b)], env=_env(data), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = done.stdout
    acc_line = next(x for x in table.splitlines() if x.startswith("headline accuracy "))
    b_acc = rep_b["summary"]["answers"]["accuracy"]
    assert "0.750" in acc_line and f"{b_acc:.3f}" in acc_line
    assert "top_k" not in table  # k was an option, not a setting; the question files differ:
    assert "--k (passages answered from): 5 -> 1" in table
    assert "question files differ" in table
    assert "Answerable questions in both runs: 4" in table
    missing = subprocess.run([sys.executable, "-m", "assistant", "eval", "compare", str(run_a),
                              str(tmp_path / "nope")], env=_env(data), capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "no evaluation run" in missing.stderr


def test_eval_with_the_llm_answerer_counts_verification_outcomes(
    data_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fake_llm import Messages, OpenAIServer, source_with

    def model(messages: Messages) -> str:
        n = source_with(messages, "2,000 National Guard")
        good = (f"2,000 [{n}]\n\nPresident Donald Trump announced plans to deploy 2,000 "
                f"National Guard members to help restore order [{n}].")  # fmt: skip
        prompt = messages[-1]["content"]
        if "How many police officers were sent" in prompt:  # one sentence no source backs
            return good + f" About 5,000 police officers were also sent [{n}]."
        if "How many protesters were arrested" in prompt:  # nothing backed: extractive instead
            return f"300 protesters were arrested [{n}]."
        return good

    qfile = write_jsonl(tmp_path / "q.jsonl", [
        {"id": "guard", "question": "How many Guard members were deployed?", "answer": "2,000"},
        {"id": "police", "question": "How many police officers were sent?", "answer": "500"},
        {"id": "arrests", "question": "How many protesters were arrested?", "answerable": False},
    ])  # fmt: skip
    with OpenAIServer(model) as server:
        monkeypatch.setenv("ASSISTANT_LLM_MODEL", "fake")
        monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", server.url)
        monkeypatch.setenv("ASSISTANT_ANSWERER", "llm")
        asst = Assistant.from_settings()
        assert asst.library.ensure_sample() == 1
        report = evaluate(asst, qfile, tmp_path / "run")
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "questions.jsonl").open())}
    assert records["guard"]["verification"] == "verified" and records["guard"]["correct"]
    assert records["police"]["verification"] == "flagged" and not records["police"]["correct"]
    assert records["arrests"]["verification"] == "fallback"
    counts = report["summary"]["verification"]
    assert counts["outcome_verified"] == 1 and counts["outcome_flagged"] == 1
    assert counts["outcome_fallback"] == 1
    assert counts["sentences_unsupported"] >= 1
    assert report["run"]["answerer"].startswith("llm (") and "fake" in report["run"]["answerer"]
    md = (tmp_path / "run" / "report.md").read_text()
    assert "## LLM citation verification" in md and "| outcome_flagged | 1 |" in md


def test_each_question_is_asked_as_of_its_date(data_env: Path) -> None:
    """A dated question never draws on articles published after its date; the same question
    undated may (so the test means something); undated articles stay eligible."""
    from answer_samples import AS_OF, VOLCANO_Q, volcano_articles

    from assistant.evaluation.questions import EvalQuestion
    from assistant.evaluation.runner import run
    from index.articles import parse_published

    asst = Assistant.from_settings(Settings.load())
    assert len(asst.library.ingest_records(volcano_articles()).new) == 3
    dated = EvalQuestion("q1", VOLCANO_Q, ["Etna"], True, date=parse_published(AS_OF))
    undated = EvalQuestion("q2", VOLCANO_Q, ["Etna"], True)
    got = run(asst, [dated, undated], k=5)
    as_of, anytime = got.records
    assert "kilauea-jun" not in as_of["retrieved"]
    assert {"etna-feb", "stromboli-undated"} <= set(as_of["retrieved"])
    assert "kilauea-jun" not in {c["article_id"] for c in as_of["citations"]}
    assert "kilauea-jun" in anytime["retrieved"]


def test_compare_names_k_and_questions_by_their_text(tmp_path: Path) -> None:
    from assistant.evaluation.compare import compare

    def saved(name: str, k: int, right: bool) -> Path:
        out = tmp_path / name
        out.mkdir()
        summary = {"answers": {"accuracy": 1.0 if right else 0.0}}
        run = {"k": k, "questions_sha256": "same"}
        report = {"run": run, "settings": {"top_k": 5}, "summary": summary}
        (out / "report.json").write_text(json.dumps(report))
        row = {"id": "line-9", "question": "Who won the\nStanley Cup?", "answerable": True,
               "correct": right}  # fmt: skip
        (out / "questions.jsonl").write_text(json.dumps(row) + "\n")
        return out

    table = compare(saved("a", 5, False), saved("b", 8, True))
    assert "Settings that differ:" in table and "--k (passages answered from): 5 -> 8" in table
    assert "right only in B:\n    - Who won the Stanley Cup?" in table
    assert "line-9" not in table
