"""The presenter and the renderers that lay it out (CLI, web, API, Slack): pure logic, fast.

One source view and one ingest summary; each face only lays them out and escapes them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from answer_samples import FIRST, SECOND, doubled_answer

from assistant import Answer, Citation, Failure, IngestReport, SourceRef
from assistant.evaluation import format_metric
from assistant.evaluation.summary import format_delta
from assistant.faces.present import IngestSummary, safe_url, source_view, source_views
from assistant.faces.web import render

JUNE_2 = datetime(2025, 6, 2, tzinfo=UTC)


def _answer(url: str | None, title: str = "Prices", also_in: bool = False) -> Answer:
    ref = SourceRef(
        article_id="copy",
        chunk_id="copy:0",
        title="A copy",
        source="other.example",
        published=datetime(2025, 6, 3, tzinfo=UTC),
    )
    citation = Citation(
        n=1,
        article_id="a1",
        title=title,
        url=url,
        source="news.example",
        published=JUNE_2,
        chunk_id="a1:0",
        start=0,
        end=len(FIRST),
        quote=FIRST,
        also_in=[ref] if also_in else [],
    )
    return Answer(question="q?", answer=f"2 percent [1]\n\n“{FIRST}” [1]", citations=[citation])


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://news.example/a", "https://news.example/a"),
        ("  HTTP://news.example/a ", "HTTP://news.example/a"),
        ("javascript:alert(1)", None),
        ("data:text/html,<b>x</b>", None),
        ("/relative/path", None),
        ("", None),
        (None, None),
    ],
)
def test_only_web_urls_are_safe(url: str | None, safe: str | None) -> None:
    assert safe_url(url) == safe


def test_one_view_per_cited_article_with_every_quote() -> None:
    (view,) = source_views(doubled_answer())
    assert (view.n, view.title, view.outlet, view.day) == (
        1,
        "Chipotle raises prices",
        "news.example",
        "2025-06-02",
    )
    assert view.url == "https://news.example/chipotle"
    assert view.quoted == [FIRST, SECOND]


def test_a_citation_is_viewed_as_a_source_with_one_quote() -> None:
    citation = _answer("javascript:x", also_in=True).citations[0]
    view = source_view(citation)
    assert view.url is None and view.quoted == [FIRST]
    (copy,) = view.also_in
    assert (copy.title, copy.outlet, copy.day) == ("A copy", "other.example", "2025-06-03")


def test_web_cards_link_only_safe_urls_and_escape_titles() -> None:
    html = render.sources_html([_answer("javascript:alert(1)", title="<b>Prices</b>")])
    assert "javascript:" not in html and "<b>Prices</b>" not in html
    assert "&lt;b&gt;Prices&lt;/b&gt;" in html
    html = render.sources_html([_answer("https://news.example/a", also_in=True)])
    assert '<a href="https://news.example/a"' in html
    assert "Also in: other.example (2025-06-03)" in html


def test_slack_lists_sources_from_the_same_view() -> None:
    pytest.importorskip("slack_bolt")
    from assistant.faces.slack_messages import to_mrkdwn

    _, sources = to_mrkdwn(_answer("javascript:alert(1)", title="A|<b>"))
    assert sources.startswith("*[1]* A¦&lt;b&gt; — news.example, 2 Jun 2025")
    assert "javascript" not in sources
    _, sources = to_mrkdwn(_answer("https://news.example/a", also_in=True))
    assert "*[1]* <https://news.example/a|Prices>" in sources
    assert "_also in: other.example, 3 Jun 2025_" in sources


def test_the_cli_prints_the_same_view(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.faces.cli.ask import print_answer

    print_answer(_answer("javascript:alert(1)", also_in=True))
    printed = capsys.readouterr().out
    assert "[1] Prices — news.example, 2025-06-02" in printed
    assert "javascript" not in printed
    assert "also in: A copy — other.example" in printed


def _report() -> IngestReport:
    return IngestReport(
        new=["a1", "a2"],
        updated=["a3"],
        unchanged=4,
        failed=[Failure("/tmp/up/0/bad.jsonl:3", "no text")],
        skipped=[Failure("/tmp/up/1/x.pdf", "not an article format")],
        warnings=["/tmp/up/0/bad.jsonl:5: no date"],
        chunks=7,
        tokens=1234,
        seconds=0.5,
        precision="int8",
    )


def test_ingest_summary_keeps_the_senders_file_names() -> None:
    names = {"/tmp/up/0/bad.jsonl": "bad.jsonl", "/tmp/up/1/x.pdf": "x.pdf"}
    summary = IngestSummary.of(_report(), names=names)
    body = summary.api_json()
    assert body["ok"] is False and body["new"] == ["a1", "a2"] and body["unchanged"] == 4
    assert body["failed"] == [{"origin": "bad.jsonl:3", "reason": "no text"}]
    assert body["skipped"] == [{"origin": "x.pdf", "reason": "not an article format"}]
    assert body["warnings"] == ["bad.jsonl:5: no date"] and body["seconds"] == 0.5


def test_ingest_summary_lines() -> None:
    summary = IngestSummary.of(_report(), collection="news")
    assert summary.counts() == "new 2, updated 1, unchanged 4, failed 1, skipped 1"
    assert summary.throughput() == (
        "7 chunks, 1,234 tokens embedded in 0.5s (2,468 tokens/s, int8 embeddings)"
    )
    assert summary.short().startswith("2 new, 1 updated, 4 unchanged, 7 passages; failed: no text")
    assert summary.cli_json()["new"] == 2 and summary.cli_json()["collection"] == "news"
    assert not summary.added_anything  # a file failed
    assert IngestSummary.of(IngestReport(unchanged=1)).added_anything


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("accuracy", 0.5, "0.500"),
        ("retrieval_p50", 12.345, "12.3"),
        ("answer_p95", 100.0, "100.0"),
        ("f1", None, "n/a"),
    ],
)
def test_one_metric_format(key: str, value: float | None, shown: str) -> None:
    assert format_metric(value, key) == shown


def test_metric_deltas_know_which_way_is_better() -> None:
    assert format_delta(0.5, 0.6, "accuracy") == "+0.100 better"
    assert format_delta(10.0, 12.0, "retrieval_p50") == "+2.0 worse"
    assert format_delta(0.2, 0.2, "false_refusals") == "="
    assert format_delta(None, 0.2, "accuracy") == ""
