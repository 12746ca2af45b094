"""HTML for the web app: the conversation, the source cards, the index overview.

Article titles, text, outlets and URLs are untrusted. Every such string goes through
``html.escape`` here, and only then is our own markup (``<a>``, ``<mark>``, ``<div>``) put
around it; nothing from an article is ever handed to the page as HTML or markdown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from assistant import Answer, ArticleRecord, Passage, Quote, StoreStats
from assistant.faces.present import (
    FeedView,
    SourceView,
    answer_text,
    day,
    safe_url,
    source_views,
)

_MARKER = re.compile(r"\[(\d+)\]")


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _day(value: datetime | None) -> str:
    return day(value) or "no date"


def card_id(turn: int, n: int) -> str:
    return f"src-{turn}-{n}"


def answer_html(answer_text: str, turn: int, cited: set[int]) -> str:
    """The answer text, escaped, with each known ``[n]`` turned into a link to its card."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in cited:
            return match.group(0)
        target = card_id(turn, n)
        return f'<a class="cite" href="#{target}" data-target="{target}">[{n}]</a>'

    return _MARKER.sub(link, esc(answer_text))


def _turn_html(turn: int, question: str, body: str, *, final: bool, refused: bool) -> str:
    rating = ""
    if final:
        rating = (
            f'<span class="fb-row">'
            f'<button class="fb" data-turn="{turn}" data-rating="up" aria-label="thumbs up">'
            "▲ helpful</button>"
            f'<button class="fb" data-turn="{turn}" data-rating="down" aria-label="thumbs down">'
            "▼ not helpful</button></span>"
        )
    cls = "msg bot refused" if refused else "msg bot"
    return (
        f'<div class="turn" data-turn="{turn}">'
        f'<div class="msg user">{esc(question)}</div>'
        f'<div class="{cls}"><div class="text">{body}</div>{rating}</div></div>'
    )


def chat_html(
    answers: Sequence[Answer],
    pending: tuple[str, str] | None = None,
    failed: tuple[str, str] | None = None,
) -> str:
    """The whole conversation; ``pending`` is (question, text so far) of a streaming turn,
    ``failed`` (question, why) of a turn that could not be answered (the store is down)."""
    parts = []
    for turn, answer in enumerate(answers):
        body = answer_html(answer_text(answer), turn, {c.n for c in answer.citations})
        notices = "".join(f'<div class="notice">{esc(n)}</div>' for n in answer.notices)
        parts.append(
            _turn_html(turn, answer.question, body + notices, final=True, refused=answer.refused)
        )
    if pending is not None:
        question, text = pending
        body = esc(text) + '<span class="cursor">▍</span>'
        parts.append(_turn_html(len(answers), question, body, final=False, refused=False))
    if failed is not None:
        question, why = failed
        body = f'<div class="notice problem">⚠ {esc(why)}</div>'
        parts.append(_turn_html(len(answers), question, body, final=False, refused=True))
    if not parts:
        return (
            '<div class="empty">Ask a question about the indexed news articles. Answers quote '
            "their sources; click a [n] to see the passage it comes from.</div>"
        )
    return '<div class="conversation">' + "".join(parts) + "</div>"


def _highlighted(passage: Passage, quotes: Sequence[Quote]) -> str:
    """The passage, escaped, with each quoted sentence in it wrapped in <mark>."""
    text, pieces, at = passage.text, [], 0
    for q in sorted(quotes, key=lambda q: q.start):
        lo, hi = q.start - passage.start, q.end - passage.start
        if not (at <= lo < hi <= len(text)):
            continue
        pieces.append(f"{esc(text[at:lo])}<mark>{esc(text[lo:hi])}</mark>")
        at = hi
    if not pieces:
        return "".join(f"<mark>{esc(q.quote)}</mark>" for q in quotes)
    return "".join(pieces) + esc(text[at:])


def _source_body(source: SourceView, passages: dict[str, Passage]) -> str:
    """Each passage the source is quoted from, its quoted sentences marked."""
    by_chunk: dict[str, list[Quote]] = {}
    for q in source.quotes:
        by_chunk.setdefault(q.chunk_id, []).append(q)
    parts = []
    for chunk_id, quotes in by_chunk.items():
        passage = passages.get(chunk_id)
        body = (
            _highlighted(passage, quotes)
            if passage
            else " ".join(f"<mark>{esc(q.quote)}</mark>" for q in quotes)
        )
        parts.append(f'<div class="passage">{body}</div>')
    return "".join(parts)


def _link(title: str, url: str | None) -> str:
    """``title`` (escaped already) as a link to ``url`` when there is a safe one."""
    if not url:
        return title
    return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'


def _source_card(turn: int, source: SourceView, passages: dict[str, Passage]) -> str:
    title = _link(esc(source.title or "Untitled"), source.url)
    by = f" · {esc(source.byline)}" if source.byline else ""
    meta = f"{esc(source.outlet or 'unknown outlet')}{by} · {source.day or 'no date'}"
    also = ""
    if source.also_in:
        copies = ", ".join(
            f"{esc(copy.outlet or copy.title)} ({copy.day or 'no date'})" for copy in source.also_in
        )
        also = f'<div class="also">Also in: {copies}</div>'
    note = f'<div class="correction">{esc(source.correction)}</div>' if source.correction else ""
    return (
        f'<div class="src-card" id="{card_id(turn, source.n)}">'
        f'<div class="src-head"><span class="src-n">[{source.n}]</span> {title}</div>'
        f'<div class="src-meta">{meta}</div>{note}'
        f"{_source_body(source, passages)}{also}</div>"
    )


def sources_html(answers: Sequence[Answer]) -> str:
    """Source cards for every answer, newest first; only the newest is expanded."""
    if not answers:
        return '<div class="empty">Sources of the answers appear here.</div>'
    blocks = []
    for turn in range(len(answers) - 1, -1, -1):
        answer = answers[turn]
        passages = {p.chunk_id: p for p in answer.passages}
        cards = "".join(_source_card(turn, c, passages) for c in source_views(answer))
        if not cards:
            cards = '<div class="empty">No sources cited.</div>'
        is_open = " open" if turn == len(answers) - 1 else ""
        blocks.append(
            f'<details class="sources"{is_open}><summary>Sources for: {esc(answer.question)}'
            f"</summary>{cards}</details>"
        )
    return "".join(blocks)


def overview_html(stats: StoreStats) -> str:
    dates = (
        f"{_day(stats.earliest)} … {_day(stats.latest)}" if stats.earliest and stats.latest else "—"
    )
    outlets = ", ".join(f"{esc(name or 'unknown')} ({n})" for name, n in stats.sources.items())
    return (
        f'<div class="overview"><b>{stats.articles}</b> articles · <b>{stats.chunks}</b> '
        f"passages · published {dates}<br>Outlets: {outlets or '—'}</div>"
    )


def feeds_html(views: Sequence[FeedView], shown_problems: int = 3) -> str:
    """The subscribed feeds, read only (``assistant feeds`` changes them)."""
    if not views:
        return (
            '<div class="feeds"><p>No feeds followed. Subscribe with '
            "<code>assistant feeds add URL</code> and run <code>assistant watch</code>.</p></div>"
        )
    rows = []
    for v in views:
        problems = "".join(f"<br>⚠ {esc(p)}" for p in v.problems[:shown_problems])
        more = len(v.problems) - shown_problems
        problems += f"<br>… and {more} more" if more > 0 else ""
        rows.append(
            f"<tr><td>{_link(esc(v.url), safe_url(v.url))}</td><td>{esc(v.every)}</td>"
            f"<td>{esc(v.last_poll)}</td><td>{esc(v.last_success)}</td><td>{v.items}</td>"
            f"<td>{esc(v.result)}{problems}</td></tr>"
        )
    return (
        '<div class="feeds"><b>Feeds followed</b> (<code>assistant feeds</code> changes them)'
        '<table class="articles"><thead><tr><th>feed</th><th>every</th><th>last poll</th>'
        "<th>last success</th><th>items</th><th>last result, errors</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def articles_html(records: Sequence[ArticleRecord], limit: int = 200) -> str:
    rows = []
    for r in records[:limit]:
        title = _link(esc(r.title or "Untitled"), safe_url(r.url))
        rows.append(
            f"<tr><td>{_day(r.published)}</td><td>{esc(r.source or '—')}</td><td>{title}</td>"
            f"<td>{len(r.chunk_ids)}</td><td><code>{esc(r.id)}</code></td></tr>"
        )
    more = f"<p>… and {len(records) - limit} more</p>" if len(records) > limit else ""
    return (
        '<table class="articles"><thead><tr><th>published</th><th>outlet</th><th>title</th>'
        f"<th>passages</th><th>id</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
    )


def ingest_rows_html(rows: Sequence[dict[str, Any]]) -> str:
    """One line per uploaded file: what became of it."""
    items = []
    for row in rows:
        cls = "ok" if row["ok"] else "failed"
        items.append(f'<li class="{cls}"><b>{esc(row["file"])}</b>: {esc(row["result"])}</li>')
    return f'<ul class="ingest-result">{"".join(items)}</ul>'


CSS = """
#chat .conversation, #chat .empty { min-height: 320px; }
#chat .turn { margin-bottom: 14px; }
#chat .msg { padding: 8px 12px; border-radius: 10px; margin: 4px 0; }
#chat .msg .text, #chat .msg.user { white-space: pre-wrap; }
#chat .msg.user { background: var(--color-accent-soft); margin-left: 20%; }
#chat .msg.bot { background: var(--block-background-fill); border: 1px solid
  var(--border-color-primary); margin-right: 10%; }
#chat .msg.refused { opacity: 0.85; font-style: italic; }
#chat a.cite { font-weight: 600; text-decoration: none; cursor: pointer; }
#chat .notice { font-size: 0.85em; color: var(--body-text-color-subdued); }
#chat .fb-row { display: block; text-align: right; }
#chat button.fb { background: none; border: 1px solid var(--border-color-primary);
  border-radius: 6px; cursor: pointer; font-size: 0.8em; margin-left: 6px; padding: 1px 6px; }
#chat button.fb.chosen { border-color: var(--color-accent); color: var(--color-accent); }
#sources .src-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 8px 10px; margin: 8px 0; }
#sources .src-card.flash { outline: 3px solid var(--color-accent); }
#sources .src-meta { font-size: 0.85em; color: var(--body-text-color-subdued); }
#sources .passage { margin-top: 6px; white-space: pre-wrap; font-size: 0.92em; }
#sources mark { background: #fde68a; color: inherit; padding: 0 1px; }
#sources summary { cursor: pointer; font-weight: 600; }
.empty { color: var(--body-text-color-subdued); padding: 12px; }
table.articles { width: 100%; font-size: 0.9em; }
.ingest-result li.failed { color: #b91c1c; }
"""

# Delegated handlers on the chat element: a [n] opens and flashes its source card (no
# navigation), a thumb sends the rating to the server as a click event with data.
CHAT_JS = """
element.addEventListener('click', (event) => {
  const cite = event.target.closest('a.cite');
  if (cite) {
    event.preventDefault();
    const card = document.getElementById(cite.dataset.target);
    if (card) {
      const box = card.closest('details');
      if (box) box.open = true;
      card.scrollIntoView({behavior: 'smooth', block: 'center'});
      document.querySelectorAll('.src-card.flash').forEach((c) => c.classList.remove('flash'));
      card.classList.add('flash');
    }
    return;
  }
  const thumb = event.target.closest('button.fb');
  if (thumb) {
    thumb.parentElement.querySelectorAll('button.fb').forEach((b) => b.classList.remove('chosen'));
    thumb.classList.add('chosen');
    trigger('click', {turn: Number(thumb.dataset.turn), rating: thumb.dataset.rating});
  }
});
"""
