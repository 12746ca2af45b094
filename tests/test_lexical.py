"""The lexical (FTS5 BM25) index's pruned search against the one full FTS5 query, on real
2025 articles: the same top k whenever it says it is exact, nearly the same otherwise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import QUESTIONS_2025, corpus_rows

from index.bm25 import word_starts
from index.lexical import LexicalArticle, LexicalChunk, LexicalIndex
from index.text import query_terms

_WORDS = re.compile(r"[^\W_]+")


def _chunks(text: str, size: int = 120) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    rows = corpus_rows(400)
    path = tmp_path_factory.mktemp("lexical") / "news.sqlite3"
    lex = LexicalIndex(path, prune_above=None)
    lex.replace(
        [
            LexicalArticle(
                f"a{i}",
                "v1",
                [
                    LexicalChunk(f"a{i}:{j}", f"{r['title']}\n{part}", str(r.get("source", "")))
                    for j, part in enumerate(_chunks(r["text"]))
                ],
            )
            for i, r in enumerate(rows)
        ]
    )
    lex.close()
    return path, rows


def _questions(n: int) -> list[list[str]]:
    with QUESTIONS_2025.open() as fh:
        return [query_terms(json.loads(line)["question"]) for line in fh][:n]


def test_pruned_search_is_the_full_query_when_it_says_exact(
    built: tuple[Path, list[dict[str, str]]],
) -> None:
    path, _ = built
    full = LexicalIndex(path, prune_above=None)
    # small knobs so that a few thousand chunks behave like a million: few rare rows,
    # few candidates, so that both outcomes (proved exact, best of candidates) occur
    pruned = LexicalIndex(path, prune_above=0, rare_rows=1000, candidates=100)
    assert full.count() > 3000
    exact = approximate = 0
    overlaps = []
    for terms in _questions(120):
        want = full.search(terms, 10)
        got = pruned.search(terms, 10)
        if pruned.last_exact:
            exact += 1
            assert [c for c, _ in got] == [c for c, _ in want] or sorted(
                round(s, 6) for _, s in got
            ) == sorted(round(s, 6) for _, s in want)  # ties may swap
            assert [round(s, 6) for _, s in got] == [round(s, 6) for _, s in want]
        else:
            approximate += 1
            # each candidate is re-scored exactly: a shared chunk has the full query's score
            scores = dict(want)
            for cid, s in got:
                if cid in scores:
                    assert s == pytest.approx(scores[cid], rel=1e-9)
            overlaps.append(len({c for c, _ in got} & set(scores)) / max(1, len(want)))
    assert exact > 20 and approximate > 5, (exact, approximate)
    assert sum(overlaps) / len(overlaps) > 0.8


def test_pruned_search_applies_filters(built: tuple[Path, list[dict[str, str]]]) -> None:
    path, rows = built
    source = max(
        {str(r.get("source", "")) for r in rows},
        key=lambda s: sum(str(r.get("source", "")) == s for r in rows),
    )
    full = LexicalIndex(path, prune_above=None)
    pruned = LexicalIndex(path, prune_above=0, rare_rows=1000, candidates=100)
    allowed = {f"a{i}" for i, r in enumerate(rows) if str(r.get("source", "")) == source}
    compared = 0
    for terms in _questions(40):
        got = pruned.search(terms, 5, sources=[source])
        assert all(cid.split(":")[0] in allowed for cid, _ in got)
        if pruned.last_exact:
            want = full.search(terms, 5, sources=[source])
            assert [round(s, 6) for _, s in got] == [round(s, 6) for _, s in want]
            compared += 1
    assert compared > 5


def test_repeated_stems_count_twice_as_fts5_does(built: tuple[Path, list[dict[str, str]]]) -> None:
    """ "use" and "us" are one token to FTS5 but two phrases of the query."""
    path, _ = built
    full = LexicalIndex(path, prune_above=None)
    pruned = LexicalIndex(path, prune_above=0, rare_rows=1000, candidates=200)
    terms = ["tariffs", "use", "us", "day", "days", "weeks"]
    want = full.search(terms, 10)
    got = pruned.search(terms, 10)
    scores = dict(want)
    shared = [(c, s) for c, s in got if c in scores]
    assert shared
    for cid, s in shared:
        assert s == pytest.approx(scores[cid], rel=1e-9)


def test_every_word_starts_as_its_stem_says(built: tuple[Path, list[dict[str, str]]]) -> None:
    """The pruned search finds the words of a common term by the start its stem implies;
    check that on every distinct word of 400 real articles, stemmed by FTS5 itself."""
    path, rows = built
    lex = LexicalIndex(path)
    words = sorted({w for r in rows for w in _WORDS.findall(r["text"].lower()) if w.isascii()})
    assert len(words) > 10_000
    misses = []
    for i in range(0, len(words), 2000):
        part = words[i : i + 2000]
        stems = lex._pruner.fts_stems(part)
        assert stems is not None
        misses += [(w, stems[w]) for w in part if not w.startswith(word_starts(stems[w]))]
    assert misses == []


def test_small_index_runs_the_full_query(built: tuple[Path, list[dict[str, str]]]) -> None:
    path, _ = built
    default = LexicalIndex(path)  # prune_above 200k rows: this index is far smaller
    full = LexicalIndex(path, prune_above=None)
    for terms in _questions(10):
        assert default.search(terms, 8) == full.search(terms, 8)
        assert default.last_exact


def test_document_counts_follow_writes_of_any_connection(tmp_path: Path) -> None:
    reader = LexicalIndex(tmp_path / "x.sqlite3")
    writer = LexicalIndex(tmp_path / "x.sqlite3")

    def article(aid: str, text: str) -> LexicalArticle:
        return LexicalArticle(aid, "v1", [LexicalChunk(f"{aid}:0", text)])

    writer.replace([article("a", "harbor ferry"), article("b", "harbor budget")])
    assert reader.document_frequencies(["harbor", "ferries"]) == ({"harbor": 2, "ferries": 1}, 2)
    writer.replace([article("c", "ferry schedule")])  # another connection commits
    assert reader.document_frequencies(["harbor", "ferries"]) == ({"harbor": 2, "ferries": 2}, 3)
    reader.delete(["a"])  # this connection writes
    assert reader.document_frequencies(["harbor", "ferries"]) == ({"harbor": 1, "ferries": 1}, 2)
    assert [c for c, _ in reader.search(["ferry"], 5)] == ["c:0"]
