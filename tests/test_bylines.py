"""Bylines: authors read from JSON, HTML, RSS/Atom and "By …" lines, stored in Chroma, shown
on every source card and filtered on (the CLI in-process with the real model and Chroma; the
API over HTTP is in tests/test_api.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from answer_samples import GUARD_Q as QUESTION
from answer_samples import guard_rows
from conftest import write_jsonl
from typer.testing import CliRunner

from assistant import Answer, Citation
from assistant.faces.api.openai_wire import source_line as wire_line
from assistant.faces.cli import app
from assistant.faces.present import source_views
from assistant.faces.slack_messages import source_line as slack_line
from assistant.faces.web import render
from index.articles import Article
from index.bylines import author_key, author_where, byline_names, text_byline
from index.json_files import article_from_record
from index.loaded import LoadOptions
from index.web_files import load_feed, page_fields

runner = CliRunner()


@pytest.mark.parametrize(
    ("byline", "names"),
    [
        ("By Jane Smith and Tom Reyes, USA TODAY", ["Jane Smith", "Tom Reyes"]),
        ("By Lindsay H. Jones, USA TODAY Sports", ["Lindsay H. Jones"]),
        ("Jane Smith; Tom Reyes", ["Jane Smith", "Tom Reyes"]),
        ("By Amir Vera, Bryce Urbany and Cassie Spodak, CNN", ["Amir Vera", "Bryce Urbany",
                                                              "Cassie Spodak"]),
        ("By RANDALL CHASE Associated Press", ["Randall Chase"]),
        ("Reuters", ["Reuters"]),  # names no person: kept as written
    ],
)  # fmt: skip
def test_a_byline_is_read_as_names(byline: str, names: list[str]) -> None:
    assert byline_names(byline) == names


def test_a_by_line_in_the_text_names_the_author_only_at_the_head() -> None:
    assert text_byline("By Tom Reyes, USA TODAY\n\nThe Guard arrived.") == ["Tom Reyes"]
    assert text_byline("By Sunday the rain clears.\n\nMore rain.") == []
    assert text_byline("x. " * 300 + "\nBy Tom Reyes, USA TODAY\n") == []


def test_names_match_without_case_accents_or_punctuation() -> None:
    assert author_key("José  O'Neil") == author_key("jose oneil") == "jose oneil"
    assert author_where([]) is None


def test_json_author_fields_and_a_text_by_line_when_no_field_names_one() -> None:
    smith, reyes = (article_from_record(r) for r in guard_rows())
    assert smith.authors == ["Jane Smith"]
    assert reyes.authors == ["Tom Reyes"]  # from the "By …" line alone
    listed = article_from_record({"text": "Rain.", "authors": [{"name": "Ann Lee"}, "Bo Chan"]})
    assert listed.authors == ["Ann Lee", "Bo Chan"]
    by = article_from_record({"text": "Rain.", "byline": "By Ann Lee and Bo Chan, CNN"})
    assert by.authors == ["Ann Lee", "Bo Chan"]
    # a field wins over a line in the text
    both = article_from_record({"text": "By Tom Reyes\n\nRain.", "author": "Ann Lee"})
    assert both.authors == ["Ann Lee"]


def test_html_meta_author_and_feed_creators() -> None:
    body = "<p>" + "The Guard arrived in Los Angeles on Sunday, officials said. " * 8 + "</p>"
    html = (
        '<html><head><meta name="author" content="Jane Smith; Tom Reyes"><title>Guard</title>'
        f"</head><body><article><h1>Guard</h1>{body}</article></body></html>"
    )
    assert Article.parse(**page_fields(html))[0].authors == ["Jane Smith", "Tom Reyes"]
    rss = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<channel><title>Harbor Daily</title>"
        b"<item><title>a</title><link>https://x.example/a</link>"
        b"<dc:creator>Jane Smith</dc:creator><description>Rain fell.</description></item>"
        b"<item><title>b</title><link>https://x.example/b</link>"
        b"<author>tom@harbor.com (Tom Reyes)</author><description>Rain fell.</description></item>"
        b"</channel></rss>"
    )
    items = list(load_feed(rss, "feed.rss", LoadOptions()))
    assert [i.article.authors for i in items if i.article] == [["Jane Smith"], ["Tom Reyes"]]
    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        b'<entry><title>a</title><link href="https://x.example/c"/>'
        b"<author><name>Ann Lee</name></author><summary>Rain fell.</summary></entry></feed>"
    )
    assert [i.article.authors for i in load_feed(atom, "f.atom", LoadOptions()) if i.article] == [
        ["Ann Lee"]
    ]


def test_every_face_shows_the_byline() -> None:
    cite = Citation(
        n=1,
        article_id="a",
        title="Guard",
        url="https://x.example/a",
        source="Harbor Daily",
        author="Jane Smith",
        chunk_id="a:1:0",
        start=0,
        end=5,
        quote="2,000",
    )
    answer = Answer(question="q", answer="2,000 [1]", citations=[cite])
    (view,) = source_views(answer)
    assert view.byline == "by Jane Smith"
    assert "by Jane Smith" in wire_line(view)
    assert "by Jane Smith" in slack_line(view)
    assert "by Jane Smith" in render.sources_html([answer])
    assert answer.model_dump()["sources"][0]["author"] == "Jane Smith"


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout  # stderr has the loading line


def test_author_filter_and_bylines_in_the_cli(data_env: Path, tmp_path: Path) -> None:
    _run("ingest", str(write_jsonl(tmp_path / "guard.jsonl", guard_rows())))

    listed = json.loads(_run("articles", "list", "--json"))
    assert {r["id"]: r["authors"] for r in listed} == {
        "guard-smith": ["Jane Smith"],
        "guard-reyes": ["Tom Reyes"],
    }
    only = json.loads(_run("articles", "list", "--author", "tom REYES", "--json"))
    assert [r["id"] for r in only] == ["guard-reyes"]
    assert "by Tom Reyes" in _run("articles", "show", "guard-reyes")

    both = json.loads(_run("ask", QUESTION, "--json", "--no-server"))
    assert {p["article_id"] for p in both["passages"]} == {"guard-smith", "guard-reyes"}
    for name, kept in (("Jane Smith", "guard-smith"), ("tom reyes", "guard-reyes")):
        answer = json.loads(_run("ask", QUESTION, "--author", name, "--json", "--no-server"))
        assert answer["refused"] is False and "2,000" in answer["answer"]
        assert {p["article_id"] for p in answer["passages"]} == {kept}
        assert {s["author"] for s in answer["sources"]} == {name.title()}
    shown = _run("ask", QUESTION, "--author", "Tom Reyes", "--no-server")
    assert "Harbor Daily, by Tom Reyes, 2025-06-09" in shown
    nobody = json.loads(_run("ask", QUESTION, "--author", "Ann Lee", "--json", "--no-server"))
    assert nobody["passages"] == [] and nobody["refused"] is True


def test_the_web_filter_by_author(data_env: Path, tmp_path: Path) -> None:
    from assistant import Assistant, Settings
    from assistant.faces.web.ui import Handlers

    _run("ingest", str(write_jsonl(tmp_path / "guard.jsonl", guard_rows())))
    on = Handlers(Assistant.from_settings(Settings.load()))
    request = SimpleNamespace(session_hash="tab-1")
    *_, (_chat, sources, _box) = on.respond(QUESTION, None, "", "", 5, request, "Jane Smith")  # type: ignore[arg-type]
    assert "by Jane Smith" in sources and "Tom Reyes" not in sources
