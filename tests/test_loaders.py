"""Loaders on small fixtures written for the tests, and on the real 2025 dump."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from conftest import CORPUS_2025, FIXTURES, SAMPLE, corpus_rows, write_jsonl

from index.articles import Article, article_id_for, derive_title
from index.loaded import LoadOptions
from index.loaders import iter_articles, load_path

ARTICLES = FIXTURES / "articles"


def _articles(path: Path, options: LoadOptions | None = None) -> list[Article]:
    items = list(load_path(path, options))
    assert all(i.error is None for i in items), [str(i.error) for i in items]
    return [i.article for i in items if i.article is not None]


def test_sample_article_gets_a_derived_title_and_content_id() -> None:
    (article,) = _articles(SAMPLE)
    assert article.title.startswith("Tensions escalated in Los Angeles this week")
    assert "—" not in article.title and len(article.title) <= 91
    assert article.id == article_id_for(None, article.text)
    assert "deploy 2,000 National Guard members" in article.text
    assert article.url is None and article.published is None


def test_jsonl_keeps_dump_ids_and_fields(tmp_path: Path) -> None:
    rows = corpus_rows(3)
    (a, b, c) = _articles(write_jsonl(tmp_path / "dump.jsonl", rows))
    assert [a.id, b.id, c.id] == [r["id"] for r in rows]
    # the dump's ids are sha1(url)[:16]: the scheme we use for articles without an id
    assert a.id == hashlib.sha1(rows[0]["url"].encode()).hexdigest()[:16]
    assert a.id == article_id_for(rows[0]["url"], "")
    assert a.title == rows[0]["title"] and a.source == rows[0]["source"]
    assert a.published == datetime.fromisoformat(rows[0]["published"]).replace(tzinfo=UTC)
    assert a.published is not None and a.published.tzinfo is not None


def test_gzipped_jsonl_streams_the_real_dump() -> None:
    rows = corpus_rows(200)
    items = []
    for item in load_path(CORPUS_2025):
        items.append(item)
        if len(items) == 200:
            break
    assert [i.article.id for i in items if i.article] == [r["id"] for r in rows]


def test_json_list_object_and_field_map(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps(
            {
                "articles": [
                    {
                        "link": "https://news.example.com/a",
                        "headline": "Mapped headline",
                        "story": {"body": "Body text of the mapped story. It has two sentences."},
                        "outlet": "Example News",
                        "date": "2025-05-01T10:00:00+02:00",
                        "author": "Ann Lee and Bo Chan",
                        "section": "politics",
                    }
                ]
            }
        )
    )
    (article,) = _articles(path, LoadOptions(field_map={"text": "story.body"}))
    assert article.text == "Body text of the mapped story. It has two sentences."
    assert article.title == "Mapped headline" and article.source == "Example News"
    assert article.authors == ["Ann Lee", "Bo Chan"]
    assert article.published == datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
    assert article.metadata == {"section": "politics"}
    assert article.id == article_id_for("https://news.example.com/a", "")


def test_html_main_text_only() -> None:
    (article,) = _articles(ARTICLES / "city-budget.html")
    assert article.title == "City council approves $4.2 billion budget"
    assert article.source == "Riverton Gazette"
    assert article.url == "https://gazette.example.com/news/2025/03/14/city-budget"
    assert article.authors == ["Maria Lopez"]
    assert article.published is not None and article.published.date().isoformat() == "2025-03-14"
    assert article.text.startswith("The Riverton City Council voted 7-2")
    assert "surplus of about $35 million" in article.text
    for marker in ("SCRIPTMARKER", "NAVSTYLE", "NAVMARKER", "HEADERMARKER", "FOOTERMARKER", "<"):
        assert marker not in article.text, marker


def test_rss_and_atom_feeds() -> None:
    ferry, fish = _articles(ARTICLES / "harbor-feed.rss")
    assert ferry.title == "Ferry service resumes after storm"
    assert ferry.source == "Harbor Daily"
    assert ferry.published == datetime(2025, 2, 10, 8, 0, tzinfo=UTC)
    assert "18 crossings" in ferry.text and "FEEDSCRIPT" not in ferry.text
    assert "<p>" not in ferry.text
    assert fish.url == "https://harbor.example.org/2025/02/11/fish-market"
    (comet,) = _articles(ARTICLES / "nested" / "science.atom")
    assert comet.title == "Observatory spots new comet" and comet.authors == ["Priya Nair"]
    assert comet.text.startswith("Astronomers at the Valley Observatory")


def test_markdown_front_matter_and_heading() -> None:
    (article,) = _articles(ARTICLES / "school-board.md")
    assert article.title == "School board picks new superintendent"
    assert article.source == "Lakeside Ledger" and article.authors == ["Jordan Kim"]
    assert article.url == "https://ledger.example.com/2025/01/20/school-board"
    assert article.text.startswith("The Lakeside school board on Monday named Angela Brooks")
    assert "**" not in article.text and "](" not in article.text


def test_text_file_with_title_line() -> None:
    (article,) = _articles(ARTICLES / "nested" / "library.txt")
    assert article.title == "Library extends weekend hours"
    assert article.text.startswith("The Oakdale Public Library")


def test_text_file_header_lines(tmp_path: Path) -> None:
    path = tmp_path / "wire.txt"
    path.write_text(
        "Title: Bridge reopens\nSource: Wire Service\nDate: 2025-06-02\nURL: https://w.example/b\n\n"
        "The Elm Street bridge reopened on Monday after repairs.\n"
    )
    (article,) = _articles(path)
    assert (article.title, article.source) == ("Bridge reopens", "Wire Service")
    assert article.id == article_id_for("https://w.example/b", "")
    assert article.text == "The Elm Street bridge reopened on Monday after repairs."


def test_directory_recurses_skips_hidden_and_reports_unsupported() -> None:
    items = list(iter_articles([ARTICLES]))
    titles = sorted(i.article.title for i in items if i.article)
    assert titles == sorted(
        [
            "City council approves $4.2 billion budget",
            "Ferry service resumes after storm",
            "Fish market moves to new pier",
            "Library extends weekend hours",
            "Observatory spots new comet",
            "School board picks new superintendent",
        ]
    )
    skipped = [i for i in items if i.skipped]
    assert [Path(i.origin).name for i in skipped] == ["notes.pdf"]
    assert not any("secret" in i.origin for i in items)


def test_same_text_same_id_and_hash_tracks_changes() -> None:
    a = Article.create(text="One.  Two.\r\n\r\n\r\nThree.", title="T")
    b = Article.create(text="One.  Two.\n\nThree.", title="T")
    assert a.id == b.id and a.content_hash == b.content_hash
    c = Article.create(text="One.  Two.\n\nThree.", title="T2")
    assert c.content_hash != b.content_hash


def test_derive_title_cuts_long_first_sentences() -> None:
    text = "WASHINGTON — " + "word " * 40 + "end. Second sentence."
    title = derive_title(text)
    assert title.endswith("…") and len(title) <= 91 and not title.startswith("WASHINGTON")


def test_gzip_json(tmp_path: Path) -> None:
    path = tmp_path / "one.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump({"title": "Zipped", "text": "A zipped article."}, fh)
    (article,) = _articles(path)
    assert article.title == "Zipped"
