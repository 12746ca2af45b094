"""Bad input gets a clear per-item error and loses nothing else."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import SAMPLE, corpus_rows, write_jsonl

from index.loaded import LoadOptions
from index.loaders import iter_articles
from index.pipeline import Ingestor


@pytest.fixture
def bad_dir(tmp_path: Path) -> Path:
    """A folder with one good article and one of every kind of bad input."""
    d = tmp_path / "inbox"
    d.mkdir()
    (d / "good.txt").write_text(SAMPLE.read_text())
    (d / "empty.txt").write_bytes(b"")
    (d / "blank.md").write_text("   \n\n  \n")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (d / "latin1.txt").write_bytes(
        "Café owners in Montréal said the new rules take effect in March.".encode("latin-1")
    )
    rows = corpus_rows(6)
    lines = [json.dumps(r) for r in rows[:3]]
    lines.insert(1, '{"id": "broken", "text": "unterminated')
    lines.append(json.dumps({"id": "no-text", "title": "Empty body", "text": ""}))
    lines.append("[1, 2, 3]")
    (d / "dump.jsonl").write_text("\n".join(lines) + "\n")
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in rows[3:6]).encode())
    (d / "truncated.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    return d


def _by_name(failures: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {Path(f.origin).name: f.reason for f in failures}


def test_every_bad_item_is_reported_and_the_rest_is_ingested(
    ingestor: Ingestor, bad_dir: Path
) -> None:
    report = ingestor.ingest_paths([bad_dir])
    failed = _by_name(report.failed)
    assert "empty file" in failed["empty.txt"]
    assert "no text" in failed["blank.md"]
    assert "binary" in failed["binary.txt"]
    assert "malformed JSON" in failed["dump.jsonl:2"]
    assert "no text" in failed["dump.jsonl:5"]
    assert "expected a JSON object" in failed["dump.jsonl:6"]
    assert "truncated gzip" in failed["truncated.jsonl.gz"]
    assert len(report.failed) == 7
    # the good article, the decodable latin-1 file, 3 dump lines and what the gzip held before
    # the damage all went in
    titles = {r.title for r in ingestor.store.list_articles()}
    assert any(t.startswith("Tensions escalated") for t in titles)
    assert "Café owners in Montréal said the new rules take effect in March" in titles
    assert len(report.new) >= 5
    assert any("latin1.txt" in w and "not UTF-8" in w for w in report.warnings)
    ids = {r.id for r in ingestor.store.list_articles()}
    assert {r["id"] for r in corpus_rows(3)} <= ids


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    rows = corpus_rows(40)
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    items = list(iter_articles([path]))
    good = [i.article.id for i in items if i.article]
    assert 5 < len(good) < 40
    assert good == [r["id"] for r in rows[: len(good)]]
    assert items[-1].error is not None and "truncated" in items[-1].error.message


def test_fifty_megabyte_files(tmp_path: Path) -> None:
    """A 50 MB text file is refused with a clear error, without reading it whole; a JSONL
    line holding a 50 MB article is refused and the next line still goes through."""
    big = tmp_path / "huge.txt"
    with big.open("w") as fh:
        sentence = "The council met again to discuss the same budget line. " * 1000
        for _ in range(50 * 1024 * 1024 // len(sentence) + 1):
            fh.write(sentence + "\n")
    assert big.stat().st_size >= 50 * 1024 * 1024
    (item,) = list(iter_articles([big]))
    assert item.error is not None and "larger than 20 MB" in item.error.message

    dump = tmp_path / "huge.jsonl"
    with dump.open("w") as fh:
        fh.write(json.dumps({"title": "Huge", "text": sentence * 960}) + "\n")
        fh.write(json.dumps({"title": "Small", "text": "A small article."}) + "\n")
    assert dump.stat().st_size >= 50 * 1024 * 1024
    first, second = iter_articles([dump], LoadOptions(max_article_chars=1_000_000))
    assert first.error is not None and "over the limit" in first.error.message
    assert first.error.line == 1
    assert second.article is not None and second.article.title == "Small"


def test_invalid_utf8_line_in_jsonl_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"title": "ok", "text": "Fine."}\n{"title": "bad", "text": "\xff\xfe"}\n')
    first, second = iter_articles([path])
    assert first.article is not None
    assert second.error is not None and "not UTF-8" in second.error.message
    assert second.error.line == 2


def test_missing_path_and_unsupported_named_file(tmp_path: Path) -> None:
    (pdf := tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    missing, unsupported = iter_articles([tmp_path / "nope.jsonl", pdf])
    assert missing.error is not None and "no such file" in missing.error.message
    # named explicitly, an unsupported file is an error, not a silent skip
    assert unsupported.error is not None and not unsupported.skipped


def _wrong_typed_dump(path: Path) -> list[dict[str, object]]:
    """Good corpus rows around one record per kind of wrong field seen in issue 15."""
    rows = corpus_rows(4)
    odd: list[dict[str, object]] = [
        {"id": "title-number", "title": 12345, "text": "The council met on Tuesday."},
        {"id": "source-number", "source": 42, "text": "The mayor spoke on Wednesday."},
        {"id": "huge-date", "published": 1e20, "text": "The harbor reopened on Thursday."},
        {"id": "   ", "title": "Blank id", "text": "The library extended its hours."},
        {"id": "bad-date", "published": "next blue moon", "text": "The school board voted."},
        {"id": "odd-fields", "url": 7, "authors": [1, None], "title": {}, "text": "Rain fell."},
    ]
    mixed = [rows[0], *odd[:3], rows[1], *odd[3:], rows[2], rows[3]]
    write_jsonl(path, mixed)  # type: ignore[arg-type]
    return mixed


def test_wrong_typed_fields_never_cost_the_article_or_the_run(data_env: Path) -> None:
    """Issue 15 items 4 and 5: `assistant ingest` keeps every article, odd fields left out
    with a warning; a blank id gets a derived one instead of failing the whole batch."""
    from typer.testing import CliRunner

    from assistant.faces.cli import app

    dump = _wrong_typed_dump(data_env.parent / "odd.jsonl")
    result = CliRunner().invoke(app, ["ingest", str(data_env.parent / "odd.jsonl")])
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    assert "new 10, updated 0, unchanged 0, failed 0" in result.output
    out = " ".join(result.output.split())
    assert "unreadable publication date 'next blue moon'; the article is kept without" in out
    assert "id is blank" in out

    result = CliRunner().invoke(app, ["articles", "list", "--json"])
    listed = {r["title"]: r for r in json.loads(result.output)}
    assert len(listed) == len(dump)
    assert listed["12345"]["id"] == "title-number"
    assert listed["The mayor spoke on Wednesday"]["source"] == "42"
    assert listed["The harbor reopened on Thursday"]["published"] is None
    assert listed["Blank id"]["id"].strip()
    assert listed["The school board voted"]["published"] is None


def test_one_bad_field_in_a_json_array_or_text_header_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps([{"title": ["x"], "text": "First."}, {"title": "Two", "text": "Second."}])
    )
    (tmp_path / "b.txt").write_text("Title: Dated\nDate: 32/13/2025\n\nThe body of it.\n")
    items = list(iter_articles([tmp_path]))
    assert [i.article.title for i in items if i.article] == ["First", "Two", "Dated"]
    warned = [w for i in items for w in i.warnings]
    assert any("a.json[0]: title is not text" in w for w in warned)
    assert any("b.txt: unreadable publication date '32/13/2025'" in w for w in warned)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Café à Montréal, les élèves ont fêté l'été.", "latin-1"),
        ("Café owners in Montréal said the new rules take effect in March.", "latin-1"),
        ("Die Bürger in München äußerten sich – „schön“, sagte er.", "cp1252"),
        ("¿Qué pasó en España? Los niños celebraron el año nuevo.", "latin-1"),
        ("Привет, Москва объявила новые правила для кафе и ресторанов.", "cp1251"),
        ("Zażółć gęślą jaźń, powiedział burmistrz Krakowa.", "cp1250"),
    ],
)
def test_short_legacy_texts_decode_to_what_was_written(
    tmp_path: Path, text: str, encoding: str
) -> None:
    """Issue 15 item 8: short Latin-1 text was read as cp775 ("Cafķ")."""
    path = tmp_path / "note.txt"
    path.write_bytes(text.encode(encoding))
    (item,) = iter_articles([path])
    assert item.article is not None and item.article.text == text
    assert any("not UTF-8" in w for w in item.warnings)
