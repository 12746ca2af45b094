"""Sentence-aware chunking that keeps character offsets into the article.

Every chunk is a run of whole sentences, ``article.text[start:end]``, that fits the embedding
model's input (all-MiniLM-L6-v2 reads 256 word-pieces and silently drops the rest), so every
sentence of every article is embedded. Sentence spans are kept so that a citation can point at
one exact sentence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from index.articles import Article
from index.text import Span, split_sentences


class Tokenizer(Protocol):
    """What chunking needs of the embedding model: word-piece offsets, and the input limit."""

    max_tokens: int

    def token_offsets(self, texts: list[str]) -> list[list[Span]]:
        """Character spans of each text's word-pieces (no special tokens)."""
        ...


@dataclass
class Chunk:
    """A passage of an article: whole sentences, with offsets into ``Article.text``."""

    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    sentences: list[Span]
    token_count: int
    embed_text: str = ""


@dataclass
class ChunkedArticle:
    """An article ready to embed and store. ``version`` hashes the article's content together
    with the chunking settings: it is what the index compares to decide "unchanged", so
    changing the settings re-chunks articles on the next ingest."""

    article: Article
    chunks: list[Chunk]
    version: str
    origin: str = ""


class Chunker:
    """Greedy packing of sentences into chunks of at most ``chunk_tokens`` word-pieces, each
    chunk starting with up to ``overlap_tokens`` worth of the previous chunk's last sentences.

    With ``title_prefix`` the embedded text is ``title + "\\n" + passage`` (the stored text and
    offsets are the passage alone) and the title's word-pieces count against the budget.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        chunk_tokens: int = 200,
        overlap_tokens: int = 32,
        title_prefix: bool = True,
        max_title_tokens: int = 32,
    ) -> None:
        room = tokenizer.max_tokens - 2  # [CLS] and [SEP]
        if chunk_tokens < 16:
            raise ValueError("chunk_tokens must be at least 16")
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError("overlap_tokens must be >= 0 and smaller than chunk_tokens")
        self.tokenizer = tokenizer
        self.chunk_tokens = min(chunk_tokens, room)
        self.overlap_tokens = overlap_tokens
        self.title_prefix = title_prefix
        self.max_title_tokens = max_title_tokens

    def _title(self, title: str) -> tuple[str, int]:
        if not self.title_prefix or not title:
            return "", 0
        offsets = self.tokenizer.token_offsets([title])[0]
        if len(offsets) > self.max_title_tokens:
            title = title[: offsets[self.max_title_tokens - 1][1]]
            offsets = offsets[: self.max_title_tokens]
        return title, len(offsets) + 1  # the newline separator is free; keep one spare

    def units(self, text: str, budget: int) -> list[tuple[Span, int]]:
        """Sentences with their word-piece counts; a sentence longer than the budget is cut
        at word-piece boundaries (on whitespace where possible) so nothing is truncated."""
        spans = split_sentences(text)
        offsets = self.tokenizer.token_offsets([text[s:e] for s, e in spans]) if spans else []
        out: list[tuple[Span, int]] = []
        for (s, e), toks in zip(spans, offsets, strict=True):
            if len(toks) <= budget:
                out.append(((s, e), len(toks)))
                continue
            i = 0
            while i < len(toks):
                j = min(i + budget, len(toks))
                if j < len(toks):  # back up to a token that starts a word
                    k = j
                    while k > i + budget // 2 and toks[k][0] == toks[k - 1][1]:
                        k -= 1
                    j = k if k > i + budget // 2 else j
                piece_end = e if j == len(toks) else s + toks[j][0]
                piece = (s + toks[i][0], piece_end)
                trimmed = (piece[0], piece[0] + len(text[piece[0] : piece[1]].rstrip()))
                out.append((trimmed, j - i))
                i = j
        return out

    @property
    def signature(self) -> str:
        """The settings that shape the chunks (the model's limit included)."""
        return (
            f"tokens={self.chunk_tokens};overlap={self.overlap_tokens};"
            f"title={self.title_prefix}:{self.max_title_tokens};max={self.tokenizer.max_tokens}"
        )

    def version(self, article: Article) -> str:
        payload = f"{article.content_hash}|{self.signature}".encode()
        return hashlib.sha256(payload).hexdigest()

    def prepare(self, article: Article, origin: str = "") -> ChunkedArticle:
        version = self.version(article)
        return ChunkedArticle(article, self.chunk(article, version), version, origin)

    def chunk(self, article: Article, version: str | None = None) -> list[Chunk]:
        version = version or self.version(article)
        title, title_tokens = self._title(article.title)
        budget = self.chunk_tokens - title_tokens
        units = self.units(article.text, budget)
        chunks: list[Chunk] = []
        i = 0
        while i < len(units):
            j, total = i, 0
            while j < len(units) and total + units[j][1] <= budget:
                total += units[j][1]
                j += 1
            j = max(j, i + 1)
            start, end = units[i][0][0], units[j - 1][0][1]
            passage = article.text[start:end]
            chunks.append(
                Chunk(
                    id=f"{article.id}:{version[:8]}:{len(chunks)}",
                    article_id=article.id,
                    index=len(chunks),
                    start=start,
                    end=end,
                    text=passage,
                    sentences=[span for span, _ in units[i:j]],
                    token_count=total,
                    embed_text=f"{title}\n{passage}" if title else passage,
                )
            )
            if j >= len(units):
                break
            k, overlap = j, 0
            while k - 1 > i and overlap + units[k - 1][1] <= self.overlap_tokens:
                k -= 1
                overlap += units[k][1]
            i = k
        return chunks
