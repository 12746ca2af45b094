"""Chunking: every sentence of every article is embedded, within the model's input limit,
and offsets point at the exact text."""

from __future__ import annotations

import itertools

import pytest
from conftest import SAMPLE, corpus_rows

from index.articles import Article
from index.chunking import Chunk, Chunker
from index.embeddings import SentenceTransformerEmbedder
from index.json_files import article_from_record
from index.loaders import load_path
from index.text import split_sentences


def _check_article(
    article: Article, chunks: list[Chunk], embedder: SentenceTransformerEmbedder
) -> None:
    assert chunks, article.id
    # the model reads every word-piece of every chunk (special tokens included)
    counts = embedder.count_tokens([c.embed_text for c in chunks])
    assert max(counts) <= embedder.max_tokens, (article.id, max(counts))
    covered: set[int] = set()
    for chunk in chunks:
        assert chunk.text == article.text[chunk.start : chunk.end]
        assert chunk.embed_text.endswith(chunk.text)
        assert chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
        for s, e in chunk.sentences:
            assert chunk.start <= s < e <= chunk.end
            covered.update(range(s, e))
    # every non-space character of the article is in some embedded sentence
    missing = [i for i, ch in enumerate(article.text) if not ch.isspace() and i not in covered]
    assert not missing, (article.id, article.text[missing[0] : missing[0] + 80])


def test_sample_sentences_and_chunks(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    (item,) = list(load_path(SAMPLE))
    assert item.article is not None
    article = item.article
    chunks = chunker.chunk(article)
    _check_article(article, chunks, embedder)
    sentences = [article.text[s:e] for s, e in split_sentences(article.text)]
    guard = [s for s in sentences if "2,000" in s]
    assert guard == [
        "Following clashes between demonstrators and law enforcement, President Donald Trump "
        "announced plans to deploy 2,000 National Guard members to help restore order."
    ]
    assert chunks[0].embed_text.startswith(article.title + "\n")


def test_every_sentence_of_real_articles_is_embedded(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    rows = corpus_rows(60)
    longest = max(corpus_rows(400), key=lambda r: len(r["text"]))  # ~100k characters
    for row in [*rows, longest]:
        article = article_from_record(row)
        _check_article(article, chunker.chunk(article), embedder)


def test_sentence_longer_than_a_chunk_is_split_not_truncated(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    run_on = " ".join(f"word{i} and" for i in range(900))  # one 'sentence', ~3,000 word-pieces
    article = Article.create(text=f"Short opener. {run_on}. Closing line.", title="Run-on")
    chunks = chunker.chunk(article)
    assert len(chunks) > 5
    _check_article(article, chunks, embedder)
    assert "word899" in chunks[-1].text or "word899" in chunks[-2].text


def test_overlap_and_size_are_configurable(embedder: SentenceTransformerEmbedder) -> None:
    row = max(corpus_rows(50), key=lambda r: len(r["text"]))
    article = article_from_record(row)
    small = Chunker(embedder, chunk_tokens=64, overlap_tokens=0, title_prefix=False).chunk(article)
    big = Chunker(embedder, chunk_tokens=250, overlap_tokens=0, title_prefix=False).chunk(article)
    overlapping = Chunker(embedder, chunk_tokens=64, overlap_tokens=24, title_prefix=False).chunk(
        article
    )
    assert len(small) > len(big)
    assert all(c.token_count <= 64 for c in small)
    # without overlap chunks tile the article; with it consecutive chunks share sentences
    assert all(a.sentences[-1][1] <= b.sentences[0][0] for a, b in itertools.pairwise(small))
    shared = sum(
        1 for a, b in itertools.pairwise(overlapping) if set(a.sentences) & set(b.sentences)
    )
    assert shared > 0
    for chunks in (small, big, overlapping):
        _check_article(article, chunks, embedder)


def test_chunk_ids_change_with_content(chunker: Chunker) -> None:
    a = Article.create(text="First sentence here. Second one.", url="https://x.example/a")
    b = Article.create(text="First sentence here. Second one, edited.", url="https://x.example/a")
    assert a.id == b.id
    assert chunker.chunk(a)[0].id != chunker.chunk(b)[0].id
    assert chunker.chunk(a)[0].id.startswith(a.id + ":")


def test_bad_chunk_settings(embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ValueError):
        Chunker(embedder, chunk_tokens=8)
    with pytest.raises(ValueError):
        Chunker(embedder, chunk_tokens=100, overlap_tokens=100)
    # asking for more than the model reads is capped at the model's limit
    assert Chunker(embedder, chunk_tokens=1000).chunk_tokens == embedder.max_tokens - 2
