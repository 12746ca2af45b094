"""What answering reads and produces: the question, passages, citations with their
coordinates, and the Answer.

These are pydantic models so every face (CLI ``--json``, HTTP API, Slack, UI, evaluation) gets
the same JSON from ``model_dump()`` / ``model_dump_json()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field, computed_field

from index.corrections import Correction

_ABOUT = " (about: "


@dataclass(frozen=True)
class Question:
    """A question as answering reads it: its own words, and for a chat follow-up the context
    it was asked in (the earlier question it leans on, and that question's short answer).

    Condensers make one, retrieval and the LLM's prompt take its one-line form (``str()``),
    and the extractive reader reads the two parts apart: the kind of answer wanted comes
    from ``text`` alone, key terms from both."""

    text: str
    about: str = ""  # the conversation context; empty for a question that stands alone

    def __str__(self) -> str:
        """The one-line form: ``Who ordered it? (about: How many … 2,000)``. It is what
        ``Answer.standalone_question`` shows and a chat turn keeps."""
        return f"{self.text}{_ABOUT}{self.about})" if self.about else self.text

    @classmethod
    def of(cls, question: str | Question) -> Question:
        """``question`` as a Question: a plain string is a question without context."""
        return question if isinstance(question, Question) else cls(question)

    @classmethod
    def read(cls, line: str) -> Question:
        """The Question whose one-line form is ``line``, as a chat turn kept as text (a state
        store's, a Slack thread's metadata) holds it; the inverse of ``str()``."""
        text, found, about = line.partition(_ABOUT)
        if not found:
            return cls(line)
        return cls(text, about[:-1] if about.endswith(")") else about)

    def read_whole(self) -> str:
        """The words and the context as one line for the reader's sentence encoders: a
        follow-up ("Who ordered it?") alone resembles no sentence. It is the text the reader
        has always read (the one-line form without its "(about:"), so its scores stay."""
        if not self.about:
            return " ".join(self.text.split())
        return " ".join(f"{self.text} {self.about})".split())


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
    author: str = ""  # the byline's names, "Jane Smith, Tom Reyes"; empty when unknown
    # the article's correction (or update) note: an answer citing it says so beside the citation
    correction: Correction | None = None
    published: datetime | None = None
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]] = Field(default_factory=list)
    score: float = 0.0
    dense_score: float | None = None
    lexical_score: float | None = None
    also_in: list[SourceRef] = Field(default_factory=list)
    # set by answering.injection.defuse: its instruction-like sentences are out already, so
    # nothing scans it for them again; not part of the Answer JSON
    defused: bool = Field(default=False, exclude=True)

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
    author: str = ""
    correction: Correction | None = None
    published: datetime | None = None
    chunk_id: str
    start: int
    end: int
    quote: str
    also_in: list[SourceRef] = Field(default_factory=list)


class Quote(BaseModel):
    """One quoted sentence of a source: its chunk and character span in the article."""

    chunk_id: str
    start: int
    end: int
    quote: str


class Source(BaseModel):
    """One cited article as every face lists it: ``[n]`` once, with all its quoted sentences
    (an answer can quote two sentences of one article under one number)."""

    n: int
    article_id: str
    title: str
    url: str | None = None
    source: str = ""
    author: str = ""
    correction: Correction | None = None
    published: datetime | None = None
    quotes: list[Quote]
    also_in: list[SourceRef] = Field(default_factory=list)


def sources_of(citations: list[Citation]) -> list[Source]:
    """The citations merged per number and article, in order of first appearance."""
    merged: dict[tuple[int, str], Source] = {}
    for c in citations:
        quote = Quote(chunk_id=c.chunk_id, start=c.start, end=c.end, quote=c.quote)
        found = merged.get((c.n, c.article_id))
        if found is None:
            merged[(c.n, c.article_id)] = Source(
                n=c.n,
                article_id=c.article_id,
                title=c.title,
                url=c.url,
                source=c.source,
                author=c.author,
                correction=c.correction,
                published=c.published,
                quotes=[quote],
                also_in=list(c.also_in),
            )
            continue
        if quote not in found.quotes:
            found.quotes.append(quote)
        known = {ref.article_id for ref in found.also_in}
        found.also_in.extend(r for r in c.also_in if r.article_id not in known)
    return list(merged.values())


class Dated(BaseModel):
    """One value of what was asked as an article of one date stated it: the answer's
    ``timeline`` lists them newest first, the lead (the latest as of the question) first."""

    value: str  # as written: "4,000"
    date: datetime  # the stating article's publication date
    cites: list[int] = Field(default_factory=list)  # the answer's citation numbers
    article_ids: list[str] = Field(default_factory=list)

    def line(self) -> str:
        """``4,000 (June 20, 2025) [1]``."""
        cites = "".join(f"[{n}]" for n in self.cites)
        return f"{self.value} ({self.date:%B} {self.date.day}, {self.date.year}) {cites}".strip()


def dated_lines(entries: list[Dated]) -> list[str]:
    """The lead ``4,000 (June 20, 2025) [1]``, then ``Earlier: 2,000 (June 8, 2025) [2]; …``."""
    if not entries:
        return []
    lead, *earlier = entries
    return [lead.line()] + (["Earlier: " + "; ".join(d.line() for d in earlier)] if earlier else [])


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
    # the id the server log's line about this question carries (the text is not logged)
    id: str = ""
    answerer: str = "extractive"
    confidence: float | None = None
    notices: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    verification: Verification | None = None
    # different values of what was asked, stated by articles of different dates, newest
    # first; empty when the passages agree (or state one value)
    timeline: list[Dated] = Field(default_factory=list)

    def timeline_lines(self) -> list[str]:
        """The timeline as lines: ``4,000 (June 20, 2025) [1]``, ``Earlier: …``."""
        return dated_lines(self.timeline)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sources(self) -> list[Source]:
        """The cited articles, each once: what every face lists under the answer."""
        return sources_of(self.citations)
