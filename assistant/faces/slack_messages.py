"""An answer as a Slack message: the text in mrkdwn (quotes as block quotes, article text
escaped), numbered source links with outlet, date and quote, and the Block Kit blocks the bot
posts, feedback buttons included. Formatted from the one source view (``present``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assistant import REFUSAL_HINT, Answer
from assistant.faces.present import SourceView, answer_text, source_views

_SECTION_MAX = 2900  # Slack refuses section text over 3000 characters


def escape(text: str) -> str:
    """Slack mrkdwn escaping: article text must not become links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = _SECTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(value: datetime) -> str:
    return f"{value.day} {value:%b %Y}"


def source_line(s: SourceView) -> str:
    """``*[1]* <url|title> — outlet, by Jane Smith, 8 Jun 2025``; a plain title when the URL
    is not web."""
    title = escape(s.title).replace("|", "¦")
    link = f"<{s.url}|{title}>" if s.url else title
    meta = [escape(p) for p in (s.outlet, s.byline) if p]
    if s.published:
        meta.append(_day(s.published))
    line = f"*[{s.n}]* {link}" + (f" — {', '.join(meta)}" if meta else "")
    return line + (f"\n:warning: {escape(s.correction)}" if s.correction else "")


def also_in_line(s: SourceView) -> str | None:
    """``_also in: Outlet B, 9 Jun 2025; Outlet C_``: the other outlets carrying the passage."""
    if not s.also_in:
        return None
    copies = "; ".join(
        escape(c.outlet or c.title) + (f", {_day(c.published)}" if c.published else "")
        for c in s.also_in
    )
    return f"_also in: {copies}_"


def to_mrkdwn(answer: Answer) -> tuple[str, str]:
    """(answer text, sources) in Slack mrkdwn: quotes become block quotes, and each source is
    a numbered link with outlet and date, followed by its quote unless the text has it."""
    if answer.refused:
        text = (
            f":shrug: Sorry — I couldn't find that in the articles. {escape(answer.answer)}\n"
            f"_{REFUSAL_HINT}_"
        )
        return text, ""
    lines = []
    for line in answer_text(answer).splitlines():
        quoted = line.lstrip().startswith(("“", '"'))
        lines.append(("> " if quoted else "") + escape(line))
    sources = []
    for s in source_views(answer):  # each cited article once, with its quotes
        sources.append(source_line(s))
        sources.extend(f"> “{escape(q)}”" for q in s.quoted if q not in answer.answer)
        also = also_in_line(s)
        if also:
            sources.append(also)
    return "\n".join(lines), "\n".join(sources)


def answer_blocks(answer: Answer) -> list[dict[str, Any]]:
    """The Block Kit blocks of an answer message: text, sources, notices, feedback buttons."""
    text, sources = to_mrkdwn(answer)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}
    ]
    if sources:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Sources*\n{sources}")}}
        )
    if answer.notices:
        notes = " · ".join(escape(n) for n in answer.notices)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(notes)}]})
    buttons = [("feedback_up", "👍 Helpful", "primary"), ("feedback_down", "👎 Not helpful", None)]
    blocks.append(
        {
            "type": "actions",
            "block_id": "feedback",
            "elements": [
                {
                    "type": "button",
                    "action_id": action,
                    "text": {"type": "plain_text", "text": label},
                    "value": action.removeprefix("feedback_"),
                    **({"style": style} if style else {}),
                }
                for action, label, style in buttons
            ],
        }
    )
    return blocks
