"""Correction and update notes: found at ingest (on the phrasings of the 2022–2025 dumps),
kept on the article, and shown beside every citation of it (the CLI in-process, with the real
model and Chroma)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from answer_samples import GUARD_Q
from conftest import CORPUS_2025, require_shared, write_jsonl
from typer.testing import CliRunner

from assistant.faces.cli import app
from index.corrections import Correction, find_correction

runner = CliRunner()

CORRECTED = {
    "id": "guard-corrected",
    "title": "Guard deployed to Los Angeles",
    "source": "Harbor Daily",
    "published": "2025-06-09",
    "text": "President Trump ordered 2,000 National Guard members to Los Angeles on Saturday "
    "after protests over immigration raids.\n\nCorrection: An earlier version of this story "
    "misstated the number of Guard members deployed.",
}


@pytest.mark.parametrize(
    ("text", "kind", "starts"),
    [
        ("Rain fell.\n\nCorrection: An earlier version of this story misstated the toll.",
         "correction", "Correction: An earlier version"),
        ("Rain.\n\nCorrections & Clarifications: A previous version of this story misstated "
         "the name of the mayor.\n\nMore rain.", "correction", "Corrections & Clarifications"),
        ("Rain.\n\n(This story was updated because an earlier version included an inaccuracy.)",
         "correction", "This story was updated because"),
        ("Rain. An earlier version of this article gave the wrong date. More rain.",
         "correction", "An earlier version of this article"),
        ("Rain.\n\nThis story has been updated with additional details.", "update",
         "This story has been updated"),
        ("Rain.\n\nThis story was updated to add new information.", "update",
         "This story was updated to add"),
    ],
)  # fmt: skip
def test_notes_are_found_in_the_phrasings_newsrooms_use(text: str, kind: str, starts: str) -> None:
    found = find_correction(text)
    assert found is not None and found.kind == kind and found.note.startswith(starts)
    assert "More rain" not in found.note  # the note ends with its sentence


@pytest.mark.parametrize(
    "text",
    [
        "The Department of Corrections said the inmate was moved.",
        'She said "correction: it was cut down last year" and laughed.',
        "Corrections & Clarifications: Archive",
        "The story has many versions, the director said.",
    ],
)
def test_no_note_where_there_is_none(text: str) -> None:
    assert find_correction(text) is None


def test_the_2025_dump_notes_are_found_and_departments_of_corrections_are_not() -> None:
    require_shared()
    kinds: Counter[str] = Counter()
    with gzip.open(CORPUS_2025, "rt", encoding="utf-8") as fh:
        for line in fh:
            found = find_correction(json.loads(line).get("text") or "")
            if found is not None:
                kinds[found.kind] += 1
                assert not found.note.lower().startswith("corrections inmate")
                assert len(found.note) <= 300
    # counted with this detector on 2025-10 data: 82 corrections, 297 updates
    assert kinds["correction"] >= 50 and kinds["update"] >= 200


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_corrected_article_says_so_beside_its_citation(data_env: Path, tmp_path: Path) -> None:
    _run("ingest", str(write_jsonl(tmp_path / "c.jsonl", [CORRECTED])))
    record = json.loads(_run("articles", "show", "guard-corrected", "--json"))
    assert record["correction"]["kind"] == "correction"
    answer = json.loads(_run("ask", GUARD_Q, "--json", "--no-server"))
    assert answer["refused"] is False and "2,000" in answer["answer"]
    (cite,) = [c for c in answer["citations"] if c["article_id"] == "guard-corrected"]
    assert cite["correction"]["note"].startswith("Correction: An earlier version of this story")
    assert answer["sources"][0]["correction"]["kind"] == "correction"
    shown = _run("ask", GUARD_Q, "--no-server")
    assert "[1] Guard deployed to Los Angeles" in shown
    assert "    Correction: An earlier version of this story misstated" in shown


def test_every_face_shows_the_note_beside_the_citation() -> None:
    from assistant import Answer, Citation
    from assistant.faces.api.openai_wire import source_line as wire_line
    from assistant.faces.present import source_views
    from assistant.faces.slack_messages import source_line as slack_line
    from assistant.faces.web import render
    from index.corrections import Correction

    note = Correction(kind="update", note="This story has been updated with new information.")
    cite = Citation(
        n=1, article_id="a", title="Guard", chunk_id="a:1:0", start=0, end=5, quote="2,000",
        correction=note,
    )  # fmt: skip
    answer = Answer(question="q", answer="2,000 [1]", citations=[cite])
    (view,) = source_views(answer)
    assert view.correction == "Updated: This story has been updated with new information."
    for shown in (wire_line(view), slack_line(view), render.sources_html([answer])):
        assert "Updated: This story has been updated" in shown


@pytest.mark.parametrize(
    ("text", "replaced"),
    [
        # real notes of the 2022-2025 dumps, beside a story body of our own
        ("The crime rate was 1,962 per 100,000.\nCorrection: In a previous version of this "
         "piece, due to a data processing error, the Las Vegas crime rate was reported as "
         "2,136 per 100,000 population.", ["2,136"]),
        ("At least 12 people died.\nCORRECTION: An earlier version of this story quoted the "
         "Australian Red Cross as saying at least 16 people had been killed.", ["16"]),
        # the note states the right value, which the story states too
        ("Ridgeway was 59.\nCorrection: An earlier version of this story included the wrong "
         "age for Connie Ridgeway; she was 59 when she died.", []),
        # "updated to correct …, which was …" names the right value
        ("Ukraine's economy is small.\nCorrection: This story has been updated to correct the "
         "GDP of Ukraine, which was $155.5 billion in 2020, according to the World Bank.", []),
        # a link's digits and a year are no figures
        ("Polls were close.\nAn earlier version of this article misstated its status in 2021. "
         "https://www.usatoday.com/story/news/2020/10/20/covid/5993550002/", []),
    ],
)  # fmt: skip
def test_a_correction_names_the_figures_it_replaces(text: str, replaced: list[str]) -> None:
    found = find_correction(text)
    assert found is not None and found.kind == "correction"
    assert found.replaced == replaced
    assert Correction.from_fields(found.fields()) == found
