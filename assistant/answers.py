"""What answering produces: passages, citations with their coordinates, and the Answer.

These are pydantic models so every face (CLI ``--json``, HTTP API, Slack, UI, evaluation) gets
the same JSON from ``model_dump()`` / ``model_dump_json()``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SourceRef(BaseModel):
    """Another article carrying (nearly) the same passage: a syndicated copy."""

    article_id: str
    chunk_id: str
    title: str
    url: str | None = None
    source: str = ""
    published: datetime | None = None


class Passage(BaseModel):
    """A retrieved chunk of an article. ``start``/``end`` and ``sentences`` are character
    offsets into the article's text; ``text`` is ``article.text[start:end]``."""

    chunk_id: str
    article_id: str
    title: str
    url: str | None = None
    source: str = ""
    published: datetime | None = None
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]] = Field(default_factory=list)
    score: float = 0.0
    dense_score: float | None = None
    lexical_score: float | None = None
    also_in: list[SourceRef] = Field(default_factory=list)

    def ref(self) -> SourceRef:
        """This passage as another source of a passage it duplicates."""
        return SourceRef(
            article_id=self.article_id,
            chunk_id=self.chunk_id,
            title=self.title,
            url=self.url,
            source=self.source,
            published=self.published,
        )

    def sentence_text(self, span: tuple[int, int]) -> str:
        return self.text[span[0] - self.start : span[1] - self.start]


class Citation(BaseModel):
    """One numbered source of an answer, pointing at the exact supporting sentence."""

    n: int
    article_id: str
    title: str
    url: str | None = None
    source: str = ""
    published: datetime | None = None
    chunk_id: str
    start: int
    end: int
    quote: str
    also_in: list[SourceRef] = Field(default_factory=list)


class SentenceCheck(BaseModel):
    """How one sentence of a generated answer fared against the passages it cites."""

    text: str
    cites: list[int] = Field(default_factory=list)
    # supported | unsupported | invalid (cites only passages not given) | uncited
    # | attributed (no citation, or the wrong one: cited to the passage holding its facts)
    status: str
    missing: list[str] = Field(default_factory=list)
    invalid_cites: list[int] = Field(default_factory=list)
    model_cites: list[int] = Field(default_factory=list)  # attributed: what the model cited


class Verification(BaseModel):
    """Citation verification of a generated answer, kept so evaluation can count outcomes."""

    # verified | flagged | removed | fallback (no supported citation) | error (model failed)
    # | refused (the model said the sources don't hold the answer)
    outcome: str
    sentences: list[SentenceCheck] = Field(default_factory=list)
    supported: int = 0
    unsupported: int = 0
    invalid_citations: int = 0
    uncited: int = 0
    attributed: int = 0  # sentences cited by verification (none, or the wrong passage)
    removed: int = 0
    model: str | None = None
    raw: str | None = None


class Answer(BaseModel):
    """The assistant's reply to one question."""

    question: str
    answer: str
    refused: bool = False
    short_answer: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    standalone_question: str | None = None
    answerer: str = "extractive"
    confidence: float | None = None
    notices: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    verification: Verification | None = None
