"""What every face shows of an answer's sources and of an ingest, decided once.

:class:`SourceView` is one cited article as the CLI, the web app, the API's clients and Slack
show it: its number, title, a URL only when it is safe to link (http or https), outlet,
author, date, quoted sentences and the other outlets that carry the same passage.
:class:`IngestSummary` is what became of an ingest, and :class:`FeedView` a subscribed feed.
Each face only lays these out in its own markup (rich text, HTML, JSON, Slack mrkdwn) and
escapes what it lays out; nothing here is markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assistant import (
    Answer,
    Citation,
    Feeds,
    IngestReport,
    Quote,
    Source,
    SourceRef,
    Subscription,
)


def safe_url(url: str | None) -> str | None:
    """Only http(s) links become links: no javascript:, data: or relative URLs."""
    if url and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None


def day(value: datetime | None) -> str | None:
    """The date as YYYY-MM-DD, or None."""
    return value.date().isoformat() if value else None


@dataclass(frozen=True)
class CopyView:
    """Another outlet's copy of a cited passage (a syndicated article)."""

    title: str
    outlet: str | None
    published: datetime | None
    day: str | None


@dataclass(frozen=True)
class SourceView:
    """One cited article, ready to lay out."""

    n: int
    title: str
    url: str | None  # safe to link, else None
    outlet: str | None
    published: datetime | None
    day: str | None
    quotes: list[Quote] = field(default_factory=list)
    also_in: list[CopyView] = field(default_factory=list)
    author: str | None = None  # "Jane Smith, Tom Reyes"
    # "Corrected: An earlier version of this story misstated …" (or "Updated: …")
    correction: str | None = None

    @property
    def byline(self) -> str | None:
        """``by Jane Smith`` when the author is known."""
        return f"by {self.author}" if self.author else None

    @property
    def quoted(self) -> list[str]:
        """The quoted sentences' text."""
        return [q.quote for q in self.quotes if q.quote]


def _copy(ref: SourceRef) -> CopyView:
    return CopyView(ref.title, ref.source or None, ref.published, day(ref.published))


def _correction(source: Source | Citation) -> str | None:
    found = source.correction
    if found is None:
        return None
    if found.note.lower().startswith(("correction", "clarification")):
        return found.note  # labelled already
    label = "Corrected" if found.kind == "correction" else "Updated"
    return f"{label}: {found.note}"


def source_view(source: Source | Citation) -> SourceView:
    """The view of one source (a Citation counts as a source with its one quote)."""
    quotes = (
        source.quotes
        if isinstance(source, Source)
        else [
            Quote(chunk_id=source.chunk_id, start=source.start, end=source.end, quote=source.quote)
        ]
    )
    return SourceView(
        n=source.n,
        title=source.title,
        url=safe_url(source.url),
        outlet=source.source or None,
        published=source.published,
        day=day(source.published),
        quotes=list(quotes),
        also_in=[_copy(ref) for ref in source.also_in],
        author=source.author or None,
        correction=_correction(source),
    )


def timeline_lines(answer: Answer) -> list[str]:
    """The answer's dated figures (``4,000 (June 20, 2025) [1]``, ``Earlier: …``) for a face
    to show above its text: none when the text already carries them (the extractive answer
    leads with them), so nothing is shown twice."""
    lines = answer.timeline_lines()
    return [] if all(line in answer.answer for line in lines) else lines


def answer_text(answer: Answer) -> str:
    """The answer's text as a face shows it: its dated figures first when the text does
    not carry them (a language model's reply), then the text."""
    lines = timeline_lines(answer)
    return "\n".join([*lines, "", answer.answer]) if lines else answer.answer


def source_views(answer: Answer) -> list[SourceView]:
    """The answer's sources: each cited article once, with all its quotes."""
    return [source_view(s) for s in answer.sources]


@dataclass(frozen=True)
class Problem:
    """A file or record that failed or was skipped, and why."""

    origin: str
    reason: str


@dataclass(frozen=True)
class IngestSummary:
    """What became of an ingest, with origins as the person who sent the files knows them."""

    ok: bool
    new: list[str]
    updated: list[str]
    unchanged: int
    failed: list[Problem]
    skipped: list[Problem]
    warnings: list[str]
    repaired: int
    chunks: int
    tokens: int
    seconds: float
    precision: str
    collection: str | None = None
    stopped: str = ""  # the store went away: the run stopped there (see IngestReport)

    @classmethod
    def of(
        cls,
        report: IngestReport,
        collection: str | None = None,
        names: dict[str, str] | None = None,
    ) -> IngestSummary:
        """``names`` maps paths the files were saved under (an upload's temporary folder) to
        the names their sender gave them."""

        def origin(text: str) -> str:
            for path, name in (names or {}).items():
                text = text.replace(path, name)
            return text

        return cls(
            ok=report.ok,
            new=list(report.new),
            updated=list(report.updated),
            unchanged=report.unchanged,
            failed=[Problem(origin(f.origin), f.reason) for f in report.failed],
            skipped=[Problem(origin(f.origin), f.reason) for f in report.skipped],
            warnings=[origin(w) for w in report.warnings],
            repaired=report.repaired,
            chunks=report.chunks,
            tokens=report.tokens,
            seconds=report.seconds,
            precision=report.precision,
            collection=collection,
            stopped=report.stopped,
        )

    @property
    def added_anything(self) -> bool:
        """Whether the ingest went through and left the articles in the index."""
        return self.ok and bool(self.new or self.updated or self.unchanged)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def counts(self) -> str:
        """``new 1, updated 0, unchanged 3, failed 0`` (and skipped, when any were)."""
        text = (
            f"new {len(self.new)}, updated {len(self.updated)}, unchanged {self.unchanged}, "
            f"failed {len(self.failed)}"
        )
        return text + (f", skipped {len(self.skipped)}" if self.skipped else "")

    def throughput(self) -> str:
        """``5 chunks, 1,234 tokens embedded in 0.8s (1,543 tokens/s, int8 embeddings)``."""
        return (
            f"{self.chunks} chunks, {self.tokens:,} tokens embedded in {self.seconds:.1f}s "
            f"({self.tokens_per_second:,.0f} tokens/s"
            + (f", {self.precision} embeddings)" if self.precision else ")")
        )

    def short(self) -> str:
        """One line for a file of an upload: counts, passages, then every problem."""
        parts = [f"{len(self.new)} new", f"{len(self.updated)} updated"]
        if self.unchanged:
            parts.append(f"{self.unchanged} unchanged")
        parts.append(f"{self.chunks} passages")
        problems = [f"stopped: {self.stopped}"] if self.stopped else []
        problems += [f"failed: {f.reason}" for f in self.failed]
        problems += [f"skipped: {f.reason}" for f in self.skipped]
        problems += [f"warning: {w}" for w in self.warnings]
        return ", ".join(parts) + ("; " + "; ".join(problems) if problems else "")

    def api_json(self) -> dict[str, Any]:
        """The API's ingest response: the article ids, and every problem."""
        return {
            "ok": self.ok,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": [vars(f) for f in self.failed],
            "skipped": [vars(f) for f in self.skipped],
            "warnings": self.warnings,
            "chunks": self.chunks,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
        }

    def cli_json(self) -> dict[str, Any]:
        """``assistant ingest --json``: counts, every problem, and how the embedding went."""
        return {
            "new": len(self.new),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "failed": [vars(f) for f in self.failed],
            "skipped": [vars(f) for f in self.skipped],
            "warnings": self.warnings,
            "repaired": self.repaired,
            "chunks": self.chunks,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 2),
            "precision": self.precision,
            "collection": self.collection,
            "stopped": self.stopped,
        }


def when(value: datetime | None) -> str:
    """``2025-06-10 09:30 UTC``, or ``never``."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or, for a future time, how soon): ``3 min ago``, ``in 2 h``."""
    if value is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    span = abs(seconds)
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if span >= size:
            n = int(span // size)
            amount = f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
            break
    else:
        amount = f"{int(span)} s"
    return f"{amount} ago" if seconds >= 0 else f"in {amount}"


def interval(seconds: float) -> str:
    """``15m``, ``2h``, ``90s``: as ``feeds add --every`` takes it."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class FeedView:
    """A subscription as ``feeds list`` and the web app's Index tab show it."""

    url: str
    every: str  # its interval, "(default)" marked
    last_poll: str
    last_success: str
    next_poll: str
    items: int
    failing: int
    result: str
    error: str
    problems: list[str]

    @classmethod
    def of(cls, sub: Subscription, every: float, due: datetime) -> FeedView:
        """``every`` and ``due``: its interval and next poll, the default filled in."""
        return cls(
            url=sub.url,
            every=interval(every) + ("" if sub.every is not None else " (default)"),
            last_poll=f"{when(sub.last_poll)} ({ago(sub.last_poll)})" if sub.last_poll else "never",
            last_success=when(sub.last_success),
            next_poll="now" if due <= datetime.now(UTC) else ago(due),
            items=sub.items,
            failing=sub.failing,
            result=sub.last_result or "not polled yet",
            error=sub.last_error,
            problems=list(sub.problems),
        )

    def json(self) -> dict[str, Any]:
        return vars(self).copy()


def feed_views(feeds: Feeds) -> list[FeedView]:
    """Every subscription of ``feeds``, as the faces show them."""
    return [FeedView.of(s, feeds.interval(s), feeds.next_poll(s)) for s in feeds.subscriptions()]
